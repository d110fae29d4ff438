//! The media engine: every RTP socket and media timer of the process.
//!
//! # API (what the transport uses)
//! ```text
//! MediaEngine::new(ip: IpAddr) -> MediaEngine                       // Clone; no I/O yet
//! MediaEngine::with_config(ip: IpAddr, config: MediaConfig) -> MediaEngine
//! MediaEngine::open(&self) -> Result<MediaLeg, MediaError>  (async) // a pooled port
//! MediaEngine::send_jitter(&self) -> JitterSummary                  // p50/p99/max µs
//! MediaEngine::reset_send_jitter(&self)
//! MediaEngine::leg_count(&self) -> usize
//!
//! MediaLeg::local_addr(&self) -> SocketAddr                         // for the SDP
//! MediaLeg::connect(&self, params: MediaParams)                     // start; again = re-INVITE
//! MediaLeg::play(&self, prompts: Vec<Arc<Prompt>>, barge_in: bool)  // queued after earlier plays
//! MediaLeg::stop_playing(&self)                                     // clears the queue, no event
//! MediaLeg::is_playing(&self) -> bool
//! MediaLeg::send_digits(&self, digits: &[Digit], duration_ms: u32)  // RFC 4733, else in-band
//! MediaLeg::start_recording(&self, path: PathBuf) -> Result<(), MediaError>
//! MediaLeg::stop_recording(&self) -> Result<(), MediaError>
//! MediaLeg::bridge(&self, other: &MediaLeg) / unbridge(&self)
//! MediaLeg::inject_digit(&self, digit: Digit, source: DigitSource)  // SIP INFO digits
//! MediaLeg::next_event(&mut self) -> Option<MediaEvent>  (async)
//! MediaLeg::stats(&self) -> MediaStats
//! MediaLeg::close(self)  (async)                                    // or drop
//!
//! MediaEvent::{Digit { digit, source }, PlayFinished, PlayInterrupted(Digit), RtpTimeout,
//!              RecordingFailed}
//! DigitSource::{Rfc4733, SipInfo, InBand}
//! ```
//!
//! # Behaviour
//! - **Sending**: one std thread for all legs. The 20 ms period is cut in [`SLOTS`] slots;
//!   each leg belongs to one slot and is sent at `start + n·20 ms + slot·0.5 ms` (absolute
//!   deadlines, no drift), so 2,000 legs are 50 sends per slot rather than 2,000 in a burst.
//!   Send jitter (actual − scheduled) of every packet goes to a histogram. The thread asks
//!   for real-time scheduling, as media servers do (see [`priority`]).
//! - **What a connected leg sends**, in priority: RFC 4733 digits being sent; in-band digit
//!   tones (when no telephone-event type was negotiated); the play queue; the bridged peer's
//!   audio; otherwise **comfort silence**: the stream never pauses, so NAT bindings and
//!   trunks' RTP timeouts stay happy and the marker bit is set once, on the first packet.
//!   We always send 20 ms frames whatever `ptime` says; we accept any frame size.
//! - **Ports**: a leg's socket comes from a pool of ports bound once and reused across calls
//!   (oldest idle first, emptied of stale datagrams); an ended leg's port goes back to it.
//!   See [`ports`].
//! - **Source filtering**: a connected leg hears only its peer: datagrams from another IP
//!   address than the negotiated one are dropped (counted in [`MediaStats::foreign`]), so a
//!   host that finds an open port cannot inject audio or digits. Then the leg **latches** on
//!   to the first valid packet's source port and SSRC (Asterisk's `strictrtp`): packets
//!   from the same IP but another port or SSRC are dropped ([`MediaStats::unlatched`]) until
//!   the next [`MediaLeg::connect`] (a re-INVITE we accepted) latches afresh. Peers that
//!   send from another port than they advertise still work (the port is learnt, not
//!   checked against the SDP); [`MediaConfig::symmetric_rtp`] sends back to it. A peer
//!   address left unspecified (`0.0.0.0`, a hold) filters no IP; a leg not connected yet is
//!   not read at all.
//! - **Receiving**: no task per leg: after sending a slot, the same thread reads each of its
//!   connected legs' sockets until `WouldBlock` (non-blocking `recv_from`). That costs no wake-ups or
//!   epoll per packet; a packet waits at most one 20 ms period before it is processed.
//!   PCMU and PCMA are decoded by payload type whatever was negotiated; telephone-events are
//!   taken only on the negotiated payload type (none negotiated: none taken); in-band DTMF
//!   is detected on the audio.
//!   Digits from the three sources (and [`MediaLeg::inject_digit`]) go through one
//!   [`DigitDeduper`] per leg: each press becomes one [`MediaEvent::Digit`].
//! - **Barge-in**: a digit while the current play request has `barge_in` clears the whole
//!   play queue and emits [`MediaEvent::PlayInterrupted`] right after the digit's own
//!   [`MediaEvent::Digit`] (the digit is reported once; the interrupt says which one).
//!   Each `play` call ends with exactly one `PlayFinished` or one `PlayInterrupted`, except
//!   that [`MediaLeg::stop_playing`] and close end plays silently.
//! - **Bridge**: audio received on one leg is transcoded (PCMU↔PCMA) into the other leg's
//!   codec and sent by the other leg at its own pace (a 20–100 ms relay buffer absorbs
//!   jitter). RFC 4733 digits received on one leg are reported there *and* regenerated on the
//!   other (as RFC 4733, or in-band tones if that side has no telephone-event); in-band digits
//!   travel inside the audio anyway. A play on a bridged leg is heard instead of the peer.
//! - **Recording**: see [`super::recorder`] (stereo, left = received, right = sent).

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::prompt::{FRAME, Prompt};
use super::recorder::{CallRecorder, RecordError};
use crate::rtp::dedup::DigitDeduper;
use crate::rtp::dtmf::TelephoneEventReceiver;
use crate::rtp::g711;
use crate::rtp::inband::{self, InBandDetector};
use crate::rtp::packet::RtpPacket;
use crate::rtp::sender::{RtpSender, Sent};
use crate::{Codec, Digit, MediaParams};

