//! The inbound ticket loop of the 400 hotline (seed 000): open, dispatch by SMS to the
//! responsible person, SLA clocks, escalation, completion, callback and closure.
//!
//! - [`state`]: the life cycle as a pure table.
//! - [`sla`]: which clock a ticket has broken and which escalation is due (pure).
//! - [`repo`]: the ticket rows and their events.
//! - [`desk`]: the operations, each one transaction that writes the ticket, its event and any
//!   outbox message or callback task together.

mod desk;
mod repo;
pub mod report;
pub mod sla;
pub mod state;

pub use desk::{Escalated, OpenTicket, TicketDesk, TicketError};
pub use repo::{TicketEvent, TicketFilter, TicketRepo};
pub use state::{Action, InvalidTransition};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::vocab::{Category, Level, TicketKind, TicketState, Warranty};

/// A ticket (工单) as stored.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Ticket {
    /// Database id, shown as `#id`.
    pub ticket_id: i64,
    /// The owner, when known.
    pub owner_id: Option<i64>,
    /// The unit concerned, when known.
    pub unit_id: Option<i64>,
    /// The unit's code, for display.
    pub unit_code: Option<String>,
    /// The number the owner called from or wants to be called on.
    pub phone: Option<String>,
    /// What the owner asks for.
    #[sqlx(try_from = "String")]
    pub kind: TicketKind,
    /// What it is about.
    #[sqlx(try_from = "String")]
    pub category: Category,
    /// The unit's component concerned (kitchen, windows, ...).
    pub component: Option<String>,
    /// The owner's words.
    pub description: String,
    /// Where it stands.
    #[sqlx(try_from = "String")]
    pub state: TicketState,
    /// Escalation level.
    #[sqlx(try_from = "String")]
    pub level: Level,
    /// Whether a repair is free.
    #[sqlx(try_from = "String")]
    pub warranty: Warranty,
    /// Last day of the component's cover, when known.
    pub warranty_until: Option<NaiveDate>,
    /// Out of warranty: the owner pays.
    pub paid: bool,
    /// The owner waits on site: the on-site clock runs.
    pub owner_on_site: bool,
    /// The responsible person it was dispatched to.
    pub assignee_id: Option<i64>,
    /// How many times it was reopened.
    pub reopen_count: i64,
    /// When it was logged.
    pub opened_at: DateTime<Utc>,
    /// When it was (last) dispatched.
    pub dispatched_at: Option<DateTime<Utc>>,
    /// Reply due by.
    pub ack_due_at: Option<DateTime<Utc>>,
    /// When the responsible person replied.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// On site due by (only when the owner waits on site).
    pub onsite_due_at: Option<DateTime<Utc>>,
    /// When someone arrived on site.
    pub on_site_at: Option<DateTime<Utc>>,
    /// When the work was reported done.
    pub completed_at: Option<DateTime<Utc>>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// When the level last changed (escalation steps are timed from here).
    pub level_changed_at: DateTime<Utc>,
    /// Last change of any kind.
    pub updated_at: DateTime<Utc>,
}

impl Ticket {
    /// Whether the work is still with the responsible person (the SLA clocks matter).
    pub fn is_in_progress(&self) -> bool {
        matches!(
            self.state,
            TicketState::Dispatched | TicketState::Acknowledged | TicketState::OnSite
        )
    }
}
