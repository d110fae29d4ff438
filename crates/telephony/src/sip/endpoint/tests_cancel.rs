//! CANCEL: the caller hangs up while it rings, before anything answered, and a ring time-out
//! longer than Timer B.

use std::time::Duration;

use super::tests::{DropRule, Pair, dial, ended, incoming};
use super::tests_peer::*;
use super::*;
use crate::sip::Disposition;

fn events_of(all: &[(std::time::Instant, bool, Event)], a: bool) -> Vec<Event> {
    all.iter()
        .filter(|(_, side, _)| *side == a)
        .map(|(_, _, e)| e.clone())
        .collect()
}

#[test]
fn caller_cancels_a_ringing_call() {
    let mut p = Pair::new();
    p.a.dial(p.now, dial()).unwrap();
    let (_, eb) = p.drive();
    let theirs = incoming(&eb);
    p.b.ring(p.now, theirs).unwrap();
    p.drive();
    let call = p.a.call_count();
    assert_eq!(call, 1);
    let mine = CallKey(1);
    p.a.hangup(p.now, mine).unwrap();
    let (ea, eb) = p.drive();
    assert_eq!(
        ended(&eb),
        Some((Disposition::Cancelled, Some(487), Side::Remote))
    );
    assert_eq!(
        ended(&ea),
        Some((Disposition::Cancelled, Some(487), Side::Local))
    );
    assert_eq!(p.sent("CANCEL ").len(), 1);
    assert_eq!(p.sent("SIP/2.0 487 ").len(), 1);
    // The 487 is ACKed, so b stops retransmitting it.
    assert!(p.sent("ACK ").len() == 1);
    let all = p.run_until(p.now + Duration::from_secs(40));
    assert_eq!(p.sent("SIP/2.0 487 ").len(), 1);
    assert!(all.is_empty());
}

#[test]
fn hangup_before_a_provisional_waits_for_one() {
    let mut p = Pair::new();
    // The INVITE is lost once, so nothing is heard for T1.
    p.drops.push(DropRule::a("INVITE ", 1));
    let mine = p.a.dial(p.now, dial()).unwrap();
    p.drive();
    p.a.hangup(p.now, mine).unwrap();
    p.drive();
    assert!(
        p.sent("CANCEL ").is_empty(),
        "no CANCEL before a provisional"
    );
    // The retransmitted INVITE reaches b, whose 100 Trying releases the CANCEL.
    let all = p.run_until(p.now + Duration::from_secs(2));
    let order: Vec<String> = p
        .log
        .iter()
        .map(|m| tests::first_line(m.as_bytes()))
        .collect();
    let trying = order.iter().position(|l| l.starts_with("SIP/2.0 100 "));
    let cancel = order.iter().position(|l| l.starts_with("CANCEL "));
    assert!(trying.is_some() && cancel > trying, "{order:?}");
    assert_eq!(
        ended(&events_of(&all, true)),
        Some((Disposition::Cancelled, Some(487), Side::Local))
    );
    assert_eq!(
        ended(&events_of(&all, false)),
        Some((Disposition::Cancelled, Some(487), Side::Remote))
    );
}

#[test]
fn a_long_ring_time_out_outlives_timer_b() {
    let mut p = Pair::new();
    let start = p.now;
    let mut d = dial();
    d.ring_timeout = Duration::from_secs(60);
    p.a.dial(p.now, d).unwrap();
    let (_, eb) = p.drive();
    p.b.ring(p.now, incoming(&eb)).unwrap();
    let early = p.run_until(start + Duration::from_secs(59));
    assert_eq!(ended(&events_of(&early, true)), None, "still ringing");
    assert!(p.sent("CANCEL ").is_empty());
    let late = p.run_until(start + Duration::from_secs(61));
    assert_eq!(
        ended(&events_of(&late, true)),
        Some((Disposition::NoAnswer, Some(487), Side::Local))
    );
}

#[test]
fn a_cancel_whose_invite_never_ends_gives_up_after_64_t1() {
    let mut solo = Solo::new();
    let call = solo.ep.dial(solo.now, dial()).unwrap();
    let (_, invite) = only(&solo.sent(), "INVITE ");
    solo.feed(&respond(&invite, 180, "callee", "", ""));
    solo.run_to(10.0);
    solo.ep.hangup(solo.now, call).unwrap();
    let (_, cancel) = only(&solo.sent(), "CANCEL ");
    assert_eq!(
        (cancel.branch.as_str(), cancel.cseq),
        (invite.branch.as_str(), invite.cseq)
    );
    solo.feed(&respond(&cancel, 200, "callee", "", ""));
    // No 487 ever comes: the call is over 64*T1 after the CANCEL (RFC 3261 §9.1).
    solo.run_to(41.9);
    assert_eq!(tests::ended(&solo.events()), None);
    solo.run_to(42.0);
    assert_eq!(
        tests::ended(&solo.events()),
        Some((Disposition::Cancelled, None, Side::Local))
    );
}

#[test]
fn a_lost_487_is_retransmitted_and_acked() {
    let mut p = Pair::new();
    p.drops.push(DropRule::b("SIP/2.0 487 ", 1));
    let mine = p.a.dial(p.now, dial()).unwrap();
    let (_, eb) = p.drive();
    p.b.ring(p.now, incoming(&eb)).unwrap();
    p.drive();
    let start = p.now;
    p.a.hangup(p.now, mine).unwrap();
    let all = p.run_until(start + Duration::from_secs(40));
    let (at, _, _) = all
        .iter()
        .find(|(_, a, e)| *a && ended(std::slice::from_ref(e)).is_some())
        .expect("a's call ended");
    assert_eq!(*at - start, Duration::from_millis(500), "Timer G at T1");
    assert_eq!(p.sent("SIP/2.0 487 ").len(), 2);
    assert_eq!(p.sent("ACK ").len(), 1);
}

#[test]
fn a_cancel_crossing_the_200_becomes_one_bye() {
    let mut p = Pair::new();
    // The ACK and the first BYE are lost, so b's 200 comes again while a is hanging up.
    p.drops.push(DropRule::a("ACK ", 1));
    p.drops.push(DropRule::a("BYE ", 1));
    let mine = p.a.dial(p.now, dial()).unwrap();
    let (_, eb) = p.drive();
    let theirs = incoming(&eb);
    p.b.ring(p.now, theirs).unwrap();
    p.drive();
    p.a.hangup(p.now, mine).unwrap();
    p.b.answer(p.now, theirs, "v=0\r\n".into()).unwrap();
    let all = p.run_until(p.now + Duration::from_secs(40));
    let byes: Vec<u32> = p
        .sent("BYE ")
        .iter()
        .map(|m| message::parse(m.as_bytes()).unwrap().cseq)
        .collect();
    assert!(
        byes.len() >= 2 && byes.iter().all(|c| *c == byes[0]),
        "{byes:?}"
    );
    assert_eq!(
        ended(&events_of(&all, true)),
        Some((Disposition::Cancelled, None, Side::Local))
    );
    assert_eq!(
        ended(&events_of(&all, false)),
        Some((Disposition::Answered, None, Side::Remote))
    );
}
