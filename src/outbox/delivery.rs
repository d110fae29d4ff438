//! The outbox rows' state changes, each one statement or one transaction, each written before
//! the worker acts on it. Only the node holding a row's lease moves it forward.

use chrono::{DateTime, Utc};

use crate::channels::Accepted;
use crate::store::{Store, Tx};
use crate::vocab::{AttemptOutcome, Channel, DamagedRow, MessageState, stored};
use crate::{on_pool, on_tx};

mod receipts;

pub use receipts::{apply_receipts, give_up_receipts, record_receipt};

/// A row claimed by this worker, with what sending needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    /// The row.
    pub message_id: i64,
    /// How it is sent.
    pub channel: Channel,
    /// Phone or address.
    pub recipient: String,
    /// Email subject.
    pub subject: Option<String>,
    /// The text.
    pub body: String,
    /// The HTML body of an email.
    pub html_body: Option<String>,
    /// Sends tried before this one.
    pub attempts: i64,
    /// The token of an email's unsubscribe link.
    pub unsubscribe_token: Option<String>,
    /// The campaign contact, if the message is a campaign's.
    pub campaign_contact_id: Option<i64>,
    /// The member of staff it goes to (a dispatch or escalation notice).
    pub staff_id: Option<i64>,
    /// Why it is sent.
    pub purpose: String,
}

/// A claimed row as the driver returns it, the channel still text.
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    message_id: i64,
    channel: String,
    recipient: String,
    subject: Option<String>,
    body: String,
    html_body: Option<String>,
    attempts: i64,
    unsubscribe_token: Option<String>,
    campaign_contact_id: Option<i64>,
    staff_id: Option<i64>,
    purpose: String,
}

impl TryFrom<ClaimedRow> for Claimed {
    type Error = DamagedRow;
    fn try_from(r: ClaimedRow) -> Result<Claimed, DamagedRow> {
        Ok(Claimed {
            channel: stored(&r.channel, "outbox", r.message_id, "channel")?,
            message_id: r.message_id,
            recipient: r.recipient,
            subject: r.subject,
            body: r.body,
            html_body: r.html_body,
            attempts: r.attempts,
            unsubscribe_token: r.unsubscribe_token,
            campaign_contact_id: r.campaign_contact_id,
            staff_id: r.staff_id,
            purpose: r.purpose,
        })
    }
}

/// The columns of [`Claimed`], as the SQLite claim returns them.
macro_rules! claimed_columns {
    ($p:literal) => {
        concat!(
            " returning ",
            $p,
            "message_id, ",
            $p,
            "channel, ",
            $p,
            "recipient, ",
            $p,
            "subject, ",
            $p,
            "body, ",
            $p,
            "html_body, ",
            $p,
            "attempts, ",
            $p,
            "unsubscribe_token, ",
            $p,
            "campaign_contact_id, ",
            $p,
            "staff_id, ",
            $p,
            "purpose"
        )
    };
}

/// Rows due for sending on the channels `$4` names (a comma-separated list), oldest first.
macro_rules! due {
    () => {
        "select message_id from outbox
          where state = 'queued' and next_attempt_at <= $1
            and ',' || $4 || ',' like '%,' || channel || ',%'
          order by next_attempt_at, message_id limit $5"
    };
}

/// Leases up to `limit` due rows of `channels` to `node` until `until`. A row whose channel is
/// not a word of the vocabulary comes back as its [`DamagedRow`] error (claimed, so the
/// caller ends it failed with that error, and the rest of the batch is sent).
pub async fn claim(
    store: &Store,
    node: &str,
    channels: &[Channel],
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Result<Claimed, DamagedRow>>, sqlx::Error> {
    let rows = claim_rows(store, node, channels, now, until, limit).await?;
    Ok(rows.into_iter().map(Claimed::try_from).collect())
}

async fn claim_rows(
    store: &Store,
    node: &str,
    channels: &[Channel],
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ClaimedRow>, sqlx::Error> {
    let list = channels
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",");
    match store {
        Store::Sqlite(pool) => {
            sqlx::query_as(concat!(
                "update outbox set state = 'claimed', lease_owner = $2, lease_until = $3
                  where message_id in (",
                due!(),
                ")",
                claimed_columns!("")
            ))
            .bind(now)
            .bind(node)
            .bind(until)
            .bind(&list)
            .bind(limit)
            .fetch_all(pool)
            .await
        }
        Store::Postgres(pool) => {
            sqlx::query_as(concat!(
                "with picked as (",
                due!(),
                " for update skip locked)
                 update outbox o set state = 'claimed', lease_owner = $2, lease_until = $3
                   from picked where o.message_id = picked.message_id",
                claimed_columns!("o.")
            ))
            .bind(now)
            .bind(node)
            .bind(until)
            .bind(&list)
            .bind(limit)
            .fetch_all(pool)
            .await
        }
    }
}

/// Marks a claimed row as being handed to its gateway now (counting the try), its lease
/// renewed until `until` so no other worker's recovery takes it while the gateway answers.
/// `false`: the lease was lost (another node took the row after it expired); nothing may be sent.
pub async fn mark_sending(
    store: &Store,
    message_id: i64,
    node: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query(
            "update outbox set state = 'sending', attempts = attempts + 1, lease_until = $4
              where message_id = $1 and state = 'claimed' and lease_owner = $2 and lease_until > $3",
        )
        .bind(message_id)
        .bind(node)
        .bind(now)
        .bind(until)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1)
    })
}

