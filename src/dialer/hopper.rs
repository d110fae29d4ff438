//! # The hopper: which contacts of a campaign a node may call now.
//!
//! Every number of a campaign is a `campaign_contacts` row. A node *claims* a batch of them
//! with a lease (`lease_owner`, `lease_until`); while the lease runs no other node gets the
//! row, so a contact is never in two live calls. A node that crashes simply stops renewing,
//! and once its leases expire any node claims those contacts again.
//!
//! - [`claim`]: the claim statement, per backend (the one place the dialects differ):
//!   `FOR UPDATE SKIP LOCKED` on PostgreSQL so nodes never wait on each other, a single
//!   `UPDATE ... RETURNING` on SQLite, whose single writer serialises claimers anyway.
//! - [`attempts`]: one row per call attempt, written *before* the call is placed
//!   (write-before-act), so a restarted node knows what it was doing.
//!
//! Time is passed in (`now`), never read here, so tests and the simulator drive it.

pub mod attempts;
pub mod claim;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use sqlx::QueryBuilder;

use crate::phone::Phone;
use crate::store::Store;
use crate::vocab::AttemptOutcome;
use crate::{on_pool, on_tx};

pub use attempts::{AttemptEnd, AttemptError, AttemptId, AttemptRow, Attempts};

/// Rows per `insert` statement when enqueueing: 9 binds each stays far below both drivers'
/// bind-parameter limits (SQLite 32,766; PostgreSQL 65,535).
const ENQUEUE_BATCH: usize = 1_000;

/// A contact to add to a campaign's hopper.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    /// The owner behind the number, when known.
    pub owner_id: Option<i64>,
    /// The number to call.
    pub phone: Phone,
    /// The contact's time zone: call windows are in the contact's local time.
    pub tz: Tz,
    /// Higher is called first.
    pub priority: i64,
    /// The language of the prompts the contact hears (`zh-CN`, `en`).
    pub language: String,
    /// The completed ticket a callback contact closes the loop for.
    pub ticket_id: Option<i64>,
}

/// A contact leased to one node; only that node may call it until `lease_until`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ClaimedContact {
    /// The hopper row.
    pub campaign_contact_id: i64,
    /// The campaign.
    pub campaign_id: i64,
    /// The owner behind the number, when known.
    pub owner_id: Option<i64>,
    /// The number, E.164.
    pub phone: String,
    /// The contact's IANA time zone.
    pub tz: String,
    /// Higher is called first.
    pub priority: i64,
    /// The language of the prompts the contact hears.
    pub language: String,
    /// The completed ticket a callback contact closes the loop for.
    pub ticket_id: Option<i64>,
    /// Attempts so far, over the campaign's life.
    pub attempts: i64,
    /// Attempts so far today.
    pub attempts_today: i64,
    /// The node holding the lease.
    pub lease_owner: String,
    /// When the lease runs out and other nodes may take the contact.
    pub lease_until: DateTime<Utc>,
    /// Which of the campaign's channels (in its fallback order) the contact is on.
    pub channel_step: i64,
}

