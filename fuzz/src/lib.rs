//! The bodies of the fuzz targets: one plain function per parser of outside input, so the same
//! body runs under libFuzzer (`fuzz_targets/*.rs` are one-line wrappers) and on stable in the
//! main crate's `tests/fuzz_corpus.rs`, which replays every file of `corpus/<target>/`.
//!
//! Each body returns quietly on input the parser refuses and panics (a finding) when the
//! parser panics or when something it accepted breaks a property we can check cheaply: built
//! output parses back to the same thing, an error is of the kind the caller expects.
//!
//! This file is compiled in both places: it may name `huifang`, `rsip`, `rusmpp`, `tokio_util`,
//! `bytes` and std only (dependencies of both), and no `crate::` path.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use huifang::campaigns::Campaign;
use huifang::channels::text::{self, ReplyIntent};
use huifang::channels::{Inbound, SendError, receipt};
use huifang::contacts::import::ImportKind;
use huifang::fuzzing;
use huifang::surveys as script;
use huifang::telephony::rtp::dtmf::{TelephoneEvent, TelephoneEventReceiver};
use huifang::telephony::rtp::packet::RtpPacket;
use huifang::telephony::sip::auth::{Algorithm, Challenge, Credentials};
use huifang::telephony::sip::{Endpoint, EndpointConfig, Transport, message, sdp};
use rusmpp::Pdu;
use rusmpp::tlvs::TlvValue;
use rusmpp::tokio_codec::CommandCodec;
use tokio_util::codec::{Decoder, Encoder};

/// A target's body: any input, a panic on a finding.
pub type Body = fn(&[u8]);

/// Every target by name, as `fuzz/Cargo.toml`'s `[[bin]]`s and `corpus/` name them.
pub const TARGETS: &[(&str, Body)] = &[
    ("sip_message", sip_message),
    ("sdp", sdp),
    ("rtp_packet", rtp_packet),
    ("digest_challenge", digest_challenge),
    ("smpp_pdu", smpp_pdu),
    ("sms_gateway", sms_gateway),
    ("sms_reply", sms_reply),
    ("campaign_toml", campaign_toml),
    ("survey_toml", survey_toml),
    ("dialer_list_csv", dialer_list_csv),
    ("import_csv", import_csv),
    ("import_xlsx", import_xlsx),
    ("api_json", api_json),
];

/// Any datagram or stream buffer: the SIP parser and framer return errors, never panic; what
/// parses prints back (rsip's `Display`, as our responses copy headers) to a message with the
/// same Call-ID, CSeq, branch and tags; and the endpoint drops what it cannot use without a
/// panic, over UDP and TCP alike. `fuzz_body` in
/// `crates/telephony/src/sip/endpoint/tests_malformed.rs` runs the same calls over literal
/// cases; keep the two in step.
pub fn sip_message(data: &[u8]) {
    if let Ok(parsed) = message::parse(data) {
        let _ = (parsed.status(), parsed.method(), parsed.body_text());
        let _ = (
            parsed.contact_uri(),
            parsed.content_type(),
            parsed.headers("Via"),
        );
        let printed = parsed.msg.to_string();
        let again = message::parse(printed.as_bytes())
            .unwrap_or_else(|e| panic!("a parsed message prints to one that does not parse: {e}"));
        assert_eq!(
            (
                &again.call_id,
                again.cseq,
                &again.cseq_method,
                &again.branch
            ),
            (
                &parsed.call_id,
                parsed.cseq,
                &parsed.cseq_method,
                &parsed.branch
            ),
        );
        assert_eq!(
            (&again.from_tag, &again.to_tag),
            (&parsed.from_tag, &parsed.to_tag)
        );
    }
    let _ = message::top_branch(data);
    if let Ok(Some(len)) = message::frame(data) {
        assert!(len <= data.len());
        let _ = message::parse(&data[..len]);
    }
    let local = SocketAddr::from(([127, 0, 0, 1], 5060));
    let peer = SocketAddr::from(([127, 0, 0, 1], 5080));
    let mut endpoint = Endpoint::new(EndpointConfig::new(local), 1);
    let now = Instant::now();
    for transport in [Transport::Udp, Transport::Tcp] {
        let _ = endpoint.handle_datagram(now, peer, transport, data);
    }
    endpoint.handle_timeout(now + Duration::from_secs(64));
    while endpoint.poll_transmit().is_some() || endpoint.poll_event().is_some() {}
}

