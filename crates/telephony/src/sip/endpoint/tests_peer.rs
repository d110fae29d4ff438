//! A scripted peer for one endpoint under test: responses and requests written as literal
//! text from the headers of what the endpoint sent, and a clock stepped by hand.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::tests::addr;
use super::*;
use crate::sip::message::{Parsed, tag_of};

/// Where the scripted peer sits (callee, registrar or proxy alike).
pub(super) fn peer() -> SocketAddr {
    addr(5080)
}

/// One endpoint at 127.0.0.1:5060 on virtual time.
pub(super) struct Solo {
    pub(super) now: Instant,
    pub(super) start: Instant,
    pub(super) ep: Endpoint,
}

impl Solo {
    pub(super) fn new() -> Solo {
        let now = Instant::now();
        Solo {
            now,
            start: now,
            ep: Endpoint::new(EndpointConfig::new(addr(5060)), 7),
        }
    }

    /// Everything the endpoint wants sent now.
    pub(super) fn sent(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.ep.poll_transmit()).collect()
    }

    /// Everything the endpoint has to tell now.
    pub(super) fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }

    /// Feeds literal text from the peer; it must parse.
    pub(super) fn feed(&mut self, text: &str) {
        self.feed_from(peer(), text);
    }

    pub(super) fn feed_from(&mut self, from: SocketAddr, text: &str) {
        self.ep
            .handle_datagram(self.now, from, Transport::Udp, text.as_bytes())
            .unwrap();
    }

    /// Fires the endpoint's timers up to `start + secs`; returns what it sent, with when.
    pub(super) fn run_to(&mut self, secs: f64) -> Vec<(Duration, Transmit)> {
        let until = self.start + Duration::from_secs_f64(secs);
        let mut out = Vec::new();
        while let Some(at) = self.ep.poll_timeout().filter(|at| *at <= until) {
            self.now = self.now.max(at);
            self.ep.handle_timeout(self.now);
            let elapsed = self.now - self.start;
            out.extend(self.sent().into_iter().map(|t| (elapsed, t)));
        }
        self.now = self.now.max(until);
        out
    }
}

pub(super) fn parsed(t: &Transmit) -> Parsed {
    message::parse(&t.bytes).expect("the endpoint sends parseable messages")
}

pub(super) fn text(t: &Transmit) -> String {
    String::from_utf8_lossy(&t.bytes).into_owned()
}

/// The one message among `out` whose start line begins with `prefix`.
pub(super) fn only(out: &[Transmit], prefix: &str) -> (Transmit, Parsed) {
    let found: Vec<&Transmit> = out.iter().filter(|t| text(t).starts_with(prefix)).collect();
    assert_eq!(found.len(), 1, "one `{prefix}` in {:?}", lines(out));
    (found[0].clone(), parsed(found[0]))
}

pub(super) fn lines(out: &[Transmit]) -> Vec<String> {
    out.iter().map(|t| tests::first_line(&t.bytes)).collect()
}

/// A response to `req`, as a peer would write it: `extra` is whole header lines.
pub(super) fn respond(req: &Parsed, status: u16, to_tag: &str, extra: &str, body: &str) -> String {
    let vias: String = req
        .headers("Via")
        .iter()
        .map(|v| format!("Via: {v}\r\n"))
        .collect();
    let to = req.header("To").unwrap_or_default();
    let to = match tag_of(&to) {
        Some(_) => to,
        None => format!("{to};tag={to_tag}"),
    };
    format!(
        "SIP/2.0 {status} Scripted\r\n{vias}From: {}\r\nTo: {to}\r\nCall-ID: {}\r\n\
         CSeq: {} {}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        req.header("From").unwrap_or_default(),
        req.call_id,
        req.cseq,
        req.cseq_method,
        body.len()
    )
}

/// The call events among `events`.
pub(super) fn call_events(events: &[Event]) -> Vec<CallEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Call { event, .. } => Some(event.clone()),
            Event::Registration { .. } => None,
        })
        .collect()
}

/// The values of `name=value` pairs in a digest header (`Digest a="b", c=d`).
pub(super) fn digest_params(value: &str) -> Vec<(String, String)> {
    let rest = value.trim().strip_prefix("Digest").unwrap_or(value);
    rest.split(',')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

/// One parameter of a digest header.
pub(super) fn digest_param(value: &str, name: &str) -> String {
    digest_params(value)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} in {value}"))
}

/// RFC 2617 §3.2.2.1 with qop=auth and MD5, written out here rather than borrowed from
/// `sip::auth`, so the test checks the formula and not the code against itself.
pub(super) fn md5_response(header: &str, method: &str, password: &str) -> String {
    use md5::Md5;
    use sha2::digest::Digest;
    let hex = |s: String| {
        Md5::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let p = |name| digest_param(header, name);
    let ha1 = hex(format!("{}:{}:{password}", p("username"), p("realm")));
    let ha2 = hex(format!("{method}:{}", p("uri")));
    hex(format!(
        "{ha1}:{}:{}:{}:{}:{ha2}",
        p("nonce"),
        p("nc"),
        p("cnonce"),
        p("qop")
    ))
}
