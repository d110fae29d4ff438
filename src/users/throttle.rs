//! Login back-off: how long a client address and an account must wait after failed logins.
//! Pure: the caller passes the time in (a monotonic `Instant`) and keeps one instance.
//!
//! Each address and each account name has a streak of failures. Below a few failures nothing
//! waits; from then on each further failure doubles the wait (1 s, 2 s, 4 s, ... up to an hour),
//! counted from the last failure, so ten wrong passwords take more than two minutes and the 11th
//! within a minute is always refused. Addresses are held back sooner than accounts: one client
//! guessing at every agent's name stops after a few tries, long before any account nears its
//! lock-out (which is counted in the database, see `Users::record_failure`). A refused attempt is
//! not a failure: it never reaches the password check.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failures an address may make before it waits.
pub const ADDRESS_FREE: u32 = 3;
/// Failures an account may take before it waits.
pub const ACCOUNT_FREE: u32 = 5;
/// The longest wait.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);
/// A streak is forgotten after this long without failures.
pub const FORGET: Duration = Duration::from_secs(2 * 3600);
/// Above this many entries, forgotten streaks are swept at each failure.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Streak {
    failures: u32,
    last: Instant,
}

impl Streak {
    fn wait(self, free: u32, now: Instant) -> Option<Duration> {
        if self.failures < free || now.duration_since(self.last) >= FORGET {
            return None;
        }
        let until = self.last + backoff(self.failures - free);
        (now < until).then(|| until - now)
    }
}

/// The wait after `over` failures beyond the free ones: 1 s doubled each time, capped.
fn backoff(over: u32) -> Duration {
    Duration::from_secs(1u64 << over.min(12)).min(MAX_WAIT)
}

/// Why an attempt must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The client address failed too often.
    Address(Duration),
    /// The account failed too often (from any address).
    Account(Duration),
}

impl Held {
    /// How long until a next attempt may be made.
    pub fn wait(self) -> Duration {
        match self {
            Held::Address(d) | Held::Account(d) => d,
        }
    }
}

/// The failure streaks of addresses and account names.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    addresses: HashMap<IpAddr, Streak>,
    accounts: HashMap<String, Streak>,
}

impl LoginThrottle {
    /// Whether an attempt from `address` on `account` must wait; the address is asked first.
    pub fn check(&self, address: Option<IpAddr>, account: &str, now: Instant) -> Option<Held> {
        if let Some(wait) = address
            .and_then(|a| self.addresses.get(&a))
            .and_then(|s| s.wait(ADDRESS_FREE, now))
        {
            return Some(Held::Address(wait));
        }
        self.accounts
            .get(&account.to_lowercase())
            .and_then(|s| s.wait(ACCOUNT_FREE, now))
            .map(Held::Account)
    }

    /// Counts a failed login; returns the address's and the account's streaks.
    pub fn failed(&mut self, address: Option<IpAddr>, account: &str, now: Instant) -> (u32, u32) {
        fn bump(streak: &mut Streak, now: Instant) -> u32 {
            if now.duration_since(streak.last) >= FORGET {
                streak.failures = 0;
            }
            streak.failures = streak.failures.saturating_add(1);
            streak.last = now;
            streak.failures
        }
        let fresh = Streak {
            failures: 0,
            last: now,
        };
        let by_address = address.map_or(0, |a| bump(self.addresses.entry(a).or_insert(fresh), now));
        let by_account = bump(
            self.accounts.entry(account.to_lowercase()).or_insert(fresh),
            now,
        );
        if self.addresses.len() + self.accounts.len() > SWEEP_ABOVE {
            self.addresses
                .retain(|_, s| now.duration_since(s.last) < FORGET);
            self.accounts
                .retain(|_, s| now.duration_since(s.last) < FORGET);
        }
        (by_address, by_account)
    }

    /// A good login ends the account's streak (not the address's: an attacker with one valid
    /// account must not wipe the address's record by logging in between guesses).
    pub fn succeeded(&mut self, account: &str) {
        self.accounts.remove(&account.to_lowercase());
    }

    /// An admin's unlock ends the account's streak too.
    pub fn forget_account(&mut self, account: &str) {
        self.succeeded(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7)));

    #[test]
    fn a_few_failures_are_free_then_each_doubles_the_wait() {
        let mut t = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..ADDRESS_FREE - 1 {
            t.failed(ADDR, "sup", t0);
            assert_eq!(t.check(ADDR, "sup", t0), None);
        }
        t.failed(ADDR, "sup", t0);
        assert_eq!(
            t.check(ADDR, "sup", t0),
            Some(Held::Address(Duration::from_secs(1)))
        );
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(t.check(ADDR, "sup", t1), None);
        t.failed(ADDR, "sup", t1);
        assert_eq!(
            t.check(ADDR, "sup", t1),
            Some(Held::Address(Duration::from_secs(2)))
        );
        // Another address is not held back until the account's own streak says so.
        let other = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 8)));
        assert_eq!(t.check(other, "sup", t1), None);
        assert_eq!(t.check(other, "agent1", t1), None);
    }

    #[test]
    fn eleven_failures_cannot_fit_in_a_minute() {
        let mut t = LoginThrottle::default();
        let mut now = Instant::now();
        let start = now;
        for _ in 0..10 {
            if let Some(held) = t.check(ADDR, "admin", now) {
                now += held.wait();
            }
            t.failed(ADDR, "admin", now);
        }
        assert!(now.duration_since(start) > Duration::from_secs(60));
        assert!(t.check(ADDR, "admin", now).is_some());
    }

    #[test]
    fn accounts_wait_from_any_address_and_a_good_login_ends_their_streak() {
        let mut t = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..ACCOUNT_FREE {
            let addr = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, i as u8)));
            t.failed(addr, "Agent1", now);
        }
        let fresh = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 2, 0, 1)));
        assert!(matches!(
            t.check(fresh, "agent1", now),
            Some(Held::Account(_))
        ));
        t.succeeded("agent1");
        assert_eq!(t.check(fresh, "agent1", now), None);
        // Waits are capped, and streaks forgotten after a quiet while.
        assert_eq!(backoff(40), MAX_WAIT);
        for _ in 0..30 {
            t.failed(ADDR, "x", now);
        }
        assert!(t.check(ADDR, "x", now + FORGET).is_none());
    }
}
