//! Agentless notification campaigns of 200 contacts run to completion over real SIP/RTP:
//! against the built-in phone simulator (answers, busy lines, phones nobody picks up; a
//! manual clock moves the campaign through retry delays and call windows) and against sipp.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use huifang::campaigns::Campaign;
use huifang::campaigns::lifecycle::State;
use huifang::campaigns::repo::Campaigns;
use huifang::clock::{Clock, ManualClock};
use huifang::contacts::dnc;
use huifang::dialer::DialerNode;
use huifang::dialer::hopper::Hopper;
use huifang::phone::Phone;
use huifang::store::Store;
use huifang::telephony::transport::{UserAgent, UserAgentConfig};
use huifang::vocab::Channel;
use testkit::{campaign::number, db::databases};

const RETRY: &str = r#"
[windows]
mon-sun = ["09:00-20:00"]
[retry]
busy = { after = "10m", max = 2 }
no_answer = { after = "1h", max = 1 }
failed = { after = "5m", max = 1 }
daily_cap = 4
lifetime_cap = 6
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_of_200_runs_to_completion_against_the_phone_simulator() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let prompts = testkit::campaign::prompts(dir.path(), "beep", 0.6);
        // 10 owners in New York (closed at the start: 21:00 there), 190 in Shanghai.
        let rows: Vec<(String, &str)> = (0..200)
            .map(|i| (number(i), if i % 20 == 7 { "America/New_York" } else { "" }))
            .collect();
        testkit::campaign::list(dir.path(), &rows);
        let file = testkit::campaign::campaign_file(dir.path(), "notice", RETRY);
        // Wednesday 2026-12-02 10:00 in Shanghai.
        let start = Utc.with_ymd_and_hms(2026, 12, 2, 2, 0, 0).unwrap();
        let clock = ManualClock::new(start);
        let stored = testkit::campaign::create(&db.store, &file, start).await;
        // Four numbers on the global do-not-call list, four on this campaign's own.
        let blocked: Vec<usize> = (0..8).map(|k| 3 + 25 * k).collect();
        for (k, i) in blocked.iter().enumerate() {
            let phone = Phone::parse(&number(*i)).unwrap();
            let scope = if k % 2 == 0 { "" } else { "notice" };
            dnc::add_in(&db.store, &phone, Channel::All, scope, "asked", start)
                .await
                .unwrap();
        }
        let (_phones, addr) = testkit::dialer::simulator("answer=70,busy=15,no_answer=15", 7).await;
        let ua = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let config = testkit::dialer::node_config("n1", &addr.to_string(), &prompts, 60);
        let node = DialerNode::new(db.store.clone(), ua, Arc::new(clock.clone()), config).unwrap();
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let runner = {
            let node = node.clone();
            tokio::spawn(async move { node.run(&["notice".into()], true, stopped).await })
        };
        // Move the clock on whenever the dialer has nothing due: through retry delays and to
        // the New York window's opening.
        let hopper = Hopper::new(&db.store);
        let repo = Campaigns::new(&db.store);
        let deadline = Instant::now() + Duration::from_secs(300);
        while repo.get("notice").await.unwrap().state == State::Running {
            assert!(
                Instant::now() < deadline,
                "{}: campaign did not complete",
                db.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = clock.now();
            if hopper.due_now(stored.campaign_id, now).await.unwrap() == 0 {
                let (_, next) = hopper.remaining(stored.campaign_id).await.unwrap();
                if let Some(next) = next.filter(|n| *n > now) {
                    clock.set(next);
                }
            }
        }
        runner.await.unwrap().unwrap();
        check(&db.store, stored.campaign_id, &file, &blocked, db.name).await;
    }
}

