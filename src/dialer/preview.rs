//! Preview dialing: the node offers one due contact of a preview campaign to each free desktop
//! agent and holds that agent; the agent sees the contact (phone, owner, campaign) before
//! anything is dialled and decides — dial or skip — on the desktop.
//!
//! The offer is a row of `agent_previews`, written before the desktop can show it. The desktop
//! writes the decision ([`decide`]); the node reads it ([`decision_of`]) within its poll, places
//! the call to that agent (dial) or gives the contact back for later without counting an
//! attempt (skip), and closes the offer ([`close`]). A paused or logged-off agent's offer is
//! withdrawn; an offer a stopped node left open is closed by its recovery ([`expire_node`]) or,
//! should the node never come back, no longer shown once the contact's lease has run out.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::on_pool;
use crate::store::Store;

/// What an agent decided about the contact offered to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Place the call; the answered owner is put through to this agent.
    Dial,
    /// Not now: the contact is given back for a later attempt.
    Skip,
}

impl Decision {
    /// The word stored and accepted by the desktop's API.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Dial => "dial",
            Decision::Skip => "skip",
        }
    }

    /// `dial` or `skip`; anything else is refused with what is accepted.
    pub fn parse(word: &str) -> Result<Decision, String> {
        match word.trim() {
            "dial" => Ok(Decision::Dial),
            "skip" => Ok(Decision::Skip),
            other => Err(format!(
                "decision must be \"dial\" or \"skip\", not \"{}\"",
                other.escape_default()
            )),
        }
    }
}

/// How long a skipped contact waits before it is offered again.
pub const SKIP_AGAIN_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The decision a node closes an offer with when the agent went away.
pub const WITHDRAWN: &str = "withdrawn";

/// The decision a restarted node closes the offers it left open with.
pub const EXPIRED: &str = "expired";

/// An offer as the agent's desktop shows it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct OfferView {
    /// The offer.
    pub preview_id: i64,
    /// The campaign's code.
    pub campaign: String,
    /// The campaign's name.
    pub campaign_name: String,
    /// The hopper row offered.
    pub campaign_contact_id: i64,
    /// The number that will be dialled.
    pub phone: String,
    /// When it was offered.
    pub offered_at: DateTime<Utc>,
    /// `dial` or `skip` once decided (the node has not acted on it yet).
    pub decision: Option<String>,
    /// When the desktop first showed it with its owner (and the screen pop went on record).
    #[serde(skip)]
    pub shown_at: Option<DateTime<Utc>>,
}

/// Notes that the desktop showed offer `preview_id` at `now` (its audit row written); true
/// the first time.
pub async fn mark_shown(
    store: &Store,
    preview_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query(
            "update agent_previews set shown_at = $2 where preview_id = $1 and shown_at is null",
        )
        .bind(preview_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1)
    })
}

/// Records that `node` offers contact `contact_id` of `campaign_id` to `agent`; returns the
/// offer's id.
pub async fn offer(
    store: &Store,
    agent: &str,
    campaign_id: i64,
    contact_id: i64,
    node: &str,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_scalar(
            "insert into agent_previews (agent, campaign_id, campaign_contact_id, node, offered_at)
             values ($1, $2, $3, $4, $5) returning preview_id",
        )
        .bind(agent)
        .bind(campaign_id)
        .bind(contact_id)
        .bind(node)
        .bind(now)
        .fetch_one(pool)
        .await
    })
}

/// The agent's decision on offer `preview_id`, if they made one.
pub async fn decision_of(store: &Store, preview_id: i64) -> Result<Option<Decision>, sqlx::Error> {
    let word: Option<Option<String>> = on_pool!(store, |pool| {
        sqlx::query_scalar("select decision from agent_previews where preview_id = $1")
            .bind(preview_id)
            .fetch_optional(pool)
            .await
    })?;
    Ok(word.flatten().and_then(|w| Decision::parse(&w).ok()))
}

/// Closes an offer the node acted on; an undecided one gets `decision` (withdrawn).
pub async fn close(
    store: &Store,
    preview_id: i64,
    decision: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query(
            "update agent_previews set decision = coalesce(decision, $2),
                    decided_at = coalesce(decided_at, $3), closed_at = $3
              where preview_id = $1 and closed_at is null",
        )
        .bind(preview_id)
        .bind(decision)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
    })
}

/// Closes every offer `node` left open (its recovery gives their contacts back); returns how
/// many.
pub async fn expire_node(
    store: &Store,
    node: &str,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query(
            "update agent_previews set decision = coalesce(decision, $2),
                    decided_at = coalesce(decided_at, $3), closed_at = $3
              where node = $1 and closed_at is null",
        )
        .bind(node)
        .bind(EXPIRED)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })
}

/// The offer the agent sees now: open, and its contact still leased to the offering node (an
/// offer of a node that died shows no longer than the lease).
pub async fn current(
    store: &Store,
    agent: &str,
    now: DateTime<Utc>,
) -> Result<Option<OfferView>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as(
            "select p.preview_id, c.code as campaign, c.name as campaign_name,
                    p.campaign_contact_id, cc.phone, p.offered_at, p.decision, p.shown_at
               from agent_previews p
               join campaign_contacts cc on cc.campaign_contact_id = p.campaign_contact_id
               join campaigns c on c.campaign_id = p.campaign_id
              where p.agent = $1 and p.closed_at is null
                and cc.state = 'leased' and cc.lease_owner = p.node and cc.lease_until > $2
              order by p.preview_id desc limit 1",
        )
        .bind(agent)
        .bind(now)
        .fetch_optional(pool)
        .await
    })
}

/// Why a decision was not taken.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// Nothing is offered to the agent now.
    #[error("no contact is offered to {0} now")]
    NoOffer(String),
    /// The agent already decided; the dialer has not acted on it yet.
    #[error("offer {preview_id} is already decided ({decision}); the dialer is acting on it")]
    Decided {
        /// The offer.
        preview_id: i64,
        /// What was decided.
        decision: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Records `agent`'s decision on the contact offered to them; returns the offer's id. Only
/// the agent's own open offer can be decided, and only once.
pub async fn decide(
    store: &Store,
    agent: &str,
    decision: Decision,
    now: DateTime<Utc>,
) -> Result<i64, DecideError> {
    let Some(open) = current(store, agent, now).await? else {
        return Err(DecideError::NoOffer(agent.to_string()));
    };
    if let Some(decided) = open.decision {
        return Err(DecideError::Decided {
            preview_id: open.preview_id,
            decision: decided,
        });
    }
    let changed = on_pool!(store, |pool| {
        sqlx::query(
            "update agent_previews set decision = $3, decided_at = $4
              where preview_id = $1 and agent = $2 and decision is null and closed_at is null",
        )
        .bind(open.preview_id)
        .bind(agent)
        .bind(decision.as_str())
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
    })?;
    if changed == 0 {
        // Withdrawn or decided between the read and the write.
        return Err(DecideError::NoOffer(agent.to_string()));
    }
    Ok(open.preview_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_parse_and_others_are_named() {
        assert_eq!(Decision::parse("dial"), Ok(Decision::Dial));
        assert_eq!(Decision::parse(" skip "), Ok(Decision::Skip));
        let err = Decision::parse("call").unwrap_err();
        assert!(err.contains("\"dial\" or \"skip\""), "{err}");
        assert!(err.contains("call"), "{err}");
        assert_eq!(Decision::Dial.as_str(), "dial");
        assert_eq!(Decision::Skip.as_str(), "skip");
    }
}
