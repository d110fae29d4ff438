//! The agent desktop over HTTP: presence wishes, the screen pop of a call bridged to the agent,
//! who may open which call (403 for another agent's), dispositions and scheduled callbacks.

use chrono::Utc;
use huifang::on_pool;
use huifang::store::Store;
use reqwest::Method;
use serde_json::json;

use crate::support::consoles;

/// A running campaign `code` with one contact, the first sample owner, leased to node `n1`
/// for five minutes; returns (campaign id, contact id, owner name, phone).
async fn leased_contact(store: &Store, code: &str) -> (i64, i64, String, String) {
    let now = Utc::now();
    let (owner_id, name, phone): (i64, String, String) = on_pool!(store, |pool| {
        sqlx::query_as(
            "select o.owner_id, o.name, p.phone from owners o
               join owner_phones p on p.owner_id = o.owner_id
              order by o.owner_id, p.position limit 1",
        )
        .fetch_one(pool)
        .await
    })
    .unwrap();
    let lease = now + chrono::TimeDelta::minutes(5);
    let (campaign, contact): (i64, i64) = on_pool!(store, |pool| async {
        let campaign: i64 = sqlx::query_scalar(
            "insert into campaigns (code, name, kind, state, definition, created_at, updated_at)
             values ($1, $1, 'callback', 'running', '', $2, $2) returning campaign_id",
        )
        .bind(code)
        .bind(now)
        .fetch_one(pool)
        .await?;
        let contact: i64 = sqlx::query_scalar(
            "insert into campaign_contacts (campaign_id, owner_id, phone, tz, state, lease_owner,
                                            lease_until, created_at, updated_at)
             values ($1, $2, $3, 'Asia/Shanghai', 'leased', 'n1', $4, $5, $5)
             returning campaign_contact_id",
        )
        .bind(campaign)
        .bind(owner_id)
        .bind(&phone)
        .bind(lease)
        .bind(now)
        .fetch_one(pool)
        .await?;
        Ok::<_, sqlx::Error>((campaign, contact))
    }
    .await)
    .unwrap();
    (campaign, contact, name, phone)
}

/// A campaign, a contact for the first sample owner and an attempt bridged to `agent` (still
/// on); returns (attempt id, owner name, phone).
pub(crate) async fn bridged_call(store: &Store, code: &str, agent: &str) -> (i64, String, String) {
    let (campaign, contact, name, phone) = leased_contact(store, code).await;
    let now = Utc::now();
    let attempt_id: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "insert into attempts (campaign_contact_id, campaign_id, channel, node, queued_at,
                                   dialed_at, answered_at, bridged_at, agent)
             values ($1, $2, 'voice', 'n1', $3, $3, $3, $3, $4) returning attempt_id",
        )
        .bind(contact)
        .bind(campaign)
        .bind(now)
        .bind(agent)
        .fetch_one(pool)
        .await
    })
    .unwrap();
    (attempt_id, name, phone)
}

#[tokio::test]
async fn a_call_opens_for_its_agent_and_their_supervisor_only() {
    for console in consoles().await {
        let (id, owner, phone) = bridged_call(&console.db.store, "cb-1", "agent1").await;
        let agent1 = console.login("agent1").await;
        let pop = agent1.get(&format!("/api/calls/{id}")).await;
        assert_eq!(pop.status, 200, "{}: {}", console.db.name, pop.text);
        let pop = pop.json();
        assert_eq!(pop["owner"]["owner"]["name"], owner.as_str());
        assert_eq!(pop["call"]["phone"], phone.as_str());
        assert!(
            pop["owner"]["units"]
                .as_array()
                .is_some_and(|u| !u.is_empty())
        );
        assert!(pop["components"].as_array().is_some());
        let page = agent1.get(&format!("/agent/calls/{id}")).await;
        assert_eq!(page.status, 200);
        assert!(page.text.contains(&owner), "the page names the owner");

        for (who, status) in [
            ("agent2", 403),
            ("agent3", 403),
            ("sup", 200),
            ("sup2", 403),
            ("admin", 200),
        ] {
            let b = console.login(who).await;
            assert_eq!(
                b.get(&format!("/api/calls/{id}")).await.status,
                status,
                "{who} api"
            );
            assert_eq!(
                b.get(&format!("/agent/calls/{id}")).await.status,
                status,
                "{who} page"
            );
        }
        assert_eq!(agent1.get("/api/calls/999999").await.status, 404);
        // The desktop's state carries the call on now.
        let state = agent1.get("/api/agent/state").await.json();
        assert_eq!(state["call"]["call"]["attempt_id"], id);
        // Supervisors have no desktop.
        assert_eq!(console.login("sup").await.get("/agent").await.status, 403);
    }
}

