//! Who may talk to this endpoint, and what a stranger gets: no state, and at most a few
//! stateless refusals a second.
//!
//! A survey digit closes a ticket, so a dialer node must take requests only from its far
//! ends: out-of-dialog requests from the [`AccessList`] (the trunks' addresses), in-dialog
//! ones only with the dialog's Call-ID *and both tags* from an address the dialog has used
//! (its next hop, its remote target or its first route) or from the list. Everyone else gets a
//! `403` without a transaction or a call being made, rate-limited per source address as
//! Kamailio's `pike` and Asterisk's `allowguest=no` do, so a flood of strangers' requests
//! costs neither memory nor much bandwidth.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::clock::FakeRelativeClock;
use governor::{Quota, RateLimiter};
use ipnet::IpNet;
use rsip::Method;

use super::call::State;
use super::{CallKey, Endpoint, Transport, TxKeyRef};
use crate::sip::message::{self, Parsed};

/// The addresses that may send out-of-dialog requests (a trunk's, a hotline's carriers').
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessList {
    nets: Vec<IpNet>,
}

impl AccessList {
    /// A list of networks (`10.0.0.0/24`) and single addresses (`/32`, `/128`).
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> AccessList {
        AccessList {
            nets: nets.into_iter().collect(),
        }
    }

    /// Adds one network.
    pub fn push(&mut self, net: IpNet) {
        self.nets.push(net);
    }

    /// Whether `ip` is in one of the networks (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The networks.
    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }
}

/// What the gate counted: the figures an operator watches during an attack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdmissionStats {
    /// Requests refused with a stateless response.
    pub refused: u64,
    /// Requests refused silently: their source had used up its refusals for now.
    pub silenced: u64,
}

/// Per-source budget of stateless refusals, on the time the transport passes in (the
/// endpoint reads no clock: governor runs on a fake clock moved to each `now`).
pub(super) struct RefusalBudget {
    limiter: RateLimiter<
        IpAddr,
        governor::state::keyed::HashMapStateStore<IpAddr>,
        FakeRelativeClock,
        governor::middleware::NoOpMiddleware<governor::nanos::Nanos>,
    >,
    clock: FakeRelativeClock,
    epoch: Option<Instant>,
    moved: Duration,
    checks: u64,
}

/// Sources remembered before idle ones are pruned: a flood from spoofed addresses must not grow
/// the limiter's map without end.
const PRUNE_EVERY: u64 = 4096;

impl RefusalBudget {
    pub(super) fn new(per_second: NonZeroU32) -> RefusalBudget {
        let clock = FakeRelativeClock::default();
        RefusalBudget {
            limiter: RateLimiter::hashmap_with_clock(Quota::per_second(per_second), clock.clone()),
            clock,
            epoch: None,
            moved: Duration::ZERO,
            checks: 0,
        }
    }

    /// Whether `source` may get one more refusal at `now`.
    pub(super) fn allow(&mut self, now: Instant, source: IpAddr) -> bool {
        let epoch = *self.epoch.get_or_insert(now);
        let since = now.saturating_duration_since(epoch);
        if since > self.moved {
            self.clock.advance(since - self.moved);
            self.moved = since;
        }
        self.checks += 1;
        if self.checks.is_multiple_of(PRUNE_EVERY) {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(&canonical(source)).is_ok()
    }

    /// How many sources are remembered (for the pruning test).
    #[cfg(test)]
    pub(super) fn sources(&self) -> usize {
        self.limiter.len()
    }
}

impl std::fmt::Debug for RefusalBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefusalBudget")
            .field("sources", &self.limiter.len())
            .finish()
    }
}

