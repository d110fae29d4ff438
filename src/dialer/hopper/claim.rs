//! The claim statement: the one hopper query whose text differs between the backends.
//!
//! Both pick the same rows (the [`CALLABLE`] filter and order) and set the same lease; they
//! differ in how concurrent claimers are kept apart:
//! - PostgreSQL: the candidate rows are locked with `FOR UPDATE SKIP LOCKED` in a CTE, so a
//!   second node skips rows the first is leasing instead of waiting for them or taking them
//!   too; the row lock lasts until the statement commits, and by then the row is `leased`.
//! - SQLite: one `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING`, run in a
//!   `BEGIN IMMEDIATE` transaction: SQLite has one writer at a time, so the sub-select and the
//!   update see no other claimer in between. (`FOR UPDATE` is a syntax error there.)

use chrono::{DateTime, Utc};

use super::ClaimedContact;
use crate::store::{BeginWrite, Store};

/// The candidate rows of campaign `$1` at time `$2`, in claim order, at most `$5`.
///
/// `state <> 'done'` is spelled out to match the partial index `campaign_contacts_claim`
/// (SQLite uses a partial index only when the query repeats its condition), whose order is
/// the claim order, so the scan stops after `$5` callable rows.
macro_rules! callable {
    () => {
        "select campaign_contact_id from campaign_contacts
         where campaign_id = $1 and state <> 'done'
           and (state = 'pending' or lease_until <= $2)
           and (next_attempt_at is null or next_attempt_at <= $2)
         order by priority desc, campaign_contact_id
         limit $5"
    };
}

/// The columns of a [`ClaimedContact`], as the SQLite claim returns them.
macro_rules! returning {
    () => {
        " returning campaign_contact_id, campaign_id, owner_id, phone, tz, priority, language, ticket_id, attempts,
                    attempts_today, lease_owner, lease_until, channel_step"
    };
}

/// The filter and order of claimable rows (documentation anchor for the two statements).
pub const CALLABLE: &str = callable!();

/// The PostgreSQL claim: lock candidates, skipping rows another claimer holds, then lease them.
pub const POSTGRES: &str = concat!(
    "with picked as (",
    callable!(),
    " for update skip locked)
     update campaign_contacts c
        set state = 'leased', lease_owner = $3, lease_until = $4, updated_at = $2
       from picked where c.campaign_contact_id = picked.campaign_contact_id",
    " returning c.campaign_contact_id, c.campaign_id, c.owner_id, c.phone, c.tz, c.priority,
                c.language, c.ticket_id, c.attempts, c.attempts_today, c.lease_owner, c.lease_until,
                c.channel_step"
);

/// The SQLite claim: one statement under the single writer lock.
pub const SQLITE: &str = concat!(
    "update campaign_contacts
        set state = 'leased', lease_owner = $3, lease_until = $4, updated_at = $2
      where campaign_contact_id in (",
    callable!(),
    ")",
    returning!()
);

/// Runs the claim of this store's backend; rows come back in no particular order.
pub(super) async fn run(
    store: &Store,
    campaign_id: i64,
    node: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<ClaimedContact>, sqlx::Error> {
    let limit = i64::from(limit);
    match store {
        Store::Postgres(pool) => {
            sqlx::query_as(POSTGRES)
                .bind(campaign_id)
                .bind(now)
                .bind(node)
                .bind(until)
                .bind(limit)
                .fetch_all(pool)
                .await
        }
        Store::Sqlite(pool) => {
            let mut tx = pool.begin_write().await?;
            let claimed = sqlx::query_as(SQLITE)
                .bind(campaign_id)
                .bind(now)
                .bind(node)
                .bind(until)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(claimed)
        }
    }
}
