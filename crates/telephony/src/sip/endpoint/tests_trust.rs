//! The endpoint takes a call's requests only from its far ends: a survey call placed to the
//! trunk, then attacked from another address (127.0.0.2) and with forged tags, with the
//! attacks of issue 30 written as literal packets. Each assertion failed before the gate.

use std::net::SocketAddr;

use super::tests::{dial, ended};
use super::tests_peer::*;
use super::*;
use crate::sip::message::Parsed;

const THEIR_TAG: &str = "callee";
const AUDIO: &str = "v=0\r\no=- 9 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
                     t=0 0\r\nm=audio 4100 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
const ATTACKER_SDP: &str = "v=0\r\no=- 9 3 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\n\
                            t=0 0\r\nm=audio 6666 RTP/AVP 0 101\r\n";

fn attacker() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 2], 5060))
}

/// An answered survey call from our endpoint to the trunk (the scripted peer); returns its key
/// and the INVITE we sent (whose headers the in-dialog requests below are written from).
fn survey_call(s: &mut Solo) -> (CallKey, Parsed) {
    let call = s.ep.dial(s.now, dial()).unwrap();
    let invite = parsed(&s.sent()[0]);
    let contact = "Contact: <sip:owner@127.0.0.1:5080>\r\nContent-Type: application/sdp\r\n";
    s.feed(&respond(&invite, 200, THEIR_TAG, contact, AUDIO));
    s.sent(); // our ACK
    s.events();
    (call, invite)
}

/// A request of the callee in the dialog of `invite`, with `from_tag` as its From tag.
fn in_dialog(
    invite: &Parsed,
    method: &str,
    cseq: u32,
    from_tag: &str,
    extra: &str,
    body: &str,
) -> String {
    format!(
        "{method} sip:huifang@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK{method}{cseq}{from_tag}\r\n\
         From: <sip:owner@127.0.0.1:5080>;tag={from_tag}\r\nTo: {}\r\nCall-ID: {}\r\n\
         CSeq: {cseq} {method}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        invite.header("From").unwrap(),
        invite.call_id,
        body.len()
    )
}

fn info_5(invite: &Parsed, cseq: u32, from_tag: &str) -> String {
    let extra = "Content-Type: application/dtmf-relay\r\n";
    in_dialog(
        invite,
        "INFO",
        cseq,
        from_tag,
        extra,
        "Signal=5\r\nDuration=160\r\n",
    )
}

fn reinvite(invite: &Parsed, cseq: u32, from_tag: &str, sdp: &str) -> String {
    let extra = "Contact: <sip:evil@127.0.0.2:5060>\r\nContent-Type: application/sdp\r\n";
    in_dialog(invite, "INVITE", cseq, from_tag, extra, sdp)
}

#[test]
fn a_reinvite_from_another_address_is_refused_and_the_media_stays() {
    let mut s = Solo::new();
    let (call, invite) = survey_call(&mut s);
    s.feed_from(attacker(), &reinvite(&invite, 2, THEIR_TAG, ATTACKER_SDP));
    let out = s.sent();
    let (to, refused) = only(&out, "SIP/2.0 403 ");
    assert_eq!(to.to, attacker(), "answered where it came from");
    assert_eq!(refused.cseq, 2);
    assert!(
        s.events().is_empty(),
        "no RemoteSdp: the media does not move"
    );
    // A forged From tag from the trunk's own address: no such dialog.
    s.feed(&reinvite(&invite, 3, "forged", ATTACKER_SDP));
    only(&s.sent(), "SIP/2.0 481 ");
    assert!(s.events().is_empty());
    // Our BYE still goes to the owner's Contact, not the attacker's.
    s.ep.hangup(s.now, call).unwrap();
    let (bye, _) = only(&s.sent(), "BYE ");
    assert_eq!(bye.to, peer());
    assert!(
        text(&bye).starts_with("BYE sip:owner@127.0.0.1:5080 "),
        "{}",
        text(&bye)
    );
}

#[test]
fn an_info_digit_from_another_address_or_tag_is_not_a_rating() {
    let mut s = Solo::new();
    let (_, invite) = survey_call(&mut s);
    s.feed_from(attacker(), &info_5(&invite, 2, THEIR_TAG));
    only(&s.sent(), "SIP/2.0 403 ");
    s.feed(&info_5(&invite, 3, "forged"));
    only(&s.sent(), "SIP/2.0 481 ");
    assert!(s.events().is_empty(), "no digit taken");
    // The owner's own INFO is.
    s.feed(&info_5(&invite, 4, THEIR_TAG));
    only(&s.sent(), "SIP/2.0 200 ");
    assert_eq!(
        call_events(&s.events()),
        vec![CallEvent::Digit(crate::Digit::parse('5').unwrap())]
    );
}

