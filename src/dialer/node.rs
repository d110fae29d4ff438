//! A dialer node: works the running campaigns of a store over one SIP user agent.
//!
//! - On start it settles what it left behind ([`DialerNode::recover`]): its attempts without an end
//!   and the contacts it still holds, so a restart loses nothing and re-dials nothing answered.
//! - Every poll it starts scheduled campaigns whose time has come and gives each running
//!   campaign a worker: claim contacts (at most the trunk's free channels), screen them (call
//!   window in the contact's zone, do-not-call, consent), and place a call per contact.
//! - A paused campaign places no new calls; calls in progress finish. A stopped one ends its
//!   worker. A campaign whose every contact has a final outcome is marked completed.
//!
//! Several nodes may share one PostgreSQL database: the hopper's leases keep them apart.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::agents::{AgentConfig, AgentDesk};
use super::attempt;
use super::floor::Floor;
use super::hopper::{AttemptEnd, AttemptRow, Attempts, ClaimedContact, Hopper, HopperError};
use super::messages::{self, Route};
use super::place::{self, CallContext};
use super::plan::{NodeError, Plan};
use super::preview;
use crate::campaigns::lifecycle::{Action, State};
use crate::campaigns::repo::{Campaigns, RepoError, StoredCampaign};
use crate::campaigns::{Campaign, Content, DialMode};
use crate::clock::SharedClock;
use crate::config::{SlaPolicy, TrunkConfig};
use crate::contacts::dnc;
use crate::limits::Limits;
use crate::metrics::Period;
use crate::pacing::pacer::{Pacer, PacingMode};
use crate::pacing::state::{AbandonWindow, InboundLoad};
use crate::store::Store;

mod load;
mod previews;

use crate::telephony::transport::UserAgent;
use crate::vocab::{AttemptOutcome, Channel};

/// How a node is set up.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The node's name in leases and attempt rows; stable across restarts.
    pub node: String,
    /// How long a claimed contact stays leased.
    pub lease: Duration,
    /// How often campaign states and due contacts are looked at when nothing else happens.
    pub poll: Duration,
    /// `LANGUAGE/NAME.wav` prompts live here.
    pub prompts_dir: PathBuf,
    /// Survey comments are recorded here.
    pub recordings_dir: PathBuf,
    /// The SLA clocks a reopened ticket gets (callback surveys reopen unsatisfied tickets).
    pub sla: SlaPolicy,
    /// The trunks by name.
    pub trunks: BTreeMap<String, TrunkConfig>,
    /// Calls per second per destination prefix.
    pub prefix_rates: BTreeMap<String, f64>,
    /// Agents with SIP phones, for the paced modes (progressive, ratio, predictive,
    /// adaptive-heuristic); agentless campaigns need none.
    pub agents: Option<AgentConfig>,
}

/// Contacts of a messages-only campaign handed to the outbox per pass.
const MESSAGE_BATCH: usize = 100;

/// The prompt an answered owner hears when no agent is free within 2 s.
pub const SAFE_HARBOR_PROMPT: &str = "safe-harbor";

/// A dialer node. Cheap to clone.
#[derive(Clone)]
pub struct DialerNode {
    store: Store,
    ua: UserAgent,
    clock: SharedClock,
    config: Arc<NodeConfig>,
    limits: Arc<Limits>,
    desk: Arc<std::sync::OnceLock<AgentDesk>>,
    inbound: Arc<std::sync::OnceLock<InboundSource>>,
}

/// Where a node's pacer reads the hotline's load (the hotline runs on the same agents; see
/// `crate::inbound`, which sits above this room and hands it in).
pub type InboundSource = Arc<dyn Fn() -> InboundLoad + Send + Sync>;