pub use crate::rtp::dedup::DigitSource;

/// Send slots per 20 ms period (0.5 ms apart).
pub const SLOTS: usize = 40;
const PERIOD: Duration = Duration::from_millis(20);
const SLOT_LEN: Duration = Duration::from_micros(500);
/// Audio between two digits we send.
const DIGIT_GAP_MS: u32 = 100;
/// Level of each tone of in-band digits we generate (about -10 dBm0).
const TONE_AMPLITUDE: f32 = 6000.0;
/// Duration of digits regenerated across a bridge.
const RELAYED_DIGIT_MS: u32 = 100;
/// Datagrams read per leg per tick (a burst beyond waits for the next tick).
const MAX_READS_PER_TICK: usize = 16;
/// Most bridged audio waiting to be sent (100 ms).
const MAX_RELAY: usize = 800;
/// Histogram resolution and range.
const BUCKET_US: u64 = 10;
const BUCKETS: usize = 10_000;
/// Most idle RTP sockets the engine keeps for reuse.
const MAX_IDLE_PORTS: usize = 4096;

/// Tunables of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaConfig {
    /// Emit [`MediaEvent::RtpTimeout`] when a connected leg hears nothing this long.
    pub rtp_timeout: Option<Duration>,
    /// Copies of one digit from different sources within this window are one press.
    pub dedup_window: Duration,
    /// Run the Goertzel detector on received audio.
    pub inband_dtmf: bool,
    /// Ask for real-time scheduling of the sender thread (see [`priority`]).
    pub realtime: bool,
    /// Send to the address the peer's latched stream comes from rather than its SDP's (for
    /// peers behind NAT); off by default: a trunk sends from where its SDP says.
    pub symmetric_rtp: bool,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            rtp_timeout: Some(Duration::from_secs(30)),
            dedup_window: Duration::from_millis(800),
            inband_dtmf: true,
            realtime: true,
            symmetric_rtp: false,
        }
    }
}

/// Why the engine could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// No UDP port could be bound on the media IP.
    #[error("cannot bind an RTP socket on {ip}: {source}")]
    Bind {
        /// The media IP.
        ip: IpAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The recording file could not be created or finalised.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// What a leg tells its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// A key press, reported once whichever ways it arrived.
    Digit {
        /// The key.
        digit: Digit,
        /// The first way it arrived.
        source: DigitSource,
    },
    /// A `play` request played to its end.
    PlayFinished,
    /// A barge-in digit stopped the play queue (the digit itself was reported just before).
    PlayInterrupted(Digit),
    /// No RTP received for [`MediaConfig::rtp_timeout`] (reported once until RTP resumes).
    RtpTimeout,
    /// Writing the recording failed; recording stopped (details in the log).
    RecordingFailed,
}

