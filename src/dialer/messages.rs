//! A campaign contact's turns on the SMS and email channels, and the fallback between channels.
//!
//! A campaign lists its channels in fallback order (`["voice", "sms", "email"]`); the contact's
//! `channel_step` says which one it is on. Voice works as before, with its retry rules; when a
//! contact is unreached by phone after all of them, it moves to the next channel
//! ([`super::attempt::settle_contact`]). A message turn renders the campaign's template for the
//! contact, and in **one transaction** counts the attempt, writes its attempt row and the
//! outbox row, and puts the contact on hold at the next step. The outbox worker wakes the
//! contact when the message is final: at once if it failed (next channel), after the reply
//! window if it went and the campaign is a survey (a digit reply settles it sooner), at once
//! too for a delivered notification, which then finishes.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::hopper::{Attempts, ClaimedContact, Hopper};
use super::plan::{NodeError, Plan};
use crate::campaigns::templates::{
    CampaignFields, MessageContext, OwnerFields, ReplyFields, TicketFields, UnitFields,
};
use crate::contacts::dnc;
use crate::outbox::{self, CampaignLink, NewMessage, ReplyRule};
use crate::store::{Store, Tx};
use crate::surveys::Step;
use crate::vocab::{AttemptOutcome as A, Channel};
use crate::{on_pool, on_tx};

/// How long a contact waits for a message in flight before it is looked at anyway.
const HOLD: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// What the dialer should do with a claimed contact.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// Its turn is a call: screen it and dial.
    Call,
    /// Handled here (a message queued, a step skipped, or the contact finished).
    Handled,
}

/// Decides a claimed contact's turn from its channel step and its last message, if any.
pub(crate) async fn route(
    plan: &Plan,
    contact: &ClaimedContact,
    now: DateTime<Utc>,
) -> Result<Route, NodeError> {
    let channels = plan.campaign.channels();
    if channels == [Channel::Voice] {
        return Ok(Route::Call);
    }
    let history = Attempts::new(&plan.store)
        .of_contact(contact.campaign_contact_id)
        .await?;
    let last_message = history.last().filter(|a| a.channel != Channel::Voice);
    // A message attempt is written `queued` and given the message's final state later.
    let last_outcome = last_message.map(|a| a.outcome.unwrap_or(A::Queued));
    if last_message.is_some() {
        if plan.survey.is_some() && rated(plan, contact).await? {
            finish(plan, contact, A::Completed, now).await?;
            return Ok(Route::Handled);
        }
        if let Some(went @ (A::Delivered | A::Sent)) = last_outcome
            && plan.survey.is_none()
        {
            finish(plan, contact, went, now).await?;
            return Ok(Route::Handled);
        }
    }
    let step = usize::try_from(contact.channel_step).unwrap_or(usize::MAX);
    let Some(&channel) = channels.get(step) else {
        // Every channel was tried.
        let word = match last_outcome {
            Some(A::Delivered | A::Sent) => A::NoReply,
            // Never sent while the contact was on hold: no worker had a gateway for it.
            Some(A::Queued) => A::Unsent,
            Some(word) => word,
            None => A::Failed,
        };
        finish(plan, contact, word, now).await?;
        return Ok(Route::Handled);
    };
    if channel == Channel::Voice {
        return Ok(Route::Call);
    }
    let tz: Tz = contact.tz.parse().unwrap_or(plan.campaign.timezone());
    let windows = plan.campaign.windows();
    if !windows.is_open(now, tz) {
        let hopper = Hopper::new(&plan.store);
        match windows.next_open(now, tz) {
            Some(at) => hopper.release(contact, Some(at), now).await?,
            None => finish(plan, contact, A::NoWindow, now).await?,
        }
        return Ok(Route::Handled);
    }
    send(plan, contact, channel, now).await?;
    Ok(Route::Handled)
}

/// Whether the survey's rating was answered (by a keypad on a call or an SMS reply).
async fn rated(plan: &Plan, contact: &ClaimedContact) -> Result<bool, NodeError> {
    let Some(node) = plan
        .survey
        .as_ref()
        .and_then(|s| s.script.verdict.node.clone())
    else {
        return Ok(false);
    };
    let n: i64 = on_pool!(&plan.store, |pool| {
        sqlx::query_scalar(
            "select count(*) from survey_answers where campaign_contact_id = $1 and node = $2",
        )
        .bind(contact.campaign_contact_id)
        .bind(&node)
        .fetch_one(pool)
        .await
    })?;
    Ok(n > 0)
}

