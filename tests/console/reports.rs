//! The reports page and `/api/reports` over HTTP: the figures are `metrics::compute`'s, the
//! charts are inline SVG, a bad period is shown next to its field, agents are kept out.

use std::sync::Arc;

use chrono::{Days, SubsecRound, Utc};
use huifang::clock::ManualClock;
use huifang::metrics::{GroupBy, Period, compute};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Browser, Console, console_on};

async fn consoles_with_clock() -> Vec<(Console, ManualClock)> {
    let mut out = Vec::new();
    for db in testkit::db::databases().await {
        // Whole seconds: PostgreSQL keeps microseconds, and the clocks are read to the minute.
        let clock = ManualClock::new(Utc::now().trunc_subsecs(0));
        out.push((console_on(db, "", Arc::new(clock.clone())).await, clock));
    }
    out
}

async fn call(browser: &Browser, path: &str) -> Value {
    let page = browser.send_json(Method::POST, path, &json!({})).await;
    assert_eq!(page.status, 200, "{path}: {}", page.text);
    page.json()
}

/// Two repairs in HYF and one in JHY, all completed today; one of HYF's is closed.
async fn some_work(sup: &Browser) {
    let mut ids = Vec::new();
    for owner in ["O00001", "O00001", "O00004"] {
        let page = sup
            .send_json(
                Method::POST,
                "/api/tickets",
                &json!({"owner": owner, "kind": "repair", "category": "materials",
                        "description": "漏水"}),
            )
            .await;
        assert_eq!(page.status, 201, "{}", page.text);
        ids.push(page.json()["ticket_id"].as_i64().unwrap());
    }
    for id in &ids {
        for action in ["dispatch", "ack", "complete"] {
            call(sup, &format!("/api/tickets/{id}/{action}")).await;
        }
    }
    call(sup, &format!("/api/tickets/{}/close", ids[0])).await;
}

