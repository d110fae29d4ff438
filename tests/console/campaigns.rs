//! The supervisor's campaign pages over HTTP: creating (pasted and from the form, errors next
//! to their fields), life-cycle steps, the wallboard's figures and its event stream, the
//! drill-down to attempts, and agents kept out.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use huifang::store::Store;
use serde_json::{Value, json};

use crate::support::{Browser, Console, PASSWORD, consoles};

/// A small notification campaign: the owners of one building, a recorded notice.
fn notice(code: &str) -> String {
    format!(
        "code = \"{code}\"\nname = \"通知 {code}\"\nkind = \"notification\"\nmode = \"agentless\"\n\
         prompts = [\"handover-notice\"]\nmax_abandon_pct = 3\n\
         [source]\nowners = {{ buildings = [\"HYF-3\"] }}\n\
         [windows]\nmon-sun = [\"00:00-24:00\"]\n"
    )
}

/// Creates `code` from a pasted definition; returns the campaign id.
async fn create(sup: &Browser, store: &Store, code: &str) -> i64 {
    let page = sup
        .post_form(
            "/campaigns/new",
            &[("definition", &notice(code)), ("op", "create")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.text);
    campaign_id(store, code).await
}

async fn campaign_id(store: &Store, code: &str) -> i64 {
    huifang::on_pool!(store, |pool| {
        sqlx::query_scalar("select campaign_id from campaigns where code = $1")
            .bind(code)
            .fetch_one(pool)
            .await
    })
    .unwrap()
}

/// The text of the element with `id` (up to its first `<`), for ids on a leaf element.
fn text_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let open = rest.find('>')?;
    let rest = &rest[open + 1..];
    Some(rest[..rest.find('<')?].trim().to_string())
}

#[tokio::test]
async fn campaigns_are_created_from_a_pasted_definition_and_from_the_form() {
    for console in consoles().await {
        let sup = console.login("sup").await;
        let form = sup.get("/campaigns/new").await;
        assert_eq!(form.status, 200);
        for id in [
            "campaign-form",
            "f-code",
            "f-definition",
            "validate",
            "create",
        ] {
            assert!(form.text.contains(&format!("id=\"{id}\"")), "{id}");
        }

        // Validate only: ok, and nothing is created.
        let checked = sup
            .post_form(
                "/campaigns/new",
                &[("definition", &notice("pasted")), ("op", "validate")],
            )
            .await;
        assert_eq!(checked.status, 200, "{}", checked.text);
        let ok = text_of(&checked.text, "validate-ok").unwrap();
        assert!(
            ok.starts_with("valid: notification campaign, agentless"),
            "{ok}"
        );
        assert!(!sup.get("/campaigns").await.text.contains("campaign-pasted"));

        // Pasted and created: a draft with the building's owners loaded.
        let page = sup
            .post_form(
                "/campaigns/new",
                &[("definition", &notice("pasted")), ("op", "create")],
            )
            .await;
        assert_eq!(page.status, 303, "{}", page.text);
        assert_eq!(page.location.as_deref(), Some("/campaigns/pasted"));

        // From the form's fields, started at once.
        let page = sup
            .post_form(
                "/campaigns/new",
                &[
                    ("code", "from-form"),
                    ("name", "交付通知 B"),
                    ("kind", "notification"),
                    ("source", "owners"),
                    ("buildings", "HYF-3, HYF-5"),
                    ("mode", "agentless"),
                    ("prompts", "handover-notice"),
                    (
                        "windows",
                        "mon-fri = 09:00-12:00, 14:00-19:30\nsat = 10:00-12:00",
                    ),
                    ("retry", "busy = 30m max 2\ndaily_cap = 2"),
                    ("max_abandon_pct", "2.5"),
                    ("channels", "voice"),
                    ("start", "1"),
                    ("op", "create"),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "{}", page.text);
        assert_eq!(page.location.as_deref(), Some("/campaigns/from-form"));

        let list = sup.get("/campaigns").await;
        assert_eq!(list.status, 200);
        assert!(list.text.contains("id=\"campaigns\""));
        assert!(list.text.contains("id=\"campaign-pasted\""));
        assert!(list.text.contains("id=\"action-start-pasted\""));
        assert!(list.text.contains("id=\"action-pause-from-form\""));
        let all = sup.get("/api/campaigns").await.json();
        let made = all
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == "from-form")
            .unwrap();
        assert_eq!(made["state"], "running", "{made}");
        assert_eq!(made["mode"], "agentless");
        assert!(made["contacts"]["total"].as_i64().unwrap() > 0, "{made}");
        let stored = huifang::campaigns::repo::Campaigns::new(&console.db.store)
            .get("from-form")
            .await
            .unwrap();
        let definition = stored.definition().unwrap();
        assert_eq!(definition.max_abandon_pct(), 2.5);
        assert_eq!(definition.windows().count(), 11);
        assert_eq!(definition.retry().daily_cap(), 2);
        let events = huifang::campaigns::repo::Campaigns::new(&console.db.store)
            .events(stored.campaign_id)
            .await
            .unwrap();
        assert!(events.iter().all(|e| e.actor == "sup"), "{events:?}");

        // The API does the same with JSON.
        let made = sup
            .send_json(
                reqwest::Method::POST,
                "/api/campaigns",
                &json!({ "definition": notice("by-api") }),
            )
            .await;
        assert_eq!(made.status, 201, "{}", made.text);
        assert_eq!(made.json()["campaign"]["state"], "draft");
        let bad = sup
            .send_json(
                reqwest::Method::POST,
                "/api/campaigns/validate",
                &json!({ "definition": notice("x").replace("agentless", "warp") }),
            )
            .await;
        assert_eq!(bad.status, 422, "{}", bad.text);
        assert!(
            bad.json()["errors"][0]
                .as_str()
                .unwrap()
                .contains("unknown dial mode `warp`")
        );
    }
}

