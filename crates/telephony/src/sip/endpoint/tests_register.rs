//! REGISTER: a digest challenge, the granted expiry, refresh at half-time, and the retry
//! after a refusal.

use super::tests_peer::*;
use super::*;
use crate::sip::auth::Credentials;

fn register() -> Register {
    Register {
        registrar: peer(),
        transport: Transport::Udp,
        aor: "sip:4008001234@127.0.0.1:5080".into(),
        expires: 3600,
        credentials: Some(Credentials {
            username: "4008001234".into(),
            password: "s3cret".into(),
        }),
    }
}

fn registration(events: &[Event]) -> Vec<(RegKey, RegState)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Registration {
                registration,
                state,
            } => Some((*registration, state.clone())),
            Event::Call { .. } => None,
        })
        .collect()
}

#[test]
fn challenged_register_is_granted_and_refreshed_at_half_time() {
    let mut solo = Solo::new();
    let reg = solo.ep.register(solo.now, register());
    let (t, first) = only(&solo.sent(), "REGISTER ");
    assert_eq!(t.to, peer());
    let challenge = "WWW-Authenticate: Digest realm=\"r\", nonce=\"abc\", qop=\"auth\"\r\n";
    solo.feed(&respond(&first, 401, "reg", challenge, ""));
    let (_, second) = only(&solo.sent(), "REGISTER ");
    assert_eq!(
        (second.cseq, &second.call_id),
        (first.cseq + 1, &first.call_id)
    );
    let value = second.header("Authorization").expect("an Authorization");
    assert_eq!(digest_param(&value, "uri"), "sip:127.0.0.1:5080");
    assert_eq!(
        digest_param(&value, "response"),
        md5_response(&value, "REGISTER", "s3cret")
    );
    let ok = "Contact: <sip:huifang@127.0.0.1:5060>\r\nExpires: 60\r\n";
    solo.feed(&respond(&second, 200, "reg", ok, ""));
    assert_eq!(
        registration(&solo.events()),
        vec![(reg, RegState::Registered { expires: 60 })]
    );
    assert!(solo.run_to(29.9).is_empty(), "nothing before half-time");
    let out = solo.run_to(30.0);
    assert_eq!(out.len(), 1);
    let (at, refresh) = (out[0].0, parsed(&out[0].1));
    assert_eq!(at.as_secs(), 30);
    assert_eq!(refresh.method(), Some(rsip::Method::Register));
    assert_eq!(refresh.cseq, second.cseq + 1);
    assert_eq!(refresh.call_id, first.call_id);
    assert_eq!(refresh.from_tag, first.from_tag);
    assert_ne!(refresh.branch, second.branch);
}

#[test]
fn refused_register_fails_and_is_retried_after_a_minute() {
    let mut solo = Solo::new();
    let reg = solo.ep.register(solo.now, register());
    let (_, first) = only(&solo.sent(), "REGISTER ");
    solo.feed(&respond(&first, 403, "reg", "", ""));
    let states = registration(&solo.events());
    assert!(matches!(
        states.as_slice(),
        [(key, RegState::Failed { status: Some(403), .. })] if *key == reg
    ));
    assert!(solo.run_to(59.9).is_empty());
    let out = solo.run_to(60.0);
    assert_eq!(out.len(), 1);
    let retry = parsed(&out[0].1);
    assert_eq!(retry.method(), Some(rsip::Method::Register));
    assert_eq!(
        (retry.cseq, &retry.call_id),
        (first.cseq + 1, &first.call_id)
    );
}

#[test]
fn register_over_tcp_is_not_retransmitted() {
    let mut solo = Solo::new();
    let mut config = register();
    config.transport = Transport::Tcp;
    solo.ep.register(solo.now, config);
    let (t, first) = only(&solo.sent(), "REGISTER ");
    assert_eq!(t.transport, Transport::Tcp);
    assert!(first.header("Via").unwrap().starts_with("SIP/2.0/TCP "));
    // Timer E is off on a reliable transport; only Timer F (32 s) remains.
    assert!(solo.run_to(31.9).is_empty());
    let states = registration(&solo.events());
    assert!(states.is_empty());
    solo.run_to(32.0);
    assert!(matches!(
        registration(&solo.events()).as_slice(),
        [(_, RegState::Failed { status: None, .. })]
    ));
}

#[test]
fn interval_too_brief_is_retried_with_the_registrars_minimum() {
    let mut solo = Solo::new();
    let mut short = register();
    short.expires = 60;
    let reg = solo.ep.register(solo.now, short);
    let (_, first) = only(&solo.sent(), "REGISTER ");
    solo.feed(&respond(&first, 423, "reg", "Min-Expires: 600\r\n", ""));
    let (_, second) = only(&solo.sent(), "REGISTER ");
    assert_eq!(second.header("Expires").as_deref(), Some("600"));
    assert_eq!(second.cseq, first.cseq + 1);
    solo.feed(&respond(&second, 200, "reg", "Expires: 600\r\n", ""));
    assert_eq!(
        registration(&solo.events()),
        vec![(reg, RegState::Registered { expires: 600 })]
    );
}
