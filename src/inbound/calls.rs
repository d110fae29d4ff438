//! The `inbound_calls` rows: one per call to the hotline, from the INVITE on, each step written
//! before it is acted on (see `migrations/*/0011_inbound.sql`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::on_pool;
use crate::store::Store;

/// How an inbound call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundOutcome {
    /// Talked to an agent.
    Answered,
    /// Hung up while queued.
    Abandoned,
    /// Asked to be called back (and was put on the agents' list).
    Callback,
    /// Called outside the opening hours.
    Closed,
    /// Hung up in the menu, or chose nothing.
    Menu,
    /// The INVITE was refused.
    Refused,
    /// Something failed on our side (named in the detail).
    Failed,
    /// The node stopped while the call was on.
    Interrupted,
}

impl InboundOutcome {
    /// The word stored.
    pub fn as_str(self) -> &'static str {
        match self {
            InboundOutcome::Answered => "answered",
            InboundOutcome::Abandoned => "abandoned",
            InboundOutcome::Callback => "callback",
            InboundOutcome::Closed => "closed",
            InboundOutcome::Menu => "menu",
            InboundOutcome::Refused => "refused",
            InboundOutcome::Failed => "failed",
            InboundOutcome::Interrupted => "interrupted",
        }
    }
}

/// One inbound call as stored.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct InboundCall {
    /// Database id.
    pub inbound_call_id: i64,
    /// The node that took it.
    pub node: String,
    /// The number called.
    pub number: String,
    /// The calling number.
    pub caller: String,
    /// When the INVITE arrived.
    pub arrived_at: DateTime<Utc>,
    /// When the menu answered it.
    pub answered_at: Option<DateTime<Utc>>,
    /// The prompts' language.
    pub language: String,
    /// Keys pressed in the menu, comma-separated.
    pub choices: String,
    /// The queue it waited in (the last, after an overflow).
    pub queue: Option<String>,
    /// When it joined that queue.
    pub queued_at: Option<DateTime<Utc>>,
    /// The agent who took it.
    pub agent: Option<String>,
    /// When it reached the agent.
    pub connected_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// How (none while on).
    pub outcome: Option<String>,
    /// The conversation's recording.
    pub recording_path: Option<String>,
    /// For people.
    pub detail: String,
}

/// Reads and writes inbound call rows.
pub struct InboundCalls<'a> {
    store: &'a Store,
}

macro_rules! select_calls {
    () => {
        "select inbound_call_id, node, number, caller, arrived_at, answered_at,
                language, choices, queue, queued_at, agent, connected_at, ended_at, outcome,
                recording_path, detail
           from inbound_calls"
    };
}