#[tokio::test]
async fn bad_values_are_shown_next_to_their_fields_with_the_values_kept() {
    for console in consoles().await {
        let sup = console.login("sup").await;
        let fields = |windows: &'static str, mode: &'static str| {
            vec![
                ("code", "bad-one"),
                ("name", "坏的"),
                ("kind", "notification"),
                ("source", "owners"),
                ("buildings", "HYF-3"),
                ("mode", mode),
                ("prompts", "handover-notice"),
                ("windows", windows),
                ("op", "validate"),
            ]
        };
        let page = sup
            .post_form("/campaigns/new", &fields("mon-fri = 25:00-26:00", "warp"))
            .await;
        assert_eq!(page.status, 422, "{}", page.text);
        let windows = text_of(&page.text, "windows-error").unwrap();
        assert!(windows.contains("windows.mon-fri[0]"), "{windows}");
        assert!(windows.contains("25:00-26:00"), "{windows}");
        let mode = text_of(&page.text, "mode-error").unwrap();
        assert!(mode.contains("unknown dial mode `warp`"), "{mode}");
        // What was typed is kept.
        assert!(page.text.contains("value=\"warp\""));
        assert!(page.text.contains(">mon-fri = 25:00-26:00</textarea>"));
        assert!(page.text.contains("value=\"bad-one\""));
        assert!(text_of(&page.text, "code-error").is_none());

        // What the form itself cannot read is named on its field, too.
        let mut typed = fields("mon-fri 09:00", "agentless");
        typed.push(("max_abandon_pct", "lots"));
        let page = sup.post_form("/campaigns/new", &typed).await;
        assert_eq!(page.status, 422);
        assert!(
            text_of(&page.text, "windows-error")
                .unwrap()
                .contains("has no `=`")
        );
        assert!(
            text_of(&page.text, "max_abandon_pct-error")
                .unwrap()
                .contains("`lots` is not a number")
        );

        // A pasted definition's errors are next to it, with their lines.
        let pasted = notice("p").replace("00:00-24:00", "25:00-26:00");
        let page = sup
            .post_form(
                "/campaigns/new",
                &[("definition", &pasted), ("op", "create")],
            )
            .await;
        assert_eq!(page.status, 422);
        let error = text_of(&page.text, "definition-error").unwrap();
        assert!(
            error.starts_with("definition:10: windows.mon-sun[0]"),
            "{error}"
        );
        assert!(
            page.text.contains("25:00-26:00&quot;]\n</textarea>"),
            "kept"
        );
        assert!(sup.get("/api/campaigns").await.json() == json!([]));

        // A taken code is the code's error.
        create(&sup, &console.db.store, "taken").await;
        let mut again = fields("mon-fri = 09:00-12:00", "agentless");
        again[0] = ("code", "taken");
        again[8] = ("op", "create");
        let page = sup.post_form("/campaigns/new", &again).await;
        assert_eq!(page.status, 422);
        assert!(
            text_of(&page.text, "code-error")
                .unwrap()
                .contains("already exists")
        );
        // A CSV list that is not there is named before anything is stored.
        let mut missing = fields("mon-fri = 09:00-12:00", "agentless");
        missing[3] = ("source", "csv");
        missing.push(("csv", "lists/none-such.csv"));
        missing[8] = ("op", "create");
        missing[0] = ("code", "no-list");
        let page = sup.post_form("/campaigns/new", &missing).await;
        assert_eq!(page.status, 422, "{}", page.text);
        assert!(
            text_of(&page.text, "csv-error")
                .unwrap()
                .contains("none-such.csv: no such CSV file")
        );
        let mut nameless = fields("mon-fri = 09:00-12:00", "agentless");
        nameless[1] = ("name", " ");
        let page = sup.post_form("/campaigns/new", &nameless).await;
        assert_eq!(page.status, 422, "{}", page.text);
        assert!(
            text_of(&page.text, "name-error")
                .unwrap()
                .contains("name: must not be empty")
        );
        let list = sup.get("/api/campaigns").await.json();
        assert_eq!(list.as_array().unwrap().len(), 1, "only `taken`: {list}");
        // An error no input holds goes to the top of the form: a CSV that is no contact list.
        let mut odd = missing.clone();
        odd[0] = ("code", "odd-list");
        let at = odd.iter().position(|(k, _)| *k == "csv").unwrap();
        odd[at] = ("csv", "sample/units.csv");
        let page = sup.post_form("/campaigns/new", &odd).await;
        assert_eq!(page.status, 422, "{}", page.text);
        let top = text_of(&page.text, "form-error").unwrap();
        assert!(top.contains("lists did not load"), "{top}");
    }
}

