//! A predictive campaign with agents: each agent's phone gets one nailed-up call; answered
//! owners (the phone simulator) are bridged into a free agent's leg within 2 s, or hear the
//! safe-harbor message and count as abandoned, and are then left alone for 72 hours.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use huifang::campaigns::repo::Campaigns;
use huifang::dialer::DialerNode;
use huifang::dialer::agents::AgentConfig;
use huifang::telephony::Digit;
use huifang::telephony::transport::{UserAgent, UserAgentConfig};
use testkit::{campaign::number, db::databases};

/// An agent's SIP phone: answers the nailed-up call and presses `#` (end the conversation)
/// every `every`, as an agent who talks that long would.
async fn agent_phone(every: Duration) -> String {
    let phone = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let uri = format!("sip:agent@{}", phone.local_addr());
    tokio::spawn(async move {
        while let Some(incoming) = phone.accept().await {
            let Ok(call) = incoming.answer().await else {
                continue;
            };
            tokio::spawn(async move {
                let hash = [Digit::parse('#').unwrap()];
                loop {
                    tokio::time::sleep(every).await;
                    if call.ended().is_some() {
                        break;
                    }
                    call.send_digits(&hash);
                }
            });
        }
    });
    uri
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_owners_reach_an_agent_within_two_seconds_or_hear_the_safe_harbor() {
    // DEBUG_DIALER=1 shows the node's pacing decisions (with --nocapture).
    if std::env::var("DEBUG_DIALER").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("huifang=debug")
            .try_init();
    }
    for db in databases().await {
        // The model paces three agents without abandons; four lines per free agent for a
        // single agent overdials on purpose, so owners find nobody and hear the safe harbor.
        let predictive = Case {
            mode: "predictive",
            agents: 3,
            first: 5000,
            contacts: 40,
            mix: "answer=60,busy=20,no_answer=20",
            talk: Duration::from_millis(1500),
        };
        let (bridged, _) = campaign(&db, &predictive).await;
        assert!(
            bridged >= 10,
            "{}: only {bridged} owners reached an agent",
            db.name
        );
        let overdialled = Case {
            mode: "ratio:4",
            agents: 1,
            first: 6000,
            contacts: 24,
            mix: "answer=100",
            talk: Duration::from_secs(4),
        };
        let (_, abandoned) = campaign(&db, &overdialled).await;
        assert!(
            abandoned >= 1,
            "{}: overdialling one agent abandoned nobody",
            db.name
        );
    }
}

/// One run: the dial mode, how many agents, which and how many numbers, how the owners'
/// phones behave, and how often the agents press `#` (the longest conversation).
struct Case {
    mode: &'static str,
    agents: usize,
    first: usize,
    contacts: usize,
    mix: &'static str,
    talk: Duration,
}

