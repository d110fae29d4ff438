//! The drill-down from a wallboard to its campaign's attempts, page by page and by outcome:
//! the page and `GET /api/campaigns/CODE/attempts`, and all of them as a CSV download
//! (`/campaigns/CODE/attempts.csv`, on the audit log). Supervisors and admins only.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Viewer;
use super::campaigns::summary;
use super::pages::{self, PageError};
use super::{ApiError, AppState};
use crate::audit::AuditAction;
use crate::campaigns::repo::{Campaigns, StoredCampaign};
use crate::campaigns::{export, wallboard};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/campaigns/{code}/attempts", get(attempts_page))
        .route("/api/campaigns/{code}/attempts", get(api_attempts))
        .route("/campaigns/{code}/attempts.csv", get(attempts_csv))
}

/// `?outcome=..&page=..`: an outcome word (`open`: not ended; empty: all) and a page from 1.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AttemptQuery {
    outcome: String,
    page: Option<i64>,
}

async fn attempts_of(
    state: &AppState,
    code: &str,
    q: &AttemptQuery,
) -> Result<(StoredCampaign, wallboard::AttemptPage), ApiError> {
    let page_number = q.page.unwrap_or(1);
    if !(1..=wallboard::MAX_PAGE).contains(&page_number) {
        return Err(ApiError::Invalid(format!(
            "page: {page_number} is not a page from 1 to {}",
            wallboard::MAX_PAGE
        )));
    }
    let campaign = Campaigns::new(state.store()).get(code).await?;
    let outcome = Some(q.outcome.trim()).filter(|o| !o.is_empty());
    let page =
        wallboard::attempts(state.store(), campaign.campaign_id, outcome, page_number).await?;
    Ok((campaign, page))
}

async fn attempts_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<AttemptQuery>,
) -> Result<Html<String>, PageError> {
    viewer.require_supervisor()?;
    let (campaign, page) = attempts_of(&state, &code, &q).await?;
    let progress = Campaigns::new(state.store())
        .progress(campaign.campaign_id)
        .await?;
    let mut ctx = tera::Context::new();
    ctx.insert("c", &summary(&campaign));
    ctx.insert(
        "rows",
        &page.attempts.iter().map(attempt_view).collect::<Vec<_>>(),
    );
    let q = page
        .outcome
        .as_ref()
        .map_or(String::new(), |o| format!("outcome={o}&"));
    ctx.insert("q", &q);
    ctx.insert("p", &page);
    ctx.insert("outcomes", &progress.attempts);
    pages::render(&state, &viewer, "campaigns", "campaign_attempts.html", ctx)
}

/// An attempt as the page shows it: times as `MM-DD HH:MM:SS` (UTC), blanks for none.
fn attempt_view(a: &wallboard::AttemptRow) -> Value {
    let at = |t: Option<DateTime<Utc>>| {
        t.map_or(String::new(), |t| t.format("%m-%d %H:%M:%S").to_string())
    };
    json!({
        "attempt_id": a.attempt_id,
        "contact_name": a.contact_name.as_deref().unwrap_or("—"),
        "phone": a.phone, "channel": a.channel,
        "queued": at(Some(a.queued_at)), "dialed": at(a.dialed_at),
        "answered": at(a.answered_at), "bridged": at(a.bridged_at), "ended": at(a.ended_at),
        "outcome": a.outcome.as_deref().unwrap_or("open"),
        "sip_status": a.sip_status.map_or(String::new(), |s| s.to_string()),
        "agent": a.agent.as_deref().unwrap_or(""),
        "detail": a.detail.as_deref().unwrap_or(""),
    })
}

async fn api_attempts(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<AttemptQuery>,
) -> Result<Json<wallboard::AttemptPage>, ApiError> {
    viewer.require_supervisor()?;
    Ok(Json(attempts_of(&state, &code, &q).await?.1))
}

/// Every attempt of the campaign (with the page's outcome filter) as a CSV download. The
/// export goes on the audit log, with how many rows left, before the file is sent.
async fn attempts_csv(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<AttemptQuery>,
) -> Result<Response, ApiError> {
    viewer.require_supervisor()?;
    let campaign = Campaigns::new(state.store()).get(&code).await?;
    let outcome = Some(q.outcome.trim()).filter(|o| !o.is_empty());
    let rows = export::attempts(state.store(), campaign.campaign_id, outcome).await?;
    let detail = format!(
        "attempts.csv outcome={} rows={}",
        outcome.unwrap_or("all"),
        rows.len()
    );
    let target = format!("campaign:{}", campaign.code);
    super::audit::record(&state, &viewer, AuditAction::Export, &target, &detail).await?;
    let file = format!("attachment; filename=\"{}-attempts.csv\"", campaign.code);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, file),
        ],
        export::to_csv(&rows),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Every `$ref` of the OpenAPI part resolves, and every JSON route is described.
    #[test]
    fn the_openapi_part_describes_every_json_route() {
        let doc: Value = serde_json::from_str(include_str!("openapi/campaigns.json")).unwrap();
        let text = doc.to_string();
        for r in text.split("\"$ref\":\"#/components/").skip(1) {
            let path = &r[..r.find('"').unwrap()];
            let (kind, name) = path.split_once('/').unwrap();
            assert!(doc["components"][kind].get(name).is_some(), "{path}");
        }
        let routes = [
            ("/api/campaigns", "get"),
            ("/api/campaigns", "post"),
            ("/api/campaigns/validate", "post"),
            ("/api/campaigns/{code}/{action}", "post"),
            ("/api/campaigns/{code}/wallboard", "get"),
            ("/api/campaigns/{code}/live", "get"),
            ("/api/campaigns/{code}/attempts", "get"),
        ];
        for (path, method) in routes {
            assert!(doc["paths"][path].get(method).is_some(), "{method} {path}");
        }
        let described: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|ops| ops.as_object().unwrap().len())
            .sum();
        assert_eq!(
            described,
            routes.len(),
            "no route described that is not served"
        );
    }
}
