//! The call handle the dialer holds: progress, prompts, digit collection, bridging,
//! recording and hang-up, over one SIP dialog and one media leg.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::{Command, UaError, UserAgent};
use crate::media::Prompt;
use crate::media::engine::{MediaEvent, MediaLeg, MediaStats};
use crate::rtp::dedup::DigitSource;
use crate::sip::{CallEvent, CallKey, Disposition, Side, sdp};
use crate::{Digit, MediaParams};

/// What the SIP task tells a call.
pub(crate) type SipUpdate = CallEvent;

/// What happened on a call, as the dialer sees it (SIP progress and media merged).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CallUpdate {
    /// 100 Trying.
    Trying,
    /// 180 Ringing.
    Ringing,
    /// 183 with SDP: we hear the network's tones.
    EarlyMedia,
    /// The owner picked up.
    Answered,
    /// A DTMF digit, however it came (reported once).
    Digit {
        /// The key.
        digit: Digit,
        /// How it came.
        source: DigitSource,
    },
    /// A prompt queue played to its end.
    PlayFinished,
    /// A prompt was cut short by a digit (barge-in).
    PlayInterrupted {
        /// The digit that cut it.
        digit: Digit,
    },
    /// No RTP from the peer for a while (30 s): it may be gone without a BYE; the owner of
    /// the call decides whether to hang up.
    RtpTimeout,
    /// The call is over.
    Ended {
        /// What it means for the campaign.
        disposition: Disposition,
        /// The SIP status that ended it, if any.
        status: Option<u16>,
        /// Who ended it.
        by: Side,
        /// Why, for people.
        reason: Option<String>,
    },
}

/// How a [`Call::play`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayEnd {
    /// Every prompt played.
    Finished,
    /// A digit interrupted (it is kept for the next [`Call::collect`]).
    Interrupted(Digit),
    /// The call ended.
    HungUp,
}

/// What to collect.
#[derive(Debug, Clone, Copy)]
pub struct Collect {
    /// Stop after this many digits.
    pub max_digits: usize,
    /// Stop at this key (not included in the result), typically `#`.
    pub terminator: Option<Digit>,
    /// How long to wait for the first digit.
    pub first_timeout: Duration,
    /// How long to wait between digits.
    pub inter_timeout: Duration,
}

impl Collect {
    /// `n` digits, `#` ends early, 10 s for the first and 5 s between.
    pub fn digits(n: usize) -> Collect {
        Collect {
            max_digits: n,
            terminator: Digit::parse('#').ok(),
            first_timeout: Duration::from_secs(10),
            inter_timeout: Duration::from_secs(5),
        }
    }
}

/// Why a collection stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectEnd {
    /// The maximum count was reached.
    MaxDigits,
    /// The terminator key was pressed.
    Terminator,
    /// A time-out passed.
    Timeout,
    /// The call ended.
    HungUp,
}

/// Digits collected and why collection stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collected {
    /// The keys, in order.
    pub digits: String,
    /// Why it stopped.
    pub end: CollectEnd,
}

/// A call in progress.
pub struct Call {
    key: CallKey,
    ua: UserAgent,
    sip: mpsc::UnboundedReceiver<SipUpdate>,
    leg: Option<MediaLeg>,
    media: Option<MediaParams>,
    ended: Option<CallUpdate>,
    typeahead: VecDeque<Digit>,
    /// Updates found while closing (digits pressed just before the hang-up), then the end.
    pending: VecDeque<CallUpdate>,
    observer: Option<Observer>,
    /// Whether SIP INFO digits count (see [`super::DialRequest::sip_info_dtmf`]).
    info_digits: bool,
    /// Whether an answered call whose far end falls silent is hung up (see
    /// [`super::DialRequest::end_when_silent`]).
    end_when_silent: bool,
    /// Whether the far end answered (silence before that is the ring time-out's business).
    answered: bool,
    /// Why we hung up, when we did so on our own (it replaces the BYE's plain reason).
    hung_up_because: Option<String>,
}

type Observer = Box<dyn FnMut(&CallUpdate) + Send>;

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call").field("key", &self.key).finish()
    }
}

