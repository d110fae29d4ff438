//! The supervisor's campaign pages and their API: the list with its life-cycle buttons, the
//! create form (paste a definition or fill in fields), the live wallboard (server-sent events)
//! and the drill-down to attempts. Supervisors and admins only; an agent gets 403.
//!
//! Relative paths of a definition made here (survey script, CSV list, message templates) are
//! taken from [`AppState::campaigns_dir`], the server's `campaigns/` folder.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::audit;
use super::auth::Viewer;
use super::campaign_form::{CampaignForm, FORM, FieldErrors, judge};
use super::live::{Latest, StreamSlot};
use super::pages::{self, PageError};
use super::{ApiError, AppState};
use crate::audit::AuditAction::{CampaignCreate, CampaignStep};
use crate::campaigns::Campaign;
use crate::campaigns::lifecycle::Action;
use crate::campaigns::repo::{Campaigns, RepoError, StoredCampaign};
use crate::campaigns::wallboard::{self, AgentScope, STEPS, Snapshot};
use crate::dialer::lists;
use crate::users::Role;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/campaigns", get(list_page))
        .route("/campaigns/new", get(new_page).post(new_submit))
        .route("/campaigns/{code}", get(wallboard_page))
        .route("/campaigns/{code}/{action}", post(step_form))
        .route("/api/campaigns", get(api_list).post(api_create))
        .route("/api/campaigns/validate", post(api_validate))
        .route("/api/campaigns/{code}/wallboard", get(api_wallboard))
        .route("/api/campaigns/{code}/live", get(api_live))
        .route("/api/campaigns/{code}/{action}", post(api_step))
}

