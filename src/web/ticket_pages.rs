//! The ticket pages: `/tickets` (the filtered list with SLA clocks) and `/tickets/{id}` (one
//! ticket, its timeline and the actions its state allows, posted to `/tickets/{id}/act`).
//!
//! Every logged-in role sees them: agents log and follow tickets, supervisors watch the clocks.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::auth::Viewer;
use super::pages::{self, PageError};
use super::{ApiError, AppState};
use crate::audit::AuditAction;
use crate::contacts::{self, UnitRef};
use crate::on_pool;
use crate::store::Store;
use crate::tickets::sla::local_time;
use crate::tickets::state::allowed_actions;
use crate::tickets::{Action, Ticket, TicketError, TicketFilter, TicketRepo};
use crate::vocab::{Category, Level, TicketState};

/// The nav entry of these pages.
const NAV: &str = "tickets";

/// At most this many rows on the list: past that, the filters are the way to narrow it.
const MAX_ROWS: usize = 200;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/tickets", get(list))
        .route("/tickets/{id}", get(show))
        .route("/tickets/{id}/act", post(act))
}

/// The list's filter form as typed: kept as text, so a bad value is shown back as it was.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
struct ListQuery {
    state: String,
    overdue: String,
    level: String,
    project: String,
    category: String,
}

/// Field name → what is wrong with it, for `{field}-error` next to each input.
type FieldErrors = BTreeMap<&'static str, String>;

/// Turns the form into a [`TicketFilter`], or says what is wrong with each field. `projects`
/// are the known project codes (an unknown one would silently list nothing).
fn parse_filter(q: &ListQuery, projects: &[String]) -> Result<TicketFilter, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut filter = TicketFilter {
        limit: Some(MAX_ROWS as i64 + 1),
        ..TicketFilter::default()
    };
    let given = |v: &str| {
        let v = v.trim();
        (!v.is_empty()).then(|| v.to_string())
    };
    if let Some(v) = given(&q.state) {
        match TicketState::parse(&v) {
            Ok(s) => filter.state = Some(s),
            Err(e) => {
                errors.insert("state", e.to_string());
            }
        }
    }
    if let Some(v) = given(&q.level) {
        match Level::parse(&v) {
            Ok(l) => filter.level = Some(l),
            Err(e) => {
                errors.insert("level", e.to_string());
            }
        }
    }
    if let Some(v) = given(&q.category) {
        match Category::parse(&v) {
            Ok(c) => filter.category = Some(c),
            Err(e) => {
                errors.insert("category", e.to_string());
            }
        }
    }
    if let Some(v) = given(&q.project) {
        if projects.iter().any(|p| p.eq_ignore_ascii_case(&v)) {
            filter.project = Some(v.to_ascii_uppercase());
        } else {
            errors.insert(
                "project",
                format!(
                    "unknown project `{v}`; expected one of: {}",
                    projects.join(", ")
                ),
            );
        }
    }
    match q.overdue.trim() {
        "" | "0" | "false" | "off" | "no" => {}
        "1" | "true" | "on" | "yes" => filter.overdue = true,
        other => {
            errors.insert(
                "overdue",
                format!("overdue is a check box (on or off), not `{other}`"),
            );
        }
    }
    if errors.is_empty() {
        Ok(filter)
    } else {
        Err(errors)
    }
}

/// One SLA clock of a ticket as the pages show it: which, what it says, and how it looks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Clock {
    /// `reply` or `on site`.
    pub(crate) which: &'static str,
    /// `8 min left`, `overdue 1 h 05 min`, `met`, ...
    pub(crate) text: String,
    /// The CSS class: `ok`, `warn` (under a quarter of the time left, or met late), `bad`
    /// (running and overdue).
    pub(crate) class: &'static str,
}

