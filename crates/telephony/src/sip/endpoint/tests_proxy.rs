//! Outbound proxy and Route/Record-Route: where requests go and which Route headers they carry.

use super::tests::{addr, dial};
use super::tests_peer::*;
use super::*;

const PROXY: u16 = 5070;
const CONTACT: &str = "Contact: <sip:owner@127.0.0.1:5080>\r\n";

fn routes(p: &message::Parsed) -> Vec<String> {
    p.headers("Route")
}

fn strings(routes: &[&str]) -> Vec<String> {
    routes.iter().map(|r| r.to_string()).collect()
}

/// Dials through the proxy and answers with a 200 carrying `extra` headers.
fn answered_via_proxy(solo: &mut Solo, extra: &str) -> (CallKey, Vec<Transmit>) {
    let mut d = dial();
    d.via_proxy = true;
    d.next_hop = addr(PROXY);
    let call = solo.ep.dial(solo.now, d).unwrap();
    let (t, invite) = only(&solo.sent(), "INVITE ");
    assert_eq!(t.to, addr(PROXY));
    assert!(text(&t).starts_with("INVITE sip:owner@127.0.0.1:5080 SIP/2.0\r\n"));
    assert_eq!(routes(&invite), vec!["<sip:127.0.0.1:5070;lr>"]);
    let ok = respond(
        &invite,
        200,
        "callee",
        &format!("{CONTACT}{extra}"),
        "v=0\r\n",
    );
    solo.feed_from(addr(PROXY), &ok);
    (call, solo.sent())
}

#[test]
fn outbound_proxy_carries_the_whole_dialog() {
    let mut solo = Solo::new();
    let (call, out) = answered_via_proxy(&mut solo, "");
    let (t, ack) = only(&out, "ACK sip:owner@127.0.0.1:5080 ");
    assert_eq!(t.to, addr(PROXY));
    assert_eq!(routes(&ack), vec!["<sip:127.0.0.1:5070;lr>"]);
    solo.ep.hangup(solo.now, call).unwrap();
    let (t, bye) = only(&solo.sent(), "BYE sip:owner@127.0.0.1:5080 ");
    assert_eq!(t.to, addr(PROXY));
    assert_eq!(routes(&bye), vec!["<sip:127.0.0.1:5070;lr>"]);
}

#[test]
fn record_route_is_reversed_for_the_caller() {
    let mut solo = Solo::new();
    // The proxy nearest the callee (5072) is first in Record-Route.
    let rr = "Record-Route: <sip:127.0.0.1:5072;lr>\r\n\
              Record-Route: <sip:127.0.0.1:5071;lr;ftag=x>\r\n";
    let (call, out) = answered_via_proxy(&mut solo, rr);
    let expected = strings(&["<sip:127.0.0.1:5071;lr;ftag=x>", "<sip:127.0.0.1:5072;lr>"]);
    let (t, ack) = only(&out, "ACK ");
    assert_eq!((t.to, routes(&ack)), (addr(5071), expected.clone()));
    solo.ep
        .send_info(solo.now, call, "application/dtmf", "5")
        .unwrap();
    let (t, info) = only(&solo.sent(), "INFO sip:owner@127.0.0.1:5080 ");
    assert_eq!((t.to, routes(&info)), (addr(5071), expected.clone()));
    solo.ep.hangup(solo.now, call).unwrap();
    let (t, bye) = only(&solo.sent(), "BYE ");
    assert_eq!((t.to, routes(&bye)), (addr(5071), expected));
}

const RR_INVITE: &str = "INVITE sip:huifang@127.0.0.1:5060 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bKp1\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKc1\r\n\
    Record-Route: <sip:127.0.0.1:5071;lr>, <sip:127.0.0.1:5072;lr>\r\n\
    From: <sip:agent@127.0.0.1:5090>;tag=caller\r\n\
    To: <sip:huifang@127.0.0.1:5060>\r\n\
    Call-ID: rr-1\r\n\
    CSeq: 10 INVITE\r\n\
    Contact: <sip:agent@127.0.0.1:5090>\r\n\
    Content-Length: 0\r\n\r\n";

#[test]
fn record_route_keeps_its_order_for_the_callee() {
    let mut solo = Solo::new();
    solo.feed_from(addr(5071), RR_INVITE);
    let call = tests::incoming(&solo.events());
    solo.sent();
    solo.ep.answer(solo.now, call, "v=0\r\n".into()).unwrap();
    let (t, ok) = only(&solo.sent(), "SIP/2.0 200 ");
    assert_eq!(t.to, addr(5071));
    assert_eq!(ok.headers("Record-Route").len(), 2);
    assert_eq!(ok.headers("Via").len(), 2);
    solo.ep.hangup(solo.now, call).unwrap();
    let (t, bye) = only(&solo.sent(), "BYE sip:agent@127.0.0.1:5090 ");
    assert_eq!(t.to, addr(5071));
    assert_eq!(
        routes(&bye),
        vec!["<sip:127.0.0.1:5071;lr>", "<sip:127.0.0.1:5072;lr>"]
    );
    assert_eq!(bye.cseq, 1);
    assert_eq!(bye.to_tag.as_deref(), Some("caller"));
}