/// An SDP body (read as the endpoint reads bodies, lossily as UTF-8): answering it agrees with
/// reading it as an answer, and our answer reads back with our address, the same codec and
/// telephone-event type, and the reverse direction.
pub fn sdp(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let local = SocketAddr::from(([192, 0, 2, 10], 40_000));
    let read = sdp::parse_answer(&text);
    let direction = sdp::direction(&text);
    match sdp::answer(&text, local, 7, 1) {
        Ok((ours, params)) => {
            assert_eq!(read, Ok(params), "answering and reading disagree");
            let back = sdp::parse_answer(&ours)
                .unwrap_or_else(|e| panic!("our answer does not parse: {e}\n{ours}"));
            assert_eq!(back.remote, local);
            assert_eq!((back.codec, back.dtmf_pt), (params.codec, params.dtmf_pt));
            let offered = direction.expect("an offer we answered has a direction");
            assert_eq!(sdp::direction(&ours), Ok(offered.reversed()));
        }
        Err(e) => {
            assert_eq!(read, Err(e), "answering and reading disagree");
        }
    }
}

/// Any datagram: the RTP and telephone-event parsers return errors, never panic, and what
/// parses re-builds to the same header and payload.
pub fn rtp_packet(data: &[u8]) {
    let _ = TelephoneEvent::parse(data);
    let Ok(packet) = RtpPacket::parse(data) else {
        return;
    };
    let _ = packet.csrcs().count();
    if let Ok(event) = TelephoneEvent::parse(packet.payload) {
        assert_eq!(TelephoneEvent::parse(&event.to_bytes()), Ok(event));
        let _ = event.digit();
    }
    let mut receiver = TelephoneEventReceiver::new(Some(101));
    let _ = receiver.is_event(&packet.header, packet.payload);
    let _ = receiver.on_packet(&packet.header, packet.payload);
    let _ = receiver.on_packet(&packet.header, packet.payload);
    let rebuilt = packet.header.to_bytes(packet.payload);
    let again = RtpPacket::parse(&rebuilt).expect("a built packet parses");
    assert_eq!(
        (again.header, again.payload),
        (packet.header, packet.payload)
    );
}

/// A `WWW-Authenticate`/`Proxy-Authenticate` value, alone and inside a 401: the challenge
/// parser returns errors, never panics, and the `Authorization` we answer with reads back (as
/// digest parameters) to the same realm, nonce, opaque, algorithm and qop.
pub fn digest_challenge(data: &[u8]) {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let creds = Credentials {
        username: "1001".into(),
        password: "s3cret".into(),
    };
    let uri = "sip:4008108888@192.0.2.1";
    if let Ok(challenge) = Challenge::parse(value) {
        let answer = challenge.authorization("INVITE", uri, &creds, "0a4f113b", 1);
        let back = Challenge::parse(&answer)
            .unwrap_or_else(|e| panic!("our Authorization does not parse back: {e}\n{answer}"));
        assert_eq!(
            (&back.realm, &back.nonce, &back.opaque, back.qop_auth),
            (
                &challenge.realm,
                &challenge.nonce,
                &challenge.opaque,
                challenge.qop_auth
            ),
        );
        if challenge.algorithm_named || challenge.algorithm != Algorithm::Md5 {
            assert_eq!(back.algorithm, challenge.algorithm);
        }
    }
    if value.contains(['\r', '\n']) {
        return;
    }
    let response = format!(
        "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n\
         From: <sip:1001@192.0.2.1>;tag=a\r\nTo: <sip:1001@192.0.2.1>;tag=b\r\n\
         Call-ID: fuzz\r\nCSeq: 1 REGISTER\r\nWWW-Authenticate: {value}\r\n\
         Proxy-Authenticate: {value}\r\nContent-Length: 0\r\n\r\n"
    );
    if let Ok(parsed) = message::parse(response.as_bytes()) {
        let _ = huifang::telephony::sip::auth::answer_challenge(
            &parsed,
            rsip::Method::Register,
            uri,
            &creds,
            "0a4f113b",
            1,
        );
    }
}

