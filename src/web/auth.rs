//! Logging in and out, and who is asking: [`Viewer`] finds the session of a request (the
//! `huifang_session` cookie of a browser, or `Authorization: Bearer TOKEN` of a script) and
//! checks the CSRF token of every write made with the cookie.
//!
//! Pages that need a login send the browser to `/login`; API calls get 401. A role that may not
//! do a thing gets 403. A session whose password was generated reaches only the password
//! change (see [`super::password`]) and logout: they take a [`PendingViewer`]; every other
//! handler's [`Viewer`] sends a page to `/password` and answers an API call 403.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use serde_json::json;

use super::login_guard::{ClientAddress, NAME_CAP, Refusal};
use super::pages::{self, PageError};
use super::{ApiError, AppState};
use crate::audit::{AuditAction, AuditEntry, AuditLog};
use crate::users::{Role, SESSION_HOURS, Session, User, Users, Verified, same_secret};

/// The session cookie's name. It has no Max-Age: closing the browser of a shared desk ends
/// it, and the server ends it after [`SESSION_HOURS`] anyway.
pub const COOKIE: &str = "huifang_session";

/// The header API writes made from a page carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route(
            "/api/session",
            post(api_login).get(api_whoami).delete(api_logout),
        )
}

/// The logged-in user of a request.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Who.
    pub user: User,
    /// Their session's CSRF token (to put into forms).
    pub csrf: String,
    /// The token the request proved itself with.
    token: String,
    /// Whether it came by cookie (then writes need the CSRF token) or bearer header.
    by_cookie: bool,
    /// Where the request came from.
    pub address: ClientAddress,
    /// The account's password was generated and is still to be changed.
    pub must_change_password: bool,
}

/// The logged-in user of a request whose session may still wait for its password change:
/// only the change itself and logout take it.
#[derive(Debug, Clone)]
pub struct PendingViewer(pub Viewer);

/// What an API call of a session that must change its password first is told.
const CHANGE_FIRST: &str = "this account's password was generated: choose your own first \
    (POST /api/session/password with current_password and new_password, or the page \
    /password); until then the session may only do that or log out (DELETE /api/session)";

/// How often a long-lived response (an event stream) checks that its session still stands.
const SESSION_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// A long-lived response's hold on its session: an event stream opened before a logout must
/// not go on showing calls and owners afterwards.
pub struct SessionWatch {
    token: String,
    next_check: std::time::Instant,
}

impl SessionWatch {
    /// True once the session is gone (logged out, expired, account disabled); checked in the
    /// database at most every [`SESSION_RECHECK`]. A failed check keeps the stream: a database
    /// hiccup should not blank every wallboard.
    pub async fn lapsed(&mut self, state: &AppState) -> bool {
        let now = std::time::Instant::now();
        if now < self.next_check {
            return false;
        }
        self.next_check = now + SESSION_RECHECK;
        matches!(
            Users::new(state.store())
                .session(&self.token, state.desk.now())
                .await,
            Ok(None)
        )
    }
}

impl Viewer {
    /// The token of this request's session (a password change keeps this one open).
    pub(super) fn session_token(&self) -> &str {
        &self.token
    }

    /// A watch on this request's session, for event streams.
    pub fn watch(&self) -> SessionWatch {
        SessionWatch {
            token: self.token.clone(),
            next_check: std::time::Instant::now() + SESSION_RECHECK,
        }
    }

    /// 403 unless the user supervises (supervisor or admin).
    pub fn require_supervisor(&self) -> Result<(), Forbidden> {
        if self.user.supervises() {
            Ok(())
        } else {
            Err(Forbidden(format!(
                "{} is an agent: this is for supervisors",
                self.user.username
            )))
        }
    }

    /// 403 unless the user is an agent (the desktop is theirs).
    pub fn require_agent(&self) -> Result<(), Forbidden> {
        if self.user.role == Role::Agent {
            Ok(())
        } else {
            Err(Forbidden("the agent desktop is for agents".into()))
        }
    }

