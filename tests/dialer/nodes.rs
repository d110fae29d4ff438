//! Dialer processes (`huifang campaign run`) against the phone simulator process
//! (`huifang phones`): two nodes sharing one campaign never dial a contact twice; a node
//! killed mid-campaign and restarted loses no attempt and re-dials nothing answered.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use huifang::campaigns::lifecycle::State;
use huifang::campaigns::repo::Campaigns;
use huifang::dialer::hopper::Attempts;
use huifang::store::Store;
use testkit::{
    binary::Proc,
    campaign::number,
    db::{TestDb, databases},
};

/// Writes `huifang.toml` for a trunk to the simulator on `port`.
fn config(dir: &Path, port: u16, channels: usize, prompts: &Path) -> String {
    let path = dir.join("huifang.toml");
    let text = format!(
        "[trunks.main]\ndomain = \"127.0.0.1:{port}\"\nchannels = {channels}\n\
         calls_per_second = 100\n\n[dialer]\nprompts_dir = \"{}\"\nlease_secs = 120\n",
        prompts.display()
    );
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// The simulator process: every phone answers.
fn phones(dir: &Path, port: u16) -> Proc {
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "phones",
        "--listen",
        &listen,
        "--mix",
        "answer=100",
        "--answer-delay-ms",
        "100-400",
    ];
    let proc = testkit::binary::spawn(dir, "phones", &args);
    std::thread::sleep(Duration::from_millis(500));
    proc
}

/// A dialer node process working `code`.
fn node(dir: &Path, db: &TestDb, config: &str, name: &'static str, extra: &[&str]) -> Proc {
    let url = db.url();
    let mut args = vec![
        "--config",
        config,
        "--database",
        &url,
        "campaign",
        "run",
        "--node",
        name,
    ];
    args.extend_from_slice(extra);
    testkit::binary::spawn(dir, name, &args)
}

/// A 200-contact campaign `code` open all day, created and started.
async fn campaign(store: &Store, dir: &Path, code: &str, first: usize) -> i64 {
    let rows: Vec<(String, &str)> = (0..200).map(|i| (number(first + i), "")).collect();
    testkit::campaign::list(dir, &rows);
    let file =
        testkit::campaign::campaign_file(dir, code, "[windows]\nmon-sun = [\"00:00-23:59\"]\n");
    testkit::campaign::create(store, &file, Utc::now())
        .await
        .campaign_id
}

