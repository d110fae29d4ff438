//! One call leg as the sender thread sees it: its play queue, digits, bridge relay and
//! recording, and what each 20 ms tick sends and each datagram received does.

use super::*;

/// One play request and where it is.
pub(super) struct PlayRequest {
    pub(super) prompts: Vec<Arc<Prompt>>,
    pub(super) prompt: usize,
    pub(super) frame: usize,
    pub(super) barge_in: bool,
}

/// Everything of a leg the sender thread and the owner's calls share.
pub(super) struct LegState {
    pub(super) params: Option<MediaParams>,
    pub(super) sender: RtpSender,
    pub(super) plays: VecDeque<PlayRequest>,
    pub(super) tones_out: VecDeque<i16>,
    pub(super) relay: VecDeque<u8>,
    pub(super) peer: Option<Weak<Leg>>,
    pub(super) recorder: Option<CallRecorder>,
    pub(super) dtmf_rx: TelephoneEventReceiver,
    pub(super) inband: InBandDetector,
    pub(super) dedup: DigitDeduper,
    pub(super) stats: MediaStats,
    pub(super) last_rx: Option<Instant>,
    pub(super) connected_at: Option<Instant>,
    pub(super) timeout_reported: bool,
    pub(super) decoded: Vec<i16>,
    /// The source (address and port) and SSRC the leg latched on to: the first valid packet
    /// from the negotiated address after [`MediaLeg::connect`]. Only this stream is heard
    /// until the next connect (a re-INVITE we accepted), as Asterisk's `strictrtp` does.
    pub(super) latched: Option<(SocketAddr, u32)>,
}

impl LegState {
    pub(super) fn new(sender: RtpSender, config: MediaConfig) -> LegState {
        LegState {
            params: None,
            sender,
            plays: VecDeque::new(),
            tones_out: VecDeque::new(),
            relay: VecDeque::new(),
            peer: None,
            recorder: None,
            dtmf_rx: TelephoneEventReceiver::new(None),
            inband: InBandDetector::new(),
            dedup: DigitDeduper::new(config.dedup_window),
            stats: MediaStats::default(),
            last_rx: None,
            connected_at: None,
            timeout_reported: false,
            decoded: Vec::with_capacity(FRAME),
            latched: None,
        }
    }

    /// Queues digits as RFC 4733 if negotiated, else as tones in the audio.
    pub(super) fn queue_digits(&mut self, digits: &[Digit], duration_ms: u32) {
        if self.sender.queue_digits(digits, duration_ms, DIGIT_GAP_MS) {
            return;
        }
        for &d in digits {
            let n = (duration_ms.max(40) * 8) as usize;
            self.tones_out
                .extend(inband::dtmf_tone(d, 0, n, TONE_AMPLITUDE));
            self.tones_out
                .extend(std::iter::repeat_n(0, (DIGIT_GAP_MS * 8) as usize));
        }
    }

    /// The next prompt frame, finishing requests (and telling the owner) as they end.
    pub(super) fn next_prompt_frame(
        &mut self,
        codec: Codec,
        events: &mpsc::UnboundedSender<MediaEvent>,
    ) -> Option<[u8; FRAME]> {
        loop {
            let req = self.plays.front_mut()?;
            let Some(prompt) = req.prompts.get(req.prompt) else {
                self.plays.pop_front();
                let _ = events.send(MediaEvent::PlayFinished);
                continue;
            };
            if let Some(frame) = prompt.frame(codec, req.frame) {
                req.frame += 1;
                return frame.try_into().ok();
            }
            req.prompt += 1;
            req.frame = 0;
        }
    }

    /// This tick's audio frame in `codec`, by priority (see the module docs).
    pub(super) fn next_frame(
        &mut self,
        codec: Codec,
        events: &mpsc::UnboundedSender<MediaEvent>,
    ) -> [u8; FRAME] {
        if !self.tones_out.is_empty() {
            let n = self.tones_out.len().min(FRAME);
            let mut pcm = [0i16; FRAME];
            for (dst, src) in pcm.iter_mut().zip(self.tones_out.drain(..n)) {
                *dst = src;
            }
            let mut out = Vec::with_capacity(FRAME);
            g711::encode(codec, &pcm, &mut out);
            return out.try_into().unwrap_or([g711::silence(codec); FRAME]);
        }
        if let Some(frame) = self.next_prompt_frame(codec, events) {
            self.relay.clear();
            return frame;
        }
        let mut frame = [g711::silence(codec); FRAME];
        let n = self.relay.len().min(FRAME);
        for (dst, src) in frame.iter_mut().zip(self.relay.drain(..n)) {
            *dst = src;
        }
        frame
    }
}

/// One call leg as the engine's threads see it.
pub(super) struct Leg {
    pub(super) slot: usize,
    pub(super) local: SocketAddr,
    pub(super) socket: super::ports::PooledSocket,
    pub(super) events: mpsc::UnboundedSender<MediaEvent>,
    pub(super) config: MediaConfig,
    pub(super) state: Mutex<LegState>,
}

impl Leg {
    /// One 20 ms tick on the sender thread, scheduled at `scheduled`.
    pub(super) fn tick(&self, scheduled: Instant, jitter: &JitterHistogram) {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        let Some(params) = st.params else { return };
        let codec = params.codec;
        // Symmetric RTP: once latched, answer where the peer really sends from (a NAT's
        // mapping) rather than what its SDP said.
        let to = match st.latched {
            Some((source, _)) if self.config.symmetric_rtp => source,
            _ => params.remote,
        };
        let frame = st.next_frame(codec, &self.events);
        let stats = &mut st.stats;
        let sent = st.sender.tick(Some(&frame), |packet| {
            match self.socket.send_to(packet, to) {
                Ok(_) => {
                    stats.packets_sent += 1;
                    jitter.record(Instant::now().saturating_duration_since(scheduled));
                }
                Err(_) => stats.send_errors += 1,
            }
        });
        if let Some(rec) = st.recorder.as_mut() {
            let mut pcm = Vec::with_capacity(FRAME);
            if sent == Sent::Audio {
                g711::decode(codec, &frame, &mut pcm);
            } else {
                pcm.resize(FRAME, 0);
            }
            if let Err(e) = rec.write_tick(&pcm) {
                tracing::warn!(error = %e, "recording stopped");
                st.recorder = None;
                let _ = self.events.send(MediaEvent::RecordingFailed);
            }
        }
        self.check_timeout(st, scheduled);
    }

