//! The agent desktop: `/agent` (presence, screen pop, disposition, callbacks), its JSON API
//! under `/api/agent` and `/api/calls/{id}`, and the live stream `/api/agent/live` that brings
//! the screen pop within a second of the dialer bridging an owner to the agent.
//!
//! A call belongs to the agent it was bridged to: another agent gets 403; a supervisor may see
//! the calls of their team's agents, an admin all.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Viewer;
use super::pages::{self, PageError};
use super::{ApiError, AppState};
use crate::audit::{AuditAction, AuditLog};
use crate::desktop::{self, AgentCall, DesktopError, Wanted, WrapUp};
use crate::dialer::preview::{self, DecideError};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/agent", get(page))
        .route("/agent/calls/{id}", get(call_page))
        .route("/agent/calls/{id}/pop", get(pop_fragment))
        .route("/api/agent/presence", post(set_presence))
        .route("/api/agent/state", get(state_json))
        .route("/api/agent/live", get(live))
        .route("/api/agent/preview", post(decide_preview))
        .route("/api/calls/{id}", get(call_json))
        .route("/api/calls/{id}/disposition", post(dispose))
}

/// How often the live stream looks for a change: the screen pop arrives within this (plus
/// the node's write) of the owner being bridged.
const LIVE_POLL: Duration = Duration::from_millis(300);

impl From<DesktopError> for ApiError {
    fn from(err: DesktopError) -> ApiError {
        match err {
            DesktopError::Field { .. } => ApiError::Invalid(err.to_string()),
            DesktopError::AlreadyDisposed(_) => ApiError::Conflict(err.to_string()),
            DesktopError::NoCall(_) => ApiError::NotFound(err.to_string()),
            DesktopError::Db(e) => ApiError::Internal(e.into()),
        }
    }
}

/// A desktop error as the page's script wants it: `{"error", "field"}` so the message goes
/// next to its field.
fn field_error(err: DesktopError) -> Response {
    match err {
        DesktopError::Field { field, message } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": message, "field": field })),
        )
            .into_response(),
        other => ApiError::from(other).into_response(),
    }
}

async fn page(State(state): State<AppState>, viewer: Viewer) -> Result<Html<String>, PageError> {
    viewer.require_agent()?;
    let store = state.store();
    let now = state.desk.now();
    let mut ctx = tera::Context::new();
    let presence = desktop::presence(store, &viewer.user.username, now)
        .await
        .map_err(ApiError::from)?;
    ctx.insert("presence", &presence);
    ctx.insert("outcomes", &desktop::OUTCOMES);
    let team = desktop::agents_of_team(store, &viewer.user.team)
        .await
        .map_err(ApiError::from)?;
    ctx.insert("team_agents", &team);
    pages::render(&state, &viewer, "agent", "agent.html", ctx)
}

