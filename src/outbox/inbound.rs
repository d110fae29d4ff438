//! What owners send back: SMS replies (an opt-out keyword, a survey digit) and clicks on an
//! email's unsubscribe link. Each is written to `inbound_messages` together with its effect,
//! in one transaction, so the opt-out is in force the moment the row exists: the worker checks
//! the do-not-call list again right before every send.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::channels::text::{self, ReplyIntent};
use crate::contacts::dnc;
use crate::phone::Phone;
use crate::store::{Store, Tx};
use crate::vocab::Channel;
use crate::{on_pool, on_tx};

/// What was done with an inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handled {
    /// `opt_out`, `survey_answer` or `ignored`.
    pub action: &'static str,
    /// Details in words (the channel opted out of, the node answered, why ignored).
    pub detail: String,
    /// The outbox message it answers, if any.
    pub message_id: Option<i64>,
}

impl Handled {
    fn ignored(detail: impl Into<String>) -> Handled {
        Handled {
            action: "ignored",
            detail: detail.into(),
            message_id: None,
        }
    }
}

/// A survey question awaiting a reply from a number.
#[derive(Debug, sqlx::FromRow)]
struct Question {
    message_id: i64,
    attempt_id: Option<i64>,
    campaign_id: Option<i64>,
    campaign_contact_id: Option<i64>,
    reply_node: Option<String>,
    reply_min: Option<i64>,
    reply_max: Option<i64>,
}

/// The longest a survey SMS may wait for its reply (`reply_hours` is at most 336): an outer
/// bound on the search; the contact's own state is the real window.
const REPLY_WINDOW: chrono::TimeDelta = chrono::TimeDelta::days(15);

/// Handles one SMS reply from `from` (E.164 or as the SMSC gave it) to our number `to`.
pub async fn record_reply(
    store: &Store,
    from: &str,
    to: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<Handled, sqlx::Error> {
    let mut tx = store.begin_write().await?;
    let phone = Phone::parse(from).ok();
    let handled = match (text::intent(body), &phone) {
        (_, None) => Handled::ignored(format!("sender `{from}` is not a phone number")),
        (ReplyIntent::OptOut, Some(phone)) => {
            opt_out(&mut tx, phone, Channel::Sms, body, now).await?
        }
        (ReplyIntent::OptOutAll, Some(phone)) => {
            opt_out(&mut tx, phone, Channel::All, body, now).await?
        }
        (ReplyIntent::Digit(key), Some(phone)) => answer(&mut tx, phone, key, now).await?,
        (ReplyIntent::Other, _) => Handled::ignored("not a keyword or a survey key"),
    };
    let sender = phone.as_ref().map_or(from, |p| p.as_str());
    insert(&mut tx, Channel::Sms, sender, to, body, &handled, now).await?;
    tx.commit().await?;
    tracing::info!(from = sender, action = handled.action, detail = %handled.detail, "SMS reply");
    Ok(handled)
}

async fn opt_out(
    tx: &mut Tx,
    phone: &Phone,
    channel: Channel,
    body: &str,
    now: DateTime<Utc>,
) -> Result<Handled, sqlx::Error> {
    let reason = format!("owner replied \"{}\" by SMS", body.trim());
    dnc::add_in_tx(tx, phone, channel, "", &reason, now).await?;
    Ok(Handled {
        action: "opt_out",
        detail: channel.as_str().to_string(),
        message_id: None,
    })
}

/// A digit answers the latest survey question sent to the number whose contact is still open
/// (waiting for the reply, or on to a later channel); once the contact is finished the reply
/// is kept but ignored. A question still marked `sending` counts (a quick owner may answer
/// before the gateway's acknowledgement is written down), and so does one left `unknown`.
async fn answer(
    tx: &mut Tx,
    phone: &Phone,
    key: u8,
    now: DateTime<Utc>,
) -> Result<Handled, sqlx::Error> {
    let question: Option<Question> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "select o.message_id, o.attempt_id, o.campaign_id, o.campaign_contact_id,
                    o.reply_node, o.reply_min, o.reply_max
               from outbox o
               join campaign_contacts c on c.campaign_contact_id = o.campaign_contact_id
              where o.recipient = $1 and o.reply_node is not null and c.state <> 'done'
                and (o.sent_at >= $2 or o.state in ('sending', 'unknown'))
              order by o.message_id desc limit 1",
        )
        .bind(phone.as_str())
        .bind(now - REPLY_WINDOW)
        .fetch_optional(&mut *conn)
        .await
    })?;
    let Some(q) = question else {
        return Ok(Handled::ignored(
            "no open survey question awaits a reply from this number",
        ));
    };
    let (Some(node), Some(attempt), Some(campaign), Some(contact)) = (
        q.reply_node,
        q.attempt_id,
        q.campaign_id,
        q.campaign_contact_id,
    ) else {
        return Ok(Handled::ignored(
            "the survey message has no campaign contact",
        ));
    };
    let (min, max) = (q.reply_min.unwrap_or(0), q.reply_max.unwrap_or(9));
    if !(min..=max).contains(&i64::from(key)) {
        return Ok(Handled {
            message_id: Some(q.message_id),
            ..Handled::ignored(format!("key {key} is outside {min}–{max}"))
        });
    }
    let inserted = on_tx!(tx, |conn| {
        sqlx::query(
            "insert into survey_answers (attempt_id, campaign_contact_id, campaign_id, node, kind,
                 value, at)
             values ($1, $2, $3, $4, 'rating', $5, $6)
             on conflict (attempt_id, node) do nothing",
        )
        .bind(attempt)
        .bind(contact)
        .bind(campaign)
        .bind(&node)
        .bind(key.to_string())
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected() > 0)
    })?;
    if !inserted {
        return Ok(Handled {
            message_id: Some(q.message_id),
            ..Handled::ignored(format!("`{node}` was already answered"))
        });
    }
    // The contact was on hold for the reply window: the dialer settles it now.
    on_tx!(tx, |conn| {
        sqlx::query(
            "update campaign_contacts set next_attempt_at = $2, updated_at = $2
              where campaign_contact_id = $1 and state = 'pending'",
        )
        .bind(contact)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(drop)
    })?;
    Ok(Handled {
        action: "survey_answer",
        detail: format!("{node} = {key}"),
        message_id: Some(q.message_id),
    })
}