#[tokio::test]
async fn supervisors_start_pause_resume_and_stop_through_the_forms() {
    for console in consoles().await {
        let sup = console.login("sup").await;
        create(&sup, &console.db.store, "steps").await;
        let board = sup.get("/campaigns/steps").await;
        assert_eq!(
            text_of(&board.text, "campaign-state").as_deref(),
            Some("draft")
        );
        assert!(board.text.contains("id=\"action-start\""));
        assert!(board.text.contains("id=\"action-stop\""));
        assert!(!board.text.contains("id=\"action-pause\""));

        for (action, state) in [
            ("start", "running"),
            ("pause", "paused"),
            ("resume", "running"),
        ] {
            let done = sup
                .post_form(&format!("/campaigns/steps/{action}"), &[("reason", "test")])
                .await;
            assert_eq!(done.status, 303, "{action}: {}", done.text);
            assert_eq!(done.location.as_deref(), Some("/campaigns/steps"));
            let board = sup.get("/campaigns/steps").await;
            assert_eq!(
                text_of(&board.text, "campaign-state").as_deref(),
                Some(state)
            );
        }
        // A refused step says why, on the page it came from.
        let refused = sup.post_form("/campaigns/steps/resume", &[]).await;
        assert_eq!(refused.status, 409);
        let why = text_of(&refused.text, "action-error").unwrap();
        assert!(
            why.contains("cannot resume a campaign that is running; allowed now: pause"),
            "{why}"
        );
        let from_list = sup
            .post_form("/campaigns/steps/start", &[("back", "list")])
            .await;
        assert_eq!(from_list.status, 409);
        assert!(from_list.text.contains("id=\"campaigns\""));
        assert!(
            from_list
                .text
                .contains("cannot start a campaign that is running")
        );
        // An unknown step is a 404.
        assert_eq!(
            sup.post_form("/campaigns/steps/explode", &[]).await.status,
            404
        );

        // Stop from the list page goes back there.
        let stopped = sup
            .post_form("/campaigns/steps/stop", &[("back", "list")])
            .await;
        assert_eq!(stopped.status, 303);
        assert_eq!(stopped.location.as_deref(), Some("/campaigns"));
        let board = sup.get("/campaigns/steps").await;
        assert_eq!(
            text_of(&board.text, "campaign-state").as_deref(),
            Some("stopped")
        );
        assert!(!board.text.contains("id=\"action-"));

        // The API: JSON in and out, the actor is the one logged in.
        create(&sup, &console.db.store, "api-steps").await;
        let started = sup
            .send_json(
                reqwest::Method::POST,
                "/api/campaigns/api-steps/start",
                &json!({ "reason": "go" }),
            )
            .await;
        assert_eq!(started.status, 200, "{}", started.text);
        assert_eq!(started.json()["state"], "running");
        assert_eq!(started.json()["actions"], json!(["pause", "stop"]));
        let again = sup
            .send_json(
                reqwest::Method::POST,
                "/api/campaigns/api-steps/start",
                &json!({}),
            )
            .await;
        assert_eq!(again.status, 409);
        let id = campaign_id(&console.db.store, "api-steps").await;
        let events = huifang::campaigns::repo::Campaigns::new(&console.db.store)
            .events(id)
            .await
            .unwrap();
        let last = events.last().unwrap();
        assert_eq!((last.actor.as_str(), last.reason.as_str()), ("sup", "go"));
    }
}