impl Call {
    pub(super) fn new(
        key: CallKey,
        ua: UserAgent,
        sip: mpsc::UnboundedReceiver<SipUpdate>,
        leg: MediaLeg,
    ) -> Call {
        Call {
            key,
            ua,
            sip,
            leg: Some(leg),
            media: None,
            ended: None,
            typeahead: VecDeque::new(),
            pending: VecDeque::new(),
            observer: None,
            info_digits: false,
            end_when_silent: false,
            answered: false,
            hung_up_because: None,
        }
    }

    /// Hangs up (or not) when the answered far end sends no RTP for the media engine's
    /// [`crate::media::engine::MediaConfig::rtp_timeout`].
    pub fn end_when_silent(&mut self, end: bool) {
        self.end_when_silent = end;
    }

    /// Takes (or ignores) digits the far end sends by SIP INFO from now on.
    pub fn take_info_digits(&mut self, take: bool) {
        self.info_digits = take;
    }

    /// Calls `f` with every update as it happens, whichever method is waiting (the CLI prints
    /// them; a dialer writes them down).
    pub fn observe(&mut self, f: impl FnMut(&CallUpdate) + Send + 'static) {
        self.observer = Some(Box::new(f));
    }

    /// The call's key within its user agent.
    pub fn key(&self) -> CallKey {
        self.key
    }

    /// What offer/answer agreed, once known.
    pub fn media(&self) -> Option<MediaParams> {
        self.media
    }

    /// The end of the call, once it ended.
    pub fn ended(&self) -> Option<&CallUpdate> {
        self.ended.as_ref()
    }

    /// The next thing that happens; `None` after the call ended.
    pub async fn next_update(&mut self) -> Option<CallUpdate> {
        let update = self.next_update_inner().await;
        if let (Some(update), Some(observer)) = (&update, self.observer.as_mut()) {
            observer(update);
        }
        update
    }

    async fn next_update_inner(&mut self) -> Option<CallUpdate> {
        loop {
            if let Some(update) = self.pending.pop_front() {
                return Some(update);
            }
            if self.ended.is_some() {
                return None;
            }
            let sip = match self.leg.as_mut() {
                Some(leg) => tokio::select! {
                    biased;
                    sip = self.sip.recv() => sip,
                    media = leg.next_event() => {
                        match media.and_then(on_media) {
                            Some(update) => {
                                if update == CallUpdate::RtpTimeout {
                                    self.on_silence();
                                }
                                return Some(update);
                            }
                            None => continue,
                        }
                    }
                },
                None => self.sip.recv().await,
            };
            let Some(event) = sip else {
                let update = CallUpdate::Ended {
                    disposition: Disposition::Failed,
                    status: None,
                    by: Side::Local,
                    reason: Some("the SIP task stopped".into()),
                };
                self.ended = Some(update.clone());
                self.close().await;
                return Some(update);
            };
            if let Some(update) = self.on_sip(event) {
                if matches!(update, CallUpdate::Ended { .. }) {
                    // Keys pressed just before the hang-up come first (a rating followed at
                    // once by the BYE must not be lost), then the end.
                    if let Some(leg) = self.leg.as_mut() {
                        while let Some(event) = leg.try_next_event() {
                            self.pending.extend(on_media(event));
                        }
                    }
                    // Stop media at once; this also finishes a recording.
                    self.close().await;
                    self.pending.push_back(update);
                    continue;
                }
                return Some(update);
            }
        }
    }

    /// The far end sent no RTP for the engine's time-out: a phone gone without a BYE (out of
    /// coverage, a crashed gateway) would otherwise hold the line, a trunk channel and an
    /// agent's wait until the campaign's longest call.
    fn on_silence(&mut self) {
        if !self.end_when_silent || !self.answered || self.hung_up_because.is_some() {
            return;
        }
        let limit = self
            .ua
            .media_engine()
            .config()
            .rtp_timeout
            .unwrap_or_default();
        let why = if limit.as_secs() > 0 {
            format!("no RTP from the far end for {} s; hung up", limit.as_secs())
        } else {
            format!(
                "no RTP from the far end for {} ms; hung up",
                limit.as_millis()
            )
        };
        tracing::info!(call = %self.key, "{why}");
        self.hung_up_because = Some(why);
        let _ = self.ua.send(Command::Hangup(self.key));
    }

