//! Two endpoints wired together on virtual time: the sans-IO core end to end.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::sip::Disposition;

pub(super) struct Pair {
    pub(super) now: Instant,
    pub(super) a: Endpoint,
    pub(super) b: Endpoint,
    /// Drop the first n messages from a to b (loss).
    pub(super) drop_a_to_b: usize,
    /// Selective loss: messages whose first line starts with a prefix.
    pub(super) drops: Vec<DropRule>,
    /// Every message sent, whole, in order.
    pub(super) log: Vec<String>,
    /// The transport of every message sent.
    pub(super) transports: Vec<Transport>,
}

/// Loses `times` messages (`usize::MAX`: all) from a (or b) starting with `prefix`.
pub(super) struct DropRule {
    pub(super) from_a: bool,
    pub(super) prefix: &'static str,
    pub(super) times: usize,
}

impl DropRule {
    pub(super) fn a(prefix: &'static str, times: usize) -> DropRule {
        DropRule {
            from_a: true,
            prefix,
            times,
        }
    }

    pub(super) fn b(prefix: &'static str, times: usize) -> DropRule {
        DropRule {
            from_a: false,
            prefix,
            times,
        }
    }
}

pub(super) fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Pair {
    pub(super) fn new() -> Pair {
        Pair {
            now: Instant::now(),
            a: Endpoint::new(EndpointConfig::new(addr(5060)), 1),
            b: Endpoint::new(EndpointConfig::new(addr(5080)), 2),
            drop_a_to_b: 0,
            drops: Vec::new(),
            log: Vec::new(),
            transports: Vec::new(),
        }
    }

    /// Logs a message and says whether the network loses it.
    fn lost(&mut self, from_a: bool, t: &Transmit) -> bool {
        let text = String::from_utf8_lossy(&t.bytes).into_owned();
        let rule = self
            .drops
            .iter_mut()
            .find(|r| r.from_a == from_a && r.times > 0 && text.starts_with(r.prefix));
        let lost = match rule {
            Some(rule) => {
                rule.times -= 1;
                true
            }
            None if from_a && self.drop_a_to_b > 0 => {
                self.drop_a_to_b -= 1;
                true
            }
            None => false,
        };
        self.log.push(text);
        self.transports.push(t.transport);
        lost
    }

    /// Delivers messages until both are quiet; returns events of (a, b).
    pub(super) fn drive(&mut self) -> (Vec<Event>, Vec<Event>) {
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        loop {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit() {
                moved = true;
                if !self.lost(true, &t) {
                    self.b
                        .handle_datagram(self.now, addr(5060), t.transport, &t.bytes)
                        .unwrap();
                }
            }
            while let Some(t) = self.b.poll_transmit() {
                moved = true;
                if !self.lost(false, &t) {
                    self.a
                        .handle_datagram(self.now, addr(5080), t.transport, &t.bytes)
                        .unwrap();
                }
            }
            ea.extend(std::iter::from_fn(|| self.a.poll_event()));
            eb.extend(std::iter::from_fn(|| self.b.poll_event()));
            if !moved {
                return (ea, eb);
            }
        }
    }

    /// Runs timers and deliveries up to `limit`; returns every event and when it came.
    pub(super) fn run_until(&mut self, limit: Instant) -> Vec<(Instant, bool, Event)> {
        let mut all = Vec::new();
        loop {
            let (ea, eb) = self.drive();
            let now = self.now;
            all.extend(ea.into_iter().map(|e| (now, true, e)));
            all.extend(eb.into_iter().map(|e| (now, false, e)));
            if !self.advance(limit) {
                return all;
            }
        }
    }

    /// The messages sent so far whose first line starts with `prefix`.
    pub(super) fn sent(&self, prefix: &str) -> Vec<&str> {
        self.log
            .iter()
            .filter(|m| m.starts_with(prefix))
            .map(String::as_str)
            .collect()
    }

    /// Advances virtual time to the next timer of either side.
    pub(super) fn advance(&mut self, limit: Instant) -> bool {
        let next = [self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(at) if at <= limit => {
                self.now = self.now.max(at);
                self.a.handle_timeout(self.now);
                self.b.handle_timeout(self.now);
                true
            }
            _ => false,
        }
    }
}

