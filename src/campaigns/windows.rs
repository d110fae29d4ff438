//! Call windows: when an owner may be called, on the owner's own wall clock.
//!
//! A window is a weekday and a local time range (`mon-fri = ["09:00-12:00", "14:00-20:00"]`);
//! holidays close the whole local day. Everything is computed in the contact's time zone, so an
//! owner in London and one in Shanghai are open at different UTC instants, and a DST change
//! moves the UTC opening, not the local one. Pure functions of `(at, tz)`: no clock is read.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::error::{Problem, Report};
use super::raw::Texts;

/// The day names as written in the file, Monday first.
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// How far ahead `next_open` looks before it gives up (long holiday lists included).
const SEARCH_DAYS: usize = 800;

/// Minutes in a day; `24:00` is the end of the day.
const DAY_MINUTES: u16 = 24 * 60;

/// A local time range `[start, end)` in minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeRange {
    start: u16,
    end: u16,
}

impl TimeRange {
    /// Parses `HH:MM-HH:MM` (end up to `24:00`, after the start).
    pub fn parse(text: &str) -> Result<TimeRange, Problem> {
        let bad = || Problem::BadTime(text.to_string());
        let (start, end) = text.split_once('-').ok_or_else(bad)?;
        let (start, end) = (
            minutes(start).ok_or_else(bad)?,
            minutes(end).ok_or_else(bad)?,
        );
        if start == DAY_MINUTES {
            return Err(bad());
        }
        if end <= start {
            return Err(Problem::EndBeforeStart(text.to_string()));
        }
        Ok(TimeRange { start, end })
    }

    fn contains(self, minute: u16) -> bool {
        self.start <= minute && minute < self.end
    }
}

/// `H:MM` or `HH:MM` as minutes after midnight, `24:00` included.
fn minutes(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || m.len() != 2 || !digits(m) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let total = h * 60 + m;
    (m < 60 && total <= DAY_MINUTES).then_some(total)
}