    fn on_sip(&mut self, event: SipUpdate) -> Option<CallUpdate> {
        match event {
            CallEvent::Trying => Some(CallUpdate::Trying),
            CallEvent::Ringing => Some(CallUpdate::Ringing),
            CallEvent::EarlyMedia { sdp } => {
                self.connect(&sdp);
                Some(CallUpdate::EarlyMedia)
            }
            CallEvent::Answered { sdp } => {
                if let Some(sdp) = sdp {
                    self.connect(&sdp);
                }
                self.answered = true;
                Some(CallUpdate::Answered)
            }
            CallEvent::Digit(digit) => {
                // Through the media leg's de-duplication, so a digit sent both by INFO and
                // RFC 4733 is reported once; only when INFO digits were asked for.
                if !self.info_digits {
                    tracing::debug!(call = %self.key, %digit, "ignored a SIP INFO digit");
                } else if let Some(leg) = &self.leg {
                    leg.inject_digit(digit, DigitSource::SipInfo);
                }
                None
            }
            CallEvent::RemoteSdp { sdp } => {
                self.connect(&sdp);
                None
            }
            CallEvent::Confirmed | CallEvent::Incoming { .. } => None,
            CallEvent::Ended {
                disposition,
                status,
                by,
                reason,
            } => {
                let update = CallUpdate::Ended {
                    disposition,
                    status,
                    by,
                    reason: self.hung_up_because.clone().or(reason),
                };
                self.ended = Some(update.clone());
                Some(update)
            }
        }
    }

    fn connect(&mut self, sdp: &str) {
        match sdp::parse_answer(sdp) {
            Ok(params) => {
                if self.media != Some(params) {
                    self.media = Some(params);
                    if let Some(leg) = &self.leg {
                        leg.connect(params);
                    }
                }
            }
            Err(err) => {
                // Without media there is nothing to play or hear: end the call rather than
                // leave a silent line (a prompt would wait forever for its end).
                tracing::warn!(call = %self.key, %err, "unusable SDP from the peer; hanging up");
                let _ = self.ua.send(Command::Hangup(self.key));
            }
        }
    }

    /// Waits until the call is answered or ends; true when answered.
    pub async fn wait_answer(&mut self) -> bool {
        while let Some(update) = self.next_update().await {
            if update == CallUpdate::Answered {
                return true;
            }
        }
        false
    }

    /// Plays prompts in order; with `barge_in` a digit stops them (and is kept for
    /// [`Call::collect`]). Digits pressed meanwhile without barge-in are kept too (type-ahead).
    pub async fn play(&mut self, prompts: Vec<Arc<Prompt>>, barge_in: bool) -> PlayEnd {
        if self.ended.is_some() {
            return PlayEnd::HungUp;
        }
        let Some(leg) = &self.leg else {
            return PlayEnd::HungUp;
        };
        leg.play(prompts, barge_in);
        while let Some(update) = self.next_update().await {
            match update {
                CallUpdate::PlayFinished => return PlayEnd::Finished,
                CallUpdate::PlayInterrupted { digit } => return PlayEnd::Interrupted(digit),
                CallUpdate::Digit { digit, .. } => self.typeahead.push_back(digit),
                CallUpdate::Ended { .. } => return PlayEnd::HungUp,
                _ => {}
            }
        }
        PlayEnd::HungUp
    }

    /// Collects digits (type-ahead first) until the count, the terminator or a time-out.
    pub async fn collect(&mut self, collect: Collect) -> Collected {
        let mut digits = String::new();
        loop {
            let next = match self.typeahead.pop_front() {
                Some(digit) => Some(digit),
                None => {
                    if self.ended.is_some() && self.pending.is_empty() {
                        return Collected {
                            digits,
                            end: CollectEnd::HungUp,
                        };
                    }
                    let wait = if digits.is_empty() {
                        collect.first_timeout
                    } else {
                        collect.inter_timeout
                    };
                    match tokio::time::timeout(wait, self.next_digit()).await {
                        Ok(digit) => digit,
                        Err(_) => {
                            return Collected {
                                digits,
                                end: CollectEnd::Timeout,
                            };
                        }
                    }
                }
            };
            let Some(digit) = next else {
                return Collected {
                    digits,
                    end: CollectEnd::HungUp,
                };
            };
            if Some(digit) == collect.terminator {
                return Collected {
                    digits,
                    end: CollectEnd::Terminator,
                };
            }
            digits.push(digit.as_char());
            if digits.len() >= collect.max_digits {
                return Collected {
                    digits,
                    end: CollectEnd::MaxDigits,
                };
            }
        }
    }