pub(super) fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

pub(super) fn dial() -> Dial {
    Dial {
        to: "sip:owner@127.0.0.1:5080".into(),
        from: "sip:4008001234@127.0.0.1".into(),
        display_name: Some("huifang".into()),
        next_hop: addr(5080),
        via_proxy: false,
        transport: Transport::Udp,
        offer: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n".into(),
        ring_timeout: Duration::from_secs(15),
        credentials: None,
        headers: vec![("X-Campaign".into(), "7".into())],
    }
}

pub(super) fn incoming(events: &[Event]) -> CallKey {
    events
        .iter()
        .find_map(|e| match e {
            Event::Call {
                call,
                event: CallEvent::Incoming { .. },
            } => Some(*call),
            _ => None,
        })
        .expect("an incoming call")
}

pub(super) fn ended(events: &[Event]) -> Option<(Disposition, Option<u16>, Side)> {
    events.iter().find_map(|e| match e {
        Event::Call {
            event:
                CallEvent::Ended {
                    disposition,
                    status,
                    by,
                    ..
                },
            ..
        } => Some((*disposition, *status, *by)),
        _ => None,
    })
}

#[test]
fn answered_call_then_bye_from_the_callee() {
    let mut p = Pair::new();
    let call = p.a.dial(p.now, dial()).unwrap();
    let (ea, eb) = p.drive();
    assert!(ea.contains(&Event::Call {
        call,
        event: CallEvent::Trying
    }));
    let theirs = incoming(&eb);
    p.b.ring(p.now, theirs).unwrap();
    p.b.answer(p.now, theirs, "v=0\r\n".into()).unwrap();
    let (ea, eb) = p.drive();
    assert!(ea.contains(&Event::Call {
        call,
        event: CallEvent::Ringing
    }));
    assert!(ea.iter().any(|e| matches!(
        e,
        Event::Call {
            event: CallEvent::Answered { sdp: Some(_) },
            ..
        }
    )));
    assert!(eb.contains(&Event::Call {
        call: theirs,
        event: CallEvent::Confirmed
    }));
    p.b.hangup(p.now, theirs).unwrap();
    let (ea, eb) = p.drive();
    assert_eq!(
        ended(&ea),
        Some((Disposition::Answered, None, Side::Remote))
    );
    assert_eq!(ended(&eb), Some((Disposition::Answered, None, Side::Local)));
    // Both forget the call after lingering.
    let end = p.now + Duration::from_secs(60);
    while p.advance(end) {
        p.drive();
    }
    assert_eq!((p.a.call_count(), p.b.call_count()), (0, 0));
}

#[test]
fn busy_is_reported_with_its_status() {
    let mut p = Pair::new();
    p.a.dial(p.now, dial()).unwrap();
    let (_, eb) = p.drive();
    p.b.reject(p.now, incoming(&eb), 486).unwrap();
    let (ea, _) = p.drive();
    assert_eq!(
        ended(&ea),
        Some((Disposition::Busy, Some(486), Side::Remote))
    );
    assert!(p.log.iter().any(|l| l.starts_with("ACK ")));
}

#[test]
fn ring_timeout_cancels_after_fifteen_seconds() {
    let mut p = Pair::new();
    let start = p.now;
    let mut d = dial();
    d.ring_timeout = Duration::from_secs(3); // raised to the 15 s minimum
    p.a.dial(p.now, d).unwrap();
    let (_, eb) = p.drive();
    p.b.ring(p.now, incoming(&eb)).unwrap();
    p.drive();
    let mut ea_all = Vec::new();
    let mut eb_all = Vec::new();
    while p.advance(start + Duration::from_secs(20)) {
        let (ea, eb) = p.drive();
        ea_all.extend(ea);
        eb_all.extend(eb);
    }
    assert!(p.log.iter().any(|l| l.starts_with("CANCEL ")));
    assert_eq!(
        ended(&ea_all),
        Some((Disposition::NoAnswer, Some(487), Side::Local))
    );
    assert_eq!(
        ended(&eb_all),
        Some((Disposition::Cancelled, Some(487), Side::Remote))
    );
}

