//! One row per call attempt, written before acting.
//!
//! The dialer opens the row *before* it places the call and stamps each step as it happens
//! (dialed, answered, bridged) and the end with its outcome. A node that restarts lists its
//! attempts without an end ([`Attempts::unfinished`]): each is a call it may have placed, so
//! it settles them (from the telephony side or as `failed`) instead of dialling again blind.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ClaimedContact;
use crate::store::Store;
use crate::vocab::{AttemptOutcome, Channel, DamagedRow, stored};
use crate::{on_pool, on_tx};

/// The id of an attempt row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct AttemptId(pub i64);

impl std::fmt::Display for AttemptId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An attempt as read back, its outcome checked against the vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRow {
    /// Database id.
    pub attempt_id: i64,
    /// The hopper row called.
    pub campaign_contact_id: i64,
    /// The campaign.
    pub campaign_id: i64,
    /// How the contact was reached.
    pub channel: Channel,
    /// The node that placed it.
    pub node: String,
    /// When the row was written, before dialling.
    pub queued_at: DateTime<Utc>,
    /// When the INVITE (or message) went out.
    pub dialed_at: Option<DateTime<Utc>>,
    /// When the callee answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// When the callee was bridged to an agent.
    pub bridged_at: Option<DateTime<Utc>>,
    /// When the attempt ended; `None` while it may still be live.
    pub ended_at: Option<DateTime<Utc>>,
    /// How it ended; `None` while open.
    pub outcome: Option<AttemptOutcome>,
    /// The final SIP status, when there was one.
    pub sip_status: Option<i64>,
    /// The agent it was bridged to.
    pub agent: Option<String>,
    /// Where the recording was written.
    pub recording_path: Option<String>,
    /// Why it ended as it did, for people.
    pub detail: Option<String>,
}

/// An `attempts` row as the driver returns it, the outcome still text.
#[derive(sqlx::FromRow)]
struct StoredAttempt {
    attempt_id: i64,
    campaign_contact_id: i64,
    campaign_id: i64,
    channel: String,
    node: String,
    queued_at: DateTime<Utc>,
    dialed_at: Option<DateTime<Utc>>,
    answered_at: Option<DateTime<Utc>>,
    bridged_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
    sip_status: Option<i64>,
    agent: Option<String>,
    recording_path: Option<String>,
    detail: Option<String>,
}

impl TryFrom<StoredAttempt> for AttemptRow {
    type Error = DamagedRow;
    fn try_from(r: StoredAttempt) -> Result<AttemptRow, DamagedRow> {
        let outcome = r
            .outcome
            .as_deref()
            .map(|word| stored(word, "attempts", r.attempt_id, "outcome"))
            .transpose()?;
        Ok(AttemptRow {
            attempt_id: r.attempt_id,
            campaign_contact_id: r.campaign_contact_id,
            campaign_id: r.campaign_id,
            channel: stored(&r.channel, "attempts", r.attempt_id, "channel")?,
            node: r.node,
            queued_at: r.queued_at,
            dialed_at: r.dialed_at,
            answered_at: r.answered_at,
            bridged_at: r.bridged_at,
            ended_at: r.ended_at,
            outcome,
            sip_status: r.sip_status,
            agent: r.agent,
            recording_path: r.recording_path,
            detail: r.detail,
        })
    }
}

/// Reads every row, the first damaged one an error.
fn typed(rows: Vec<StoredAttempt>) -> Result<Vec<AttemptRow>, AttemptError> {
    rows.into_iter()
        .map(|r| AttemptRow::try_from(r).map_err(AttemptError::from))
        .collect()
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptEnd<'a> {
    /// The outcome.
    pub outcome: AttemptOutcome,
    /// The final SIP status, when there was one.
    pub sip_status: Option<u16>,
    /// The agent it was bridged to.
    pub agent: Option<&'a str>,
    /// Where the recording was written.
    pub recording_path: Option<&'a str>,
    /// Why, for people (the SIP reason phrase, `interrupted by restart`).
    pub detail: Option<&'a str>,
    /// When it ended.
    pub at: DateTime<Utc>,
}

impl Default for AttemptEnd<'_> {
    /// A failure with nothing else known, for `..AttemptEnd::default()` after the fields that
    /// are (every caller names the outcome).
    fn default() -> Self {
        AttemptEnd {
            outcome: AttemptOutcome::Failed,
            sip_status: None,
            agent: None,
            recording_path: None,
            detail: None,
            at: DateTime::<Utc>::default(),
        }
    }
}