/// Writes a node's live counters, `age_secs` old.
async fn live(store: &Store, campaign_id: i64, node: &str, counts: [i64; 4], age_secs: i64) {
    let at = Utc::now() - TimeDelta::seconds(age_secs);
    huifang::on_pool!(store, |pool| {
        sqlx::query("delete from dialer_live where campaign_id = $1 and node = $2")
            .bind(campaign_id)
            .bind(node)
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(
            "insert into dialer_live (campaign_id, node, dialing, ringing, connected, waiting,
                                      updated_at)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(campaign_id)
        .bind(node)
        .bind(counts[0])
        .bind(counts[1])
        .bind(counts[2])
        .bind(counts[3])
        .bind(at)
        .execute(pool)
        .await
        .unwrap();
    });
}

async fn presence(store: &Store, agent: &str, phase: &str) {
    huifang::on_pool!(store, |pool| {
        sqlx::query(
            "insert into agent_presence (agent, wanted, node, phase, phase_since, updated_at)
             values ($1, 'ready', 'n1', $2, $3, $3)",
        )
        .bind(agent)
        .bind(phase)
        .bind(Utc::now())
        .execute(pool)
        .await
        .unwrap();
    });
}

/// The campaign's first contacts (loaded from the building's owners).
async fn contacts(store: &Store, campaign_id: i64) -> Vec<i64> {
    huifang::on_pool!(store, |pool| {
        sqlx::query_scalar(
            "select campaign_contact_id from campaign_contacts where campaign_id = $1
              order by campaign_contact_id",
        )
        .bind(campaign_id)
        .fetch_all(pool)
        .await
    })
    .unwrap()
}

/// Records an ended voice attempt; `answered` sets its answer time. Returns its id.
async fn attempt(
    store: &Store,
    campaign_id: i64,
    contact: i64,
    outcome: &str,
    answered: bool,
) -> i64 {
    let now: DateTime<Utc> = Utc::now() - TimeDelta::minutes(5);
    huifang::on_pool!(store, |pool| {
        sqlx::query_scalar(
            "insert into attempts (campaign_contact_id, campaign_id, channel, node, queued_at,
                                   dialed_at, answered_at, ended_at, outcome, sip_status, agent,
                                   detail)
             values ($1, $2, 'voice', 'n1', $3, $3, $4, $3, $5, 200, 'agent1', 'test')
             returning attempt_id",
        )
        .bind(contact)
        .bind(campaign_id)
        .bind(now)
        .bind(answered.then_some(now))
        .bind(outcome)
        .fetch_one(pool)
        .await
    })
    .unwrap()
}

async fn answer(
    store: &Store,
    campaign_id: i64,
    contact: i64,
    attempt: i64,
    node: &str,
    value: &str,
) {
    huifang::on_pool!(store, |pool| {
        sqlx::query(
            "insert into survey_answers (attempt_id, campaign_contact_id, campaign_id, node,
                                         kind, value, at)
             values ($1, $2, $3, $4, 'rating', $5, $6)",
        )
        .bind(attempt)
        .bind(contact)
        .bind(campaign_id)
        .bind(node)
        .bind(value)
        .bind(Utc::now())
        .execute(pool)
        .await
        .unwrap();
    });
}

