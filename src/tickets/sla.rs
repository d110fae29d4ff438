//! SLA clocks and the escalation ladder, as pure functions of a ticket, the policy and "now".

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::Ticket;
use crate::config::SlaPolicy;
use crate::vocab::{Level, TicketState};

/// A time limit a ticket has broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Breach {
    /// No reply from the responsible person in time.
    Acknowledge {
        /// When the reply was due.
        due: DateTime<Utc>,
    },
    /// Nobody on site in time while the owner waits there.
    OnSite {
        /// When someone was due on site.
        due: DateTime<Utc>,
    },
}

impl Breach {
    /// A short Chinese and English description, for events and SMS texts.
    pub fn describe(self) -> String {
        match self {
            Breach::Acknowledge { due } => {
                format!("未在时限内响应 / no reply by {}", local_time(due))
            }
            Breach::OnSite { due } => {
                format!("未在时限内到场 / not on site by {}", local_time(due))
            }
        }
    }
}

/// `MM-DD HH:MM` in China Standard Time.
pub fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%m-%d %H:%M")
        .to_string()
}

/// The limit the ticket has broken and not yet met at `now`, if any.
pub fn breach(ticket: &Ticket, now: DateTime<Utc>) -> Option<Breach> {
    if !ticket.is_in_progress() {
        return None;
    }
    if ticket.acknowledged_at.is_none()
        && let Some(due) = ticket.ack_due_at.filter(|due| now > *due)
    {
        return Some(Breach::Acknowledge { due });
    }
    if ticket.on_site_at.is_none()
        && ticket.state != TicketState::OnSite
        && let Some(due) = ticket.onsite_due_at.filter(|due| now > *due)
    {
        return Some(Breach::OnSite { due });
    }
    None
}

/// The escalation due at `now`: the level to raise the ticket to, and why.
///
/// General becomes key as soon as a clock is broken. Key becomes hot, and hot major, when the
/// breach is still not remedied (still no reply, still nobody on site) after the policy's minutes
/// at that level: once the work is under way, the ladder stops climbing.
pub fn escalation_due(
    ticket: &Ticket,
    policy: &SlaPolicy,
    now: DateTime<Utc>,
) -> Option<(Level, String)> {
    let breach = breach(ticket, now)?;
    let stayed = now - ticket.level_changed_at;
    let (next, minutes) = match ticket.level {
        Level::General => return Some((Level::Key, breach.describe())),
        Level::Key => (Level::Hot, policy.key_to_hot_minutes),
        Level::Hot => (Level::Major, policy.hot_to_major_minutes),
        Level::Major => return None,
    };
    (stayed > Duration::minutes(minutes)).then(|| {
        let reason = format!(
            "{}; {} minutes at level {}",
            breach.describe(),
            minutes,
            ticket.level
        );
        (next, reason)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::vocab::{Category, TicketKind, Warranty};

    /// Minutes after a fixed morning (also used by the tickets pages' tests).
    pub(crate) fn at(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 1, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    /// A ticket dispatched at `at(0)`, due to be acknowledged at `at(10)` (and on site at
    /// `at(60)` when the owner must be visited).
    pub(crate) fn dispatched(on_site: bool) -> Ticket {
        Ticket {
            ticket_id: 1,
            owner_id: None,
            unit_id: None,
            unit_code: None,
            phone: None,
            kind: TicketKind::Repair,
            category: Category::Materials,
            component: None,
            description: "x".into(),
            state: TicketState::Dispatched,
            level: Level::General,
            warranty: Warranty::NotApplicable,
            warranty_until: None,
            paid: false,
            owner_on_site: on_site,
            assignee_id: Some(1),
            reopen_count: 0,
            opened_at: at(0),
            dispatched_at: Some(at(0)),
            ack_due_at: Some(at(10)),
            acknowledged_at: None,
            onsite_due_at: on_site.then(|| at(60)),
            on_site_at: None,
            completed_at: None,
            closed_at: None,
            level_changed_at: at(0),
            updated_at: at(0),
        }
    }

    #[test]
    fn breaches_start_strictly_after_the_deadline() {
        let ticket = dispatched(false);
        assert_eq!(breach(&ticket, at(10)), None);
        assert_eq!(
            breach(&ticket, at(11)),
            Some(Breach::Acknowledge { due: at(10) })
        );
        let mut replied = ticket.clone();
        replied.state = TicketState::Acknowledged;
        replied.acknowledged_at = Some(at(12));
        assert_eq!(
            breach(&replied, at(500)),
            None,
            "late, but replied: no open breach"
        );
    }

    #[test]
    fn the_ladder_stops_once_the_breach_is_remedied() {
        let policy = SlaPolicy::default();
        let mut ticket = dispatched(true);
        ticket.state = TicketState::Acknowledged;
        ticket.acknowledged_at = Some(at(5));
        ticket.level = Level::Key;
        ticket.level_changed_at = at(61);
        assert_eq!(
            escalation_due(&ticket, &policy, at(182)).map(|(l, _)| l),
            Some(Level::Hot)
        );
        ticket.state = TicketState::OnSite;
        ticket.on_site_at = Some(at(150));
        assert_eq!(escalation_due(&ticket, &policy, at(182)), None);
        ticket.state = TicketState::Completed;
        ticket.on_site_at = None;
        assert_eq!(
            escalation_due(&ticket, &policy, at(10_000)),
            None,
            "finished work never escalates"
        );
    }
}
