//! Ticket rows and their timeline.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Ticket;
use crate::store::{Store, Tx};
use crate::vocab::{Category, Level, TicketState};
use crate::{on_pool, on_tx};

/// The select list of [`Ticket`], with the unit's code joined in.
macro_rules! ticket_select {
    () => {
        "select t.ticket_id, t.owner_id, t.unit_id, u.code as unit_code, t.phone, t.kind, t.category,
                t.component, t.description, t.state, t.level, t.warranty, t.warranty_until, t.paid,
                t.owner_on_site, t.assignee_id, t.reopen_count, t.opened_at, t.dispatched_at,
                t.ack_due_at, t.acknowledged_at, t.onsite_due_at, t.on_site_at, t.completed_at,
                t.closed_at, t.level_changed_at, t.updated_at
         from tickets t left join units u on u.unit_id = t.unit_id "
    };
}

/// One line of a ticket's timeline: who did what, when and why.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct TicketEvent {
    /// Database id.
    pub event_id: i64,
    /// The ticket.
    pub ticket_id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (staff code, agent, `system`, `escalation-worker`, ...).
    pub actor: String,
    /// What (`open`, `dispatch`, `ack`, ..., `escalate`, `notify`).
    pub action: String,
    /// State before, for transitions.
    pub from_state: Option<String>,
    /// State after, for transitions.
    pub to_state: Option<String>,
    /// Level after, for escalations.
    pub level: Option<String>,
    /// Why, or what was sent to whom.
    pub reason: String,
}

/// A new timeline line.
#[derive(Debug, Clone)]
pub(crate) struct NewEvent<'a> {
    pub(crate) ticket_id: i64,
    pub(crate) at: DateTime<Utc>,
    pub(crate) actor: &'a str,
    pub(crate) action: &'a str,
    pub(crate) from_state: Option<TicketState>,
    pub(crate) to_state: Option<TicketState>,
    pub(crate) level: Option<Level>,
    pub(crate) reason: &'a str,
}

/// Which tickets to list.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct TicketFilter {
    /// Only in this state.
    pub state: Option<TicketState>,
    /// Only at this level.
    pub level: Option<Level>,
    /// Only of this category.
    pub category: Option<Category>,
    /// Only of this project (code).
    pub project: Option<String>,
    /// Only those past an SLA limit now.
    pub overdue: bool,
    /// At most this many (default 100).
    pub limit: Option<i64>,
}

/// Reads of tickets.
#[derive(Debug, Clone, Copy)]
pub struct TicketRepo<'s> {
    store: &'s Store,
}

impl<'s> TicketRepo<'s> {
    /// Reads through `store`.
    pub fn new(store: &'s Store) -> TicketRepo<'s> {
        TicketRepo { store }
    }

    /// One ticket.
    pub async fn get(&self, ticket_id: i64) -> Result<Option<Ticket>, sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query_as(concat!(ticket_select!(), "where t.ticket_id = $1"))
                .bind(ticket_id)
                .fetch_optional(pool)
                .await
        })
    }

    /// Every ticket of an owner, newest first.
    pub async fn for_owner(&self, owner_id: i64) -> Result<Vec<Ticket>, sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query_as(concat!(
                ticket_select!(),
                "where t.owner_id = $1 order by t.ticket_id desc"
            ))
            .bind(owner_id)
            .fetch_all(pool)
            .await
        })
    }

    /// Tickets matching `filter`, newest first; `overdue` is judged at `now`.
    pub async fn list(
        &self,
        filter: &TicketFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<Ticket>, sqlx::Error> {
        let limit = filter.limit.unwrap_or(100).clamp(1, 10_000);
        let tickets: Vec<Ticket> = on_pool!(self.store, |pool| {
            sqlx::query_as(concat!(
                ticket_select!(),
                "left join buildings b on b.building_id = u.building_id
                 left join projects p on p.project_id = b.project_id
                 where ($1 is null or t.state = $1) and ($2 is null or t.level = $2)
                   and ($3 is null or t.category = $3) and ($4 is null or p.code = $4)
                   and ($5 = false or (t.state in ('dispatched', 'acknowledged', 'on_site')
                        and ((t.acknowledged_at is null and t.ack_due_at < $6)
                          or (t.on_site_at is null and t.onsite_due_at < $6))))
                 order by t.ticket_id desc limit $7"
            ))
            .bind(filter.state.map(|s| s.as_str()))
            .bind(filter.level.map(|l| l.as_str()))
            .bind(filter.category.map(|c| c.as_str()))
            .bind(filter.project.as_deref())
            .bind(filter.overdue)
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        Ok(tickets)
    }

    /// Tickets whose SLA clocks still run (candidates for escalation).
    pub async fn in_progress(&self) -> Result<Vec<Ticket>, sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query_as(concat!(
                ticket_select!(),
                "where t.state in ('dispatched', 'acknowledged', 'on_site') and t.level <> 'major'
                 order by t.ticket_id"
            ))
            .fetch_all(pool)
            .await
        })
    }

    /// A ticket's timeline, oldest first.
    pub async fn timeline(&self, ticket_id: i64) -> Result<Vec<TicketEvent>, sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query_as(
                "select event_id, ticket_id, at, actor, action, from_state, to_state, level, reason
                 from ticket_events where ticket_id = $1 order by at, event_id",
            )
            .bind(ticket_id)
            .fetch_all(pool)
            .await
        })
    }
}