    /// Checks a form's CSRF field (a bearer request carries no ambient credentials and needs
    /// none).
    pub fn check_csrf(&self, given: &str) -> Result<(), Forbidden> {
        if !self.by_cookie || same_secret(given, &self.csrf) {
            Ok(())
        } else {
            Err(Forbidden(
                "the form is stale or was not sent from huifang (CSRF token does not match): \
                 reload the page and try again"
                    .into(),
            ))
        }
    }
}

/// A 403: logged in, but not allowed.
#[derive(Debug)]
pub struct Forbidden(pub String);

impl From<Forbidden> for ApiError {
    fn from(f: Forbidden) -> ApiError {
        ApiError::Forbidden(f.0)
    }
}

impl From<Forbidden> for PageError {
    fn from(f: Forbidden) -> PageError {
        PageError::new(StatusCode::FORBIDDEN, f.0)
    }
}

/// Why a request has no viewer.
#[derive(Debug)]
pub enum AuthRejection {
    /// Not logged in: a page goes to the login form, an API call gets 401.
    Missing {
        /// The path and query to come back to.
        next: String,
        /// An API call.
        api: bool,
    },
    /// The password must be changed first: a page goes to the password form, an API call
    /// gets 403 saying so.
    PasswordChange {
        /// An API call.
        api: bool,
    },
    /// A cookie write without the CSRF header.
    Csrf,
    /// The store failed.
    Internal(ApiError),
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            AuthRejection::Missing { api: true, .. } => ApiError::Unauthorized(
                "log in first: POST /api/session, then send the cookie or Authorization: Bearer"
                    .into(),
            )
            .into_response(),
            AuthRejection::Missing { next, api: false } => {
                let to = format!("/login?next={}", encode_next(&next));
                Redirect::to(&to).into_response()
            }
            AuthRejection::PasswordChange { api: true } => (
                StatusCode::FORBIDDEN,
                Json(json!({ "error": CHANGE_FIRST, "password_change_required": true })),
            )
                .into_response(),
            AuthRejection::PasswordChange { api: false } => {
                Redirect::to("/password").into_response()
            }
            AuthRejection::Csrf => ApiError::Forbidden(format!(
                "writes made with the session cookie need the {CSRF_HEADER} header"
            ))
            .into_response(),
            AuthRejection::Internal(e) => e.into_response(),
        }
    }
}

fn encode_next(next: &str) -> String {
    next.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?.trim();
    (!token.is_empty()).then(|| token.to_string())
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Viewer, AuthRejection> {
        let PendingViewer(viewer) = PendingViewer::from_request_parts(parts, state).await?;
        if viewer.must_change_password {
            let api = parts.uri.path().starts_with("/api/");
            return Err(AuthRejection::PasswordChange { api });
        }
        Ok(viewer)
    }
}

impl FromRequestParts<AppState> for PendingViewer {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<PendingViewer, AuthRejection> {
        let api = parts.uri.path().starts_with("/api/");
        let missing = || AuthRejection::Missing {
            next: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into()),
            api,
        };
        let (token, by_cookie) = match bearer(&parts.headers) {
            Some(token) => (token, false),
            None => match CookieJar::from_headers(&parts.headers).get(COOKIE) {
                Some(c) => (c.value().to_string(), true),
                None => return Err(missing()),
            },
        };
        let session = Users::new(state.store())
            .session(&token, state.desk.now())
            .await
            .map_err(|e| AuthRejection::Internal(ApiError::Internal(e.into())))?;
        let Some(Session {
            user,
            csrf,
            must_change_password,
        }) = session
        else {
            return Err(missing());
        };
        // API writes made with the cookie carry the CSRF token in a header (pages' forms
        // carry it as a field, checked by their handlers).
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if api && by_cookie && !safe {
            let given = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same_secret(given, &csrf) {
                return Err(AuthRejection::Csrf);
            }
        }
        Ok(PendingViewer(Viewer {
            user,
            csrf,
            token,
            by_cookie,
            address: ClientAddress::of(parts),
            must_change_password,
        }))
    }
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only a local path may be come back to (no `//evil.example`).
pub(super) fn local_next(next: Option<&str>) -> Option<&str> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
}

/// Where each role starts.
pub fn home_of(user: &User) -> &'static str {
    match user.role {
        Role::Agent => "/agent",
        Role::Supervisor | Role::Admin => "/campaigns",
    }
}

