//! The node's work on a preview campaign: one due contact offered to each free desktop agent
//! (the agent held for it), then dialled to that agent or given back, as the agent decides.
//! Offers are rows of `agent_previews` (see [`super::super::preview`]), written before the
//! desktop shows them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::super::agents::AgentDesk;
use super::super::hopper::{ClaimedContact, Hopper, HopperError};
use super::super::messages::{self, Route};
use super::super::place::{self, CallContext};
use super::super::plan::{NodeError, Plan};
use super::super::preview;
use super::{DialerNode, LIVE_EVERY, log_call, wait};
use crate::campaigns::lifecycle::State;
use crate::campaigns::repo::{Campaigns, StoredCampaign};

impl DialerNode {
    /// Works a preview campaign: offers one due contact to each free desktop agent (held for
    /// it), then dials it to that agent or gives it back, as the agent decides.
    pub(super) async fn work_preview(
        &self,
        stored: &StoredCampaign,
        plan: Arc<Plan>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), NodeError> {
        let code = stored.code.as_str();
        let campaigns = Campaigns::new(&self.store);
        let Some(desk) = plan.desk.clone() else {
            return Ok(());
        };
        let poll = self.config.poll.min(Duration::from_millis(200));
        let mut calls: JoinSet<Result<(), NodeError>> = JoinSet::new();
        let mut offers: HashMap<String, Offered> = HashMap::new();
        tracing::info!(campaign = %code, node = %self.config.node, "working preview campaign");
        let mut published: Option<std::time::Instant> = None;
        let result = loop {
            // The wallboard's counters, about once a second.
            if published.is_none_or(|at| at.elapsed() >= LIVE_EVERY) {
                self.publish_live(code, stored.campaign_id, &plan.floor)
                    .await;
                published = Some(std::time::Instant::now());
            }
            while let Some(done) = calls.try_join_next() {
                log_call(code, done);
            }
            if *shutdown.borrow() {
                break Ok(());
            }
            let state = match campaigns.get(code).await {
                Ok(c) => c.state,
                Err(e) => break Err(e.into()),
            };
            match state {
                State::Running => {}
                State::Paused => {
                    // Nothing is dialled while paused: the offers are withdrawn.
                    if let Err(e) = self.withdraw_all(&mut offers).await {
                        break Err(e);
                    }
                    wait(&mut calls, code, poll, &mut shutdown).await;
                    continue;
                }
                _ => break Ok(()),
            }
            let offered = match self
                .preview_pass(stored, &plan, &desk, &mut offers, &mut calls)
                .await
            {
                Ok(n) => n,
                Err(e) => break Err(e),
            };
            if calls.is_empty() && offers.is_empty() && offered == 0 {
                match self.complete_if_done(stored, self.clock.now()).await {
                    Ok(true) => break Ok(()),
                    Ok(false) => {}
                    Err(e) => break Err(e),
                }
            }
            wait(&mut calls, code, poll, &mut shutdown).await;
        };
        // Offers not acted on are withdrawn; calls in progress finish.
        let withdrawn = self.withdraw_all(&mut offers).await;
        while let Some(done) = calls.join_next().await {
            log_call(code, done);
        }
        self.withdraw_live(code, stored.campaign_id).await;
        result.and(withdrawn)
    }

    /// One pass of a preview campaign: acts on the agents' decisions, withdraws the offers of
    /// agents who left, and offers a contact to each free agent; returns how many were offered.
    async fn preview_pass(
        &self,
        stored: &StoredCampaign,
        plan: &Arc<Plan>,
        desk: &AgentDesk,
        offers: &mut HashMap<String, Offered>,
        calls: &mut JoinSet<Result<(), NodeError>>,
    ) -> Result<usize, NodeError> {
        self.act_on_decisions(plan, offers, calls).await?;
        self.offer_to_free_agents(stored, plan, desk, offers).await
    }

