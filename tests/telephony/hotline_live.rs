//! The hotline's live row on the wallboard: a caller waiting on a manual clock shows on a
//! campaign's wallboard (its JSON, as `/api/campaigns/CODE/wallboard` and the live stream send
//! it) as one caller waiting with their wait, offered today and not (yet) answered in time; a
//! dead node's stale row does not count, and a node that stops takes its row away. SQLite
//! always, PostgreSQL too when `TEST_DATABASE_URL` is set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use huifang::campaigns::repo::Campaigns;
use huifang::campaigns::wallboard::{self, AgentScope};
use huifang::clock::{Clock, ManualClock};
use huifang::inbound::HotlineLive;
use huifang::inbound::hotline::live;
use serde_json::{Value, json};
use testkit::db::databases;

use crate::hotline::{HotlineNode, call_in};

/// The wallboard's JSON of `code` once `done` holds of its `hotline` (within 10 s).
async fn board_when(
    node: &HotlineNode,
    clock: &ManualClock,
    code: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let campaign = Campaigns::new(&node.store).get(code).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = wallboard::snapshot(&node.store, &campaign, AgentScope::All, 20, clock.now())
            .await
            .unwrap();
        let json = serde_json::to_value(&s).unwrap();
        if done(&json["hotline"]) {
            return json;
        }
        assert!(Instant::now() < deadline, "never: {:#}", json["hotline"]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_caller_shows_on_the_wallboard_with_their_wait() {
    for db in databases().await {
        let name = db.name;
        // Whole seconds, so both backends give the wait back exactly.
        let clock = ManualClock::new(testkit::db::t0());
        testkit::db::campaign(&db.store, "board").await;
        // A dead node's row, six seconds old: stale, whatever it says.
        let dead = HotlineLive {
            waiting: 9,
            waiting_since: Some(clock.now() - TimeDelta::seconds(600)),
        };
        live::publish(&db.store, "dead", dead, clock.now() - TimeDelta::seconds(6))
            .await
            .unwrap();
        // Nobody to answer: the caller waits.
        let node = HotlineNode::start(db.store.clone(), Vec::new(), Arc::new(clock.clone())).await;
        let idle = board_when(&node, &clock, "board", |h| h["nodes"] == 1).await;
        assert_eq!(idle["hotline"]["waiting"], 0, "{name}: {idle:#}");
        assert_eq!(idle["hotline"]["longest_wait_secs"], 0, "{name}");

        let _caller = call_in(&node, "1").await;
        node.wait_row(1, |r| r.queued_at.is_some()).await;
        clock.advance(TimeDelta::seconds(7));
        let board = board_when(&node, &clock, "board", |h| h["longest_wait_secs"] == 7).await;
        let hotline = &board["hotline"];
        assert_eq!(hotline["waiting"], 1, "{name}: {hotline:#}");
        assert_eq!(
            hotline["nodes"], 1,
            "{name}: the dead node counts: {hotline:#}"
        );
        assert_eq!(hotline["answer_within_secs"], 20, "{name}");
        assert_eq!(
            hotline["today"],
            json!({"offered": 1, "answered": 0, "abandoned": 0, "answered_in_time": 0,
                   "service_level": 0.0}),
            "{name}: a caller still waiting is offered, not answered in time"
        );

        // The node stops: its row goes at once, not five seconds later.
        node.stop.send(true).unwrap();
        let gone = board_when(&node, &clock, "board", |h| h["nodes"] == 0).await;
        assert_eq!(gone["hotline"]["waiting"], 0, "{name}: {gone:#}");
    }
}