#[tokio::test]
async fn the_wallboard_counts_fresh_calls_team_agents_attempts_and_answers() {
    for console in consoles().await {
        let store = &console.db.store;
        let sup = console.login("sup").await;
        let id = create(&sup, store, "board").await;
        live(store, id, "node-a", [2, 3, 4, 1], 0).await;
        live(store, id, "node-b", [1, 1, 1, 1], 1).await;
        live(store, id, "node-dead", [50, 50, 50, 50], 8).await;
        presence(store, "agent1", "free").await;
        presence(store, "agent2", "talk").await;
        presence(store, "agent3", "wrap").await;
        presence(store, "ghost", "paused").await;
        let people = contacts(store, id).await;
        assert!(people.len() >= 3, "the building has owners");
        let a1 = attempt(store, id, people[0], "completed", true).await;
        let a2 = attempt(store, id, people[1], "completed", true).await;
        attempt(store, id, people[2], "abandoned", true).await;
        attempt(store, id, people[2], "no_answer", false).await;
        answer(store, id, people[0], a1, "q1", "5").await;
        answer(store, id, people[1], a2, "q1", "5").await;
        answer(store, id, people[1], a2, "q2", "1").await;

        let s = sup.get("/api/campaigns/board/wallboard").await;
        assert_eq!(s.status, 200, "{}", s.text);
        let s = s.json();
        assert_eq!(
            s["calls"],
            json!({ "dialing": 3, "ringing": 4, "connected": 5, "waiting": 2, "nodes": 2 })
        );
        let agents = &s["agents"];
        assert_eq!(
            (
                &agents["free"],
                &agents["talk"],
                &agents["wrap"],
                &agents["paused"]
            ),
            (&json!(1), &json!(1), &json!(0), &json!(0)),
            "team north only: {agents}"
        );
        // A seat no node renewed for a minute (its node died) counts as offline.
        huifang::on_pool!(store, |pool| {
            sqlx::query("update agent_presence set updated_at = $1 where agent = 'agent1'")
                .bind(Utc::now() - chrono::TimeDelta::seconds(60))
                .execute(pool)
                .await
                .unwrap();
        });
        let stale = sup.get("/api/campaigns/board/wallboard").await.json();
        assert_eq!(stale["agents"]["free"], 0, "{}", stale["agents"]);
        assert_eq!(stale["agents"]["offline"], 1, "{}", stale["agents"]);
        huifang::on_pool!(store, |pool| {
            sqlx::query("update agent_presence set updated_at = $1 where agent = 'agent1'")
                .bind(Utc::now())
                .execute(pool)
                .await
                .unwrap();
        });
        assert_eq!(s["attempts_total"], 4);
        assert_eq!(
            s["attempts"],
            json!({ "abandoned": 1, "completed": 2, "no_answer": 1 })
        );
        let day = &s["abandon"]["last_24h"];
        assert_eq!(
            (&day["answered"], &day["abandoned"]),
            (&json!(3), &json!(1))
        );
        assert_eq!(day["over"], true, "a third is over the 3 % cap");
        assert_eq!(s["abandon"]["max_pct"], 3.0);
        assert_eq!(
            s["survey"],
            json!([
                { "node": "q1", "value": "5", "answers": 2 },
                { "node": "q2", "value": "1", "answers": 1 },
            ])
        );
        let contacts = &s["contacts"];
        assert_eq!(contacts["done"], 0);
        assert_eq!(contacts["remaining"], contacts["total"]);
        assert_eq!(s["state"], "draft");
        assert_eq!(s["actions"], json!(["start", "stop"]));

        // The other team's supervisor counts the other team; the admin everyone.
        let south = console.login("sup2").await;
        let agents = south.get("/api/campaigns/board/wallboard").await.json()["agents"].clone();
        assert_eq!(
            (&agents["free"], &agents["wrap"]),
            (&json!(0), &json!(1)),
            "{agents}"
        );
        let admin = console.login("admin").await;
        let agents = admin.get("/api/campaigns/board/wallboard").await.json()["agents"].clone();
        assert_eq!(
            (
                &agents["free"],
                &agents["talk"],
                &agents["wrap"],
                &agents["paused"]
            ),
            (&json!(1), &json!(1), &json!(1), &json!(1)),
            "{agents}"
        );

        // The page shows the same numbers under the ids the browser tests use.
        let page = sup.get("/campaigns/board").await;
        assert_eq!(page.status, 200);
        let shown = |id: &str| text_of(&page.text, id).unwrap_or_else(|| panic!("{id}"));
        assert_eq!(shown("live-dialing"), "3");
        assert_eq!(shown("live-ringing"), "4");
        assert_eq!(shown("live-connected"), "5");
        assert_eq!(shown("live-waiting"), "2");
        assert_eq!(shown("live-agents-free"), "1");
        assert_eq!(shown("live-agents-talk"), "1");
        assert_eq!(shown("live-agents-wrap"), "0");
        assert_eq!(shown("live-agents-paused"), "0");
        assert_eq!(shown("live-abandon-24h"), "33.3 %");
        assert_eq!(shown("live-abandon-30d"), "33.3 %");
        assert_eq!(shown("live-attempts"), "4");
        assert_eq!(shown("live-done"), "0");
        assert_eq!(shown("campaign-state"), "draft");
        assert!(
            page.text
                .contains("class=\"tile over\" id=\"tile-abandon-24h\"")
        );
        assert!(
            page.text
                .contains("/campaigns/board/attempts?outcome=abandoned")
        );

        assert_eq!(sup.get("/api/campaigns/none/wallboard").await.status, 404);
        assert_eq!(sup.get("/campaigns/none").await.status, 404);
    }
}

