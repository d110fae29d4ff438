//! The do-not-call list: numbers that must not be reached on a channel (or on any, `all`).
//! Entries are global (`scope` empty) for now; campaigns add their own scopes later.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::on_pool;
use crate::phone::Phone;
use crate::store::Store;
use crate::vocab::Channel;

/// One entry.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct DncEntry {
    /// The number (E.164).
    pub phone: String,
    /// The channel, or `all`.
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    /// Why (owner asked, complaint, ...).
    pub reason: String,
    /// Since when.
    pub created_at: DateTime<Utc>,
}

/// Whether `phone` must not be reached on `channel` (an `all` entry covers every channel).
pub async fn is_blocked(
    store: &Store,
    phone: &Phone,
    channel: Channel,
) -> Result<bool, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from dnc where phone = $1 and (channel = $2 or channel = 'all') and scope = ''",
        )
        .bind(phone.as_str())
        .bind(channel.as_str())
        .fetch_one(pool)
        .await
        .map(|n| n > 0)
    })
}

/// Puts `phone` on the list for `channel`; adding it again updates the reason.
pub async fn add(
    store: &Store,
    phone: &Phone,
    channel: Channel,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query(
            "insert into dnc (phone, channel, scope, reason, created_at) values ($1, $2, '', $3, $4)
             on conflict (phone, channel, scope) do update set reason = excluded.reason",
        )
        .bind(phone.as_str())
        .bind(channel.as_str())
        .bind(reason)
        .bind(now)
        .execute(pool)
        .await
        .map(drop)
    })
}

/// Takes `phone` off the list for `channel`; returns whether it was there.
pub async fn remove(store: &Store, phone: &Phone, channel: Channel) -> Result<bool, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query("delete from dnc where phone = $1 and channel = $2 and scope = ''")
            .bind(phone.as_str())
            .bind(channel.as_str())
            .execute(pool)
            .await
            .map(|done| done.rows_affected() > 0)
    })
}

/// Every global entry, by number.
pub async fn list(store: &Store) -> Result<Vec<DncEntry>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as("select phone, channel, reason, created_at from dnc where scope = '' order by phone, channel")
            .fetch_all(pool)
            .await
    })
}
