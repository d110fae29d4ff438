//! The live figures of one campaign for the console's wallboard, and its attempts page by page.
//!
//! A [`Snapshot`] gathers what a supervisor watches: the calls the dialer nodes report in
//! `dialer_live` (only rows younger than [`FRESH_SECS`], so a node that died stops counting at
//! once), the agents' phases from `agent_presence` (a supervisor's own team, an admin's all),
//! the abandon share against the campaign's cap, attempts per outcome, survey answers so far and
//! the contacts done, and the center's hotline figures ([`super::hotline_board`], the same on
//! every campaign's wallboard). The arithmetic is in pure functions; [`snapshot`] only reads.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::hotline_board::{HotlineBoard, hotline_board};
use super::lifecycle::{Action, State};
use super::repo::{Campaigns, Progress, RepoError, StoredCampaign};
use crate::metrics::Period;
use crate::on_pool;
use crate::pacing::AbandonWindow;
use crate::store::Store;

/// A node's `dialer_live` row counts only this many seconds after it was written.
pub const FRESH_SECS: i64 = 5;

/// The life-cycle steps a supervisor takes from the console, in the order shown.
pub const STEPS: [Action; 4] = [Action::Start, Action::Pause, Action::Resume, Action::Stop];

/// Attempts shown on one page of the drill-down.
pub const PAGE_SIZE: i64 = 50;

/// The steps of [`STEPS`] that `state` allows now.
pub fn allowed_steps(state: State) -> Vec<Action> {
    STEPS
        .into_iter()
        .filter(|a| state.apply(*a).is_ok())
        .collect()
}

/// One node's live counters for a campaign, as it last wrote them.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NodeLive {
    /// The node.
    pub node: String,
    /// Calls being placed (before the first ring).
    pub dialing: i64,
    /// Calls ringing at the owner.
    pub ringing: i64,
    /// Calls connected (to an agent, or to the survey bot).
    pub connected: i64,
    /// Answered calls waiting for a free agent.
    pub waiting: i64,
    /// When the node wrote the row.
    pub updated_at: DateTime<Utc>,
}

/// The calls of every live node together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LiveCalls {
    /// Calls being placed.
    pub dialing: i64,
    /// Calls ringing.
    pub ringing: i64,
    /// Calls connected.
    pub connected: i64,
    /// Answered calls waiting for an agent.
    pub waiting: i64,
    /// Nodes whose rows are fresh.
    pub nodes: i64,
}

impl LiveCalls {
    /// Sums the rows written within [`FRESH_SECS`] before `now`; older ones are left out.
    pub fn sum_fresh(rows: &[NodeLive], now: DateTime<Utc>) -> LiveCalls {
        let since = now - TimeDelta::seconds(FRESH_SECS);
        rows.iter()
            .filter(|r| r.updated_at >= since)
            .fold(LiveCalls::default(), |sum, r| LiveCalls {
                dialing: sum.dialing + r.dialing,
                ringing: sum.ringing + r.ringing,
                connected: sum.connected + r.connected,
                waiting: sum.waiting + r.waiting,
                nodes: sum.nodes + 1,
            })
    }
}

/// Agents by phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AgentCounts {
    /// Ready and idle on their line.
    pub free: i64,
    /// Held for a call being connected to them.
    pub reserved: i64,
    /// On a call.
    pub talk: i64,
    /// Wrapping up after a call.
    pub wrap: i64,
    /// Paused by themselves.
    pub paused: i64,
    /// Not on a line.
    pub offline: i64,
}

impl AgentCounts {
    /// Counts `(phase, agents)` pairs; an unknown phase counts as offline (it takes no calls).
    pub fn from_phases<'a>(phases: impl IntoIterator<Item = (&'a str, i64)>) -> AgentCounts {
        let mut c = AgentCounts::default();
        for (phase, n) in phases {
            let slot = match phase {
                "free" => &mut c.free,
                "reserved" => &mut c.reserved,
                "talk" => &mut c.talk,
                "wrap" => &mut c.wrap,
                "paused" => &mut c.paused,
                _ => &mut c.offline,
            };
            *slot += n;
        }
        c
    }
}

/// Whose agents a viewer counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentScope<'a> {
    /// Every agent (an admin).
    All,
    /// The agents of one team (a supervisor's own).
    Team(&'a str),
}

