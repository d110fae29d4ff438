//! The callback list (回访): one task per completed ticket, the list that callback campaigns
//! draw from. Reopened and completed again, a ticket gets a new task.
//!
//! Also the agents' callback list: owners a person must call (unsatisfied with a repair,
//! never reached by the dialer, or asking for an agent when none was free).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::{Store, Tx};
use crate::{on_pool, on_tx};

/// A callback task as stored.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct CallbackTask {
    /// Database id.
    pub task_id: i64,
    /// The completed ticket.
    pub ticket_id: i64,
    /// The owner to call.
    pub owner_id: Option<i64>,
    /// The number to call.
    pub phone: Option<String>,
    /// `pending` until a campaign takes it.
    pub state: String,
    /// Calls made so far.
    pub attempts: i64,
    /// When the ticket was completed.
    pub created_at: DateTime<Utc>,
    /// When the callback falls due.
    pub due_at: DateTime<Utc>,
}

/// Adds a task for `ticket_id` inside the caller's transaction.
pub(crate) async fn create(
    tx: &mut Tx,
    ticket_id: i64,
    owner_id: Option<i64>,
    phone: Option<&str>,
    created_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "insert into callback_tasks (ticket_id, owner_id, phone, state, attempts, created_at, due_at)
             values ($1, $2, $3, 'pending', 0, $4, $5) returning task_id",
        )
        .bind(ticket_id)
        .bind(owner_id)
        .bind(phone)
        .bind(created_at)
        .bind(due_at)
        .fetch_one(conn)
        .await
    })
}

/// Tasks in `state` (`pending`, ...), oldest due first.
pub async fn list(store: &Store, state: &str) -> Result<Vec<CallbackTask>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as(
            "select task_id, ticket_id, owner_id, phone, state, attempts, created_at, due_at
             from callback_tasks where state = $1 order by due_at, task_id",
        )
        .bind(state)
        .fetch_all(pool)
        .await
    })
}

/// One owner for the agents to call back (the agents' callback list).
#[derive(Debug, Clone)]
pub struct NewAgentCallback<'a> {
    /// The survey verdict behind it, when a survey put it there (one per verdict and reason).
    pub verdict_id: Option<i64>,
    /// The owner.
    pub owner_id: Option<i64>,
    /// The number to call.
    pub phone: &'a str,
    /// The campaign that could not settle it.
    pub campaign_id: Option<i64>,
    /// `unsatisfied`, `neutral`, `unreached`, `asked_for_agent`.
    pub reason: &'a str,
    /// What the agent should know.
    pub note: &'a str,
    /// When to call.
    pub due_at: DateTime<Utc>,
    /// When it was put on the list.
    pub created_at: DateTime<Utc>,
}

/// An entry of the agents' callback list as stored.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AgentCallback {
    /// Database id.
    pub agent_callback_id: i64,
    /// The survey verdict behind it.
    pub verdict_id: Option<i64>,
    /// The ticket concerned.
    pub ticket_id: Option<i64>,
    /// The owner.
    pub owner_id: Option<i64>,
    /// The number to call.
    pub phone: String,
    /// The campaign that put it there.
    pub campaign_id: Option<i64>,
    /// Why.
    pub reason: String,
    /// What the agent should know.
    pub note: String,
    /// Who should call (none: anyone).
    pub agent: Option<String>,
    /// `open`, `done` or `cancelled`.
    pub state: String,
    /// When to call.
    pub due_at: DateTime<Utc>,
    /// When it was put on the list.
    pub created_at: DateTime<Utc>,
}

/// Adds an entry inside the caller's transaction; false when the verdict already has one
/// for this reason.
pub(crate) async fn add_agent_callback(
    tx: &mut Tx,
    ticket_id: Option<i64>,
    c: &NewAgentCallback<'_>,
) -> Result<bool, sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "insert into agent_callbacks
                    (verdict_id, ticket_id, owner_id, phone, campaign_id, reason, note, state,
                     due_at, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9)
             on conflict (verdict_id, reason) do nothing",
        )
        .bind(c.verdict_id)
        .bind(ticket_id)
        .bind(c.owner_id)
        .bind(c.phone)
        .bind(c.campaign_id)
        .bind(c.reason)
        .bind(c.note)
        .bind(c.due_at)
        .bind(c.created_at)
        .execute(conn)
        .await
        .map(|r| r.rows_affected() > 0)
    })
}

/// The open entries of the agents' callback list, soonest due first.
pub async fn agent_callbacks(store: &Store) -> Result<Vec<AgentCallback>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as(
            "select agent_callback_id, verdict_id, ticket_id, owner_id, phone, campaign_id, reason,
                    note, agent, state, due_at, created_at
               from agent_callbacks where state = 'open' order by due_at, agent_callback_id",
        )
        .fetch_all(pool)
        .await
    })
}
