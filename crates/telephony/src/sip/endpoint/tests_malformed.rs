//! Malformed and abusive input: never a panic, never a call event; requests for dialogs we
//! do not have get 481. Also the body of the `sip_message` fuzz target, run on stable over
//! these cases and over seeded random mutations of good messages.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::tests::addr;
use super::tests_peer::*;
use super::*;

const HEAD: &str = "Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKbad\r\n\
                    From: <sip:x@127.0.0.1:5080>;tag=x\r\nCall-ID: nobody-knows\r\n";

/// In-dialog requests for a dialog nobody has: each must get a 481.
fn strangers() -> Vec<String> {
    ["BYE", "INFO", "INVITE", "UPDATE", "CANCEL"]
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                "{m} sip:huifang@127.0.0.1:5060 SIP/2.0\r\n\
                 Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKs{i}\r\n\
                 From: <sip:x@127.0.0.1:5080>;tag=x\r\nTo: <sip:huifang@127.0.0.1:5060>;tag=nope\r\n\
                 Call-ID: stranger-{i}\r\nCSeq: 3 {m}\r\nContent-Length: 0\r\n\r\n"
            )
        })
        .collect()
}

/// Messages that must be dropped (or answered with an error) without any event.
fn malformed() -> Vec<Vec<u8>> {
    let mut cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\x00\x01\x02\xff\xfe binary junk \x00\r\n\r\n".to_vec(),
        b"INVITE sip:a@b SIP/2.0\r\n\r\n".to_vec(),
        b"SIP/2.0 200\r\n\r\n".to_vec(),
        b"SIP/2.0 99999 Huge OK\r\nCSeq: 1 INVITE\r\n\r\n".to_vec(),
        b"INVITE  SIP/2.0\r\n\r\n".to_vec(),
        b"INVITE sip:a@b SIP/9.9\r\n\r\n".to_vec(),
        b"\r\n\r\n\r\n".to_vec(),
    ];
    let texts = [
        // Missing headers, one at a time.
        format!("INVITE sip:huifang@127.0.0.1 SIP/2.0\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"),
        format!("INVITE sip:huifang@127.0.0.1 SIP/2.0\r\nTo: <sip:h@h>\r\n{HEAD}\r\n"),
        "INVITE sip:h@h SIP/2.0\r\nTo: <sip:h@h>\r\nFrom: <sip:x@x>;tag=1\r\nCall-ID: c\r\n\
         CSeq: 1 INVITE\r\n\r\n"
            .into(),
        // Lying or abusive lengths and numbers.
        format!(
            "INVITE sip:h@h SIP/2.0\r\nTo: <sip:h@h>\r\n{HEAD}CSeq: 1 INVITE\r\n\
             Content-Length: 4294967296\r\n\r\nv=0\r\n"
        ),
        format!(
            "BYE sip:h@h SIP/2.0\r\nTo: <sip:h@h>;tag=t\r\n{HEAD}CSeq: 99999999999 BYE\r\n\r\n"
        ),
        format!("BYE sip:h@h SIP/2.0\r\nTo: <sip:h@h>;tag=t\r\n{HEAD}CSeq: -1 BYE\r\n\r\n"),
        format!("INVITE sip:h@h SIP/2.0\r\nTo: <sip:h@h>\r\n{HEAD}CSeq: 1 BYE\r\n\r\n"),
        format!("INVITE sip:h@h SIP/2.0\r\nTo: <sip:h@h>\r\n{HEAD}CSeq: 1 FROB\r\n\r\n"),
        // Responses nobody asked for.
        format!("SIP/2.0 200 OK\r\nTo: <sip:h@h>;tag=t\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"),
        format!("SIP/2.0 180 Ringing\r\nTo: <sip:h@h>;tag=t\r\n{HEAD}CSeq: 1 INVITE\r\n\r\n"),
        format!("SIP/2.0 401 No\r\nTo: <sip:h@h>;tag=t\r\n{HEAD}CSeq: 2 REGISTER\r\n\r\n"),
        format!("SIP/2.0 487 Gone\r\nTo: <sip:h@h>;tag=t\r\n{HEAD}CSeq: 1 CANCEL\r\n\r\n"),
        // An ACK for nothing.
        format!("ACK sip:h@h SIP/2.0\r\nTo: <sip:h@h>;tag=t\r\n{HEAD}CSeq: 1 ACK\r\n\r\n"),
        // A header 60 000 bytes long; a message over 64 KiB.
        format!(
            "OPTIONS sip:h@h SIP/2.0\r\nTo: <sip:h@h>\r\n{HEAD}CSeq: 1 OPTIONS\r\nX-Big: {}\r\n\r\n",
            "a".repeat(60_000)
        ),
        format!(
            "OPTIONS sip:h@h SIP/2.0\r\n{}\r\n",
            "X: y\r\n".repeat(12_000)
        ),
        // Thousands of Via headers, and unterminated brackets and quotes.
        format!(
            "INFO sip:h@h SIP/2.0\r\n{}To: <sip:h@h;tag=t\r\nFrom: \"x <sip:x@x>;tag=1\r\n\
             Call-ID: c\r\nCSeq: 1 INFO\r\n\r\n",
            "Via: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKv\r\n".repeat(2_000)
        ),
    ];
    cases.extend(texts.into_iter().map(String::into_bytes));
    cases
}