/// The desktop's screen-pop rows of `agent`, oldest first: (target, detail).
async fn pops_on_record(store: &Store, agent: &str) -> Vec<(String, String)> {
    let mut rows = huifang::audit::AuditLog::new(store)
        .search(&huifang::audit::AuditFilter {
            actor: Some(agent.into()),
            action: Some(huifang::audit::AuditAction::ScreenPop),
            ..Default::default()
        })
        .await
        .unwrap();
    rows.reverse();
    rows.into_iter().map(|r| (r.target, r.detail)).collect()
}

#[tokio::test]
async fn the_owner_of_the_call_on_now_goes_on_record_once_per_call() {
    for console in consoles().await {
        let db = &console.db.name;
        let store = &console.db.store;
        let (id, _owner, _phone) = bridged_call(store, "cb-audit", "agent1").await;
        let agent1 = console.login("agent1").await;
        // The desktop looks again and again; the owner's data went out once on record.
        for _ in 0..3 {
            let state = agent1.get("/api/agent/state").await.json();
            assert_eq!(state["call"]["call"]["attempt_id"], id, "{db}: {state}");
        }
        let state = agent1.get("/api/agent/state").await.json();
        let owner_id = state["call"]["owner"]["owner"]["owner_id"]
            .as_i64()
            .unwrap();
        let first = (format!("owner:{owner_id}"), format!("call {id}"));
        assert_eq!(
            pops_on_record(store, "agent1").await,
            std::slice::from_ref(&first),
            "{db}"
        );
        // The next call of the same owner is a new look at their data: a row of its own.
        let done = agent1
            .send_json(
                Method::POST,
                &format!("/api/calls/{id}/disposition"),
                &json!({"outcome": "resolved"}),
            )
            .await;
        assert_eq!(done.status, 201, "{db}: {}", done.text);
        let (next, _, _) = bridged_call(store, "cb-audit-2", "agent1").await;
        let state = agent1.get("/api/agent/state").await.json();
        assert_eq!(state["call"]["call"]["attempt_id"], next, "{db}: {state}");
        agent1.get("/api/agent/state").await;
        let second = (format!("owner:{owner_id}"), format!("call {next}"));
        assert_eq!(
            pops_on_record(store, "agent1").await,
            [first, second],
            "{db}"
        );
    }
}