/// The call `id` if the viewer may see it: 404 when it does not exist, 403 when it is another
/// agent's (or outside a supervisor's team).
async fn visible_call(state: &AppState, viewer: &Viewer, id: i64) -> Result<AgentCall, ApiError> {
    let store = state.store();
    let call = desktop::call(store, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no call {id}")))?;
    let Some(agent) = call.agent.clone() else {
        return if viewer.user.supervises() {
            Ok(call)
        } else {
            Err(ApiError::Forbidden(format!(
                "call {id} did not reach an agent: only supervisors see it"
            )))
        };
    };
    let team = desktop::team_of(store, &agent).await?;
    if viewer.user.may_see_agent(&agent, team.as_deref()) {
        Ok(call)
    } else {
        Err(ApiError::Forbidden(format!(
            "call {id} is {agent}'s: {} may not open it",
            viewer.user.username
        )))
    }
}

async fn call_json(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let call = visible_call(&state, &viewer, id).await?;
    let screen = desktop::screen(state.store(), call, state.desk.now()).await?;
    audit_pop(&state, &viewer, screen.owner.as_ref(), id).await?;
    Ok(Json(json!(screen)))
}

async fn call_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Html<String>, PageError> {
    let nav = if viewer.user.supervises() {
        "campaigns"
    } else {
        "agent"
    };
    render_screen(&state, &viewer, id, nav, "call.html").await
}

/// Renders the screen pop of call `id` (if the viewer may see it) with `template`.
async fn render_screen(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    nav: &str,
    template: &str,
) -> Result<Html<String>, PageError> {
    let call = visible_call(state, viewer, id).await?;
    let screen = desktop::screen(state.store(), call, state.desk.now())
        .await
        .map_err(ApiError::from)?;
    audit_pop(state, viewer, screen.owner.as_ref(), id).await?;
    let mut ctx = tera::Context::new();
    ctx.insert("screen", &screen);
    pages::render(state, viewer, nav, template, ctx)
}

/// Records that `viewer` saw the owner's screen pop of call `id`.
async fn audit_pop(
    state: &AppState,
    viewer: &Viewer,
    pop: Option<&crate::desktop::ScreenPop>,
    call: i64,
) -> Result<(), ApiError> {
    let Some(pop) = pop else { return Ok(()) };
    let target = super::audit::owner(pop.owner.owner_id);
    let detail = format!("call {call}");
    super::audit::record(state, viewer, AuditAction::ScreenPop, &target, &detail).await
}

/// The screen pop alone, for the desktop's script to put in place.
async fn pop_fragment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Html<String>, PageError> {
    render_screen(&state, &viewer, id, "agent", "pop.html").await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PresenceBody {
    #[serde(default)]
    sip_uri: Option<String>,
    state: Wanted,
}

async fn set_presence(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Result<Json<PresenceBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    viewer.require_agent()?;
    let Json(body) = body.map_err(|e| ApiError::Invalid(e.body_text()))?;
    Ok(
        match desktop::set_presence(
            state.store(),
            &viewer.user.username,
            body.sip_uri.as_deref(),
            body.state,
            state.desk.now(),
        )
        .await
        {
            Ok(p) => Json(json!(p)).into_response(),
            Err(e) => field_error(e),
        },
    )
}

/// What the desktop shows: the seat, the call on now (or awaiting its disposition) with its
/// screen pop, and the agent's open callbacks. `address` is where the agent watches from.
async fn snapshot(state: &AppState, agent: &str, address: &str) -> Result<Value, ApiError> {
    let store = state.store();
    let now = state.desk.now();
    let presence = desktop::presence(store, agent, now).await?;
    let call = match desktop::current_call(store, agent).await? {
        Some(call) => {
            let screen = desktop::screen(store, call, now).await?;
            audit_call_once(state, agent, address, &screen).await?;
            Some(screen)
        }
        None => None,
    };
    // A hotline caller is named only: their owners' data goes out with its audit row from
    // /agent/inbound/ID/pop.
    let inbound = desktop::inbound::current_inbound(store, agent, now)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let callbacks = desktop::callbacks_of(store, agent).await?;
    let preview = preview_of(state, agent, address).await?;
    Ok(
        json!({ "presence": presence, "call": call, "inbound": inbound, "preview": preview,
               "callbacks": callbacks, "now": now }),
    )
}

/// Puts the owner's data of the agent's current call on record the first time the desktop's
/// feed carries it (the feed looks every [`LIVE_POLL`]: one row per call, written before the
/// data goes out). A row of the call's pop page, opened by the agent, counts as that record.
async fn audit_call_once(
    state: &AppState,
    agent: &str,
    address: &str,
    screen: &desktop::CallScreen,
) -> Result<(), ApiError> {
    let Some(pop) = &screen.owner else {
        return Ok(());
    };
    let detail = format!("call {}", screen.call.attempt_id);
    // From a minute before the bridge: the node's clock and the console's may differ a little.
    let bridged = screen.call.bridged_at.unwrap_or_else(|| state.desk.now());
    let since = bridged.min(state.desk.now()) - chrono::TimeDelta::minutes(1);
    let shown = AuditLog::new(state.store())
        .recorded_since(agent, AuditAction::ScreenPop, &detail, since)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    if !shown {
        let target = super::audit::owner(pop.owner.owner_id);
        let pop = AuditAction::ScreenPop;
        super::audit::record_as(state, agent, address, pop, &target, &detail).await?;
    }
    Ok(())
}

/// The contact offered to the agent before dialling (preview mode), with the owner's screen
/// pop; `null` when none is. The pop goes on record the first time it is shown (the desktop
/// looks every [`LIVE_POLL`]; one row per offer, written before the owner's data goes out).
async fn preview_of(
    state: &AppState,
    agent: &str,
    address: &str,
) -> Result<Option<Value>, ApiError> {
    let (store, now) = (state.store(), state.desk.now());
    let Some(offer) = preview::current(store, agent, now)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
    else {
        return Ok(None);
    };
    let owner = match crate::phone::Phone::parse(&offer.phone) {
        Ok(phone) => crate::desktop::screen_pop(store, &phone)
            .await
            .map_err(|e| ApiError::Internal(e.into()))?,
        Err(_) => None,
    };
    if let Some(pop) = &owner
        && offer.shown_at.is_none()
    {
        let target = super::audit::owner(pop.owner.owner_id);
        let detail = format!("preview {}", offer.preview_id);
        let pop = AuditAction::ScreenPop;
        super::audit::record_as(state, agent, address, pop, &target, &detail).await?;
        preview::mark_shown(store, offer.preview_id, now)
            .await
            .map_err(|e| ApiError::Internal(e.into()))?;
    }
    Ok(Some(json!({ "offer": offer, "owner": owner })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PreviewBody {
    pub(super) decision: String,
}

/// The agent's decision on the contact offered to them: `{"decision": "dial" | "skip"}`.
/// 422 names the field; 409 when nothing is offered to them (or it is already decided).
async fn decide_preview(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Result<Json<PreviewBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    viewer.require_agent()?;
    let Json(body) = body.map_err(|e| ApiError::Invalid(e.body_text()))?;
    let decision = match preview::Decision::parse(&body.decision) {
        Ok(d) => d,
        Err(message) => {
            return Ok(field_error(DesktopError::Field {
                field: "decision",
                message,
            }));
        }
    };
    let agent = &viewer.user.username;
    match preview::decide(state.store(), agent, decision, state.desk.now()).await {
        Ok(id) => Ok(Json(json!({ "preview_id": id, "decision": decision })).into_response()),
        Err(e @ (DecideError::NoOffer(_) | DecideError::Decided { .. })) => {
            Err(ApiError::Conflict(e.to_string()))
        }
        Err(DecideError::Db(e)) => Err(ApiError::Internal(e.into())),
    }
}

async fn state_json(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<Value>, ApiError> {
    viewer.require_agent()?;
    let address = viewer.address.text();
    Ok(Json(
        snapshot(&state, &viewer.user.username, &address).await?,
    ))
}

/// Server-sent events: the desktop's snapshot whenever it changes (one feed per agent,
/// however many desktops they keep open: see [`super::live`]), and a keep-alive comment
/// otherwise.
async fn live(State(state): State<AppState>, viewer: Viewer) -> Result<Response, ApiError> {
    viewer.require_agent()?;
    let slot = match state.live.admit(&viewer) {
        Ok(slot) => slot,
        Err(too_many) => return Ok(too_many.into_response()),
    };
    let looker = state.clone();
    // The feed is the agent's, shared by their open desktops: the first one's address is
    // the one its audit rows name.
    let address = viewer.address.text();
    let feed = state.live.agents.follow(
        viewer.user.username.clone(),
        LIVE_POLL,
        &state.shutdown,
        move |agent| look(looker.clone(), agent, address.clone()),
    );
    let stream = futures_util::stream::unfold(
        (state, slot, feed, true),
        |(state, slot, mut feed, mut fresh)| async move {
            loop {
                // The stream ends with the server, and with the session (logout, expiry).
                if slot.lapsed(&state).await {
                    return None;
                }
                // `fresh`: not yet sent (the value at subscription, or one `changed` saw).
                if fresh || feed.has_changed().unwrap_or(false) {
                    let latest = feed.borrow_and_update().clone();
                    if let Some(json) = latest {
                        let event = Event::default().data(&*json);
                        return Some((Ok::<_, Infallible>(event), (state, slot, feed, false)));
                    }
                }
                tokio::select! {
                    changed = feed.changed() => {
                        if changed.is_err() {
                            return None;
                        }
                        fresh = true;
                    }
                    // Wake now and then to see the session still stands.
                    () = tokio::time::sleep(Duration::from_secs(5)) => {}
                    () = state.stopping() => return None,
                }
            }
        },
    );
    // A comment every 5 s: a desktop closed without a word is noticed (its write fails) and
    // its place among the session's streams given back within seconds.
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(5)))
        .into_response())
}

/// One look of an agent's feed: the snapshot without its clock (to compare), and with it.
async fn look(state: AppState, agent: String, address: String) -> Option<(String, String)> {
    match snapshot(&state, &agent, &address).await {
        Ok(mut value) => {
            // `now` changes every time; compare without it.
            let now = value.as_object_mut().and_then(|o| o.remove("now"));
            let key = value.to_string();
            if let (Some(o), Some(now)) = (value.as_object_mut(), now) {
                o.insert("now".into(), now);
            }
            Some((key, value.to_string()))
        }
        Err(e) => {
            tracing::warn!(%agent, "agent live snapshot failed: {e}");
            None
        }
    }
}

async fn dispose(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    body: Result<Json<WrapUp>, JsonRejection>,
) -> Result<Response, ApiError> {
    let call = visible_call(&state, &viewer, id).await?;
    // Only the agent who took the call disposes it.
    if call.agent.as_deref() != Some(viewer.user.username.as_str()) {
        return Err(ApiError::Forbidden(format!(
            "call {id} is disposed by the agent who took it"
        )));
    }
    let Json(d) = body.map_err(|e| ApiError::Invalid(e.body_text()))?;
    Ok(
        match desktop::dispose(
            state.store(),
            &call,
            &viewer.user.username,
            &d,
            state.desk.now(),
        )
        .await
        {
            Ok(()) => (StatusCode::CREATED, Json(json!({ "attempt_id": id }))).into_response(),
            Err(e) => field_error(e),
        },
    )
}