/// Locks the ticket's row for this transaction and reads it.
///
/// The no-op update takes the row lock on PostgreSQL (SQLite's `BEGIN IMMEDIATE` already holds
/// the database's write lock), so two nodes acting on one ticket take turns.
pub(crate) async fn lock(tx: &mut Tx, ticket_id: i64) -> Result<Option<Ticket>, sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query("update tickets set updated_at = updated_at where ticket_id = $1")
            .bind(ticket_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query_as(concat!(ticket_select!(), "where t.ticket_id = $1"))
            .bind(ticket_id)
            .fetch_optional(&mut *conn)
            .await
    })
}

/// Inserts a new ticket and returns its id.
pub(crate) async fn insert(tx: &mut Tx, t: &Ticket) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "insert into tickets (owner_id, unit_id, phone, kind, category, component, description,
                 state, level, warranty, warranty_until, paid, owner_on_site, reopen_count, opened_at,
                 level_changed_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, $14, $14, $14)
             returning ticket_id",
        )
        .bind(t.owner_id)
        .bind(t.unit_id)
        .bind(t.phone.as_deref())
        .bind(t.kind.as_str())
        .bind(t.category.as_str())
        .bind(t.component.as_deref())
        .bind(&t.description)
        .bind(t.state.as_str())
        .bind(t.level.as_str())
        .bind(t.warranty.as_str())
        .bind(t.warranty_until)
        .bind(t.paid)
        .bind(t.owner_on_site)
        .bind(t.opened_at)
        .fetch_one(conn)
        .await
    })
}

/// Writes back every field an operation may change.
pub(crate) async fn save(tx: &mut Tx, t: &Ticket) -> Result<(), sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "update tickets set state = $2, level = $3, assignee_id = $4, reopen_count = $5,
                 dispatched_at = $6, ack_due_at = $7, acknowledged_at = $8, onsite_due_at = $9,
                 on_site_at = $10, completed_at = $11, closed_at = $12, level_changed_at = $13,
                 updated_at = $14
             where ticket_id = $1",
        )
        .bind(t.ticket_id)
        .bind(t.state.as_str())
        .bind(t.level.as_str())
        .bind(t.assignee_id)
        .bind(t.reopen_count)
        .bind(t.dispatched_at)
        .bind(t.ack_due_at)
        .bind(t.acknowledged_at)
        .bind(t.onsite_due_at)
        .bind(t.on_site_at)
        .bind(t.completed_at)
        .bind(t.closed_at)
        .bind(t.level_changed_at)
        .bind(t.updated_at)
        .execute(conn)
        .await
        .map(drop)
    })
}

/// Appends a line to a ticket's timeline.
pub(crate) async fn add_event(tx: &mut Tx, e: &NewEvent<'_>) -> Result<(), sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "insert into ticket_events (ticket_id, at, actor, action, from_state, to_state, level, reason)
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(e.ticket_id)
        .bind(e.at)
        .bind(e.actor)
        .bind(e.action)
        .bind(e.from_state.map(|s| s.as_str()))
        .bind(e.to_state.map(|s| s.as_str()))
        .bind(e.level.map(|l| l.as_str()))
        .bind(e.reason)
        .execute(conn)
        .await
        .map(drop)
    })
}