#[test]
fn a_spoofed_bye_does_not_end_the_survey() {
    let mut s = Solo::new();
    let (_, invite) = survey_call(&mut s);
    s.feed_from(attacker(), &in_dialog(&invite, "BYE", 2, THEIR_TAG, "", ""));
    only(&s.sent(), "SIP/2.0 403 ");
    s.feed(&in_dialog(&invite, "BYE", 3, "forged", "", ""));
    only(&s.sent(), "SIP/2.0 481 ");
    assert!(ended(&s.events()).is_none(), "the call goes on");
    // The owner's BYE ends it.
    s.feed(&in_dialog(&invite, "BYE", 4, THEIR_TAG, "", ""));
    only(&s.sent(), "SIP/2.0 200 ");
    assert!(ended(&s.events()).is_some());
}

#[test]
fn requests_in_a_dialog_must_come_in_cseq_order() {
    let mut s = Solo::new();
    let (_, invite) = survey_call(&mut s);
    s.feed(&info_5(&invite, 10, THEIR_TAG));
    only(&s.sent(), "SIP/2.0 200 ");
    s.events();
    // A replayed or older request: 500, and nothing happens.
    s.feed(&info_5(&invite, 10, THEIR_TAG).replace("z9hG4bKINFO10", "z9hG4bKreplay"));
    only(&s.sent(), "SIP/2.0 500 ");
    s.feed(&in_dialog(&invite, "BYE", 9, THEIR_TAG, "", ""));
    only(&s.sent(), "SIP/2.0 500 ");
    assert!(s.events().is_empty(), "{:?}", s.events());
}

#[test]
fn a_reinvite_without_audio_gets_488_and_the_call_goes_on() {
    let mut s = Solo::new();
    let (call, invite) = survey_call(&mut s);
    let video = "v=0\r\no=- 9 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
                 t=0 0\r\nm=video 4200 RTP/AVP 96\r\n";
    let offer = reinvite(&invite, 2, THEIR_TAG, video).replace("127.0.0.2", "127.0.0.1");
    s.feed(&offer);
    only(&s.sent(), "SIP/2.0 488 ");
    assert!(s.events().is_empty(), "no RemoteSdp, no end");
    // The ACK of the 488 belongs to its transaction; the call is still up afterwards.
    s.feed(
        &in_dialog(&invite, "ACK", 2, THEIR_TAG, "", "").replace("z9hG4bKACK2", "z9hG4bKINVITE2"),
    );
    s.feed(&info_5(&invite, 3, THEIR_TAG));
    only(&s.sent(), "SIP/2.0 200 ");
    assert_eq!(call_events(&s.events()).len(), 1);
    s.ep.hangup(s.now, call).unwrap();
    only(&s.sent(), "BYE ");
}

#[test]
fn an_invite_reusing_a_live_call_id_does_not_take_its_place() {
    let mut s = Solo::new();
    let (_, invite) = survey_call(&mut s);
    let hijack = format!(
        "INVITE sip:huifang@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKhijack\r\n\
         From: <sip:x@127.0.0.1>;tag=x\r\nTo: <sip:huifang@127.0.0.1>\r\nCall-ID: {}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.1:5080>\r\nContent-Length: 0\r\n\r\n",
        invite.call_id
    );
    s.feed(&hijack);
    only(&s.sent(), "SIP/2.0 482 ");
    assert!(s.events().is_empty(), "no second call");
    assert_eq!(s.ep.call_count(), 1);
    // The survey call's own BYE still finds it.
    s.feed(&in_dialog(&invite, "BYE", 2, THEIR_TAG, "", ""));
    only(&s.sent(), "SIP/2.0 200 ");
    assert!(ended(&s.events()).is_some());
}

