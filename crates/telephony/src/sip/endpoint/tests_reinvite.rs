//! A re-INVITE from the callee in an established call: our SDP again with its version bumped,
//! the new remote SDP reported, the 200 retransmitted until its ACK, and CSeq order enforced.

use std::time::Duration;

use super::tests::{Pair, addr, dial, incoming};
use super::tests_peer::*;
use super::*;
use crate::sip::message::Parsed;

const NEW_SDP: &str = "v=0\r\no=- 9 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
                       t=0 0\r\nm=audio 4100 RTP/AVP 8\r\n";

/// An established call a → b; returns a's key and b's 200 OK as a saw it.
fn established(p: &mut Pair) -> (CallKey, Parsed) {
    let call = p.a.dial(p.now, dial()).unwrap();
    let (_, eb) = p.drive();
    p.b.answer(p.now, incoming(&eb), "v=0\r\n".into()).unwrap();
    p.drive();
    let ok = p.sent("SIP/2.0 200 ")[0].to_string();
    (call, message::parse(ok.as_bytes()).unwrap())
}

/// The callee's re-INVITE, written from the dialog of its 200 OK.
fn reinvite(ok: &Parsed, cseq: u32, body: &str) -> String {
    format!(
        "INVITE sip:huifang@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKre{cseq}\r\n\
         From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} INVITE\r\n\
         Contact: <sip:owner@127.0.0.1:5080>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        ok.header("To").unwrap(),
        ok.header("From").unwrap(),
        ok.call_id,
        body.len()
    )
}

fn ack(ok: &Parsed, cseq: u32) -> String {
    format!(
        "ACK sip:huifang@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKack{cseq}\r\n\
         From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n",
        ok.header("To").unwrap(),
        ok.header("From").unwrap(),
        ok.call_id,
    )
}

fn feed_a(p: &mut Pair, text: &str) -> Vec<Transmit> {
    p.a.handle_datagram(p.now, addr(5080), Transport::Udp, text.as_bytes())
        .unwrap();
    std::iter::from_fn(|| p.a.poll_transmit()).collect()
}

#[test]
fn reinvite_is_answered_with_our_sdp_bumped() {
    let mut p = Pair::new();
    let (call, ok) = established(&mut p);
    let out = feed_a(&mut p, &reinvite(&ok, 5, NEW_SDP));
    let (t, answer) = only(&out, "SIP/2.0 200 ");
    assert_eq!(t.to, addr(5080));
    assert_eq!(answer.cseq, 5);
    let sdp = answer.body_text().unwrap();
    assert!(sdp.contains(" 1 2 IN IP4"), "session 1, version 2: {sdp}");
    // Answered from the new offer (its codec), on our unchanged RTP port.
    assert!(sdp.contains("m=audio 4000 RTP/AVP "), "{sdp}");
    let events: Vec<Event> = std::iter::from_fn(|| p.a.poll_event()).collect();
    assert_eq!(
        events,
        vec![Event::Call {
            call,
            event: CallEvent::RemoteSdp {
                sdp: NEW_SDP.into()
            }
        }]
    );
    // Out of order (a lower CSeq than the last one seen): 500.
    let out = feed_a(&mut p, &reinvite(&ok, 4, NEW_SDP));
    let (_, refused) = only(&out, "SIP/2.0 500 ");
    assert_eq!(refused.cseq, 4);
    assert!(p.a.poll_event().is_none());
    // A later one before the ACK of our 200 overlaps it: 500 too (RFC 3261 §14.2).
    let out = feed_a(&mut p, &reinvite(&ok, 6, NEW_SDP));
    only(&out, "SIP/2.0 500 ");
    // Once ACKed, a later one is fine again, and the version moves on.
    assert!(feed_a(&mut p, &ack(&ok, 5)).is_empty());
    let out = feed_a(&mut p, &reinvite(&ok, 7, NEW_SDP));
    let (_, again) = only(&out, "SIP/2.0 200 ");
    assert!(again.body_text().unwrap().contains(" 1 3 IN IP4"));
}

#[test]
fn reinvite_200_is_retransmitted_until_its_ack() {
    let mut p = Pair::new();
    let (_, ok) = established(&mut p);
    let out = feed_a(&mut p, &reinvite(&ok, 5, NEW_SDP));
    only(&out, "SIP/2.0 200 ");
    while p.a.poll_event().is_some() {}
    let start = p.now;
    p.now = start + Duration::from_millis(500);
    p.a.handle_timeout(p.now);
    let again: Vec<Transmit> = std::iter::from_fn(|| p.a.poll_transmit()).collect();
    let (_, resent) = only(&again, "SIP/2.0 200 ");
    assert_eq!(resent.cseq, 5);
    // The ACK of the first 200 (CSeq 1) does not stop it; the re-INVITE's does.
    assert!(feed_a(&mut p, &ack(&ok, 1)).is_empty());
    assert!(feed_a(&mut p, &ack(&ok, 5)).is_empty());
    p.now = start + Duration::from_secs(40);
    p.a.handle_timeout(p.now);
    let later: Vec<Transmit> = std::iter::from_fn(|| p.a.poll_transmit()).collect();
    assert!(later.is_empty(), "{:?}", lines(&later));
    assert!(p.a.poll_event().is_none(), "no Confirmed, no end");
}

#[test]
fn update_with_an_offer_is_answered_with_our_sdp() {
    let mut p = Pair::new();
    let (call, ok) = established(&mut p);
    let update = reinvite(&ok, 5, NEW_SDP).replace("INVITE", "UPDATE");
    let out = feed_a(&mut p, &update);
    let (_, answer) = only(&out, "SIP/2.0 200 ");
    assert_eq!(answer.cseq_method, rsip::Method::Update);
    assert!(answer.body_text().unwrap().contains(" 1 2 IN IP4"));
    assert_eq!(
        p.a.poll_event(),
        Some(Event::Call {
            call,
            event: CallEvent::RemoteSdp {
                sdp: NEW_SDP.into()
            }
        })
    );
    // Without a body it is a plain 200, and no 2xx retransmission follows an UPDATE.
    let bare = reinvite(&ok, 6, "").replace("INVITE", "UPDATE");
    let (_, plain) = only(&feed_a(&mut p, &bare), "SIP/2.0 200 ");
    assert!(plain.body_text().is_none());
    p.now += Duration::from_secs(5);
    p.a.handle_timeout(p.now);
    assert!(p.a.poll_transmit().is_none());
}