/// A span as people read it on a clock: `<1 min`, `8 min`, `1 h 05 min`, `2 d 3 h`.
pub(crate) fn span(d: Duration) -> String {
    let minutes = d.num_minutes().abs();
    if minutes < 1 {
        "<1 min".to_string()
    } else if minutes < 60 {
        format!("{minutes} min")
    } else if minutes < 24 * 60 {
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    } else {
        format!("{} d {} h", minutes / (24 * 60), minutes % (24 * 60) / 60)
    }
}

/// The ticket's SLA clocks at `now`: a running clock shows the time left or how long it is
/// overdue (judged like [`crate::tickets::sla::breach`]: overdue strictly after the due
/// time); a stopped one whether it was met. A ticket never dispatched has none.
pub(crate) fn clocks(t: &Ticket, now: DateTime<Utc>) -> Vec<Clock> {
    let mut out = Vec::new();
    let running = t.is_in_progress();
    let mut clock = |which, due: Option<DateTime<Utc>>, met: Option<DateTime<Utc>>, runs: bool| {
        let Some(due) = due else { return };
        let (text, class) = match met {
            Some(at) if at <= due => ("met".to_string(), "ok"),
            Some(at) => (format!("met {} late", span(at - due)), "warn"),
            None if !runs => return,
            None if now > due => (format!("overdue {}", span(now - due)), "bad"),
            None => {
                let left = due - now;
                let window = t.dispatched_at.map_or(left, |d| due - d);
                let class = if left * 4 < window { "warn" } else { "ok" };
                (format!("{} left", span(left)), class)
            }
        };
        out.push(Clock { which, text, class });
    };
    clock("reply", t.ack_due_at, t.acknowledged_at, running);
    // Being on site (state on_site) stops the on-site clock even without a time on record.
    let onsite_runs = running && t.state != TicketState::OnSite;
    clock("on site", t.onsite_due_at, t.on_site_at, onsite_runs);
    out
}

/// A list row.
#[derive(Debug, Serialize)]
struct Row {
    id: i64,
    kind: String,
    category: String,
    project: String,
    unit: String,
    owner: String,
    state: &'static str,
    state_zh: &'static str,
    level: &'static str,
    level_zh: &'static str,
    opened: String,
    clocks: Vec<Clock>,
    overdue: bool,
}

fn row(t: &Ticket, owner: Option<&(String, String)>, now: DateTime<Utc>) -> Row {
    let clocks = clocks(t, now);
    let unit = t.unit_code.clone().unwrap_or_default();
    Row {
        id: t.ticket_id,
        kind: format!("{} {}", t.kind, t.kind.label_zh()),
        category: t.category.label_zh().to_string(),
        project: unit.split('-').next().unwrap_or_default().to_string(),
        unit,
        owner: owner.map_or_else(String::new, |(code, name)| format!("{name} ({code})")),
        state: t.state.as_str(),
        state_zh: t.state.label_zh(),
        level: t.level.as_str(),
        level_zh: t.level.label_zh(),
        opened: local_time(t.opened_at),
        overdue: clocks.iter().any(|c| c.class == "bad"),
        clocks,
    }
}

/// The project codes, for the filter's choices and its check.
async fn project_codes(store: &Store) -> Result<Vec<String>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("select code from projects order by code")
            .fetch_all(pool)
            .await
    })
}

/// Code and name of each of these owners, in one query.
async fn owner_names(
    store: &Store,
    ids: &[i64],
) -> Result<BTreeMap<i64, (String, String)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    // Only placeholders are formatted into the text; the ids are bound.
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "select owner_id, code, name from owners where owner_id in ({})",
        marks.join(", ")
    );
    let rows: Vec<(i64, String, String)> = on_pool!(store, |pool| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(pool).await
    })?;
    Ok(rows
        .into_iter()
        .map(|(id, code, name)| (id, (code, name)))
        .collect())
}

