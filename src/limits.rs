//! Rate limits, enforced before every dial: per trunk (calls per second and concurrent
//! channels), per campaign (calls per second) and per destination prefix (calls per second).
//!
//! Rates use `governor` (GCRA, burst 1, so calls are spread evenly instead of bunched at the
//! start of each second, which trunks punish); governor limits rate, not concurrency, so the
//! channels of a trunk are a `tokio` semaphore. A keyed governor limiter has one quota for all
//! keys, so every trunk, campaign and prefix gets a direct limiter of its own.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A calls-per-second rate that governor cannot carry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{what}: {rate} calls per second is not a usable rate (0 < rate <= 10000)")]
pub struct RateError {
    /// Which limit (`trunk main`, `prefix +86138`).
    pub what: String,
    /// The rate given.
    pub rate: f64,
}

/// One per-second limiter, spreading calls (or messages) evenly.
pub fn limiter(what: &str, rate: f64) -> Result<DefaultDirectRateLimiter, RateError> {
    Ok(RateLimiter::direct(quota(what, rate)?))
}

/// `rate` calls per second, one at a time (burst 1).
fn quota(what: &str, rate: f64) -> Result<Quota, RateError> {
    if !(rate > 0.0 && rate <= 10_000.0) {
        return Err(RateError {
            what: what.to_string(),
            rate,
        });
    }
    let period = Duration::from_secs_f64(1.0 / rate);
    Ok(Quota::with_period(period)
        .ok_or_else(|| RateError {
            what: what.to_string(),
            rate,
        })?
        .allow_burst(NonZeroU32::MIN))
}

/// A trunk's two limits.
#[derive(Debug)]
struct TrunkLimit {
    rate: DefaultDirectRateLimiter,
    channels: Arc<Semaphore>,
    size: usize,
}

/// Every limit of one dialer node.
#[derive(Debug, Default)]
pub struct Limits {
    trunks: HashMap<String, TrunkLimit>,
    /// Longest prefix first, so the most specific limit applies.
    prefixes: Vec<(String, DefaultDirectRateLimiter)>,
    campaigns: Mutex<HashMap<i64, Arc<DefaultDirectRateLimiter>>>,
}

/// The right to place one call: holds one of the trunk's channels until dropped.
#[derive(Debug)]
pub struct DialPermit {
    _channel: OwnedSemaphorePermit,
}

impl Limits {
    /// No limits yet; add trunks and prefixes.
    pub fn new() -> Limits {
        Limits::default()
    }

    /// Limits `trunk` to `rate` calls per second and `channels` calls at once.
    pub fn trunk(mut self, trunk: &str, rate: f64, channels: usize) -> Result<Limits, RateError> {
        let channels = channels.max(1);
        let limit = TrunkLimit {
            rate: limiter(&format!("trunk {trunk}"), rate)?,
            channels: Arc::new(Semaphore::new(channels)),
            size: channels,
        };
        self.trunks.insert(trunk.to_string(), limit);
        Ok(self)
    }

    /// Limits calls to numbers starting with `prefix` (E.164, `+86138`) to `rate` per second.
    pub fn prefix(mut self, prefix: &str, rate: f64) -> Result<Limits, RateError> {
        let limit = limiter(&format!("prefix {prefix}"), rate)?;
        self.prefixes.push((prefix.to_string(), limit));
        self.prefixes
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Ok(self)
    }

    /// The prefix limits of a configuration table (`"+86138" = 5`).
    pub fn prefixes(self, table: &BTreeMap<String, f64>) -> Result<Limits, RateError> {
        table
            .iter()
            .try_fold(self, |limits, (prefix, rate)| limits.prefix(prefix, *rate))
    }

    /// How many calls `trunk` may carry at once (`None`: unknown trunk).
    pub fn channels(&self, trunk: &str) -> Option<usize> {
        self.trunks.get(trunk).map(|t| t.size)
    }

    /// Waits until every limit allows one more call to `phone` on `trunk` for campaign
    /// `campaign_id` (at `campaign_rate` calls per second, if it has one). Returns `None` for a
    /// trunk that has no limits configured.
    pub async fn acquire(
        &self,
        trunk: &str,
        campaign_id: i64,
        campaign_rate: Option<f64>,
        phone: &str,
    ) -> Option<DialPermit> {
        let limit = self.trunks.get(trunk)?;
        let channel = limit.channels.clone().acquire_owned().await.ok()?;
        if let Some(rate) = campaign_rate
            && let Some(campaign) = self.campaign(campaign_id, rate)
        {
            campaign.until_ready().await;
        }
        if let Some((_, prefix)) = self.prefixes.iter().find(|(p, _)| phone.starts_with(p)) {
            prefix.until_ready().await;
        }
        // The trunk last: its rate is the scarcest, and waiting on it last keeps calls to one
        // slow prefix from holding the trunk's slot in the rate schedule.
        limit.rate.until_ready().await;
        Some(DialPermit { _channel: channel })
    }

    fn campaign(&self, campaign_id: i64, rate: f64) -> Option<Arc<DefaultDirectRateLimiter>> {
        let mut campaigns = self
            .campaigns
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(limiter) = campaigns.get(&campaign_id) {
            return Some(limiter.clone());
        }
        let made = Arc::new(limiter(&format!("campaign {campaign_id}"), rate).ok()?);
        campaigns.insert(campaign_id, made.clone());
        Some(made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn absurd_rates_are_refused_with_their_name() {
        let err = Limits::new().trunk("main", 0.0, 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "trunk main: 0 calls per second is not a usable rate (0 < rate <= 10000)"
        );
        assert!(Limits::new().prefix("+86", f64::NAN).is_err());
        assert!(Limits::new().trunk("main", 2.5, 10).is_ok());
    }

    #[test]
    fn the_most_specific_prefix_applies() {
        let limits = Limits::new()
            .prefix("+86", 100.0)
            .unwrap()
            .prefix("+86138", 1.0)
            .unwrap();
        let first = limits
            .prefixes
            .iter()
            .find(|(p, _)| "+8613800000000".starts_with(p));
        assert_eq!(first.map(|(p, _)| p.as_str()), Some("+86138"));
    }

    #[test]
    fn a_rate_spreads_calls_evenly() {
        // The quota of every limiter, on a fake clock: 4 calls per second → one per 250 ms.
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(quota("test", 4.0).unwrap(), clock.clone());
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err(), "no burst");
        clock.advance(Duration::from_millis(249));
        assert!(limiter.check().is_err());
        clock.advance(Duration::from_millis(1));
        assert!(limiter.check().is_ok());
    }

    #[tokio::test]
    async fn channels_cap_concurrent_calls() {
        let limits = Limits::new().trunk("main", 1000.0, 2).unwrap();
        let a = limits.acquire("main", 1, None, "+8613800000001").await;
        let b = limits.acquire("main", 1, None, "+8613800000002").await;
        assert!(a.is_some() && b.is_some());
        let third = tokio::time::timeout(
            Duration::from_millis(50),
            limits.acquire("main", 1, None, "+8613800000003"),
        )
        .await;
        assert!(third.is_err(), "a third call waits for a channel");
        drop(a);
        assert!(
            limits
                .acquire("main", 1, None, "+8613800000003")
                .await
                .is_some()
        );
        assert!(
            limits
                .acquire("other", 1, None, "+8613800000003")
                .await
                .is_none()
        );
    }
}
