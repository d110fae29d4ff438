//! The verdict of a callback on a ticket, and the room's one door to [`crate::outcomes`]: what
//! the survey heard (or the contact running out of attempts unheard) is decided once, written,
//! and then carried out on the ticket (satisfied → closed, unsatisfied → reopened and
//! escalated, unreached → left for the callback list).
//!
//! A call that walked the survey hands its [`SurveyResult`] over directly; only the paths that
//! had no conversation in this attempt (not answered, an earlier node's answer, the sweep after
//! a crash) read what earlier attempts heard from the store.

use std::collections::BTreeMap;

use super::hopper::ClaimedContact;
use super::plan::{NodeError, Plan, Survey};
use crate::clock::SharedClock;
use crate::config::SlaPolicy;
use crate::on_pool;
use crate::outcomes::{self, Decision, Outcomes, Verdict};
use crate::store::Store;
use crate::surveys::Answer;
use crate::tickets::TicketDesk;

/// Every answer a contact's survey has heard, by node (the latest answer per node wins).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SurveyResult(BTreeMap<String, Answer>);

impl SurveyResult {
    /// What earlier attempts of the contact heard, as written by [`super::survey`].
    pub(crate) async fn of_contact(
        store: &Store,
        contact_id: i64,
    ) -> Result<SurveyResult, sqlx::Error> {
        let rows: Vec<(String, String, String)> = on_pool!(store, |pool| {
            sqlx::query_as(
                "select node, kind, value from survey_answers where campaign_contact_id = $1
                  order by answer_id",
            )
            .bind(contact_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(SurveyResult(
            rows.into_iter()
                .filter_map(|(node, kind, value)| Some((node, Answer::from_stored(&kind, &value)?)))
                .collect(),
        ))
    }

    /// The answers by node, for a walk that resumes after them.
    pub(crate) fn answers(&self) -> &BTreeMap<String, Answer> {
        &self.0
    }

    /// Adds the answers of this call (in the order given: a later one for a node wins).
    pub(crate) fn heard(&mut self, answers: impl IntoIterator<Item = (String, Answer)>) {
        self.0.extend(answers);
    }

    /// The rating at the script's verdict node, if the owner gave one.
    fn rating(&self, node: Option<&str>) -> Option<u8> {
        match self.0.get(node?) {
            Some(Answer::Rating(r)) => Some(*r),
            _ => None,
        }
    }

    /// The owner asked for an agent and found none free.
    fn found_no_agent(&self) -> bool {
        self.0.values().any(|a| *a == Answer::Transfer(false))
    }
}

/// After a callback attempt that walked the survey: the verdict, once `heard` holds a rating
/// or once the contact is `finished` (no retry left) without one, decided and carried out.
pub(crate) async fn settle(
    plan: &Plan,
    survey: &Survey,
    contact: &ClaimedContact,
    heard: &SurveyResult,
    finished: bool,
) -> Result<(), NodeError> {
    let Some(ticket_id) = contact.ticket_id else {
        return Ok(());
    };
    let rule = &survey.script.verdict;
    let rating = heard.rating(rule.node.as_deref());
    let verdict = match (rating, finished) {
        (Some(r), _) => Verdict::of_rating(r, rule),
        (None, true) => Verdict::Unreached,
        (None, false) => return Ok(()),
    };
    let decision = Decision {
        campaign_contact_id: contact.campaign_contact_id,
        campaign_id: contact.campaign_id,
        ticket_id,
        verdict,
        rating,
        at: plan.clock.now(),
    };
    let stored = outcomes::decide(&plan.store, &decision).await?.stored;
    if stored.applied_at.is_some() {
        return Ok(());
    }
    let applied = survey.outcomes.apply(&stored).await?;
    // A satisfied owner who asked for an agent and found none free is still called back.
    if heard.found_no_agent() && applied.verdict == Verdict::Satisfied {
        survey.outcomes.asked_for_agent(&stored).await?;
    }
    tracing::info!(
        ticket = applied.ticket_id,
        verdict = applied.verdict.as_str(),
        state = %applied.state,
        "callback survey settled its ticket"
    );
    Ok(())
}

/// After an attempt with no survey conversation (unanswered, a message, a contact already
/// answered elsewhere): settles on what earlier attempts heard.
pub(crate) async fn settle_unheard(
    plan: &Plan,
    survey: &Survey,
    contact: &ClaimedContact,
    finished: bool,
) -> Result<(), NodeError> {
    if contact.ticket_id.is_none() {
        return Ok(());
    }
    let heard = SurveyResult::of_contact(&plan.store, contact.campaign_contact_id).await?;
    settle(plan, survey, contact, &heard, finished).await
}

/// Gives a verdict to every finished callback contact of the plan's campaign that has none
/// (a crash after the settle, a lost lease, a contact finished unreached by the screen).
pub(crate) async fn sweep(plan: &Plan, survey: &Survey) -> Result<(), NodeError> {
    let campaign_id = plan_campaign_id(plan).await?;
    let Some(campaign_id) = campaign_id else {
        return Ok(());
    };
    let rows: Vec<ClaimedContact> = on_pool!(&plan.store, |pool| {
        sqlx::query_as(
            "select c.campaign_contact_id, c.campaign_id, c.owner_id, c.phone, c.tz, c.priority,
                    c.language, c.ticket_id, c.attempts, c.attempts_today,
                    coalesce(c.lease_owner, '') as lease_owner,
                    coalesce(c.lease_until, c.updated_at) as lease_until, c.channel_step
               from campaign_contacts c
              where c.campaign_id = $1 and c.state = 'done' and c.ticket_id is not null
                and not exists (select 1 from survey_verdicts v
                                 where v.campaign_contact_id = c.campaign_contact_id)",
        )
        .bind(campaign_id)
        .fetch_all(pool)
        .await
    })?;
    for contact in rows {
        // One ticket that cannot take its verdict (nobody responsible for its project, say)
        // does not keep the campaign from running; its verdict stays pending and is logged.
        match settle_unheard(plan, survey, &contact, true).await {
            Ok(()) => {}
            Err(NodeError::Outcome(e)) => tracing::warn!(
                contact = contact.campaign_contact_id,
                "callback verdict left pending: {e}"
            ),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn plan_campaign_id(plan: &Plan) -> Result<Option<i64>, sqlx::Error> {
    on_pool!(&plan.store, |pool| {
        sqlx::query_scalar("select campaign_id from campaigns where code = $1")
            .bind(&plan.code)
            .fetch_optional(pool)
            .await
    })
}

/// Carries out the verdicts decided but not applied when a node stopped (at restart);
/// returns how many.
pub(crate) async fn apply_left_over(
    store: &Store,
    clock: SharedClock,
    sla: SlaPolicy,
    actor: String,
) -> Result<usize, NodeError> {
    let desk = TicketDesk::new(store.clone(), clock, sla);
    Ok(Outcomes::new(desk, actor).apply_pending().await?.len())
}