/// The unsubscribe link of an email was used: the owner's number (or, without a campaign
/// contact, the address itself) goes on the email do-not-call list. `None`: no such token.
pub async fn unsubscribe(
    store: &Store,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Handled>, sqlx::Error> {
    let mut tx = store.begin_write().await?;
    let found: Option<(i64, String, Option<String>)> = on_tx!(&mut tx, |conn| {
        sqlx::query_as(
            "select o.message_id, o.recipient, c.phone from outbox o
               left join campaign_contacts c on c.campaign_contact_id = o.campaign_contact_id
              where o.unsubscribe_token = $1",
        )
        .bind(token)
        .fetch_optional(&mut *conn)
        .await
    })?;
    let Some((message_id, address, phone)) = found else {
        return Ok(None);
    };
    let handled = match phone.as_deref().map(Phone::parse) {
        Some(Ok(phone)) => {
            let reason = format!("owner unsubscribed by the link in email {message_id}");
            dnc::add_in_tx(&mut tx, &phone, Channel::Email, "", &reason, now).await?;
            // The owner's consent to email goes too, so none of their other numbers leads a
            // later campaign back to the same address.
            on_tx!(&mut tx, |conn| {
                sqlx::query(
                    "update owners set consent_email = false
                      where owner_id in (select owner_id from owner_phones where phone = $1)",
                )
                .bind(phone.as_str())
                .execute(conn)
                .await
                .map(drop)
            })?;
            Handled {
                action: "opt_out",
                detail: "email".into(),
                message_id: Some(message_id),
            }
        }
        _ => Handled {
            message_id: Some(message_id),
            ..Handled::ignored("the email was not to a campaign contact with a phone number")
        },
    };
    insert(
        &mut tx,
        Channel::Email,
        &address,
        "unsubscribe",
        token,
        &handled,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Some(handled))
}

async fn insert(
    tx: &mut Tx,
    channel: Channel,
    sender: &str,
    recipient: &str,
    body: &str,
    handled: &Handled,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "insert into inbound_messages (channel, sender, recipient, body, received_at, action,
                 detail, message_id)
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(channel.as_str())
        .bind(sender)
        .bind(recipient)
        .bind(body)
        .bind(now)
        .bind(handled.action)
        .bind(&handled.detail)
        .bind(handled.message_id)
        .execute(conn)
        .await
        .map(drop)
    })
}

/// An inbound message as stored.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct InboundMessage {
    /// Row id.
    pub inbound_id: i64,
    /// `sms` or `email`.
    pub channel: String,
    /// Who sent it.
    pub sender: String,
    /// The text.
    pub body: String,
    /// When it came.
    pub received_at: DateTime<Utc>,
    /// What was done.
    pub action: String,
    /// In words.
    pub detail: String,
}

/// The latest inbound messages, newest first.
pub async fn recent(store: &Store, limit: i64) -> Result<Vec<InboundMessage>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as(
            "select inbound_id, channel, sender, body, received_at, action, detail
               from inbound_messages order by inbound_id desc limit $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await
    })
}