/// A TCP stream from an SMSC: rusmpp's codec (as `rusmppc` frames our session, 4096 bytes at
/// most a PDU) returns errors, never panics; every PDU it decodes encodes, and decodes back to
/// itself (but see [`rusmpp_keeps_short_network_id`]); and a `deliver_sm` is read as the
/// gateway reads it (receipt or reply).
pub fn smpp_pdu(data: &[u8]) {
    let mut codec = CommandCodec::new().with_max_length(4096);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(command)) = codec.decode(&mut buf) {
        let mut encoded = BytesMut::new();
        CommandCodec::new()
            .encode(&command, &mut encoded)
            .expect("a decoded command encodes");
        if rusmpp_keeps_short_network_id(&command) {
            continue;
        }
        let again = CommandCodec::new()
            .without_max_length()
            .decode(&mut encoded)
            .expect("an encoded command decodes")
            .expect("an encoded command is whole");
        // A body rusmpp does not read (a generic_nack with an error status and bytes after
        // the header decodes to `pdu: None`) is not encoded, and the bare header reads back as
        // an empty body: compare the body only when there was one.
        assert_eq!(
            (again.id(), again.status(), again.sequence_number()),
            (command.id(), command.status(), command.sequence_number()),
        );
        if command.pdu().is_some() {
            assert_eq!(again, command);
        }
        if let Some(Pdu::DeliverSm(sm)) = command.pdu() {
            match fuzzing::smpp_deliver_sm(sm) {
                Some(Inbound::Receipt(r)) => check_receipt(&r),
                Some(Inbound::Reply { .. }) | None => {}
            }
        }
    }
}

/// A PDU whose one optional TLV field holds a `source_network_id` or `dest_network_id`
/// shorter than the 7 bytes its type (`COctetString<7, 66>`) requires. rusmpp 0.4 reads any
/// TLV into such a field (a bind response's `sc_interface_version`, `replace_sm`'s
/// `message_payload`, ...) without checking its tag, and its C-string decoder checks the
/// minimum against the bytes left in the buffer, not against the string it reads: such a
/// value decodes, then encodes to bytes it refuses (found by this target, twice:
/// `fuzz/corpus/smpp_pdu/bind_resp_short_network_id.bin`, `replace_sm_short_network_id.bin`).
/// Nothing of ours re-sends a decoded PDU (rusmppc answers with PDUs of its own, huifang reads
/// `deliver_sm`s), so the round trip is not asked of these; decoding and encoding them must
/// still not panic.
fn rusmpp_keeps_short_network_id(command: &rusmpp::Command) -> bool {
    let tlv = match command.pdu() {
        Some(Pdu::BindTransceiverResp(r)) => r.sc_interface_version_tlv(),
        Some(Pdu::BindReceiverResp(r)) => r.sc_interface_version_tlv(),
        Some(Pdu::BindTransmitterResp(r)) => r.sc_interface_version_tlv(),
        Some(Pdu::ReplaceSm(r)) => r.message_payload_tlv(),
        Some(Pdu::AlertNotification(r)) => r.ms_availability_status_tlv(),
        Some(Pdu::QueryBroadcastSm(r)) => r.user_message_reference_tlv(),
        _ => None,
    };
    matches!(
        tlv.and_then(|t| t.value()),
        Some(TlvValue::SourceNetworkId(id) | TlvValue::DestNetworkId(id)) if id.len() < 7
    )
}

fn check_receipt(r: &receipt::Receipt) {
    assert!(!r.provider_id.is_empty(), "a receipt without a message id");
    assert_eq!(r.delivered, r.status == "DELIVRD");
    assert!(!matches!(r.status.as_str(), "ENROUTE" | "ACCEPTD"));
}

/// A body from an HTTP SMS provider: its answer to our request under each kind of status,
/// sorted as the worker needs (accepted, transient, ambiguous, permanent), and the body of the
/// reply webhook (`POST /api/sms/inbound`), refused with a 4xx when it does not decode.
pub fn sms_gateway(data: &[u8]) {
    let body = String::from_utf8_lossy(data);
    match fuzzing::sms_gateway_answer(200, &body) {
        Ok(accepted) => assert_eq!(accepted.provider_ids.len(), 1),
        Err(e) => assert!(matches!(e, SendError::Permanent { .. }), "200 gave {e:?}"),
    }
    let busy = fuzzing::sms_gateway_answer(429, &body);
    assert!(matches!(
        busy,
        Err(SendError::Transient {
            retry_after: Some(_),
            ..
        })
    ));
    let failed = fuzzing::sms_gateway_answer(502, &body);
    assert!(matches!(failed, Err(SendError::Ambiguous { .. })));
    let refused = fuzzing::sms_gateway_answer(404, &body);
    assert!(matches!(refused, Err(SendError::Permanent { .. })));
    match fuzzing::sms_webhook(data) {
        Ok((from, _to, text)) => {
            let _ = (huifang::phone::Phone::parse(&from), text::intent(&text));
        }
        Err((status, message)) => {
            assert!(
                matches!(status, 400 | 422),
                "webhook body refused with {status}"
            );
            assert!(!message.is_empty());
        }
    }
}

