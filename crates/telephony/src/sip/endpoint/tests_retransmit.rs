//! Loss after the answer: a lost ACK (the 200 is retransmitted and re-ACKed), an ACK that
//! never comes (the callee ends with a BYE after 64*T1), a BYE that is never answered
//! (Timer F ends the call anyway).

use std::time::{Duration, Instant};

use super::tests::{DropRule, Pair, dial, ended, incoming};
use super::*;
use crate::sip::Disposition;

/// a calls b and b answers; returns b's key.
fn answer(p: &mut Pair) -> CallKey {
    p.a.dial(p.now, dial()).unwrap();
    let (_, eb) = p.drive();
    let theirs = incoming(&eb);
    p.b.answer(p.now, theirs, "v=0\r\n".into()).unwrap();
    theirs
}

/// The 200s for the INVITE (not the BYE's).
fn oks(p: &Pair) -> usize {
    let oks = p.sent("SIP/2.0 200 ");
    oks.iter().filter(|m| m.contains(" INVITE\r\n")).count()
}

fn side(all: &[(Instant, bool, Event)], a: bool) -> Vec<(Instant, Event)> {
    all.iter()
        .filter(|(_, s, _)| *s == a)
        .map(|(at, _, e)| (*at, e.clone()))
        .collect()
}

fn confirmed_at(events: &[(Instant, Event)]) -> Vec<Instant> {
    events
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Event::Call {
                    event: CallEvent::Confirmed,
                    ..
                }
            )
        })
        .map(|(at, _)| *at)
        .collect()
}

#[test]
fn a_lost_ack_is_resent_when_the_200_comes_again() {
    let mut p = Pair::new();
    p.drops.push(DropRule::a("ACK ", 1));
    let start = p.now;
    answer(&mut p);
    let all = p.run_until(start + Duration::from_secs(40));
    let (ea, eb) = (side(&all, true), side(&all, false));
    // b retransmitted its 200 once (at T1), a ACKed both, and b confirmed at T1.
    assert_eq!(oks(&p), 2);
    let acks = p.sent("ACK ");
    assert_eq!(acks.len(), 2);
    assert_eq!(
        acks[0], acks[1],
        "the very same ACK again (RFC 3261 §13.2.2.4)"
    );
    assert_eq!(confirmed_at(&eb), vec![start + Duration::from_millis(500)]);
    let answered = ea
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Event::Call {
                    event: CallEvent::Answered { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(answered, 1, "one Answered despite two 200s");
    assert_eq!(
        ended(&eb.into_iter().map(|(_, e)| e).collect::<Vec<_>>()),
        None
    );
}

#[test]
fn the_200_backs_off_to_t2_and_gives_up_with_a_bye() {
    let mut p = Pair::new();
    p.drops.push(DropRule::a("ACK ", usize::MAX));
    let start = p.now;
    answer(&mut p);
    let all = p.run_until(start + Duration::from_secs(40));
    let eb: Vec<(Instant, Event)> = side(&all, false);
    // 0, then T1 doubling to T2: 0.5, 1.5, 3.5, 7.5, 11.5, ... 31.5 s.
    assert_eq!(oks(&p), 1 + 10);
    let (at, _) = eb
        .iter()
        .find(|(_, e)| {
            matches!(
                e,
                Event::Call {
                    event: CallEvent::Ended { .. },
                    ..
                }
            )
        })
        .expect("b gave up");
    assert_eq!(*at - start, Duration::from_secs(32));
    let events: Vec<Event> = eb.into_iter().map(|(_, e)| e).collect();
    assert_eq!(
        ended(&events),
        Some((Disposition::Failed, None, Side::Local))
    );
    assert!(confirmed_at(&side(&all, false)).is_empty());
    assert_eq!(p.sent("BYE ").len(), 1);
    let ea: Vec<Event> = side(&all, true).into_iter().map(|(_, e)| e).collect();
    assert_eq!(
        ended(&ea),
        Some((Disposition::Answered, None, Side::Remote))
    );
}

#[test]
fn an_unanswered_bye_ends_the_call_after_timer_f() {
    let mut p = Pair::new();
    answer(&mut p);
    p.drive();
    p.drops.push(DropRule::a("BYE ", usize::MAX));
    let start = p.now;
    p.a.hangup(p.now, CallKey(1)).unwrap();
    let all = p.run_until(start + Duration::from_secs(40));
    let ea = side(&all, true);
    let (at, event) = ea.first().expect("a's call ended");
    assert_eq!(*at - start, Duration::from_secs(32));
    assert_eq!(
        ended(std::slice::from_ref(event)),
        Some((Disposition::Answered, None, Side::Local))
    );
    assert_eq!(ea.len(), 1);
    // Timer E: 0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, ... up to 31.5 s.
    assert_eq!(p.sent("BYE ").len(), 11);
}