/// Logs in with a client of its own, for reading a stream; returns it and the cookie.
async fn streaming_login(console: &Console, username: &str) -> (reqwest::Client, String) {
    let answer = console.post_login(username, PASSWORD).await;
    (answer.http, answer.cookie.expect("session cookie"))
}

/// Reads server-sent events until one satisfies `wanted`, at most `within`.
async fn until(
    res: &mut reqwest::Response,
    buffer: &mut String,
    within: Duration,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    tokio::time::timeout(within, async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                for line in event.lines() {
                    if let Some(data) = line.strip_prefix("data:") {
                        let value: Value = serde_json::from_str(data.trim()).unwrap();
                        if wanted(&value) {
                            return value;
                        }
                    }
                }
            }
            let chunk = res.chunk().await.unwrap().expect("the stream goes on");
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("the awaited snapshot in time")
}

#[tokio::test]
async fn the_live_stream_sends_a_changed_snapshot_within_a_second() {
    for console in consoles().await {
        let store = &console.db.store;
        let sup = console.login("sup").await;
        let id = create(&sup, store, "streamed").await;
        live(store, id, "node-a", [1, 0, 0, 0], 0).await;
        let (http, cookie) = streaming_login(&console, "sup").await;
        let mut res = http
            .get(format!("{}/api/campaigns/streamed/live", console.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        let mut buffer = String::new();
        let first = until(&mut res, &mut buffer, Duration::from_secs(5), |_| true).await;
        assert_eq!(first["calls"]["dialing"], 1);

        live(store, id, "node-a", [7, 2, 0, 0], 0).await;
        let changed = std::time::Instant::now();
        let next = until(&mut res, &mut buffer, Duration::from_secs(5), |s| {
            s["calls"]["dialing"] == 7
        })
        .await;
        assert_eq!(next["calls"]["ringing"], 2);
        assert!(
            changed.elapsed() < Duration::from_millis(1500),
            "seen after {:?}",
            changed.elapsed()
        );
        // A state change comes through the same way.
        sup.post_form("/campaigns/streamed/start", &[]).await;
        until(&mut res, &mut buffer, Duration::from_secs(5), |s| {
            s["state"] == "running"
        })
        .await;
        assert_eq!(
            http.get(format!("{}/api/campaigns/gone/live", console.base))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
        // Stopping the server ends the stream (graceful shutdown is not held up by it).
        drop(console);
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            while res.chunk().await.ok().flatten().is_some() {}
        })
        .await;
        assert!(ended.is_ok(), "the stream ended with the server");
    }
}

#[tokio::test]
async fn event_streams_end_when_their_session_does() {
    for console in consoles().await {
        let store = &console.db.store;
        let sup = console.login("sup").await;
        let id = create(&sup, store, "session-bound").await;
        live(store, id, "node-a", [1, 0, 0, 0], 0).await;
        let mut streams = Vec::new();
        for (user, path) in [
            ("sup", "/api/campaigns/session-bound/live"),
            ("agent1", "/api/agent/live"),
        ] {
            let (http, cookie) = streaming_login(&console, user).await;
            let mut res = http
                .get(format!("{}{path}", console.base))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{path}");
            let mut buffer = String::new();
            until(&mut res, &mut buffer, Duration::from_secs(5), |_| true).await;
            streams.push((path, cookie, res));
        }
        // Logged out elsewhere (another tab): the open streams stop showing anything.
        for (_, cookie, _) in &streams {
            let token = cookie.trim_start_matches("huifang_session=");
            huifang::users::Users::new(store)
                .close_session(token, Utc::now())
                .await
                .unwrap();
        }
        for (path, _, mut res) in streams {
            // Sessions are re-checked every 5 s; the bound only keeps a broken build from hanging.
            let ended = tokio::time::timeout(Duration::from_secs(30), async {
                while res.chunk().await.ok().flatten().is_some() {}
            })
            .await;
            assert!(
                ended.is_ok(),
                "{}: {path} went on after the logout",
                console.db.name
            );
        }
    }
}

#[tokio::test]
async fn the_drill_down_lists_attempts_by_outcome_fifty_a_page() {
    for console in consoles().await {
        let store = &console.db.store;
        let sup = console.login("sup").await;
        let id = create(&sup, store, "drill").await;
        let people = contacts(store, id).await;
        for i in 0..52 {
            attempt(store, id, people[i % people.len()], "no_answer", false).await;
        }
        let busy = attempt(store, id, people[0], "busy", false).await;
        attempt(store, id, people[1], "completed", true).await;

        let page = sup.get("/campaigns/drill/attempts?outcome=busy").await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains(&format!("id=\"attempt-{busy}\"")));
        assert_eq!(page.text.matches("<tr id=\"attempt-").count(), 1);
        let owner: String = huifang::on_pool!(store, |pool| {
            sqlx::query_scalar(
                "select o.name from campaign_contacts c join owners o on o.owner_id = c.owner_id
                  where c.campaign_contact_id = $1",
            )
            .bind(people[0])
            .fetch_one(pool)
            .await
        })
        .unwrap();
        assert!(page.text.contains(&owner), "the contact's name");

        let first = sup.get("/campaigns/drill/attempts?outcome=no_answer").await;
        assert_eq!(first.text.matches("<tr id=\"attempt-").count(), 50);
        assert!(first.text.contains("id=\"page-next\""));
        assert!(
            first
                .text
                .contains("href=\"/campaigns/drill/attempts?outcome=no_answer&amp;page=2\"")
        );
        let second = sup
            .get("/campaigns/drill/attempts?outcome=no_answer&page=2")
            .await;
        assert_eq!(second.text.matches("<tr id=\"attempt-").count(), 2);
        assert!(second.text.contains("id=\"page-prev\""));
        let all = sup.get("/campaigns/drill/attempts").await;
        assert!(all.text.contains("54 attempt(s)"), "{}", all.text);

        let json = sup
            .get("/api/campaigns/drill/attempts?outcome=completed")
            .await
            .json();
        assert_eq!(json["total"], 1);
        assert_eq!(json["attempts"][0]["outcome"], "completed");
        assert_eq!(json["attempts"][0]["agent"], "agent1");
        assert_eq!(json["pages"], 1);

        // All of them as CSV, oldest first, the filter kept; the export is on record.
        let page = sup.get("/campaigns/drill/attempts").await;
        assert!(page.text.contains("href=\"/campaigns/drill/attempts.csv\""));
        let res = sup.get_response("/campaigns/drill/attempts.csv").await;
        assert_eq!(res.status(), 200);
        let disposition = res.headers()["content-disposition"].to_str().unwrap();
        assert_eq!(disposition, "attachment; filename=\"drill-attempts.csv\"");
        let csv = res.text().await.unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 55, "a header and 54 attempts: {csv}");
        assert!(
            lines[0].starts_with("attempt_id,contact_name,phone,"),
            "{}",
            lines[0]
        );
        assert!(
            lines[53].starts_with(&format!("{busy},{owner},")),
            "{}",
            lines[53]
        );
        let busy_only = sup.get("/campaigns/drill/attempts.csv?outcome=busy").await;
        assert_eq!(busy_only.text.lines().count(), 2, "{}", busy_only.text);
        let rows = huifang::audit::AuditLog::new(store)
            .search(&huifang::audit::AuditFilter {
                action: Some(huifang::audit::AuditAction::Export),
                ..Default::default()
            })
            .await
            .unwrap();
        let exports: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.actor.as_str(), r.target.as_str(), r.detail.as_str()))
            .collect();
        assert_eq!(
            exports,
            [
                ("sup", "campaign:drill", "attempts.csv outcome=busy rows=1"),
                ("sup", "campaign:drill", "attempts.csv outcome=all rows=54"),
            ],
            "{}",
            console.db.name
        );
        assert_eq!(sup.get("/campaigns/none/attempts.csv").await.status, 404);
    }
}

