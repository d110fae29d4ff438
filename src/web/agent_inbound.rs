//! The desktop's screen pop of a hotline caller (`/agent/inbound/ID/pop`): every owner of the
//! calling number, their units, suppliers and warranty, open tickets first, and the number's
//! earlier calls. The live snapshot names the call only; the owners' data goes out here, after
//! its audit row.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Html;
use axum::routing::get;

use super::AppState;
use super::auth::Viewer;
use super::error::ApiError;
use super::pages::{self, PageError};
use crate::audit::AuditAction;
use crate::desktop::{self, inbound};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/agent/inbound/{id}/pop", get(pop_fragment))
}

async fn pop_fragment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Html<String>, PageError> {
    let store = state.store();
    let call = inbound::inbound_call(store, id)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .ok_or_else(|| ApiError::NotFound(format!("no hotline call {id}")))?;
    let visible = match call.agent.as_deref() {
        Some(agent) => {
            let team = desktop::team_of(store, agent)
                .await
                .map_err(ApiError::from)?;
            viewer.user.may_see_agent(agent, team.as_deref())
        }
        None => viewer.user.supervises(),
    };
    if !visible {
        return Err(ApiError::Forbidden(format!(
            "hotline call {id} is not {}'s",
            viewer.user.username
        ))
        .into());
    }
    let screen = inbound::inbound_screen(store, call, state.desk.now())
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let detail = format!("hotline call {id}");
    for pop in &screen.owners {
        let target = super::audit::owner(pop.owner.owner_id);
        super::audit::record(&state, &viewer, AuditAction::ScreenPop, &target, &detail).await?;
    }
    let mut ctx = tera::Context::new();
    ctx.insert("screen", &screen);
    pages::render(&state, &viewer, "agent", "inbound_pop.html", ctx)
}