    /// The next digit, or `None` when the call ends first.
    async fn next_digit(&mut self) -> Option<Digit> {
        while let Some(update) = self.next_update().await {
            match update {
                CallUpdate::Digit { digit, .. } => return Some(digit),
                CallUpdate::Ended { .. } => return None,
                _ => {}
            }
        }
        None
    }

    /// Records both directions of the call into a WAV file (finished when the call ends).
    pub fn record(&self, path: PathBuf) -> Result<(), UaError> {
        match &self.leg {
            Some(leg) => Ok(leg.start_recording(path)?),
            None => Err(UaError::Ended),
        }
    }

    /// Stops a recording started by [`Call::record`] and finishes its file.
    pub fn stop_recording(&self) -> Result<(), UaError> {
        match &self.leg {
            Some(leg) => Ok(leg.stop_recording()?),
            None => Err(UaError::Ended),
        }
    }

    /// Bridges this call's audio (and telephone-events) with another's, both ways.
    pub fn bridge(&self, other: &Call) {
        if let (Some(a), Some(b)) = (&self.leg, &other.leg) {
            a.bridge(b);
        }
    }

    /// Sends DTMF by RFC 4733 (the phone simulator presses keys this way).
    pub fn send_digits(&self, digits: &[Digit]) {
        if let Some(leg) = &self.leg {
            leg.send_digits(digits, 100);
        }
    }

    /// Sends a DTMF digit by SIP INFO (`application/dtmf-relay`).
    pub fn send_info_digit(&self, digit: Digit) -> Result<(), UaError> {
        self.ua.send(Command::Info {
            call: self.key,
            content_type: "application/dtmf-relay".into(),
            body: format!("Signal={digit}\r\nDuration=160\r\n"),
        })
    }

    /// Hangs up and waits (at most 35 s, the longest a BYE transaction lasts) for the end.
    pub async fn hangup(&mut self) -> Option<CallUpdate> {
        if self.ended.is_none() {
            let _ = self.ua.send(Command::Hangup(self.key));
            let wait = async {
                while let Some(update) = self.next_update().await {
                    if matches!(update, CallUpdate::Ended { .. }) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(35), wait).await;
        }
        self.ended.clone()
    }

    /// Starts playing prompts without waiting: a [`CallUpdate::PlayFinished`] (or
    /// `PlayInterrupted` with `barge_in`) arrives at the end, unless [`Call::stop_playing`]
    /// came first. For audio under something else the caller waits on (hold music while a
    /// queue finds an agent).
    pub fn start_playing(&self, prompts: Vec<Arc<Prompt>>, barge_in: bool) {
        if let Some(leg) = &self.leg {
            leg.play(prompts, barge_in);
        }
    }

    /// Stops whatever is playing or queued to play, without an event.
    pub fn stop_playing(&self) {
        if let Some(leg) = &self.leg {
            leg.stop_playing();
        }
    }

    /// Plays `prompt` over and over (a load generator's call; ends with the call).
    pub fn leg_play_loop(&self, prompt: &Arc<Prompt>) {
        if let Some(leg) = &self.leg {
            leg.play(vec![Arc::clone(prompt); 1000], false);
        }
    }

    /// Releases the media leg, finishing any recording; call after the end.
    pub async fn close(&mut self) {
        if let Some(leg) = self.leg.take() {
            leg.close().await;
        }
    }

    /// Media statistics of this call's leg (none once closed).
    pub fn media_stats(&self) -> Option<MediaStats> {
        self.leg.as_ref().map(MediaLeg::stats)
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if self.ended.is_none() {
            // Never leave a call up because its handle was dropped.
            let _ = self.ua.send(Command::Hangup(self.key));
        }
    }
}

fn on_media(event: MediaEvent) -> Option<CallUpdate> {
    match event {
        MediaEvent::Digit { digit, source } => Some(CallUpdate::Digit { digit, source }),
        MediaEvent::PlayFinished => Some(CallUpdate::PlayFinished),
        MediaEvent::PlayInterrupted(digit) => Some(CallUpdate::PlayInterrupted { digit }),
        MediaEvent::RtpTimeout => Some(CallUpdate::RtpTimeout),
        MediaEvent::RecordingFailed => {
            tracing::warn!("the call recording failed (see earlier messages)");
            None
        }
    }
}

/// An incoming call, not yet answered.
pub struct Incoming {
    /// The From header.
    pub from: String,
    /// The To header.
    pub to: String,
    /// The Request-URI.
    pub uri: String,
    key: CallKey,
    offer: Option<String>,
    /// Taken when the call is answered; still here on drop means nobody answered or rejected.
    updates: Option<mpsc::UnboundedReceiver<SipUpdate>>,
    ua: UserAgent,
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if self.updates.is_some() {
            // Dropped undecided: free the caller now instead of letting it ring until it
            // gives up (480 Temporarily Unavailable; harmless if the call already ended).
            let _ = self.ua.send(Command::Reject(self.key, 480));
        }
    }
}