/// Runs a campaign until every contact is finished or waits out its 72 quiet hours; checks
/// it and returns (bridged, abandoned).
async fn campaign(db: &testkit::db::TestDb, case: &Case) -> (u32, u32) {
    let Case {
        mode,
        agents: agent_count,
        first,
        contacts: count,
        mix,
        talk,
    } = *case;
    let code = mode.replace(':', "-");
    {
        let dir = tempfile::tempdir().unwrap();
        let prompts = testkit::campaign::prompts(dir.path(), "safe-harbor", 0.5);
        let rows: Vec<(String, &str)> = (0..count).map(|i| (number(first + i), "")).collect();
        testkit::campaign::list(dir.path(), &rows);
        let file = dir.path().join(format!("{code}.toml"));
        std::fs::write(
            &file,
            format!(
                "code = \"{code}\"\nname = \"p\"\nkind = \"notification\"\nmode = \"{mode}\"\n\
                 ring_timeout_secs = 15\n[source]\ncsv = \"list.csv\"\n\
                 [windows]\nmon-sun = [\"00:00-23:59\"]\n\
                 [retry]\nbusy = {{ after = \"1s\", max = 1 }}\nno_answer = {{ after = \"1s\", max = 1 }}\n"
            ),
        )
        .unwrap();
        let stored = testkit::campaign::create(&db.store, &file, Utc::now()).await;
        let (_owners, addr) = testkit::dialer::simulator(mix, 11).await;
        let mut agents = Vec::new();
        for i in 0..agent_count {
            agents.push((format!("a{i}"), agent_phone(talk).await));
        }
        let mut config = testkit::dialer::node_config("p1", &addr.to_string(), &prompts, 20);
        config.agents = Some(AgentConfig {
            agents,
            wrap: Duration::from_millis(500),
            talk_limit: Duration::from_secs(20),
            caller_id: "4008000400".into(),
        });
        let ua = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let node = DialerNode::new(
            db.store.clone(),
            ua,
            Arc::new(huifang::clock::SystemClock),
            config,
        )
        .unwrap();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let runner = {
            let node = node.clone();
            let only = [code.clone()];
            tokio::spawn(async move { node.run(&only, false, stopped).await })
        };
        // Done when every contact is finished or waits out its 72 quiet hours.
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            assert!(
                Instant::now() < deadline,
                "{}: the campaign did not settle",
                db.name
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            let contacts = testkit::campaign::contacts(&db.store, stored.campaign_id).await;
            let settled = contacts.values().all(|(_, _, state, _)| state != "leased");
            let soon = Utc::now() + TimeDelta::hours(71);
            let due_soon: i64 = huifang::on_pool!(&db.store, |pool| {
                sqlx::query_scalar(
                    "select count(*) from campaign_contacts where campaign_id = $1
                        and state = 'pending' and (next_attempt_at is null or next_attempt_at < $2)",
                )
                .bind(stored.campaign_id)
                .bind(soon)
                .fetch_one(pool)
                .await
            })
            .unwrap();
            let quiet = due_soon == 0;
            let open = testkit::campaign::attempts(&db.store, stored.campaign_id)
                .await
                .values()
                .flatten()
                .any(|a| a.ended_at.is_none());
            if settled && quiet && !open {
                break;
            }
        }
        stop.send(true).unwrap();
        runner.await.unwrap().unwrap();

        let attempts = testkit::campaign::attempts(&db.store, stored.campaign_id).await;
        assert_eq!(attempts.len(), count, "{}: every contact dialled", db.name);
        let (mut bridged, mut abandoned) = (0, 0);
        let mut used = std::collections::BTreeSet::new();
        for a in attempts.values().flatten() {
            let Some(answered) = a.answered_at else {
                continue;
            };
            if a.outcome.map(|o| o.as_str()) == Some("abandoned") {
                abandoned += 1;
                assert!(
                    a.bridged_at.is_none() && a.agent.is_none(),
                    "{}: {a:?}",
                    db.name
                );
                continue;
            }
            bridged += 1;
            let at = a
                .bridged_at
                .unwrap_or_else(|| panic!("{}: answered, never bridged: {a:?}", db.name));
            // The hand-over waits at most 2 s; the margin covers the database write before it.
            assert!(
                at - answered <= TimeDelta::milliseconds(3000),
                "{}: {a:?}",
                db.name
            );
            used.insert(a.agent.clone().expect("the agent is recorded"));
        }
        assert!(
            used.len() >= agent_count.min(2),
            "{}: agents used: {used:?}",
            db.name
        );
        // An abandoned owner is not called again for 72 hours.
        let contacts = testkit::campaign::contacts(&db.store, stored.campaign_id).await;
        for (id, tries) in &attempts {
            let last = tries.last().unwrap();
            if last.outcome.map(|o| o.as_str()) == Some("abandoned") {
                assert_eq!(contacts[id].2, "pending", "{}", db.name);
            }
        }
        let window = Campaigns::new(&db.store)
            .abandon(
                stored.campaign_id,
                huifang::metrics::Period::ending(Utc::now(), TimeDelta::hours(24)),
            )
            .await
            .unwrap();
        assert_eq!(window.abandoned, abandoned, "{}", db.name);
        assert_eq!(window.answered, bridged + abandoned, "{}", db.name);
        let quiet: Vec<Option<chrono::DateTime<Utc>>> = huifang::on_pool!(&db.store, |pool| {
            sqlx::query_scalar(
                "select c.next_attempt_at from campaign_contacts c where c.campaign_id = $1
                   and c.state = 'pending'",
            )
            .bind(stored.campaign_id)
            .fetch_all(pool)
            .await
        })
        .unwrap();
        assert_eq!(
            quiet.len(),
            abandoned as usize,
            "{}: only abandoned owners wait",
            db.name
        );
        for next in quiet {
            assert!(
                next.unwrap() >= Utc::now() + TimeDelta::hours(71),
                "{}",
                db.name
            );
        }
        eprintln!(
            "{} {mode}: {bridged} bridged, {abandoned} abandoned",
            db.name
        );
        (bridged, abandoned)
    }
}

