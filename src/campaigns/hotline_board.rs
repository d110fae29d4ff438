//! The 400 hotline's figures on the wallboard. They are the center's, not a campaign's: every
//! campaign's wallboard shows the same ones.
//!
//! - Callers waiting now and the longest wait come from the `inbound_live` rows the hotline
//!   of each node writes about once a second: only rows younger than
//!   [`FRESH_SECS`](super::wallboard::FRESH_SECS) count, exactly as
//!   [`LiveCalls::sum_fresh`](super::wallboard::LiveCalls::sum_fresh) sums `dialer_live`, so a
//!   node that died stops counting at once.
//! - Today's (the center's local day's) offered, answered, abandoned and service level come
//!   from the `inbound_calls` rows through `metrics::compute_inbound`, the one definition
//!   `/reports` and `huifang metrics` use: every offered call in the denominator, abandons
//!   (and a caller still waiting) counted as not answered in time.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Asia::Shanghai;
use serde::Serialize;

use super::wallboard::FRESH_SECS;
use crate::metrics::{self, InboundFigures, Period};
use crate::on_pool;
use crate::store::Store;

/// One node's hotline as it last wrote it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NodeHotline {
    /// The node.
    pub node: String,
    /// Callers in a queue.
    pub waiting: i64,
    /// When the longest-waiting of them called.
    pub waiting_since: Option<DateTime<Utc>>,
    /// When the node wrote the row.
    pub updated_at: DateTime<Utc>,
}

/// The callers waiting on every live node together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HotlineWaiting {
    /// Callers in a queue now.
    pub waiting: i64,
    /// How long the longest-waiting of them has waited since they called, whole seconds (0
    /// with nobody waiting).
    pub longest_wait_secs: i64,
    /// Nodes whose rows are fresh.
    pub nodes: i64,
}

impl HotlineWaiting {
    /// Sums the rows written within [`FRESH_SECS`] before `now`; older ones are left out.
    pub fn sum_fresh(rows: &[NodeHotline], now: DateTime<Utc>) -> HotlineWaiting {
        let since = now - TimeDelta::seconds(FRESH_SECS);
        rows.iter()
            .filter(|r| r.updated_at >= since)
            .fold(HotlineWaiting::default(), |sum, r| {
                let longest = r
                    .waiting_since
                    .filter(|_| r.waiting > 0)
                    .map_or(0, |at| (now - at).num_seconds().max(0));
                HotlineWaiting {
                    waiting: sum.waiting + r.waiting,
                    longest_wait_secs: sum.longest_wait_secs.max(longest),
                    nodes: sum.nodes + 1,
                }
            })
    }
}

/// Today's figures (the center's local day, China time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct HotlineToday {
    /// Calls that reached a queue today.
    pub offered: i64,
    /// Of those, put through to an agent.
    pub answered: i64,
    /// Of those, hung up while queued.
    pub abandoned: i64,
    /// Of those, answered within the target.
    pub answered_in_time: i64,
    /// Answered in time / offered, 0 to 1 (none with nothing offered).
    pub service_level: Option<f64>,
}

impl HotlineToday {
    /// The wallboard's share of the report's figures.
    pub fn of(f: &InboundFigures) -> HotlineToday {
        HotlineToday {
            offered: f.offered,
            answered: f.answered,
            abandoned: f.abandoned,
            answered_in_time: f.answered_in_time,
            service_level: f.service_level(),
        }
    }
}

/// The hotline's part of the wallboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct HotlineBoard {
    /// Waiting now, over the fresh nodes.
    #[serde(flatten)]
    pub now: HotlineWaiting,
    /// The service level's target: answered within this many seconds of joining the queue.
    pub answer_within_secs: i64,
    /// Today's figures.
    pub today: HotlineToday,
}

/// The hotline's figures at `now`, the service level judged against `answer_within_secs`.
pub async fn hotline_board(
    store: &Store,
    answer_within_secs: i64,
    now: DateTime<Utc>,
) -> Result<HotlineBoard, sqlx::Error> {
    let rows: Vec<NodeHotline> = on_pool!(store, |pool| {
        sqlx::query_as("select node, waiting, waiting_since, updated_at from inbound_live")
            .fetch_all(pool)
            .await
    })?;
    let day = now.with_timezone(&Shanghai).date_naive();
    let today = Period::days(day, day).unwrap_or(Period::ending(now, TimeDelta::hours(24)));
    let report = metrics::compute_inbound(store, &today, answer_within_secs).await?;
    Ok(HotlineBoard {
        now: HotlineWaiting::sum_fresh(&rows, now),
        answer_within_secs,
        today: HotlineToday::of(&report.total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        node: &str,
        waiting: i64,
        since_secs: i64,
        age_secs: i64,
        now: DateTime<Utc>,
    ) -> NodeHotline {
        NodeHotline {
            node: node.into(),
            waiting,
            waiting_since: (since_secs > 0).then(|| now - TimeDelta::seconds(since_secs)),
            updated_at: now - TimeDelta::seconds(age_secs),
        }
    }

    #[test]
    fn only_fresh_nodes_count_and_the_longest_wait_is_the_oldest_callers() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let rows = [
            row("a", 2, 40, 0, now),
            row("b", 1, 95, 5, now),
            // Stale: its 9 callers and 600 s wait are a dead node's.
            row("c", 9, 600, 6, now),
            // Nobody waits: a leftover time does not count.
            row("d", 0, 900, 1, now),
        ];
        assert_eq!(
            HotlineWaiting::sum_fresh(&rows, now),
            HotlineWaiting {
                waiting: 3,
                longest_wait_secs: 95,
                nodes: 3
            }
        );
        assert_eq!(
            HotlineWaiting::sum_fresh(&[], now),
            HotlineWaiting::default()
        );
        // The wait goes on counting between a node's writes.
        let later = now + TimeDelta::seconds(2);
        assert_eq!(
            HotlineWaiting::sum_fresh(&rows[..1], later).longest_wait_secs,
            42
        );
    }

    #[test]
    fn today_takes_the_reports_figures() {
        let mut f = InboundFigures::default();
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        f.add(at, Some(at + TimeDelta::seconds(10)), Some("answered"), 20);
        f.add(at, Some(at + TimeDelta::seconds(30)), Some("answered"), 20);
        f.add(at, None, Some("abandoned"), 20);
        f.add(at, None, None, 20);
        let today = HotlineToday::of(&f);
        assert_eq!(
            (
                today.offered,
                today.answered,
                today.abandoned,
                today.answered_in_time
            ),
            (4, 2, 1, 1)
        );
        assert_eq!(today.service_level, Some(0.25));
        assert_eq!(
            HotlineToday::of(&InboundFigures::default()).service_level,
            None
        );
    }
}
