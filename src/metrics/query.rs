//! The SQL: one small grouped query per family of figures, each the same text on both
//! backends (`$N` placeholders, `count(case ...)`, no dialect functions).
//!
//! Every query joins the *scope* — each ticket with its group — and groups by it. Attempts of
//! contacts without a ticket come back under a null group, which only the total counts.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::abandon;
use super::period::{GroupBy, Period};
use crate::on_pool;
use crate::store::Store;

/// Each ticket with its group, `-` where the ticket has none (no unit, no matching component).
/// Without a grouping every ticket falls in one group.
pub(super) fn scope(by: Option<GroupBy>) -> String {
    const PLACE: &str = "left join units u on u.unit_id = t.unit_id
         left join buildings b on b.building_id = u.building_id
         left join projects p on p.project_id = b.project_id";
    let (key, joins) = match by {
        None => ("'all'", String::new()),
        Some(GroupBy::Category) => ("t.category", String::new()),
        Some(GroupBy::Project) => ("p.code", PLACE.to_string()),
        Some(GroupBy::Region) => (
            "r.code",
            format!("{PLACE} left join regions r on r.region_id = p.region_id"),
        ),
        // (unit_id, component) is the key of unit_components: at most one supplier per ticket.
        Some(GroupBy::Supplier) => (
            "s.code",
            "left join unit_components uc on uc.unit_id = t.unit_id and uc.component = t.component
             left join suppliers s on s.supplier_id = uc.supplier_id"
                .to_string(),
        ),
    };
    format!("select t.ticket_id, coalesce({key}, '-') as grp from tickets t {joins}")
}

/// Closure: tickets completed in the period, and how many of them are closed now.
pub(super) fn closure(scope: &str) -> String {
    format!(
        "select g.grp, count(*), count(case when t.state = 'closed' then 1 end)
         from tickets t join ({scope}) g on g.ticket_id = t.ticket_id
         where exists (select 1 from ticket_events e where e.ticket_id = t.ticket_id
                        and e.action = 'complete' and e.at >= $1 and e.at < $2)
         group by g.grp"
    )
}

/// First-contact satisfaction: each ticket's first rated verdict ever (earliest decision, the
/// lower id on a tie), kept when it was decided in the period.
pub(super) fn first_verdicts(scope: &str) -> String {
    format!(
        "select g.grp, count(*), count(case when v.verdict = 'satisfied' then 1 end)
         from survey_verdicts v join ({scope}) g on g.ticket_id = v.ticket_id
         where v.rating is not null and v.decided_at >= $1 and v.decided_at < $2
           and not exists (select 1 from survey_verdicts w
                            where w.ticket_id = v.ticket_id and w.rating is not null
                              and (w.decided_at < v.decided_at
                                   or (w.decided_at = v.decided_at and w.verdict_id < v.verdict_id)))
         group by g.grp"
    )
}

/// The distribution of the ratings of the verdicts decided in the period.
pub(super) fn ratings(scope: &str) -> String {
    let columns: Vec<String> = (1..=5)
        .map(|r| format!("count(case when v.rating = {r} then 1 end)"))
        .collect();
    format!(
        "select g.grp, {}
         from survey_verdicts v join ({scope}) g on g.ticket_id = v.ticket_id
         where v.decided_at >= $1 and v.decided_at < $2
         group by g.grp",
        columns.join(", ")
    )
}

/// Tickets opened in the period: SLA timeliness judged at `$3` exactly as the daily report
/// (`tickets::report`) judges it, and escalations.
pub(super) fn opened(scope: &str) -> String {
    format!(
        "select g.grp, count(*),
                count(case when t.ack_due_at is not null
                            and (t.acknowledged_at is not null or t.ack_due_at < $3) then 1 end),
                count(case when t.acknowledged_at is not null and t.acknowledged_at <= t.ack_due_at then 1 end),
                count(case when t.onsite_due_at is not null
                            and (t.on_site_at is not null or t.onsite_due_at < $3) then 1 end),
                count(case when t.on_site_at is not null and t.on_site_at <= t.onsite_due_at then 1 end),
                count(case when exists (select 1 from ticket_events e
                                         where e.ticket_id = t.ticket_id and e.action = 'escalate')
                           then 1 end)
         from tickets t join ({scope}) g on g.ticket_id = t.ticket_id
         where t.opened_at >= $1 and t.opened_at < $2
         group by g.grp"
    )
}

/// Answered by a person: the call was picked up and it was not an answering machine (an
/// attempt still in progress has no outcome yet).
const BY_A_PERSON: &str = "a.answered_at is not null and coalesce(a.outcome, '') <> 'machine'";

/// Callback contacts (those with a ticket) dialled in the period: attempted, connected,
/// survey completed, each counted once per contact.
pub(super) fn callbacks(scope: &str) -> String {
    format!(
        "select g.grp, count(*),
                count(case when c.connected > 0 then 1 end),
                count(case when c.completed > 0 then 1 end)
         from (select cc.ticket_id,
                      count(case when {BY_A_PERSON} then 1 end) as connected,
                      count(case when a.outcome = 'completed' then 1 end) as completed
               from campaign_contacts cc
               join attempts a on a.campaign_contact_id = cc.campaign_contact_id
               where cc.ticket_id is not null and a.dialed_at >= $1 and a.dialed_at < $2
               group by cc.campaign_contact_id, cc.ticket_id) c
         join ({scope}) g on g.ticket_id = c.ticket_id
         group by g.grp"
    )
}

/// Attempts of every campaign answered by a person in the period, and how many of them were
/// abandoned, under the one abandon rule ([`super::abandon`]); grouped through the contact's
/// ticket, null without one.
pub(super) fn abandons(scope: &str) -> String {
    format!(
        "select g.grp, {}
         from attempts a
         join campaign_contacts cc on cc.campaign_contact_id = a.campaign_contact_id
         left join ({scope}) g on g.ticket_id = cc.ticket_id
         where {}
         group by g.grp",
        abandon::columns("a"),
        abandon::counted("a", 1, 2),
    )
}

/// The bounds of `period`, and `now` when the query judges deadlines (`$3`).
pub(super) fn binds(period: &Period, now: Option<DateTime<Utc>>) -> Vec<DateTime<Utc>> {
    [Some(period.from), Some(period.to), now]
        .into_iter()
        .flatten()
        .collect()
}

/// Runs one of the queries above with its instants bound as `$1, $2, ...`.
pub(super) async fn rows<R>(
    store: &Store,
    sql: String,
    binds: &[DateTime<Utc>],
) -> Result<Vec<R>, sqlx::Error>
where
    R: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    on_pool!(store, |pool| {
        let mut query = sqlx::query_as::<_, R>(sqlx::AssertSqlSafe(sql));
        for at in binds {
            query = query.bind(*at);
        }
        query.fetch_all(pool).await
    })
}
