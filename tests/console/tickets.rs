//! The ticket pages over HTTP: the list's filters and SLA clocks, a ticket's timeline and the
//! actions its state allows, acting through the page's form (and its CSRF check).

use std::sync::Arc;

use chrono::{Duration, SubsecRound, Utc};
use huifang::clock::ManualClock;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Browser, Console, console_on};

/// A console per backend whose clock the test moves.
async fn consoles_with_clock() -> Vec<(Console, ManualClock)> {
    let mut out = Vec::new();
    for db in testkit::db::databases().await {
        // Whole seconds: PostgreSQL keeps microseconds, and the clocks are read to the minute.
        let clock = ManualClock::new(Utc::now().trunc_subsecs(0));
        out.push((console_on(db, "", Arc::new(clock.clone())).await, clock));
    }
    out
}

/// Opens a ticket through the API; its id.
async fn open(browser: &Browser, body: Value) -> i64 {
    let page = browser.send_json(Method::POST, "/api/tickets", &body).await;
    assert_eq!(page.status, 201, "{}", page.text);
    page.json()["ticket_id"].as_i64().unwrap()
}

async fn api_act(browser: &Browser, id: i64, action: &str) {
    let page = browser
        .send_json(
            Method::POST,
            &format!("/api/tickets/{id}/{action}"),
            &json!({}),
        )
        .await;
    assert_eq!(page.status, 200, "{action} #{id}: {}", page.text);
}

