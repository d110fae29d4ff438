//! The hotline's live row (`inbound_live`): how many callers wait on this node now and since
//! when the longest of them has, written about once a second for the wallboard, which sums
//! the fresh rows of every node (`campaigns::hotline_board`). A stopping node deletes its row;
//! one that dies simply stops renewing it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::{Hotline, lock};
use crate::on_pool;
use crate::store::Store;

/// How often the row is written.
pub const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// One node's hotline now, as its row holds it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HotlineLive {
    /// Callers in a queue.
    pub waiting: u32,
    /// When the longest-waiting of them called (none with nobody waiting).
    pub waiting_since: Option<DateTime<Utc>>,
}

/// Writes (or renews) `node`'s row.
pub async fn publish(
    store: &Store,
    node: &str,
    live: HotlineLive,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query(
            "insert into inbound_live (node, waiting, waiting_since, updated_at)
             values ($1, $2, $3, $4)
             on conflict (node) do update set waiting = $2, waiting_since = $3, updated_at = $4",
        )
        .bind(node)
        .bind(i64::from(live.waiting))
        .bind(live.waiting_since)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())
    })
}

/// Deletes `node`'s row (its hotline stopped).
pub async fn withdraw(store: &Store, node: &str) -> Result<(), sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query("delete from inbound_live where node = $1")
            .bind(node)
            .execute(pool)
            .await
            .map(|_| ())
    })
}

impl Hotline {
    /// The node's hotline now.
    pub fn live(&self) -> HotlineLive {
        let s = &self.shared;
        let now = s.clock.now();
        let acd = lock(&s.acd);
        HotlineLive {
            waiting: u32::try_from(acd.len()).unwrap_or(u32::MAX),
            waiting_since: acd.longest_wait(now).map(|waited| now - waited),
        }
    }

    /// Writes the live row every [`PUBLISH_EVERY`] until `shutdown`, then deletes it. A
    /// failed write is logged and tried again next time: the figures only go stale.
    pub(super) async fn publish_live(self, mut shutdown: watch::Receiver<bool>) {
        let s = &self.shared;
        loop {
            let live = self.live();
            if let Err(e) = publish(&s.store, &s.config.node, live, s.clock.now()).await {
                tracing::warn!(node = %s.config.node, "cannot write the hotline's live row: {e}");
            }
            tokio::select! {
                () = tokio::time::sleep(PUBLISH_EVERY) => {}
                _ = shutdown.changed() => break,
            }
        }
        if let Err(e) = withdraw(&s.store, &s.config.node).await {
            tracing::warn!(node = %s.config.node, "cannot delete the hotline's live row: {e}");
        }
    }
}