/// What a node's recovery did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Recovery {
    /// Unfinished attempts that had been answered: their contacts are finished as answered.
    pub answered: usize,
    /// Unfinished attempts whose INVITE had gone out: settled as `interrupted` (retry rule
    /// of `failed`).
    pub interrupted: usize,
    /// Unfinished attempts that never dialled: their contacts are due again at once.
    pub not_dialed: usize,
    /// Other contacts the node still held, given back.
    pub released: u64,
    /// Offers of preview contacts to agents left open, closed as expired.
    pub previews_expired: u64,
    /// Survey verdicts carried out on their tickets that a stop had left pending.
    pub verdicts_applied: usize,
}

impl Recovery {
    /// Counts one attempt a stop cut short, by how it is settled.
    fn count(&mut self, word: AttemptOutcome) {
        match word {
            AttemptOutcome::NotDialed => self.not_dialed += 1,
            AttemptOutcome::Interrupted => self.interrupted += 1,
            _ => self.answered += 1,
        }
    }
}

/// How an attempt a stop cut short is settled: a survey whose owner was with an agent is
/// done; one cut short asks what is left at its retry; an answered call is answered; an
/// INVITE that went out is interrupted (the `failed` retry rule); one never dialled is due
/// again at once.
fn interrupted_outcome(row: &AttemptRow, survey: bool) -> AttemptOutcome {
    match (row.answered_at, row.dialed_at) {
        (Some(_), _) if survey && row.bridged_at.is_some() => AttemptOutcome::Completed,
        (Some(_), _) if survey => AttemptOutcome::Incomplete,
        (Some(_), _) => AttemptOutcome::Answered,
        (None, Some(_)) => AttemptOutcome::Interrupted,
        (None, None) => AttemptOutcome::NotDialed,
    }
}

impl DialerNode {
    /// A node working `store` through `ua`; `clock` dates every row and decides windows.
    pub fn new(
        store: Store,
        ua: UserAgent,
        clock: SharedClock,
        config: NodeConfig,
    ) -> Result<DialerNode, NodeError> {
        let mut limits = Limits::new().prefixes(&config.prefix_rates)?;
        for (name, trunk) in &config.trunks {
            limits = limits.trunk(name, trunk.calls_per_second, trunk.channels)?;
        }
        Ok(DialerNode {
            store,
            ua,
            clock,
            config: Arc::new(config),
            limits: Arc::new(limits),
            desk: Arc::new(std::sync::OnceLock::new()),
            inbound: Arc::new(std::sync::OnceLock::new()),
        })
    }

    /// The node's name on its rows.
    pub fn name(&self) -> &str {
        &self.config.node
    }

    /// Lets the pacer see the hotline's load, so predictive dialling keeps the agents the
    /// hotline's service level needs (set once, before [`DialerNode::run`]).
    pub fn set_inbound_load(&self, source: InboundSource) {
        let _ = self.inbound.set(source);
    }

    /// The hotline's load now (none without a hotline).
    fn inbound_load(&self) -> InboundLoad {
        self.inbound.get().map(|f| f()).unwrap_or_default()
    }