/// Counters of one leg.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// RTP packets sent.
    pub packets_sent: u64,
    /// Datagrams received that parsed as RTP.
    pub packets_received: u64,
    /// Datagrams from another address than the peer's, dropped unread.
    pub foreign: u64,
    /// RTP from the peer's address but another port or SSRC than the stream latched on to,
    /// dropped.
    pub unlatched: u64,
    /// Datagrams that did not parse as RTP.
    pub malformed: u64,
    /// Packets with a payload type that is neither G.711 nor a telephone-event.
    pub ignored: u64,
    /// `send_to` failures (buffer full, unreachable).
    pub send_errors: u64,
    /// Digits reported.
    pub digits: u64,
}

/// Send-timing quantiles, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterSummary {
    /// Packets measured.
    pub count: u64,
    /// Median lateness (10 µs resolution).
    pub p50_us: u64,
    /// 99th percentile lateness (10 µs resolution).
    pub p99_us: u64,
    /// Worst lateness (exact).
    pub max_us: u64,
}

/// Lateness histogram written by the sender thread, read by anyone.
struct JitterHistogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    max_us: AtomicU64,
}

impl JitterHistogram {
    fn new() -> Self {
        JitterHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }

    fn record(&self, late: Duration) {
        let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        let i = usize::try_from(us / BUCKET_US)
            .unwrap_or(BUCKETS - 1)
            .min(BUCKETS - 1);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    fn summary(&self) -> JitterSummary {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let quantile = |q: f64| {
            let rank = ((total as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return i as u64 * BUCKET_US;
                }
            }
            0
        };
        JitterSummary {
            count: total,
            p50_us: quantile(0.50),
            p99_us: quantile(0.99),
            max_us: self.max_us.load(Ordering::Relaxed),
        }
    }

    fn reset(&self) {
        self.buckets
            .iter()
            .for_each(|b| b.store(0, Ordering::Relaxed));
        self.count.store(0, Ordering::Relaxed);
        self.max_us.store(0, Ordering::Relaxed);
    }
}

/// The media engine; cheap to clone.
#[derive(Clone)]
pub struct MediaEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MediaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaEngine")
            .field("ip", &self.inner.ip)
            .field("legs", &self.leg_count())
            .finish()
    }
}

struct Inner {
    ip: IpAddr,
    ports: Arc<ports::PortPool>,
    config: MediaConfig,
    slots: Vec<Mutex<Vec<Arc<Leg>>>>,
    next_slot: AtomicUsize,
    jitter: JitterHistogram,
    sender_thread: OnceLock<()>,
    /// What [`priority::raise`] obtained for the sender thread, once it started.
    sender_priority: OnceLock<priority::Priority>,
    random: std::collections::hash_map::RandomState,
    random_counter: AtomicU64,
}

