//! One abandon rule: the pacer's feedback, the wallboard, `huifang campaign status --json` and
//! the supervisors' report read the same abandon share of the same campaign and window.
//!
//! The attempts are written straight into the table (no calls placed), at instants around the
//! window's edges where two definitions of the figure would part: an attempt dialled before
//! the window and answered inside it, one answered just before it, one still ringing across
//! its end, machine answers, an answered attempt still in progress (no outcome yet), and
//! unanswered ones.

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use huifang::campaigns::wallboard::{self, AgentScope};
use huifang::metrics::{self, Period};
use huifang::pacing::AbandonWindow;
use huifang::store::Store;

use testkit::campaign::{self, number};
use testkit::db::databases;

/// One seeded attempt: minutes from the start of the 24-hour window to its dial and its
/// answer (none: never answered), and its outcome (none: still in progress).
struct Seed {
    dialed: i64,
    answered: Option<i64>,
    outcome: Option<&'static str>,
}

const fn seed(dialed: i64, answered: Option<i64>, outcome: Option<&'static str>) -> Seed {
    Seed {
        dialed,
        answered,
        outcome,
    }
}

/// The window is minutes 0 to 1440 (the last 24 hours); the margins of ten minutes and more
/// leave the binary, which reads its own clock a little later, the same attempts inside.
const SEEDS: [Seed; 12] = [
    // Dialled before the window, answered inside it, abandoned: counts (answered, abandoned).
    seed(-10, Some(10), Some("abandoned")),
    // Answered just before the window: out.
    seed(-20, Some(-10), Some("abandoned")),
    seed(-30, Some(-15), Some("completed")),
    // Machine answers: out of the denominator.
    seed(100, Some(101), Some("machine")),
    seed(200, Some(201), Some("machine")),
    // Answered, still in progress: counts as answered.
    seed(1300, Some(1301), None),
    // Abandoned inside: counts twice over.
    seed(600, Some(601), Some("abandoned")),
    seed(1200, Some(1201), Some("abandoned")),
    // Human answers: count as answered.
    seed(300, Some(301), Some("completed")),
    seed(400, Some(401), Some("incomplete")),
    // Never answered, one of them still ringing: out.
    seed(500, None, Some("no_answer")),
    seed(1430, None, None),
];

/// Hand-counted from [`SEEDS`]: answered by a person within the window, and abandoned.
const EXPECTED: (u32, u32) = (6, 3);

/// Dialled inside the window, answered after its end (a ring across the end): out. Kept apart
/// as its answer lies after the test's "now".
const LATE: Seed = seed(1435, Some(1500), Some("completed"));

async fn insert(store: &Store, campaign_id: i64, contact: i64, start: DateTime<Utc>, s: &Seed) {
    let at = |minutes: i64| start + TimeDelta::minutes(minutes);
    let dialed = at(s.dialed);
    let answered = s.answered.map(at);
    let ended = s
        .outcome
        .map(|_| answered.unwrap_or(dialed) + TimeDelta::seconds(30));
    huifang::on_pool!(store, |pool| {
        sqlx::query(
            "insert into attempts (campaign_contact_id, campaign_id, channel, node, queued_at,
                                   dialed_at, answered_at, ended_at, outcome)
             values ($1, $2, 'voice', 'test', $3, $3, $4, $5, $6)",
        )
        .bind(contact)
        .bind(campaign_id)
        .bind(dialed)
        .bind(answered)
        .bind(ended)
        .bind(s.outcome)
        .execute(pool)
        .await
        .map(|_| ())
    })
    .unwrap();
}

/// `huifang campaign status CODE --json`, as a supervisor runs it.
fn status(dir: &Path, url: &str, code: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_huifang"))
        .args(["--database", url, "campaign", "status", code, "--json"])
        .current_dir(dir)
        .env("HUIFANG_LOG", "warn")
        .output()
        .expect("run huifang");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pacer_the_wallboard_the_status_and_the_report_agree_on_the_abandon_share() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let store = &db.store;
        // The binary reads the wall clock, so the seeds are placed around the real now.
        let now = Utc::now().trunc_subsecs(0);
        let start = now - TimeDelta::hours(24);
        let rows: Vec<(String, &str)> = (0..=SEEDS.len()).map(|i| (number(8100 + i), "")).collect();
        campaign::list(d, &rows);
        let file = campaign::campaign_file(d, "agree", "");
        let stored = campaign::create(store, &file, start - TimeDelta::hours(1)).await;
        let contacts: Vec<i64> = campaign::contacts(store, stored.campaign_id)
            .await
            .into_keys()
            .collect();
        for (contact, s) in contacts.iter().zip(SEEDS.iter().chain([&LATE])) {
            insert(store, stored.campaign_id, *contact, start, s).await;
        }
        let expected = AbandonWindow {
            answered: EXPECTED.0,
            abandoned: EXPECTED.1,
        };
        let rate = f64::from(EXPECTED.1) / f64::from(EXPECTED.0);

        let pacer = huifang::dialer::node::abandon_feedback(store, stored.campaign_id, now)
            .await
            .unwrap();
        assert_eq!(pacer, expected, "{}: the pacer's feedback", db.name);
        assert_eq!(pacer.rate(), rate, "{}", db.name);

        let board = wallboard::snapshot(store, &stored, AgentScope::All, 20, now)
            .await
            .unwrap()
            .abandon
            .last_24h;
        let board_counts = AbandonWindow {
            answered: board.answered,
            abandoned: board.abandoned,
        };
        assert_eq!(board_counts, expected, "{}: the wallboard", db.name);
        assert_eq!((board.rate, board.pct), (rate, 100.0 * rate), "{}", db.name);

        let json = status(d, &db.url(), "agree");
        let day = &json["abandon"]["last_24h"];
        assert_eq!(
            (&day["answered"], &day["abandoned"], &day["pct"]),
            (
                &serde_json::json!(EXPECTED.0),
                &serde_json::json!(EXPECTED.1),
                &serde_json::json!(board.pct)
            ),
            "{}: campaign status: {json}",
            db.name
        );

        let period = Period::ending(now, TimeDelta::hours(24));
        let report = metrics::compute(store, &period, None, now).await.unwrap();
        let (group, all) = report.last().unwrap();
        assert_eq!(group, metrics::ALL);
        assert_eq!(
            (all.answered, all.abandoned),
            (i64::from(EXPECTED.0), i64::from(EXPECTED.1)),
            "{}: the report",
            db.name
        );
        assert_eq!(all.abandon_rate(), Some(rate), "{}", db.name);
    }
}
