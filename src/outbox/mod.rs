//! # The outbox: every message to be sent is first a row here.
//!
//! A row is written in the same transaction as the change that calls for it (a ticket's
//! dispatch, a campaign contact's turn on the SMS or email channel, a survey's SMS node), so a
//! crash between "decide" and "send" loses nothing. The [`worker`] sends the rows through the
//! [`crate::channels`] gateways and moves each through its states, every step written before
//! it is acted upon:
//!
//! ```text
//! queued ──claim──> claimed ──> sending ──> sent ──receipt──> delivered | failed
//!    ^                 │           │         (final when no receipt is expected)
//!    └── transient ────┘           ├──> failed   (refused, or transient too often)
//!        (back-off)                └──> unknown  (handed over, no answer: never resent)
//! queued ──> suppressed (the recipient opted out before it went)
//! ```
//!
//! A row is *final* once `ended_at` is set. [`delivery`] holds those transitions, [`inbound`]
//! what owners send back (opt-outs, survey replies, email unsubscribe clicks).

pub mod delivery;
pub mod inbound;
pub mod worker;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::{Store, Tx};
use crate::vocab::{Channel, DamagedRow, MessageState, stored};
use crate::{on_pool, on_tx};

/// Why messages could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The database failed.
    #[error("outbox database: {0}")]
    Db(#[from] sqlx::Error),
    /// A row holds a channel or state outside its vocabulary.
    #[error("damaged outbox message: {0}")]
    Damaged(#[from] DamagedRow),
}

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
    /// The HTML body, for email with an HTML template.
    pub html: Option<&'a str>,
    /// The ticket it is about, if any.
    pub ticket_id: Option<i64>,
    /// The member of staff it goes to, if any.
    pub staff_id: Option<i64>,
    /// Why it is sent (`dispatch`, `escalation`, `campaign`, `survey`, ...).
    pub purpose: &'a str,
    /// When it was queued.
    pub at: DateTime<Utc>,
    /// The campaign contact it is a turn of, if any.
    pub campaign: Option<CampaignLink>,
}

/// What ties a message to a campaign contact: its attempt row, and when to wake the contact
/// once the message is final (at once when it failed; after `wake_contact_secs` when it went,
/// which gives an owner time to reply to a survey).
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignLink {
    /// The campaign.
    pub campaign_id: i64,
    /// The contact.
    pub campaign_contact_id: i64,
    /// The attempt row of this message.
    pub attempt_id: i64,
    /// Seconds after a successful send before the contact is due again.
    pub wake_contact_secs: i64,
    /// The survey question a digit reply answers, if the message asks one.
    pub reply: Option<ReplyRule>,
}

/// A survey question asked by SMS: the node a digit reply answers and the keys it accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyRule {
    /// The script node.
    pub node: String,
    /// Lowest accepted key.
    pub min: u8,
    /// Highest accepted key.
    pub max: u8,
}

/// A queued message as read back, its words checked against their vocabularies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxMessage {
    /// Database id.
    pub message_id: i64,
    /// How it is sent.
    pub channel: Channel,
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
    /// Where it stands.
    pub state: MessageState,
    /// Sends tried so far.
    pub attempts: i64,
    /// The gateway's id (the first segment's, for a long SMS).
    pub provider_id: Option<String>,
    /// The last error, in words.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the gateway took it.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it reached its final state.
    pub ended_at: Option<DateTime<Utc>>,
    /// The campaign it belongs to.
    pub campaign_id: Option<i64>,
}

/// An `outbox` row as the driver returns it, words still text.
#[derive(sqlx::FromRow)]
struct MessageRow {
    message_id: i64,
    channel: String,
    recipient: String,
    body: String,
    ticket_id: Option<i64>,
    staff_id: Option<i64>,
    purpose: String,
    state: String,
    attempts: i64,
    provider_id: Option<String>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    campaign_id: Option<i64>,
}

impl TryFrom<MessageRow> for OutboxMessage {
    type Error = DamagedRow;
    fn try_from(r: MessageRow) -> Result<OutboxMessage, DamagedRow> {
        let id = r.message_id;
        Ok(OutboxMessage {
            message_id: id,
            channel: stored(&r.channel, "outbox", id, "channel")?,
            recipient: r.recipient,
            body: r.body,
            ticket_id: r.ticket_id,
            staff_id: r.staff_id,
            purpose: r.purpose,
            state: stored(&r.state, "outbox", id, "state")?,
            attempts: r.attempts,
            provider_id: r.provider_id,
            last_error: r.last_error,
            created_at: r.created_at,
            sent_at: r.sent_at,
            ended_at: r.ended_at,
            campaign_id: r.campaign_id,
        })
    }
}