/// The abandon share of one window against the cap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AbandonShare {
    /// Human answers in the window.
    pub answered: u32,
    /// Of those, abandoned (no agent in time).
    pub abandoned: u32,
    /// Abandoned per answered, 0 to 1 (0 when nothing was answered).
    pub rate: f64,
    /// The same in percent.
    pub pct: f64,
    /// Whether it is above the campaign's `max_abandon_pct`.
    pub over: bool,
}

impl AbandonShare {
    /// The share of `window` judged against `cap_pct` (no cap known: never over).
    pub fn new(window: AbandonWindow, cap_pct: Option<f64>) -> AbandonShare {
        let rate = window.rate();
        let pct = 100.0 * rate;
        AbandonShare {
            answered: window.answered,
            abandoned: window.abandoned,
            rate,
            pct,
            over: cap_pct.is_some_and(|cap| pct > cap),
        }
    }
}

/// The abandon rule's two windows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Abandon {
    /// The last 24 hours.
    pub last_24h: AbandonShare,
    /// The last 30 days.
    pub last_30d: AbandonShare,
    /// The campaign's cap in percent (none when its stored definition no longer parses).
    pub max_pct: Option<f64>,
}

/// How many times one answer was given to one survey question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SurveyCount {
    /// The script node (question).
    pub node: String,
    /// The answer.
    pub value: String,
    /// How many times.
    pub answers: i64,
}

/// The campaign's contacts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Contacts {
    /// Every contact in the hopper.
    pub total: i64,
    /// With a final outcome.
    pub done: i64,
    /// Still to be reached (pending or being called).
    pub remaining: i64,
}

impl Contacts {
    /// The contacts of a campaign's progress.
    pub fn of(progress: &Progress) -> Contacts {
        let remaining = progress.pending + progress.leased;
        Contacts {
            total: remaining + progress.done,
            done: progress.done,
            remaining,
        }
    }
}

/// Everything the wallboard shows, at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// The campaign's code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its dial mode (none when the stored definition no longer parses).
    pub mode: Option<String>,
    /// Its life-cycle state.
    pub state: State,
    /// The steps allowed now (of [`STEPS`]).
    pub actions: Vec<Action>,
    /// Calls of the fresh nodes.
    pub calls: LiveCalls,
    /// The viewer's agents by phase.
    pub agents: AgentCounts,
    /// Abandon shares against the cap.
    pub abandon: Abandon,
    /// Attempts by outcome (`open` for those not ended).
    pub attempts: BTreeMap<String, i64>,
    /// All attempts.
    pub attempts_total: i64,
    /// Survey answers so far, by question and answer.
    pub survey: Vec<SurveyCount>,
    /// Contacts done and remaining.
    pub contacts: Contacts,
    /// The hotline's figures (the center's, not the campaign's).
    pub hotline: HotlineBoard,
}

/// The figures of `campaign` at `now`, with the agents of `scope`, and the hotline's with its
/// service level judged against `answer_within_secs`.
pub async fn snapshot(
    store: &Store,
    campaign: &StoredCampaign,
    scope: AgentScope<'_>,
    answer_within_secs: i64,
    now: DateTime<Utc>,
) -> Result<Snapshot, RepoError> {
    let repo = Campaigns::new(store);
    let id = campaign.campaign_id;
    let rows: Vec<NodeLive> = on_pool!(store, |pool| {
        sqlx::query_as(
            "select node, dialing, ringing, connected, waiting, updated_at from dialer_live
              where campaign_id = $1",
        )
        .bind(id)
        .fetch_all(pool)
        .await
    })?;
    let phases = agent_phases(store, scope, now).await?;
    let progress = repo.progress(id).await?;
    let definition = campaign.definition().ok();
    let abandon = abandon(&repo, campaign, now).await?;
    let tally = crate::outcomes::tally(store, id).await?;
    let contacts = Contacts::of(&progress);
    let hotline = hotline_board(store, answer_within_secs, now).await?;
    Ok(Snapshot {
        code: campaign.code.clone(),
        name: campaign.name.clone(),
        kind: campaign.kind.clone(),
        mode: definition.map(|d| d.mode().to_string()),
        state: campaign.state,
        actions: allowed_steps(campaign.state),
        calls: LiveCalls::sum_fresh(&rows, now),
        agents: AgentCounts::from_phases(phases.iter().map(|(p, n)| (p.as_str(), *n))),
        abandon,
        attempts_total: progress.attempts.values().sum(),
        attempts: progress.attempts,
        survey: tally
            .answers
            .into_iter()
            .map(|(node, value, answers)| SurveyCount {
                node,
                value,
                answers,
            })
            .collect(),
        contacts,
        hotline,
    })
}