impl Inner {
    fn random(&self) -> u64 {
        let mut h = self.random.build_hasher();
        h.write_u64(self.random_counter.fetch_add(1, Ordering::Relaxed));
        h.finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // State stays consistent across a panic in a holder (no multi-step invariants span one).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MediaEngine {
    /// An engine binding RTP sockets on `ip`; sockets and the sender thread start with the
    /// first [`MediaEngine::open`].
    pub fn new(ip: IpAddr) -> MediaEngine {
        MediaEngine::with_config(ip, MediaConfig::default())
    }

    /// The tunables it runs with.
    pub fn config(&self) -> MediaConfig {
        self.inner.config
    }

    /// Same, with explicit tunables.
    pub fn with_config(ip: IpAddr, config: MediaConfig) -> MediaEngine {
        MediaEngine {
            inner: Arc::new(Inner {
                ip,
                ports: ports::PortPool::new(ip, MAX_IDLE_PORTS),
                config,
                slots: (0..SLOTS).map(|_| Mutex::new(Vec::new())).collect(),
                next_slot: AtomicUsize::new(0),
                jitter: JitterHistogram::new(),
                sender_thread: OnceLock::new(),
                sender_priority: OnceLock::new(),
                random: std::collections::hash_map::RandomState::new(),
                random_counter: AtomicU64::new(0),
            }),
        }
    }

    /// Opens a leg on a port of the pool (bound on `ip:0` when none is idle); the sender thread
    /// sends and reads it.
    pub async fn open(&self) -> Result<MediaLeg, MediaError> {
        let ip = self.inner.ip;
        let socket = self
            .inner
            .ports
            .take()
            .map_err(|source| MediaError::Bind { ip, source })?;
        let local = socket.local_addr();
        let (events_tx, events) = mpsc::unbounded_channel();
        let (r1, r2) = (self.inner.random(), self.inner.random());
        let slot = self.inner.next_slot.fetch_add(1, Ordering::Relaxed) % SLOTS;
        let leg = Arc::new(Leg {
            slot,
            local,
            socket,
            events: events_tx,
            config: self.inner.config,
            state: Mutex::new(LegState::new(
                RtpSender::new(r1 as u32, (r1 >> 32) as u16, r2 as u32, Codec::Pcmu, None),
                self.inner.config,
            )),
        });
        lock(&self.inner.slots[slot]).push(Arc::clone(&leg));
        self.start_sender();
        Ok(MediaLeg {
            leg,
            inner: Arc::clone(&self.inner),
            events,
            open: true,
        })
    }

    fn start_sender(&self) {
        self.inner.sender_thread.get_or_init(|| {
            let weak = Arc::downgrade(&self.inner);
            let realtime = self.inner.config.realtime;
            thread::Builder::new()
                .name("rtp-sender".into())
                .spawn(move || {
                    let got = if realtime {
                        priority::raise()
                    } else {
                        priority::Priority::Normal
                    };
                    if let Some(inner) = weak.upgrade() {
                        let _ = inner.sender_priority.set(got);
                    }
                    sender_loop(weak)
                })
                .expect("spawning the RTP sender thread");
        });
    }

    /// The scheduling the sender thread runs with (`None` before the first leg opened).
    pub fn sender_priority(&self) -> Option<priority::Priority> {
        self.inner.sender_priority.get().copied()
    }

    /// Send-timing quantiles since the start or the last reset.
    pub fn send_jitter(&self) -> JitterSummary {
        self.inner.jitter.summary()
    }

    /// Forgets the jitter measured so far (after a benchmark's warm-up).
    pub fn reset_send_jitter(&self) {
        self.inner.jitter.reset();
    }

    /// RTP ports bound and waiting for a call.
    pub fn idle_ports(&self) -> usize {
        self.inner.ports.idle_count()
    }

    /// Legs open now.
    pub fn leg_count(&self) -> usize {
        self.inner.slots.iter().map(|s| lock(s).len()).sum()
    }
}

/// The sender thread: walks the slots on absolute deadlines until the engine is dropped.
fn sender_loop(weak: Weak<Inner>) {
    let start = Instant::now();
    let mut period: u32 = 0;
    let mut buf = vec![0u8; 2048];
    loop {
        let base = start + PERIOD * period;
        let mut worked = false;
        for slot in 0..SLOTS {
            let deadline = base + SLOT_LEN * slot as u32;
            {
                let Some(inner) = weak.upgrade() else { return };
                // An empty slot costs no wake-up: an idle engine (or one with a few calls)
                // sleeps through to its next leg instead of waking 2,000 times a second. A leg
                // added to a slot already skipped starts one period later.
                if lock(&inner.slots[slot]).is_empty() {
                    continue;
                }
            }
            worked = true;
            let now = Instant::now();
            if deadline > now {
                thread::sleep(deadline - now);
            }
            let Some(inner) = weak.upgrade() else { return };
            let legs: Vec<Arc<Leg>> = lock(&inner.slots[slot]).clone();
            for leg in &legs {
                leg.tick(deadline, &inner.jitter);
            }
            // Receive after sending, so reading never delays a send of this slot.
            for leg in &legs {
                leg.drain(&mut buf);
            }
        }
        period = period.wrapping_add(1);
        if !worked {
            // Nothing to send this period: wait for the next instead of spinning over it.
            let next = start + PERIOD * period;
            let now = Instant::now();
            if next > now {
                thread::sleep(next - now);
            }
        }
        // After a long stall (suspended VM, debugger) resume on the clock instead of bursting.
        let behind = Instant::now().saturating_duration_since(start + PERIOD * period);
        if behind > PERIOD * 5 {
            period += (behind.as_millis() / PERIOD.as_millis()) as u32;
        }
    }
}

/// One call's media: a UDP socket, what it plays, hears, records and relays.
pub struct MediaLeg {
    leg: Arc<Leg>,
    inner: Arc<Inner>,
    events: mpsc::UnboundedReceiver<MediaEvent>,
    open: bool,
}

impl std::fmt::Debug for MediaLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaLeg")
            .field("local", &self.leg.local)
            .finish_non_exhaustive()
    }
}

impl MediaLeg {
    /// The bound RTP address, for the SDP.
    pub fn local_addr(&self) -> SocketAddr {
        self.leg.local
    }

