//! The HTTP API, black-box: the real server on port 0, a fresh SQLite file, a real client.

use std::sync::Arc;

use huifang::clock::ManualClock;
use huifang::config::Config;
use huifang::store::Store;
use huifang::users::{NewUser, Role, Users};
use huifang::web::Application;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::helpers::{morning, small_world};

struct TestApp {
    base: String,
    client: reqwest::Client,
    /// A supervisor's session token (the API needs a login).
    token: String,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("api.db").display());
    let store = Store::open(&url).await.unwrap();
    small_world(&store).await;
    let supervisor = NewUser {
        username: "sup",
        display_name: "",
        role: Role::Supervisor,
        team: "t",
        password: "correct horse",
        must_change: false,
    };
    Users::new(&store)
        .add(&supervisor, false, morning())
        .await
        .unwrap();
    store.close().await;
    let config = Config {
        database_url: Some(url),
        ..Config::default()
    };
    let app = Application::build(
        &config,
        "127.0.0.1:0",
        Arc::new(ManualClock::new(morning())),
    )
    .await
    .unwrap();
    let base = format!("http://{}", app.addr());
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(app.run(shutdown));
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{base}/api/session"))
        .json(&json!({"username": "sup", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 201);
    let token = login.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    TestApp {
        base,
        client,
        token,
        stop,
        _dir: dir,
    }
}

impl TestApp {
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

#[tokio::test]
async fn tickets_through_the_api() {
    let app = spawn_app().await;
    let (status, ticket) = app
        .post(
            "/api/tickets",
            json!({"phone": "13812345678", "unit": "HYF-3-1202", "kind": "repair", "category": "materials",
                   "component": "kitchen", "description": "橱柜门掉了"}),
        )
        .await;
    assert_eq!(status, 201, "{ticket}");
    assert_eq!(ticket["warranty"], "in_warranty");
    let id = ticket["ticket_id"].as_i64().unwrap();

    let (status, body) = app
        .post(
            &format!("/api/tickets/{id}/dispatch"),
            json!({"actor": "agent-1"}),
        )
        .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("dispatched")),
        "{body}"
    );
    let (status, body) = app
        .post(&format!("/api/tickets/{id}/complete"), json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["error"],
        format!(
            "ticket #{id}: cannot complete a ticket that is dispatched; allowed from dispatched: ack"
        )
    );
    let (status, body) = app
        .post(
            &format!("/api/tickets/{id}/escalate"),
            json!({"reason": "VIP"}),
        )
        .await;
    assert_eq!(
        (status, body["level"].as_str()),
        (200, Some("key")),
        "{body}"
    );
    let (status, body) = app.post(&format!("/api/tickets/{id}/fly"), json!({})).await;
    assert_eq!(status, 404, "{body}");

    let (status, shown) = app.get(&format!("/api/tickets/{id}")).await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["open", "dispatch", "notify", "escalate", "notify"]
    );
    // The logged-in supervisor opened it (the body named nobody).
    assert_eq!(shown["timeline"][0]["actor"], "sup", "{shown}");
    let (_, listed) = app.get("/api/tickets?state=dispatched&level=key").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (status, body) = app.get("/api/tickets?state=flying").await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("flying"), "{body}");
    let (status, _) = app.get("/api/tickets/777").await;
    assert_eq!(status, 404);
    app.stop.send(true).unwrap();
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let app = spawn_app().await;
    let (status, body) = app
        .post("/api/tickets", json!({"phone": "13812345678", "kind": "praise", "category": "materials", "description": "x"}))
        .await;
    assert_eq!(status, 422);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("kind: unknown variant `praise`"),
        "{body}"
    );
    let (status, body) = app
        .post(
            "/api/tickets",
            json!({"phone": "123", "kind": "repair", "category": "materials", "description": "x"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            422,
            Some("`123` is not a valid number in its country's numbering plan")
        )
    );
    let (status, body) = app.get("/api/lookup?phone=13000000000").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("no owner has the number +8613000000000"))
    );
    app.stop.send(true).unwrap();
}

#[tokio::test]
async fn lookups_through_the_api() {
    let app = spawn_app().await;
    let (status, pop) = app.get("/api/lookup?phone=021-64001234").await;
    assert_eq!(status, 200, "{pop}");
    assert_eq!(pop["owner"]["code"], "O00001");
    assert_eq!(pop["units"][0]["code"], "HYF-3-1202");
    let (status, info) = app
        .get("/api/units/HYF-3-1202/components/light_fitting")
        .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["supplier_code"], "SUP02");
    assert_eq!(info["warranty"]["status"], "in_warranty");
    app.stop.send(true).unwrap();
}

#[tokio::test]
async fn the_api_needs_a_login() {
    let app = spawn_app().await;
    let anonymous = app
        .client
        .get(format!("{}/api/tickets", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = app
        .client
        .post(format!("{}/api/session", app.base))
        .json(&json!({"username": "sup", "password": "wrong horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "wrong username or password");
    // A cookie write without the CSRF header is refused even with a valid session.
    let cookie = app
        .client
        .post(format!("{}/api/tickets/1/acknowledge", app.base))
        .header("cookie", format!("huifang_session={}", app.token))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(cookie.status(), 403);
    let _ = app.stop.send(true);
}
