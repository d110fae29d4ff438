//! Call windows on the contact's wall clock: weekday edges, zones, holidays, DST.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use chrono_tz::{Asia::Shanghai, Europe::London};

use super::CallWindows;
use crate::campaigns::Campaign;
use crate::campaigns::tests::base;

/// The windows of a campaign whose `[windows]` table is `table`.
fn windows(table: &str) -> CallWindows {
    let text = base(&format!("[windows]\n{table}"));
    Campaign::parse(&text, "t.toml").unwrap().windows().clone()
}

/// Local wall-clock time `text` (`2026-03-02 09:00`) in `tz`, as UTC.
fn local(tz: Tz, text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
    tz.from_local_datetime(&naive)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn utc(text: &str) -> DateTime<Utc> {
    local(chrono_tz::UTC, text)
}

const WEEK: &str =
    "mon-fri = [\"09:00-12:00\", \"14:00-20:00\"]\nsat = [\"10:00-18:00\"]\nsun = []\n";

#[test]
fn windows_open_at_their_start_and_close_at_their_end() {
    let w = windows(WEEK);
    let at = |t| w.is_open(local(Shanghai, t), Shanghai);
    // 2026-03-02 is a Monday.
    assert!(!at("2026-03-02 08:59"));
    assert!(at("2026-03-02 09:00"));
    assert!(at("2026-03-02 11:59"));
    assert!(!at("2026-03-02 12:00"));
    assert!(at("2026-03-06 19:59"));
    assert!(!at("2026-03-06 20:00"));
    assert!(!at("2026-03-07 09:30"), "Saturday opens at 10:00");
    assert!(at("2026-03-07 10:00"));
    assert!(!at("2026-03-08 11:00"), "Sunday is closed");
    assert_eq!(w.count(), 11);
}

#[test]
fn the_same_instant_is_open_in_one_zone_and_closed_in_another() {
    let w = windows(WEEK);
    // 02:00 UTC on Monday: 10:00 in Shanghai, 02:00 in London.
    assert!(w.is_open(utc("2026-03-02 02:00"), Shanghai));
    assert!(!w.is_open(utc("2026-03-02 02:00"), London));
    // 15:00 UTC: 23:00 in Shanghai, 15:00 in London.
    assert!(!w.is_open(utc("2026-03-02 15:00"), Shanghai));
    assert!(w.is_open(utc("2026-03-02 15:00"), London));
}

#[test]
fn holidays_close_the_local_day() {
    let w = windows(&format!(
        "{WEEK}holidays = [\"2026-10-01..2026-10-07\", \"2026-09-21\"]\n"
    ));
    assert!(!w.is_open(local(Shanghai, "2026-10-01 10:00"), Shanghai));
    assert!(!w.is_open(local(Shanghai, "2026-09-21 10:00"), Shanghai));
    assert!(w.is_open(local(Shanghai, "2026-09-22 10:00"), Shanghai));
    // The golden week ends on Wednesday the 7th; Thursday the 8th opens at 09:00.
    assert_eq!(
        w.next_open(local(Shanghai, "2026-10-01 10:00"), Shanghai),
        Some(local(Shanghai, "2026-10-08 09:00"))
    );
    // 2026-10-07 23:30 in London is already the 8th in Shanghai, no holiday there.
    assert!(!w.is_holiday(chrono::NaiveDate::from_ymd_opt(2026, 10, 8).unwrap()));
}

#[test]
fn next_open_is_now_when_open_and_the_next_window_otherwise() {
    let w = windows(WEEK);
    let noon = local(Shanghai, "2026-03-02 12:30");
    assert_eq!(
        w.next_open(noon, Shanghai),
        Some(local(Shanghai, "2026-03-02 14:00"))
    );
    let open = local(Shanghai, "2026-03-02 10:00");
    assert_eq!(w.next_open(open, Shanghai), Some(open));
}

#[test]
fn next_open_crosses_a_weekend() {
    let w = windows("mon-fri = [\"09:00-17:00\"]\n");
    let friday_evening = local(Shanghai, "2026-03-06 18:00");
    assert_eq!(
        w.next_open(friday_evening, Shanghai),
        Some(local(Shanghai, "2026-03-09 09:00"))
    );
}

#[test]
fn next_open_crosses_a_weekend_and_a_dst_change_in_local_time() {
    // London springs forward on Sunday 2026-03-29: Friday 09:00 is 09:00 UTC, Monday 09:00 is
    // 08:00 UTC.
    let w = windows("mon-fri = [\"09:00-17:00\"]\n");
    assert_eq!(
        w.next_open(utc("2026-03-27 21:00"), London),
        Some(utc("2026-03-30 08:00"))
    );
    assert_eq!(
        w.next_open(utc("2026-03-26 21:00"), London),
        Some(utc("2026-03-27 09:00"))
    );
}

#[test]
fn a_window_starting_in_the_dst_gap_opens_when_the_gap_ends() {
    // 01:30 does not exist in London on 2026-03-29: clocks go from 01:00 GMT to 02:00 BST.
    let w = windows("sun = [\"01:30-03:00\"]\n");
    assert_eq!(
        w.next_open(utc("2026-03-28 12:00"), London),
        Some(utc("2026-03-29 01:00"))
    );
}

#[test]
fn a_campaign_without_any_window_is_refused() {
    // It could never call anyone: every contact would end after its first attempt.
    let text = base("[windows]\nsun = []\n");
    let errors = Campaign::parse(&text, "t.toml").unwrap_err().to_string();
    assert!(
        errors.contains("windows: no call window on any day"),
        "{errors}"
    );
}

#[test]
fn a_window_may_run_to_midnight() {
    let w = windows("mon = [\"20:00-24:00\"]\n");
    assert!(w.is_open(local(Shanghai, "2026-03-02 23:59"), Shanghai));
    assert!(!w.is_open(local(Shanghai, "2026-03-03 00:00"), Shanghai));
}