    /// The node's database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn actor(&self) -> String {
        format!("dialer:{}", self.config.node)
    }

    /// Settles what this node left behind when it stopped (see [`Recovery`]).
    pub async fn recover(&self) -> Result<Recovery, NodeError> {
        let now = self.clock.now();
        let attempts = Attempts::new(&self.store);
        let hopper = Hopper::new(&self.store);
        let campaigns = Campaigns::new(&self.store);
        let mut recovery = Recovery::default();
        // Contacts of a campaign whose stored definition no longer parses get no retry
        // decision here; `release_all` below gives them back as they are.
        let definitions: HashMap<i64, Campaign> = campaigns
            .list()
            .await?
            .into_iter()
            .filter_map(|c| Some((c.campaign_id, c.definition().ok()?)))
            .collect();
        for row in attempts.unfinished(&self.config.node).await? {
            let survey = definitions
                .get(&row.campaign_id)
                .is_some_and(|c| matches!(c.content(), Content::Script(_)));
            let word = interrupted_outcome(&row, survey);
            recovery.count(word);
            self.settle_interrupted(&row, word, definitions.get(&row.campaign_id), now)
                .await?;
        }
        // Offers to agents of preview campaigns: closed here, their contacts given back below.
        recovery.previews_expired =
            preview::expire_node(&self.store, &self.config.node, now).await?;
        recovery.released = hopper.release_all(&self.config.node, now).await?;
        // Verdicts decided but not carried out on their tickets when the node stopped.
        recovery.verdicts_applied = super::verdict::apply_left_over(
            &self.store,
            self.clock.clone(),
            self.config.sla.clone(),
            format!("{}:recovery", self.actor()),
        )
        .await?;
        Ok(recovery)
    }

    /// Writes the end of an attempt a stop cut short, then settles its contact if this node
    /// still holds it and its campaign's definition still parses.
    async fn settle_interrupted(
        &self,
        row: &AttemptRow,
        word: AttemptOutcome,
        campaign: Option<&Campaign>,
        now: DateTime<Utc>,
    ) -> Result<(), NodeError> {
        let end = AttemptEnd {
            outcome: word,
            detail: Some("interrupted by a restart of the dialer"),
            at: now,
            ..AttemptEnd::default()
        };
        Attempts::new(&self.store)
            .close(super::hopper::AttemptId(row.attempt_id), &end)
            .await?;
        let Some(contact) = Hopper::new(&self.store)
            .get(row.campaign_contact_id)
            .await?
        else {
            return Ok(());
        };
        if contact.lease_owner != self.config.node {
            // The lease ran out and another node took the contact; it is theirs now
            // (and `Attempts::open` keeps them from dialling an answered one).
            return Ok(());
        }
        let Some(campaign) = campaign else {
            return Ok(());
        };
        match attempt::settle_contact(&self.store, campaign, &contact, word, now).await {
            Ok(_) | Err(NodeError::Hopper(HopperError::LeaseLost { .. })) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The node's agents, their legs dialled on first use (and kept up until `shutdown`); none
    /// without [`NodeConfig::agents`]. The hotline puts its callers through to these.
    pub fn start_desk(&self, shutdown: &watch::Receiver<bool>) -> Option<AgentDesk> {
        let agents = self.config.agents.as_ref()?;
        if let Some(desk) = self.desk.get() {
            return Some(desk.clone());
        }
        let desk = AgentDesk::start(&self.ua, agents, self.clock.clone(), shutdown.clone());
        if self.desk.set(desk.clone()).is_err() {
            return self.desk.get().cloned();
        }
        // Agents who log in on the web desktop get their legs from here.
        tokio::spawn(super::presence::run(
            self.store.clone(),
            desk.clone(),
            self.config.node.clone(),
            self.clock.clone(),
            self.config.poll.min(Duration::from_secs(1)),
            shutdown.clone(),
        ));
        Some(desk)
    }

    /// Runs until `shutdown` turns true — or, with `exit_when_idle`, until none of the
    /// campaigns it may work (`only`, or all when empty) is running, paused or scheduled.
    /// Call [`DialerNode::recover`] first, so the node's leftovers are settled before new calls.
    pub async fn run(
        &self,
        only: &[String],
        exit_when_idle: bool,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), NodeError> {
        self.start_desk(&shutdown);
        let campaigns = Campaigns::new(&self.store);
        let mut workers: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
        loop {
            workers.retain(|_, w| !w.is_finished());
            campaigns.start_due(&self.actor(), self.clock.now()).await?;
            let mine: Vec<StoredCampaign> = campaigns
                .list()
                .await?
                .into_iter()
                .filter(|c| only.is_empty() || only.contains(&c.code))
                .collect();
            for campaign in &mine {
                if campaign.state == State::Running && !workers.contains_key(&campaign.code) {
                    let node = self.clone();
                    let code = campaign.code.clone();
                    let stop = shutdown.clone();
                    let worker = tokio::spawn(async move {
                        if let Err(e) = node.work(&code, stop).await {
                            tracing::error!(campaign = %code, "campaign worker stopped: {e}");
                        }
                    });
                    workers.insert(campaign.code.clone(), worker);
                }
            }
            let live = mine
                .iter()
                .any(|c| matches!(c.state, State::Running | State::Paused | State::Scheduled));
            if exit_when_idle && workers.is_empty() && !live {
                break;
            }
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
        for (_, worker) in workers {
            let _ = worker.await;
        }
        Ok(())
    }

    /// Works one running campaign until it is stopped, completed, or the node shuts down.
    async fn work(&self, code: &str, mut shutdown: watch::Receiver<bool>) -> Result<(), NodeError> {
        let campaigns = Campaigns::new(&self.store);
        let stored = campaigns.get(code).await?;
        let Some(plan) = self.plan_or_pause(&campaigns, &stored).await? else {
            return Ok(());
        };
        // Calls are bounded by the trunk's channels; a campaign of messages only hands its
        // contacts to the outbox, a batch at a time.
        let capacity = if plan.campaign.channels().contains(&Channel::Voice) {
            self.limits.channels(plan.campaign.trunk()).unwrap_or(1)
        } else {
            MESSAGE_BATCH
        };
        if plan.campaign.mode() == DialMode::Paced(PacingMode::Preview) {
            return self.work_preview(&stored, plan, shutdown).await;
        }
        let mut calls: JoinSet<Result<(), NodeError>> = JoinSet::new();
        let mut pacing = match plan.campaign.mode() {
            DialMode::Paced(mode) => Some(Pacing::new(mode)),
            DialMode::Agentless => None,
        };
        // A paced campaign decides often: agents free up and owners answer by the second.
        let poll = match pacing {
            Some(_) => self.config.poll.min(Duration::from_millis(200)),
            None => self.config.poll,
        };
        tracing::info!(campaign = %code, node = %self.config.node, capacity, "working campaign");
        let mut published: Option<std::time::Instant> = None;
        loop {
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
                break;
            }
            match campaigns.get(code).await?.state {
                State::Running => {}
                State::Paused => {
                    wait(&mut calls, code, poll, &mut shutdown).await;
                    continue;
                }
                _ => break,
            }
            let now = self.clock.now();
            let lines = capacity.saturating_sub(calls.len());
            let room = match &mut pacing {
                None => lines,
                Some(pacing) => pacing
                    .room(
                        &plan,
                        stored.campaign_id,
                        now,
                        capacity,
                        self.inbound_load(),
                    )
                    .await?
                    .min(lines),
            };
            let dialled = self
                .dial_pass(&plan, stored.campaign_id, room, now, &mut calls)
                .await?;
            if calls.is_empty() && dialled == 0 && self.complete_if_done(&stored, now).await? {
                break;
            }
            wait(&mut calls, code, poll, &mut shutdown).await;
        }
        // Calls in progress finish (a prompt lasts seconds); nothing new is placed.
        while let Some(done) = calls.join_next().await {
            log_call(code, done);
        }
        self.withdraw_live(code, stored.campaign_id).await;
        Ok(())
    }

    /// The campaign's plan, its leftover callbacks given their verdicts; a campaign that
    /// cannot run (a missing prompt, an unknown trunk) is paused with the reason instead.
    async fn plan_or_pause(
        &self,
        campaigns: &Campaigns<'_>,
        stored: &StoredCampaign,
    ) -> Result<Option<Arc<Plan>>, NodeError> {
        match self.plan(stored) {
            Ok(plan) => {
                let plan = Arc::new(plan);
                // Callback contacts a crash, a lost lease or a screen finished without a
                // verdict get theirs now.
                if let Some(survey) = &plan.survey {
                    super::verdict::sweep(&plan, survey).await?;
                }
                Ok(Some(plan))
            }
            Err(why) => {
                let reason = format!("cannot run: {why}");
                tracing::error!(campaign = %stored.code, "{reason}");
                let now = self.clock.now();
                match campaigns
                    .apply(&stored.code, Action::Pause, &self.actor(), &reason, now)
                    .await
                {
                    Ok(_) | Err(RepoError::Transition { .. }) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Claims up to `room` contacts and starts their turns: messages go to the outbox, calls
    /// that pass the screen are placed. Returns how many calls were placed.
    async fn dial_pass(
        &self,
        plan: &Arc<Plan>,
        campaign_id: i64,
        room: usize,
        now: DateTime<Utc>,
        calls: &mut JoinSet<Result<(), NodeError>>,
    ) -> Result<usize, NodeError> {
        if room == 0 {
            return Ok(0);
        }
        let limit = u32::try_from(room.min(100)).unwrap_or(100);
        let claimed = Hopper::new(&self.store)
            .claim(
                campaign_id,
                &self.config.node,
                now,
                self.config.lease,
                limit,
            )
            .await?;
        let mut dialled = 0;
        for contact in claimed {
            // Its turn may be a message, or it may be done (a reply came, every channel was
            // tried); only calls go on to be screened and dialled.
            if messages::route(plan, &contact, now).await? == Route::Call
                && self.screen(plan, &contact, now).await?
            {
                let ctx = CallContext {
                    ua: self.ua.clone(),
                    plan: plan.clone(),
                };
                calls.spawn(place::run(ctx, contact));
                dialled += 1;
            }
        }
        Ok(dialled)
    }

    /// Completes the campaign once every contact has a final outcome; true when it is over
    /// (completed here, or by another node first).
    async fn complete_if_done(
        &self,
        stored: &StoredCampaign,
        now: DateTime<Utc>,
    ) -> Result<bool, NodeError> {
        let (left, _) = Hopper::new(&self.store)
            .remaining(stored.campaign_id)
            .await?;
        if left > 0 {
            return Ok(false);
        }
        let reason = "every contact has a final outcome";
        match Campaigns::new(&self.store)
            .apply(&stored.code, Action::Complete, &self.actor(), reason, now)
            .await
        {
            Ok(_) => tracing::info!(campaign = %stored.code, "campaign completed"),
            Err(RepoError::Transition { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(true)
    }

    /// Publishes a campaign's live counters for the wallboard (a failure is only logged: the
    /// calls matter more than the board).
    async fn publish_live(&self, code: &str, campaign_id: i64, floor: &Floor) {
        let now = self.clock.now();
        let live = floor.live();
        if let Err(e) =
            super::presence::publish(&self.store, campaign_id, &self.config.node, live, now).await
        {
            tracing::warn!(campaign = %code, "cannot publish live counters: {e}");
        }
    }

    /// Removes a campaign's counters of this node when it stops working the campaign.
    async fn withdraw_live(&self, code: &str, campaign_id: i64) {
        if let Err(e) = super::presence::withdraw(&self.store, campaign_id, &self.config.node).await
        {
            tracing::warn!(campaign = %code, "cannot withdraw live counters: {e}");
        }
    }

    /// Whether a claimed contact may be called now; if not, it is given back for its next
    /// window or finished (do-not-call, withdrawn consent, never open).
    async fn screen(
        &self,
        plan: &Plan,
        contact: &ClaimedContact,
        now: DateTime<Utc>,
    ) -> Result<bool, NodeError> {
        let hopper = Hopper::new(&self.store);
        let tz: Tz = contact.tz.parse().unwrap_or(plan.campaign.timezone());
        let windows = plan.campaign.windows();
        if !windows.is_open(now, tz) {
            match windows.next_open(now, tz) {
                Some(at) => hopper.release(contact, Some(at), now).await?,
                None => {
                    hopper
                        .finish(contact, AttemptOutcome::NoWindow, now)
                        .await?
                }
            }
            return Ok(false);
        }
        let blocked =
            dnc::is_blocked_in(&self.store, &contact.phone, Channel::Voice, &plan.code).await?;
        let withdrawn = match contact.owner_id {
            Some(owner) => dnc::consent_withdrawn(&self.store, owner, Channel::Voice).await?,
            None => false,
        };
        if blocked || withdrawn {
            let outcome = if blocked {
                AttemptOutcome::Dnc
            } else {
                AttemptOutcome::NoConsent
            };
            // A number that may not be called may still get the campaign's SMS or email.
            if attempt::has_next_channel(&plan.campaign, contact) {
                hopper.advance(contact, now).await?;
                return Ok(false);
            }
            hopper.finish(contact, outcome, now).await?;
            // A callback never placed still gets a verdict (unreached; the owner is not put on
            // the agents' list either, and the timeline says why).
            if let Some(survey) = &plan.survey {
                super::verdict::settle_unheard(plan, survey, contact, true).await?;
            }
            return Ok(false);
        }
        Ok(true)
    }
}

/// A paced campaign's pacer and the abandon counts it is corrected by.
struct Pacing {
    pacer: Pacer,
    abandon: AbandonWindow,
    measured: Option<std::time::Instant>,
}

/// How often a campaign's live counters are published for the wallboard.
const LIVE_EVERY: Duration = Duration::from_secs(1);

/// How often the 24-hour abandon counts are read again.
const ABANDON_REFRESH: Duration = Duration::from_secs(5);

impl Pacing {
    fn new(mode: PacingMode) -> Pacing {
        Pacing {
            pacer: Pacer::new(mode),
            abandon: AbandonWindow::default(),
            measured: None,
        }
    }

    /// How many calls the pacer places now.
    async fn room(
        &mut self,
        plan: &Plan,
        campaign_id: i64,
        now: DateTime<Utc>,
        capacity: usize,
        inbound: InboundLoad,
    ) -> Result<usize, NodeError> {
        let Some(desk) = &plan.desk else {
            return Ok(0);
        };
        if self
            .measured
            .is_none_or(|at| at.elapsed() >= ABANDON_REFRESH)
        {
            self.abandon = abandon_feedback(&plan.store, campaign_id, now).await?;
            self.measured = Some(std::time::Instant::now());
        }
        let mut state = plan.floor.observe(
            desk,
            self.abandon,
            plan.campaign.max_abandon_pct() / 100.0,
            f64::from(plan.campaign.ring_timeout_secs()),
            u32::try_from(capacity).unwrap_or(u32::MAX),
        );
        state.inbound = inbound;
        let n = self.pacer.calls_to_place(&state);
        tracing::debug!(
            free = state.free_agents,
            logged_in = state.logged_in,
            ringing = state.ringing_ages_s.len(),
            waiting = state.waiting_calls,
            n,
            "pacing"
        );
        Ok(n as usize)
    }
}

/// The abandon counts a paced campaign's pacer is corrected by at `now`: the last 24 hours,
/// read through the one abandon rule (`metrics::abandon`) like every other view of it.
pub async fn abandon_feedback(
    store: &Store,
    campaign_id: i64,
    now: DateTime<Utc>,
) -> Result<AbandonWindow, RepoError> {
    let window = Period::ending(now, chrono::TimeDelta::hours(24));
    Campaigns::new(store).abandon(campaign_id, window).await
}

/// Waits for a call to end, the poll interval, or shutdown, whichever comes first.
async fn wait(
    calls: &mut JoinSet<Result<(), NodeError>>,
    code: &str,
    poll: Duration,
    shutdown: &mut watch::Receiver<bool>,
) {
    tokio::select! {
        Some(done) = calls.join_next(), if !calls.is_empty() => log_call(code, done),
        _ = tokio::time::sleep(poll) => {}
        _ = shutdown.changed() => {}
    }
}

fn log_call(code: &str, done: Result<Result<(), NodeError>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(campaign = %code, "call attempt failed: {e}"),
        Err(e) => tracing::error!(campaign = %code, "call attempt task died: {e}"),
    }
}