impl From<RepoError> for ApiError {
    fn from(err: RepoError) -> ApiError {
        match err {
            RepoError::NotFound(_) => ApiError::NotFound(err.to_string()),
            RepoError::Exists(_) | RepoError::Transition { .. } => {
                ApiError::Conflict(err.to_string())
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<RepoError> for PageError {
    fn from(err: RepoError) -> PageError {
        ApiError::from(err).into()
    }
}

/// Whose agents the viewer counts: a supervisor their team's, an admin everyone's.
fn scope(viewer: &Viewer) -> AgentScope<'_> {
    match viewer.user.role {
        Role::Admin => AgentScope::All,
        _ => AgentScope::Team(&viewer.user.team),
    }
}

/// The console's life-cycle step named `word`, or 404.
fn step_of(word: &str) -> Result<Action, ApiError> {
    STEPS
        .into_iter()
        .find(|a| a.as_str() == word)
        .ok_or_else(|| {
            let known: Vec<&str> = STEPS.iter().map(|a| a.as_str()).collect();
            ApiError::NotFound(format!(
                "unknown campaign action `{word}`; known: {}",
                known.join(", ")
            ))
        })
}

async fn snapshot_of(state: &AppState, viewer: &Viewer, code: &str) -> Result<Snapshot, ApiError> {
    let campaign = Campaigns::new(state.store()).get(code).await?;
    let within = state.answer_within.secs;
    let now = state.desk.now();
    Ok(wallboard::snapshot(state.store(), &campaign, scope(viewer), within, now).await?)
}

// ---- the list and the life-cycle steps -------------------------------------------------

async fn list_page(
    viewer: Viewer,
    State(state): State<AppState>,
) -> Result<Html<String>, PageError> {
    viewer.require_supervisor()?;
    render_list(&state, &viewer, None).await
}

async fn render_list(
    state: &AppState,
    viewer: &Viewer,
    error: Option<&str>,
) -> Result<Html<String>, PageError> {
    let mut ctx = tera::Context::new();
    ctx.insert("campaigns", &wallboard::overview(state.store()).await?);
    ctx.insert("error", &error);
    pages::render(state, viewer, "campaigns", "campaigns.html", ctx)
}

/// A step's form: the CSRF token, an optional reason, and the page it was sent from.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StepForm {
    csrf: String,
    reason: String,
    /// `list` when sent from the list (back there); otherwise the wallboard.
    back: String,
}

async fn step_form(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((code, action)): Path<(String, String)>,
    Form(form): Form<StepForm>,
) -> Result<Response, PageError> {
    viewer.require_supervisor()?;
    viewer.check_csrf(&form.csrf)?;
    let action = step_of(&action)?;
    let done = Campaigns::new(state.store())
        .apply(
            &code,
            action,
            &viewer.user.username,
            form.reason.trim(),
            state.desk.now(),
        )
        .await;
    if let Ok(c) = &done {
        audit::record(
            &state,
            &viewer,
            CampaignStep,
            &audit::campaign(&c.code),
            &audit::detail(action.as_str(), &form.reason),
        )
        .await?;
    }
    let from_list = form.back == "list";
    match done {
        Ok(_) if from_list => Ok(Redirect::to("/campaigns").into_response()),
        Ok(c) => Ok(Redirect::to(&format!("/campaigns/{}", c.code)).into_response()),
        // A refused step: the page again, saying why.
        Err(e @ RepoError::Transition { .. }) => {
            let message = e.to_string();
            let page = if from_list {
                render_list(&state, &viewer, Some(&message)).await?
            } else {
                render_wallboard(&state, &viewer, &code, Some(&message)).await?
            };
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn api_list(viewer: Viewer, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    viewer.require_supervisor()?;
    Ok(Json(json!(wallboard::overview(state.store()).await?)))
}

/// Why a step is taken; optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StepBody {
    #[serde(default)]
    reason: String,
}

async fn api_step(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((code, action)): Path<(String, String)>,
    body: Option<Json<StepBody>>,
) -> Result<Json<Value>, ApiError> {
    viewer.require_supervisor()?;
    let action = step_of(&action)?;
    let reason = body.map(|Json(b)| b.reason).unwrap_or_default();
    let campaign = Campaigns::new(state.store())
        .apply(
            &code,
            action,
            &viewer.user.username,
            reason.trim(),
            state.desk.now(),
        )
        .await?;
    audit::record(
        &state,
        &viewer,
        CampaignStep,
        &audit::campaign(&campaign.code),
        &audit::detail(action.as_str(), &reason),
    )
    .await?;
    Ok(Json(summary(&campaign)))
}

pub(super) fn summary(c: &StoredCampaign) -> Value {
    json!({
        "code": c.code, "name": c.name, "kind": c.kind, "state": c.state,
        "actions": wallboard::allowed_steps(c.state),
        "created_at": c.created_at, "updated_at": c.updated_at,
    })
}

// ---- creating ------------------------------------------------------------------------

async fn new_page(
    viewer: Viewer,
    State(state): State<AppState>,
) -> Result<Html<String>, PageError> {
    viewer.require_supervisor()?;
    let form = CampaignForm {
        kind: "notification".into(),
        ..CampaignForm::default()
    };
    render_form(&state, &viewer, &form, &FieldErrors::new(), None, None)
}

fn render_form(
    state: &AppState,
    viewer: &Viewer,
    form: &CampaignForm,
    errors: &FieldErrors,
    ok: Option<&str>,
    preview: Option<&str>,
) -> Result<Html<String>, PageError> {
    let mut ctx = tera::Context::new();
    ctx.insert("f", form);
    ctx.insert("errors", errors);
    ctx.insert("ok", &ok);
    ctx.insert("preview", &preview);
    ctx.insert("campaigns_dir", &state.campaigns_dir.display().to_string());
    pages::render(state, viewer, "campaigns", "campaign_new.html", ctx)
}

/// Why creating a valid definition failed.
enum CreateFailure {
    /// The code is taken.
    Exists(String),
    /// Stored as a draft, but its lists did not load.
    Lists(String),
    /// Anything else.
    Other(ApiError),
}

impl From<RepoError> for CreateFailure {
    fn from(e: RepoError) -> CreateFailure {
        match e {
            RepoError::Exists(_) => CreateFailure::Exists(e.to_string()),
            other => CreateFailure::Other(other.into()),
        }
    }
}

/// Stores a valid definition as a draft, loads its lists into the hopper and starts it when
/// asked, as `huifang campaign create` does.
async fn create(
    state: &AppState,
    campaign: &Campaign,
    text: &str,
    start: bool,
    viewer: &Viewer,
) -> Result<(StoredCampaign, lists::LoadReport), CreateFailure> {
    let actor = viewer.user.username.as_str();
    let repo = Campaigns::new(state.store());
    let now = state.desk.now();
    // Relative paths are the campaigns folder's: the definition is stored as if it were a
    // file there (it is not written; the database keeps the text).
    let source = state
        .campaigns_dir
        .join(format!("{}.toml", campaign.code()));
    let stored = repo
        .create(campaign, text, Some(&source.to_string_lossy()), actor, now)
        .await?;
    audit::record(
        state,
        viewer,
        CampaignCreate,
        &audit::campaign(&stored.code),
        "",
    )
    .await
    .map_err(CreateFailure::Other)?;
    let report = lists::load(
        state.store(),
        stored.campaign_id,
        campaign,
        &stored.base_dir(),
        now,
    )
    .await
    .map_err(|e| {
        CreateFailure::Lists(format!(
            "campaign {} was created as a draft, but its lists did not load: {e}",
            stored.code
        ))
    })?;
    let stored = if start {
        let started = repo
            .apply(&stored.code, Action::Start, actor, "", now)
            .await?;
        audit::record(
            state,
            viewer,
            CampaignStep,
            &audit::campaign(&started.code),
            "start",
        )
        .await
        .map_err(CreateFailure::Other)?;
        started
    } else {
        stored
    };
    Ok((stored, report))
}

async fn new_submit(
    viewer: Viewer,
    State(state): State<AppState>,
    Form(form): Form<CampaignForm>,
) -> Result<Response, PageError> {
    viewer.require_supervisor()?;
    viewer.check_csrf(&form.csrf)?;
    let invalid = |errors: &FieldErrors, preview: Option<&str>| -> Result<Response, PageError> {
        let page = render_form(&state, &viewer, &form, errors, None, preview)?;
        Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
    };
    let pasted = form.pasted();
    let text = if pasted {
        form.definition.clone()
    } else {
        match form.to_toml() {
            Ok(text) => text,
            Err(errors) => return invalid(&errors, None),
        }
    };
    let preview = (!pasted).then_some(text.as_str());
    let campaign = match judge(&text, pasted, &state.campaigns_dir) {
        Ok(campaign) => campaign,
        Err(errors) => return invalid(&errors, preview),
    };
    if form.op != "create" {
        let ok = format!(
            "valid: {} campaign, {} mode, {} call windows a week",
            campaign.kind(),
            campaign.mode(),
            campaign.windows().count()
        );
        return Ok(render_form(
            &state,
            &viewer,
            &form,
            &FieldErrors::new(),
            Some(&ok),
            preview,
        )?
        .into_response());
    }
    let start = form.start.is_some();
    match create(&state, &campaign, &text, start, &viewer).await {
        Ok((stored, _)) => Ok(Redirect::to(&format!("/campaigns/{}", stored.code)).into_response()),
        Err(CreateFailure::Exists(message)) => {
            let field = if pasted { "definition" } else { "code" };
            invalid(&FieldErrors::from([(field.into(), vec![message])]), preview)
        }
        Err(CreateFailure::Lists(message)) => {
            invalid(&FieldErrors::from([(FORM.into(), vec![message])]), preview)
        }
        Err(CreateFailure::Other(e)) => Err(e.into()),
    }
}

/// A definition for the API: its TOML text, and whether to start it at once.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DefinitionBody {
    pub(super) definition: String,
    #[serde(default)]
    start: bool,
}

fn invalid_definition(errors: FieldErrors) -> Response {
    let all: Vec<String> = errors.into_values().flatten().collect();
    let body = json!({ "error": all.join("\n"), "errors": all });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

async fn api_validate(
    viewer: Viewer,
    State(state): State<AppState>,
    body: Result<Json<DefinitionBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    viewer.require_supervisor()?;
    let Json(body) = body.map_err(|e| ApiError::Invalid(e.body_text()))?;
    Ok(match judge(&body.definition, true, &state.campaigns_dir) {
        Ok(c) => Json(json!({
            "ok": true, "code": c.code(), "kind": c.kind().as_str(),
            "mode": c.mode().to_string(), "windows": c.windows().count(),
        }))
        .into_response(),
        Err(errors) => invalid_definition(errors),
    })
}

async fn api_create(
    viewer: Viewer,
    State(state): State<AppState>,
    body: Result<Json<DefinitionBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    viewer.require_supervisor()?;
    let Json(body) = body.map_err(|e| ApiError::Invalid(e.body_text()))?;
    let campaign = match judge(&body.definition, true, &state.campaigns_dir) {
        Ok(campaign) => campaign,
        Err(errors) => return Ok(invalid_definition(errors)),
    };
    match create(&state, &campaign, &body.definition, body.start, &viewer).await {
        Ok((stored, report)) => {
            let body = json!({ "campaign": summary(&stored), "lists": report });
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
        Err(CreateFailure::Exists(m)) => Err(ApiError::Conflict(m)),
        Err(CreateFailure::Lists(m)) => Err(ApiError::Invalid(m)),
        Err(CreateFailure::Other(e)) => Err(e),
    }
}

// ---- the wallboard -------------------------------------------------------------------

async fn wallboard_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Html<String>, PageError> {
    viewer.require_supervisor()?;
    render_wallboard(&state, &viewer, &code, None).await
}

async fn render_wallboard(
    state: &AppState,
    viewer: &Viewer,
    code: &str,
    error: Option<&str>,
) -> Result<Html<String>, PageError> {
    let s = snapshot_of(state, viewer, code).await?;
    let mut ctx = tera::Context::new();
    ctx.insert("s", &s);
    ctx.insert("error", &error);
    ctx.insert(
        "team",
        &matches!(scope(viewer), AgentScope::Team(_)).then_some(&viewer.user.team),
    );
    pages::render(state, viewer, "campaigns", "campaign_live.html", ctx)
}

async fn api_wallboard(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Snapshot>, ApiError> {
    viewer.require_supervisor()?;
    Ok(Json(snapshot_of(&state, &viewer, &code).await?))
}

/// How often a wallboard's feed looks, and how long a stream stays silent while nothing
/// changes (then it sends the same snapshot again).
const LOOK_EVERY: Duration = Duration::from_millis(500);
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// One follower of a wallboard's feed (shared by every viewer of the campaign with the same
/// scope, see [`super::live`]).
struct Follower {
    state: AppState,
    slot: StreamSlot,
    feed: watch::Receiver<Latest>,
    sent: Option<Arc<str>>,
}

impl Follower {
    /// The next snapshot to send: a changed one, or the same again after [`KEEP_ALIVE`];
    /// none once the server stops (so graceful shutdown is not held up by open wallboards) or
    /// the viewer's session ended (logout, expiry, account disabled).
    async fn next(&mut self) -> Option<Event> {
        loop {
            let latest = self.feed.borrow_and_update().clone();
            if let Some(json) = latest
                && self.sent.as_ref() != Some(&json)
            {
                self.sent = Some(json.clone());
                return Some(Event::default().data(&*json));
            }
            let resend = tokio::select! {
                changed = self.feed.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                    false
                }
                () = tokio::time::sleep(KEEP_ALIVE) => true,
                () = self.state.stopping() => return None,
            };
            if self.slot.lapsed(&self.state).await {
                return None;
            }
            if resend && let Some(json) = self.sent.clone() {
                return Some(Event::default().data(&*json));
            }
        }
    }
}

async fn api_live(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    viewer.require_supervisor()?;
    // An unknown code is a 404 now, not an empty stream.
    Campaigns::new(state.store()).get(&code).await?;
    let slot = match state.live.admit(&viewer) {
        Ok(slot) => slot,
        Err(too_many) => return Ok(too_many.into_response()),
    };
    let team = match scope(&viewer) {
        AgentScope::All => None,
        AgentScope::Team(team) => Some(team.to_string()),
    };
    let looker = state.clone();
    let feed = state.live.campaigns.follow(
        (code, team),
        LOOK_EVERY,
        &state.shutdown,
        move |(code, team)| look(looker.clone(), code, team),
    );
    let follower = Follower {
        state,
        slot,
        feed,
        sent: None,
    };
    let stream = futures_util::stream::unfold(follower, |mut f| async move {
        f.next().await.map(|event| (Ok::<_, Infallible>(event), f))
    });
    Ok(Sse::new(stream).into_response())
}

/// One look of a wallboard's feed: the snapshot as JSON (twice: it has no clock to leave out
/// of the comparison).
async fn look(state: AppState, code: String, team: Option<String>) -> Option<(String, String)> {
    let scope = match &team {
        Some(team) => AgentScope::Team(team),
        None => AgentScope::All,
    };
    let snapshot = match Campaigns::new(state.store()).get(&code).await {
        Ok(campaign) => {
            let within = state.answer_within.secs;
            wallboard::snapshot(state.store(), &campaign, scope, within, state.desk.now())
                .await
                .map_err(ApiError::from)
        }
        Err(e) => Err(e.into()),
    };
    match snapshot {
        Ok(s) => {
            let json = serde_json::to_string(&s).unwrap_or_default();
            Some((json.clone(), json))
        }
        Err(e) => {
            tracing::warn!(%code, error = %e, "wallboard snapshot failed");
            None
        }
    }
}
