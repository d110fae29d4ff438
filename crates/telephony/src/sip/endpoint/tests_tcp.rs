//! TCP: reliable, so Timers A and E stay off; Via and Contact say TCP; a whole call works.

use std::time::Duration;

use super::tests::{Pair, dial, ended, incoming};
use super::tests_peer::*;
use super::*;
use crate::sip::Disposition;

fn tcp_dial() -> Dial {
    Dial {
        transport: Transport::Tcp,
        ..dial()
    }
}

#[test]
fn invite_over_tcp_is_sent_once() {
    let mut solo = Solo::new();
    solo.ep.dial(solo.now, tcp_dial()).unwrap();
    let (t, invite) = only(&solo.sent(), "INVITE ");
    assert_eq!(t.transport, Transport::Tcp);
    assert!(
        invite
            .header("Via")
            .unwrap()
            .starts_with("SIP/2.0/TCP 127.0.0.1:5060;")
    );
    assert!(invite.contact_uri().unwrap().ends_with(";transport=tcp"));
    // No Timer A: nothing until the ring time-out (15 s), and no CANCEL then either, as
    // nothing answered (RFC 3261 §9.1).
    assert!(solo.run_to(14.9).is_empty());
    assert!(solo.run_to(31.9).is_empty());
}

#[test]
fn bye_over_tcp_is_sent_once() {
    let mut solo = Solo::new();
    let call = solo.ep.dial(solo.now, tcp_dial()).unwrap();
    let (_, invite) = only(&solo.sent(), "INVITE ");
    let contact = "Contact: <sip:owner@127.0.0.1:5080;transport=tcp>\r\n";
    solo.feed(&respond(&invite, 200, "callee", contact, "v=0\r\n"));
    only(&solo.sent(), "ACK ");
    solo.ep.hangup(solo.now, call).unwrap();
    let (t, bye) = only(&solo.sent(), "BYE ");
    assert_eq!(t.transport, Transport::Tcp);
    assert!(bye.header("Via").unwrap().starts_with("SIP/2.0/TCP "));
    // No Timer E: the BYE is not repeated; Timer F still ends the call at 32 s.
    assert!(solo.run_to(31.9).is_empty());
    assert_eq!(ended(&solo.events()), None);
    solo.run_to(32.0);
    assert_eq!(
        ended(&solo.events()),
        Some((Disposition::Answered, None, Side::Local))
    );
}

#[test]
fn a_whole_call_over_tcp() {
    let mut p = Pair::new();
    p.a.dial(p.now, tcp_dial()).unwrap();
    let (_, eb) = p.drive();
    let theirs = incoming(&eb);
    p.b.ring(p.now, theirs).unwrap();
    p.b.answer(p.now, theirs, "v=0\r\n".into()).unwrap();
    let (ea, eb) = p.drive();
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
    p.a.hangup(p.now, CallKey(1)).unwrap();
    let (ea, eb) = p.drive();
    assert_eq!(ended(&ea), Some((Disposition::Answered, None, Side::Local)));
    assert_eq!(
        ended(&eb),
        Some((Disposition::Answered, None, Side::Remote))
    );
    let rest = p.run_until(p.now + Duration::from_secs(60));
    assert!(rest.is_empty());
    assert!(p.transports.iter().all(|t| *t == Transport::Tcp));
    assert!(p.log.iter().all(|m| m.contains("SIP/2.0/TCP ")));
    // Sent once each: no retransmission anywhere on a reliable transport.
    for start in ["INVITE ", "SIP/2.0 180 ", "SIP/2.0 200 ", "ACK ", "BYE "] {
        let n = p.sent(start).len();
        let expected = if start == "SIP/2.0 200 " { 2 } else { 1 };
        assert_eq!(n, expected, "{start}");
    }
}
