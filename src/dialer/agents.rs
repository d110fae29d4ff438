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
//!
//! Seats come from the configuration (`[dialer.agents]`, always on) and from agents who log in
//! on the web desktop: [`AgentDesk::sync`] adds a seat when an agent asks to be ready, pauses
//! it (the leg stays up, no owner is offered), and ends its leg when they log off or give
//! another phone.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::clock::{SharedClock, seconds_between};
use crate::pacing::state::{AgentPhase, BusyAgent};
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
    Talk(DateTime<Utc>),
    Wrap(DateTime<Utc>),
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
    uri: String,
    phase: Phase,
    /// When the phase last changed (for the desktop's timers).
    since: DateTime<Utc>,
    /// Leg up but not taking owners (the agent pressed pause).
    paused: bool,
    /// From the configuration: not ended by [`AgentDesk::sync`].
    configured: bool,
    /// Ends this seat's leg (logoff, another phone) or, forwarded, the node's shutdown.
    stop: Arc<watch::Sender<bool>>,
    /// The leg was told to end; its task may still finish a conversation.
    retired: bool,
    /// The leg task has returned; a retired seat may be started again.
    ended: bool,
    offers: mpsc::UnboundedSender<Offer>,
}

impl Seat {
    /// Free for an owner: leg up, ready, not paused, not logging off.
    fn takes_owners(&self) -> bool {
        self.phase == Phase::Free && !self.paused && !self.retired
    }
}

/// An agent free to take an owner or a hotline caller, and since when (the one idle longest
/// is served first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeAgent {
    /// The agent's name.
    pub name: String,
    /// When they became free.
    pub idle_since: DateTime<Utc>,
}

/// What an agent asked for on the desktop: their phone, and ready or paused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedSeat {
    /// The agent's username.
    pub name: String,
    /// Their phone's SIP URI.
    pub uri: String,
    /// Leg up, but no owners offered.
    pub paused: bool,
}

/// One seat as the desktop and the wallboard see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatView {
    /// The agent's name.
    pub name: String,
    /// The phone dialled.
    pub uri: String,
    /// offline, free, paused, reserved, talk or wrap.
    pub phase: &'static str,
    /// When that phase began.
    pub since: DateTime<Utc>,
    /// From the configuration rather than the desktop.
    pub configured: bool,
}

/// What a leg task needs from its node.
struct Legs {
    ua: UserAgent,
    config: AgentConfig,
    /// Phases are timed on the node's clock, which the pacer's input is measured on.
    clock: SharedClock,
    shutdown: watch::Receiver<bool>,
}

/// The agents of one dialer node.
#[derive(Clone)]
pub struct AgentDesk {
    seats: Arc<Mutex<Vec<Seat>>>,
    changed: Arc<Notify>,
    /// Hotline callers waiting now, each as the agents their queue lists (empty: anyone):
    /// outbound answers get only a free agent none of them could take (inbound callers come
    /// first; see `crate::inbound`).
    inbound_waiting: Arc<Mutex<Vec<Vec<String>>>>,
    finished: Arc<Mutex<Vec<(f64, f64)>>>,
    legs: Arc<Legs>,
}

/// A free agent promised to one answered owner; dropping it unused frees the agent again.
pub struct Reserved {
    desk: AgentDesk,
    seat: usize,
    used: bool,
}

impl AgentDesk {
    /// Starts one leg task per agent on `ua`; they run until `shutdown`. Phases are timed
    /// on `clock`.
    pub fn start(
        ua: &UserAgent,
        config: &AgentConfig,
        clock: SharedClock,
        shutdown: watch::Receiver<bool>,
    ) -> AgentDesk {
        let desk = AgentDesk {
            seats: Arc::new(Mutex::new(Vec::new())),
            changed: Arc::new(Notify::new()),
            inbound_waiting: Arc::new(Mutex::new(Vec::new())),
            finished: Arc::new(Mutex::new(Vec::new())),
            legs: Arc::new(Legs {
                ua: ua.clone(),
                config: config.clone(),
                clock,
                shutdown,
            }),
        };
        for (name, uri) in &config.agents {
            let mut seats = desk.lock();
            desk.open_seat(&mut seats, None, name, uri, true);
        }
        desk
    }

