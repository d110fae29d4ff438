//! The callback list (回访): one task per completed ticket, the list that callback campaigns
//! draw from. Reopened and completed again, a ticket gets a new task.

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
