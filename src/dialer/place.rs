//! Placing one call of a campaign, step by step: open the attempt (written before the INVITE
//! goes out), dial and wait for the answer, put the answered owner through (the survey, the
//! campaign's message, or an agent within the connect rule), then close the attempt and
//! settle the contact ([`super::attempt`]) and, for a callback, its ticket
//! ([`super::verdict`]).

use std::sync::Arc;
use std::time::Duration;

use super::agents::{AgentDesk, Reserved};
use super::attempt::{Settled, settle_contact};
use super::floor::CONNECT_RULE_S;
use super::hopper::{AttemptEnd, AttemptError, AttemptId, Attempts, ClaimedContact, Hopper};
use super::plan::{NodeError, Plan};
use super::verdict::{self, SurveyResult};
use crate::telephony::transport::{Call, CallUpdate, UserAgent};
use crate::vocab::{AttemptOutcome, Channel};

/// What one call needs from its node.
pub(crate) struct CallContext {
    pub(crate) ua: UserAgent,
    pub(crate) plan: Arc<Plan>,
}

/// Places one call to `contact` and settles it. Errors are the database's: the caller logs
/// them; the contact's lease then runs out and restart recovery or another node takes over.
pub(crate) async fn run(ctx: CallContext, contact: ClaimedContact) -> Result<(), NodeError> {
    run_for(ctx, contact, None).await
}

/// [`run`], with the answered owner put through to the agent `held` for them (preview mode:
/// the agent who chose to dial) instead of any free agent. Unanswered, the agent is let go.
pub(crate) async fn run_for(
    ctx: CallContext,
    contact: ClaimedContact,
    held: Option<Reserved>,
) -> Result<(), NodeError> {
    let plan = &ctx.plan;
    let Some(_permit) = plan
        .limits
        .acquire(
            plan.campaign.trunk(),
            contact.campaign_id,
            plan.campaign.calls_per_second(),
            &contact.phone,
        )
        .await
    else {
        // The trunk was checked when the plan was made; a closed semaphore means shutdown.
        return Ok(());
    };
    let Some(id) = open(plan, &contact).await? else {
        return Ok(());
    };
    let placing = Placing {
        plan,
        id,
        contact: &contact,
    };
    let ended = placing.dial(&ctx.ua, held).await?;
    placing.close(ended).await
}

/// How a placed call ended, as the attempt row records it.
struct Ended {
    outcome: AttemptOutcome,
    sip_status: Option<u16>,
    detail: Option<String>,
    /// The agent who talked to the owner.
    agent: Option<String>,
    /// What the survey heard in this call, when it walked one.
    heard: Option<SurveyResult>,
}

impl Ended {
    fn new(outcome: AttemptOutcome) -> Ended {
        Ended {
            outcome,
            sip_status: None,
            detail: None,
            agent: None,
            heard: None,
        }
    }

    /// A call answered, or put through to the survey or the safe-harbor message, counts as
    /// a 200 when the SIP ending carried no status.
    fn with_answer_status(mut self, put_through: bool) -> Ended {
        let answered = self.outcome == AttemptOutcome::Answered || put_through;
        self.sip_status = self.sip_status.or(answered.then_some(200));
        self
    }
}

/// How an answered owner was put through.
struct PutThrough {
    /// The owner's call, to hang up.
    call: Call,
    /// The outcome when it says more than the SIP ending: the survey walked to its end or
    /// not, the owner abandoned.
    outcome: Option<AttemptOutcome>,
    agent: Option<String>,
    heard: Option<SurveyResult>,
}

/// How the hand-over to an agent went.
enum Handover {
    /// Bridged, talked, and given back.
    Talked { call: Call, agent: String },
    /// No agent within the connect rule: the safe-harbor message was played.
    Abandoned { call: Call },
}