    /// Starts a leg task for a new seat, or again on a retired seat whose task ended.
    fn open_seat(
        &self,
        seats: &mut Vec<Seat>,
        reuse: Option<usize>,
        name: &str,
        uri: &str,
        configured: bool,
    ) {
        let (offers, inbox) = mpsc::unbounded_channel();
        let (stop, stopped) = watch::channel(false);
        let stop = Arc::new(stop);
        let seat = Seat {
            name: name.to_string(),
            uri: uri.to_string(),
            phase: Phase::Offline,
            since: self.now(),
            paused: false,
            configured,
            stop: stop.clone(),
            retired: false,
            ended: false,
            offers,
        };
        let index = match reuse {
            Some(i) => {
                seats[i] = seat;
                i
            }
            None => {
                seats.push(seat);
                seats.len() - 1
            }
        };
        // The node's shutdown ends every leg.
        let mut shutdown = self.legs.shutdown.clone();
        tokio::spawn(async move {
            let _ = shutdown.wait_for(|s| *s).await;
            let _ = stop.send(true);
        });
        let task = LegTask {
            desk: self.clone(),
            seat: index,
            name: name.to_string(),
            uri: uri.to_string(),
            ua: self.legs.ua.clone(),
            config: self.legs.config.clone(),
        };
        tokio::spawn(task.run(inbox, stopped));
    }

    /// Brings the desktop agents' seats in line with what they asked for: new seats dialled,
    /// paused ones kept up without owners, logged-off ones (or a changed phone) ended once
    /// their conversation is over. Seats from the configuration stay as they are unless
    /// paused.
    pub fn sync(&self, wanted: &[WantedSeat]) {
        let mut seats = self.lock();
        for w in wanted {
            match seats.iter().position(|s| s.name == w.name) {
                Some(i) => {
                    let seat = &mut seats[i];
                    if seat.paused != w.paused {
                        seat.paused = w.paused;
                        seat.since = self.now();
                    }
                    if seat.retired {
                        if seat.ended {
                            let paused = w.paused;
                            self.open_seat(&mut seats, Some(i), &w.name, &w.uri, false);
                            seats[i].paused = paused;
                        }
                    } else if seat.uri != w.uri && !seat.configured {
                        seat.retired = true;
                        let _ = seat.stop.send(true);
                    }
                }
                None => {
                    self.open_seat(&mut seats, None, &w.name, &w.uri, false);
                    if let Some(seat) = seats.last_mut() {
                        seat.paused = w.paused;
                    }
                }
            }
        }
        for seat in seats.iter_mut() {
            if !seat.configured && !seat.retired && !wanted.iter().any(|w| w.name == seat.name) {
                seat.retired = true;
                let _ = seat.stop.send(true);
            }
        }
        drop(seats);
        self.changed.notify_waiters();
    }

    /// Every seat, for the presence rows the desktop and wallboard read.
    pub fn seats(&self) -> Vec<SeatView> {
        self.lock()
            .iter()
            .map(|s| SeatView {
                name: s.name.clone(),
                uri: s.uri.clone(),
                phase: match s.phase {
                    Phase::Offline => "offline",
                    Phase::Free if s.paused || s.retired => "paused",
                    Phase::Free => "free",
                    Phase::Reserved => "reserved",
                    Phase::Talk(_) => "talk",
                    Phase::Wrap(_) => "wrap",
                },
                since: s.since,
                configured: s.configured,
            })
            .collect()
    }

    fn ended(&self, seat: usize) {
        if let Some(s) = self.lock().get_mut(seat) {
            s.phase = Phase::Offline;
            s.since = self.now();
            s.ended = true;
            s.retired = true;
        }
        self.changed.notify_waiters();
    }