#[tokio::test]
async fn agents_get_403_on_every_campaign_page_and_route() {
    for console in consoles().await {
        let sup = console.login("sup").await;
        create(&sup, &console.db.store, "closed").await;
        let agent = console.login("agent1").await;
        for path in [
            "/campaigns",
            "/campaigns/new",
            "/campaigns/closed",
            "/campaigns/closed/attempts",
            "/campaigns/closed/attempts.csv",
            "/api/campaigns",
            "/api/campaigns/closed/wallboard",
            "/api/campaigns/closed/live",
            "/api/campaigns/closed/attempts",
        ] {
            assert_eq!(agent.get(path).await.status, 403, "GET {path}");
        }
        for path in ["/campaigns/new", "/campaigns/closed/start"] {
            let page = agent
                .post_form(path, &[("definition", &notice("sneaky")), ("op", "create")])
                .await;
            assert_eq!(page.status, 403, "POST {path}");
        }
        let sneaky = json!({ "definition": notice("sneaky") });
        for (path, body) in [
            ("/api/campaigns", &sneaky),
            ("/api/campaigns/validate", &sneaky),
            ("/api/campaigns/closed/start", &json!({})),
        ] {
            let res = agent.send_json(reqwest::Method::POST, path, body).await;
            assert_eq!(res.status, 403, "POST {path}");
        }
        let state = sup.get("/api/campaigns").await.json();
        assert_eq!(
            state.as_array().unwrap().len(),
            1,
            "nothing was created or started"
        );
        assert_eq!(state[0]["state"], "draft");
    }
}