#[test]
fn lost_invite_is_retransmitted() {
    let mut p = Pair::new();
    p.drop_a_to_b = 1;
    p.a.dial(p.now, dial()).unwrap();
    let (_, eb) = p.drive();
    assert!(eb.is_empty());
    assert!(p.advance(p.now + Duration::from_secs(1)));
    let (_, eb) = p.drive();
    let theirs = incoming(&eb);
    p.b.answer(p.now, theirs, "v=0\r\n".into()).unwrap();
    let (ea, _) = p.drive();
    assert!(ea.iter().any(|e| matches!(
        e,
        Event::Call {
            event: CallEvent::Answered { .. },
            ..
        }
    )));
}

#[test]
fn info_digits_reach_the_caller() {
    let mut p = Pair::new();
    let call = p.a.dial(p.now, dial()).unwrap();
    let (_, eb) = p.drive();
    let theirs = incoming(&eb);
    p.b.answer(p.now, theirs, "v=0\r\n".into()).unwrap();
    p.drive();
    p.b.send_info(
        p.now,
        theirs,
        "application/dtmf-relay",
        "Signal=4\r\nDuration=160\r\n",
    )
    .unwrap();
    let (events, _) = p.drive();
    assert!(events.contains(&Event::Call {
        call,
        event: CallEvent::Digit(crate::Digit::parse('4').unwrap())
    }));
}

#[test]
fn options_and_unknown_methods_are_answered() {
    let mut p = Pair::new();
    let req = "OPTIONS sip:huifang@127.0.0.1:5080 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKo1\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:huifang@127.0.0.1:5080>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    p.b.handle_datagram(p.now, addr(5060), Transport::Udp, req.as_bytes())
        .unwrap();
    let t = p.b.poll_transmit().unwrap();
    assert!(first_line(&t.bytes).starts_with("SIP/2.0 200"));
    let msg = req
        .replace("OPTIONS", "MESSAGE")
        .replace("z9hG4bKo1", "z9hG4bKo2");
    p.b.handle_datagram(p.now, addr(5060), Transport::Udp, msg.as_bytes())
        .unwrap();
    let t = p.b.poll_transmit().unwrap();
    assert!(first_line(&t.bytes).starts_with("SIP/2.0 405"));
    assert!(
        p.b.handle_datagram(p.now, addr(5060), Transport::Udp, b"NOT SIP")
            .is_err()
    );
}

#[test]
fn alarms_fire_by_due_time_then_in_the_order_they_were_armed() {
    let addr: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    let mut endpoint = Endpoint::new(EndpointConfig::new(addr), 7);
    let t0 = Instant::now();
    let later = t0 + Duration::from_secs(2);
    // Armed out of order, two at the same instant with targets whose own order is reversed.
    endpoint.arm(later, TimerRef::Call(CallKey(9)));
    endpoint.arm(t0 + Duration::from_secs(1), TimerRef::Reg(RegKey(3)));
    endpoint.arm(later, TimerRef::Call(CallKey(1)));
    assert_eq!(endpoint.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    let fired: Vec<TimerRef> =
        std::iter::from_fn(|| endpoint.timers.pop().map(|a| a.0.target)).collect();
    assert_eq!(
        fired,
        vec![
            TimerRef::Reg(RegKey(3)),
            TimerRef::Call(CallKey(9)),
            TimerRef::Call(CallKey(1)),
        ]
    );
}

#[test]
fn a_transaction_is_found_by_the_branch_and_method_of_a_message() {
    // The map hashes an owned key on insert and a borrowed one on lookup: both must agree.
    let mut map: TxMap<u8> = TxMap::default();
    map.insert(TxKey::new("z9hG4bKabc", "INVITE"), 1);
    map.insert(TxKey::new("z9hG4bKabc", "CANCEL"), 2);
    let find = |branch: &str, method: &'static str| map.get(&TxKeyRef { branch, method }).copied();
    assert_eq!(find("z9hG4bKabc", "INVITE"), Some(1));
    assert_eq!(find("z9hG4bKabc", "CANCEL"), Some(2));
    assert_eq!(find("z9hG4bKabc", "BYE"), None);
    assert_eq!(find("z9hG4bKabd", "INVITE"), None);
}