/// The weekly windows and the holidays of a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallWindows {
    days: [Vec<TimeRange>; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl Default for CallWindows {
    /// Monday to Saturday, 09:00–12:00 and 14:00–20:00; Sundays and holidays closed.
    fn default() -> CallWindows {
        let day = vec![
            TimeRange {
                start: 9 * 60,
                end: 12 * 60,
            },
            TimeRange {
                start: 14 * 60,
                end: 20 * 60,
            },
        ];
        let mut days: [Vec<TimeRange>; 7] = Default::default();
        days.iter_mut().take(6).for_each(|d| *d = day.clone());
        CallWindows {
            days,
            holidays: BTreeSet::new(),
        }
    }
}

impl CallWindows {
    /// Open every minute of every day, no holidays (a hotline without `[hours]`).
    pub fn always() -> CallWindows {
        let day = vec![TimeRange {
            start: 0,
            end: DAY_MINUTES,
        }];
        CallWindows {
            days: std::array::from_fn(|_| day.clone()),
            holidays: BTreeSet::new(),
        }
    }

    /// How many (weekday, range) windows there are in a week.
    pub fn count(&self) -> usize {
        self.days.iter().map(Vec::len).sum()
    }

    /// Whether `day` is a holiday.
    pub fn is_holiday(&self, day: NaiveDate) -> bool {
        self.holidays.contains(&day)
    }

    /// Whether a contact in `tz` may be called at `at`.
    pub fn is_open(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        let local = at.with_timezone(&tz);
        if self.is_holiday(local.date_naive()) {
            return false;
        }
        let minute = (local.hour() * 60 + local.minute()) as u16;
        self.ranges(local.date_naive())
            .iter()
            .any(|r| r.contains(minute))
    }

    /// `at` when open, else the first instant after `at` a window opens for a contact in `tz`;
    /// `None` when no window opens within about two years (e.g. every day closed).
    pub fn next_open(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if self.is_open(at, tz) {
            return Some(at);
        }
        let first = at.with_timezone(&tz).date_naive();
        first
            .iter_days()
            .take(SEARCH_DAYS)
            .filter(|day| !self.is_holiday(*day))
            .flat_map(|day| {
                self.ranges(day)
                    .iter()
                    .filter_map(move |r| opening(day, *r, tz))
            })
            .find(|opens| *opens > at)
    }

    fn ranges(&self, day: NaiveDate) -> &[TimeRange] {
        &self.days[day.weekday().num_days_from_monday() as usize]
    }

    /// Builds the windows from a table written like a campaign's `[windows]` (named `table`
    /// in the errors: a hotline menu calls it `hours`), recording every problem in `report`.
    pub(crate) fn from_raw(
        raw: Option<std::collections::BTreeMap<String, Texts>>,
        table: &str,
        report: &mut Report<'_>,
    ) -> CallWindows {
        let Some(raw) = raw else {
            return CallWindows::default();
        };
        let mut windows = CallWindows {
            days: Default::default(),
            holidays: BTreeSet::new(),
        };
        let mut owner: [Option<String>; 7] = Default::default();
        for (key, values) in raw {
            if key == "holidays" {
                windows.add_holidays(table, &values, report);
                continue;
            }
            let Some(days) = report.check(format!("{table}.{key}"), values.span(), day_set(&key))
            else {
                continue;
            };
            let ranges = day_ranges(table, &key, &values, report);
            for day in days {
                if let Some(other) = &owner[day] {
                    let problem = Problem::DayTwice(DAYS[day], format!("{table}.{other}"));
                    report.add(format!("{table}.{key}"), Some(values.span()), problem);
                    continue;
                }
                owner[day] = Some(key.clone());
                windows.days[day] = ranges.clone();
            }
        }
        windows
    }

    fn add_holidays(&mut self, table: &str, values: &Texts, report: &mut Report<'_>) {
        for (i, value) in values.get_ref().iter().enumerate() {
            let key = format!("{table}.holidays[{i}]");
            if let Some(days) = report.check(key, value.span(), holiday(value.get_ref())) {
                self.holidays.extend(days);
            }
        }
    }
}

/// The ranges of one weekday key, sorted; bad and overlapping ones are reported and dropped.
fn day_ranges(table: &str, key: &str, values: &Texts, report: &mut Report<'_>) -> Vec<TimeRange> {
    let mut ranges: Vec<(TimeRange, usize)> = Vec::new();
    for (i, value) in values.get_ref().iter().enumerate() {
        let at = format!("{table}.{key}[{i}]");
        if let Some(range) = report.check(at, value.span(), TimeRange::parse(value.get_ref())) {
            ranges.push((range, i));
        }
    }
    ranges.sort();
    let list = values.get_ref();
    for pair in ranges.windows(2) {
        let ((a, i), (b, j)) = (pair[0], pair[1]);
        if b.start < a.end {
            let problem = Problem::Overlap(list[j].get_ref().clone(), list[i].get_ref().clone());
            report.add(format!("{table}.{key}[{j}]"), Some(list[j].span()), problem);
        }
    }
    ranges.into_iter().map(|(r, _)| r).collect()
}

/// `mon`, `mon-fri` or `sat,sun` as indices from Monday.
fn day_set(key: &str) -> Result<Vec<usize>, Problem> {
    let unknown = || Problem::UnknownDay(key.to_string());
    let index = |name: &str| {
        DAYS.iter()
            .position(|d| *d == name.trim().to_ascii_lowercase())
    };
    let mut days = Vec::new();
    for part in key.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (index(a).ok_or_else(unknown)?, index(b).ok_or_else(unknown)?);
                if b < a {
                    return Err(unknown());
                }
                days.extend(a..=b);
            }
            None => days.push(index(part).ok_or_else(unknown)?),
        }
    }
    Ok(days)
}

/// `YYYY-MM-DD` or `YYYY-MM-DD..YYYY-MM-DD` (both ends included, e.g. the October golden week).
fn holiday(text: &str) -> Result<Vec<NaiveDate>, Problem> {
    let bad = || Problem::BadDate(text.to_string());
    let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| bad());
    let (first, last) = match text.split_once("..") {
        Some((a, b)) => (date(a)?, date(b)?),
        None => (date(text)?, date(text)?),
    };
    if last < first || (last - first).num_days() > 366 {
        return Err(bad());
    }
    Ok(first.iter_days().take_while(|d| *d <= last).collect())
}

/// The first instant of `day` in `tz` whose local time is inside `range`: the start itself, or,
/// when a DST gap swallows the start, the first local minute after the gap.
fn opening(day: NaiveDate, range: TimeRange, tz: Tz) -> Option<DateTime<Utc>> {
    (range.start..range.end).find_map(|minute| local_instant(day, minute, tz))
}

/// The UTC instant of local `day` + `minute` in `tz` (the earlier one when the clock goes
/// back), or `None` when that local time does not exist (a DST gap).
pub(super) fn local_instant(day: NaiveDate, minute: u16, tz: Tz) -> Option<DateTime<Utc>> {
    let local = day.and_hms_opt(0, 0, 0)? + TimeDelta::minutes(i64::from(minute));
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(early, _) => Some(early.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

#[cfg(test)]
#[path = "windows_tests.rs"]
mod tests;