/// What failed in the hopper, and for which campaign, node or contact.
#[derive(Debug, thiserror::Error)]
pub enum HopperError {
    /// Claiming a batch failed in the database.
    #[error("cannot claim contacts of campaign {campaign_id} for node `{node}`: {source}")]
    Claim {
        /// The campaign.
        campaign_id: i64,
        /// The claiming node.
        node: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The lease is too long to add to a timestamp.
    #[error("lease of {0:?} is out of range")]
    LeaseOutOfRange(std::time::Duration),
    /// Enqueueing contacts failed in the database.
    #[error("cannot enqueue contacts into campaign {campaign_id}: {source}")]
    Enqueue {
        /// The campaign.
        campaign_id: i64,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Updating a claimed contact (release, finish, extend) failed in the database.
    #[error("cannot {action} contact {contact_id}: {source}")]
    Update {
        /// `release`, `finish` or `extend`.
        action: &'static str,
        /// The hopper row.
        contact_id: i64,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The node no longer holds the contact: its lease expired and another node took it, or
    /// it was already released or finished. The caller must not act on the contact.
    #[error("cannot {action} contact {contact_id}: node `{node}` no longer holds its lease")]
    LeaseLost {
        /// `release`, `finish` or `extend`.
        action: &'static str,
        /// The hopper row.
        contact_id: i64,
        /// The node that thought it held the lease.
        node: String,
    },
}

/// The hopper of every campaign in one store.
#[derive(Debug, Clone, Copy)]
pub struct Hopper<'s> {
    store: &'s Store,
}

impl<'s> Hopper<'s> {
    /// Works on `store`.
    pub fn new(store: &'s Store) -> Hopper<'s> {
        Hopper { store }
    }

    /// Adds contacts to a campaign, skipping numbers it already has; returns how many were new.
    ///
    /// Idempotent on (campaign, phone), so re-running a list import never calls anyone twice.
    pub async fn enqueue(
        &self,
        campaign_id: i64,
        contacts: &[NewContact],
        now: DateTime<Utc>,
    ) -> Result<u64, HopperError> {
        let fail = |source| HopperError::Enqueue {
            campaign_id,
            source,
        };
        let mut tx = self.store.begin_write().await.map_err(fail)?;
        let mut added = 0;
        for batch in contacts.chunks(ENQUEUE_BATCH) {
            added += on_tx!(&mut tx, |conn| {
                let mut insert = QueryBuilder::new(
                    "insert into campaign_contacts \
                     (campaign_id, owner_id, phone, tz, priority, language, ticket_id, created_at, updated_at) ",
                );
                insert.push_values(batch, |mut row, c| {
                    row.push_bind(campaign_id)
                        .push_bind(c.owner_id)
                        .push_bind(c.phone.as_str().to_string())
                        .push_bind(c.tz.name())
                        .push_bind(c.priority)
                        .push_bind(c.language.clone())
                        .push_bind(c.ticket_id)
                        .push_bind(now)
                        .push_bind(now);
                });
                insert.push(" on conflict (campaign_id, phone) do nothing");
                insert
                    .build()
                    .execute(conn)
                    .await
                    .map(|r| r.rows_affected())
            })
            .map_err(fail)?;
        }
        tx.commit().await.map_err(fail)?;
        Ok(added)
    }

    /// Leases up to `limit` callable contacts of a campaign to `node` until `now + lease`.
    ///
    /// Callable: pending, or leased with a lease that ran out (a crashed node's), and due
    /// (`next_attempt_at` unset or not after `now`). Highest priority first, then oldest.
    pub async fn claim(
        &self,
        campaign_id: i64,
        node: &str,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedContact>, HopperError> {
        let until = lease_end(now, lease)?;
        let mut claimed = claim::run(self.store, campaign_id, node, now, until, limit)
            .await
            .map_err(|source| HopperError::Claim {
                campaign_id,
                node: node.to_string(),
                source,
            })?;
        claimed.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(a.campaign_contact_id.cmp(&b.campaign_contact_id))
        });
        Ok(claimed)
    }

    /// Gives a contact back for another attempt at `next_attempt_at` (`None`: as soon as possible).
    pub async fn release(
        &self,
        contact: &ClaimedContact,
        next_attempt_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), HopperError> {
        let sql = "update campaign_contacts set state = 'pending', next_attempt_at = $3,
                   lease_owner = null, lease_until = null, updated_at = $4
                   where campaign_contact_id = $1 and lease_owner = $2 and state = 'leased'";
        self.update_held("release", contact, sql, next_attempt_at, now)
            .await
    }

    /// Marks a contact done with its final outcome; it is never claimed again.
    pub async fn finish(
        &self,
        contact: &ClaimedContact,
        outcome: AttemptOutcome,
        now: DateTime<Utc>,
    ) -> Result<(), HopperError> {
        let outcome = outcome.as_str();
        let sql = "update campaign_contacts set state = 'done', final_outcome = $3,
                   lease_owner = null, lease_until = null, updated_at = $4
                   where campaign_contact_id = $1 and lease_owner = $2 and state = 'leased'";
        self.update_held("finish", contact, sql, outcome, now).await
    }

    /// Moves a contact on to the next channel of its campaign's fallback order, due at once
    /// (its attempts on this channel are over: unreached by phone, or a message that failed).
    pub async fn advance(
        &self,
        contact: &ClaimedContact,
        now: DateTime<Utc>,
    ) -> Result<(), HopperError> {
        let sql = "update campaign_contacts set state = 'pending', channel_step = channel_step + 1,
                   next_attempt_at = $3, lease_owner = null, lease_until = null, updated_at = $4
                   where campaign_contact_id = $1 and lease_owner = $2 and state = 'leased'";
        self.update_held("advance", contact, sql, now, now).await
    }

    /// Extends a held lease to `now + lease`, for calls that outlast it; returns the new end.
    ///
    /// Fails with [`HopperError::LeaseLost`] when the lease already ran out and another node
    /// took the contact, which is why leases must be extended before they expire.
    pub async fn extend(
        &self,
        contact: &ClaimedContact,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> Result<DateTime<Utc>, HopperError> {
        let until = lease_end(now, lease)?;
        let sql = "update campaign_contacts set lease_until = $3, updated_at = $4
                   where campaign_contact_id = $1 and lease_owner = $2 and state = 'leased'";
        self.update_held("extend", contact, sql, until, now).await?;
        Ok(until)
    }

    /// One hopper row, whatever its state (restart recovery rebuilds its lease from it).
    pub async fn get(&self, contact_id: i64) -> Result<Option<ClaimedContact>, sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query_as(
                "select campaign_contact_id, campaign_id, owner_id, phone, tz, priority, language,
                        ticket_id, attempts, attempts_today, coalesce(lease_owner, '') as lease_owner,
                        coalesce(lease_until, updated_at) as lease_until, channel_step
                   from campaign_contacts where campaign_contact_id = $1",
            )
            .bind(contact_id)
            .fetch_optional(pool)
            .await
        })
    }

