//! The supervisors' report: `/reports` (the figures of a period as a table and inline SVG bar
//! charts) and `/api/reports` (the same figures as JSON, shaped like `huifang metrics --json`).
//!
//! The charts are drawn here, server-side, as plain SVG: no chart library, nothing to load.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::Viewer;
use super::pages::{self, PageError, escape};
use super::{ApiError, AppState};
use crate::metrics::{self, Figures, GroupBy, InboundFigures, InboundReport, Period};
use crate::tickets::sla::local_time;

/// The nav entry of the page.
const NAV: &str = "reports";

/// Days in the default period, today included.
const DEFAULT_DAYS: u64 = 7;

/// The groupings, in the order the form offers them.
const GROUPINGS: [GroupBy; 4] = [
    GroupBy::Project,
    GroupBy::Region,
    GroupBy::Category,
    GroupBy::Supplier,
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/reports", get(page))
        .route("/api/reports", get(api))
}

/// The form as typed (kept as text, so a bad value is shown back as it was).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
struct ReportQuery {
    from: String,
    to: String,
    by: String,
}

/// What the report is asked for, once checked.
#[derive(Debug, Clone, PartialEq)]
struct Request {
    first: NaiveDate,
    last: NaiveDate,
    by: Option<GroupBy>,
    period: Period,
}

/// What is wrong with one field of the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct FieldError {
    field: &'static str,
    message: String,
}

/// Checks the form; blank days default to the last [`DEFAULT_DAYS`] days up to `today`
/// (China time). A reversed period is blamed on `from`.
fn parse(q: &ReportQuery, today: NaiveDate) -> Result<Request, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut day = |field: &'static str, text: &str, default: NaiveDate| {
        let text = text.trim();
        if text.is_empty() {
            return Some(default);
        }
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError {
                    field,
                    message: format!("`{text}` is not a day: use YYYY-MM-DD"),
                });
                None
            }
        }
    };
    let last = day("to", &q.to, today);
    let first = day(
        "from",
        &q.from,
        last.unwrap_or(today)
            .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(today),
    );
    let by = match q.by.trim() {
        "" | "none" => None,
        word => {
            let found = GROUPINGS.into_iter().find(|g| g.as_str() == word);
            if found.is_none() {
                let known: Vec<&str> = GROUPINGS.iter().map(|g| g.as_str()).collect();
                errors.push(FieldError {
                    field: "by",
                    message: format!(
                        "unknown grouping `{word}`; expected none, {}",
                        known.join(", ")
                    ),
                });
            }
            found
        }
    };
    let (Some(first), Some(last)) = (first, last) else {
        return Err(errors);
    };
    match Period::days(first, last) {
        Ok(period) if errors.is_empty() => Ok(Request {
            first,
            last,
            by,
            period,
        }),
        Ok(_) => Err(errors),
        Err(e) => {
            errors.push(FieldError {
                field: "from",
                message: e.to_string(),
            });
            Err(errors)
        }
    }
}

/// Today in the center's calendar.
fn today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive()
}

fn report_json(req: &Request, now: DateTime<Utc>, rows: &[(String, Figures)]) -> Value {
    crate::metrics::report_json(req.first, req.last, req.by, now, rows)
}

/// The API's query: unlike the page's form, a parameter given is given in full (`to=` or
/// `to=2024-1-5` is refused naming `to`, not taken for the default); one left out takes it.
#[derive(Debug, Deserialize)]
struct ApiReportQuery {
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
}

impl ApiReportQuery {
    fn strict(self) -> Result<ReportQuery, ApiError> {
        for (field, value) in [("from", &self.from), ("to", &self.to)] {
            if let Some(text) = value
                && !is_full_date(text)
            {
                return Err(ApiError::Invalid(format!(
                    "{field}: `{text}` is not a day: use YYYY-MM-DD"
                )));
            }
        }
        if self.by.as_deref() == Some("") {
            return Err(ApiError::Invalid(
                "by: empty; leave it out or give none, project, region, category, supplier".into(),
            ));
        }
        Ok(ReportQuery {
            from: self.from.unwrap_or_default(),
            to: self.to.unwrap_or_default(),
            by: self.by.unwrap_or_default(),
        })
    }
}

/// `YYYY-MM-DD` exactly (RFC 3339's full-date, the document's `format: date`).
fn is_full_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

