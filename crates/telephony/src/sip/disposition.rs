//! What the end of a call means to the dialer: the SIP final response (or its absence) folded
//! into the handful of outcomes a campaign retries or reports on.
//!
//! The status code itself travels next to the disposition (the `ended` event has both), so
//! [`Disposition::Failed`] needs no field: it is "none of the named outcomes".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How a call ended, as a campaign sees it. Serialised as its snake_case name
/// (`"no_answer"`), which is also what [`Display`](fmt::Display) and [`FromStr`] use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// A 2xx: the callee picked up (the call may have ended normally since).
    Answered,
    /// 486 Busy Here or 600 Busy Everywhere: worth a retry later.
    Busy,
    /// Rang without an answer: our ring time-out (we sent CANCEL), 408 or 480 from the far end.
    NoAnswer,
    /// The number does not exist: 404, 410, 484, 485 or 604. Not worth retrying.
    InvalidNumber,
    /// The callee or the network refused: 403 or 603 Decline.
    Rejected,
    /// The trunk is out of capacity: 503 Service Unavailable. Retry soon, slower.
    Congestion,
    /// The peer could not be reached at all: transport error, connection refused, ICMP
    /// unreachable, 502/504 from a proxy that could not reach it.
    Unavailable,
    /// Cancelled before an answer for another reason than the ring time-out (shutdown, operator,
    /// or the caller cancelled an incoming call); a 487 lands here.
    Cancelled,
    /// No final response at all: INVITE transaction Timer B (or F) fired.
    Timeout,
    /// 401/407 that our credentials did not satisfy (or we had none).
    AuthFailed,
    /// Anything else: 3xx (we do not follow redirects), other 4xx, 500, 501, 505, 513, 580,
    /// SDP we cannot accept, a dialog broken mid-call. Look at the status and reason.
    Failed,
}

impl Disposition {
    /// Every disposition, for tables and reports.
    pub const ALL: [Disposition; 11] = [
        Disposition::Answered,
        Disposition::Busy,
        Disposition::NoAnswer,
        Disposition::InvalidNumber,
        Disposition::Rejected,
        Disposition::Congestion,
        Disposition::Unavailable,
        Disposition::Cancelled,
        Disposition::Timeout,
        Disposition::AuthFailed,
        Disposition::Failed,
    ];

    /// The disposition of a final response status. Provisional statuses (1xx) are not final
    /// and map to [`Disposition::Failed`]; callers only pass final ones.
    pub fn from_status(status: u16) -> Disposition {
        match status {
            200..=299 => Disposition::Answered,
            486 | 600 => Disposition::Busy,
            408 | 480 => Disposition::NoAnswer,
            404 | 410 | 484 | 485 | 604 => Disposition::InvalidNumber,
            403 | 603 => Disposition::Rejected,
            503 => Disposition::Congestion,
            502 | 504 => Disposition::Unavailable,
            487 => Disposition::Cancelled,
            401 | 407 => Disposition::AuthFailed,
            _ => Disposition::Failed,
        }
    }

    /// The snake_case name used in JSON, the database and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Answered => "answered",
            Disposition::Busy => "busy",
            Disposition::NoAnswer => "no_answer",
            Disposition::InvalidNumber => "invalid_number",
            Disposition::Rejected => "rejected",
            Disposition::Congestion => "congestion",
            Disposition::Unavailable => "unavailable",
            Disposition::Cancelled => "cancelled",
            Disposition::Timeout => "timeout",
            Disposition::AuthFailed => "auth_failed",
            Disposition::Failed => "failed",
        }
    }

    /// Whether the callee answered (the CLI's exit status 0).
    pub fn is_answered(self) -> bool {
        self == Disposition::Answered
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`Disposition::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a call disposition")]
pub struct UnknownDisposition(pub String);

impl FromStr for Disposition {
    type Err = UnknownDisposition;

    fn from_str(s: &str) -> Result<Disposition, UnknownDisposition> {
        Disposition::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownDisposition(s.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses_map_to_dispositions() {
        use Disposition::*;
        let table = [
            (200, Answered),
            (202, Answered),
            (486, Busy),
            (600, Busy),
            (408, NoAnswer),
            (480, NoAnswer),
            (404, InvalidNumber),
            (410, InvalidNumber),
            (484, InvalidNumber),
            (485, InvalidNumber),
            (604, InvalidNumber),
            (403, Rejected),
            (603, Rejected),
            (503, Congestion),
            (502, Unavailable),
            (504, Unavailable),
            (487, Cancelled),
            (401, AuthFailed),
            (407, AuthFailed),
            (500, Failed),
            (501, Failed),
            (580, Failed),
            (488, Failed),
            (302, Failed),
            (699, Failed),
            (180, Failed),
        ];
        for (status, want) in table {
            assert_eq!(Disposition::from_status(status), want, "{status}");
        }
        assert!(Answered.is_answered());
        assert!(!Busy.is_answered());
    }

    #[test]
    fn names_are_snake_case_in_serde_display_and_from_str() {
        for d in Disposition::ALL {
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(json, format!("\"{}\"", d.as_str()));
            assert_eq!(serde_json::from_str::<Disposition>(&json).unwrap(), d);
            assert_eq!(d.to_string().parse::<Disposition>(), Ok(d));
        }
        assert_eq!(Disposition::NoAnswer.as_str(), "no_answer");
        assert_eq!(Disposition::AuthFailed.as_str(), "auth_failed");
        assert_eq!(
            "hung_up".parse::<Disposition>(),
            Err(UnknownDisposition("hung_up".into()))
        );
    }
}
