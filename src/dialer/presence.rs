//! The node's side of the console: which agents asked on the desktop for a nailed-up leg (read
//! from `agent_presence`), what their seats are doing (written back there), and the live
//! counters of each campaign it works (`dialer_live`), which the wallboard sums over nodes.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::agents::{AgentDesk, SeatView, WantedSeat};
use crate::clock::SharedClock;
use crate::on_pool;
use crate::store::Store;

pub use crate::desktop::STALE_AFTER;

/// Claims and returns the desktop agents this node should hold: ready or paused, with a phone,
/// and not held by another live node. The claim is one statement (it writes this node's name
/// on the rows), so two nodes never both dial an agent's phone.
pub async fn wanted(
    store: &Store,
    node: &str,
    now: DateTime<Utc>,
) -> Result<Vec<WantedSeat>, sqlx::Error> {
    let stale = now - chrono::TimeDelta::from_std(STALE_AFTER).unwrap_or_default();
    let mut rows: Vec<(String, String, String)> = on_pool!(store, |pool| {
        sqlx::query_as(
            "update agent_presence set node = $1, updated_at = $3
              where wanted in ('ready', 'paused') and sip_uri is not null
                and (node is null or node = $1 or updated_at < $2)
              returning agent, sip_uri, wanted",
        )
        .bind(node)
        .bind(stale)
        .bind(now)
        .fetch_all(pool)
        .await
    })?;
    rows.sort();
    Ok(rows
        .into_iter()
        .map(|(name, uri, wanted)| WantedSeat {
            name,
            uri,
            paused: wanted == "paused",
        })
        .collect())
}

/// Writes one seat's phase. A configured agent gets a row the first time (ready, with its
/// phone); a desktop agent's wishes are never overwritten, nor a seat another node holds now.
/// (The claim in [`wanted`] renews
/// `updated_at` of every held seat each pass: the node's heartbeat.)
async fn report(
    store: &Store,
    node: &str,
    seat: &SeatView,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query(
            "insert into agent_presence (agent, sip_uri, wanted, node, phase, phase_since, updated_at)
             values ($1, $2, 'ready', $3, $4, $5, $6)
             on conflict (agent) do update set node = $3, phase = $4, phase_since = $5,
                    updated_at = $6
              where agent_presence.node is null or agent_presence.node = $3",
        )
        .bind(&seat.name)
        .bind(&seat.uri)
        .bind(node)
        .bind(seat.phase)
        .bind(seat.since)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
    })
}

/// Keeps the desk in step with the desktop and reports its seats, every `every`, until
/// `shutdown`; then marks this node's seats offline.
pub async fn run(
    store: Store,
    desk: AgentDesk,
    node: String,
    clock: SharedClock,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut written: HashMap<String, (&'static str, DateTime<Utc>)> = HashMap::new();
    loop {
        let now = clock.now();
        match wanted(&store, &node, now).await {
            Ok(wanted) => desk.sync(&wanted),
            Err(e) => tracing::warn!("cannot read the agents' presence: {e}"),
        }
        for seat in desk.seats() {
            if written.get(&seat.name) == Some(&(seat.phase, seat.since)) {
                continue;
            }
            match report(&store, &node, &seat, now).await {
                Ok(()) => {
                    written.insert(seat.name.clone(), (seat.phase, seat.since));
                }
                Err(e) => tracing::warn!(agent = %seat.name, "cannot report the seat: {e}"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
    let now = clock.now();
    let done = on_pool!(&store, |pool| {
        sqlx::query(
            "update agent_presence set phase = 'offline', phase_since = $2, updated_at = $2
              where node = $1",
        )
        .bind(&node)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
    });
    if let Err(e) = done {
        tracing::warn!("cannot mark the seats offline: {e}");
    }
}

/// A campaign's calls in flight on one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounts {
    /// INVITE sent, no ringing yet.
    pub dialing: u32,
    /// The owner's phone rings.
    pub ringing: u32,
    /// Answered and in conversation (with an agent, or the survey).
    pub connected: u32,
    /// Answered, waiting for a free agent.
    pub waiting: u32,
}

/// Publishes a campaign's live counters for this node.
pub async fn publish(
    store: &Store,
    campaign_id: i64,
    node: &str,
    counts: LiveCounts,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query(
            "insert into dialer_live (campaign_id, node, dialing, ringing, connected, waiting, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7)
             on conflict (campaign_id, node) do update set dialing = $3, ringing = $4,
                    connected = $5, waiting = $6, updated_at = $7",
        )
        .bind(campaign_id)
        .bind(node)
        .bind(i64::from(counts.dialing))
        .bind(i64::from(counts.ringing))
        .bind(i64::from(counts.connected))
        .bind(i64::from(counts.waiting))
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
    })
}

/// Removes a campaign's counters of this node (it stopped working the campaign).
pub async fn withdraw(store: &Store, campaign_id: i64, node: &str) -> Result<(), sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query("delete from dialer_live where campaign_id = $1 and node = $2")
            .bind(campaign_id)
            .bind(node)
            .execute(pool)
            .await
            .map(|_| ())
    })
}