/// Opens `path` as a stream with `cookie`; the status, and the response to read on.
async fn open_stream(
    console: &Console,
    http: &reqwest::Client,
    cookie: &str,
    path: &str,
) -> reqwest::Response {
    http.get(format!("{}{path}", console.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_session_holds_a_few_live_streams_and_gets_429_past_them() {
    for db in testkit::db::databases().await {
        let clock = std::sync::Arc::new(huifang::clock::SystemClock);
        let console =
            crate::support::console_on(db, "[http]\nstreams_per_session = 2\n", clock).await;
        let store = &console.db.store;
        let sup = console.login("sup").await;
        let id = create(&sup, store, "capped").await;
        live(store, id, "node-a", [1, 0, 0, 0], 0).await;
        for (user, path) in [
            ("sup", "/api/campaigns/capped/live"),
            ("agent1", "/api/agent/live"),
        ] {
            let (http, cookie) = streaming_login(&console, user).await;
            let mut open = Vec::new();
            for _ in 0..2 {
                let mut res = open_stream(&console, &http, &cookie, path).await;
                assert_eq!(res.status(), 200, "{path}");
                let mut buffer = String::new();
                // Every viewer of the shared feed gets the snapshot.
                until(&mut res, &mut buffer, Duration::from_secs(5), |_| true).await;
                open.push(res);
            }
            let third = open_stream(&console, &http, &cookie, path).await;
            assert_eq!(third.status(), 429, "{path}: a third stream of one session");
            let body: Value = third.json().await.unwrap();
            assert!(body["error"].as_str().unwrap().contains("2 live streams"));
            // Another session of the same user has streams of its own.
            let (other, other_cookie) = streaming_login(&console, user).await;
            let res = open_stream(&console, &other, &other_cookie, path).await;
            assert_eq!(res.status(), 200, "{path}: another session");
            // Closing one gives its place back (once the server sees it closed: bounded).
            drop(open.pop());
            let admitted = tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    let res = open_stream(&console, &http, &cookie, path).await;
                    if res.status() == 200 {
                        return res;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
            .await;
            assert!(
                admitted.is_ok(),
                "{path}: a closed stream's place was not given back"
            );
        }
    }
}