#[tokio::test]
async fn presence_wishes_are_checked_and_stored() {
    for console in consoles().await {
        let agent = console.login("agent2").await;
        let page = agent.get("/agent").await;
        assert_eq!(page.status, 200);
        assert!(page.text.contains("id=\"f-sip_uri\""));
        // Ready without a phone, or with a bad one: the error names the field.
        let res = agent
            .send_json(
                Method::POST,
                "/api/agent/presence",
                &json!({"state": "ready"}),
            )
            .await;
        assert_eq!(res.status, 422);
        assert_eq!(res.json()["field"], "sip_uri");
        let res = agent
            .send_json(
                Method::POST,
                "/api/agent/presence",
                &json!({"state": "ready", "sip_uri": "1001@pbx"}),
            )
            .await;
        assert_eq!(res.status, 422);
        assert!(
            res.json()["error"]
                .as_str()
                .unwrap()
                .contains("not a SIP URI")
        );
        let res = agent
            .send_json(
                Method::POST,
                "/api/agent/presence",
                &json!({"state": "ready", "sip_uri": "sip:1002@127.0.0.1:5070"}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.json()["wanted"], "ready");
        // Pausing keeps the phone; no dialer holds the seat yet, so it is offline.
        let res = agent
            .send_json(
                Method::POST,
                "/api/agent/presence",
                &json!({"state": "paused"}),
            )
            .await;
        assert_eq!(res.status, 200);
        let state = agent.get("/api/agent/state").await.json();
        assert_eq!(state["presence"]["sip_uri"], "sip:1002@127.0.0.1:5070");
        assert_eq!(state["presence"]["wanted"], "paused");
        assert_eq!(state["presence"]["phase"], "offline");
        assert!(state["call"].is_null());
    }
}

#[tokio::test]
async fn a_disposition_is_checked_stored_once_and_schedules_the_callback() {
    for console in consoles().await {
        let (id, _, phone) = bridged_call(&console.db.store, "cb-2", "agent1").await;
        let agent1 = console.login("agent1").await;
        let path = format!("/api/calls/{id}/disposition");
        let bad = agent1
            .send_json(Method::POST, &path, &json!({"outcome": "great"}))
            .await;
        assert_eq!(bad.status, 422);
        assert_eq!(bad.json()["field"], "outcome");
        let bad = agent1
            .send_json(
                Method::POST,
                &path,
                &json!({"outcome": "callback", "satisfaction": 9}),
            )
            .await;
        assert_eq!(bad.json()["field"], "satisfaction");
        let bad = agent1
            .send_json(
                Method::POST,
                &path,
                &json!({"outcome": "callback", "callback_at": "2099-01-01T10:00", "callback_agent": "sup"}),
            )
            .await;
        assert_eq!(bad.json()["field"], "callback_agent");
        // Another agent cannot dispose agent1's call.
        let agent2 = console.login("agent2").await;
        let res = agent2
            .send_json(Method::POST, &path, &json!({"outcome": "resolved"}))
            .await;
        assert_eq!(res.status, 403);
        let ok = agent1
            .send_json(
                Method::POST,
                &path,
                &json!({"outcome": "callback", "satisfaction": 3, "notes": "wants the plumber again",
                        "callback_at": "2099-01-01T10:00", "callback_agent": "agent2"}),
            )
            .await;
        assert_eq!(ok.status, 201, "{}: {}", console.db.name, ok.text);
        let again = agent1
            .send_json(Method::POST, &path, &json!({"outcome": "resolved"}))
            .await;
        assert_eq!(again.status, 409);
        // Disposed: no longer agent1's current call; the callback is agent2's.
        assert!(agent1.get("/api/agent/state").await.json()["call"].is_null());
        let theirs = agent2.get("/api/agent/state").await.json();
        let callbacks = theirs["callbacks"].as_array().unwrap();
        assert_eq!(callbacks.len(), 1);
        assert_eq!(callbacks[0]["phone"], phone.as_str());
        assert_eq!(callbacks[0]["note"], "wants the plumber again");
        assert!(
            agent1.get("/api/agent/state").await.json()["callbacks"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn one_node_holds_a_desktop_agent_until_it_goes_quiet() {
    use huifang::desktop::{Wanted, set_presence};
    use huifang::dialer::presence::{STALE_AFTER, wanted};
    for console in consoles().await {
        let store = &console.db.store;
        let now = Utc::now();
        set_presence(
            store,
            "agent1",
            Some("sip:a1@127.0.0.1:5071"),
            Wanted::Ready,
            now,
        )
        .await
        .unwrap();
        set_presence(
            store,
            "agent2",
            Some("sip:a2@127.0.0.1:5072"),
            Wanted::Paused,
            now,
        )
        .await
        .unwrap();
        set_presence(
            store,
            "agent3",
            Some("sip:a3@127.0.0.1:5073"),
            Wanted::Off,
            now,
        )
        .await
        .unwrap();
        let first = wanted(store, "n1", now).await.unwrap();
        let names: Vec<(&str, bool)> = first.iter().map(|w| (w.name.as_str(), w.paused)).collect();
        assert_eq!(
            names,
            [("agent1", false), ("agent2", true)],
            "{}",
            console.db.name
        );
        // Another live node gets none of them; the holder keeps them.
        assert!(wanted(store, "n2", now).await.unwrap().is_empty());
        assert_eq!(wanted(store, "n1", now).await.unwrap().len(), 2);
        // The holder goes quiet: after STALE_AFTER the other node takes them over.
        let later =
            now + chrono::TimeDelta::from_std(STALE_AFTER).unwrap() + chrono::TimeDelta::seconds(1);
        assert_eq!(wanted(store, "n2", later).await.unwrap().len(), 2);
        assert!(wanted(store, "n1", later).await.unwrap().is_empty());
    }
}

/// A preview campaign's contact for the first sample owner, leased to node `n1`, offered to
/// `agent` (undecided); returns (preview id, contact id, owner name, phone).
async fn offered(store: &Store, code: &str, agent: &str) -> (i64, i64, String, String) {
    let (campaign, contact, name, phone) = leased_contact(store, code).await;
    let id = huifang::dialer::preview::offer(store, agent, campaign, contact, "n1", Utc::now())
        .await
        .unwrap();
    (id, contact, name, phone)
}

#[tokio::test]
async fn the_preview_decision_is_the_offered_agents_own_and_checked() {
    for console in consoles().await {
        let db = &console.db.name;
        let agent1 = console.login("agent1").await;
        let agent2 = console.login("agent2").await;
        // Nothing offered: 409 saying so, and no preview on the desktop.
        let res = agent1
            .send_json(
                Method::POST,
                "/api/agent/preview",
                &json!({"decision": "dial"}),
            )
            .await;
        assert_eq!(res.status, 409, "{db}: {}", res.text);
        assert!(res.text.contains("no contact is offered"), "{}", res.text);
        assert!(agent1.get("/api/agent/state").await.json()["preview"].is_null());

        let (id, _contact, owner, phone) = offered(&console.db.store, "pv-1", "agent1").await;
        // The desktop shows the offer with the owner's screen pop.
        let state = agent1.get("/api/agent/state").await.json();
        assert_eq!(state["preview"]["offer"]["preview_id"], id, "{db}: {state}");
        assert_eq!(state["preview"]["offer"]["phone"], phone.as_str());
        assert_eq!(state["preview"]["offer"]["campaign"], "pv-1");
        assert_eq!(state["preview"]["owner"]["owner"]["name"], owner.as_str());
        // The owner's screen pop went on record once, however often the desktop looks.
        agent1.get("/api/agent/state").await;
        let rows = huifang::audit::AuditLog::new(&console.db.store)
            .search(&huifang::audit::AuditFilter {
                actor: Some("agent1".into()),
                action: Some(huifang::audit::AuditAction::ScreenPop),
                ..Default::default()
            })
            .await
            .unwrap();
        let owner_id = state["preview"]["owner"]["owner"]["owner_id"]
            .as_i64()
            .unwrap();
        let shown: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.target.as_str(), r.detail.as_str(), r.address.as_str()))
            .collect();
        let (target, detail) = (format!("owner:{owner_id}"), format!("preview {id}"));
        assert_eq!(
            shown,
            [(target.as_str(), detail.as_str(), "127.0.0.1")],
            "{db}"
        );
        // Another agent sees none of it and cannot decide it.
        assert!(agent2.get("/api/agent/state").await.json()["preview"].is_null());
        let res = agent2
            .send_json(
                Method::POST,
                "/api/agent/preview",
                &json!({"decision": "skip"}),
            )
            .await;
        assert_eq!(res.status, 409, "{db}: {}", res.text);
        // An unknown decision: 422 naming the field.
        let res = agent1
            .send_json(
                Method::POST,
                "/api/agent/preview",
                &json!({"decision": "call"}),
            )
            .await;
        assert_eq!(res.status, 422, "{db}: {}", res.text);
        assert_eq!(res.json()["field"], "decision");
        let res = agent1
            .send_json(
                Method::POST,
                "/api/agent/preview",
                &json!({"verdict": "dial"}),
            )
            .await;
        assert_eq!(res.status, 422, "{db}: {}", res.text);
        // Still undecided after all that; the agent's own decision is taken once.
        let decided = huifang::dialer::preview::decision_of(&console.db.store, id)
            .await
            .unwrap();
        assert_eq!(decided, None);
        let res = agent1
            .send_json(
                Method::POST,
                "/api/agent/preview",
                &json!({"decision": "dial"}),
            )
            .await;
        assert_eq!(res.status, 200, "{db}: {}", res.text);
        assert_eq!(res.json()["preview_id"], id);
        let decided = huifang::dialer::preview::decision_of(&console.db.store, id)
            .await
            .unwrap();
        assert_eq!(decided, Some(huifang::dialer::preview::Decision::Dial));
        let res = agent1
            .send_json(
                Method::POST,
                "/api/agent/preview",
                &json!({"decision": "skip"}),
            )
            .await;
        assert_eq!(res.status, 409, "{db}: {}", res.text);
        assert!(res.text.contains("already decided"), "{}", res.text);
        // Once the node closed it, the desktop no longer shows it.
        huifang::dialer::preview::close(&console.db.store, id, "dial", Utc::now())
            .await
            .unwrap();
        assert!(agent1.get("/api/agent/state").await.json()["preview"].is_null());
    }
}

/// A hotline call from `phone` put through to `agent` now (the row the hotline writes).
async fn hotline_call(store: &Store, phone: &str, agent: &str) -> i64 {
    let now = chrono::Utc::now();
    on_pool!(store, |pool| {
        sqlx::query_scalar(
            "insert into inbound_calls (node, number, caller, arrived_at, answered_at, choices,
                                        queue, queued_at, agent, connected_at)
             values ('n1', '4008108888', $1, $2, $2, '1', 'repair', $2, $3, $2)
             returning inbound_call_id",
        )
        .bind(phone)
        .bind(now)
        .bind(agent)
        .fetch_one(pool)
        .await
    })
    .unwrap()
}

#[tokio::test]
async fn a_hotline_caller_pops_up_for_their_agent_only_with_every_owner_of_the_number() {
    for console in consoles().await {
        let store = &console.db.store;
        let (phone, owner): (String, String) = on_pool!(store, |pool| {
            sqlx::query_as(
                "select p.phone, o.name from owner_phones p join owners o on o.owner_id = p.owner_id
                  order by p.owner_id limit 1",
            )
            .fetch_one(pool)
            .await
        })
        .unwrap();
        let id = hotline_call(store, &phone, "agent1").await;
        let agent1 = console.login("agent1").await;
        let state = agent1.get("/api/agent/state").await.json();
        assert_eq!(
            state["inbound"]["inbound_call_id"], id,
            "{}",
            console.db.name
        );
        assert!(
            state["inbound"].get("owners").is_none(),
            "no owner data in the snapshot"
        );
        let pop = agent1.get(&format!("/agent/inbound/{id}/pop")).await;
        assert_eq!(pop.status, 200, "{}: {}", console.db.name, pop.text);
        assert!(pop.text.contains(&owner), "{}", pop.text);
        assert!(pop.text.contains("pop-open-tickets"), "{}", pop.text);
        for (who, status) in [("agent2", 403), ("sup", 200), ("sup2", 403)] {
            let b = console.login(who).await;
            let got = b.get(&format!("/agent/inbound/{id}/pop")).await.status;
            assert_eq!(got, status, "{who}");
        }
        assert_eq!(agent1.get("/agent/inbound/999999/pop").await.status, 404);
        // An unknown number: a blank owner form.
        let unknown = hotline_call(store, "+8613311112222", "agent1").await;
        let pop = agent1.get(&format!("/agent/inbound/{unknown}/pop")).await;
        assert!(pop.text.contains("pop-new-owner"), "{}", pop.text);
    }
}
