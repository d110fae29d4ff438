//! An admin's account actions in the console, as `huifang user` does them (and audited the
//! same way): `GET /api/users` and `POST /api/users/{name}/{disable|enable|unlock}` for
//! scripts, and the **Accounts** page (`/accounts`) whose forms post to
//! `/accounts/{name}/{action}`. Both go through [`act`].

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Viewer;
use super::pages::{self, PageError};
use super::{ApiError, AppState, audit};
use crate::audit::AuditAction;
use crate::users::{Role, UserError, Users};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users", get(list))
        .route("/api/users/{name}/{action}", post(api_act))
        .route("/accounts", get(page))
        .route("/accounts/{name}/{action}", post(page_act))
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

/// `viewer` (an admin) disables, enables or unlocks the account `name`, on record.
async fn act(state: &AppState, viewer: &Viewer, name: &str, action: &str) -> Result<(), ApiError> {
    admin_only(viewer)?;
    let word = match action {
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
        AuditAction::AccountDisable => users.disable(name).await,
        AuditAction::AccountEnable => users.enable(name).await,
        _ => users.unlock(name).await,
    };
    done.map_err(api_error)?;
    if word == AuditAction::AccountUnlock {
        state.login_guard.forget_account(name);
    }
    audit::record(state, viewer, word, &format!("user:{name}"), "").await
}

async fn api_act(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    act(&state, &viewer, &name, &action).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /accounts`: every account with its role, state and last login, and the buttons that
/// change them; admins only.
async fn page(viewer: Viewer, State(state): State<AppState>) -> Result<Html<String>, PageError> {
    admin_only(&viewer)?;
    let all = Users::new(state.store())
        .accounts(state.desk.now())
        .await
        .map_err(api_error)?;
    let mut ctx = tera::Context::new();
    ctx.insert("accounts", &all);
    pages::render(&state, &viewer, "accounts", "accounts.html", ctx)
}

#[derive(Debug, Deserialize)]
struct ActForm {
    #[serde(default)]
    csrf: String,
}

/// A button of the page: the change, then back to the list.
async fn page_act(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
    Form(form): Form<ActForm>,
) -> Result<Redirect, PageError> {
    viewer.check_csrf(&form.csrf)?;
    act(&state, &viewer, &name, &action).await?;
    Ok(Redirect::to("/accounts"))
}