pub(crate) struct IncomingRaw {
    pub(crate) key: CallKey,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) uri: String,
    pub(crate) offer: Option<String>,
    pub(crate) updates: mpsc::UnboundedReceiver<SipUpdate>,
}

impl Incoming {
    pub(super) fn new(raw: IncomingRaw, ua: UserAgent) -> Incoming {
        Incoming {
            from: raw.from,
            to: raw.to,
            uri: raw.uri,
            key: raw.key,
            offer: raw.offer,
            updates: Some(raw.updates),
            ua,
        }
    }

    /// Sends 180 Ringing.
    pub fn ring(&self) {
        let _ = self.ua.send(Command::Ring(self.key));
    }

    /// Refuses the call (486 busy, 603 decline, ...).
    pub fn reject(mut self, status: u16) {
        self.updates = None;
        let _ = self.ua.send(Command::Reject(self.key, status));
    }

    /// Whether the caller gave up (CANCEL) while we were deciding.
    pub fn cancelled(&mut self) -> bool {
        matches!(
            self.updates.as_mut().map(|u| u.try_recv()),
            Some(Ok(CallEvent::Ended { .. }))
        )
    }

    /// Waits until the caller gives up (CANCEL) or the call otherwise ends, without answering:
    /// a phone that only rings.
    pub async fn wait_end(&mut self) {
        let Some(updates) = self.updates.as_mut() else {
            return;
        };
        while let Some(event) = updates.recv().await {
            if matches!(event, CallEvent::Ended { .. }) {
                self.updates = None;
                return;
            }
        }
    }

    /// Answers with our SDP; fails when the offer has nothing we can use (488 is sent).
    pub async fn answer(mut self) -> Result<Call, UaError> {
        let leg = self.ua.media_engine().open().await?;
        let Some(offer) = self.offer.as_deref() else {
            // Late offer (INVITE without SDP) is not supported: say so clearly.
            self.updates = None;
            let _ = self.ua.send(Command::Reject(self.key, 488));
            return Err(UaError::NoOffer);
        };
        let (answer, params) = match sdp::answer(offer, leg.local_addr(), super::session_id(), 1) {
            Ok(answer) => answer,
            Err(err) => {
                self.updates = None;
                let _ = self.ua.send(Command::Reject(self.key, 488));
                return Err(UaError::Sdp(err));
            }
        };
        let (reply, done) = oneshot::channel();
        self.ua.send(Command::Answer {
            call: self.key,
            sdp: answer,
            reply,
        })?;
        done.await.map_err(|_| UaError::Stopped)??;
        leg.connect(params);
        let updates = self.updates.take().ok_or(UaError::Ended)?;
        let mut call = Call::new(self.key, self.ua.clone(), updates, leg);
        call.media = Some(params);
        call.answered = true;
        Ok(call)
    }
}