/// Records what the gateway accepted: the segments' ids, and `sent` — final at once when no
/// receipt will come.
pub async fn record_accepted(
    store: &Store,
    message_id: i64,
    gateway: &str,
    accepted: &Accepted,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = store.begin_write().await?;
    if accepted.receipt_expected {
        insert_parts(&mut tx, message_id, &accepted.provider_ids, now).await?;
    }
    let ended = (!accepted.receipt_expected).then_some(now);
    // Only a row still `sending`: one another worker's recovery marked `unknown` meanwhile (two
    // workers with one name) keeps that state, now with the provider's id.
    let updated = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "update outbox set state = 'sent', provider_id = $2, gateway = $3, sent_at = $4,
                    receipt_expected = $5, ended_at = $6, last_error = null,
                    lease_owner = null, lease_until = null
              where message_id = $1 and state = 'sending'",
        )
        .bind(message_id)
        .bind(accepted.provider_ids.first())
        .bind(gateway)
        .bind(now)
        .bind(accepted.receipt_expected)
        .bind(ended)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if updated == 0 {
        tracing::warn!(
            message = message_id,
            "accepted by the gateway after it was marked unknown"
        );
        on_tx!(&mut tx, |conn| {
            sqlx::query("update outbox set provider_id = $2, gateway = $3 where message_id = $1")
                .bind(message_id)
                .bind(accepted.provider_ids.first())
                .bind(gateway)
                .execute(conn)
                .await
                .map(drop)
        })?;
        return tx.commit().await;
    }
    if ended.is_some() {
        finalize(&mut tx, message_id, MessageState::Sent, true, now).await?;
    }
    tx.commit().await
}

/// Puts a row this node is sending back in the queue after a transient failure, due again at
/// `at`. Nothing happens if the row is no longer the node's (recovery ended it meanwhile).
pub async fn requeue(
    store: &Store,
    message_id: i64,
    node: &str,
    at: DateTime<Utc>,
    error: &str,
) -> Result<(), sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query(
            "update outbox set state = 'queued', next_attempt_at = $3, last_error = $4,
                    lease_owner = null, lease_until = null
              where message_id = $1 and state = 'sending' and lease_owner = $2",
        )
        .bind(message_id)
        .bind(node)
        .bind(at)
        .bind(error)
        .execute(pool)
        .await
        .map(drop)
    })
}

/// Who may end a row: the node holding it (claimed or sending), or recovery taking a
/// `sending` row whose lease ran out.
#[derive(Debug, Clone, Copy)]
pub enum Holder<'a> {
    /// The node that claimed the row.
    Node(&'a str),
    /// Recovery, for a row whose lease ended before this instant.
    Expired(DateTime<Utc>),
}

impl<'a> Holder<'a> {
    /// The node and the expiry instant, one of them set, as SQL parameters.
    fn binds(self) -> (Option<&'a str>, Option<DateTime<Utc>>) {
        match self {
            Holder::Node(node) => (Some(node), None),
            Holder::Expired(at) => (None, Some(at)),
        }
    }
}

/// Ends a row in a final state without a receipt: `failed`, `unknown` or `suppressed`, keeping
/// the ids of segments the gateway had already accepted. Only its `holder` may; `false` when
/// the row was no longer theirs (then nothing changed).
pub async fn end(
    store: &Store,
    message_id: i64,
    holder: Holder<'_>,
    state: MessageState,
    error: &str,
    accepted: &[String],
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let (node, expired_before) = holder.binds();
    let mut tx = store.begin_write().await?;
    let ended = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "update outbox set state = $2, last_error = $3, ended_at = $4,
                    provider_id = coalesce(provider_id, $5), lease_owner = null, lease_until = null
              where message_id = $1
                and (($6 is not null and lease_owner = $6 and state in ('claimed', 'sending'))
                  or ($7 is not null and lease_until <= $7 and state = 'sending'))",
        )
        .bind(message_id)
        .bind(state.as_str())
        .bind(error)
        .bind(now)
        .bind(accepted.first())
        .bind(node)
        .bind(expired_before)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected() == 1)
    })?;
    if !ended {
        return Ok(false);
    }
    insert_parts(&mut tx, message_id, accepted, now).await?;
    finalize(&mut tx, message_id, state, false, now).await?;
    tx.commit().await?;
    Ok(true)
}