async fn open_attempts(store: &Store, campaign_id: i64) -> (usize, usize) {
    let all = testkit::campaign::attempts(store, campaign_id).await;
    let rows = all.values().flatten();
    let open = rows.clone().filter(|a| a.ended_at.is_none()).count();
    let answered = rows.filter(|a| a.answered_at.is_some()).count();
    (open, answered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_a_campaign_and_never_dial_a_contact_twice() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let prompts = testkit::campaign::prompts(dir.path(), "beep", 1.0);
        let port = testkit::dialer::free_port();
        let _phones = phones(dir.path(), port);
        let cfg = config(dir.path(), port, 15, &prompts);
        let id = campaign(&db.store, dir.path(), "shared", 2000).await;
        let mut a = node(
            dir.path(),
            &db,
            &cfg,
            "node-a",
            &["--exit-when-idle", "shared"],
        );
        let mut b = node(
            dir.path(),
            &db,
            &cfg,
            "node-b",
            &["--exit-when-idle", "shared"],
        );
        let status_a = a.wait(Duration::from_secs(240));
        let status_b = b.wait(Duration::from_secs(60));
        let logs = || {
            format!(
                "{}\n{}",
                testkit::binary::log(dir.path(), "node-a"),
                testkit::binary::log(dir.path(), "node-b")
            )
        };
        assert!(
            status_a.success() && status_b.success(),
            "{}: {}",
            db.name,
            logs()
        );
        let attempts = testkit::campaign::attempts(&db.store, id).await;
        assert_eq!(attempts.len(), 200, "{}: every contact dialled", db.name);
        let mut per_node = std::collections::BTreeMap::<String, usize>::new();
        for tries in attempts.values() {
            assert_eq!(
                tries.len(),
                1,
                "{}: a contact was dialled twice: {tries:?}",
                db.name
            );
            assert_eq!(
                tries[0].outcome.map(|o| o.as_str()),
                Some("answered"),
                "{}",
                db.name
            );
            *per_node.entry(tries[0].node.clone()).or_default() += 1;
        }
        assert_eq!(
            per_node.len(),
            2,
            "{}: both nodes dialled: {per_node:?}",
            db.name
        );
        let repo = Campaigns::new(&db.store);
        assert_eq!(repo.get("shared").await.unwrap().state, State::Completed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_restarts_without_losing_or_redialling_anything() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let prompts = testkit::campaign::prompts(dir.path(), "beep", 2.0);
        let port = testkit::dialer::free_port();
        let _phones = phones(dir.path(), port);
        let cfg = config(dir.path(), port, 20, &prompts);
        let id = campaign(&db.store, dir.path(), "crash", 3000).await;
        let mut first = node(dir.path(), &db, &cfg, "node-k", &["crash"]);
        // Kill it (SIGKILL: no clean-up at all) once 40 calls were answered.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert!(
                Instant::now() < deadline,
                "{}: no progress\n{}",
                db.name,
                testkit::binary::log(dir.path(), "node-k")
            );
            let (_, answered) = open_attempts(&db.store, id).await;
            if answered >= 40 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        first.0.kill().unwrap();
        first.0.wait().unwrap();
        let (open_at_kill, _) = open_attempts(&db.store, id).await;
        assert!(
            open_at_kill > 0,
            "{}: the kill should catch calls in progress",
            db.name
        );
        let attempts_at_kill = Attempts::new(&db.store).unfinished("node-k").await.unwrap();
        let answered_at_kill: Vec<i64> = attempts_at_kill
            .iter()
            .filter(|a| a.answered_at.is_some())
            .map(|a| a.campaign_contact_id)
            .collect();
        // The same node name again: it settles what it left and finishes the campaign.
        let mut again = node(
            dir.path(),
            &db,
            &cfg,
            "node-k",
            &["--exit-when-idle", "crash"],
        );
        let status = again.wait(Duration::from_secs(240));
        let log = testkit::binary::log(dir.path(), "node-k");
        assert!(status.success(), "{}: {log}", db.name);
        assert!(log.contains("recovered: "), "{}: {log}", db.name);
        let attempts = testkit::campaign::attempts(&db.store, id).await;
        let contacts = testkit::campaign::contacts(&db.store, id).await;
        assert_eq!(contacts.len(), 200);
        for (contact, (phone, _, state, _)) in &contacts {
            assert_eq!(state, "done", "{}: {phone}", db.name);
            let tries = &attempts[contact];
            for a in tries {
                assert!(
                    a.ended_at.is_some(),
                    "{}: attempt {} lost its end",
                    db.name,
                    a.attempt_id
                );
            }
            if let Some(answered) = tries.iter().position(|a| a.answered_at.is_some()) {
                assert_eq!(
                    answered,
                    tries.len() - 1,
                    "{}: {phone} re-dialled after its answer: {tries:?}",
                    db.name
                );
            }
            if answered_at_kill.contains(contact) {
                assert_eq!(
                    tries.len(),
                    1,
                    "{}: {phone} answered before the kill was dialled again",
                    db.name
                );
            }
        }
        assert!(
            Attempts::new(&db.store)
                .unfinished("node-k")
                .await
                .unwrap()
                .is_empty()
        );
        let repo = Campaigns::new(&db.store);
        assert_eq!(
            repo.get("crash").await.unwrap().state,
            State::Completed,
            "{}",
            db.name
        );
    }
}