    pub(super) fn check_timeout(&self, st: &mut LegState, now: Instant) {
        let (Some(limit), Some(since)) = (self.config.rtp_timeout, st.last_rx.or(st.connected_at))
        else {
            return;
        };
        if !st.timeout_reported && now.saturating_duration_since(since) > limit {
            st.timeout_reported = true;
            let _ = self.events.send(MediaEvent::RtpTimeout);
        }
    }

    /// Reads what arrived since the last tick (non-blocking), on the sender thread. A leg not
    /// connected yet is not read: it would only drop what it read, and what waits is read (and
    /// filtered) once the peer's address is known.
    pub(super) fn drain(&self, buf: &mut [u8]) {
        if lock(&self.state).params.is_none() {
            return;
        }
        for _ in 0..MAX_READS_PER_TICK {
            match self.socket.recv_from(buf) {
                Ok((n, from)) => self.on_datagram(&buf[..n], from, Instant::now()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // ICMP errors surface here on some systems; the next tick reads on.
                    tracing::debug!(error = %e, local = %self.local, "RTP receive error");
                    return;
                }
            }
        }
    }

    /// One datagram received from `from`.
    pub(super) fn on_datagram(&self, data: &[u8], from: SocketAddr, now: Instant) {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        if !st.params.is_none_or(|p| from_peer(p.remote, from)) {
            st.stats.foreign += 1;
            return;
        }
        let Ok(packet) = RtpPacket::parse(data) else {
            st.stats.malformed += 1;
            return;
        };
        if st.params.is_none() {
            return;
        }
        let header = packet.header;
        match st.latched {
            None => st.latched = Some((from, header.ssrc)),
            Some(stream) if stream == (from, header.ssrc) => {}
            Some(_) => {
                // Right IP, but another port or SSRC than the stream we hear: not the peer's.
                st.stats.unlatched += 1;
                return;
            }
        }
        st.stats.packets_received += 1;
        st.last_rx = Some(now);
        st.timeout_reported = false;
        if st.dtmf_rx.is_event(&header, packet.payload) {
            let digit = st.dtmf_rx.on_packet(&header, packet.payload);
            let reported = digit.filter(|&d| self.report_digit(st, d, DigitSource::Rfc4733, now));
            let peer = st.peer.as_ref().and_then(Weak::upgrade);
            drop(guard);
            if let (Some(d), Some(peer)) = (reported, peer) {
                lock(&peer.state).queue_digits(&[d], RELAYED_DIGIT_MS);
            }
            return;
        }
        let Some(codec) = Codec::from_payload_type(header.payload_type) else {
            st.stats.ignored += 1;
            return;
        };
        let mut decoded = std::mem::take(&mut st.decoded);
        decoded.clear();
        g711::decode(codec, packet.payload, &mut decoded);
        if self.config.inband_dtmf {
            let mut heard = Vec::new();
            st.inband.push(&decoded, |d| heard.push(d));
            for d in heard {
                self.report_digit(st, d, DigitSource::InBand, now);
            }
        }
        if let Some(rec) = st.recorder.as_mut() {
            rec.push_received(header.timestamp, &decoded);
        }
        st.decoded = decoded;
        let peer = st.peer.as_ref().and_then(Weak::upgrade);
        drop(guard);
        if let Some(peer) = peer {
            peer.relay_in(codec, packet.payload);
        }
    }

    /// Audio from the bridged peer, to be sent in our codec.
    pub(super) fn relay_in(&self, from: Codec, payload: &[u8]) {
        let mut st = lock(&self.state);
        let Some(to) = st.params.map(|p| p.codec) else {
            return;
        };
        let mut bytes = payload.to_vec();
        g711::transcode(from, to, &mut bytes);
        st.relay.extend(bytes);
        let excess = st.relay.len().saturating_sub(MAX_RELAY);
        st.relay.drain(..excess);
    }

    /// Dedups a digit and tells the owner; handles barge-in. Returns whether it was new.
    pub(super) fn report_digit(
        &self,
        st: &mut LegState,
        digit: Digit,
        source: DigitSource,
        now: Instant,
    ) -> bool {
        if !st.dedup.offer(digit, source, now) {
            return false;
        }
        st.stats.digits += 1;
        let _ = self.events.send(MediaEvent::Digit { digit, source });
        if st.plays.front().is_some_and(|p| p.barge_in) {
            st.plays.clear();
            let _ = self.events.send(MediaEvent::PlayInterrupted(digit));
        }
        true
    }
}

/// Whether a datagram from `from` may be the peer's, whose negotiated address is `remote`: same
/// IP address (any port: not every peer sends from the port it advertises). An unspecified
/// `remote` (`0.0.0.0`, a hold) filters nothing.
pub(super) fn from_peer(remote: SocketAddr, from: SocketAddr) -> bool {
    let (remote, from) = (canonical(remote.ip()), canonical(from.ip()));
    remote.is_unspecified() || remote == from
}

/// IPv4-mapped IPv6 addresses (a dual-stack socket's view of IPv4 peers) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}
