//! What owners send back over HTTP: the unsubscribe link of an email (`/unsubscribe/{token}`:
//! a page with one button, and the RFC 8058 one-click POST that mail readers send) and the
//! mobile-originated SMS webhook of an HTTP gateway (`POST /api/sms/inbound`, with the secret of
//! `[sms] inbound_token`).
//!
//! A GET never unsubscribes: link scanners of mail servers fetch every link in a message.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::outbox::inbound;
use crate::users::same_secret;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/unsubscribe/{token}", get(confirm).post(unsubscribe))
        .route("/api/sms/inbound", post(sms_inbound))
}

/// A token is 32 hex digits; anything else is refused before the database is asked.
fn checked(token: &str) -> Result<&str, ApiError> {
    if token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(token)
    } else {
        Err(ApiError::NotFound("no such unsubscribe link".into()))
    }
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
         <body><main class=\"narrow\"><h1>{title}</h1>{body}</main></body></html>"
    ))
}

async fn confirm(Path(token): Path<String>) -> Result<Html<String>, ApiError> {
    let token = checked(&token)?;
    Ok(page(
        "退订邮件 / Unsubscribe",
        &format!(
            "<p>不再接收我们的邮件？ / Stop receiving our emails?</p>\
             <form method=\"post\" action=\"/unsubscribe/{token}\">\
             <button type=\"submit\">退订 / Unsubscribe</button></form>"
        ),
    ))
}

async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Html<String>, ApiError> {
    let token = checked(&token)?;
    let handled = inbound::unsubscribe(state.store(), token, state.desk.now())
        .await?
        .ok_or_else(|| ApiError::NotFound("no such unsubscribe link".into()))?;
    tracing::info!(action = handled.action, detail = %handled.detail, "email unsubscribe");
    if handled.action != "opt_out" {
        return Err(ApiError::Invalid(format!(
            "this link cannot unsubscribe anyone: {}",
            handled.detail
        )));
    }
    Ok(page(
        "已退订 / Unsubscribed",
        "<p>您将不再收到我们的邮件。 / You will receive no more emails from us.</p>",
    ))
}

/// `{"from": "+86138...", "to": "4008108888", "text": "退订"}` from an HTTP SMS gateway.
#[derive(Debug, Deserialize)]
pub(super) struct SmsReply {
    pub(super) from: String,
    #[serde(default)]
    pub(super) to: String,
    pub(super) text: String,
}

/// `?token=...`, for providers that cannot set headers.
#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// An owner's reply relayed by an HTTP gateway. Replies answer surveys and opt owners out, so
/// only a caller with the configured secret is heard.
async fn sms_inbound(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
    Json(reply): Json<SmsReply>,
) -> Result<Json<Value>, ApiError> {
    let Some(expected) = state.sms_inbound_token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(ApiError::NotFound(
            "the SMS reply webhook is off: set [sms] inbound_token".into(),
        ));
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let given = bearer.or(query.token.as_deref()).unwrap_or("");
    if !same_secret(given, expected) {
        return Err(ApiError::Unauthorized(
            "wrong or missing webhook token".into(),
        ));
    }
    if reply.from.trim().is_empty() {
        return Err(ApiError::Invalid("`from` is empty".into()));
    }
    let handled = inbound::record_reply(
        state.store(),
        &reply.from,
        &reply.to,
        &reply.text,
        state.desk.now(),
    )
    .await?;
    Ok(Json(json!(handled)))
}