/// Reads every row, the first damaged one an error.
fn typed(rows: Vec<MessageRow>) -> Result<Vec<OutboxMessage>, OutboxError> {
    rows.into_iter()
        .map(|r| OutboxMessage::try_from(r).map_err(OutboxError::from))
        .collect()
}

/// The select list of [`OutboxMessage`].
macro_rules! message_columns {
    () => {
        "select message_id, channel, recipient, body, ticket_id, staff_id, purpose, state, attempts,
                provider_id, last_error, created_at, sent_at, ended_at, campaign_id from outbox"
    };
}

/// A fresh random token for an email's unsubscribe link (128 bits, hex).
fn unsubscribe_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Queues a message inside the caller's transaction; returns its id.
pub async fn enqueue(tx: &mut Tx, m: &NewMessage<'_>) -> Result<i64, sqlx::Error> {
    // Owners' campaign emails carry an unsubscribe link; staff notices do not.
    let token = (m.channel == Channel::Email && m.campaign.is_some()).then(unsubscribe_token);
    let link = m.campaign.as_ref();
    let reply = link.and_then(|l| l.reply.as_ref());
    on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "insert into outbox (channel, recipient, subject, body, html_body, ticket_id, staff_id,
                 purpose, state, created_at, next_attempt_at, campaign_id, campaign_contact_id,
                 attempt_id, wake_contact_secs, reply_node, reply_min, reply_max, unsubscribe_token)
             values ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $9, $10, $11, $12, $13, $14,
                 $15, $16, $17)
             returning message_id",
        )
        .bind(m.channel.as_str())
        .bind(m.recipient)
        .bind(m.subject)
        .bind(m.body)
        .bind(m.html)
        .bind(m.ticket_id)
        .bind(m.staff_id)
        .bind(m.purpose)
        .bind(m.at)
        .bind(link.map(|l| l.campaign_id))
        .bind(link.map(|l| l.campaign_contact_id))
        .bind(link.map(|l| l.attempt_id))
        .bind(link.map(|l| l.wake_contact_secs))
        .bind(reply.map(|r| r.node.as_str()))
        .bind(reply.map(|r| i64::from(r.min)))
        .bind(reply.map(|r| i64::from(r.max)))
        .bind(token.as_deref())
        .fetch_one(conn)
        .await
    })
}

/// The messages about a ticket, oldest first.
pub async fn for_ticket(store: &Store, ticket_id: i64) -> Result<Vec<OutboxMessage>, OutboxError> {
    let rows: Vec<MessageRow> = on_pool!(store, |pool| {
        sqlx::query_as(concat!(
            message_columns!(),
            " where ticket_id = $1 order by message_id"
        ))
        .bind(ticket_id)
        .fetch_all(pool)
        .await
    })?;
    typed(rows)
}

/// The messages of a campaign, oldest first.
pub async fn for_campaign(
    store: &Store,
    campaign_id: i64,
) -> Result<Vec<OutboxMessage>, OutboxError> {
    let rows: Vec<MessageRow> = on_pool!(store, |pool| {
        sqlx::query_as(concat!(
            message_columns!(),
            " where campaign_id = $1 order by message_id"
        ))
        .bind(campaign_id)
        .fetch_all(pool)
        .await
    })?;
    typed(rows)
}

/// One message.
pub async fn get(store: &Store, message_id: i64) -> Result<Option<OutboxMessage>, OutboxError> {
    let row: Option<MessageRow> = on_pool!(store, |pool| {
        sqlx::query_as(concat!(message_columns!(), " where message_id = $1"))
            .bind(message_id)
            .fetch_optional(pool)
            .await
    })?;
    Ok(row.map(OutboxMessage::try_from).transpose()?)
}

/// The latest messages, newest first, optionally of one state.
pub async fn recent(
    store: &Store,
    state: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxMessage>, OutboxError> {
    let rows: Vec<MessageRow> = on_pool!(store, |pool| {
        sqlx::query_as(concat!(
            message_columns!(),
            " where ($1 is null or state = $1) order by message_id desc limit $2"
        ))
        .bind(state)
        .bind(limit)
        .fetch_all(pool)
        .await
    })?;
    typed(rows)
}

/// Messages per state (all, or of one campaign), for status reports.
pub async fn counts(
    store: &Store,
    campaign_id: Option<i64>,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as(
            "select channel, state, count(*) from outbox
              where ($1 is null or campaign_id = $1)
              group by channel, state order by channel, state",
        )
        .bind(campaign_id)
        .fetch_all(pool)
        .await
    })
}