/// `GET /api/reports?from=&to=&by=`: supervisors' figures as JSON.
async fn api(
    viewer: Viewer,
    State(state): State<AppState>,
    query: Result<Query<ApiReportQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    viewer.require_supervisor()?;
    let Query(q) = query.map_err(|e| ApiError::Invalid(e.body_text()))?;
    let q = q.strict()?;
    let now = state.desk.now();
    let req = parse(&q, today(now)).map_err(|errors| {
        let text: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        ApiError::Invalid(text.join("; "))
    })?;
    let rows = metrics::compute(state.store(), &req.period, req.by, now).await?;
    let inbound = inbound_of(&state, &req).await?;
    let mut report = report_json(&req, now, &rows);
    report["inbound"] = metrics::inbound_json(&inbound);
    Ok(Json(report))
}

/// The hotline's figures of the period, at the configured menus' service-level threshold.
async fn inbound_of(state: &AppState, req: &Request) -> Result<InboundReport, sqlx::Error> {
    metrics::compute_inbound(state.store(), &req.period, state.answer_within.secs).await
}

/// A row of the page's inbound table (the total or one hour), every cell ready to show.
#[derive(Debug, Serialize)]
struct InboundRow {
    label: String,
    offered: i64,
    answered: i64,
    abandoned: i64,
    callbacks: i64,
    service_level: RateCell,
    asa: String,
}

fn inbound_rows(r: &InboundReport) -> Vec<InboundRow> {
    let row = |label: String, f: &InboundFigures| InboundRow {
        label,
        offered: f.offered,
        answered: f.answered,
        abandoned: f.abandoned,
        callbacks: f.callback_requests,
        service_level: rate_cell(f.answered_in_time, f.offered),
        asa: f
            .average_speed_of_answer()
            .map_or_else(|| "—".to_string(), |v| format!("{v:.1} s")),
    };
    let hours = r.by_hour.iter().map(|(h, f)| row(format!("{h:02}:00"), f));
    hours.chain([row("all".to_string(), &r.total)]).collect()
}

/// A rate cell of the table: the share and what it is made of (the template writes
/// `66.7 % (2/3)`, or `—` when there is nothing to divide by).
#[derive(Debug, Clone, PartialEq, Serialize)]
struct RateCell {
    pct: Option<String>,
    part: i64,
    whole: i64,
}

fn rate_cell(part: i64, whole: i64) -> RateCell {
    RateCell {
        pct: (whole > 0).then(|| format!("{:.1} %", 100.0 * part as f64 / whole as f64)),
        part,
        whole,
    }
}

/// A row of the page's table, every cell ready to show.
#[derive(Debug, Serialize)]
struct TableRow {
    group: String,
    opened: i64,
    closure: RateCell,
    satisfaction: RateCell,
    rating: String,
    ack: RateCell,
    onsite: RateCell,
    escalation: RateCell,
    connect: RateCell,
    completion: RateCell,
    abandon: RateCell,
}

fn table_row(group: &str, f: &Figures) -> TableRow {
    TableRow {
        group: group.to_string(),
        opened: f.opened,
        closure: rate_cell(f.closed, f.completed),
        satisfaction: rate_cell(f.first_satisfied, f.first_rated),
        rating: f.average_rating().map_or_else(
            || "—".to_string(),
            |avg| format!("{avg:.2} ({} rated)", f.rated()),
        ),
        ack: rate_cell(f.ack_in_time, f.ack_measured),
        onsite: rate_cell(f.onsite_in_time, f.onsite_measured),
        escalation: rate_cell(f.escalated, f.opened),
        connect: rate_cell(f.callbacks_connected, f.callbacks_attempted),
        completion: rate_cell(f.callbacks_completed, f.callbacks_connected),
        abandon: rate_cell(f.abandoned, f.answered),
    }
}

/// The charts of the page: id, title, and the rate each bar shows.
type RateOf = fn(&Figures) -> Option<f64>;
const CHARTS: [(&str, &str, RateOf); 4] = [
    (
        "chart-closure",
        "Closure rate 关闭率",
        Figures::closure_rate,
    ),
    (
        "chart-satisfaction",
        "First-contact satisfaction 一次满意度",
        Figures::first_contact_satisfaction,
    ),
    ("chart-ack", "Replied in time 及时率", Figures::ack_rate),
    (
        "chart-escalation",
        "Escalation rate 升级率",
        Figures::escalation_rate,
    ),
];