/// The choices of the filter's selects.
fn choices(projects: &[String]) -> serde_json::Value {
    let words = |all: Vec<(&str, &str)>| {
        all.into_iter()
            .map(|(v, zh)| serde_json::json!({ "value": v, "label": format!("{v} {zh}") }))
            .collect::<Vec<_>>()
    };
    serde_json::json!({
        "states": words(TicketState::ALL.iter().map(|s| (s.as_str(), s.label_zh())).collect()),
        "levels": words(Level::ALL.iter().map(|l| (l.as_str(), l.label_zh())).collect()),
        "categories": words(Category::ALL.iter().map(|c| (c.as_str(), c.label_zh())).collect()),
        "projects": projects,
    })
}

async fn list(
    viewer: Viewer,
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(q) = query.map_err(|e| PageError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let store = state.store();
    let projects = project_codes(store).await.map_err(PageError::internal)?;
    let mut ctx = tera::Context::new();
    ctx.insert("q", &q);
    ctx.insert("choices", &choices(&projects));
    ctx.insert("max_rows", &MAX_ROWS);
    let filter = match parse_filter(&q, &projects) {
        Ok(filter) => filter,
        Err(errors) => {
            ctx.insert("errors", &errors);
            ctx.insert("rows", &Vec::<Row>::new());
            ctx.insert("more", &false);
            let page = pages::render(&state, &viewer, NAV, "tickets.html", ctx)?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let now = state.desk.now();
    let mut tickets = TicketRepo::new(store)
        .list(&filter, now)
        .await
        .map_err(PageError::internal)?;
    let more = tickets.len() > MAX_ROWS;
    tickets.truncate(MAX_ROWS);
    let mut ids: Vec<i64> = tickets.iter().filter_map(|t| t.owner_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let owners = owner_names(store, &ids)
        .await
        .map_err(PageError::internal)?;
    let rows: Vec<Row> = tickets
        .iter()
        .map(|t| row(t, t.owner_id.and_then(|id| owners.get(&id)), now))
        .collect();
    ctx.insert("errors", &FieldErrors::new());
    ctx.insert("rows", &rows);
    ctx.insert("more", &more);
    ctx.insert("now", &local_time(now));
    Ok(pages::render(&state, &viewer, NAV, "tickets.html", ctx)?.into_response())
}

/// A button of the ticket page.
#[derive(Debug, Serialize)]
struct ActionButton {
    action: &'static str,
    label: String,
}

/// What the ticket's state allows, as buttons: the life-cycle actions of the state table, and
/// escalation while the ticket is open and below the top level.
fn buttons(t: &Ticket) -> Vec<ActionButton> {
    let mut out: Vec<ActionButton> = allowed_actions(t.state, t.kind)
        .into_iter()
        .map(|a| ActionButton {
            action: a.as_str(),
            label: action_label(a).to_string(),
        })
        .collect();
    if t.state != TicketState::Closed
        && let Some(next) = t.level.next()
    {
        out.push(ActionButton {
            action: "escalate",
            label: format!("Escalate to {next} 升级为{}", next.label_zh()),
        });
    }
    out
}

fn action_label(a: Action) -> &'static str {
    match a {
        Action::Dispatch => "Dispatch 派单",
        Action::Acknowledge => "Replied 已响应",
        Action::ArriveOnSite => "On site 已到场",
        Action::Complete => "Complete 完工",
        Action::StartCallback => "Start callback 回访",
        Action::Close => "Close 关闭",
        Action::Reopen => "Reopen 重开",
    }
}

/// What the ticket page shows besides the ticket.
async fn ticket_context(state: &AppState, ticket: &Ticket) -> Result<tera::Context, PageError> {
    let store = state.store();
    let repo = TicketRepo::new(store);
    let timeline = repo
        .timeline(ticket.ticket_id)
        .await
        .map_err(PageError::internal)?;
    let owner = match ticket.owner_id {
        Some(id) => owner_names(store, &[id])
            .await
            .map_err(PageError::internal)?
            .remove(&id),
        None => None,
    };
    let place = match ticket.unit_id {
        Some(id) => contacts::unit_place(store, UnitRef::Id(id))
            .await
            .map_err(PageError::internal)?,
        None => None,
    };
    let assignee = match ticket.assignee_id {
        Some(id) => contacts::staff_by_id(store, id)
            .await
            .map_err(PageError::internal)?,
        None => None,
    };
    let now = state.desk.now();
    let events: Vec<serde_json::Value> = timeline
        .iter()
        .map(|e| {
            serde_json::json!({
                "at": local_time(e.at),
                "actor": e.actor,
                "action": e.action,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "level": e.level,
                "reason": e.reason,
            })
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("t", ticket);
    ctx.insert("row", &row(ticket, owner.as_ref(), now));
    ctx.insert("owner", &owner);
    ctx.insert("place", &place);
    ctx.insert("assignee", &assignee);
    ctx.insert("timeline", &events);
    ctx.insert("buttons", &buttons(ticket));
    ctx.insert("now", &local_time(now));
    ctx.insert("error", "");
    ctx.insert("reason", "");
    Ok(ctx)
}

async fn load(state: &AppState, id: i64) -> Result<Ticket, PageError> {
    TicketRepo::new(state.store())
        .get(id)
        .await
        .map_err(PageError::internal)?
        .ok_or_else(|| PageError::not_found(format!("ticket #{id} does not exist")))
}

async fn show(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Html<String>, PageError> {
    let ticket = load(&state, id).await?;
    let ctx = ticket_context(&state, &ticket).await?;
    pages::render(&state, &viewer, NAV, "ticket.html", ctx)
}

/// The ticket page's action form: the clicked button's `action`, an optional reason.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ActForm {
    action: String,
    reason: String,
    csrf: String,
}

/// What a form's action word names.
enum Step {
    Act(Action),
    Escalate,
}

fn step(word: &str) -> Option<Step> {
    if word == "escalate" {
        return Some(Step::Escalate);
    }
    Action::ALL
        .into_iter()
        .find(|a| a.as_str() == word)
        .map(Step::Act)
}

/// Applies the action as the viewer; success goes back to the page (303), a refusal shows the
/// page again with the reason next to the buttons.
async fn act(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<ActForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    let actor = viewer.user.username.as_str();
    let reason = form.reason.trim();
    let done = match step(form.action.trim()) {
        Some(Step::Act(action)) => state.desk.act(id, actor, action, reason).await.map(drop),
        Some(Step::Escalate) => state.desk.escalate(id, actor, reason).await.map(drop),
        None => {
            let err = format!("unknown action `{}`", form.action.trim());
            return refused(
                &state,
                &viewer,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                err,
                reason,
            )
            .await;
        }
    };
    if done.is_ok() {
        let detail = super::audit::detail(form.action.trim(), reason);
        let target = super::audit::ticket(id);
        super::audit::record(&state, &viewer, AuditAction::TicketChange, &target, &detail).await?;
    }
    match done {
        Ok(()) => Ok(Redirect::to(&format!("/tickets/{id}")).into_response()),
        Err(TicketError::NotFound(_)) => {
            Err(PageError::not_found(format!("ticket #{id} does not exist")))
        }
        Err(TicketError::Db(e)) => Err(PageError::internal(e)),
        Err(other) => {
            let message = other.to_string();
            let status = ApiError::from(other).status();
            refused(&state, &viewer, id, status, message, reason).await
        }
    }
}

/// The ticket page again, as it is now, with why the action was refused.
async fn refused(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    status: StatusCode,
    error: String,
    reason: &str,
) -> Result<Response, PageError> {
    let ticket = load(state, id).await?;
    let mut ctx = ticket_context(state, &ticket).await?;
    ctx.insert("error", &error);
    ctx.insert("reason", reason);
    let page = pages::render(state, viewer, NAV, "ticket.html", ctx)?;
    Ok((status, page).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::sla::tests::at;

    fn dispatched(on_site: bool) -> Ticket {
        Ticket {
            unit_code: Some("HYF-3-1202".into()),
            ..crate::tickets::sla::tests::dispatched(on_site)
        }
    }

    fn texts(t: &Ticket, now: DateTime<Utc>) -> Vec<(String, &'static str)> {
        clocks(t, now)
            .into_iter()
            .map(|c| (format!("{}: {}", c.which, c.text), c.class))
            .collect()
    }

    #[test]
    fn spans_read_like_a_clock() {
        assert_eq!(span(Duration::seconds(30)), "<1 min");
        assert_eq!(span(Duration::minutes(8)), "8 min");
        assert_eq!(span(Duration::minutes(65)), "1 h 05 min");
        assert_eq!(span(Duration::minutes(-65)), "1 h 05 min");
        assert_eq!(span(Duration::minutes(3 * 24 * 60 + 150)), "3 d 2 h");
    }

    #[test]
    fn running_clocks_count_down_then_turn_overdue() {
        let t = dispatched(true);
        assert_eq!(
            texts(&t, at(2)),
            [
                ("reply: 8 min left".to_string(), "ok"),
                ("on site: 58 min left".to_string(), "ok")
            ]
        );
        // Under a quarter of the 10 minutes left: a warning.
        assert_eq!(
            texts(&t, at(8))[0],
            ("reply: 2 min left".to_string(), "warn")
        );
        // Overdue strictly after the due time, as the escalation worker judges it.
        assert_eq!(texts(&t, at(10))[0].1, "warn");
        assert_eq!(
            texts(&t, at(75)),
            [
                ("reply: overdue 1 h 05 min".to_string(), "bad"),
                ("on site: overdue 15 min".to_string(), "bad")
            ]
        );
    }

    #[test]
    fn stopped_clocks_say_whether_they_were_met() {
        let mut t = dispatched(true);
        t.state = TicketState::OnSite;
        t.acknowledged_at = Some(at(12));
        t.on_site_at = Some(at(30));
        assert_eq!(
            texts(&t, at(500)),
            [
                ("reply: met 2 min late".to_string(), "warn"),
                ("on site: met".to_string(), "ok")
            ]
        );
        // Finished without a reply on record: nothing runs any more, nothing to show.
        let mut done = dispatched(false);
        done.state = TicketState::Completed;
        assert!(clocks(&done, at(500)).is_empty());
        let mut new = dispatched(false);
        new.state = TicketState::New;
        new.ack_due_at = None;
        assert!(clocks(&new, at(0)).is_empty());
    }

    #[test]
    fn filters_parse_or_name_the_bad_field() {
        let projects = vec!["HYF".to_string(), "LXC".to_string()];
        let q = ListQuery {
            state: "已派单".into(),
            overdue: "on".into(),
            project: "hyf".into(),
            ..ListQuery::default()
        };
        let f = parse_filter(&q, &projects).unwrap();
        assert_eq!(f.state, Some(TicketState::Dispatched));
        assert!(f.overdue);
        assert_eq!(f.project.as_deref(), Some("HYF"));
        let q = ListQuery {
            level: "urgent".into(),
            project: "XXX".into(),
            overdue: "maybe".into(),
            ..ListQuery::default()
        };
        let errors = parse_filter(&q, &projects).unwrap_err();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["level", "overdue", "project"]
        );
        assert!(errors["level"].contains("urgent"), "{errors:?}");
    }

    #[test]
    fn buttons_follow_the_state_table() {
        let t = dispatched(false);
        let names: Vec<&str> = buttons(&t).iter().map(|b| b.action).collect();
        assert_eq!(names, ["ack", "escalate"]);
        let mut closed = t.clone();
        closed.state = TicketState::Closed;
        let names: Vec<&str> = buttons(&closed).iter().map(|b| b.action).collect();
        assert_eq!(names, ["reopen"]);
    }
}
