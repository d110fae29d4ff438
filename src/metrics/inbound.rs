//! The hotline's figures over a period: offered, answered, abandoned in queue, callback
//! requests, service level and average speed of answer, in total and per local hour.
//!
//! Read from the `inbound_calls` rows (see `migrations/*/0009_inbound.sql`) and computed in
//! Rust, so the timestamp arithmetic is the same on both backends. Definitions (README
//! "Metrics", inbound):
//! - a call is *offered* when it reached a queue (`queued_at` set); it belongs to the period and
//!   the local hour its `queued_at` falls in, `[from, to)`;
//! - *answered*: offered and put through to an agent (`connected_at` set);
//! - *abandoned in queue*: outcome `abandoned` (hung up while queued);
//! - *callback requests*: outcome `callback` (pressed the key to be called back);
//! - *service level* = answered within T seconds of `queued_at` / offered — the common
//!   definition (abandons, short or long, and callback requests count against it), with T the
//!   menu's `answer_within_secs`, 20 s by default ([`DEFAULT_ANSWER_WITHIN_SECS`]);
//! - *average speed of answer* = the mean of `connected_at − queued_at` over the answered.

use std::collections::BTreeMap;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Asia::Shanghai;
use serde::Serialize;

use super::period::Period;
use crate::on_pool;
use crate::store::Store;

/// The service-level threshold when none is given: the common 80/20 standard's 20 seconds.
pub const DEFAULT_ANSWER_WITHIN_SECS: i64 = 20;

/// The hotline's counts over a span (a period, or one hour of it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InboundFigures {
    /// Calls that reached a queue.
    pub offered: i64,
    /// Of those, put through to an agent.
    pub answered: i64,
    /// Of those offered, hung up while queued.
    pub abandoned: i64,
    /// Of those offered, asked to be called back.
    pub callback_requests: i64,
    /// Of those answered, within the threshold of joining the queue.
    pub answered_in_time: i64,
    /// The sum of the answered calls' waits, in milliseconds (for the average).
    pub wait_ms_total: i64,
}

impl InboundFigures {
    /// Adds one call queued at `queued_at`, judged against `within_secs`.
    pub fn add(
        &mut self,
        queued_at: DateTime<Utc>,
        connected_at: Option<DateTime<Utc>>,
        outcome: Option<&str>,
        within_secs: i64,
    ) {
        self.offered += 1;
        if let Some(connected) = connected_at {
            let wait = (connected - queued_at).num_milliseconds().max(0);
            self.answered += 1;
            self.wait_ms_total += wait;
            if wait <= within_secs * 1000 {
                self.answered_in_time += 1;
            }
        }
        match outcome {
            Some("abandoned") => self.abandoned += 1,
            Some("callback") => self.callback_requests += 1,
            _ => {}
        }
    }

    /// Service level: answered within the threshold / offered; `None` with nothing offered.
    pub fn service_level(&self) -> Option<f64> {
        (self.offered > 0).then(|| self.answered_in_time as f64 / self.offered as f64)
    }

    /// Average speed of answer in seconds; `None` with nothing answered.
    pub fn average_speed_of_answer(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.wait_ms_total as f64 / 1000.0 / self.answered as f64)
    }

    /// Abandoned in queue / offered.
    pub fn abandon_rate(&self) -> Option<f64> {
        (self.offered > 0).then(|| self.abandoned as f64 / self.offered as f64)
    }
}

/// The hotline's figures of a period: the total and each local hour of the day (0..=23, the
/// hours of every day of the period together) that had an offered call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InboundReport {
    /// The service-level threshold used, seconds.
    pub answer_within_secs: i64,
    /// The whole period.
    pub total: InboundFigures,
    /// Per hour of the local day (China time), only hours with calls.
    pub by_hour: BTreeMap<u32, InboundFigures>,
}