/// The ids of the rows of the list at `query`.
async fn listed(browser: &Browser, query: &str) -> Vec<i64> {
    let page = browser.get(&format!("/tickets{query}")).await;
    assert_eq!(page.status, 200, "{query}: {}", page.text);
    assert!(page.text.contains(r#"id="tickets""#), "{}", page.text);
    page.text
        .split(r#"<tr id="ticket-"#)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

/// The `<tr>` of a ticket in the list's HTML.
fn row_of(html: &str, id: i64) -> &str {
    let start = html
        .find(&format!(r#"<tr id="ticket-{id}""#))
        .unwrap_or_else(|| panic!("no row for #{id}"));
    let rest = &html[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

/// Three tickets: A (HYF, materials, owner on site) dispatched and replied to; B (JHY,
/// property management) dispatched, escalated to key and, 15 minutes on, overdue; C (LXC,
/// customer service and sales) still new.
async fn three_tickets(sup: &Browser, clock: &ManualClock) -> (i64, i64, i64) {
    let a = open(
        sup,
        json!({"owner": "O00001", "kind": "repair", "category": "materials",
               "component": "kitchen", "description": "橱柜门掉了", "owner_on_site": true}),
    )
    .await;
    let b = open(
        sup,
        json!({"owner": "O00004", "kind": "complaint", "category": "property_management",
               "description": "电梯噪音"}),
    )
    .await;
    let c = open(
        sup,
        json!({"owner": "O00002", "kind": "consultation", "category": "customer_service_sales",
               "description": "交房时间?"}),
    )
    .await;
    api_act(sup, a, "dispatch").await;
    api_act(sup, b, "dispatch").await;
    api_act(sup, b, "escalate").await;
    clock.advance(Duration::minutes(5));
    api_act(sup, a, "ack").await;
    clock.advance(Duration::minutes(10));
    (a, b, c)
}

#[tokio::test]
async fn the_list_filters_and_shows_the_sla_clocks() {
    for (console, clock) in consoles_with_clock().await {
        let name = console.db.name;
        let sup = console.login("sup").await;
        let (a, b, c) = three_tickets(&sup, &clock).await;

        assert_eq!(listed(&sup, "").await, [c, b, a], "{name}: newest first");
        assert_eq!(listed(&sup, "?state=dispatched").await, [b], "{name}");
        assert_eq!(listed(&sup, "?state=acknowledged").await, [a], "{name}");
        assert_eq!(listed(&sup, "?level=key").await, [b], "{name}");
        assert_eq!(
            listed(&sup, "?level=重点").await,
            [b],
            "{name}: Chinese words"
        );
        assert_eq!(listed(&sup, "?project=HYF").await, [a], "{name}");
        assert_eq!(listed(&sup, "?project=LXC").await, [c], "{name}");
        assert_eq!(
            listed(&sup, "?category=customer_service_sales").await,
            [c],
            "{name}"
        );
        assert_eq!(listed(&sup, "?overdue=on").await, [b], "{name}");
        assert_eq!(
            listed(&sup, "?overdue=on&state=dispatched&level=key&project=JHY").await,
            [b],
            "{name}: filters combine"
        );
        assert!(
            listed(&sup, "?overdue=on&project=HYF").await.is_empty(),
            "{name}"
        );

        // The clocks: B's reply is 5 minutes overdue; A's on-site hour still runs.
        let page = sup.get("/tickets").await;
        let row_b = row_of(&page.text, b);
        assert!(
            row_b.contains(r#"<span class="clock bad">reply: overdue 5 min</span>"#),
            "{name}: {row_b}"
        );
        assert!(row_b.contains("overdue"), "{row_b}");
        assert!(
            row_b.contains(&format!(r#"href="/tickets/{b}""#)),
            "{row_b}"
        );
        let row_a = row_of(&page.text, a);
        assert!(row_a.contains("reply: met"), "{name}: {row_a}");
        assert!(row_a.contains("on site: 45 min left"), "{name}: {row_a}");
        assert!(
            row_a.contains("吕玉 (O00001)"),
            "{name}: owner shown: {row_a}"
        );
        assert!(row_a.contains("HYF-6-903"), "{row_a}");

        // Agents see the list too.
        let agent = console.login("agent1").await;
        assert_eq!(listed(&agent, "?level=key").await, [b], "{name}");
    }
}

#[tokio::test]
async fn an_unknown_filter_value_is_shown_next_to_its_field() {
    for (console, _clock) in consoles_with_clock().await {
        let sup = console.login("sup").await;
        let page = sup.get("/tickets?state=flying&project=NOPE").await;
        assert_eq!(page.status, 422, "{}", page.text);
        assert!(
            page.text.contains(r#"id="state-error""#) && page.text.contains("flying"),
            "{}",
            page.text
        );
        assert!(page.text.contains(r#"id="project-error""#), "{}", page.text);
        assert!(!page.text.contains(r#"id="level-error""#), "{}", page.text);
        // The form keeps what was typed.
        assert!(page.text.contains(r#"value="flying""#), "{}", page.text);
        assert!(
            !page.text.contains(r#"id="tickets""#),
            "no table for a bad filter"
        );
        let page = sup.get("/tickets?overdue=maybe").await;
        assert_eq!(page.status, 422);
        assert!(page.text.contains(r#"id="overdue-error""#), "{}", page.text);
    }
}

#[tokio::test]
async fn a_ticket_page_shows_its_timeline_and_only_the_allowed_actions() {
    for (console, clock) in consoles_with_clock().await {
        let name = console.db.name;
        let sup = console.login("sup").await;
        let (a, _b, c) = three_tickets(&sup, &clock).await;

        let page = sup.get(&format!("/tickets/{a}")).await;
        assert_eq!(page.status, 200, "{}", page.text);
        for action in ["open", "dispatch", "notify", "ack"] {
            assert!(
                page.text
                    .contains(&format!(r#"<tr class="event-{action}">"#)),
                "{name}: timeline has {action}"
            );
        }
        assert!(page.text.contains("吕玉 (O00001)"), "{name}: the owner");
        assert!(
            page.text.contains("HYF-6-903") && page.text.contains("海韵府"),
            "the unit"
        );
        assert!(
            page.text.contains("on site: 45 min left"),
            "{name}: the clock"
        );
        // Acknowledged: on site, complete or escalate; nothing else.
        let buttons: Vec<&str> = page
            .text
            .split(r#"id="act-"#)
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
            .collect();
        assert_eq!(buttons, ["onsite", "complete", "escalate"], "{name}");

        // A new consultation may be dispatched, closed at once or escalated.
        let page = sup.get(&format!("/tickets/{c}")).await;
        for present in ["act-dispatch", "act-close", "act-escalate"] {
            assert!(page.text.contains(present), "{name}: {present}");
        }
        assert!(!page.text.contains("act-complete"), "{name}");

        let page = sup.get("/tickets/987654").await;
        assert_eq!(page.status, 404, "{name}");
        assert!(page.text.contains("#987654"), "{}", page.text);
    }
}

#[tokio::test]
async fn acting_through_the_form_changes_the_state_and_needs_the_csrf_field() {
    for (console, clock) in consoles_with_clock().await {
        let name = console.db.name;
        let sup = console.login("sup").await;
        let (a, b, _c) = three_tickets(&sup, &clock).await;
        let path = format!("/tickets/{a}/act");

        // Without the session's CSRF token (wrong, or missing): 403, nothing done.
        let mut forged = console.login("sup").await;
        forged.csrf = "not-the-token".into();
        let page = forged.post_form(&path, &[("action", "complete")]).await;
        assert_eq!(page.status, 403, "{name}: {}", page.text);
        forged.csrf = String::new();
        let page = forged.post_form(&path, &[("action", "complete")]).await;
        assert_eq!(page.status, 403, "{name}: {}", page.text);
        let state = sup.get(&format!("/api/tickets/{a}")).await.json()["ticket"]["state"].clone();
        assert_eq!(state, "acknowledged", "{name}");

        // With it: done as the viewer, back to the page with 303.
        let page = sup
            .post_form(&path, &[("action", "complete"), ("reason", "换了铰链")])
            .await;
        assert_eq!(page.status, 303, "{name}: {}", page.text);
        assert_eq!(
            page.location.as_deref(),
            Some(format!("/tickets/{a}").as_str())
        );
        let shown = sup.get(&format!("/api/tickets/{a}")).await.json();
        assert_eq!(shown["ticket"]["state"], "completed", "{name}");
        let last = shown["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|e| e["action"] == "complete")
            .unwrap()
            .clone();
        assert_eq!(
            (last["actor"].as_str(), last["reason"].as_str()),
            (Some("sup"), Some("换了铰链"))
        );
        let page = sup.get(&format!("/tickets/{a}")).await;
        assert!(
            page.text.contains("换了铰链"),
            "{name}: the note in the timeline"
        );
        assert!(page.text.contains("act-close") && !page.text.contains("act-complete"));

        // A refused action: the page again with the reason, not a crash.
        let page = sup.post_form(&path, &[("action", "dispatch")]).await;
        assert_eq!(page.status, 409, "{name}: {}", page.text);
        assert!(page.text.contains(r#"id="action-error""#), "{}", page.text);
        assert!(
            page.text
                .contains("cannot dispatch a ticket that is completed"),
            "{}",
            page.text
        );
        let page = sup.post_form(&path, &[("action", "fly")]).await;
        assert_eq!(page.status, 422, "{name}: {}", page.text);
        assert!(page.text.contains("unknown action `fly`"), "{}", page.text);

        // Escalating through the form raises the level one step.
        let page = sup
            .post_form(
                &format!("/tickets/{b}/act"),
                &[("action", "escalate"), ("reason", "业主再次来电")],
            )
            .await;
        assert_eq!(page.status, 303, "{name}: {}", page.text);
        let shown = sup.get(&format!("/api/tickets/{b}")).await.json();
        assert_eq!(shown["ticket"]["level"], "hot", "{name}");

        let page = sup
            .post_form("/tickets/987654/act", &[("action", "close")])
            .await;
        assert_eq!(page.status, 404, "{name}");
    }
}

#[tokio::test]
async fn the_list_stops_at_200_rows_and_says_so() {
    use huifang::config::SlaPolicy;
    use huifang::tickets::{OpenTicket, TicketDesk};
    use huifang::vocab::{Category, TicketKind};

    for (console, clock) in consoles_with_clock().await {
        let name = console.db.name;
        let desk = TicketDesk::new(
            console.db.store.clone(),
            Arc::new(clock.clone()),
            SlaPolicy::default(),
        );
        let mut last = 0;
        for n in 0..201 {
            let ticket = desk
                .open(OpenTicket {
                    phone: None,
                    owner: Some("O00002".into()),
                    unit: None,
                    kind: TicketKind::Consultation,
                    category: Category::CustomerServiceSales,
                    component: None,
                    description: format!("问题 {n}"),
                    owner_on_site: false,
                    actor: "agent1".into(),
                })
                .await
                .unwrap();
            last = ticket.ticket_id;
        }
        let sup = console.login("sup").await;
        let ids = listed(&sup, "").await;
        assert_eq!(ids.len(), 200, "{name}");
        assert_eq!(ids[0], last, "{name}: the newest first");
        let page = sup.get("/tickets").await;
        assert!(page.text.contains(r#"id="more""#), "{name}: the note");
        let page = sup.get("/tickets?state=closed").await;
        assert!(!page.text.contains(r#"id="more""#), "{name}");
    }
}
