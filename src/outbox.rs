//! The outbox: every message to be sent is first a row here, written in the same transaction
//! as the change that calls for it. A later worker sends the rows (SMS, email); this table is
//! the contract between the two, so a crash between "decide" and "send" loses nothing.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::{Store, Tx};
use crate::vocab::Channel;
use crate::{on_pool, on_tx};

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    /// `sms` or `email`.
    pub channel: Channel,
    /// Phone (E.164) or email address.
    pub recipient: &'a str,
    /// Subject, for email.
    pub subject: Option<&'a str>,
    /// The text.
    pub body: &'a str,
    /// The ticket it is about, if any.
    pub ticket_id: Option<i64>,
    /// The member of staff it goes to, if any.
    pub staff_id: Option<i64>,
    /// Why it is sent (`dispatch`, `escalation`, ...).
    pub purpose: &'a str,
    /// When it was queued.
    pub at: DateTime<Utc>,
}

/// A queued message as stored.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct OutboxMessage {
    /// Database id.
    pub message_id: i64,
    /// `sms` or `email`.
    pub channel: String,
    /// Phone or address.
    pub recipient: String,
    /// The text.
    pub body: String,
    /// The ticket it is about.
    pub ticket_id: Option<i64>,
    /// The member of staff it goes to.
    pub staff_id: Option<i64>,
    /// Why it is sent.
    pub purpose: String,
    /// `queued`, later `sent`, `delivered` or `failed`.
    pub state: String,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

/// Queues a message inside the caller's transaction.
pub async fn enqueue(tx: &mut Tx, m: &NewMessage<'_>) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "insert into outbox (channel, recipient, subject, body, ticket_id, staff_id, purpose,
                 state, created_at, next_attempt_at)
             values ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $8) returning message_id",
        )
        .bind(m.channel.as_str())
        .bind(m.recipient)
        .bind(m.subject)
        .bind(m.body)
        .bind(m.ticket_id)
        .bind(m.staff_id)
        .bind(m.purpose)
        .bind(m.at)
        .fetch_one(conn)
        .await
    })
}

/// The messages about a ticket, oldest first.
pub async fn for_ticket(store: &Store, ticket_id: i64) -> Result<Vec<OutboxMessage>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as(
            "select message_id, channel, recipient, body, ticket_id, staff_id, purpose, state, created_at
             from outbox where ticket_id = $1 order by message_id",
        )
        .bind(ticket_id)
        .fetch_all(pool)
        .await
    })
}
