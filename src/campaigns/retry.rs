//! Retry rules: after which outcomes a contact is called again, how soon, and how often.
//!
//! Each retryable outcome has a delay and a number of retries; on top, every contact has a daily
//! and a lifetime cap on attempts. `next_attempt` only says when the next attempt is *due*; the
//! scheduler then moves it into the contact's call window with
//! [`super::CallWindows::next_open`] (or use [`super::Campaign::next_attempt`], which does both).

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::error::{Problem, Report};
use super::raw::{RawRetry, RawRule};
use super::windows::local_instant;

/// How an unfinished attempt ended; an answered call is final and never retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The line was busy (SIP 486/600).
    Busy,
    /// It rang until the ring time-out.
    NoAnswer,
    /// An answering machine or voicemail picked up.
    Machine,
    /// The owner answered and found no agent within 2 s.
    Abandoned,
    /// The network refused the call (other SIP failures).
    Failed,
    /// The owner hung up before the survey's last question (the retry asks only what is
    /// left).
    Incomplete,
}

impl Outcome {
    /// Every outcome, in the order of the retry table.
    pub const ALL: [Outcome; 6] = [
        Outcome::Busy,
        Outcome::NoAnswer,
        Outcome::Machine,
        Outcome::Abandoned,
        Outcome::Failed,
        Outcome::Incomplete,
    ];

    /// The word used in files and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Busy => "busy",
            Outcome::NoAnswer => "no_answer",
            Outcome::Machine => "machine",
            Outcome::Abandoned => "abandoned",
            Outcome::Failed => "failed",
            Outcome::Incomplete => "incomplete",
        }
    }
}

/// When to call again after one outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryRule {
    /// The delay after the last attempt.
    pub after: TimeDelta,
    /// How many times this outcome may be followed by another attempt (0: never).
    pub max: u32,
}

/// Attempts made so far for one contact in one campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attempts {
    /// All attempts, ever.
    pub total: u32,
    /// Attempts on the contact's local day of the last attempt.
    pub today: u32,
    /// Attempts that ended with the outcome being retried, the last one included.
    pub of_outcome: u32,
}

/// The per-outcome rules and the per-contact caps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    rules: [RetryRule; 6],
    daily_cap: u32,
    lifetime_cap: u32,
}

/// The default rules: busy 3× after 30 min, no answer 3× after 2 h, machine once after 4 h,
/// abandoned once after 72 h, failed once after 1 h, an incomplete survey twice after 1 h; at
/// most 3 attempts a day and 8 in all.
const DEFAULT_RULES: [(i64, u32); 6] =
    [(30, 3), (120, 3), (240, 1), (72 * 60, 1), (60, 1), (60, 2)];
const DEFAULT_DAILY_CAP: u32 = 3;
const DEFAULT_LIFETIME_CAP: u32 = 8;

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            rules: DEFAULT_RULES.map(|(minutes, max)| RetryRule {
                after: TimeDelta::minutes(minutes),
                max,
            }),
            daily_cap: DEFAULT_DAILY_CAP,
            lifetime_cap: DEFAULT_LIFETIME_CAP,
        }
    }
}

impl RetryPolicy {
    /// The rule for `outcome`.
    pub fn rule(&self, outcome: Outcome) -> RetryRule {
        self.rules[outcome as usize]
    }

    /// At most this many attempts per contact per local day.
    pub fn daily_cap(&self) -> u32 {
        self.daily_cap
    }

    /// At most this many attempts per contact in the campaign.
    pub fn lifetime_cap(&self) -> u32 {
        self.lifetime_cap
    }

    /// When the next attempt is due after an attempt that ended with `outcome` at `last`, or
    /// `None` when the contact is finished (rule or lifetime cap spent). When today's cap is
    /// spent the attempt waits for the contact's next local day (`tz`).
    pub fn next_attempt(
        &self,
        outcome: Outcome,
        attempts: Attempts,
        last: DateTime<Utc>,
        tz: Tz,
    ) -> Option<DateTime<Utc>> {
        let rule = self.rule(outcome);
        if attempts.of_outcome.max(1) > rule.max || attempts.total >= self.lifetime_cap {
            return None;
        }
        let due = last + rule.after;
        if attempts.today >= self.daily_cap {
            return Some(due.max(next_local_day(last, tz)?));
        }
        Some(due)
    }