/// What failed while recording an attempt.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    /// Writing the row before dialling failed: the call must not be placed.
    #[error("cannot open an attempt for contact {contact_id}: {source}")]
    Open {
        /// The hopper row.
        contact_id: i64,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The node no longer holds the contact's lease (it expired and may be another node's
    /// now): the call must not be placed.
    #[error("contact {contact_id} is no longer leased to node `{node}`: not dialling it")]
    LeaseLost {
        /// The hopper row.
        contact_id: i64,
        /// The node that asked.
        node: String,
    },
    /// An earlier attempt on the contact was answered (perhaps by a node that crashed before
    /// settling it): the contact is finished, never dialled again. Answers that are retried
    /// by rule do not count: abandoned (no agent was free) and incomplete (the owner hung up
    /// mid-survey).
    #[error("contact {contact_id} was already answered: not dialling it again")]
    AlreadyAnswered {
        /// The hopper row.
        contact_id: i64,
    },
    /// Stamping a step or the end failed in the database.
    #[error("cannot record `{step}` of attempt {attempt_id}: {source}")]
    Update {
        /// `dialed`, `answered`, `bridged` or `close`.
        step: &'static str,
        /// The attempt.
        attempt_id: AttemptId,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The attempt does not exist or has already ended.
    #[error("cannot record `{step}` of attempt {attempt_id}: no such open attempt")]
    NotOpen {
        /// `dialed`, `answered`, `bridged` or `close`.
        step: &'static str,
        /// The attempt.
        attempt_id: AttemptId,
    },
    /// Reading a contact's attempts failed.
    #[error("cannot read the attempts of contact {contact_id}: {source}")]
    History {
        /// The hopper row.
        contact_id: i64,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Listing a node's unfinished attempts failed.
    #[error("cannot list unfinished attempts of node `{node}`: {source}")]
    List {
        /// The node.
        node: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Reading one attempt failed.
    #[error("cannot read attempt {attempt_id}: {source}")]
    Get {
        /// The attempt.
        attempt_id: AttemptId,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// An attempt row read back holds an outcome outside the vocabulary.
    #[error("damaged attempt: {0}")]
    Damaged(#[from] DamagedRow),
}

/// The select list of [`AttemptRow`].
macro_rules! select {
    () => {
        "select attempt_id, campaign_contact_id, campaign_id, channel, node, queued_at, dialed_at,
                answered_at, bridged_at, ended_at, outcome, sip_status, agent, recording_path,
                detail
           from attempts"
    };
}
/// The attempt rows of one store.
#[derive(Debug, Clone, Copy)]
pub struct Attempts<'s> {
    store: &'s Store,
}

impl<'s> Attempts<'s> {
    /// Works on `store`.
    pub fn new(store: &'s Store) -> Attempts<'s> {
        Attempts { store }
    }

    /// Writes the row of an attempt about to be placed and counts it on the contact, in one
    /// commit; place the call only once this returns.
    pub async fn open(
        &self,
        contact: &ClaimedContact,
        channel: Channel,
        node: &str,
        now: DateTime<Utc>,
    ) -> Result<AttemptId, AttemptError> {
        let contact_id = contact.campaign_contact_id;
        let fail = |source| AttemptError::Open { contact_id, source };
        let mut tx = self.store.begin_write().await.map_err(fail)?;
        // Count the attempt on the contact only while this node still holds its lease: a node
        // whose lease ran out (and was reclaimed elsewhere) must not dial the contact again.
        let held: u64 = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "update campaign_contacts set attempts = attempts + 1,
                        attempts_today = attempts_today + 1, updated_at = $2
                  where campaign_contact_id = $1 and state = 'leased'
                    and lease_owner = $3 and lease_until > $2",
            )
            .bind(contact_id)
            .bind(now)
            .bind(node)
            .execute(conn)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(fail)?;
        if held == 0 {
            // Dropping the transaction rolls it back; nothing was written.
            return Err(AttemptError::LeaseLost {
                contact_id,
                node: node.to_string(),
            });
        }
        let answered: i64 = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar(
                "select count(*) from attempts
                  where campaign_contact_id = $1 and answered_at is not null
                    and (outcome is null or outcome not in ('abandoned', 'incomplete'))",
            )
            .bind(contact_id)
            .fetch_one(&mut *conn)
            .await
        })
        .map_err(fail)?;
        if answered > 0 {
            return Err(AttemptError::AlreadyAnswered { contact_id });
        }
        let id: i64 = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar(
                "insert into attempts (campaign_contact_id, campaign_id, channel, node, queued_at)
                 values ($1, $2, $3, $4, $5) returning attempt_id",
            )
            .bind(contact_id)
            .bind(contact.campaign_id)
            .bind(channel.as_str())
            .bind(node)
            .bind(now)
            .fetch_one(&mut *conn)
            .await
        })
        .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok(AttemptId(id))
    }

    /// Stamps the moment the call went out.
    pub async fn mark_dialed(&self, id: AttemptId, at: DateTime<Utc>) -> Result<(), AttemptError> {
        let sql = "update attempts set dialed_at = $2 where attempt_id = $1 and ended_at is null";
        self.stamp("dialed", id, sql, at).await
    }

    /// Stamps the moment the callee answered.
    pub async fn mark_answered(
        &self,
        id: AttemptId,
        at: DateTime<Utc>,
    ) -> Result<(), AttemptError> {
        let sql = "update attempts set answered_at = $2 where attempt_id = $1 and ended_at is null";
        self.stamp("answered", id, sql, at).await
    }

    /// Stamps the moment the callee was bridged to `agent`.
    pub async fn mark_bridged(
        &self,
        id: AttemptId,
        agent: &str,
        at: DateTime<Utc>,
    ) -> Result<(), AttemptError> {
        let step = "bridged";
        let done = on_pool!(self.store, |pool| {
            sqlx::query(
                "update attempts set bridged_at = $2, agent = $3
                  where attempt_id = $1 and ended_at is null",
            )
            .bind(id.0)
            .bind(at)
            .bind(agent)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        check(step, id, done)
    }

    /// Takes back a bridge stamp whose hand-over bounced (the agent's leg went down first).
    pub async fn unmark_bridged(&self, id: AttemptId) -> Result<(), AttemptError> {
        let done = on_pool!(self.store, |pool| {
            sqlx::query(
                "update attempts set bridged_at = null, agent = null
                  where attempt_id = $1 and ended_at is null",
            )
            .bind(id.0)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        check("unbridged", id, done)
    }

    /// Ends the attempt with its outcome; an attempt ends once.
    pub async fn close(&self, id: AttemptId, end: &AttemptEnd<'_>) -> Result<(), AttemptError> {
        let done = on_pool!(self.store, |pool| {
            sqlx::query(
                "update attempts set ended_at = $2, outcome = $3, sip_status = $4,
                        agent = coalesce($5, agent), recording_path = $6, detail = $7
                  where attempt_id = $1 and ended_at is null",
            )
            .bind(id.0)
            .bind(end.at)
            .bind(end.outcome.as_str())
            .bind(end.sip_status.map(i64::from))
            .bind(end.agent)
            .bind(end.recording_path)
            .bind(end.detail)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        check("close", id, done)
    }

    /// One attempt.
    pub async fn get(&self, id: AttemptId) -> Result<Option<AttemptRow>, AttemptError> {
        let row: Option<StoredAttempt> = on_pool!(self.store, |pool| {
            sqlx::query_as(concat!(select!(), " where attempt_id = $1"))
                .bind(id.0)
                .fetch_optional(pool)
                .await
        })
        .map_err(|source| AttemptError::Get {
            attempt_id: id,
            source,
        })?;
        Ok(row.map(AttemptRow::try_from).transpose()?)
    }

    /// Every attempt on one contact, oldest first (for the retry counts).
    pub async fn of_contact(&self, contact_id: i64) -> Result<Vec<AttemptRow>, AttemptError> {
        let rows = on_pool!(self.store, |pool| {
            sqlx::query_as(concat!(
                select!(),
                " where campaign_contact_id = $1 order by attempt_id"
            ))
            .bind(contact_id)
            .fetch_all(pool)
            .await
        })
        .map_err(|source| AttemptError::History { contact_id, source })?;
        typed(rows)
    }

    /// Every attempt of a campaign, oldest first (for reports and tests).
    pub async fn of_campaign(&self, campaign_id: i64) -> Result<Vec<AttemptRow>, AttemptError> {
        let rows = on_pool!(self.store, |pool| {
            sqlx::query_as(concat!(
                select!(),
                " where campaign_id = $1 order by attempt_id"
            ))
            .bind(campaign_id)
            .fetch_all(pool)
            .await
        })
        .map_err(|source| AttemptError::History {
            contact_id: campaign_id,
            source,
        })?;
        typed(rows)
    }

    /// The attempts `node` opened and never closed, oldest first: calls it may have placed
    /// before it stopped, to settle on restart.
    pub async fn unfinished(&self, node: &str) -> Result<Vec<AttemptRow>, AttemptError> {
        let rows = on_pool!(self.store, |pool| {
            sqlx::query_as(concat!(
                select!(),
                " where node = $1 and ended_at is null order by attempt_id"
            ))
            .bind(node)
            .fetch_all(pool)
            .await
        })
        .map_err(|source| AttemptError::List {
            node: node.to_string(),
            source,
        })?;
        typed(rows)
    }

    /// Runs a one-timestamp `sql` (`$1` attempt, `$2` time) on an open attempt.
    async fn stamp(
        &self,
        step: &'static str,
        id: AttemptId,
        sql: &'static str,
        at: DateTime<Utc>,
    ) -> Result<(), AttemptError> {
        let done = on_pool!(self.store, |pool| {
            sqlx::query(sql)
                .bind(id.0)
                .bind(at)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        });
        check(step, id, done)
    }
}

/// Maps an update's outcome: a driver error, no open attempt, or done.
fn check(
    step: &'static str,
    attempt_id: AttemptId,
    rows: Result<u64, sqlx::Error>,
) -> Result<(), AttemptError> {
    match rows {
        Err(source) => Err(AttemptError::Update {
            step,
            attempt_id,
            source,
        }),
        Ok(0) => Err(AttemptError::NotOpen { step, attempt_id }),
        Ok(_) => Ok(()),
    }
}
