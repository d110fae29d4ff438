//! The login throttle of the console, and the client address requests come from.
//!
//! Two limits stand before every password check. A `governor` rate per client address bounds
//! how many login attempts (good or bad) it may make (a burst of 30, then 5 a second), so a
//! flood cannot keep the cores busy hashing; and the failure back-off of
//! [`crate::users::throttle`] holds an address back after a few wrong passwords and an
//! account after a few more. The lock-out after many wrong passwords is kept in the database
//! (`users.locked_at`), so it survives a restart and holds across the nodes of one database.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::users::throttle::{Held, LoginThrottle};

/// Login attempts an address may make at once before the rate applies.
const ATTEMPT_BURST: u32 = 30;
/// Login attempts per second an address may make after its burst.
const ATTEMPTS_PER_SECOND: u32 = 5;

/// The longest account name kept (in the throttle's table and the audit log).
pub(super) const NAME_CAP: usize = 64;

/// Where a request comes from: the peer of its TCP connection (none when the server was
/// started without connection info, as in some tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    /// Of a request's parts.
    pub(super) fn of(parts: &Parts) -> ClientAddress {
        ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip()),
        )
    }

    /// As the audit log and log lines write it (empty when unknown).
    pub fn text(self) -> String {
        self.0.map(|a| a.to_string()).unwrap_or_default()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<ClientAddress, Infallible> {
        Ok(ClientAddress::of(parts))
    }
}

/// Why a login attempt is refused before its password is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address sent too many attempts.
    Flood(Duration),
    /// Back-off after failures.
    Backoff(Held),
}

impl Refusal {
    /// How long until the next attempt may be made.
    pub fn wait(self) -> Duration {
        match self {
            Refusal::Flood(d) => d,
            Refusal::Backoff(held) => held.wait(),
        }
    }
}

/// The throttle state of one server.
#[derive(Debug)]
pub struct LoginGuard {
    attempts: DefaultKeyedRateLimiter<IpAddr>,
    backoff: Mutex<LoginThrottle>,
}

impl Default for LoginGuard {
    fn default() -> Self {
        let quota = Quota::per_second(NonZeroU32::new(ATTEMPTS_PER_SECOND).expect("nonzero"))
            .allow_burst(NonZeroU32::new(ATTEMPT_BURST).expect("nonzero"));
        LoginGuard {
            attempts: RateLimiter::keyed(quota),
            backoff: Mutex::new(LoginThrottle::default()),
        }
    }
}

impl LoginGuard {
    /// Whether an attempt on `account` from `address` may go on to the password check.
    pub fn admit(&self, address: Option<IpAddr>, account: &str) -> Result<(), Refusal> {
        if let Some(addr) = address
            && let Err(not_until) = self.attempts.check_key(&addr)
        {
            return Err(Refusal::Flood(
                not_until.wait_time_from(DefaultClock::default().now()),
            ));
        }
        let backoff = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
        match backoff.check(address, account, Instant::now()) {
            Some(held) => Err(Refusal::Backoff(held)),
            None => Ok(()),
        }
    }

    /// Counts a wrong password; returns the address's and the account's streaks.
    pub fn failed(&self, address: Option<IpAddr>, account: &str) -> (u32, u32) {
        let mut backoff = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
        backoff.failed(address, account, Instant::now())
    }

    /// An admin's unlock ends the account's back-off too.
    pub fn forget_account(&self, account: &str) {
        let mut backoff = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
        backoff.forget_account(account);
    }

    /// A good login ends the account's streak.
    pub fn succeeded(&self, account: &str) {
        let mut backoff = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
        backoff.succeeded(account);
        if self.attempts.len() > 10_000 {
            self.attempts.retain_recent();
        }
    }
}
