//! The wallboard's hotline tiles in Chromium: a campaign's wallboard, open before anything
//! happens on the hotline, follows its live stream to the callers a node reports waiting, their
//! longest wait and today's offered, answered and service level (only the page's script can
//! bring them in), with no content-security-policy violation.

use std::sync::Arc;
use std::time::Duration;

use chrono::{SubsecRound, TimeDelta, Utc};
use huifang::clock::{Clock, ManualClock};
use huifang::inbound::HotlineLive;
use huifang::inbound::hotline::live;

use crate::browser::{csp_violations, driver, login, wait_text, window};
use crate::support::console_on;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallboard_follows_the_hotline_live() {
    let dir = tempfile::tempdir().unwrap();
    let chrome = driver(dir.path());
    for db in testkit::db::databases().await {
        let name = db.name;
        let clock = ManualClock::new(Utc::now().trunc_subsecs(0));
        testkit::db::campaign(&db.store, "hot").await;
        let console = console_on(db, "", Arc::new(clock.clone())).await;
        let store = console.db.store.clone();
        let sup = window(&chrome).await;
        login(&sup, &console.base, "sup").await;
        sup.goto(&format!("{}/campaigns/hot", console.base))
            .await
            .unwrap();
        let quiet = |t: &str| t == "0";
        wait_text(
            &sup,
            "live-hotline-waiting",
            Duration::from_secs(5),
            name,
            quiet,
        )
        .await;
        wait_text(&sup, "live-hotline-sl", Duration::from_secs(5), name, |t| {
            t == "—"
        })
        .await;

        // A node reports two callers, the longest waiting 65 s; of today's two offered calls
        // one was answered after 5 s, the other still waits.
        let now = clock.now();
        let queued = now - TimeDelta::seconds(65);
        let node = HotlineLive {
            waiting: 2,
            waiting_since: Some(queued),
        };
        live::publish(&store, "node-a", node, now).await.unwrap();
        for connected in [Some(queued + TimeDelta::seconds(5)), None] {
            huifang::on_pool!(&store, |pool| {
                sqlx::query(
                    "insert into inbound_calls (node, number, caller, arrived_at, queue, queued_at,
                                                connected_at)
                     values ('node-a', '4008108888', '13812345678', $1, 'repair', $1, $2)",
                )
                .bind(queued)
                .bind(connected)
                .execute(pool)
                .await
                .map(|_| ())
            })
            .unwrap();
        }
        let within = Duration::from_secs(10);
        for (id, shown) in [
            ("live-hotline-waiting", "2"),
            ("live-hotline-longest", "65"),
            ("live-hotline-sl", "50.0 %"),
            ("live-hotline-target", "20"),
            ("live-hotline-offered", "2"),
            ("live-hotline-answered", "1"),
            ("live-hotline-abandoned", "0"),
        ] {
            wait_text(&sup, id, within, &format!("{name}: {id}"), |t| t == shown).await;
        }
        let violations = csp_violations(&sup).await;
        assert!(violations.is_empty(), "{name}: {violations:?}");
        sup.close().await.unwrap();
    }
}
