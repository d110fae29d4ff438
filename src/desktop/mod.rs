//! The agent desktop's domain: an agent's presence wishes (their phone, ready / paused / off),
//! the call they are on or just finished, its screen pop (owner, units with suppliers and
//! warranty, open and past tickets, earlier calls and callbacks), the disposition of a call and
//! the callbacks agents schedule.
//!
//! The dialer node reads the wishes and writes the phase (`dialer::presence`); the desktop
//! reads the phase and the attempts the node marks bridged to the agent before it connects
//! them, so the screen pop follows within the desktop's polling interval.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::contacts::{ComponentInfo, unit_components};
use crate::phone::Phone;
use crate::store::Store;
use crate::{on_pool, on_tx};

pub mod inbound;
mod screen_pop;

/// A seat not reported for this long is taken to be on a node that died: another node may
/// hold it, and the wallboard counts the agent offline. The desktop's rule, which the dialer
/// node and the wallboard follow.
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(15);

pub use screen_pop::{ScreenPop, screen_pop, screen_pops};

/// What an agent asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Wanted {
    /// Leg up, owners offered.
    Ready,
    /// Leg up, no owners offered (a break).
    Paused,
    /// No leg (logged off the phone).
    Off,
}

impl Wanted {
    fn as_str(self) -> &'static str {
        match self {
            Wanted::Ready => "ready",
            Wanted::Paused => "paused",
            Wanted::Off => "off",
        }
    }
}

/// An error naming the field it is about (the desktop shows it next to that field).
#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    /// A value the desktop cannot use.
    #[error("{message}")]
    Field {
        /// The form field.
        field: &'static str,
        /// What is wrong, in words for the agent.
        message: String,
    },
    /// The call was already disposed.
    #[error("call {0} already has a disposition")]
    AlreadyDisposed(i64),
    /// No such call.
    #[error("no call {0}")]
    NoCall(i64),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn field(field: &'static str, message: impl Into<String>) -> DesktopError {
    DesktopError::Field {
        field,
        message: message.into(),
    }
}

/// Checks an agent's phone: `sip:USER@HOST[:PORT]` (or `sips:`).
pub fn check_sip_uri(raw: &str) -> Result<String, DesktopError> {
    let uri = raw.trim();
    let bad = || {
        field(
            "sip_uri",
            format!("`{uri}` is not a SIP URI: give sip:USER@HOST or sip:USER@HOST:PORT"),
        )
    };
    if !(uri.starts_with("sip:") || uri.starts_with("sips:")) {
        return Err(bad());
    }
    let parsed = rsip::Uri::try_from(uri).map_err(|_| bad())?;
    if parsed.auth.as_ref().is_none_or(|a| a.user.is_empty())
        || parsed.host_with_port.to_string().is_empty()
    {
        return Err(bad());
    }
    Ok(uri.to_string())
}

/// An agent's seat as the desktop shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Presence {
    /// The agent.
    pub agent: String,
    /// Their phone.
    pub sip_uri: Option<String>,
    /// What they asked for: ready, paused or off.
    pub wanted: String,
    /// What the dialer reports: offline, free, paused, reserved, talk, wrap; `offline` when no
    /// node reported the seat lately.
    pub phase: String,
    /// Since when.
    pub phase_since: Option<DateTime<Utc>>,
    /// The node holding the leg.
    pub node: Option<String>,
}

/// Records what the agent asked for; the node acts on it within a second.
pub async fn set_presence(
    store: &Store,
    agent: &str,
    sip_uri: Option<&str>,
    wanted: Wanted,
    now: DateTime<Utc>,
) -> Result<Presence, DesktopError> {
    let uri = match sip_uri.map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => Some(check_sip_uri(u)?),
        None => None,
    };
    if wanted != Wanted::Off && uri.is_none() {
        let known = presence(store, agent, now).await?.and_then(|p| p.sip_uri);
        if known.is_none() {
            return Err(field(
                "sip_uri",
                "give your phone's SIP URI first (sip:USER@HOST:PORT)",
            ));
        }
    }
    on_pool!(store, |pool| {
        sqlx::query(
            "insert into agent_presence (agent, sip_uri, wanted, phase, updated_at)
             values ($1, $2, $3, 'offline', $4)
             on conflict (agent) do update set sip_uri = coalesce($2, agent_presence.sip_uri),
                    wanted = $3",
        )
        .bind(agent)
        .bind(uri.as_deref())
        .bind(wanted.as_str())
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
    })?;
    Ok(presence(store, agent, now)
        .await?
        .unwrap_or_else(|| Presence {
            agent: agent.into(),
            sip_uri: uri,
            wanted: wanted.as_str().into(),
            phase: "offline".into(),
            phase_since: None,
            node: None,
        }))
}