/// Computes the report from rows `(queued_at, connected_at, outcome)`; rows queued outside
/// `period` are skipped.
pub fn tally(
    period: &Period,
    within_secs: i64,
    rows: impl IntoIterator<Item = (DateTime<Utc>, Option<DateTime<Utc>>, Option<String>)>,
) -> InboundReport {
    let mut report = InboundReport {
        answer_within_secs: within_secs,
        ..InboundReport::default()
    };
    for (queued, connected, outcome) in rows {
        if queued < period.from || queued >= period.to {
            continue;
        }
        let hour = queued.with_timezone(&Shanghai).hour();
        let outcome = outcome.as_deref();
        report.total.add(queued, connected, outcome, within_secs);
        report
            .by_hour
            .entry(hour)
            .or_default()
            .add(queued, connected, outcome, within_secs);
    }
    report
}

/// The hotline's figures of `period` from the store, the threshold `within_secs` (pass
/// [`DEFAULT_ANSWER_WITHIN_SECS`] when the menu's is not at hand).
pub async fn compute_inbound(
    store: &Store,
    period: &Period,
    within_secs: i64,
) -> Result<InboundReport, sqlx::Error> {
    type Row = (DateTime<Utc>, Option<DateTime<Utc>>, Option<String>);
    let rows: Vec<Row> = on_pool!(store, |pool| {
        sqlx::query_as(
            "select queued_at, connected_at, outcome from inbound_calls
             where queued_at is not null and queued_at >= $1 and queued_at < $2",
        )
        .bind(period.from)
        .bind(period.to)
        .fetch_all(pool)
        .await
    })?;
    Ok(tally(period, within_secs, rows))
}

/// The report as JSON: counts, rates (null with nothing to divide by), per hour.
pub fn inbound_json(report: &InboundReport) -> serde_json::Value {
    fn one(f: &InboundFigures) -> serde_json::Value {
        serde_json::json!({
            "offered": f.offered,
            "answered": f.answered,
            "abandoned": f.abandoned,
            "callback_requests": f.callback_requests,
            "answered_in_time": f.answered_in_time,
            "service_level": f.service_level(),
            "average_speed_of_answer_secs": f.average_speed_of_answer(),
            "abandon_rate": f.abandon_rate(),
        })
    }
    let hours: Vec<serde_json::Value> = report
        .by_hour
        .iter()
        .map(|(hour, f)| {
            let mut v = one(f);
            v["hour"] = serde_json::json!(hour);
            v
        })
        .collect();
    let mut total = one(&report.total);
    total["answer_within_secs"] = serde_json::json!(report.answer_within_secs);
    total["by_hour"] = serde_json::json!(hours);
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeDelta, TimeZone};

    #[test]
    fn service_level_counts_every_offered_call_and_asa_only_the_answered() {
        let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let period = Period::days(day, day).unwrap();
        let nine = Shanghai
            .with_ymd_and_hms(2026, 6, 1, 9, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let s = |n: i64| TimeDelta::seconds(n);
        let rows = vec![
            (nine, Some(nine + s(10)), Some("answered".to_string())),
            (nine, Some(nine + s(20)), Some("answered".to_string())),
            (nine + s(3600), Some(nine + s(3630)), None),
            (nine + s(3600), None, Some("abandoned".to_string())),
            (nine + s(3600), None, Some("callback".to_string())),
            (period.to, None, Some("abandoned".to_string())),
        ];
        let r = tally(&period, 20, rows);
        assert_eq!(r.total.offered, 5);
        assert_eq!(r.total.answered, 3);
        assert_eq!(r.total.answered_in_time, 2);
        assert_eq!(r.total.abandoned, 1);
        assert_eq!(r.total.callback_requests, 1);
        assert_eq!(r.total.service_level(), Some(0.4));
        assert_eq!(r.total.average_speed_of_answer(), Some(20.0));
        assert_eq!(r.by_hour[&9].offered, 2);
        assert_eq!(r.by_hour[&10].service_level(), Some(0.0));
        assert_eq!(InboundFigures::default().service_level(), None);
    }
}