/// Everything the issue asks of a finished campaign.
async fn check(
    store: &Store,
    campaign_id: i64,
    file: &std::path::Path,
    blocked: &[usize],
    db: &str,
) {
    let campaign = Campaign::load(file).unwrap();
    let contacts = testkit::campaign::contacts(store, campaign_id).await;
    let attempts = testkit::campaign::attempts(store, campaign_id).await;
    assert_eq!(contacts.len(), 200);
    let ny_open = Utc.with_ymd_and_hms(2026, 12, 2, 14, 0, 0).unwrap();
    let mut retried = 0;
    for (id, (phone, tz, state, outcome)) in &contacts {
        let tz: Tz = tz.parse().unwrap();
        let tries = attempts.get(id).map(Vec::as_slice).unwrap_or(&[]);
        assert_eq!(state, "done", "{db}: {phone} has no final outcome");
        let i: usize = phone[6..].parse().unwrap();
        if blocked.contains(&i) {
            assert_eq!(outcome.as_deref(), Some("dnc"), "{db}: {phone}");
            assert!(tries.is_empty(), "{db}: do-not-call {phone} was dialled");
            continue;
        }
        assert!(!tries.is_empty(), "{db}: {phone} was never dialled");
        assert!(tries.len() <= 6, "{db}: {phone}: lifetime cap broken");
        if tz == Tz::America__New_York {
            assert!(
                tries[0].queued_at >= ny_open,
                "{db}: {phone} dialled before its window"
            );
        }
        let count = |word: &str| {
            tries
                .iter()
                .filter(|a| a.outcome.map(|o| o.as_str()) == Some(word))
                .count()
        };
        assert!(
            count("busy") <= 3,
            "{db}: {phone}: busy retried past its rule"
        );
        assert!(
            count("no_answer") <= 2,
            "{db}: {phone}: no answer retried past its rule"
        );
        assert!(count("answered") <= 1, "{db}: {phone} answered twice");
        for pair in tries.windows(2) {
            let gap = match pair[0].outcome.map(|o| o.as_str()) {
                Some("busy") => TimeDelta::minutes(10),
                Some("no_answer") => TimeDelta::hours(1),
                _ => TimeDelta::minutes(5),
            };
            let ended = pair[0].ended_at.expect("every attempt ended");
            assert!(
                pair[1].queued_at >= ended + gap,
                "{db}: {phone} retried too soon"
            );
            assert_ne!(
                pair[0].outcome.map(|o| o.as_str()),
                Some("answered"),
                "{db}: {phone}"
            );
        }
        for a in tries {
            assert!(
                a.ended_at.is_some(),
                "{db}: attempt {} never ended",
                a.attempt_id
            );
            assert!(
                campaign.windows().is_open(a.queued_at, tz),
                "{db}: {phone} outside window"
            );
        }
        let last = tries.last().unwrap().outcome.map(|o| o.to_string());
        assert_eq!(
            outcome, &last,
            "{db}: {phone}: final outcome is the last attempt's"
        );
        if tries.len() > 1 {
            retried += 1;
        }
    }
    assert!(retried > 10, "{db}: only {retried} contacts were retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_of_200_runs_to_completion_against_sipp() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let prompts = testkit::campaign::prompts(dir.path(), "beep", 0.4);
        let rows: Vec<(String, &str)> = (0..200).map(|i| (number(1000 + i), "")).collect();
        testkit::campaign::list(dir.path(), &rows);
        let file = testkit::campaign::campaign_file(
            dir.path(),
            "sipp-notice",
            "[windows]\nmon-sun = [\"00:00-23:59\"]\n",
        );
        let port = testkit::dialer::free_port();
        let _sipp = testkit::dialer::sipp_uas(port, dir.path());
        let clock = Arc::new(huifang::clock::SystemClock);
        let stored = testkit::campaign::create(&db.store, &file, clock.now()).await;
        let ua = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let config = testkit::dialer::node_config("s1", &format!("127.0.0.1:{port}"), &prompts, 50);
        let node = DialerNode::new(db.store.clone(), ua, clock, config).unwrap();
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let only = ["sipp-notice".to_string()];
        let run = node.run(&only, true, stopped);
        tokio::time::timeout(Duration::from_secs(240), run)
            .await
            .unwrap_or_else(|_| panic!("{}: the campaign against sipp did not finish", db.name))
            .unwrap();
        let repo = Campaigns::new(&db.store);
        assert_eq!(
            repo.get("sipp-notice").await.unwrap().state,
            State::Completed
        );
        let attempts = testkit::campaign::attempts(&db.store, stored.campaign_id).await;
        let contacts = testkit::campaign::contacts(&db.store, stored.campaign_id).await;
        for (id, (phone, _, state, outcome)) in &contacts {
            let tries = &attempts[id];
            assert_eq!(state, "done", "{}: {phone}", db.name);
            assert_eq!(outcome.as_deref(), Some("answered"), "{}: {phone}", db.name);
            assert_eq!(
                tries.len(),
                1,
                "{}: {phone} dialled {} times",
                db.name,
                tries.len()
            );
            assert!(tries[0].answered_at.is_some() && tries[0].ended_at.is_some());
        }
        let events = repo.events(stored.campaign_id).await.unwrap();
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["create", "start", "complete"], "{}", db.name);
    }
}
