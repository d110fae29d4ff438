//! The hotline's service-level target in the console: `/reports`, `/api/reports` and the
//! wallboard judge the service level by the configured menu's `answer_within_secs` and say
//! which target they use; with no hotline configured, 20 s.

use std::sync::Arc;

use chrono::{SubsecRound, TimeDelta, Utc};
use huifang::clock::{Clock, ManualClock};
use serde_json::Value;

use crate::support::{Console, console_on};

/// A menu whose service level counts calls answered within 30 s.
const MENU: &str = "menu = [\"hotline-menu\"]\nanswer_within_secs = 30\n\
                    [keys]\n\"1\" = { queue = \"repair\" }\n[queues.repair]\nhold = [\"hotline-hold\"]\n";

/// Two calls queued 40 s before `clock`'s now, answered after 25 s and after 35 s.
async fn two_answered_calls(console: &Console, clock: &ManualClock) {
    let queued = clock.now() - TimeDelta::seconds(40);
    for wait in [25, 35] {
        huifang::on_pool!(&console.db.store, |pool| {
            sqlx::query(
                "insert into inbound_calls (node, number, caller, arrived_at, queue, queued_at,
                                            connected_at, ended_at, outcome)
                 values ('n1', '4008108888', '13812345678', $1, 'repair', $1, $2, $2, 'answered')",
            )
            .bind(queued)
            .bind(queued + TimeDelta::seconds(wait))
            .execute(pool)
            .await
            .map(|_| ())
        })
        .unwrap();
    }
}

/// The service level of the reports' page (its total row), of the API, and of the wallboard.
async fn service_levels(console: &Console) -> (String, Value, Value, String) {
    let sup = console.login("sup").await;
    let page = sup.get("/reports").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let row = page.text.split(r#"<tr id="inbound-all""#).nth(1).unwrap();
    let row = row[..row.find("</tr>").unwrap()].to_string();
    let target = page.text.split(r#"id="inbound-target">"#).nth(1).unwrap();
    let target = target[..target.find("</p>").unwrap()].to_string();
    let api = sup.get("/api/reports").await.json()["inbound"].clone();
    let board = sup.get("/api/campaigns/board/wallboard").await;
    assert_eq!(board.status, 200, "{}", board.text);
    (row, api, board.json()["hotline"].clone(), target)
}

#[tokio::test]
async fn the_configured_menus_target_judges_the_service_level_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let menu = dir.path().join("hotline-30.toml");
    std::fs::write(&menu, MENU).unwrap();
    let config = format!(
        "[[inbound]]\nnumber = \"4008108888\"\nmenu = \"{}\"\n",
        menu.display()
    );
    for db in testkit::db::databases().await {
        let name = db.name;
        let clock = ManualClock::new(Utc::now().trunc_subsecs(0));
        testkit::db::campaign(&db.store, "board").await;
        let console = console_on(db, &config, Arc::new(clock.clone())).await;
        two_answered_calls(&console, &clock).await;
        let (row, api, board, target) = service_levels(&console).await;
        // 25 s is within 30 s, 35 s is not; at the default 20 s neither would be.
        assert!(
            row.contains(r#"<td class="service-level">50.0 % <span class="muted">(1/2)</span>"#),
            "{name}: {row}"
        );
        assert!(
            target.contains("30 s (answer_within_secs of ") && target.contains("hotline-30.toml"),
            "{name}: {target}"
        );
        assert_eq!(api["answer_within_secs"], 30, "{name}");
        assert_eq!(api["service_level"], 0.5, "{name}");
        assert_eq!(board["answer_within_secs"], 30, "{name}: {board:#}");
        assert_eq!(board["today"]["offered"], 2, "{name}: {board:#}");
        assert_eq!(board["today"]["service_level"], 0.5, "{name}: {board:#}");
    }
}

#[tokio::test]
async fn without_a_hotline_the_target_is_20_s_and_the_page_says_so() {
    for db in testkit::db::databases().await {
        let name = db.name;
        let clock = ManualClock::new(Utc::now().trunc_subsecs(0));
        testkit::db::campaign(&db.store, "board").await;
        let console = console_on(db, "", Arc::new(clock.clone())).await;
        two_answered_calls(&console, &clock).await;
        let (row, api, board, target) = service_levels(&console).await;
        assert!(
            row.contains(r#"<td class="service-level">0.0 % <span class="muted">(0/2)</span>"#),
            "{name}: {row}"
        );
        assert!(
            target.contains("20 s (the default: no hotline is configured)"),
            "{name}: {target}"
        );
        assert_eq!(api["answer_within_secs"], 20, "{name}");
        assert_eq!(board["answer_within_secs"], 20, "{name}");
        assert_eq!(board["today"]["service_level"], 0.0, "{name}");
    }
}

#[tokio::test]
async fn a_configured_menu_that_does_not_load_stops_the_console() {
    let db = testkit::db::databases().await.remove(0);
    let toml = format!(
        "database_url = \"{}\"\n[[inbound]]\nnumber = \"4008108888\"\nmenu = \"/nonexistent/400.toml\"\n",
        db.url()
    );
    let config = huifang::config::Config::parse(&toml, "console test").unwrap();
    let clock: huifang::clock::SharedClock = Arc::new(huifang::clock::SystemClock);
    let err = huifang::web::Application::build(&config, "127.0.0.1:0", clock)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("/nonexistent/400.toml"),
        "{err:#}"
    );
}