/// Finishes the contact with `word`; a callback survey's contact gets its verdict.
async fn finish(
    plan: &Plan,
    contact: &ClaimedContact,
    word: A,
    now: DateTime<Utc>,
) -> Result<(), NodeError> {
    Hopper::new(&plan.store).finish(contact, word, now).await?;
    if let Some(survey) = &plan.survey {
        super::verdict::settle_unheard(plan, survey, contact, true).await?;
    }
    Ok(())
}

/// Skips this channel for the contact (opted out, no address): the next channel, or the end.
async fn skip(
    plan: &Plan,
    contact: &ClaimedContact,
    word: A,
    now: DateTime<Utc>,
) -> Result<(), NodeError> {
    let next = usize::try_from(contact.channel_step + 1).unwrap_or(usize::MAX);
    if next < plan.campaign.channels().len() {
        Hopper::new(&plan.store).advance(contact, now).await?;
        Ok(())
    } else {
        finish(plan, contact, word, now).await
    }
}

/// Queues the contact's message on `channel` and puts the contact on hold at the next step.
async fn send(
    plan: &Plan,
    contact: &ClaimedContact,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<(), NodeError> {
    let owner_id = owner_of(plan, contact).await?;
    if let Some(word) = refused(plan, contact, channel, owner_id).await? {
        return skip(plan, contact, word, now).await;
    }
    let Some(templates) = &plan.templates else {
        return Err(NodeError::Message(format!(
            "campaign {} has no message template for {channel}",
            plan.code
        )));
    };
    let reply = reply_rule(plan);
    let context = context(plan, contact, owner_id, reply.as_ref()).await?;
    let recipient = match channel {
        Channel::Email if context.owner.email.is_empty() => {
            return skip(plan, contact, A::NoEmail, now).await;
        }
        Channel::Email => context.owner.email.clone(),
        _ => contact.phone.clone(),
    };
    let rendered = templates
        .render(channel, &contact.language, &context)
        .map_err(|e| NodeError::Message(format!("template for {channel}: {e}")))?;
    let mut tx = plan.store.begin_write().await?;
    let Some(attempt_id) =
        hold_and_record(&mut tx, plan, contact, channel, &recipient, now).await?
    else {
        // Dropping the transaction rolls it back: another node has the contact now.
        tracing::warn!(
            contact = contact.campaign_contact_id,
            "lease lost before the message"
        );
        return Ok(());
    };
    let message = NewMessage {
        channel,
        recipient: &recipient,
        subject: (channel == Channel::Email).then_some(rendered.subject.as_str()),
        body: &rendered.text,
        html: rendered.html.as_deref(),
        ticket_id: contact.ticket_id,
        staff_id: None,
        purpose: if plan.survey.is_some() {
            "survey"
        } else {
            "campaign"
        },
        at: now,
        campaign: Some(CampaignLink {
            campaign_id: contact.campaign_id,
            campaign_contact_id: contact.campaign_contact_id,
            attempt_id,
            // A survey's contact waits for the owner's reply this long, else moves on at once.
            wake_contact_secs: match plan.survey {
                Some(_) => i64::from(plan.campaign.reply_hours()) * 3600,
                None => 0,
            },
            reply,
        }),
    };
    outbox::enqueue(&mut tx, &message).await?;
    tx.commit().await?;
    Ok(())
}

/// Why the contact may not get this channel's message: do-not-call, or consent withdrawn.
async fn refused(
    plan: &Plan,
    contact: &ClaimedContact,
    channel: Channel,
    owner_id: Option<i64>,
) -> Result<Option<A>, NodeError> {
    if dnc::is_blocked_in(&plan.store, &contact.phone, channel, &plan.code).await? {
        return Ok(Some(A::Dnc));
    }
    let withdrawn = match owner_id {
        Some(owner) => dnc::consent_withdrawn(&plan.store, owner, channel).await?,
        None => false,
    };
    Ok(withdrawn.then_some(A::NoConsent))
}

/// How an SMS reply is read as the survey's rating: the verdict node's rating scale.
fn reply_rule(plan: &Plan) -> Option<ReplyRule> {
    let survey = plan.survey.as_ref()?;
    let node = survey.script.verdict.node.clone()?;
    match survey.script.nodes.get(&node).map(|n| &n.step) {
        Some(Step::Rating { max, .. }) => Some(ReplyRule {
            node,
            min: 1,
            max: *max,
        }),
        _ => None,
    }
}

/// Counts the message on the contact and puts it on hold at its next step, only while this
/// node holds its lease, and opens its attempt row; `None` when the lease is gone.
async fn hold_and_record(
    tx: &mut Tx,
    plan: &Plan,
    contact: &ClaimedContact,
    channel: Channel,
    recipient: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, NodeError> {
    let held = on_tx!(tx, |conn| {
        sqlx::query(
            "update campaign_contacts set attempts = attempts + 1,
                    attempts_today = attempts_today + 1, state = 'pending',
                    channel_step = channel_step + 1, next_attempt_at = $4,
                    lease_owner = null, lease_until = null, updated_at = $2
              where campaign_contact_id = $1 and state = 'leased'
                and lease_owner = $3 and lease_until > $2",
        )
        .bind(contact.campaign_contact_id)
        .bind(now)
        .bind(&plan.node)
        .bind(now + HOLD)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if held == 0 {
        return Ok(None);
    }
    let attempt_id: i64 = on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "insert into attempts (campaign_contact_id, campaign_id, channel, node, queued_at,
                 ended_at, outcome, detail)
             values ($1, $2, $3, $4, $5, $5, $6, $7) returning attempt_id",
        )
        .bind(contact.campaign_contact_id)
        .bind(contact.campaign_id)
        .bind(channel.as_str())
        .bind(&plan.node)
        .bind(now)
        .bind(A::Queued.as_str())
        .bind(recipient)
        .fetch_one(&mut *conn)
        .await
    })?;
    Ok(Some(attempt_id))
}

