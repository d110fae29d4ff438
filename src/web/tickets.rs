//! `/api/tickets`: open, list, show and act on tickets.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::audit;
use super::auth::Viewer;
use super::{ApiError, AppState};
use crate::audit::AuditAction;
use crate::tickets::{Action, OpenTicket, TicketFilter, TicketRepo};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tickets", post(open).get(list))
        .route("/api/tickets/{id}", get(show))
        .route("/api/tickets/{id}/{action}", post(act))
}

/// Who acts and why, for the life-cycle calls; both optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ActBody {
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

async fn open(
    viewer: Viewer,
    State(state): State<AppState>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(mut body) = body.map_err(|e| ApiError::Invalid(e.body_text()))?;
    // The logged-in user opens the ticket unless a script names the person it acts for.
    if let Some(fields) = body.as_object_mut() {
        fields
            .entry("actor")
            .or_insert_with(|| Value::String(viewer.user.username.clone()));
    }
    // Through axum's own decoder, so an error names the field path as for any other body.
    let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.into()))?;
    let Json(request) =
        Json::<OpenTicket>::from_bytes(&bytes).map_err(|e| ApiError::Invalid(e.body_text()))?;
    let ticket = state.desk.open(request).await?;
    let target = audit::ticket(ticket.ticket_id);
    audit::record(&state, &viewer, AuditAction::TicketOpen, &target, "").await?;
    Ok((StatusCode::CREATED, Json(json!(ticket))))
}

/// The most tickets one `GET /api/tickets` answers (the document's `limit` maximum).
const MAX_LIMIT: i64 = 10_000;

async fn list(
    _viewer: Viewer,
    State(state): State<AppState>,
    filter: Result<Query<TicketFilter>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(filter) = filter.map_err(|e| ApiError::Invalid(e.body_text()))?;
    if let Some(limit) = filter.limit
        && !(1..=MAX_LIMIT).contains(&limit)
    {
        return Err(ApiError::Invalid(format!(
            "limit: {limit} is out of range: give 1 to {MAX_LIMIT}"
        )));
    }
    let tickets = TicketRepo::new(state.store())
        .list(&filter, state.desk.now())
        .await?;
    Ok(Json(json!(tickets)))
}

async fn show(
    _viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let repo = TicketRepo::new(state.store());
    let ticket = repo
        .get(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("ticket #{id} does not exist")))?;
    let timeline = repo.timeline(id).await?;
    Ok(Json(json!({ "ticket": ticket, "timeline": timeline })))
}

async fn act(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    body: Option<Json<ActBody>>,
) -> Result<Json<Value>, ApiError> {
    let ActBody { actor, reason } = body.map(|Json(b)| b).unwrap_or_default();
    // The logged-in user acts; a script may name the person it acts for.
    let actor = actor.unwrap_or_else(|| viewer.user.username.clone());
    let reason = reason.unwrap_or_default();
    let target = audit::ticket(id);
    if action == "escalate" {
        let done = state.desk.escalate(id, &actor, &reason).await?;
        let detail = audit::detail("escalate", &reason);
        audit::record(&state, &viewer, AuditAction::TicketChange, &target, &detail).await?;
        return Ok(Json(json!(done)));
    }
    let action = Action::ALL
        .into_iter()
        .find(|a| a.as_str() == action)
        .ok_or_else(|| {
            let known: Vec<&str> = Action::ALL
                .iter()
                .map(|a| a.as_str())
                .chain(["escalate"])
                .collect();
            ApiError::NotFound(format!(
                "unknown ticket action `{action}`; known: {}",
                known.join(", ")
            ))
        })?;
    let ticket = state.desk.act(id, &actor, action, &reason).await?;
    let detail = audit::detail(action.as_str(), &reason);
    audit::record(&state, &viewer, AuditAction::TicketChange, &target, &detail).await?;
    Ok(Json(json!(ticket)))
}
