//! What the figures are taken over: a period of local days, and a grouping.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use serde::Serialize;

/// Why a period cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The first day comes after the last.
    #[error("the first day {first} is after the last day {last}")]
    Reversed {
        /// The first day asked for.
        first: NaiveDate,
        /// The last day asked for.
        last: NaiveDate,
    },
    /// A day at the edge of chrono's calendar, whose next midnight does not exist.
    #[error("the day {0} is out of range")]
    OutOfRange(NaiveDate),
}

/// A span of time `[from, to)` in UTC instants.
///
/// Half-open, so that consecutive periods (one day, the next day) count every event exactly
/// once whatever the timestamps' precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    /// The first instant inside.
    pub from: DateTime<Utc>,
    /// The first instant after.
    pub to: DateTime<Utc>,
}

impl Period {
    /// The local days `first..=last` of the center (China Standard Time, Asia/Shanghai), the
    /// calendar the supervisors' daily, weekly and monthly reports are read in: from midnight
    /// of `first` to midnight after `last`.
    pub fn days(first: NaiveDate, last: NaiveDate) -> Result<Period, PeriodError> {
        if first > last {
            return Err(PeriodError::Reversed { first, last });
        }
        let after = last
            .checked_add_days(Days::new(1))
            .ok_or(PeriodError::OutOfRange(last))?;
        Ok(Period {
            from: local_midnight(first).ok_or(PeriodError::OutOfRange(first))?,
            to: local_midnight(after).ok_or(PeriodError::OutOfRange(last))?,
        })
    }

    /// The `span` just before `now`, `now` itself outside: the rolling windows (the last 24
    /// hours, the last 30 days) the dialer and the campaign views measure the abandon share over.
    pub fn ending(now: DateTime<Utc>, span: TimeDelta) -> Period {
        Period {
            from: now - span,
            to: now,
        }
    }
}

/// Midnight at the start of `day` in China Standard Time (no daylight saving since 1991, so
/// every midnight exists exactly once).
fn local_midnight(day: NaiveDate) -> Option<DateTime<Utc>> {
    Shanghai
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|at| at.with_timezone(&Utc))
}

/// How the rows of the figures are cut. Every ticket falls in exactly one group, so the groups
/// add up to the total (attempts of contacts without a ticket count in the total only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// The project of the ticket's unit (its code).
    Project,
    /// The region of that project (its code).
    Region,
    /// The ticket's category.
    Category,
    /// The supplier (its code) of the ticket's component in the ticket's unit.
    Supplier,
}

impl GroupBy {
    /// The word of the command line and the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Project => "project",
            GroupBy::Region => "region",
            GroupBy::Category => "category",
            GroupBy::Supplier => "supplier",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_day_runs_from_local_midnight_to_the_next() {
        let p = Period::days(day(2026, 6, 1), day(2026, 6, 1)).unwrap();
        assert_eq!(p.from, Utc.with_ymd_and_hms(2026, 5, 31, 16, 0, 0).unwrap());
        assert_eq!(p.to, Utc.with_ymd_and_hms(2026, 6, 1, 16, 0, 0).unwrap());
    }

    #[test]
    fn the_last_day_is_included() {
        let p = Period::days(day(2026, 6, 1), day(2026, 6, 30)).unwrap();
        assert_eq!(p.to, Utc.with_ymd_and_hms(2026, 6, 30, 16, 0, 0).unwrap());
    }

    #[test]
    fn a_reversed_period_is_refused() {
        let err = Period::days(day(2026, 6, 2), day(2026, 6, 1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the first day 2026-06-02 is after the last day 2026-06-01"
        );
    }
}