/// Opens the attempt row before anything is dialled; `None` when the contact is no longer
/// this node's to call (its lease went, or it was answered in an earlier attempt, which is
/// settled here).
async fn open(plan: &Plan, contact: &ClaimedContact) -> Result<Option<AttemptId>, NodeError> {
    let now = plan.clock.now();
    match Attempts::new(&plan.store)
        .open(contact, Channel::Voice, &plan.node, now)
        .await
    {
        Ok(id) => Ok(Some(id)),
        Err(AttemptError::LeaseLost { .. }) => Ok(None),
        Err(AttemptError::AlreadyAnswered { .. }) => {
            Hopper::new(&plan.store)
                .finish(contact, AttemptOutcome::Answered, now)
                .await?;
            if let Some(survey) = &plan.survey {
                verdict::settle_unheard(plan, survey, contact, true).await?;
            }
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// One attempt's call in progress.
struct Placing<'a> {
    plan: &'a Plan,
    id: AttemptId,
    contact: &'a ClaimedContact,
}

impl Placing<'_> {
    fn key(&self) -> i64 {
        self.contact.campaign_contact_id
    }

    /// Dials, waits for the answer, puts the owner through, and says how the call ended.
    async fn dial(&self, ua: &UserAgent, held: Option<Reserved>) -> Result<Ended, NodeError> {
        let plan = self.plan;
        plan.floor.dialled(self.key());
        let mut call = match ua.dial(plan.request(&self.contact.phone)).await {
            Err(e) => {
                plan.floor.unanswered(self.key());
                let mut ended = Ended::new(AttemptOutcome::Failed);
                ended.detail = Some(e.to_string());
                return Ok(ended);
            }
            Ok(call) => call,
        };
        let Some(connect_by) = self.wait_answer(&mut call).await? else {
            plan.floor.unanswered(self.key());
            return Ok(sip_ending(call).await.with_answer_status(false));
        };
        let through = self.put_through(call, held, connect_by).await?;
        let mut ended = sip_ending(through.call)
            .await
            .with_answer_status(through.outcome.is_some());
        if let Some(outcome) = through.outcome {
            ended.outcome = outcome;
        }
        ended.agent = through.agent;
        ended.heard = through.heard;
        Ok(ended)
    }

    /// Waits for the owner to answer; returns the connect rule's deadline (2 s after the
    /// answer), or `None` when the call ended unanswered.
    async fn wait_answer(
        &self,
        call: &mut Call,
    ) -> Result<Option<tokio::time::Instant>, NodeError> {
        let plan = self.plan;
        while let Some(update) = call.next_update().await {
            match update {
                CallUpdate::Answered => {
                    // The owner waits for an agent from this moment: the deadline is set
                    // before the database writes below, so their latency is not added to it.
                    let connect_by =
                        tokio::time::Instant::now() + Duration::from_secs_f64(CONNECT_RULE_S);
                    let now = plan.clock.now();
                    Attempts::new(&plan.store)
                        .mark_answered(self.id, now)
                        .await?;
                    // The conversation may outlast the claim's lease: hold the contact for the
                    // longest call this campaign allows. If that fails the call goes on:
                    // `Attempts::open` keeps other nodes from dialling an answered contact.
                    if let Err(e) = Hopper::new(&plan.store)
                        .extend(self.contact, now, plan.call_lease)
                        .await
                    {
                        tracing::warn!("attempt {}: {e}", self.id.0);
                    }
                    return Ok(Some(connect_by));
                }
                CallUpdate::Ringing | CallUpdate::EarlyMedia => plan.floor.alerting(self.key()),
                CallUpdate::Ended { .. } => return Ok(None),
                _ => {}
            }
        }
        Ok(None)
    }

    /// The answered owner gets the survey, the campaign's message, or an agent; then the
    /// call is hung up.
    async fn put_through(
        &self,
        mut call: Call,
        held: Option<Reserved>,
        connect_by: tokio::time::Instant,
    ) -> Result<PutThrough, NodeError> {
        let plan = self.plan;
        let mut through = match (&plan.desk, &plan.survey) {
            (Some(desk), _) => match self.hand_to_agent(desk, held, call, connect_by).await? {
                Handover::Talked { call, agent } => PutThrough {
                    call,
                    outcome: None,
                    agent: Some(agent),
                    heard: None,
                },
                Handover::Abandoned { call } => PutThrough {
                    call,
                    outcome: Some(AttemptOutcome::Abandoned),
                    agent: None,
                    heard: None,
                },
            },
            (None, Some(survey)) => {
                self.owner_connected();
                let done =
                    super::survey::converse(plan, survey, self.id, self.contact, call).await?;
                PutThrough {
                    call: done.call,
                    outcome: Some(if done.complete {
                        AttemptOutcome::Completed
                    } else {
                        AttemptOutcome::Incomplete
                    }),
                    agent: done.agent,
                    heard: Some(done.heard),
                }
            }
            (None, None) => {
                self.owner_connected();
                call.play(plan.prompts_for(&self.contact.language), false)
                    .await;
                PutThrough {
                    call,
                    outcome: None,
                    agent: None,
                    heard: None,
                }
            }
        };
        through.call.hangup().await;
        if through.outcome != Some(AttemptOutcome::Abandoned) {
            plan.floor.disconnected();
        }
        Ok(through)
    }

    /// An agentless campaign's answered owner is in conversation at once.
    fn owner_connected(&self) {
        let floor = &self.plan.floor;
        floor.answered(self.key());
        floor.left_waiting();
        floor.connected();
    }

    /// Bridges the answered owner to a free agent by `connect_by` (the connect rule), or
    /// plays the safe-harbor message (who called, the number to call back): abandoned.
    async fn hand_to_agent(
        &self,
        desk: &AgentDesk,
        held: Option<Reserved>,
        mut call: Call,
        connect_by: tokio::time::Instant,
    ) -> Result<Handover, NodeError> {
        let plan = self.plan;
        plan.floor.answered(self.key());
        let reserved = match held {
            // The agent who previewed the contact, if still there (not paused, leg up).
            Some(agent) if agent.available() => Some(agent),
            _ => desk.take_until(connect_by).await,
        };
        plan.floor.left_waiting();
        if let Some(reserved) = reserved {
            let attempts = Attempts::new(&plan.store);
            let agent = reserved.name();
            attempts
                .mark_bridged(self.id, &agent, plan.clock.now())
                .await?;
            plan.floor.connected();
            match reserved.connect(call).await {
                Ok(conversation) => {
                    return Ok(Handover::Talked {
                        call: conversation.owner,
                        agent,
                    });
                }
                // The agent's leg went down while the call was handed over: not bridged.
                Err(Some(back)) => {
                    call = back;
                    plan.floor.disconnected();
                    attempts.unmark_bridged(self.id).await?;
                }
                Err(None) => {
                    plan.floor.disconnected();
                    return Err(NodeError::AgentLegLost(agent));
                }
            }
        }
        call.play(plan.safe_harbor_for(&self.contact.language), false)
            .await;
        Ok(Handover::Abandoned { call })
    }

    /// Writes the attempt's end, then gives the contact back or finishes it, then settles a
    /// callback's ticket on what the survey heard.
    async fn close(&self, ended: Ended) -> Result<(), NodeError> {
        let plan = self.plan;
        let at = plan.clock.now();
        let end = AttemptEnd {
            outcome: ended.outcome,
            sip_status: ended.sip_status,
            agent: ended.agent.as_deref(),
            detail: ended.detail.as_deref(),
            at,
            ..AttemptEnd::default()
        };
        Attempts::new(&plan.store).close(self.id, &end).await?;
        let settled =
            settle_contact(&plan.store, &plan.campaign, self.contact, ended.outcome, at).await?;
        let Some(survey) = &plan.survey else {
            return Ok(());
        };
        let finished = matches!(settled, Settled::Done(_));
        match &ended.heard {
            Some(heard) => verdict::settle(plan, survey, self.contact, heard, finished).await,
            None => verdict::settle_unheard(plan, survey, self.contact, finished).await,
        }
    }
}

/// The SIP ending of a call that is over (or hung up), its socket closed.
async fn sip_ending(mut call: Call) -> Ended {
    let end = call.ended().cloned();
    call.close().await;
    match end {
        Some(CallUpdate::Ended {
            disposition,
            status,
            reason,
            ..
        }) => {
            let mut ended = Ended::new(disposition.into());
            ended.sip_status = status;
            ended.detail = reason;
            ended
        }
        // The SIP task stopped under us (shutdown): nothing is known.
        _ => Ended::new(AttemptOutcome::Failed),
    }
}
