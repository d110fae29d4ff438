//! `/api/lookup` (screen pop) and `/api/units/{code}/components/{component}`.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::audit;
use super::auth::Viewer;
use super::{ApiError, AppState};
use crate::audit::AuditAction;
use crate::contacts::component_info;
use crate::desktop::screen_pop;
use crate::phone::Phone;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/lookup", get(lookup))
        .route("/api/units/{code}/components/{component}", get(component))
}

#[derive(Debug, Deserialize)]
struct LookupQuery {
    phone: String,
}

async fn lookup(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<LookupQuery>,
) -> Result<Json<Value>, ApiError> {
    let phone = Phone::parse(&q.phone).map_err(|e| ApiError::Invalid(format!("phone: {e}")))?;
    let pop = screen_pop(state.store(), &phone).await?;
    // Recorded before the owner's data goes out; a number nobody has is recorded too, so a
    // sweep through numbers shows.
    let (target, detail) = match &pop {
        Some(pop) => (audit::owner(pop.owner.owner_id), phone.to_string()),
        None => (format!("phone:{phone}"), "no owner".to_string()),
    };
    audit::record(&state, &viewer, AuditAction::OwnerLookup, &target, &detail).await?;
    let pop = pop.ok_or_else(|| ApiError::NotFound(format!("no owner has the number {phone}")))?;
    Ok(Json(json!(pop)))
}

async fn component(
    _viewer: Viewer,
    State(state): State<AppState>,
    Path((code, component)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let info = component_info(state.store(), &code, &component, state.desk.now())
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "unit {code} has no component `{component}` on record"
            ))
        })?;
    Ok(Json(json!(info)))
}
