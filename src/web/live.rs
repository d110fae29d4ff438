//! One poll, many viewers: the live streams (`/api/campaigns/CODE/live`, `/api/agent/live`)
//! follow a feed per thing watched (a campaign as one team or everyone sees it; one agent's
//! desktop) that a single task computes and fans out through a `watch` channel. A thousand
//! open wallboards of one campaign cost one snapshot per look, not a thousand. The task ends
//! when its last follower goes.
//!
//! A session may hold [`LiveHub::per_session`] streams open at once; its streams share one
//! check that the session still stands.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::watch;

use super::AppState;
use super::auth::{SessionWatch, Viewer};

/// The latest snapshot of a feed, as the JSON sent; `None` before the first look.
pub(super) type Latest = Option<Arc<str>>;

/// The feeds of one kind, by what they watch.
pub(super) struct Feeds<K> {
    open: Mutex<HashMap<K, Arc<watch::Sender<Latest>>>>,
}

impl<K> Default for Feeds<K> {
    fn default() -> Self {
        Feeds {
            open: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone + Send + 'static> Feeds<K> {
    /// Follows the feed of `key`, starting its task (which calls `look` every `every`, and
    /// publishes what it returns when that differs from the last) if nobody follows it yet.
    pub(super) fn follow<F, Fut>(
        self: &Arc<Self>,
        key: K,
        every: Duration,
        stop: &watch::Receiver<bool>,
        look: F,
    ) -> watch::Receiver<Latest>
    where
        F: Fn(K) -> Fut + Send + 'static,
        Fut: Future<Output = Option<(String, String)>> + Send + 'static,
    {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(feed) = open.get(&key) {
            return feed.subscribe();
        }
        let (feed, rx) = watch::channel(None);
        let feed = Arc::new(feed);
        open.insert(key.clone(), feed.clone());
        tokio::spawn(self.clone().run(key, feed, every, stop.clone(), look));
        rx
    }

    /// The feed's task. `look` returns `(key, json)`: the feed publishes `json` when `key`
    /// (the snapshot without what changes every time, like the clock) changed.
    async fn run<F, Fut>(
        self: Arc<Self>,
        key: K,
        feed: Arc<watch::Sender<Latest>>,
        every: Duration,
        mut stop: watch::Receiver<bool>,
        look: F,
    ) where
        F: Fn(K) -> Fut + Send + 'static,
        Fut: Future<Output = Option<(String, String)>> + Send + 'static,
    {
        let mut last: Option<String> = None;
        loop {
            if let Some((compare, json)) = look(key.clone()).await
                && last.as_deref() != Some(compare.as_str())
            {
                last = Some(compare);
                feed.send_replace(Some(json.into()));
            }
            let stopping = tokio::select! {
                () = tokio::time::sleep(every) => false,
                () = async { let _ = stop.wait_for(|stop| *stop).await; } => true,
            };
            // Under the lock, so nobody subscribes to a feed that is going away.
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            if stopping || feed.receiver_count() == 0 {
                open.remove(&key);
                return;
            }
        }
    }

    /// How many feeds run (for tests).
    #[cfg(test)]
    fn running(&self) -> usize {
        self.open.lock().unwrap().len()
    }
}

/// A wallboard's feed: the campaign's code, and the team whose agents it counts (none: all).
pub(super) type CampaignKey = (String, Option<String>);

/// Every feed of the console, and the streams each session holds.
pub struct LiveHub {
    pub(super) campaigns: Arc<Feeds<CampaignKey>>,
    pub(super) agents: Arc<Feeds<String>>,
    sessions: Arc<Mutex<HashMap<String, Arc<SessionStreams>>>>,
    per_session: usize,
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub")
            .field("per_session", &self.per_session)
            .finish_non_exhaustive()
    }
}

/// One session's open streams and the check they share that it still stands.
struct SessionStreams {
    open: Mutex<usize>,
    watch: tokio::sync::Mutex<SessionWatch>,
}

impl LiveHub {
    /// A hub letting each session hold `per_session` streams open.
    pub fn new(per_session: usize) -> LiveHub {
        LiveHub {
            campaigns: Arc::default(),
            agents: Arc::default(),
            sessions: Arc::default(),
            per_session: per_session.max(1),
        }
    }

    /// Room for one more stream of `viewer`'s session, or the 429 to answer.
    pub(super) fn admit(&self, viewer: &Viewer) -> Result<StreamSlot, TooManyStreams> {
        // The CSRF token is the session's own and never leaves memory here.
        let id = viewer.csrf.clone();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let streams = sessions
            .entry(id.clone())
            .or_insert_with(|| {
                Arc::new(SessionStreams {
                    open: Mutex::new(0),
                    watch: tokio::sync::Mutex::new(viewer.watch()),
                })
            })
            .clone();
        let mut open = streams.open.lock().unwrap_or_else(|e| e.into_inner());
        if *open >= self.per_session {
            return Err(TooManyStreams(self.per_session));
        }
        *open += 1;
        drop(open);
        Ok(StreamSlot {
            sessions: self.sessions.clone(),
            id,
            streams,
        })
    }
}

/// A 429: the session already holds this many streams open.
#[derive(Debug)]
pub(super) struct TooManyStreams(usize);

impl IntoResponse for TooManyStreams {
    fn into_response(self) -> Response {
        let message = format!(
            "this session already holds {} live streams open; close one first",
            self.0
        );
        let body = Json(json!({ "error": message }));
        (StatusCode::TOO_MANY_REQUESTS, body).into_response()
    }
}

/// One open stream's place in its session's count; given back when the stream ends.
pub(super) struct StreamSlot {
    sessions: Arc<Mutex<HashMap<String, Arc<SessionStreams>>>>,
    id: String,
    streams: Arc<SessionStreams>,
}

impl StreamSlot {
    /// True once the session is gone (logout, expiry, account disabled): checked in the
    /// database at most every few seconds for all the session's streams together.
    pub(super) async fn lapsed(&self, state: &AppState) -> bool {
        self.streams.watch.lock().await.lapsed(state).await
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let mut open = self.streams.open.lock().unwrap_or_else(|e| e.into_inner());
        *open -= 1;
        if *open == 0 {
            sessions.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn many_followers_share_one_feed_that_ends_with_the_last() {
        let feeds: Arc<Feeds<u32>> = Arc::default();
        let (_stop, state) = watch::channel(false);
        let mut followers = Vec::new();
        for _ in 0..100 {
            followers.push(
                feeds.follow(7, Duration::from_millis(10), &state, |_| async {
                    Some(("same".to_string(), "{}".to_string()))
                }),
            );
        }
        assert_eq!(feeds.running(), 1);
        followers[0].changed().await.unwrap();
        assert_eq!(followers[99].borrow().as_deref(), Some("{}"));
        drop(followers);
        // Bounded: the task sees nobody follows within a few looks.
        for _ in 0..200 {
            if feeds.running() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(feeds.running(), 0);
    }
}
