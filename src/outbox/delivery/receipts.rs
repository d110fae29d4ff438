//! Delivery receipts: written down as the provider sends them, then applied to their rows in
//! the worker's sweep (a receipt may come before the row's send is recorded), or given up on.

use chrono::{DateTime, Utc};

use super::finalize;
use crate::channels::receipt::Receipt;
use crate::store::{Store, Tx};
use crate::vocab::MessageState;
use crate::{on_pool, on_tx};

/// Writes a delivery receipt down as it arrives (applied by [`apply_receipts`]).
pub async fn record_receipt(
    store: &Store,
    receipt: &Receipt,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query(
            "insert into sms_receipts (provider_id, delivered, status, error, received_at)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(&receipt.provider_id)
        .bind(receipt.delivered)
        .bind(&receipt.status)
        .bind(&receipt.error)
        .bind(now)
        .execute(pool)
        .await
        .map(drop)
    })
}

/// How long a receipt may wait for the segment it names before it is given up.
const RECEIPT_MATCH_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Applies unapplied receipts to their segments: a message is `delivered` once every segment
/// is, `failed` as soon as one is not. Returns how many receipts were applied.
pub async fn apply_receipts(store: &Store, now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
    type Pending = (i64, String, bool, String, Option<String>, DateTime<Utc>);
    // Receipts that name no segment of ours (yet) wait a day, then are dropped; they never
    // hold back the others.
    let dropped = on_pool!(store, |pool| {
        sqlx::query(
            "update sms_receipts set applied_at = $1
              where applied_at is null and received_at < $2
                and not exists (select 1 from outbox_parts p
                                 where p.provider_id = sms_receipts.provider_id)",
        )
        .bind(now)
        .bind(now - RECEIPT_MATCH_WINDOW)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })?;
    if dropped > 0 {
        tracing::warn!(dropped, "delivery receipts for no message we sent; dropped");
    }
    let pending: Vec<Pending> = on_pool!(store, |pool| {
        sqlx::query_as(
            "select r.receipt_id, r.provider_id, r.delivered, r.status, r.error, r.received_at
               from sms_receipts r
              where r.applied_at is null
                and exists (select 1 from outbox_parts p where p.provider_id = r.provider_id)
              order by r.receipt_id limit 1000",
        )
        .fetch_all(pool)
        .await
    })?;
    let mut applied = 0;
    for (receipt_id, provider_id, delivered, status, error, _received_at) in pending {
        let mut tx = store.begin_write().await?;
        // The segment awaiting its receipt first (an SMSC that restarted may reuse ids).
        let part: Option<(i64, i64, String)> = on_tx!(&mut tx, |conn| {
            sqlx::query_as(
                "select message_id, part, state from outbox_parts where provider_id = $1
                  order by case when state = 'sent' then 0 else 1 end, message_id desc limit 1",
            )
            .bind(&provider_id)
            .fetch_optional(&mut *conn)
            .await
        })?;
        let Some((message_id, part, part_state)) = part else {
            continue;
        };
        if part_state != MessageState::Sent.as_str() {
            // A receipt repeated (the SMSC resends one we stored but had not acknowledged).
            mark_applied(&mut tx, receipt_id, now).await?;
            tx.commit().await?;
            continue;
        }
        let state = if delivered {
            MessageState::Delivered
        } else {
            MessageState::Failed
        };
        let detail = match &error {
            Some(code) => format!("SMSC receipt {status} (error {code})"),
            None => format!("SMSC receipt {status}"),
        };
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "update outbox_parts set state = $3, error = $4, updated_at = $5
                  where message_id = $1 and part = $2",
            )
            .bind(message_id)
            .bind(part)
            .bind(state.as_str())
            .bind((!delivered).then_some(&detail))
            .bind(now)
            .execute(&mut *conn)
            .await
            .map(drop)
        })?;
        let (parts, done, failed): (i64, i64, i64) = on_tx!(&mut tx, |conn| {
            sqlx::query_as(
                "select count(*),
                        coalesce(sum(case when state = 'delivered' then 1 else 0 end), 0),
                        coalesce(sum(case when state = 'failed' then 1 else 0 end), 0)
                   from outbox_parts where message_id = $1",
            )
            .bind(message_id)
            .fetch_one(&mut *conn)
            .await
        })?;
        let outcome = if failed > 0 {
            Some((MessageState::Failed, false, Some(detail)))
        } else if done == parts {
            Some((MessageState::Delivered, true, None))
        } else {
            None
        };
        if let Some((state, reached, error)) = outcome {
            // A `sent` row takes the receipt's word. Its contact is woken only if the row was
            // not final yet: one given up on (no receipt in time) has had its say already.
            let was_open: Option<bool> = on_tx!(&mut tx, |conn| {
                sqlx::query_scalar(
                    "select ended_at is null from outbox where message_id = $1 and state = 'sent'",
                )
                .bind(message_id)
                .fetch_optional(&mut *conn)
                .await
            })?;
            if let Some(was_open) = was_open {
                on_tx!(&mut tx, |conn| {
                    sqlx::query(
                        "update outbox set state = $2, last_error = coalesce($3, last_error),
                                ended_at = coalesce(ended_at, $4)
                          where message_id = $1",
                    )
                    .bind(message_id)
                    .bind(state.as_str())
                    .bind(error)
                    .bind(now)
                    .execute(&mut *conn)
                    .await
                    .map(drop)
                })?;
                if was_open {
                    finalize(&mut tx, message_id, state, reached, now).await?;
                }
            }
        }
        mark_applied(&mut tx, receipt_id, now).await?;
        tx.commit().await?;
        applied += 1;
    }
    Ok(applied)
}

async fn mark_applied(tx: &mut Tx, receipt_id: i64, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query("update sms_receipts set applied_at = $2 where receipt_id = $1")
            .bind(receipt_id)
            .bind(now)
            .execute(conn)
            .await
            .map(drop)
    })
}

/// Ends `sent` messages whose receipt never came within `wait` (the SMSC lost it, or its
/// validity ran out): they stay `sent`, now final, so their contacts move on.
pub async fn give_up_receipts(
    store: &Store,
    wait: chrono::TimeDelta,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let stale: Vec<i64> = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "select message_id from outbox
              where state = 'sent' and ended_at is null and sent_at <= $1",
        )
        .bind(now - wait)
        .fetch_all(pool)
        .await
    })?;
    for id in &stale {
        let mut tx = store.begin_write().await?;
        let ended = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "update outbox set ended_at = $2, last_error = 'no delivery receipt came'
                  where message_id = $1 and state = 'sent' and ended_at is null",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected() == 1)
        })?;
        if ended {
            finalize(&mut tx, *id, MessageState::Sent, true, now).await?;
        }
        tx.commit().await?;
    }
    Ok(stale.len() as u64)
}