/// The text of an owner's SMS reply and the bytes of a short message: decoding (each data
/// coding, with and without a user data header) and reading the reply's intent never panic; a
/// digit is one key; a delivery receipt's text reads to a consistent receipt.
pub fn sms_reply(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let ReplyIntent::Digit(d) = text::intent(&text) {
        assert!(d <= 9);
    }
    for (coding, udhi) in [(0, false), (0, true), (3, false), (8, false), (8, true)] {
        let decoded = text::decode(coding, udhi, data);
        let _ = text::intent(&decoded);
    }
    if let Some(r) = receipt::parse(&text, None, None) {
        check_receipt(&r);
    }
    if let Some(r) = receipt::parse(&text, Some("0a1b2c"), data.first().copied()) {
        check_receipt(&r);
        assert_eq!(r.provider_id, "0a1b2c");
    }
}

/// A campaign file: parsing returns the campaign or errors that print (with the line they
/// point at), never a panic; a campaign's windows and retry rule answer for any outcome.
pub fn campaign_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Campaign::parse(text, "fuzz.toml") {
        Ok(campaign) => {
            let _ = (
                campaign.code(),
                campaign.name(),
                campaign.kind(),
                campaign.mode(),
            );
            let _ = (
                campaign.lists().len(),
                campaign.channels(),
                campaign.template(),
            );
            let _ = (campaign.windows(), campaign.retry(), campaign.content());
        }
        Err(errors) => assert!(!errors.to_string().is_empty()),
    }
}

/// A survey script: parsing returns a script whose every edge leads to a node, or errors whose
/// lines are within the text, never a panic.
pub fn survey_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match script::parse(text) {
        Ok(script) => {
            assert!(script.nodes.contains_key(&script.start));
            for name in script.nodes.keys() {
                for next in script.successors(name) {
                    assert!(
                        script.nodes.contains_key(next),
                        "`{name}` leads to `{next}`"
                    );
                }
                let _ = script.question_ahead(name);
            }
            let _ = script.prompt_names();
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            let lines = text.split('\n').count();
            for e in &errors {
                assert!(
                    e.line.is_none_or(|l| (1..=lines).contains(&l)),
                    "{e} of {lines}"
                );
                assert!(!e.to_string().is_empty());
            }
        }
    }
}

/// A campaign's CSV list: contacts or refusals, never a panic; what is kept is in range.
pub fn dialer_list_csv(data: &[u8]) {
    if let Ok((contacts, refused)) = fuzzing::dialer_list_csv(data) {
        for c in &contacts {
            assert!((-1_000_000..=1_000_000).contains(&c.priority));
            assert!(!c.language.is_empty());
        }
        assert!(refused.iter().all(|r| r.starts_with("list.csv:")));
    }
}

/// An import file's CSV text, read as each kind of file: every row is either accepted or
/// refused with its line, never a panic.
pub fn import_csv(data: &[u8]) {
    for kind in ImportKind::ORDER {
        check_import(kind, data);
    }
}

fn check_import(kind: ImportKind, data: &[u8]) {
    if let Ok(report) = fuzzing::import_rows(kind, data) {
        assert_eq!(
            report.accepted + report.rejected.len() as u64,
            report.rows,
            "{kind:?}: rows neither accepted nor refused"
        );
        assert!(report.rejected.iter().all(|e| e.line >= 1));
    }
}

/// A spreadsheet (XLSX, XLS, ODS): its first sheet becomes CSV text or a typed error, never a
/// panic, and that text imports as a CSV file would.
pub fn import_xlsx(data: &[u8]) {
    if let Ok(csv) = fuzzing::spreadsheet_as_csv(data) {
        for kind in ImportKind::ORDER {
            check_import(kind, &csv);
        }
    }
}

/// A request body of the JSON API, decoded as every body type the handlers take: each either
/// decodes (and passes the handler's first checks without a panic) or is refused with 400 or
/// 422 and a message, as axum's `Json` extractor does.
pub fn api_json(data: &[u8]) {
    for (name, outcome) in fuzzing::api_bodies(data) {
        if let Err((status, message)) = outcome {
            assert!(matches!(status, 400 | 422), "{name}: refused with {status}");
            assert!(!message.is_empty(), "{name}: refused without a message");
        }
    }
}
