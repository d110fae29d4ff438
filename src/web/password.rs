//! Choosing one's own password: `GET|POST /password` (the form a session whose password was
//! generated is sent to after the login, before anything else) and
//! `POST /api/session/password` for scripts. Both take a [`PendingViewer`], so they are
//! reached before the change; the rules are those of [`crate::users`] (at least
//! [`crate::users::MIN_PASSWORD`] characters, not the current one). The current password
//! is asked for again, through the login throttle, so an open session alone cannot take
//! the account over.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::auth::{PendingViewer, Viewer, home_of, local_next};
use super::pages::{self, PageError};
use super::{ApiError, AppState, audit};
use crate::audit::AuditAction;
use crate::users::{UserError, Users};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/password", get(form).post(change_by_form))
        .route("/api/session/password", post(change_by_api))
}

/// Why a change was refused.
enum Refused {
    /// The current password given is not the account's (403).
    Current(String),
    /// Too many wrong passwords: the login throttle holds the account back this many seconds
    /// (429).
    Held(u64),
    /// The new password breaks a rule.
    New(String),
    /// The store failed.
    Internal(ApiError),
}

impl Refused {
    fn message(&self) -> String {
        match self {
            Refused::Current(m) | Refused::New(m) => m.clone(),
            Refused::Held(wait) => format!("too many wrong passwords: try again in {wait} s"),
            Refused::Internal(e) => e.to_string(),
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let field = |name: &str| format!("{name}: {}", self.message());
        match self {
            Refused::Current(_) => ApiError::Forbidden(field("current_password")).into_response(),
            Refused::New(_) => ApiError::Invalid(field("new_password")).into_response(),
            Refused::Held(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, wait.to_string())],
                Json(json!({ "error": field("current_password") })),
            )
                .into_response(),
            Refused::Internal(e) => e.into_response(),
        }
    }
}

/// Checks `current`, sets `new`, writes the audit row.
async fn change(
    state: &AppState,
    viewer: &Viewer,
    current: &str,
    new: &str,
) -> Result<(), Refused> {
    let name = &viewer.user.username;
    let internal = |e: UserError| Refused::Internal(ApiError::Internal(e.into()));
    if let Err(refusal) = state.login_guard.admit(viewer.address.0, name) {
        return Err(Refused::Held(refusal.wait().as_secs().max(1)));
    }
    let users = Users::new(state.store());
    if users
        .verify(name, current)
        .await
        .map_err(internal)?
        .is_none()
    {
        state.login_guard.failed(viewer.address.0, name);
        tracing::warn!(address = %viewer.address.text(), account = %name, "password change: wrong current password");
        return Err(Refused::Current("that is not your current password".into()));
    }
    match users
        .change_password(&viewer.user, current, new, viewer.session_token())
        .await
    {
        Ok(()) => {}
        Err(e @ (UserError::WeakPassword | UserError::SamePassword)) => {
            return Err(Refused::New(e.to_string()));
        }
        Err(e) => return Err(internal(e)),
    }
    let detail = if viewer.must_change_password {
        "generated password replaced at the first login"
    } else {
        "changed"
    };
    let target = format!("user:{name}");
    audit::record(state, viewer, AuditAction::AccountPassword, &target, detail)
        .await
        .map_err(Refused::Internal)
}

#[derive(Debug, Default, Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

fn render(
    state: &AppState,
    viewer: &Viewer,
    next: &str,
    errors: &[(&str, String)],
) -> Result<Html<String>, PageError> {
    let mut ctx = tera::Context::new();
    ctx.insert("forced", &viewer.must_change_password);
    ctx.insert("next", local_next(Some(next)).unwrap_or(""));
    for (field, message) in errors {
        ctx.insert(format!("{field}_error"), message);
    }
    pages::render(state, viewer, "password", "password.html", ctx)
}

async fn form(
    State(state): State<AppState>,
    PendingViewer(viewer): PendingViewer,
    Query(q): Query<NextQuery>,
) -> Result<Html<String>, PageError> {
    render(&state, &viewer, &q.next, &[])
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current: String,
    new: String,
    repeat: String,
    #[serde(default)]
    next: String,
}

async fn change_by_form(
    State(state): State<AppState>,
    PendingViewer(viewer): PendingViewer,
    Form(f): Form<PasswordForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&f.csrf)?;
    let refused = if f.new != f.repeat {
        Some(("repeat", "the two new passwords differ".to_string()))
    } else {
        match change(&state, &viewer, &f.current, &f.new).await {
            Ok(()) => None,
            Err(Refused::Internal(e)) => return Err(e.into()),
            Err(r @ Refused::New(_)) => Some(("new", r.message())),
            Err(r) => Some(("current", r.message())),
        }
    };
    if let Some(error) = refused {
        let page = render(&state, &viewer, &f.next, &[error])?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let to = local_next(Some(&f.next)).unwrap_or(home_of(&viewer.user));
    Ok(Redirect::to(to).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// `POST /api/session/password`: 204 when changed; 403 for a wrong current password, 429
/// after too many, 422 for a new one the rules refuse (each naming its field).
async fn change_by_api(
    State(state): State<AppState>,
    PendingViewer(viewer): PendingViewer,
    body: Result<Json<PasswordBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        Err(e) => return ApiError::Invalid(e.body_text()).into_response(),
    };
    match change(&state, &viewer, &body.current_password, &body.new_password).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(refused) => refused.into_response(),
    }
}