/// The abandon shares of `campaign` over the rule's two windows ending at `now`, against its
/// cap: what the wallboard and `huifang campaign status` show, read through the one abandon
/// rule (`metrics::abandon`).
pub async fn abandon(
    repo: &Campaigns<'_>,
    campaign: &StoredCampaign,
    now: DateTime<Utc>,
) -> Result<Abandon, RepoError> {
    let cap = campaign.definition().ok().map(|d| d.max_abandon_pct());
    let id = campaign.campaign_id;
    let day = repo
        .abandon(id, Period::ending(now, TimeDelta::hours(24)))
        .await?;
    let month = repo
        .abandon(id, Period::ending(now, TimeDelta::days(30)))
        .await?;
    Ok(Abandon {
        last_24h: AbandonShare::new(day, cap),
        last_30d: AbandonShare::new(month, cap),
        max_pct: cap,
    })
}

/// Agents by phase. A seat no node has renewed within `desktop::STALE_AFTER` (its
/// node died) counts as offline, whatever it last said.
async fn agent_phases(
    store: &Store,
    scope: AgentScope<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let stale = now - TimeDelta::from_std(crate::desktop::STALE_AFTER).unwrap_or(TimeDelta::zero());
    // An agent without an account (a name only the configuration knows) belongs to no team:
    // only an admin sees them.
    let (team, all) = match scope {
        AgentScope::All => ("", true),
        AgentScope::Team(team) => (team, false),
    };
    on_pool!(store, |pool| {
        sqlx::query_as(
            "select case when p.updated_at < $3 then 'offline' else p.phase end, count(*)
               from agent_presence p
               left join users u on u.username = p.agent
              where $1 or u.team = $2
              group by 1",
        )
        .bind(all)
        .bind(team)
        .bind(stale)
        .fetch_all(pool)
        .await
    })
}

/// One attempt of the drill-down.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AttemptRow {
    /// The attempt.
    pub attempt_id: i64,
    /// The owner's name, when the contact is an owner.
    pub contact_name: Option<String>,
    /// The number called.
    pub phone: String,
    /// voice, sms or email.
    pub channel: String,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// When the call was placed.
    pub dialed_at: Option<DateTime<Utc>>,
    /// When it was answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// When an agent was bridged in.
    pub bridged_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// How it ended (none while open).
    pub outcome: Option<String>,
    /// The final SIP status.
    pub sip_status: Option<i64>,
    /// The agent who took it.
    pub agent: Option<String>,
    /// Why it ended so, for people.
    pub detail: Option<String>,
}

/// One page of attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptPage {
    /// The attempts, newest first.
    pub attempts: Vec<AttemptRow>,
    /// The outcome filtered on (`open`: not ended), if any.
    pub outcome: Option<String>,
    /// This page, from 1.
    pub page: i64,
    /// How many pages there are (at least 1).
    pub pages: i64,
    /// Attempts matching the filter.
    pub total: i64,
}

/// How many pages `total` rows fill (an empty result is one empty page).
pub fn page_count(total: i64) -> i64 {
    ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1)
}

/// The highest page number asked for: 1,000,000 pages of attempts is more than any campaign
/// makes, and the offset it gives cannot overflow.
pub const MAX_PAGE: i64 = 1_000_000;

/// Page `page` (from 1) of the campaign's attempts with `outcome` (`open`: not ended; none:
/// all), newest first.
pub async fn attempts(
    store: &Store,
    campaign_id: i64,
    outcome: Option<&str>,
    page: i64,
) -> Result<AttemptPage, RepoError> {
    let filter = outcome.unwrap_or("");
    let page = page.clamp(1, MAX_PAGE);
    let total: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "select count(*) from attempts
              where campaign_id = $1 and ($2 = '' or coalesce(outcome, 'open') = $2)",
        )
        .bind(campaign_id)
        .bind(filter)
        .fetch_one(pool)
        .await
    })?;
    let rows: Vec<AttemptRow> = on_pool!(store, |pool| {
        sqlx::query_as(
            "select a.attempt_id, o.name as contact_name, c.phone, a.channel, a.queued_at,
                    a.dialed_at, a.answered_at, a.bridged_at, a.ended_at, a.outcome,
                    a.sip_status, a.agent, a.detail
               from attempts a
               join campaign_contacts c on c.campaign_contact_id = a.campaign_contact_id
               left join owners o on o.owner_id = c.owner_id
              where a.campaign_id = $1 and ($2 = '' or coalesce(a.outcome, 'open') = $2)
              order by a.attempt_id desc
              limit $3 offset $4",
        )
        .bind(campaign_id)
        .bind(filter)
        .bind(PAGE_SIZE)
        .bind((page - 1) * PAGE_SIZE)
        .fetch_all(pool)
        .await
    })?;
    Ok(AttemptPage {
        attempts: rows,
        outcome: outcome.map(str::to_string),
        page,
        pages: page_count(total),
        total,
    })
}

