//! Retry rules and the daily and lifetime caps.

use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use chrono_tz::Tz;

use super::{Attempts, Outcome, RetryPolicy, duration};
use crate::campaigns::Campaign;
use crate::campaigns::tests::base;

fn local(tz: Tz, text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
    tz.from_local_datetime(&naive)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn campaign(retry: &str) -> Campaign {
    Campaign::parse(&base(&format!("[retry]\n{retry}")), "t.toml").unwrap()
}

fn attempts(total: u32, today: u32, of_outcome: u32) -> Attempts {
    Attempts {
        total,
        today,
        of_outcome,
    }
}

#[test]
fn busy_is_retried_three_times_after_30_minutes() {
    let policy = campaign("busy = { after = \"30m\", max = 3 }\n")
        .retry()
        .clone();
    let last = local(Shanghai, "2026-03-02 10:00");
    for n in 1..=3 {
        let next = policy.next_attempt(Outcome::Busy, attempts(n, 1, n), last, Shanghai);
        assert_eq!(next, Some(last + TimeDelta::minutes(30)), "after busy #{n}");
    }
    assert_eq!(
        policy.next_attempt(Outcome::Busy, attempts(4, 1, 4), last, Shanghai),
        None
    );
}

#[test]
fn a_rule_of_zero_never_retries() {
    let policy = campaign("machine = { after = \"1h\", max = 0 }\n")
        .retry()
        .clone();
    let last = local(Shanghai, "2026-03-02 10:00");
    assert_eq!(
        policy.next_attempt(Outcome::Machine, attempts(1, 1, 1), last, Shanghai),
        None
    );
}

#[test]
fn the_lifetime_cap_ends_the_contact() {
    let policy = campaign("no_answer = { after = \"2h\", max = 9 }\nlifetime_cap = 4\n")
        .retry()
        .clone();
    let last = local(Shanghai, "2026-03-02 10:00");
    let next =
        |total| policy.next_attempt(Outcome::NoAnswer, attempts(total, 1, 1), last, Shanghai);
    assert_eq!(next(3), Some(last + TimeDelta::hours(2)));
    assert_eq!(next(4), None);
}

#[test]
fn the_daily_cap_waits_for_the_contacts_next_local_day() {
    let policy = campaign("busy = { after = \"30m\", max = 3 }\ndaily_cap = 2\n")
        .retry()
        .clone();
    let last = local(Shanghai, "2026-03-02 10:00");
    let next = policy.next_attempt(Outcome::Busy, attempts(2, 2, 2), last, Shanghai);
    assert_eq!(next, Some(local(Shanghai, "2026-03-03 00:00")));
    let under = policy.next_attempt(Outcome::Busy, attempts(1, 1, 1), last, Shanghai);
    assert_eq!(under, Some(last + TimeDelta::minutes(30)));
}

#[test]
fn defaults_follow_the_documented_rules() {
    let policy = RetryPolicy::default();
    assert_eq!(policy.rule(Outcome::Busy).after, TimeDelta::minutes(30));
    assert_eq!(policy.rule(Outcome::NoAnswer).max, 3);
    assert_eq!(policy.rule(Outcome::Abandoned).after, TimeDelta::hours(72));
    assert_eq!((policy.daily_cap(), policy.lifetime_cap()), (3, 8));
}

#[test]
fn a_retry_is_moved_into_the_next_window() {
    // Busy at 19:45 on a Saturday: due 20:15, after the window; Sunday is closed by default.
    let campaign = campaign("busy = { after = \"30m\", max = 3 }\n");
    let last = local(Shanghai, "2026-03-07 19:45");
    let next = campaign.next_attempt(Outcome::Busy, attempts(1, 1, 1), last, Shanghai);
    assert_eq!(next, Some(local(Shanghai, "2026-03-09 09:00")));
}

#[test]
fn durations_parse_and_refuse() {
    assert_eq!(duration("1h30m"), Ok(TimeDelta::minutes(90)));
    assert_eq!(duration("90s"), Ok(TimeDelta::seconds(90)));
    assert_eq!(duration("3d"), Ok(TimeDelta::days(3)));
    for bad in [
        "",
        "30",
        "0m",
        "h",
        "2w",
        "31d",
        "99999999999999999999h",
        "-5m",
    ] {
        assert!(duration(bad).is_err(), "{bad:?}");
    }
}