    /// Builds the policy from `[retry]`, defaults for what is left out.
    pub(super) fn from_raw(raw: Option<RawRetry>, report: &mut Report<'_>) -> RetryPolicy {
        let mut policy = RetryPolicy::default();
        let Some(raw) = raw else { return policy };
        let given = [
            raw.busy,
            raw.no_answer,
            raw.machine,
            raw.abandoned,
            raw.failed,
            raw.incomplete,
        ];
        for (outcome, rule) in Outcome::ALL.into_iter().zip(given) {
            if let Some(rule) = rule.and_then(|r| parse_rule(outcome, &r, report)) {
                policy.rules[outcome as usize] = rule;
            }
        }
        let cap = |value: Option<toml::Spanned<i64>>, key: &str, report: &mut Report<'_>| {
            value.and_then(|v| report.check(key, v.span(), cap_value(*v.get_ref())))
        };
        policy.daily_cap =
            cap(raw.daily_cap, "retry.daily_cap", report).unwrap_or(policy.daily_cap);
        let lifetime = cap(raw.lifetime_cap, "retry.lifetime_cap", report);
        policy.lifetime_cap = lifetime.unwrap_or(policy.lifetime_cap);
        if policy.daily_cap > policy.lifetime_cap {
            let problem = Problem::DailyOverLifetime(policy.daily_cap, policy.lifetime_cap);
            report.add("retry.daily_cap", None, problem);
        }
        policy
    }
}

/// One `outcome = { after, max }`, or `None` after reporting its problems.
fn parse_rule(outcome: Outcome, raw: &RawRule, report: &mut Report<'_>) -> Option<RetryRule> {
    let key = format!("retry.{}", outcome.as_str());
    let after_text = raw.after.get_ref();
    let after = report.check(
        format!("{key}.after"),
        raw.after.span(),
        duration(after_text),
    );
    let max = report.check(
        format!("{key}.max"),
        raw.max.span(),
        count(*raw.max.get_ref()),
    );
    let after = after?;
    if outcome == Outcome::Abandoned && after < TimeDelta::hours(72) {
        let problem = Problem::AbandonRetryTooSoon(after_text.clone());
        report.add(format!("{key}.after"), Some(raw.after.span()), problem);
        return None;
    }
    Some(RetryRule { after, max: max? })
}

/// A number of retries, 0 to 20.
fn count(value: i64) -> Result<u32, Problem> {
    u32::try_from(value)
        .ok()
        .filter(|v| *v <= 20)
        .ok_or_else(|| Problem::OutOfRange {
            value: value.to_string(),
            expected: "0 to 20 retries",
        })
}

/// A cap on attempts, 1 to 1000.
fn cap_value(value: i64) -> Result<u32, Problem> {
    u32::try_from(value)
        .ok()
        .filter(|v| (1..=1000).contains(v))
        .ok_or_else(|| Problem::OutOfRange {
            value: value.to_string(),
            expected: "at least 1 and at most 1000",
        })
}

/// `90s`, `30m`, `2h`, `1h30m`, `3d`: a positive delay of at most 30 days.
pub(super) fn duration(text: &str) -> Result<TimeDelta, Problem> {
    let bad = || Problem::BadDuration(text.to_string());
    let mut total = TimeDelta::zero();
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        let step = match c {
            's' => TimeDelta::try_seconds(n),
            'm' => TimeDelta::try_minutes(n),
            'h' => TimeDelta::try_hours(n),
            'd' => TimeDelta::try_days(n),
            _ => None,
        }
        .ok_or_else(bad)?;
        total = total
            .checked_add(&step)
            .filter(|d| *d <= TimeDelta::days(30))
            .ok_or_else(bad)?;
    }
    let valid = digits.is_empty() && total > TimeDelta::zero() && total <= TimeDelta::days(30);
    valid.then_some(total).ok_or_else(bad)
}

/// The contact's next local midnight after `at` (or the first instant of that day, when a DST
/// gap swallows midnight).
fn next_local_day(at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let tomorrow = at.with_timezone(&tz).date_naive().succ_opt()?;
    (0..24 * 60).find_map(|minute| local_instant(tomorrow, minute, tz))
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod tests;