impl Endpoint {
    /// Whether a new request (not a retransmission, not an ACK) may make state here; `Err`
    /// carries the status of the stateless refusal.
    pub(super) fn admit(&self, from: SocketAddr, method: Method, req: &Parsed) -> Result<(), u16> {
        let listed = self
            .config
            .allow
            .as_ref()
            .is_none_or(|l| l.contains(from.ip()));
        if req.to_tag.is_some() {
            return match self.dialog_of(req) {
                Some(key) if self.trusts(key, from) => Ok(()),
                Some(_) => Err(403),
                // No such dialog: a listed source hears 481 from the dialog code.
                None if listed => Ok(()),
                None => Err(403),
            };
        }
        if !listed {
            return Err(403);
        }
        match method {
            Method::Invite if !self.config.takes_calls => Err(403),
            // A new INVITE reusing a live call's Call-ID must not take that call's place in
            // the index (RFC 3261 §8.2.2.2: a merged or looped request).
            Method::Invite if self.by_call_id.contains_key(&req.call_id) => Err(482),
            // Only the INVITE's sender may cancel it.
            Method::Cancel => match self.servers.get(&TxKeyRef {
                branch: &req.branch,
                method: message::method_name(Method::Invite),
            }) {
                Some(invite) if canonical(invite.from.ip()) != canonical(from.ip()) => Err(403),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// A stateless final response, within the source's budget; silence beyond it.
    pub(super) fn refuse(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        req: &Parsed,
        status: u16,
    ) {
        if !self.refusals.allow(now, from.ip()) {
            self.admission.silenced += 1;
            return;
        }
        self.admission.refused += 1;
        let tag = req.to_tag.is_none().then(|| self.token(10));
        let headers = message::response_headers(req, tag.as_deref());
        let bytes = message::build_response(status, headers, b"");
        self.send(from, transport, bytes);
    }

    /// The live dialog a request names by Call-ID and both tags (our tag in To, theirs in
    /// From once we know it); an ended call only lingers for retransmissions.
    pub(super) fn dialog_of(&self, req: &Parsed) -> Option<CallKey> {
        let key = *self.by_call_id.get(&req.call_id)?;
        let call = self.calls.get(&key)?;
        let ours = req.to_tag.as_deref() == Some(call.local_tag.as_str());
        let theirs = call
            .remote_tag
            .as_deref()
            .is_none_or(|tag| req.from_tag.as_deref() == Some(tag));
        (call.state != State::Ended && ours && theirs).then_some(key)
    }

    /// Whether a request in dialog `key` from `from` comes from one of its far ends: an
    /// address the dialog has used, or a listed one.
    pub(super) fn trusts(&self, key: CallKey, from: SocketAddr) -> bool {
        let listed = self
            .config
            .allow
            .as_ref()
            .is_some_and(|l| l.contains(from.ip()));
        listed
            || self
                .calls
                .get(&key)
                .is_some_and(|c| is_peer(&c.peers, from))
    }
}

/// The addresses a dialog has used: requests in it are taken from these (or the access list).
pub(super) fn peer_of(uri_or_hop: &str) -> Option<IpAddr> {
    let (host, _) = crate::sip::message::host_port(crate::sip::message::uri_of(uri_or_hop))?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok()
        .map(canonical)
}

/// Whether `from` is one of a dialog's `peers`.
pub(super) fn is_peer(peers: &[IpAddr], from: SocketAddr) -> bool {
    peers.contains(&canonical(from.ip()))
}

/// IPv4-mapped IPv6 addresses (a dual-stack socket's view of IPv4 peers) as plain IPv4.
pub(super) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_holds_networks_and_mapped_addresses() {
        let list = AccessList::new([
            "10.1.0.0/16".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ]);
        assert!(list.contains("10.1.200.3".parse().unwrap()));
        assert!(list.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!list.contains("127.0.0.2".parse().unwrap()));
        assert!(!AccessList::default().contains("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn each_source_gets_its_own_few_refusals_a_second() {
        let mut budget = RefusalBudget::new(NonZeroU32::new(5).unwrap());
        let t0 = Instant::now();
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap());
        let granted = (0..1000).filter(|_| budget.allow(t0, a)).count();
        assert_eq!(granted, 5, "a burst of 1,000 gets the quota's 5");
        assert!(budget.allow(t0, b), "another source has its own budget");
        assert!(!budget.allow(t0 + Duration::from_millis(100), a));
        assert!(
            budget.allow(t0 + Duration::from_millis(1200), a),
            "refilled"
        );
    }

    #[test]
    fn spoofed_sources_do_not_grow_the_budget_without_end() {
        let mut budget = RefusalBudget::new(NonZeroU32::new(5).unwrap());
        let t0 = Instant::now();
        for i in 0..100_000u32 {
            let ip = IpAddr::from((0x0a00_0000 | i).to_be_bytes());
            budget.allow(t0 + Duration::from_millis(u64::from(i) * 10), ip);
        }
        assert!(
            budget.sources() < 2 * PRUNE_EVERY as usize,
            "{}",
            budget.sources()
        );
    }

    #[test]
    fn dialog_peers_are_read_from_uris_and_hops() {
        assert_eq!(
            peer_of("<sip:10.0.0.9:5070;lr>"),
            Some("10.0.0.9".parse().unwrap())
        );
        assert_eq!(
            peer_of("sip:owner@192.168.1.4"),
            Some("192.168.1.4".parse().unwrap())
        );
        assert_eq!(peer_of("sip:trunk.example.com"), None);
    }
}
