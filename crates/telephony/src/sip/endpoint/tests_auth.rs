//! Digest challenges to an INVITE: 401 → Authorization, 407 → Proxy-Authorization, a wrong
//! password, and no credentials at all.

use super::tests::dial;
use super::tests_peer::*;
use super::*;
use crate::sip::Disposition;
use crate::sip::auth::Credentials;
use crate::sip::message::Parsed;

const CHALLENGE: &str = "Digest realm=\"trunk.example\", nonce=\"5f2a9c\", qop=\"auth\", \
                         algorithm=MD5, opaque=\"op1\"";
const OK_HEADERS: &str = "Contact: <sip:owner@127.0.0.1:5080>\r\nContent-Type: application/sdp\r\n";

fn creds(password: &str) -> Credentials {
    Credentials {
        username: "4008001234".into(),
        password: password.into(),
    }
}

/// Dials with `credentials` and answers the INVITE with a `status` challenge; returns the
/// first INVITE and whatever the endpoint sent back.
fn challenged(
    solo: &mut Solo,
    credentials: Option<Credentials>,
    status: u16,
    header: &str,
) -> (CallKey, Parsed, Vec<Transmit>) {
    let mut d = dial();
    d.credentials = credentials;
    let call = solo.ep.dial(solo.now, d).unwrap();
    let (_, first) = only(&solo.sent(), "INVITE ");
    let extra = format!("{header}: {CHALLENGE}\r\n");
    solo.feed(&respond(&first, status, "srv1", &extra, ""));
    (call, first, solo.sent())
}

/// The answer names the Request-URI, counts the nonce, echoes opaque, and its hash is the
/// RFC 2617 one for the right password.
fn check_digest(value: &str) {
    assert_eq!(digest_param(value, "username"), "4008001234");
    assert_eq!(digest_param(value, "realm"), "trunk.example");
    assert_eq!(digest_param(value, "uri"), "sip:owner@127.0.0.1:5080");
    assert_eq!(digest_param(value, "nc"), "00000001");
    assert_eq!(digest_param(value, "opaque"), "op1");
    assert_eq!(
        digest_param(value, "response"),
        md5_response(value, "INVITE", "s3cret")
    );
}

fn check_retry(status: u16, challenge: &str, answer: &str, other: &str) {
    let mut solo = Solo::new();
    let (call, first, out) = challenged(&mut solo, Some(creds("s3cret")), status, challenge);
    let (_, ack) = only(&out, "ACK ");
    assert_eq!(
        ack.branch, first.branch,
        "the challenge is ACKed in its transaction"
    );
    let (_, second) = only(&out, "INVITE ");
    assert_eq!(second.cseq, first.cseq + 1);
    assert_ne!(second.branch, first.branch);
    assert_eq!(second.call_id, first.call_id);
    assert_eq!(second.from_tag, first.from_tag);
    assert_eq!(second.header("X-Campaign").as_deref(), Some("7"));
    assert!(second.header(other).is_none());
    check_digest(&second.header(answer).expect("credentials in the retry"));
    assert!(solo.events().iter().all(|e| !matches!(
        e,
        Event::Call {
            event: CallEvent::Ended { .. },
            ..
        }
    )));
    solo.feed(&respond(&second, 200, "callee", OK_HEADERS, "v=0\r\n"));
    let events = solo.events();
    assert!(events.contains(&Event::Call {
        call,
        event: CallEvent::Answered {
            sdp: Some("v=0\r\n".into())
        }
    }));
    let (_, ack) = only(&solo.sent(), "ACK ");
    assert_eq!(ack.cseq, second.cseq);
}

#[test]
fn a_401_is_answered_with_authorization() {
    check_retry(
        401,
        "WWW-Authenticate",
        "Authorization",
        "Proxy-Authorization",
    );
}

#[test]
fn a_407_is_answered_with_proxy_authorization() {
    check_retry(
        407,
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Authorization",
    );
}

fn auth_end(events: &[Event]) -> (Disposition, Option<u16>, Side, String) {
    call_events(events)
        .into_iter()
        .find_map(|e| match e {
            CallEvent::Ended {
                disposition,
                status,
                by,
                reason,
            } => Some((disposition, status, by, reason.unwrap_or_default())),
            _ => None,
        })
        .expect("the call ended")
}

#[test]
fn a_second_challenge_means_a_wrong_password() {
    let mut solo = Solo::new();
    let (_, _, out) = challenged(&mut solo, Some(creds("wrong")), 401, "WWW-Authenticate");
    let (_, second) = only(&out, "INVITE ");
    solo.feed(&respond(
        &second,
        401,
        "srv2",
        &format!("WWW-Authenticate: {CHALLENGE}\r\n"),
        "",
    ));
    let (disposition, status, by, reason) = auth_end(&solo.events());
    assert_eq!(
        (disposition, status, by),
        (Disposition::AuthFailed, Some(401), Side::Remote)
    );
    assert!(reason.contains("password"), "{reason}");
    let out = solo.sent();
    assert!(lines(&out).iter().all(|l| !l.starts_with("INVITE ")));
    only(&out, "ACK ");
}

#[test]
fn a_challenge_without_credentials_fails_the_call() {
    let mut solo = Solo::new();
    let (_, _, out) = challenged(&mut solo, None, 407, "Proxy-Authenticate");
    assert!(lines(&out).iter().all(|l| !l.starts_with("INVITE ")));
    let (disposition, status, _, reason) = auth_end(&solo.events());
    assert_eq!((disposition, status), (Disposition::AuthFailed, Some(407)));
    assert!(reason.contains("no credentials"), "{reason}");
}