/// A node that stopped with a contact offered to a desktop agent (preview mode) leaves nothing
/// stuck: its recovery closes the offer as expired and gives the contact back.
#[tokio::test]
async fn recovery_expires_a_stopped_nodes_preview_offers_and_releases_their_contacts() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let prompts = testkit::campaign::prompts(dir.path(), "safe-harbor", 0.2);
        testkit::campaign::list(dir.path(), &[(number(7100), ""), (number(7101), "")]);
        let file = dir.path().join("pv.toml");
        std::fs::write(
            &file,
            "code = \"pv\"\nname = \"p\"\nkind = \"notification\"\nmode = \"preview\"\n\
             [source]\ncsv = \"list.csv\"\n[windows]\nmon-sun = [\"00:00-23:59\"]\n",
        )
        .unwrap();
        let now = Utc::now();
        let stored = testkit::campaign::create(&db.store, &file, now).await;
        let hopper = huifang::dialer::hopper::Hopper::new(&db.store);
        let claimed = hopper
            .claim(stored.campaign_id, "pv1", now, Duration::from_secs(60), 1)
            .await
            .unwrap();
        let contact = &claimed[0];
        let id = huifang::dialer::preview::offer(
            &db.store,
            "agent1",
            stored.campaign_id,
            contact.campaign_contact_id,
            "pv1",
            now,
        )
        .await
        .unwrap();
        let shown = huifang::dialer::preview::current(&db.store, "agent1", now)
            .await
            .unwrap();
        assert_eq!(shown.map(|o| o.preview_id), Some(id), "{}", db.name);

        let ua = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let config = testkit::dialer::node_config("pv1", "127.0.0.1:9", &prompts, 1);
        let node = DialerNode::new(
            db.store.clone(),
            ua,
            Arc::new(huifang::clock::SystemClock),
            config,
        )
        .unwrap();
        let recovery = node.recover().await.unwrap();
        assert_eq!(recovery.previews_expired, 1, "{}: {recovery:?}", db.name);
        assert_eq!(recovery.released, 1, "{}: {recovery:?}", db.name);
        let back = hopper
            .get(contact.campaign_contact_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            back.lease_owner, "",
            "{}: the contact is given back",
            db.name
        );
        let later = Utc::now();
        assert!(
            huifang::dialer::preview::current(&db.store, "agent1", later)
                .await
                .unwrap()
                .is_none(),
            "{}: the desktop no longer shows the offer",
            db.name
        );
        // The agent can no longer decide it.
        let decided = huifang::dialer::preview::decide(
            &db.store,
            "agent1",
            huifang::dialer::preview::Decision::Dial,
            later,
        )
        .await;
        assert!(
            matches!(
                decided,
                Err(huifang::dialer::preview::DecideError::NoOffer(_))
            ),
            "{}: {decided:?}",
            db.name
        );
    }
}
