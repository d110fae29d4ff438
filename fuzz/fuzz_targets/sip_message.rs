//! Any datagram or stream buffer: the SIP parser and framer return errors, never panic, and the
//! endpoint drops what it cannot use without a panic (over UDP and TCP alike). The same body
//! runs on stable over literal cases and seeded mutations in
//! `crates/telephony/src/sip/endpoint/tests_malformed.rs` (`fuzz_body`); keep the two in step.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use huifang::telephony::sip::message;
use huifang::telephony::sip::{Endpoint, EndpointConfig, Transport};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = message::parse(data) {
        let _ = (parsed.status(), parsed.method(), parsed.body_text());
        let _ = (parsed.contact_uri(), parsed.content_type(), parsed.headers("Via"));
    }
    if let Ok(Some(len)) = message::frame(data) {
        assert!(len <= data.len());
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
});
