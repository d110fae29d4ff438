//! Supervisors' figures over a period (see README "Metrics"): closure, satisfaction, callbacks.
//!
//! The monthly 400 monitoring report is read per region and project, per category and per
//! supplier; these are its figures from the tickets and the callback campaigns:
//! - `period`: local days of the center turned into UTC instants, and the groupings.
//! - `figures`: one group's plain counts, and the rates made of them.
//! - `query`: one small grouped SQL query per family of figures, the same on both backends.
//! - [`abandon`]: the one abandon rule, which every view of the abandon share reads through.
//! - `inbound`: the hotline's figures (offered, answered, service level, speed of answer).
//!
//! [`compute`] runs the queries and merges their rows by group in Rust: six short queries are
//! easier to check against their definitions than one that joins everything at once.

pub mod abandon;
mod figures;
mod inbound;
mod period;
mod query;
mod table;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub use figures::{Figures, Rates};
pub use inbound::{
    DEFAULT_ANSWER_WITHIN_SECS, InboundFigures, InboundReport, compute_inbound, inbound_json, tally,
};
pub use period::{GroupBy, Period, PeriodError};
pub use table::figures_table;

use crate::store::Store;

/// The name of the total row.
pub const ALL: &str = "all";

/// One row of the JSON report: the group, its counts and its rates (null when nothing to
/// divide by).
#[derive(serde::Serialize)]
struct JsonRow<'a> {
    group: &'a str,
    #[serde(flatten)]
    figures: &'a Figures,
    #[serde(flatten)]
    rates: Rates,
}

/// The figures as the JSON report of `huifang metrics --json` and `GET /api/reports`.
pub fn report_json(
    first: chrono::NaiveDate,
    last: chrono::NaiveDate,
    by: Option<GroupBy>,
    now: DateTime<Utc>,
    rows: &[(String, Figures)],
) -> serde_json::Value {
    let groups: Vec<JsonRow> = rows
        .iter()
        .map(|(group, figures)| JsonRow {
            group,
            figures,
            rates: figures.rates(),
        })
        .collect();
    serde_json::json!({
        "from": first,
        "to": last,
        "time_zone": "Asia/Shanghai",
        "by": by.map(GroupBy::as_str),
        "now": now,
        "groups": groups,
    })
}

/// The figures of `period` per group of `by`, sorted by group, then the total named [`ALL`]
/// (only the total without a grouping). Deadlines not yet met are judged at `now`.
pub async fn compute(
    store: &Store,
    period: &Period,
    by: Option<GroupBy>,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Figures)>, sqlx::Error> {
    let scope = query::scope(by);
    let in_period = query::binds(period, None);
    let mut tally = Tally::default();

    let rows: Vec<(Option<String>, i64, i64)> =
        query::rows(store, query::closure(&scope), &in_period).await?;
    for (group, completed, closed) in rows {
        tally.add(group, |f| {
            f.completed += completed;
            f.closed += closed;
        });
    }
    tally_verdicts(store, &mut tally, &scope, &in_period).await?;
    tally_opened(store, &mut tally, &scope, query::binds(period, Some(now))).await?;
    tally_calls(store, &mut tally, &scope, &in_period).await?;
    Ok(tally.finish(by.is_some()))
}

/// First-contact satisfaction and the ratings of the verdicts of the period.
async fn tally_verdicts(
    store: &Store,
    tally: &mut Tally,
    scope: &str,
    binds: &[DateTime<Utc>],
) -> Result<(), sqlx::Error> {
    let rows: Vec<(Option<String>, i64, i64)> =
        query::rows(store, query::first_verdicts(scope), binds).await?;
    for (group, rated, satisfied) in rows {
        tally.add(group, |f| {
            f.first_rated += rated;
            f.first_satisfied += satisfied;
        });
    }
    let rows: Vec<(Option<String>, i64, i64, i64, i64, i64)> =
        query::rows(store, query::ratings(scope), binds).await?;
    for (group, r1, r2, r3, r4, r5) in rows {
        tally.add(group, |f| {
            for (count, n) in f.ratings.iter_mut().zip([r1, r2, r3, r4, r5]) {
                *count += n;
            }
        });
    }
    Ok(())
}

/// SLA timeliness and escalations of the tickets opened in the period.
async fn tally_opened(
    store: &Store,
    tally: &mut Tally,
    scope: &str,
    binds: Vec<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    type Row = (Option<String>, i64, i64, i64, i64, i64, i64);
    let rows: Vec<Row> = query::rows(store, query::opened(scope), &binds).await?;
    for (group, opened, ack_measured, ack_in_time, onsite_measured, onsite_in_time, escalated) in
        rows
    {
        tally.add(group, |f| {
            f.opened += opened;
            f.ack_measured += ack_measured;
            f.ack_in_time += ack_in_time;
            f.onsite_measured += onsite_measured;
            f.onsite_in_time += onsite_in_time;
            f.escalated += escalated;
        });
    }
    Ok(())
}

/// The callback contacts' progress and the abandoned calls of the period.
async fn tally_calls(
    store: &Store,
    tally: &mut Tally,
    scope: &str,
    binds: &[DateTime<Utc>],
) -> Result<(), sqlx::Error> {
    let rows: Vec<(Option<String>, i64, i64, i64)> =
        query::rows(store, query::callbacks(scope), binds).await?;
    for (group, attempted, connected, completed) in rows {
        tally.add(group, |f| {
            f.callbacks_attempted += attempted;
            f.callbacks_connected += connected;
            f.callbacks_completed += completed;
        });
    }
    let rows: Vec<(Option<String>, i64, i64)> =
        query::rows(store, query::abandons(scope), binds).await?;
    for (group, answered, abandoned) in rows {
        tally.add(group, |f| {
            f.answered += answered;
            f.abandoned += abandoned;
        });
    }
    Ok(())
}

/// The groups seen so far and the total.
#[derive(Default)]
struct Tally {
    groups: BTreeMap<String, Figures>,
    all: Figures,
}

impl Tally {
    /// Adds counts to a group (none: the total only) and to the total. Every field is a count,
    /// so the total is the sum of the groups plus what belongs to no ticket.
    fn add(&mut self, group: Option<String>, add: impl Fn(&mut Figures)) {
        if let Some(group) = group {
            add(self.groups.entry(group).or_default());
        }
        add(&mut self.all);
    }

    fn finish(self, grouped: bool) -> Vec<(String, Figures)> {
        let groups = self.groups.into_iter().filter(|_| grouped);
        groups.chain([(ALL.to_string(), self.all)]).collect()
    }
}