async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    viewer.require_supervisor()?;
    let Query(q) = query.map_err(|e| PageError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let now = state.desk.now();
    let mut ctx = tera::Context::new();
    let groupings: Vec<&str> = GROUPINGS.iter().map(|g| g.as_str()).collect();
    ctx.insert("groupings", &groupings);
    ctx.insert("now", &local_time(now));
    let req = match parse(&q, today(now)) {
        Ok(req) => req,
        Err(errors) => {
            let by_field: std::collections::BTreeMap<&str, &str> = errors
                .iter()
                .map(|e| (e.field, e.message.as_str()))
                .collect();
            ctx.insert("q", &q);
            ctx.insert("errors", &by_field);
            ctx.insert("rows", &Vec::<TableRow>::new());
            ctx.insert("charts", &Vec::<String>::new());
            let page = pages::render(&state, &viewer, NAV, "reports.html", ctx)?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let rows = metrics::compute(state.store(), &req.period, req.by, now)
        .await
        .map_err(PageError::internal)?;
    let inbound = inbound_of(&state, &req)
        .await
        .map_err(PageError::internal)?;
    ctx.insert("inbound", &inbound_rows(&inbound));
    ctx.insert("answer_within", &inbound.answer_within_secs);
    ctx.insert("answer_within_from", &state.answer_within.describe());
    let table: Vec<TableRow> = rows.iter().map(|(g, f)| table_row(g, f)).collect();
    let charts: Vec<String> = CHARTS
        .iter()
        .map(|(id, title, rate)| {
            let bars: Vec<(String, Option<f64>)> =
                rows.iter().map(|(g, f)| (g.clone(), rate(f))).collect();
            bar_chart(id, title, &bars)
        })
        .collect();
    let shown = ReportQuery {
        from: req.first.to_string(),
        to: req.last.to_string(),
        by: req.by.map_or("", GroupBy::as_str).to_string(),
    };
    ctx.insert("q", &shown);
    ctx.insert("errors", &std::collections::BTreeMap::<&str, &str>::new());
    ctx.insert("rows", &table);
    ctx.insert("charts", &charts);
    ctx.insert("by", req.by.map_or("group", GroupBy::as_str));
    Ok(pages::render(&state, &viewer, NAV, "reports.html", ctx)?.into_response())
}

/// The layout of a horizontal bar chart, in SVG user units.
mod layout {
    /// Room for the group names on the left.
    pub(super) const LABEL_W: f64 = 150.0;
    /// The plot: 0 % at its left edge, 100 % at its right.
    pub(super) const PLOT_W: f64 = 360.0;
    /// Room for the value after the bar.
    pub(super) const VALUE_W: f64 = 70.0;
    /// Room for the title above the bars.
    pub(super) const TOP: f64 = 26.0;
    /// One bar's height, and the gap below it.
    pub(super) const BAR_H: f64 = 18.0;
    pub(super) const GAP: f64 = 6.0;
    /// Room for the axis and its tick labels below.
    pub(super) const AXIS_H: f64 = 24.0;
}

/// Where bar `index` with `value` (a share, clamped to 0..=1) goes: `(x, y, width)`.
fn bar_geometry(index: usize, value: f64) -> (f64, f64, f64) {
    use layout::*;
    let y = TOP + index as f64 * (BAR_H + GAP);
    (LABEL_W, y, value.clamp(0.0, 1.0) * PLOT_W)
}

/// The whole drawing's size for `bars` bars: `(width, height)`.
fn chart_size(bars: usize) -> (f64, f64) {
    use layout::*;
    (
        LABEL_W + PLOT_W + VALUE_W,
        TOP + bars as f64 * (BAR_H + GAP) + AXIS_H,
    )
}

/// A horizontal bar chart of shares (0..=1), one bar per `(label, share)`; a group without a
/// share (nothing to divide by) gets a `—` and no bar rather than a made-up 0 %.
fn bar_chart(id: &str, title: &str, bars: &[(String, Option<f64>)]) -> String {
    use layout::*;
    use std::fmt::Write;
    let (width, height) = chart_size(bars.len());
    let axis_y = TOP + bars.len() as f64 * (BAR_H + GAP);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" id="{id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{t}"><title>{t}</title><text class="chart-title" x="0" y="16">{t}</text>"#,
        id = escape(id),
        t = escape(title),
    );
    // Grid lines and tick labels every 25 %.
    for tick in 0..=4 {
        let x = LABEL_W + PLOT_W * f64::from(tick) / 4.0;
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{x}" y1="{TOP}" x2="{x}" y2="{axis_y}"/><text class="tick" x="{x}" y="{ty}" text-anchor="middle">{p}%</text>"#,
            ty = axis_y + 16.0,
            p = tick * 25,
        );
    }
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LABEL_W}" y1="{axis_y}" x2="{x2}" y2="{axis_y}"/>"#,
        x2 = LABEL_W + PLOT_W,
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let (x, y, w) = bar_geometry(i, value.unwrap_or(0.0));
        let mid = y + BAR_H / 2.0 + 4.0;
        let class = if label == metrics::ALL {
            "bar total"
        } else {
            "bar"
        };
        let _ = write!(
            svg,
            r#"<text class="label" x="{lx}" y="{mid}" text-anchor="end">{l}</text>"#,
            lx = LABEL_W - 6.0,
            l = escape(label),
        );
        let shown = match value {
            Some(v) => {
                let _ = write!(
                    svg,
                    r#"<rect class="{class}" x="{x}" y="{y}" width="{w:.1}" height="{BAR_H}"><title>{l}: {p:.1} %</title></rect>"#,
                    l = escape(label),
                    p = v * 100.0,
                );
                format!("{:.1} %", v * 100.0)
            }
            None => "—".to_string(),
        };
        let _ = write!(
            svg,
            r#"<text class="value" x="{vx:.1}" y="{mid}">{shown}</text>"#,
            vx = x + w + 4.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn q(from: &str, to: &str, by: &str) -> ReportQuery {
        ReportQuery {
            from: from.into(),
            to: to.into(),
            by: by.into(),
        }
    }

    #[test]
    fn the_default_period_is_the_last_seven_days() {
        let req = parse(&q("", "", ""), day(2026, 6, 10)).unwrap();
        assert_eq!(
            (req.first, req.last, req.by),
            (day(2026, 6, 4), day(2026, 6, 10), None)
        );
        let req = parse(&q("", "2026-05-31", "project"), day(2026, 6, 10)).unwrap();
        assert_eq!(req.first, day(2026, 5, 25));
        assert_eq!(req.by, Some(GroupBy::Project));
    }

    #[test]
    fn bad_fields_are_named() {
        let fields = |errors: Vec<FieldError>| errors.iter().map(|e| e.field).collect::<Vec<_>>();
        let today = day(2026, 6, 10);
        assert_eq!(
            fields(parse(&q("2026-13-01", "", "x"), today).unwrap_err()),
            ["from", "by"]
        );
        assert_eq!(
            fields(parse(&q("", "yesterday", ""), today).unwrap_err()),
            ["to"]
        );
        let reversed = parse(&q("2026-06-02", "2026-06-01", ""), today).unwrap_err();
        assert_eq!(fields(reversed.clone()), ["from"]);
        assert!(
            reversed[0].message.contains("after the last day"),
            "{reversed:?}"
        );
    }

    #[test]
    fn bars_are_proportional_and_clamped() {
        use layout::*;
        assert_eq!(bar_geometry(0, 0.5), (LABEL_W, TOP, PLOT_W / 2.0));
        assert_eq!(bar_geometry(2, 1.0).1, TOP + 2.0 * (BAR_H + GAP));
        assert_eq!(bar_geometry(0, 1.7).2, PLOT_W);
        assert_eq!(bar_geometry(0, -0.2).2, 0.0);
        assert_eq!(chart_size(0).1, TOP + AXIS_H);
        assert_eq!(chart_size(3).1 - chart_size(2).1, BAR_H + GAP);
    }

    #[test]
    fn charts_label_escape_and_skip_missing_rates() {
        let svg = bar_chart(
            "chart-x",
            "T",
            &[("<HYF>".into(), Some(0.25)), ("all".into(), None)],
        );
        assert!(
            svg.starts_with(r#"<svg class="chart" id="chart-x""#),
            "{svg}"
        );
        assert!(svg.contains("&lt;HYF&gt;"), "{svg}");
        assert!(!svg.contains("<HYF>"), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 1, "no bar without a rate");
        assert!(svg.contains(r#"width="90.0""#), "{svg}");
        assert!(svg.contains("25.0 %") && svg.contains("—") && svg.contains("100%"));
    }

    #[test]
    fn rate_cells_never_divide_by_zero() {
        assert_eq!(rate_cell(2, 3).pct.as_deref(), Some("66.7 %"));
        assert_eq!(rate_cell(0, 0).pct, None);
    }
}

#[cfg(test)]
mod openapi_tests {
    use serde_json::Value;

    const FRAGMENT: &str = include_str!("openapi/tickets.json");

    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    /// The fragment the lead assembles into `/api/openapi.json`: every route of the ticket,
    /// lookup and report APIs is described, and every `$ref` names a schema of the fragment.
    #[test]
    fn the_openapi_fragment_covers_the_routes_and_resolves() {
        let doc: Value = serde_json::from_str(FRAGMENT).expect("valid JSON");
        let paths = doc["paths"].as_object().unwrap();
        for route in [
            "/api/tickets",
            "/api/tickets/{id}",
            "/api/tickets/{id}/{action}",
            "/api/lookup",
            "/api/units/{code}/components/{component}",
            "/api/reports",
        ] {
            assert!(paths.contains_key(route), "{route}");
        }
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").expect(r);
            assert!(schemas.contains_key(name), "{r}");
        }
        for (path, ops) in paths {
            for (method, op) in ops.as_object().unwrap() {
                assert!(op["operationId"].is_string(), "{method} {path}");
                assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
            }
        }
    }
}