    /// Starts (or, after a re-INVITE, changes) the stream toward the peer.
    pub fn connect(&self, params: MediaParams) {
        let mut st = lock(&self.leg.state);
        st.params = Some(params);
        st.sender.renegotiate(params.codec, params.dtmf_pt);
        st.dtmf_rx = TelephoneEventReceiver::new(params.dtmf_pt);
        st.connected_at = Some(Instant::now());
        // A new (or renegotiated) session: latch afresh on its first valid packet.
        st.latched = None;
    }

    /// Queues prompts to play in order; ends with one `PlayFinished` or `PlayInterrupted`.
    pub fn play(&self, prompts: Vec<Arc<Prompt>>, barge_in: bool) {
        lock(&self.leg.state).plays.push_back(PlayRequest {
            prompts,
            prompt: 0,
            frame: 0,
            barge_in,
        });
    }

    /// Stops and forgets every queued play, without an event.
    pub fn stop_playing(&self) {
        lock(&self.leg.state).plays.clear();
    }

    /// Whether a play request is queued or playing.
    pub fn is_playing(&self) -> bool {
        !lock(&self.leg.state).plays.is_empty()
    }

    /// Presses keys toward the peer (the phone simulator): RFC 4733 when the peer offered a
    /// telephone-event type, in-band tones otherwise; `duration_ms` per key, 100 ms apart.
    /// Call after [`MediaLeg::connect`].
    pub fn send_digits(&self, digits: &[Digit], duration_ms: u32) {
        lock(&self.leg.state).queue_digits(digits, duration_ms);
    }

    /// Records the call to `path` from now on (replacing an earlier recording, which is
    /// finalised); finalised by [`MediaLeg::stop_recording`] or close.
    pub fn start_recording(&self, path: PathBuf) -> Result<(), MediaError> {
        let rec = CallRecorder::create(&path)?;
        let old = lock(&self.leg.state).recorder.replace(rec);
        if let Some(old) = old {
            old.finalize()?;
        }
        Ok(())
    }

    /// Stops recording and finalises the file.
    pub fn stop_recording(&self) -> Result<(), MediaError> {
        let rec = lock(&self.leg.state).recorder.take();
        if let Some(rec) = rec {
            rec.finalize()?;
        }
        Ok(())
    }

    /// Relays audio (and RFC 4733 digits) both ways between this leg and `other`, ending any
    /// earlier bridge of either.
    pub fn bridge(&self, other: &MediaLeg) {
        self.unbridge();
        other.unbridge();
        for (a, b) in [(&self.leg, &other.leg), (&other.leg, &self.leg)] {
            let mut st = lock(&a.state);
            st.peer = Some(Arc::downgrade(b));
            st.relay.clear();
        }
    }

    /// Ends the bridge, on both sides.
    pub fn unbridge(&self) {
        let peer = {
            let mut st = lock(&self.leg.state);
            st.relay.clear();
            st.peer.take().and_then(|w| w.upgrade())
        };
        if let Some(peer) = peer {
            let mut st = lock(&peer.state);
            if st
                .peer
                .as_ref()
                .is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.leg)))
            {
                st.peer = None;
                st.relay.clear();
            }
        }
    }

    /// A digit heard by signalling (SIP INFO), deduplicated with the RTP ones.
    pub fn inject_digit(&self, digit: Digit, source: DigitSource) {
        let mut st = lock(&self.leg.state);
        self.leg
            .report_digit(&mut st, digit, source, Instant::now());
    }

    /// The next event; waits. Never `None` while the leg is open.
    pub async fn next_event(&mut self) -> Option<MediaEvent> {
        self.events.recv().await
    }

    /// An event if one is waiting.
    pub fn try_next_event(&mut self) -> Option<MediaEvent> {
        self.events.try_recv().ok()
    }

    /// Counters so far.
    pub fn stats(&self) -> MediaStats {
        lock(&self.leg.state).stats
    }

    /// Stops sending and receiving, finalises the recording and ends the bridge. The socket
    /// closes once the sender thread has let go of the leg (within one tick).
    pub async fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.open = false;
        lock(&self.inner.slots[self.leg.slot]).retain(|l| !Arc::ptr_eq(l, &self.leg));
        self.unbridge();
        let rec = {
            let mut st = lock(&self.leg.state);
            st.plays.clear();
            st.params = None;
            st.recorder.take()
        };
        if let Some(Err(e)) = rec.map(CallRecorder::finalize) {
            tracing::warn!(error = %e, "finalising a recording");
        }
    }
}

impl Drop for MediaLeg {
    fn drop(&mut self) {
        if self.open {
            self.shutdown();
        }
    }
}

mod leg;
mod ports;
pub mod priority;

use leg::{Leg, LegState, PlayRequest};

#[cfg(test)]
mod tests;