/// What the `sip_message` fuzz target does with its bytes (kept in step with
/// `fuzz/fuzz_targets/sip_message.rs`).
fn fuzz_body(data: &[u8]) -> Vec<Event> {
    if let Ok(parsed) = message::parse(data) {
        let _ = (parsed.status(), parsed.method(), parsed.body_text());
        let _ = (
            parsed.contact_uri(),
            parsed.content_type(),
            parsed.headers("Via"),
        );
    }
    if let Ok(Some(len)) = message::frame(data) {
        assert!(len <= data.len());
    }
    let mut ep = Endpoint::new(EndpointConfig::new(addr(5060)), 1);
    let now = std::time::Instant::now();
    for transport in [Transport::Udp, Transport::Tcp] {
        let _ = ep.handle_datagram(now, addr(5080), transport, data);
    }
    ep.handle_timeout(now + std::time::Duration::from_secs(64));
    std::iter::from_fn(|| ep.poll_event()).collect()
}

#[test]
fn malformed_input_never_panics_nor_makes_events() {
    for case in malformed() {
        let events = fuzz_body(&case);
        let shown = String::from_utf8_lossy(&case[..case.len().min(120)]).into_owned();
        assert!(events.is_empty(), "{shown:?} made {events:?}");
    }
}

#[test]
fn requests_for_unknown_dialogs_get_481() {
    let mut solo = Solo::new();
    for request in strangers() {
        solo.feed(&request);
        let out = solo.sent();
        let (_, answer) = only(&out, "SIP/2.0 ");
        assert_eq!(
            answer.status(),
            Some(481),
            "{}",
            tests::first_line(request.as_bytes())
        );
        assert!(solo.events().is_empty());
    }
    assert_eq!(solo.ep.call_count(), 0);
}

const GOOD: &[&str] = &[
    "INVITE sip:huifang@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKm1\r\n\
     From: <sip:x@127.0.0.1:5080>;tag=x\r\nTo: <sip:huifang@127.0.0.1:5060>\r\nCall-ID: m1\r\n\
     CSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.1:5080>\r\nContent-Type: application/sdp\r\n\
     Content-Length: 10\r\n\r\nv=0\r\ns=-\r\n",
    "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKm2\r\n\
     From: <sip:x@127.0.0.1>;tag=x\r\nTo: <sip:y@127.0.0.1>;tag=y\r\nCall-ID: m2\r\n\
     CSeq: 1 INVITE\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\", qop=\"auth\"\r\n\
     Content-Length: 0\r\n\r\n",
];

const PUNCT: &[u8] = b":;<>\",=\r\n\0";

#[test]
fn seeded_mutations_of_good_messages_never_panic() {
    let mut rng = ChaCha8Rng::seed_from_u64(3261);
    for round in 0..1_500 {
        let mut bytes = GOOD[round % GOOD.len()].as_bytes().to_vec();
        for _ in 0..rng.random_range(1..8) {
            if bytes.is_empty() {
                break;
            }
            let i = rng.random_range(0..bytes.len());
            match rng.random_range(0..4) {
                0 => bytes[i] = rng.random(),
                1 => {
                    bytes.remove(i);
                }
                2 => bytes.insert(i, PUNCT[rng.random_range(0..PUNCT.len())]),
                _ => bytes.truncate(i.max(1)),
            }
        }
        let _ = fuzz_body(&bytes);
    }
}
