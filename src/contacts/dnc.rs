//! The do-not-call list: numbers that must not be reached on a channel (or on any, `all`).
//! Entries are global (`scope` empty) or belong to one campaign (`scope` = its code); a
//! campaign honours both ([`is_blocked_in`]).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::phone::Phone;
use crate::store::Store;
use crate::store::Tx;
use crate::vocab::Channel;
use crate::{on_pool, on_tx};

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

/// Whether `phone` must not be reached on `channel` by campaign `scope`: a global entry or
/// one of that campaign, for the channel or `all`.
pub async fn is_blocked_in(
    store: &Store,
    phone: &str,
    channel: Channel,
    scope: &str,
) -> Result<bool, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from dnc where phone = $1 and (channel = $2 or channel = 'all')
                and (scope = '' or scope = $3)",
        )
        .bind(phone)
        .bind(channel.as_str())
        .bind(scope)
        .fetch_one(pool)
        .await
        .map(|n| n > 0)
    })
}

/// Puts `phone` on campaign `scope`'s own list for `channel` (empty scope: global).
pub async fn add_in(
    store: &Store,
    phone: &Phone,
    channel: Channel,
    scope: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = store.begin_write().await?;
    add_in_tx(&mut tx, phone, channel, scope, reason, now).await?;
    tx.commit().await
}

/// [`add_in`] inside the caller's transaction (an owner's opt-out is written with the answer
/// that asked for it).
pub(crate) async fn add_in_tx(
    tx: &mut Tx,
    phone: &Phone,
    channel: Channel,
    scope: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "insert into dnc (phone, channel, scope, reason, created_at) values ($1, $2, $3, $4, $5)
             on conflict (phone, channel, scope) do update set reason = excluded.reason",
        )
        .bind(phone.as_str())
        .bind(channel.as_str())
        .bind(scope)
        .bind(reason)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })
}

/// Whether the owner withdrew consent to be reached on `channel` (`consent_voice` and so on).
pub async fn consent_withdrawn(
    store: &Store,
    owner_id: i64,
    channel: Channel,
) -> Result<bool, sqlx::Error> {
    let column = match channel {
        Channel::Voice => "consent_voice",
        Channel::Sms => "consent_sms",
        Channel::Email => "consent_email",
        Channel::All => return Ok(false),
    };
    let sql = format!("select count(*) from owners where owner_id = $1 and not {column}");
    on_pool!(store, |pool| {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(owner_id)
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
