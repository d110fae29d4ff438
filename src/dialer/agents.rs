//! Agents and their nailed-up legs: the dialer calls each logged-in agent's SIP phone once and
//! keeps that call up; an answered owner is bridged into a free agent's leg in milliseconds
//! (no ringing the agent per call), which is how the 2-second connect rule is met.
//!
//! Each agent has a task that owns the leg. An answered owner's [`Call`] is handed to that
//! task ([`AgentDesk::take`] reserves a free agent, [`Reserved::connect`] hands the call
//! over); the task bridges it, waits for the conversation to end — the owner hangs up, the
//! agent presses `#` on the phone, or the talk limit passes — hands the call back, and keeps
//! the agent in wrap-up for the configured time before they are free again. A leg that drops
//! is dialled again after a pause.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, oneshot, watch};

use super::state::{AgentPhase, BusyAgent};
use crate::telephony::Digit;
use crate::telephony::transport::{Call, CallUpdate, DialRequest, UserAgent};

/// How agents' legs are run.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Agent name and the SIP URI of their phone.
    pub agents: Vec<(String, String)>,
    /// Seconds an agent stays in wrap-up after a conversation.
    pub wrap: Duration,
    /// Longest conversation before the owner is hung up (a safety net).
    pub talk_limit: Duration,
    /// Caller ID the agents' phones see.
    pub caller_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// The leg is being dialled (or redialled after a drop).
    Offline,
    Free,
    /// Promised to an answered owner who is being handed over.
    Reserved,
    Talk(Instant),
    Wrap(Instant),
}

/// An owner handed to an agent.
struct Offer {
    owner: Call,
    /// The conversation, or the call given back untouched when the leg went down first.
    reply: oneshot::Sender<Result<Conversation, Call>>,
}

/// How a conversation ended; the owner's call comes back to the attempt that placed it.
pub struct Conversation {
    /// The owner's call (ended, or to be hung up).
    pub owner: Call,
    /// The agent's name.
    pub agent: String,
    /// How long they talked.
    pub talk: Duration,
}

struct Seat {
    name: String,
    phase: Phase,
    offers: mpsc::UnboundedSender<Offer>,
}

/// The agents of one dialer node.
#[derive(Clone)]
pub struct AgentDesk {
    seats: Arc<Mutex<Vec<Seat>>>,
    changed: Arc<Notify>,
    finished: Arc<Mutex<Vec<(f64, f64)>>>,
}

/// A free agent promised to one answered owner; dropping it unused frees the agent again.
pub struct Reserved {
    desk: AgentDesk,
    seat: usize,
    used: bool,
}

