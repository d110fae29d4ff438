//! The ticket life cycle as a pure function: state × action → state.
//!
//! ```text
//! new → dispatched → acknowledged → on_site → completed → callback → closed
//!                                 ↘─────────↗            ↘ reopen → dispatched (from callback or closed)
//! ```
//! Only a consultation may be closed straight from `new` (answered on the call).

use serde::{Deserialize, Serialize};

use crate::vocab::{TicketKind, TicketState};

/// Something done to a ticket that moves its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send to the responsible person.
    Dispatch,
    /// The responsible person replied.
    Acknowledge,
    /// Someone arrived on site.
    ArriveOnSite,
    /// The work is done.
    Complete,
    /// The owner is being called back.
    StartCallback,
    /// Closed with the owner's agreement.
    Close,
    /// Not solved after all: back to the responsible person.
    Reopen,
}

impl Action {
    /// Every action, in life-cycle order.
    pub const ALL: [Action; 7] = [
        Action::Dispatch,
        Action::Acknowledge,
        Action::ArriveOnSite,
        Action::Complete,
        Action::StartCallback,
        Action::Close,
        Action::Reopen,
    ];

    /// The word used in events, the CLI and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Dispatch => "dispatch",
            Action::Acknowledge => "ack",
            Action::ArriveOnSite => "onsite",
            Action::Complete => "complete",
            Action::StartCallback => "callback",
            Action::Close => "close",
            Action::Reopen => "reopen",
        }
    }
}

/// An action that the ticket's state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a ticket that is {from}; allowed from {from}: {allowed}")]
pub struct InvalidTransition {
    /// The state the ticket is in.
    pub from: TicketState,
    /// What was attempted.
    pub action: &'static str,
    /// The actions the state does allow, for the message.
    pub allowed: String,
}

/// The state after `action`, or why it is refused.
pub fn next_state(
    from: TicketState,
    action: Action,
    kind: TicketKind,
) -> Result<TicketState, InvalidTransition> {
    target(from, action, kind).ok_or_else(|| InvalidTransition {
        from,
        action: action.as_str(),
        allowed: allowed_actions(from, kind)
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The actions allowed from `state`, for error messages and the UI.
pub fn allowed_actions(state: TicketState, kind: TicketKind) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|action| target(state, *action, kind).is_some())
        .collect()
}

/// The transition table: the one place that says what may follow what.
fn target(from: TicketState, action: Action, kind: TicketKind) -> Option<TicketState> {
    use Action as A;
    use TicketState as S;
    Some(match (from, action) {
        (S::New, A::Dispatch) => S::Dispatched,
        (S::New, A::Close) if kind == TicketKind::Consultation => S::Closed,
        (S::Dispatched, A::Acknowledge) => S::Acknowledged,
        (S::Acknowledged, A::ArriveOnSite) => S::OnSite,
        (S::Acknowledged | S::OnSite, A::Complete) => S::Completed,
        (S::Completed, A::StartCallback) => S::Callback,
        (S::Completed | S::Callback, A::Close) => S::Closed,
        (S::Callback | S::Closed, A::Reopen) => S::Dispatched,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketState as S;

    /// Every (state, action) pair: the valid ones land where the life cycle says, the rest are
    /// refused with a message naming the state and the allowed actions.
    #[test]
    fn every_transition_valid_and_invalid() {
        let valid = [
            (S::New, Action::Dispatch, S::Dispatched),
            (S::Dispatched, Action::Acknowledge, S::Acknowledged),
            (S::Acknowledged, Action::ArriveOnSite, S::OnSite),
            (S::Acknowledged, Action::Complete, S::Completed),
            (S::OnSite, Action::Complete, S::Completed),
            (S::Completed, Action::StartCallback, S::Callback),
            (S::Completed, Action::Close, S::Closed),
            (S::Callback, Action::Close, S::Closed),
            (S::Callback, Action::Reopen, S::Dispatched),
            (S::Closed, Action::Reopen, S::Dispatched),
        ];
        for from in TicketState::ALL.iter().copied() {
            for action in Action::ALL {
                let expected = valid
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|(_, _, to)| *to);
                let got = next_state(from, action, TicketKind::Repair);
                match expected {
                    Some(to) => assert_eq!(got, Ok(to), "{from} {action:?}"),
                    None => {
                        let err = got.expect_err("must be refused");
                        assert!(err.to_string().contains(from.as_str()), "{err}");
                    }
                }
            }
        }
    }

    #[test]
    fn only_a_consultation_closes_from_new() {
        assert_eq!(
            next_state(S::New, Action::Close, TicketKind::Consultation),
            Ok(S::Closed)
        );
        let err = next_state(S::New, Action::Close, TicketKind::Complaint).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot close a ticket that is new; allowed from new: dispatch"
        );
    }
}