    /// Acts on what the agents decided about their offers (dial, skip, still looking), and
    /// withdraws the offers of agents who paused or left.
    async fn act_on_decisions(
        &self,
        plan: &Arc<Plan>,
        offers: &mut HashMap<String, Offered>,
        calls: &mut JoinSet<Result<(), NodeError>>,
    ) -> Result<(), NodeError> {
        let hopper = Hopper::new(&self.store);
        let now = self.clock.now();
        let agents: Vec<String> = offers.keys().cloned().collect();
        for agent in agents {
            let Some(held) = offers.remove(&agent) else {
                continue;
            };
            if !held.reserved.available() {
                tracing::info!(%agent, contact = held.contact.campaign_contact_id,
                    "preview withdrawn: the agent paused or left");
                release_quietly(&hopper, &held.contact, Some(now), now).await?;
                preview::close(&self.store, held.preview_id, preview::WITHDRAWN, now).await?;
                continue;
            }
            match preview::decision_of(&self.store, held.preview_id).await? {
                Some(preview::Decision::Dial) => {
                    preview::close(&self.store, held.preview_id, "dial", now).await?;
                    let ctx = CallContext {
                        ua: self.ua.clone(),
                        plan: plan.clone(),
                    };
                    calls.spawn(place::run_for(ctx, held.contact, Some(held.reserved)));
                }
                Some(preview::Decision::Skip) => {
                    let again = now
                        + chrono::TimeDelta::from_std(preview::SKIP_AGAIN_AFTER)
                            .unwrap_or_default();
                    release_quietly(&hopper, &held.contact, Some(again), now).await?;
                    preview::close(&self.store, held.preview_id, "skip", now).await?;
                }
                None => {
                    // The agent may look for a while: the contact stays leased meanwhile.
                    let mut held = held;
                    let half =
                        chrono::TimeDelta::from_std(self.config.lease / 2).unwrap_or_default();
                    if held.extended + half <= now {
                        match hopper.extend(&held.contact, now, self.config.lease).await {
                            Ok(_) => held.extended = now,
                            Err(HopperError::LeaseLost { .. }) => {
                                preview::close(&self.store, held.preview_id, preview::EXPIRED, now)
                                    .await?;
                                continue;
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                    offers.insert(agent, held);
                }
            }
        }
        Ok(())
    }

    /// Offers a contact to each free desktop agent without an offer; returns how many
    /// contacts were offered or settled without a call.
    async fn offer_to_free_agents(
        &self,
        stored: &StoredCampaign,
        plan: &Arc<Plan>,
        desk: &AgentDesk,
        offers: &mut HashMap<String, Offered>,
    ) -> Result<usize, NodeError> {
        let hopper = Hopper::new(&self.store);
        let mut offered = 0;
        for agent in desk.free_desktop_agents() {
            if offers.contains_key(&agent) {
                continue;
            }
            let Some(reserved) = desk.hold(&agent) else {
                continue;
            };
            let now = self.clock.now();
            let claimed = hopper
                .claim(
                    stored.campaign_id,
                    &self.config.node,
                    now,
                    self.config.lease,
                    1,
                )
                .await?;
            let Some(contact) = claimed.into_iter().next() else {
                // Nothing due: the agent is let go (other campaigns may use them).
                break;
            };
            if messages::route(plan, &contact, now).await? != Route::Call
                || !self.screen(plan, &contact, now).await?
            {
                // Settled without a call; the agent gets the next one on the next pass.
                offered += 1;
                continue;
            }
            let preview_id = preview::offer(
                &self.store,
                &agent,
                stored.campaign_id,
                contact.campaign_contact_id,
                &self.config.node,
                now,
            )
            .await?;
            tracing::info!(%agent, contact = contact.campaign_contact_id, preview_id,
                "contact offered for preview");
            offers.insert(
                agent,
                Offered {
                    preview_id,
                    contact,
                    reserved,
                    extended: now,
                },
            );
            offered += 1;
        }
        Ok(offered)
    }

    /// Withdraws every open offer: contacts given back at once, agents let go.
    async fn withdraw_all(&self, offers: &mut HashMap<String, Offered>) -> Result<(), NodeError> {
        let hopper = Hopper::new(&self.store);
        let now = self.clock.now();
        for (_, held) in offers.drain() {
            release_quietly(&hopper, &held.contact, Some(now), now).await?;
            preview::close(&self.store, held.preview_id, preview::WITHDRAWN, now).await?;
        }
        Ok(())
    }
}

/// A contact offered to an agent for preview, with the agent held for it.
struct Offered {
    preview_id: i64,
    contact: ClaimedContact,
    reserved: crate::dialer::agents::Reserved,
    /// When the contact's lease was last renewed.
    extended: DateTime<Utc>,
}

/// Gives a contact back; one whose lease another node took already is theirs (no error).
async fn release_quietly(
    hopper: &Hopper<'_>,
    contact: &ClaimedContact,
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), NodeError> {
    match hopper.release(contact, at, now).await {
        Ok(()) | Err(HopperError::LeaseLost { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
