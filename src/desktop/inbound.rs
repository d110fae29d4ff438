//! The screen pop of a hotline call: the moment an inbound caller reaches an agent, the
//! desktop shows every owner of the calling number (to choose from when a number is shared),
//! their units with suppliers and warranty, open tickets first, and the number's earlier
//! calls both ways. An unknown number shows a blank owner form. The `inbound_calls` rows are
//! the hotline's (`crate::inbound`); this room only reads them.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::screen_pop::{ScreenPop, screen_pops};
use crate::contacts::{ComponentInfo, unit_components};
use crate::on_pool;
use crate::phone::Phone;
use crate::store::Store;

/// How long after a hotline call ends its screen stays on the agent's desktop (their wrap-up).
pub const SHOWN_AFTER_END: TimeDelta = TimeDelta::minutes(3);

/// A hotline call as the desktop sees it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct InboundCallView {
    /// The row.
    pub inbound_call_id: i64,
    /// The number called.
    pub number: String,
    /// The calling number.
    pub caller: String,
    /// The queue it came through.
    pub queue: Option<String>,
    /// Keys pressed in the menu.
    pub choices: String,
    /// The agent it reached.
    pub agent: Option<String>,
    /// When it called.
    pub arrived_at: DateTime<Utc>,
    /// When it reached the agent.
    pub connected_at: Option<DateTime<Utc>>,
    /// When it ended (none: on now).
    pub ended_at: Option<DateTime<Utc>>,
}

/// An earlier hotline call from the same number.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct EarlierInbound {
    /// The row.
    pub inbound_call_id: i64,
    /// When.
    pub arrived_at: DateTime<Utc>,
    /// The queue.
    pub queue: Option<String>,
    /// Who took it.
    pub agent: Option<String>,
    /// How it ended.
    pub outcome: Option<String>,
}

/// Everything the agent sees for a hotline caller.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboundScreen {
    /// The call.
    pub call: InboundCallView,
    /// Every owner of the number (empty: unknown caller, a blank owner form).
    pub owners: Vec<ScreenPop>,
    /// The components of those owners' units, with supplier and warranty.
    pub components: Vec<ComponentInfo>,
    /// Earlier hotline calls from the number, newest first.
    pub earlier_inbound: Vec<EarlierInbound>,
    /// Earlier outbound calls to the number, newest first.
    pub earlier_calls: Vec<super::EarlierCall>,
}

macro_rules! view_select {
    () => {
        "select inbound_call_id, number, caller, queue, choices, agent, arrived_at,
                connected_at, ended_at
           from inbound_calls"
    };
}

/// The hotline call the agent is on now, or just finished (within [`SHOWN_AFTER_END`]).
pub async fn current_inbound(
    store: &Store,
    agent: &str,
    now: DateTime<Utc>,
) -> Result<Option<InboundCallView>, sqlx::Error> {
    let since = now - SHOWN_AFTER_END;
    on_pool!(store, |pool| {
        sqlx::query_as(concat!(
            view_select!(),
            " where agent = $1 and connected_at is not null
                and (ended_at is null or ended_at >= $2)
              order by inbound_call_id desc limit 1"
        ))
        .bind(agent)
        .bind(since)
        .fetch_optional(pool)
        .await
    })
}

/// One hotline call.
pub async fn inbound_call(store: &Store, id: i64) -> Result<Option<InboundCallView>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as(concat!(view_select!(), " where inbound_call_id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await
    })
}

/// The screen of a hotline call.
pub async fn inbound_screen(
    store: &Store,
    call: InboundCallView,
    now: DateTime<Utc>,
) -> Result<InboundScreen, sqlx::Error> {
    let owners = match Phone::parse(&call.caller) {
        Ok(phone) => screen_pops(store, &phone).await?,
        Err(_) => Vec::new(),
    };
    let mut components = Vec::new();
    for pop in &owners {
        for unit in &pop.units {
            components.extend(unit_components(store, &unit.code, now).await?);
        }
    }
    let earlier_inbound = on_pool!(store, |pool| {
        sqlx::query_as(
            "select inbound_call_id, arrived_at, queue, agent, outcome from inbound_calls
              where caller = $1 and inbound_call_id <> $2
              order by inbound_call_id desc limit 20",
        )
        .bind(&call.caller)
        .bind(call.inbound_call_id)
        .fetch_all(pool)
        .await
    })?;
    // Outbound contacts are stored in E.164; the caller as the carrier sent it.
    let e164 = Phone::parse(&call.caller)
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    // No attempt has id 0: every outbound call to the number.
    let earlier_calls = super::earlier_calls(store, &e164, 0).await?;
    Ok(InboundScreen {
        call,
        owners,
        components,
        earlier_inbound,
        earlier_calls,
    })
}
