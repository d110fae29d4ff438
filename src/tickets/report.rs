//! The day's figures: tickets by state, escalations, SLA timeliness (及时率).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::on_pool;
use crate::store::Store;

/// Counts over tickets opened in a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Tickets opened.
    pub opened: i64,
    /// Per state, in life-cycle order: (state, count).
    pub by_state: Vec<(String, i64)>,
    /// Per kind: (kind, count).
    pub by_kind: Vec<(String, i64)>,
    /// Per category: (category, count).
    pub by_category: Vec<(String, i64)>,
    /// Escalation steps taken, per level reached: (level, count).
    pub escalations: Vec<(String, i64)>,
    /// Dispatches whose reply deadline has been decided (replied, or past due).
    pub ack_measured: i64,
    /// Of those, replied in time.
    pub ack_in_time: i64,
    /// On-site visits whose deadline has been decided.
    pub onsite_measured: i64,
    /// Of those, on site in time.
    pub onsite_in_time: i64,
    /// Repairs out of warranty (paid service).
    pub paid_repairs: i64,
    /// Reopen events.
    pub reopened: i64,
    /// SMS queued in the outbox for these tickets.
    pub sms_queued: i64,
    /// Callback tasks created.
    pub callback_tasks: i64,
}

impl Summary {
    /// Reply timeliness as a share, if anything was measured.
    pub fn ack_rate(&self) -> Option<f64> {
        (self.ack_measured > 0).then(|| self.ack_in_time as f64 / self.ack_measured as f64)
    }

    /// On-site timeliness as a share, if anything was measured.
    pub fn onsite_rate(&self) -> Option<f64> {
        (self.onsite_measured > 0).then(|| self.onsite_in_time as f64 / self.onsite_measured as f64)
    }
}

/// The figures of tickets opened in `[from, to)`, with deadlines judged at `now`.
pub async fn summary(
    store: &Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Summary, sqlx::Error> {
    let grouped = |column: &'static str| {
        sqlx::AssertSqlSafe(format!(
            "select {column}, count(*) from tickets where opened_at >= $1 and opened_at < $2
             group by {column} order by {column}"
        ))
    };
    let mut s = Summary::default();
    on_pool!(store, |pool| {
        s.by_state = sqlx::query_as(grouped("state"))
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
        s.by_kind = sqlx::query_as(grouped("kind"))
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
        s.by_category = sqlx::query_as(grouped("category"))
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?;
        s.escalations = sqlx::query_as(
            "select e.level, count(*) from ticket_events e join tickets t on t.ticket_id = e.ticket_id
             where e.action = 'escalate' and t.opened_at >= $1 and t.opened_at < $2
             group by e.level order by e.level",
        )
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
        let row: (i64, i64, i64, i64, i64, i64) = sqlx::query_as(
            "select count(*),
                    count(case when ack_due_at is not null and (acknowledged_at is not null or ack_due_at < $3) then 1 end),
                    count(case when acknowledged_at is not null and acknowledged_at <= ack_due_at then 1 end),
                    count(case when onsite_due_at is not null and (on_site_at is not null or onsite_due_at < $3) then 1 end),
                    count(case when on_site_at is not null and on_site_at <= onsite_due_at then 1 end),
                    count(case when paid then 1 end)
             from tickets where opened_at >= $1 and opened_at < $2",
        )
        .bind(from)
        .bind(to)
        .bind(now)
        .fetch_one(pool)
        .await?;
        (
            s.opened,
            s.ack_measured,
            s.ack_in_time,
            s.onsite_measured,
            s.onsite_in_time,
            s.paid_repairs,
        ) = row;
        let counts: (i64, i64, i64) = sqlx::query_as(
            "select
                (select count(*) from ticket_events e join tickets t on t.ticket_id = e.ticket_id
                  where e.action = 'reopen' and t.opened_at >= $1 and t.opened_at < $2),
                (select count(*) from outbox o join tickets t on t.ticket_id = o.ticket_id
                  where o.channel = 'sms' and t.opened_at >= $1 and t.opened_at < $2),
                (select count(*) from callback_tasks c join tickets t on t.ticket_id = c.ticket_id
                  where t.opened_at >= $1 and t.opened_at < $2)",
        )
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await?;
        (s.reopened, s.sms_queued, s.callback_tasks) = counts;
        Ok::<_, sqlx::Error>(())
    })?;
    Ok(s)
}