/// The agent's seat, if they ever set one up.
pub async fn presence(
    store: &Store,
    agent: &str,
    now: DateTime<Utc>,
) -> Result<Option<Presence>, DesktopError> {
    type Row = (
        String,
        Option<String>,
        String,
        Option<String>,
        String,
        Option<DateTime<Utc>>,
        DateTime<Utc>,
    );
    let row: Option<Row> = on_pool!(store, |pool| {
        sqlx::query_as(
            "select agent, sip_uri, wanted, node, phase, phase_since, updated_at
               from agent_presence where agent = $1",
        )
        .bind(agent)
        .fetch_optional(pool)
        .await
    })?;
    let stale = TimeDelta::from_std(STALE_AFTER).unwrap_or_default();
    Ok(
        row.map(|(agent, sip_uri, wanted, node, phase, since, updated)| {
            let phase = if phase != "offline" && now - updated > stale {
                "offline".to_string()
            } else {
                phase
            };
            Presence {
                agent,
                sip_uri,
                wanted,
                phase,
                phase_since: since,
                node,
            }
        }),
    )
}

/// A call an agent took (an attempt bridged to them).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AgentCall {
    /// The attempt.
    pub attempt_id: i64,
    /// Its campaign's code.
    pub campaign: String,
    /// The number called.
    pub phone: String,
    /// The owner, when the contact is one.
    pub owner_id: Option<i64>,
    /// The ticket a callback is about.
    pub ticket_id: Option<i64>,
    /// The agent it was bridged to.
    pub agent: Option<String>,
    /// When the owner answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// When it reached the agent.
    pub bridged_at: Option<DateTime<Utc>>,
    /// When it ended (none: still on).
    pub ended_at: Option<DateTime<Utc>>,
    /// How it ended.
    pub outcome: Option<String>,
    /// Whether the agent disposed it.
    pub disposed: bool,
}

macro_rules! call_select {
    () => {
        "select a.attempt_id, c.code as campaign, cc.phone, cc.owner_id, cc.ticket_id, a.agent,
                a.answered_at, a.bridged_at, a.ended_at, a.outcome,
                exists (select 1 from dispositions d where d.attempt_id = a.attempt_id) as disposed
           from attempts a
           join campaign_contacts cc on cc.campaign_contact_id = a.campaign_contact_id
           join campaigns c on c.campaign_id = a.campaign_id"
    };
}

/// One call, whoever took it.
pub async fn call(store: &Store, attempt_id: i64) -> Result<Option<AgentCall>, DesktopError> {
    Ok(on_pool!(store, |pool| {
        sqlx::query_as(concat!(call_select!(), " where a.attempt_id = $1"))
            .bind(attempt_id)
            .fetch_optional(pool)
            .await
    })?)
}

/// The agent's call on now, else their last call still waiting for its disposition.
pub async fn current_call(store: &Store, agent: &str) -> Result<Option<AgentCall>, DesktopError> {
    Ok(on_pool!(store, |pool| {
        sqlx::query_as(concat!(
            call_select!(),
            " where a.agent = $1 and a.bridged_at is not null
                and not exists (select 1 from dispositions d where d.attempt_id = a.attempt_id)
              order by a.attempt_id desc limit 1"
        ))
        .bind(agent)
        .fetch_optional(pool)
        .await
    })?)
}

/// The team of an agent (for a supervisor's right to see their calls).
pub async fn team_of(store: &Store, username: &str) -> Result<Option<String>, DesktopError> {
    Ok(on_pool!(store, |pool| {
        sqlx::query_scalar("select team from users where username = $1")
            .bind(username)
            .fetch_optional(pool)
            .await
    })?)
}