/// The owner behind the contact: the list's, else the owner whose number it is (a CSV list
/// of numbers still reaches known owners by email, and honours their consent).
async fn owner_of(plan: &Plan, contact: &ClaimedContact) -> Result<Option<i64>, NodeError> {
    if contact.owner_id.is_some() {
        return Ok(contact.owner_id);
    }
    Ok(on_pool!(&plan.store, |pool| {
        sqlx::query_scalar("select owner_id from owner_phones where phone = $1")
            .bind(&contact.phone)
            .fetch_optional(pool)
            .await
    })?)
}

/// The template fields of one contact, from the owner, their first unit and the ticket.
async fn context(
    plan: &Plan,
    contact: &ClaimedContact,
    owner_id: Option<i64>,
    reply: Option<&ReplyRule>,
) -> Result<MessageContext, NodeError> {
    type OwnerRow = (String, Option<String>);
    let owner: Option<OwnerRow> = match owner_id {
        Some(id) => on_pool!(&plan.store, |pool| {
            sqlx::query_as("select name, email from owners where owner_id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
        })?,
        None => None,
    };
    let unit = unit_fields(&plan.store, owner_id).await?;
    let ticket = ticket_fields(&plan.store, contact.ticket_id).await?;
    let (name, email) = owner.unwrap_or_default();
    Ok(MessageContext {
        owner: OwnerFields {
            name,
            phone: contact.phone.clone(),
            email: email.unwrap_or_default(),
        },
        unit: unit.unwrap_or_default(),
        ticket: ticket.unwrap_or_default(),
        campaign: CampaignFields {
            code: plan.code.clone(),
            name: plan.campaign.name().to_string(),
        },
        reply: reply
            .map(|r| ReplyFields {
                min: r.min,
                max: r.max,
            })
            .unwrap_or_default(),
    })
}

/// The owner's first unit (by code) for the template, if they have one.
async fn unit_fields(
    store: &Store,
    owner_id: Option<i64>,
) -> Result<Option<UnitFields>, NodeError> {
    type UnitRow = (String, String, String, Option<chrono::NaiveDate>);
    let unit: Option<UnitRow> = match owner_id {
        Some(id) => on_pool!(store, |pool| {
            sqlx::query_as(
                "select u.code, p.name, b.name, u.handover_date
                   from owner_units ou
                   join units u on u.unit_id = ou.unit_id
                   join buildings b on b.building_id = u.building_id
                   join projects p on p.project_id = b.project_id
                  where ou.owner_id = $1 order by u.code limit 1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
        })?,
        None => None,
    };
    Ok(unit.map(|(code, project, building, handover)| UnitFields {
        code,
        project,
        building,
        handover_date: handover.map(|d| d.to_string()).unwrap_or_default(),
    }))
}

/// The ticket a callback is about, for the template: its category in Chinese.
async fn ticket_fields(
    store: &Store,
    ticket_id: Option<i64>,
) -> Result<Option<TicketFields>, NodeError> {
    type TicketRow = (i64, String, String);
    let ticket: Option<TicketRow> = match ticket_id {
        Some(id) => on_pool!(store, |pool| {
            sqlx::query_as(
                "select ticket_id, category, description from tickets where ticket_id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
        })?,
        None => None,
    };
    Ok(ticket.map(|(id, category, description)| TicketFields {
        id,
        category: crate::vocab::Category::parse(&category)
            .map(|c| c.label_zh().to_string())
            .unwrap_or(category),
        description,
    }))
}