#[tokio::test]
async fn reports_show_the_computed_figures_with_svg_charts() {
    for (console, clock) in consoles_with_clock().await {
        let name = console.db.name;
        let sup = console.login("sup").await;
        some_work(&sup).await;
        let now = huifang::clock::Clock::now(&clock);
        let today = now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
        let week = Period::days(today.checked_sub_days(Days::new(6)).unwrap(), today).unwrap();

        // The default period: the last seven days, total only.
        let expected = compute(&console.db.store, &week, None, now).await.unwrap();
        let (group, total) = &expected[0];
        assert_eq!(
            (group.as_str(), total.completed, total.closed),
            ("all", 3, 1),
            "{name}"
        );
        let page = sup.get("/reports").await;
        assert_eq!(page.status, 200, "{name}: {}", page.text);
        assert!(
            page.text.contains(r#"<table id="report">"#),
            "{}",
            page.text
        );
        for chart in [
            "chart-closure",
            "chart-satisfaction",
            "chart-ack",
            "chart-escalation",
        ] {
            assert!(
                page.text
                    .contains(&format!(r#"<svg class="chart" id="{chart}""#)),
                "{name}: {chart}"
            );
        }
        let row = page.text.split(r#"<tr id="group-all""#).nth(1).unwrap();
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains(r#"<td class="closure">33.3 % <span class="muted">(1/3)</span>"#),
            "{name}: closure in the table: {row}"
        );
        assert!(
            page.text.contains(&format!(r#"value="{today}""#)),
            "the period is shown"
        );

        // The JSON: the same figures as metrics::compute, rates included.
        let api = sup.get("/api/reports").await;
        assert_eq!(api.status, 200, "{}", api.text);
        let body = api.json();
        assert_eq!(body["to"], today.to_string(), "{name}");
        assert_eq!(body["groups"].as_array().unwrap().len(), 1);
        let got = &body["groups"][0];
        for (key, value) in serde_json::to_value(total).unwrap().as_object().unwrap() {
            assert_eq!(&got[key], value, "{name}: {key}");
        }
        for (key, value) in serde_json::to_value(total.rates())
            .unwrap()
            .as_object()
            .unwrap()
        {
            assert_eq!(&got[key], value, "{name}: {key}");
        }
        // ... and exactly the fields its OpenAPI schema describes.
        let openapi: Value =
            serde_json::from_str(include_str!("../../src/web/openapi/tickets.json")).unwrap();
        let described = openapi["components"]["schemas"]["ReportRow"]["properties"]
            .as_object()
            .unwrap();
        let mut keys: Vec<&String> = got.as_object().unwrap().keys().collect();
        let mut want: Vec<&String> = described.keys().collect();
        keys.sort();
        want.sort();
        assert_eq!(keys, want, "{name}");

        // By project: one row per project, then the total; the chart has a bar per row.
        let from = week
            .from
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .date_naive();
        let query = format!("?from={from}&to={today}&by=project");
        let expected = compute(&console.db.store, &week, Some(GroupBy::Project), now)
            .await
            .unwrap();
        let groups: Vec<&str> = expected.iter().map(|(g, _)| g.as_str()).collect();
        assert_eq!(groups, ["HYF", "JHY", "all"], "{name}");
        let body = sup.get(&format!("/api/reports{query}")).await.json();
        let got: Vec<(String, i64, i64)> = body["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["group"].as_str().unwrap().to_string(),
                    g["completed"].as_i64().unwrap(),
                    g["closed"].as_i64().unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, i64, i64)> = expected
            .iter()
            .map(|(g, f)| (g.clone(), f.completed, f.closed))
            .collect();
        assert_eq!(got, want, "{name}");
        let page = sup.get(&format!("/reports{query}")).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains(r#"<tr id="group-HYF""#), "{name}");
        let closure = page.text.split(r#"id="chart-closure""#).nth(1).unwrap();
        let closure = &closure[..closure.find("</svg>").unwrap()];
        assert!(
            closure.contains(">HYF</text>") && closure.contains("50.0 %"),
            "{closure}"
        );
        assert_eq!(closure.matches("<rect").count(), 3, "{name}: HYF, JHY, all");

        // Admins read it too.
        assert_eq!(
            console.login("admin").await.get("/reports").await.status,
            200
        );
    }
}

#[tokio::test]
async fn a_bad_period_is_shown_next_to_its_field() {
    for (console, _clock) in consoles_with_clock().await {
        let sup = console.login("sup").await;
        let page = sup.get("/reports?from=2026-02-30&to=2026-03-01").await;
        assert_eq!(page.status, 422, "{}", page.text);
        assert!(page.text.contains(r#"id="from-error""#), "{}", page.text);
        assert!(page.text.contains("2026-02-30"), "the typed value is kept");
        assert!(!page.text.contains(r#"id="to-error""#));
        assert!(!page.text.contains("<svg"), "no chart for a bad period");

        let page = sup.get("/reports?from=2026-06-02&to=2026-06-01").await;
        assert_eq!(page.status, 422);
        assert!(page.text.contains(r#"id="from-error""#), "{}", page.text);
        assert!(page.text.contains("after the last day"), "{}", page.text);

        let page = sup.get("/reports?to=soon&by=flat").await;
        assert_eq!(page.status, 422);
        assert!(page.text.contains(r#"id="to-error""#) && page.text.contains(r#"id="by-error""#));

        let api = sup.get("/api/reports?from=2026-06-02&to=2026-06-01").await;
        assert_eq!(api.status, 422, "{}", api.text);
        assert!(
            api.json()["error"].as_str().unwrap().starts_with("from: "),
            "{}",
            api.text
        );
    }
}

#[tokio::test]
async fn agents_may_not_read_the_reports() {
    for (console, _clock) in consoles_with_clock().await {
        let agent = console.login("agent1").await;
        let page = agent.get("/reports").await;
        assert_eq!(page.status, 403, "{}", page.text);
        assert_eq!(agent.get("/api/reports").await.status, 403);
    }
}

#[tokio::test]
async fn reports_show_the_hotline_figures_by_hour() {
    for (console, clock) in consoles_with_clock().await {
        let name = console.db.name;
        let now = huifang::clock::Clock::now(&clock);
        let queued = now - chrono::TimeDelta::seconds(40);
        for (connected, outcome) in [
            (Some(queued + chrono::TimeDelta::seconds(8)), "answered"),
            (None, "abandoned"),
        ] {
            huifang::on_pool!(&console.db.store, |pool| {
                sqlx::query(
                    "insert into inbound_calls (node, number, caller, arrived_at, queue, queued_at,
                                                connected_at, ended_at, outcome)
                     values ('n1', '4008108888', '13812345678', $1, 'repair', $1, $2, $1, $3)",
                )
                .bind(queued)
                .bind(connected)
                .bind(outcome)
                .execute(pool)
                .await
                .map(|_| ())
            })
            .unwrap();
        }
        let sup = console.login("sup").await;
        let page = sup.get("/reports").await;
        assert_eq!(page.status, 200, "{name}: {}", page.text);
        let row = page.text.split(r#"<tr id="inbound-all""#).nth(1).unwrap();
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains(r#"<td class="offered">2</td>"#),
            "{name}: {row}"
        );
        assert!(
            row.contains(r#"<td class="service-level">50.0 % <span class="muted">(1/2)</span>"#),
            "{name}: {row}"
        );
        assert!(
            row.contains(r#"<td class="asa">8.0 s</td>"#),
            "{name}: {row}"
        );
        let hour = queued
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .format("%H00");
        assert!(
            page.text.contains(&format!(r#"<tr id="inbound-{hour}""#)),
            "{name}"
        );

        let body = sup.get("/api/reports").await.json();
        let inbound = &body["inbound"];
        assert_eq!(inbound["offered"], 2, "{name}");
        assert_eq!(inbound["abandoned"], 1, "{name}");
        assert_eq!(inbound["service_level"], 0.5, "{name}");
        assert_eq!(inbound["answer_within_secs"], 20, "{name}");
        assert_eq!(inbound["by_hour"].as_array().unwrap().len(), 1, "{name}");
    }
}