async fn login_form(
    State(state): State<AppState>,
    Query(q): Query<NextQuery>,
) -> Result<Html<String>, PageError> {
    let mut ctx = tera::Context::new();
    ctx.insert("next", local_next(q.next.as_deref()).unwrap_or(""));
    ctx.insert("username", "");
    pages::render_public(&state, "login.html", ctx)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies)
        .build()
}

/// Whether a login POST came from another site. The login form has no session yet to tie a
/// CSRF token to, so a foreign page could otherwise log a browser in to an account of its
/// choosing (login CSRF); browsers name the sending site in `Sec-Fetch-Site` and `Origin`.
fn cross_site(headers: &axum::http::HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (header("origin"), header("host")) {
        // `Origin: null` comes from sandboxed or privacy-sensitive contexts: not this site.
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_none_or(|(_, authority)| !authority.eq_ignore_ascii_case(host)),
        (Some(_), None) => true,
        // Scripts and old browsers send no Origin: nothing says it is foreign.
        (None, _) => false,
    }
}

async fn login(
    State(state): State<AppState>,
    address: ClientAddress,
    jar: CookieJar,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    if cross_site(&headers) {
        return Ok((
            StatusCode::FORBIDDEN,
            "login refused: the form was posted from another site (Origin / Sec-Fetch-Site)",
        )
            .into_response());
    }
    let users = Users::new(state.store());
    let now = state.desk.now();
    let attempt = attempt(&state, address, form.username.trim(), &form.password)
        .await
        .map_err(PageError::internal)?;
    let verified = match attempt {
        Attempt::Ok(verified) => verified,
        refused => {
            let mut ctx = tera::Context::new();
            ctx.insert("next", local_next(Some(&form.next)).unwrap_or(""));
            ctx.insert("username", form.username.trim());
            ctx.insert("error", &refused.message());
            let page = pages::render_public(&state, "login.html", ctx)?;
            return Ok(refused.respond(page));
        }
    };
    let token = users
        .open_session(&verified.user, now)
        .await
        .map_err(PageError::internal)?;
    let next = local_next(Some(&form.next));
    let to = match (verified.must_change_password, next) {
        (true, Some(next)) => format!("/password?next={}", encode_next(next)),
        (true, None) => "/password".to_string(),
        (false, next) => next.unwrap_or(home_of(&verified.user)).to_string(),
    };
    Ok((jar.add(session_cookie(&state, token)), Redirect::to(&to)).into_response())
}

#[derive(Debug, Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    PendingViewer(viewer): PendingViewer,
    jar: CookieJar,
    Form(form): Form<LogoutForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(&form.csrf)?;
    Users::new(state.store())
        .close_session(&viewer.token, state.desk.now())
        .await
        .map_err(PageError::internal)?;
    Ok((
        jar.remove(Cookie::build(COOKIE).path("/")),
        Redirect::to("/login"),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ApiLogin {
    username: String,
    password: String,
}

/// `POST /api/session`: for scripts; the token works as `Authorization: Bearer`.
async fn api_login(
    State(state): State<AppState>,
    address: ClientAddress,
    body: Result<Json<ApiLogin>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(login) = body.map_err(|e| ApiError::Invalid(e.body_text()))?;
    let users = Users::new(state.store());
    let verified = match attempt(&state, address, login.username.trim(), &login.password)
        .await
        .map_err(ApiError::Internal)?
    {
        Attempt::Ok(verified) => verified,
        refused => {
            let body = Json(json!({ "error": refused.message() }));
            return Ok(refused.respond(body));
        }
    };
    let token = users
        .open_session(&verified.user, state.desk.now())
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "token": token, "user": verified.user, "expires_in_hours": SESSION_HOURS,
                     "must_change_password": verified.must_change_password }),
        ),
    )
        .into_response())
}

/// How a login attempt ended.
enum Attempt {
    /// The password is right.
    Ok(Verified),
    /// Unknown name or wrong password (the same answer for both).
    Wrong,
    /// Refused before the password was looked at: back off for this long.
    Held(std::time::Duration),
}