fn stranger_invite(n: u32) -> String {
    format!(
        "INVITE sip:4008108888@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKflood{n}\r\n\
         From: <sip:x@127.0.0.2>;tag=f{n}\r\nTo: <sip:4008108888@127.0.0.1>\r\n\
         Call-ID: flood{n}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn a_node_that_takes_no_calls_keeps_nothing_for_an_invite() {
    let mut s = Solo::new();
    let mut config = EndpointConfig::new(tests::addr(5060));
    config.takes_calls = false;
    s.ep = Endpoint::new(config, 7);
    for n in 0..1000 {
        s.feed_from(attacker(), &stranger_invite(n));
    }
    let out = s.sent();
    assert_eq!(out.len(), 5, "a few refusals a second: {:?}", lines(&out));
    assert!(out.iter().all(|t| text(t).starts_with("SIP/2.0 403 ")));
    assert!(
        !text(&out[0]).contains("User-Agent"),
        "nothing about us to strangers"
    );
    assert_eq!(s.ep.call_count(), 0);
    assert_eq!(s.ep.servers.len(), 0, "no transaction kept");
    assert!(s.ep.poll_timeout().is_none(), "no timer armed");
    assert!(s.events().is_empty());
    let stats = s.ep.admission_stats();
    assert_eq!((stats.refused, stats.silenced), (5, 995));
}

/// A node with no access list (a dialer's) answers what changes nothing here without keeping a
/// transaction: each one kept ~1 KB for 32 s, 90 MB for a 20 s flood of OPTIONS at 5,000 a
/// second (`benches/invite_flood.sh`). The answers are those the transactions gave.
#[test]
fn a_flood_of_requests_that_change_nothing_keeps_nothing() {
    let mut s = Solo::new();
    let mut config = EndpointConfig::new(tests::addr(5060));
    config.takes_calls = false;
    s.ep = Endpoint::new(config, 7);
    let request = |method: &str, to_tag: &str, n: u32| {
        format!(
            "{method} sip:huifang@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK{method}{n}\r\n\
             From: <sip:x@127.0.0.2>;tag=f{n}\r\nTo: <sip:huifang@127.0.0.1>{to_tag}\r\n\
             Call-ID: {method}{n}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let kinds = [
        ("OPTIONS", "", "SIP/2.0 200 "),
        ("REGISTER", "", "SIP/2.0 405 "),
        ("MESSAGE", "", "SIP/2.0 405 "),
        ("BYE", ";tag=nosuch", "SIP/2.0 481 "),
        ("INFO", ";tag=nosuch", "SIP/2.0 481 "),
        ("UPDATE", ";tag=nosuch", "SIP/2.0 481 "),
        ("INVITE", ";tag=nosuch", "SIP/2.0 481 "),
        ("CANCEL", "", "SIP/2.0 481 "),
    ];
    for n in 0..1000 {
        for (method, to_tag, answer) in kinds {
            s.feed_from(attacker(), &request(method, to_tag, n));
            let (_, parsed) = only(&s.sent(), answer);
            assert_eq!(parsed.call_id, format!("{method}{n}"));
        }
    }
    assert_eq!((s.ep.call_count(), s.ep.servers.len()), (0, 0));
    assert!(s.ep.poll_timeout().is_none(), "no timer armed");
    // A retransmitted OPTIONS gets the same 200 again, and an OPTIONS still says what we take.
    s.feed_from(attacker(), &request("OPTIONS", "", 1));
    let first = text(&only(&s.sent(), "SIP/2.0 200 ").0);
    s.feed_from(attacker(), &request("OPTIONS", "", 1));
    assert_eq!(text(&only(&s.sent(), "SIP/2.0 200 ").0), first);
    assert!(first.contains("Allow: INVITE, ACK, CANCEL"), "{first}");
    assert!(first.contains(";tag=opt"), "{first}");
    // Nothing was refused: these are answers, not the gate's 403s.
    assert_eq!(s.ep.admission_stats(), AdmissionStats::default());
}

#[test]
fn strangers_outside_the_access_list_get_no_state_and_no_options_answer() {
    let mut s = Solo::new();
    let mut config = EndpointConfig::new(tests::addr(5060));
    config.allow = Some(AccessList::new(["127.0.0.1/32".parse().unwrap()]));
    s.ep = Endpoint::new(config, 7);
    let options = |from: &str, n: u32| {
        format!(
            "OPTIONS sip:huifang@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {from}:5060;branch=z9hG4bKopt{n}\r\n\
             From: <sip:x@{from}>;tag=o{n}\r\nTo: <sip:huifang@127.0.0.1>\r\n\
             Call-ID: opt{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
    };
    s.feed_from(attacker(), &options("127.0.0.2", 1));
    let (_, refused) = only(&s.sent(), "SIP/2.0 403 ");
    assert!(refused.header("Allow").is_none() && refused.header("User-Agent").is_none());
    s.feed_from(attacker(), &stranger_invite(1));
    only(&s.sent(), "SIP/2.0 403 ");
    assert_eq!((s.ep.call_count(), s.ep.servers.len()), (0, 0));
    // The trunk is answered as before.
    s.feed(&options("127.0.0.1", 2));
    let (_, ok) = only(&s.sent(), "SIP/2.0 200 ");
    assert!(ok.header("Allow").is_some());
}

#[test]
fn only_the_invites_sender_may_cancel_it() {
    let mut s = Solo::new();
    let invite = "INVITE sip:huifang@127.0.0.1:5060 SIP/2.0\r\n\
                  Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKin1\r\n\
                  From: <sip:owner@127.0.0.1>;tag=o1\r\nTo: <sip:huifang@127.0.0.1>\r\n\
                  Call-ID: in1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    s.feed(invite);
    only(&s.sent(), "SIP/2.0 100 ");
    s.events();
    let cancel = invite
        .replace("INVITE sip", "CANCEL sip")
        .replace("1 INVITE", "1 CANCEL");
    s.feed_from(attacker(), &cancel);
    only(&s.sent(), "SIP/2.0 403 ");
    assert!(ended(&s.events()).is_none(), "still ringing");
    s.feed(&cancel);
    let out = s.sent();
    only(&out, "SIP/2.0 200 ");
    only(&out, "SIP/2.0 487 ");
    assert!(ended(&s.events()).is_some());
}