    fn now(&self) -> DateTime<Utc> {
        self.legs.clock.now()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Seat>> {
        self.seats.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, seat: usize, phase: Phase) {
        if let Some(s) = self.lock().get_mut(seat)
            && s.phase != phase
        {
            s.phase = phase;
            s.since = self.now();
        }
        self.changed.notify_waiters();
    }

    /// Agents whose leg is up (free or busy), agents free now, and the busy ones' phases.
    pub fn snapshot(&self) -> (u32, u32, Vec<BusyAgent>) {
        let now = self.now();
        let seats = self.lock();
        let mut logged_in = 0;
        let mut free = 0;
        let mut busy = Vec::new();
        for seat in seats.iter() {
            match seat.phase {
                Phase::Offline => continue,
                // A paused agent is not there for the pacer.
                Phase::Free if seat.paused || seat.retired => continue,
                Phase::Free => free += 1,
                Phase::Reserved => busy.push(BusyAgent {
                    phase: AgentPhase::Talk,
                    elapsed_s: 0.0,
                }),
                Phase::Talk(since) => busy.push(BusyAgent {
                    phase: AgentPhase::Talk,
                    elapsed_s: seconds_between(since, now),
                }),
                Phase::Wrap(since) => busy.push(BusyAgent {
                    phase: AgentPhase::Wrap,
                    elapsed_s: seconds_between(since, now),
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
        self.take_until(tokio::time::Instant::now() + within).await
    }

    /// Reserves a free agent, waiting for one until `deadline` (the connect rule counts from
    /// the owner's answer, not from whenever the caller got round to asking).
    ///
    /// Among the free agents, the one idle longest gets the owner; agents are left free for
    /// as many hotline callers as are waiting, who come first.
    pub async fn take_until(&self, deadline: tokio::time::Instant) -> Option<Reserved> {
        loop {
            let changed = self.changed.notified();
            {
                let mut seats = self.lock();
                let mut free: Vec<usize> = (0..seats.len())
                    .filter(|&i| seats[i].takes_owners())
                    .collect();
                free.sort_by_key(|&i| seats[i].since);
                // The hotline's callers have first pick, oldest first.
                for wanted in self
                    .inbound_waiting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                {
                    if let Some(at) = free
                        .iter()
                        .position(|&i| wanted.is_empty() || wanted.contains(&seats[i].name))
                    {
                        free.remove(at);
                    }
                }
                if let Some(&index) = free.first() {
                    seats[index].phase = Phase::Reserved;
                    seats[index].since = self.now();
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
    /// Every agent free now for an owner (leg up, ready, not paused), and since when.
    pub fn free_agents(&self) -> Vec<FreeAgent> {
        self.lock()
            .iter()
            .filter(|s| s.takes_owners())
            .map(|s| FreeAgent {
                name: s.name.clone(),
                idle_since: s.since,
            })
            .collect()
    }

    /// Tells outbound hand-overs which hotline callers wait now, oldest first, each as the
    /// agents their queue lists (empty: anyone): those agents are theirs first.
    pub fn set_inbound_waiting(&self, waiting: Vec<Vec<String>>) {
        let mut current = self
            .inbound_waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *current != waiting {
            *current = waiting;
            drop(current);
            self.changed.notify_waiters();
        }
    }

    /// Waits until a seat changes phase (an agent freed, paused, logged in or off).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Desktop agents (not configured ones) free now: leg up, ready, not paused.
    pub fn free_desktop_agents(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|s| s.phase == Phase::Free && !s.paused && !s.retired && !s.configured)
            .map(|s| s.name.clone())
            .collect()
    }

    /// Reserves the agent `name` if they are free now (preview mode holds the agent it offers
    /// a contact to; no other campaign's owner is put through to them meanwhile).
    pub fn hold(&self, name: &str) -> Option<Reserved> {
        let mut seats = self.lock();
        let index = seats
            .iter()
            .position(|s| s.name == name && s.phase == Phase::Free && !s.paused && !s.retired)?;
        seats[index].phase = Phase::Reserved;
        seats[index].since = self.now();
        drop(seats);
        self.changed.notify_waiters();
        Some(Reserved {
            desk: self.clone(),
            seat: index,
            used: false,
        })
    }
}

impl Reserved {
    /// Whether the agent is still there for this reservation: not paused, not logged off, leg
    /// up.
    pub fn available(&self) -> bool {
        self.desk
            .lock()
            .get(self.seat)
            .is_some_and(|s| s.phase == Phase::Reserved && !s.paused && !s.retired)
    }

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
            // An idle agent's phone may suppress silence for minutes: its leg is not ended
            // for want of RTP (the owner's call is).
            request.end_when_silent = false;
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
        // Nobody may wait on this seat any more: refuse new offers, answer the queued ones.
        inbox.close();
        give_back(&mut inbox);
        self.desk.ended(self.seat);
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
        let started = self.desk.now();
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
        let talk = Duration::from_secs_f64(seconds_between(started, self.desk.now()));
        let _ = reply.send(Ok(Conversation {
            owner,
            agent: self.name.clone(),
            talk,
        }));
        let wrap_start = self.desk.now();
        self.desk.set(self.seat, Phase::Wrap(wrap_start));
        tokio::time::sleep(self.config.wrap).await;
        self.desk
            .finished
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((
                talk.as_secs_f64(),
                seconds_between(wrap_start, self.desk.now()),
            ));
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
