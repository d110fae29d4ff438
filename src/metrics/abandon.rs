//! The one abandon rule: which call attempts the abandon share counts, over a window.
//!
//! The abandon share is the figure regulators and the dialer industry cap predictive dialing
//! by: of the calls answered by a live person within a window, the share that found no agent
//! within the connect rule (2 seconds) and were dropped. So:
//! - the denominator is every attempt answered by a person: `answered_at` set and an outcome
//!   other than `machine` (an answering machine was never a person left waiting). An attempt
//!   still in progress has no outcome yet; once answered it counts, as it may still be dropped;
//! - the numerator is those of them whose outcome is `abandoned`;
//! - an attempt belongs to the window its *answer* falls in, `[from, to)`, whenever it was
//!   dialled: the rule is about answered calls, and a call dialled a second before midnight
//!   and answered after it is the next day's answer.
//!
//! Every view of the figure reads it through this rule: the pacer's feedback
//! (`dialer::node::abandon_feedback`), the console's wallboard and `huifang campaign status`
//! (both through `campaigns::repo::Campaigns::abandon`) and the supervisors' report
//! ([`super::compute`]), so they show the same number for the same campaign and window.

/// The condition an attempt of the `attempts` table aliased `alias` meets to be counted: answered
/// by a person at an instant within `[$from, $to)`, `from` and `to` being bind positions.
pub fn counted(alias: &str, from: usize, to: usize) -> String {
    format!(
        "{alias}.answered_at is not null and coalesce({alias}.outcome, '') <> 'machine'
         and {alias}.answered_at >= ${from} and {alias}.answered_at < ${to}"
    )
}

/// The two counts, as select columns over rows already filtered by [`counted`]: answered by a
/// person (every row), and of those abandoned. Both `bigint` on PostgreSQL, `integer` on SQLite.
pub fn columns(alias: &str) -> String {
    format!("count(*), count(case when {alias}.outcome = 'abandoned' then 1 end)")
}