/// An earlier call to the same number, with its disposition.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct EarlierCall {
    /// The attempt.
    pub attempt_id: i64,
    /// Campaign code.
    pub campaign: String,
    /// When it was placed.
    pub queued_at: DateTime<Utc>,
    /// How it ended.
    pub outcome: Option<String>,
    /// Who took it.
    pub agent: Option<String>,
    /// The agent's disposition.
    pub disposition: Option<String>,
    /// The agent's notes.
    pub notes: Option<String>,
}

/// The last 20 outbound calls to `phone` (E.164) but attempt `except`, newest first.
pub(crate) async fn earlier_calls(
    store: &Store,
    phone: &str,
    except: i64,
) -> Result<Vec<EarlierCall>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as(
            "select a.attempt_id, c.code as campaign, a.queued_at, a.outcome, a.agent,
                    d.outcome as disposition, d.notes
               from attempts a
               join campaign_contacts cc on cc.campaign_contact_id = a.campaign_contact_id
               join campaigns c on c.campaign_id = a.campaign_id
               left join dispositions d on d.attempt_id = a.attempt_id
              where cc.phone = $1 and a.attempt_id <> $2
              order by a.attempt_id desc limit 20",
        )
        .bind(phone)
        .bind(except)
        .fetch_all(pool)
        .await
    })
}

/// Everything the agent sees when a call reaches them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallScreen {
    /// The call.
    pub call: AgentCall,
    /// The owner's screen pop (none for a number no owner has).
    pub owner: Option<ScreenPop>,
    /// The components of the owner's units, with supplier and warranty.
    pub components: Vec<ComponentInfo>,
    /// Earlier calls to this number, newest first.
    pub earlier_calls: Vec<EarlierCall>,
    /// The agents' callback entries for this number or owner, newest first.
    pub callbacks: Vec<crate::callbacks::AgentCallback>,
}

/// The screen pop of a call.
pub async fn screen(
    store: &Store,
    call: AgentCall,
    now: DateTime<Utc>,
) -> Result<CallScreen, DesktopError> {
    let owner = match Phone::parse(&call.phone) {
        Ok(phone) => screen_pop(store, &phone).await?,
        Err(_) => None,
    };
    let mut components = Vec::new();
    if let Some(pop) = &owner {
        for unit in &pop.units {
            components.extend(unit_components(store, &unit.code, now).await?);
        }
    }
    let earlier_calls = earlier_calls(store, &call.phone, call.attempt_id).await?;
    let callbacks = on_pool!(store, |pool| {
        sqlx::query_as(
            "select agent_callback_id, verdict_id, ticket_id, owner_id, phone, campaign_id, reason,
                    note, agent, state, due_at, created_at
               from agent_callbacks where phone = $1 or owner_id = $2
              order by agent_callback_id desc limit 20",
        )
        .bind(&call.phone)
        .bind(call.owner_id)
        .fetch_all(pool)
        .await
    })?;
    Ok(CallScreen {
        call,
        owner,
        components,
        earlier_calls,
        callbacks,
    })
}

/// The outcomes an agent may give a call.
pub const OUTCOMES: [&str; 6] = [
    "resolved",
    "satisfied",
    "unsatisfied",
    "callback",
    "wrong_number",
    "other",
];

/// What the agent says about a call at wrap-up (not a SIP ending, which telephony calls a
/// `Disposition`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrapUp {
    /// One of [`OUTCOMES`].
    pub outcome: String,
    /// The owner's satisfaction, 1 (very unsatisfied) to 5 (very satisfied), when asked.
    #[serde(default)]
    pub satisfaction: Option<i64>,
    /// Free text.
    #[serde(default)]
    pub notes: String,
    /// Call the owner back at this time (RFC 3339, or `YYYY-MM-DDTHH:MM` in China time).
    #[serde(default)]
    pub callback_at: Option<String>,
    /// Who calls back (an agent's username); none: the agent themself.
    #[serde(default)]
    pub callback_agent: Option<String>,
}