    /// Gives back every contact `node` still holds (a restarted node's leftovers), to be
    /// called as soon as possible; returns how many.
    pub async fn release_all(&self, node: &str, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query(
                "update campaign_contacts set state = 'pending', lease_owner = null,
                        lease_until = null, updated_at = $2
                  where lease_owner = $1 and state = 'leased'",
            )
            .bind(node)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
    }

    /// Contacts of the campaign being called, or pending and due at `now`: whether a dialer
    /// still has work at this moment (a manual clock may jump ahead when it has none).
    pub async fn due_now(&self, campaign_id: i64, now: DateTime<Utc>) -> Result<i64, sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query_scalar(
                "select count(*) from campaign_contacts where campaign_id = $1 and (state = 'leased'
                    or (state = 'pending' and (next_attempt_at is null or next_attempt_at <= $2)))",
            )
            .bind(campaign_id)
            .bind(now)
            .fetch_one(pool)
            .await
        })
    }

    /// How many contacts of the campaign have no final outcome yet, and the earliest moment
    /// one of the pending ones falls due (`None`: none is waiting for a time).
    pub async fn remaining(
        &self,
        campaign_id: i64,
    ) -> Result<(i64, Option<DateTime<Utc>>), sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query_as(
                "select count(*), min(case when state = 'pending' then next_attempt_at end)
                   from campaign_contacts where campaign_id = $1 and state <> 'done'",
            )
            .bind(campaign_id)
            .fetch_one(pool)
            .await
        })
    }

    /// Runs `sql` (`$1` contact, `$2` node, `$3` value, `$4` now) on a contact this node holds.
    async fn update_held<V>(
        &self,
        action: &'static str,
        contact: &ClaimedContact,
        sql: &'static str,
        value: V,
        now: DateTime<Utc>,
    ) -> Result<(), HopperError>
    where
        V: for<'q> sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
        V: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
        V: Send,
    {
        let contact_id = contact.campaign_contact_id;
        let done = on_pool!(self.store, |pool| {
            sqlx::query(sql)
                .bind(contact_id)
                .bind(&contact.lease_owner)
                .bind(value)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(|source| HopperError::Update {
            action,
            contact_id,
            source,
        })?;
        if done == 0 {
            return Err(HopperError::LeaseLost {
                action,
                contact_id,
                node: contact.lease_owner.clone(),
            });
        }
        Ok(())
    }
}

/// `now + lease`, refusing durations a timestamp cannot carry.
fn lease_end(now: DateTime<Utc>, lease: std::time::Duration) -> Result<DateTime<Utc>, HopperError> {
    TimeDelta::from_std(lease)
        .ok()
        .and_then(|delta| now.checked_add_signed(delta))
        .ok_or(HopperError::LeaseOutOfRange(lease))
}