impl Attempt {
    fn message(&self) -> String {
        match self {
            Attempt::Held(wait) => format!(
                "too many failed logins: try again in {} s (an admin can unlock a locked account)",
                retry_after(*wait)
            ),
            _ => "wrong username or password".into(),
        }
    }

    /// 401, or 429 with `Retry-After`.
    fn respond(&self, body: impl IntoResponse) -> Response {
        match self {
            Attempt::Held(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after(*wait).to_string())],
                body,
            )
                .into_response(),
            _ => (StatusCode::UNAUTHORIZED, body).into_response(),
        }
    }
}

/// Whole seconds to wait, at least 1.
fn retry_after(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// One login attempt: the throttle, the lock-out, the password; failures counted, logged and
/// audited before the answer goes out.
async fn attempt(
    state: &AppState,
    address: ClientAddress,
    username: &str,
    password: &str,
) -> anyhow::Result<Attempt> {
    let name: String = username.chars().take(NAME_CAP).collect();
    let from = address.text();
    let users = Users::new(state.store());
    let audit = AuditLog::new(state.store());
    let now = state.desk.now();
    if let Err(refusal) = state.login_guard.admit(address.0, &name) {
        let why = match refusal {
            Refusal::Flood(_) => "attempt rate",
            Refusal::Backoff(crate::users::throttle::Held::Address(_)) => "address back-off",
            Refusal::Backoff(crate::users::throttle::Held::Account(_)) => "account back-off",
        };
        tracing::warn!(address = %from, account = %name, reason = why, "login throttled");
        return Ok(Attempt::Held(refusal.wait()));
    }
    if let Some(until) = users.locked_until(&name, now).await? {
        tracing::warn!(address = %from, account = %name, "login refused: account locked");
        let wait = (until - now).to_std().unwrap_or_default();
        return Ok(Attempt::Held(wait));
    }
    if let Some(verified) = users.verify(&name, password).await? {
        let user = &verified.user;
        users.record_login(user, now).await?;
        state.login_guard.succeeded(&name);
        let entry = AuditEntry {
            actor: &user.username,
            action: AuditAction::LoginOk,
            target: &format!("user:{}", user.username),
            address: &from,
            detail: "",
        };
        audit.record(&entry, now).await?;
        return Ok(Attempt::Ok(verified));
    }
    let failure = users.record_failure(&name, now).await?;
    let (by_address, by_account) = state.login_guard.failed(address.0, &name);
    tracing::warn!(
        address = %from,
        account = %name,
        address_failures = by_address,
        account_failures = by_account,
        "login failed"
    );
    let target = format!("user:{name}");
    let detail = match failure {
        Some(f) => format!("wrong password ({} in a row)", f.failed_logins),
        None => "unknown account".to_string(),
    };
    let entry = AuditEntry {
        actor: &name,
        action: AuditAction::LoginFailed,
        target: &target,
        address: &from,
        detail: &detail,
    };
    audit.record(&entry, now).await?;
    if failure.is_some_and(|f| f.locked_now) {
        tracing::warn!(address = %from, account = %name, "account locked after {} wrong passwords", crate::users::LOCK_AFTER);
        let entry = AuditEntry {
            action: AuditAction::AccountLocked,
            detail: "",
            ..entry
        };
        audit.record(&entry, now).await?;
    }
    Ok(Attempt::Wrong)
}

async fn api_whoami(viewer: Viewer) -> Json<serde_json::Value> {
    Json(json!({ "user": viewer.user, "csrf": viewer.csrf }))
}

async fn api_logout(
    State(state): State<AppState>,
    PendingViewer(viewer): PendingViewer,
) -> Result<StatusCode, ApiError> {
    Users::new(state.store())
        .close_session(&viewer.token, state.desk.now())
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_come_back_to() {
        assert_eq!(local_next(Some("/campaigns/x")), Some("/campaigns/x"));
        assert_eq!(local_next(Some("//evil.example/")), None);
        assert_eq!(local_next(Some("https://evil.example/")), None);
        assert_eq!(local_next(Some("/\\evil")), None);
        assert_eq!(encode_next("/a b?c=1"), "/a%20b%3Fc%3D1");
    }
}