impl<'a> InboundCalls<'a> {
    /// Over `store`.
    pub fn new(store: &'a Store) -> InboundCalls<'a> {
        InboundCalls { store }
    }

    /// The row of an INVITE that just arrived.
    pub async fn open(
        &self,
        node: &str,
        number: &str,
        caller: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query_scalar(
                "insert into inbound_calls (node, number, caller, arrived_at)
                 values ($1, $2, $3, $4) returning inbound_call_id",
            )
            .bind(node)
            .bind(number)
            .bind(caller)
            .bind(at)
            .fetch_one(pool)
            .await
        })
    }

    /// The menu answered the call.
    pub async fn answered(
        &self,
        id: i64,
        language: &str,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query(
                "update inbound_calls set answered_at = $2, language = $3
                 where inbound_call_id = $1",
            )
            .bind(id)
            .bind(at)
            .bind(language)
            .execute(pool)
            .await
            .map(|_| ())
        })
    }

    /// The keys pressed so far and the language they chose.
    pub async fn chose(&self, id: i64, choices: &str, language: &str) -> Result<(), sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query(
                "update inbound_calls set choices = $2, language = $3 where inbound_call_id = $1",
            )
            .bind(id)
            .bind(choices)
            .bind(language)
            .execute(pool)
            .await
            .map(|_| ())
        })
    }

    /// The caller joined `queue` (again, after an overflow).
    pub async fn queued(&self, id: i64, queue: &str, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query(
                "update inbound_calls set queue = $2, queued_at = coalesce(queued_at, $3)
                 where inbound_call_id = $1",
            )
            .bind(id)
            .bind(queue)
            .bind(at)
            .execute(pool)
            .await
            .map(|_| ())
        })
    }

    /// The caller is being put through to `agent` (recorded to `recording`).
    pub async fn connected(
        &self,
        id: i64,
        agent: &str,
        recording: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query(
                "update inbound_calls set agent = $2, connected_at = $3, recording_path = $4
                 where inbound_call_id = $1",
            )
            .bind(id)
            .bind(agent)
            .bind(at)
            .bind(recording)
            .execute(pool)
            .await
            .map(|_| ())
        })
    }

    /// The call is over; a row already ended keeps its first end.
    pub async fn end(
        &self,
        id: i64,
        outcome: InboundOutcome,
        detail: &str,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query(
                "update inbound_calls set ended_at = $2, outcome = $3, detail = $4
                 where inbound_call_id = $1 and ended_at is null",
            )
            .bind(id)
            .bind(at)
            .bind(outcome.as_str())
            .bind(detail)
            .execute(pool)
            .await
            .map(|_| ())
        })
    }

    /// One row.
    pub async fn get(&self, id: i64) -> Result<Option<InboundCall>, sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query_as(concat!(select_calls!(), " where inbound_call_id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await
        })
    }

    /// Rows that arrived in `[from, to)`, oldest first.
    pub async fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<InboundCall>, sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query_as(concat!(
                select_calls!(),
                " where arrived_at >= $1 and arrived_at < $2 order by inbound_call_id"
            ))
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await
        })
    }

    /// The call an agent is on now, if it is an inbound one.
    pub async fn current_of(&self, agent: &str) -> Result<Option<InboundCall>, sqlx::Error> {
        on_pool!(self.store, |pool| {
            sqlx::query_as(concat!(
                select_calls!(),
                " where agent = $1 and connected_at is not null and ended_at is null
                  order by inbound_call_id desc limit 1"
            ))
            .bind(agent)
            .fetch_optional(pool)
            .await
        })
    }

    /// Rows of `node` a stop left without an end: closed as interrupted; those that had
    /// not reached an agent are returned, to be called back.
    pub async fn close_interrupted(
        &self,
        node: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<InboundCall>, sqlx::Error> {
        let open: Vec<InboundCall> = on_pool!(self.store, |pool| {
            sqlx::query_as(concat!(
                select_calls!(),
                " where node = $1 and ended_at is null"
            ))
            .bind(node)
            .fetch_all(pool)
            .await
        })?;
        for row in &open {
            self.end(
                row.inbound_call_id,
                InboundOutcome::Interrupted,
                "interrupted by a restart of the node",
                at,
            )
            .await?;
        }
        Ok(open
            .into_iter()
            .filter(|r| r.connected_at.is_none() && r.queued_at.is_some())
            .collect())
    }

    /// Puts an unserved caller on the agents' callback list (`reason`: `inbound_abandoned`,
    /// `inbound_callback`, `inbound_interrupted`), with the queue and the owner when the
    /// number is one of an owner's.
    pub async fn list_for_callback(
        &self,
        call: &InboundCall,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let owner_id = match crate::phone::Phone::parse(&call.caller) {
            Ok(phone) => crate::contacts::owner_by_phone(self.store, &phone)
                .await?
                .map(|o| o.owner_id),
            Err(_) => None,
        };
        let note = format!(
            "called the hotline {} ({} queue)",
            call.number,
            call.queue.as_deref().unwrap_or("no")
        );
        on_pool!(self.store, |pool| {
            sqlx::query(
                "insert into agent_callbacks
                        (owner_id, phone, reason, note, state, due_at, created_at, inbound_call_id)
                 values ($1, $2, $3, $4, 'open', $5, $5, $6)",
            )
            .bind(owner_id)
            .bind(&call.caller)
            .bind(reason)
            .bind(&note)
            .bind(at)
            .bind(call.inbound_call_id)
            .execute(pool)
            .await
            .map(|_| ())
        })
    }
}