/// When a callback was asked for: RFC 3339, or the browser's `datetime-local` in China time.
pub(crate) fn parse_when(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let local = chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M").ok()?;
    local
        .and_local_timezone(chrono_tz::Asia::Shanghai)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Stores the agent's disposition of a call (once), and the callback they scheduled, in one
/// transaction. Every field is checked first; the error names the field.
pub async fn dispose(
    store: &Store,
    call: &AgentCall,
    agent: &str,
    d: &WrapUp,
    now: DateTime<Utc>,
) -> Result<(), DesktopError> {
    if !OUTCOMES.contains(&d.outcome.as_str()) {
        return Err(field(
            "outcome",
            format!(
                "choose an outcome: {} (got `{}`)",
                OUTCOMES.join(", "),
                d.outcome
            ),
        ));
    }
    if let Some(s) = d.satisfaction
        && !(1..=5).contains(&s)
    {
        return Err(field(
            "satisfaction",
            format!("satisfaction is 1 to 5 (got {s})"),
        ));
    }
    if d.notes.chars().count() > 2000 {
        return Err(field("notes", "notes are at most 2000 characters"));
    }
    let callback = match d.callback_at.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => {
            let due = parse_when(raw).ok_or_else(|| {
                field(
                    "callback_at",
                    format!("`{raw}` is not a date and time (YYYY-MM-DDTHH:MM)"),
                )
            })?;
            if due < now - TimeDelta::minutes(1) {
                return Err(field("callback_at", "the callback time is in the past"));
            }
            let who = d
                .callback_agent
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .unwrap_or(agent)
                .to_string();
            let role: Option<String> = on_pool!(store, |pool| {
                sqlx::query_scalar("select role from users where username = $1 and active")
                    .bind(&who)
                    .fetch_optional(pool)
                    .await
            })?;
            if role.as_deref() != Some("agent") {
                return Err(field(
                    "callback_agent",
                    format!("`{who}` is not an agent's username"),
                ));
            }
            Some((due, who))
        }
    };
    let mut tx = store.begin_write().await?;
    let inserted = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "insert into dispositions (attempt_id, agent, outcome, satisfaction, notes, at)
             values ($1, $2, $3, $4, $5, $6) on conflict (attempt_id) do nothing",
        )
        .bind(call.attempt_id)
        .bind(agent)
        .bind(&d.outcome)
        .bind(d.satisfaction)
        .bind(&d.notes)
        .bind(now)
        .execute(conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if inserted == 0 {
        return Err(DesktopError::AlreadyDisposed(call.attempt_id));
    }
    if let Some((due, who)) = callback {
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "insert into agent_callbacks
                        (ticket_id, owner_id, phone, reason, note, agent, state, due_at, created_at)
                 values ($1, $2, $3, 'scheduled', $4, $5, 'open', $6, $7)",
            )
            .bind(call.ticket_id)
            .bind(call.owner_id)
            .bind(&call.phone)
            .bind(&d.notes)
            .bind(&who)
            .bind(due)
            .bind(now)
            .execute(conn)
            .await
            .map(|_| ())
        })?;
    }
    tx.commit().await?;
    Ok(())
}

/// The open callbacks assigned to an agent, soonest first.
pub async fn callbacks_of(
    store: &Store,
    agent: &str,
) -> Result<Vec<crate::callbacks::AgentCallback>, DesktopError> {
    Ok(on_pool!(store, |pool| {
        sqlx::query_as(
            "select agent_callback_id, verdict_id, ticket_id, owner_id, phone, campaign_id, reason,
                    note, agent, state, due_at, created_at
               from agent_callbacks where agent = $1 and state = 'open'
              order by due_at, agent_callback_id",
        )
        .bind(agent)
        .fetch_all(pool)
        .await
    })?)
}

/// The agents of a team (to assign a callback to), by name.
pub async fn agents_of_team(store: &Store, team: &str) -> Result<Vec<String>, DesktopError> {
    Ok(on_pool!(store, |pool| {
        sqlx::query_scalar(
            "select username from users where role = 'agent' and active and team = $1
              order by username",
        )
        .bind(team)
        .fetch_all(pool)
        .await
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uris_are_checked() {
        assert!(check_sip_uri("sip:1001@127.0.0.1:5070").is_ok());
        assert!(check_sip_uri(" sip:agent@pbx.example ").is_ok());
        for bad in [
            "1001",
            "http://x",
            "sip:",
            "sip:@host",
            "tel:+8613800000000",
        ] {
            let err = check_sip_uri(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    DesktopError::Field {
                        field: "sip_uri",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn callback_times_read_the_browser_and_rfc3339() {
        let t = parse_when("2026-12-03T15:30").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-03T07:30:00+00:00");
        assert_eq!(parse_when("2026-12-03T07:30:00Z"), Some(t));
        assert_eq!(parse_when("tomorrow"), None);
    }
}
