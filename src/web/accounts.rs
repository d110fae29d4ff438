//! `GET /api/users` and `POST /api/users/{name}/{disable|enable|unlock}`: an admin's account
//! actions in the console, as `huifang user` does them (and audited the same way).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::auth::Viewer;
use super::{ApiError, AppState, audit};
use crate::audit::AuditAction;
use crate::users::{Role, UserError, Users};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users", get(list))
        .route("/api/users/{name}/{action}", post(act))
}

fn admin_only(viewer: &Viewer) -> Result<(), ApiError> {
    if viewer.user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden("accounts are for admins".into()))
    }
}

fn api_error(err: UserError) -> ApiError {
    match err {
        UserError::NotFound(_) => ApiError::NotFound(err.to_string()),
        other => ApiError::Internal(other.into()),
    }
}

async fn list(viewer: Viewer, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    admin_only(&viewer)?;
    let all = Users::new(state.store())
        .accounts(state.desk.now())
        .await
        .map_err(api_error)?;
    Ok(Json(json!(all)))
}

async fn act(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    admin_only(&viewer)?;
    let word = match action.as_str() {
        "disable" => AuditAction::AccountDisable,
        "enable" => AuditAction::AccountEnable,
        "unlock" => AuditAction::AccountUnlock,
        other => {
            return Err(ApiError::NotFound(format!(
                "unknown account action `{other}`; known: disable, enable, unlock"
            )));
        }
    };
    if word == AuditAction::AccountDisable && name == viewer.user.username {
        return Err(ApiError::Conflict(
            "an admin cannot disable their own account".into(),
        ));
    }
    let users = Users::new(state.store());
    let done = match word {
        AuditAction::AccountDisable => users.disable(&name).await,
        AuditAction::AccountEnable => users.enable(&name).await,
        _ => users.unlock(&name).await,
    };
    done.map_err(api_error)?;
    if word == AuditAction::AccountUnlock {
        state.login_guard.forget_account(&name);
    }
    audit::record(&state, &viewer, word, &format!("user:{name}"), "").await?;
    Ok(StatusCode::NO_CONTENT)
}