async fn insert_parts(
    tx: &mut Tx,
    message_id: i64,
    provider_ids: &[String],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for (i, id) in provider_ids.iter().enumerate() {
        let part = i64::try_from(i + 1).unwrap_or(i64::MAX);
        on_tx!(tx, |conn| {
            sqlx::query(
                "insert into outbox_parts (message_id, part, provider_id, updated_at)
                 values ($1, $2, $3, $4)
                 on conflict (message_id, part) do update
                    set provider_id = excluded.provider_id, state = 'sent', error = null,
                        updated_at = excluded.updated_at",
            )
            .bind(message_id)
            .bind(part)
            .bind(id)
            .bind(now)
            .execute(conn)
            .await
            .map(drop)
        })?;
    }
    Ok(())
}

/// What a final message means for its campaign contact: its attempt row gets the outcome, and
/// the contact (on hold while the message was out) is woken — at once when the message did
/// not reach the owner, after the reply window when it did. A wake already sooner stays (an
/// owner may reply before the delivery receipt arrives), and a contact that has moved on to a
/// later attempt is left alone.
pub(super) async fn finalize(
    tx: &mut Tx,
    message_id: i64,
    state: MessageState,
    reached: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let link: Option<(Option<i64>, Option<i64>, Option<i64>)> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "select attempt_id, campaign_contact_id, wake_contact_secs from outbox
              where message_id = $1",
        )
        .bind(message_id)
        .fetch_optional(&mut *conn)
        .await
    })?;
    let Some((attempt, contact, wake_secs)) = link else {
        return Ok(());
    };
    if let Some(attempt) = attempt {
        on_tx!(tx, |conn| {
            sqlx::query("update attempts set outcome = $2 where attempt_id = $1")
                .bind(attempt)
                .bind(AttemptOutcome::from(state).as_str())
                .execute(&mut *conn)
                .await
                .map(drop)
        })?;
    }
    if let Some(contact) = contact {
        let wait = if reached { wake_secs.unwrap_or(0) } else { 0 };
        let due = now + chrono::TimeDelta::seconds(wait.max(0));
        on_tx!(tx, |conn| {
            sqlx::query(
                "update campaign_contacts
                    set next_attempt_at = case when next_attempt_at < $2 then next_attempt_at
                                               else $2 end,
                        updated_at = $3
                  where campaign_contact_id = $1 and state = 'pending'
                    and not exists (select 1 from attempts a
                                     where a.campaign_contact_id = $1 and a.attempt_id > $4)",
            )
            .bind(contact)
            .bind(due)
            .bind(now)
            .bind(attempt.unwrap_or(0))
            .execute(&mut *conn)
            .await
            .map(drop)
        })?;
    }
    Ok(())
}

/// Why a row cut off mid-send is not sent again.
const CUT_OFF: &str = "interrupted while being handed to the gateway, which may have accepted it; \
                       not resent (huifang outbox retry to send it again)";

/// Settles rows cut off from their sender, never sending them again: `claimed` rows go back
/// to the queue (nothing was sent), `sending` rows become `unknown` (the gateway may have taken
/// them; `huifang outbox retry` resends one on purpose). `Holder::Node`: what this node left
/// in an earlier run (call it before the node sends again); `Holder::Expired`: rows of any node
/// whose lease ran out (a node that died and has not come back). Returns (requeued, unknown).
pub async fn recover(
    store: &Store,
    holder: Holder<'_>,
    now: DateTime<Utc>,
) -> Result<(u64, u64), sqlx::Error> {
    let (node, expired_before) = holder.binds();
    let requeued = on_pool!(store, |pool| {
        sqlx::query(
            "update outbox set state = 'queued', lease_owner = null, lease_until = null
              where state = 'claimed'
                and (($1 is not null and lease_owner = $1) or ($2 is not null and lease_until <= $2))",
        )
        .bind(node)
        .bind(expired_before)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })?;
    let cut_off: Vec<i64> = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "select message_id from outbox where state = 'sending'
                and (($1 is not null and lease_owner = $1) or ($2 is not null and lease_until <= $2))",
        )
        .bind(node)
        .bind(expired_before)
        .fetch_all(pool)
        .await
    })?;
    let mut unknown = 0;
    for id in cut_off {
        if end(store, id, holder, MessageState::Unknown, CUT_OFF, &[], now).await? {
            unknown += 1;
        }
    }
    Ok((requeued, unknown))
}

/// Sends a row again on purpose (an operator's decision after `unknown` or `failed`): it is
/// queued as new, its attempt count kept.
pub async fn retry(
    store: &Store,
    message_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let mut tx = store.begin_write().await?;
    let queued = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "update outbox set state = 'queued', next_attempt_at = $2, ended_at = null,
                    provider_id = null, lease_owner = null, lease_until = null
              where message_id = $1 and state in ('unknown', 'failed')",
        )
        .bind(message_id)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected() == 1)
    })?;
    if queued {
        // The new send's segments get new ids; receipts for the old ones must not count.
        on_tx!(&mut tx, |conn| {
            sqlx::query("delete from outbox_parts where message_id = $1")
                .bind(message_id)
                .execute(conn)
                .await
                .map(drop)
        })?;
    }
    tx.commit().await?;
    Ok(queued)
}