impl AgentDesk {
    /// Starts one leg task per agent on `ua`; they run until `shutdown`.
    pub fn start(
        ua: &UserAgent,
        config: &AgentConfig,
        shutdown: watch::Receiver<bool>,
    ) -> AgentDesk {
        let desk = AgentDesk {
            seats: Arc::new(Mutex::new(Vec::new())),
            changed: Arc::new(Notify::new()),
            finished: Arc::new(Mutex::new(Vec::new())),
        };
        for (index, (name, uri)) in config.agents.iter().enumerate() {
            let (offers, inbox) = mpsc::unbounded_channel();
            desk.lock().push(Seat {
                name: name.clone(),
                phase: Phase::Offline,
                offers,
            });
            let task = LegTask {
                desk: desk.clone(),
                seat: index,
                name: name.clone(),
                uri: uri.clone(),
                ua: ua.clone(),
                config: config.clone(),
            };
            tokio::spawn(task.run(inbox, shutdown.clone()));
        }
        desk
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Seat>> {
        self.seats.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, seat: usize, phase: Phase) {
        if let Some(s) = self.lock().get_mut(seat) {
            s.phase = phase;
        }
        self.changed.notify_waiters();
    }

    /// Agents whose leg is up (free or busy), agents free now, and the busy ones' phases.
    pub fn snapshot(&self) -> (u32, u32, Vec<BusyAgent>) {
        let seats = self.lock();
        let mut logged_in = 0;
        let mut free = 0;
        let mut busy = Vec::new();
        for seat in seats.iter() {
            match seat.phase {
                Phase::Offline => continue,
                Phase::Free => free += 1,
                Phase::Reserved => busy.push(BusyAgent {
                    phase: AgentPhase::Talk,
                    elapsed_s: 0.0,
                }),
                Phase::Talk(since) => busy.push(BusyAgent {
                    phase: AgentPhase::Talk,
                    elapsed_s: since.elapsed().as_secs_f64(),
                }),
                Phase::Wrap(since) => busy.push(BusyAgent {
                    phase: AgentPhase::Wrap,
                    elapsed_s: since.elapsed().as_secs_f64(),
                }),
            }
            logged_in += 1;
        }
        (logged_in, free, busy)
    }

    /// Talk and wrap-up times (seconds) of conversations finished since the last call, for
    /// the estimators.
    pub fn drain_finished(&self) -> Vec<(f64, f64)> {
        std::mem::take(&mut *self.finished.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Reserves a free agent, waiting at most `within` for one to become free.
    pub async fn take(&self, within: Duration) -> Option<Reserved> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.changed.notified();
            {
                let mut seats = self.lock();
                if let Some(index) = seats.iter().position(|s| s.phase == Phase::Free) {
                    seats[index].phase = Phase::Reserved;
                    return Some(Reserved {
                        desk: self.clone(),
                        seat: index,
                        used: false,
                    });
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }
}

impl Reserved {
    /// The agent's name.
    pub fn name(&self) -> String {
        self.desk.lock()[self.seat].name.clone()
    }

    /// Hands the answered owner to the agent and waits for the conversation to end.
    /// `Err(Some(call))` gives the call back when the agent's leg went down in between;
    /// `Err(None)` means the leg task died holding it (a bug: it is logged).
    pub async fn connect(mut self, owner: Call) -> Result<Conversation, Option<Call>> {
        self.used = true;
        let (reply, answer) = oneshot::channel();
        let offers = self.desk.lock()[self.seat].offers.clone();
        if let Err(mpsc::error::SendError(offer)) = offers.send(Offer { owner, reply }) {
            self.desk.set(self.seat, Phase::Offline);
            return Err(Some(offer.owner));
        }
        match answer.await {
            Ok(handed) => handed.map_err(Some),
            Err(_) => {
                tracing::error!(agent = %self.name(), "the agent's leg task dropped a call");
                Err(None)
            }
        }
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if !self.used {
            let mut seats = self.desk.lock();
            if let Some(seat) = seats.get_mut(self.seat)
                && seat.phase == Phase::Reserved
            {
                seat.phase = Phase::Free;
            }
            drop(seats);
            self.desk.changed.notify_waiters();
        }
    }
}

/// One agent's nailed-up leg.
struct LegTask {
    desk: AgentDesk,
    seat: usize,
    name: String,
    uri: String,
    ua: UserAgent,
    config: AgentConfig,
}

impl LegTask {
    async fn run(
        self,
        mut inbox: mpsc::UnboundedReceiver<Offer>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        while !*shutdown.borrow() {
            self.desk.set(self.seat, Phase::Offline);
            let mut request = DialRequest::new(self.uri.clone());
            request.caller_id = self.config.caller_id.clone();
            request.display_name = Some("huifang agent leg".into());
            let mut leg = match self.ua.dial(request).await {
                Ok(leg) => leg,
                Err(e) => {
                    tracing::warn!(agent = %self.name, "cannot call the agent's phone: {e}");
                    pause(&mut shutdown, Duration::from_secs(5)).await;
                    continue;
                }
            };
            if !leg.wait_answer().await {
                tracing::warn!(agent = %self.name, "the agent's phone did not answer");
                leg.close().await;
                pause(&mut shutdown, Duration::from_secs(5)).await;
                continue;
            }
            tracing::info!(agent = %self.name, "agent leg up");
            self.desk.set(self.seat, Phase::Free);
            self.serve(&mut leg, &mut inbox, &mut shutdown).await;
            self.desk.set(self.seat, Phase::Offline);
            give_back(&mut inbox);
            leg.hangup().await;
            leg.close().await;
        }
        self.desk.set(self.seat, Phase::Offline);
        // Nobody may wait on this seat any more: refuse new offers, answer the queued ones.
        inbox.close();
        give_back(&mut inbox);
    }

    /// Takes owners while the leg is up; returns when it drops or on shutdown.
    async fn serve(
        &self,
        leg: &mut Call,
        inbox: &mut mpsc::UnboundedReceiver<Offer>,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                offer = inbox.recv() => {
                    let Some(offer) = offer else { return };
                    let up = self.converse(leg, offer).await;
                    if !up {
                        return;
                    }
                }
                update = leg.next_update() => match update {
                    None | Some(CallUpdate::Ended { .. }) => {
                        tracing::warn!(agent = %self.name, "agent leg dropped");
                        return;
                    }
                    _ => {}
                },
                _ = shutdown.changed() => return,
            }
        }
    }

    /// One conversation and its wrap-up; false when the agent's leg dropped during it.
    async fn converse(&self, leg: &mut Call, offer: Offer) -> bool {
        let Offer { mut owner, reply } = offer;
        let started = Instant::now();
        self.desk.set(self.seat, Phase::Talk(started));
        owner.bridge(leg);
        let hash = Digit::parse('#').ok();
        let limit = tokio::time::sleep(self.config.talk_limit);
        tokio::pin!(limit);
        let mut leg_up = true;
        loop {
            tokio::select! {
                update = owner.next_update() => {
                    if matches!(update, None | Some(CallUpdate::Ended { .. })) {
                        break;
                    }
                }
                update = leg.next_update() => match update {
                    None | Some(CallUpdate::Ended { .. }) => {
                        leg_up = false;
                        break;
                    }
                    Some(CallUpdate::Digit { digit, .. }) if Some(digit) == hash => break,
                    _ => {}
                },
                _ = &mut limit => break,
            }
        }
        let talk = started.elapsed();
        let _ = reply.send(Ok(Conversation {
            owner,
            agent: self.name.clone(),
            talk,
        }));
        let wrap_start = Instant::now();
        self.desk.set(self.seat, Phase::Wrap(wrap_start));
        tokio::time::sleep(self.config.wrap).await;
        self.desk
            .finished
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((talk.as_secs_f64(), wrap_start.elapsed().as_secs_f64()));
        if leg_up {
            self.desk.set(self.seat, Phase::Free);
        }
        leg_up
    }
}

/// Hands every queued owner back untouched, for the safe-harbor message: their agent's leg
/// is down.
fn give_back(inbox: &mut mpsc::UnboundedReceiver<Offer>) {
    while let Ok(offer) = inbox.try_recv() {
        let _ = offer.reply.send(Err(offer.owner));
    }
}

async fn pause(shutdown: &mut watch::Receiver<bool>, how_long: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(how_long) => {}
        _ = shutdown.changed() => {}
    }
}