/// One campaign of the list: what it is, where it stands and what may be done with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The code.
    pub code: String,
    /// The name.
    pub name: String,
    /// The kind.
    pub kind: String,
    /// The dial mode (none when the stored definition no longer parses).
    pub mode: Option<String>,
    /// The life-cycle state.
    pub state: State,
    /// Contacts done and remaining.
    pub contacts: Contacts,
    /// The steps allowed now (of [`STEPS`]).
    pub actions: Vec<Action>,
    /// When its state last changed.
    pub updated_at: DateTime<Utc>,
}

/// Every campaign, newest first, with its contacts.
pub async fn overview(store: &Store) -> Result<Vec<Summary>, RepoError> {
    let repo = Campaigns::new(store);
    let mut out = Vec::new();
    for c in repo.list().await? {
        let progress = repo.progress(c.campaign_id).await?;
        out.push(Summary {
            mode: c.definition().ok().map(|d| d.mode().to_string()),
            actions: allowed_steps(c.state),
            contacts: Contacts::of(&progress),
            code: c.code,
            name: c.name,
            kind: c.kind,
            state: c.state,
            updated_at: c.updated_at,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(node: &str, n: i64, age_secs: i64, now: DateTime<Utc>) -> NodeLive {
        NodeLive {
            node: node.into(),
            dialing: n,
            ringing: 2 * n,
            connected: 3 * n,
            waiting: 4 * n,
            updated_at: now - TimeDelta::seconds(age_secs),
        }
    }

    #[test]
    fn only_fresh_node_rows_are_summed() {
        let now = Utc::now();
        let rows = [
            row("a", 1, 0, now),
            row("b", 10, 5, now),
            row("c", 100, 6, now),
        ];
        let sum = LiveCalls::sum_fresh(&rows, now);
        assert_eq!(
            sum,
            LiveCalls {
                dialing: 11,
                ringing: 22,
                connected: 33,
                waiting: 44,
                nodes: 2
            }
        );
        assert_eq!(LiveCalls::sum_fresh(&[], now), LiveCalls::default());
    }

    #[test]
    fn agents_are_counted_by_phase() {
        let c = AgentCounts::from_phases([
            ("free", 2),
            ("talk", 3),
            ("wrap", 1),
            ("paused", 1),
            ("offline", 4),
            ("gone", 1),
        ]);
        assert_eq!((c.free, c.talk, c.wrap, c.paused), (2, 3, 1, 1));
        assert_eq!(c.offline, 5);
    }

    #[test]
    fn abandon_share_is_judged_against_the_cap() {
        let w = AbandonWindow {
            answered: 40,
            abandoned: 2,
        };
        let share = AbandonShare::new(w, Some(3.0));
        assert!((share.pct - 5.0).abs() < 1e-9);
        assert!(share.over);
        assert!(
            !AbandonShare::new(w, Some(5.0)).over,
            "at the cap is not over"
        );
        assert!(!AbandonShare::new(w, None).over);
        let none = AbandonShare::new(AbandonWindow::default(), Some(3.0));
        assert_eq!((none.pct, none.over), (0.0, false));
    }

    #[test]
    fn steps_follow_the_state_and_pages_round_up() {
        assert_eq!(allowed_steps(State::Draft), [Action::Start, Action::Stop]);
        assert_eq!(allowed_steps(State::Running), [Action::Pause, Action::Stop]);
        assert_eq!(allowed_steps(State::Paused), [Action::Resume, Action::Stop]);
        assert!(allowed_steps(State::Stopped).is_empty());
        assert_eq!((page_count(0), page_count(50), page_count(51)), (1, 1, 2));
    }
}
