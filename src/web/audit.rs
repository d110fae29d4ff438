//! What the console writes to the audit log, and `GET /api/audit` for admins to search it.
//! A handler records before it answers: when the row cannot be written, the request fails
//! (500) rather than showing an owner's data unrecorded.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use strum::IntoEnumIterator;
use tokio::sync::watch;

use super::auth::Viewer;
use super::pages::{self, PageError};
use super::{ApiError, AppState};
use crate::audit::{AuditAction, AuditEntry, AuditFilter, AuditLog};
use crate::users::Role;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/audit", get(search))
        .route("/audit", get(page))
}

/// The audit target of a campaign.
pub(super) fn campaign(code: &str) -> String {
    format!("campaign:{code}")
}

/// The audit target of a ticket.
pub(super) fn ticket(id: i64) -> String {
    format!("ticket:{id}")
}

/// The audit target of an owner.
pub(super) fn owner(id: i64) -> String {
    format!("owner:{id}")
}

/// An action word and its reason, as a row's detail.
pub(super) fn detail(action: &str, reason: &str) -> String {
    match reason.trim() {
        "" => action.to_string(),
        reason => format!("{action}: {reason}"),
    }
}

/// Appends a row for what `viewer` does to `target`.
pub(super) async fn record(
    state: &AppState,
    viewer: &Viewer,
    action: AuditAction,
    target: &str,
    detail: &str,
) -> Result<(), ApiError> {
    let address = viewer.address.text();
    record_as(
        state,
        &viewer.user.username,
        &address,
        action,
        target,
        detail,
    )
    .await
}

/// Appends a row for what `actor` did from `address` (a feed shared by one user's streams has
/// no single request to name).
pub(super) async fn record_as(
    state: &AppState,
    actor: &str,
    address: &str,
    action: AuditAction,
    target: &str,
    detail: &str,
) -> Result<(), ApiError> {
    let entry = AuditEntry {
        actor,
        action,
        target,
        address,
        detail,
    };
    AuditLog::new(state.store())
        .record(&entry, state.desk.now())
        .await
        .map_err(|e| ApiError::Internal(e.into()))
}

/// `GET /api/audit?actor=&action=&since=&limit=`: newest first; admins only.
async fn search(
    viewer: Viewer,
    State(state): State<AppState>,
    filter: Result<Query<AuditFilter>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    if viewer.user.role != Role::Admin {
        return Err(ApiError::Forbidden("the audit log is for admins".into()));
    }
    let Query(filter) = filter.map_err(|e| ApiError::Invalid(e.body_text()))?;
    let rows = AuditLog::new(state.store())
        .search(&filter)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(json!(rows)))
}

/// Deletes audit rows past the retention once at start and then every hour, until the server
/// stops.
pub(super) async fn pruner(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let log = AuditLog::new(state.store());
    loop {
        match log
            .prune(state.audit_retention_days, state.desk.now())
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                rows = n,
                days = state.audit_retention_days,
                "audit log pruned"
            ),
            Err(err) => tracing::error!(%err, "audit pruning failed; retrying next hour"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    tracing::info!("audit pruner stopped");
}

/// Rows the page shows; the CLI reads further back.
const PAGE_ROWS: i64 = 500;

/// The page's search form: empty fields mean "any".
#[derive(Debug, Default, Deserialize, serde::Serialize)]
struct PageQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
}

/// `GET /audit?actor=&action=`: the admins' page to search the log, newest first.
async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Html<String>, PageError> {
    if viewer.user.role != Role::Admin {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "the audit log is for admins",
        ));
    }
    let Query(q) = query.map_err(|e| PageError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let mut filter = AuditFilter {
        actor: Some(q.actor.trim().to_string()).filter(|a| !a.is_empty()),
        limit: Some(PAGE_ROWS),
        ..AuditFilter::default()
    };
    let mut error = None;
    match q.action.trim() {
        "" => {}
        word => match word.parse::<AuditAction>() {
            Ok(action) => filter.action = Some(action),
            Err(_) => error = Some(format!("`{word}` is not an action: pick one from the list")),
        },
    }
    let rows = match error {
        Some(_) => Vec::new(),
        None => AuditLog::new(state.store())
            .search(&filter)
            .await
            .map_err(PageError::internal)?,
    };
    let mut ctx = tera::Context::new();
    ctx.insert("q", &q);
    ctx.insert("error", &error);
    ctx.insert("rows", &rows);
    ctx.insert("max_rows", &PAGE_ROWS);
    ctx.insert(
        "actions",
        &AuditAction::iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>(),
    );
    pages::render(&state, &viewer, "audit", "audit.html", ctx)
}
