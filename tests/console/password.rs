//! A generated password (`huifang user add` without one, or `--reset`) is changed at the
//! first login before anything else: pages lead to `/password`, API calls get 403 saying so,
//! except the change itself and logout.

use huifang::audit::{AuditAction, AuditFilter, AuditLog};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Browser, Console, consoles, huifang};

/// The password `huifang user add` printed.
fn printed_password(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no password in {stdout}"))
        .to_string()
}

/// The CSRF token of a page's form.
fn form_csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..].split('"').next().unwrap().to_string()
}

/// Logs in through the form; the browser and where the login sent it.
async fn log_in(console: &Console, username: &str, password: &str) -> (Browser, String) {
    let answer = console.post_login(username, password).await;
    assert_eq!(answer.status, 303, "{username}: {}", answer.text);
    let to = answer.location.clone().unwrap();
    (Browser::of(&console.base, answer), to)
}

#[tokio::test]
async fn a_generated_password_is_changed_at_the_first_login_before_anything_else() {
    for console in consoles().await {
        let name = &console.db.name;
        let said = huifang(
            &console,
            &[
                "user", "add", "newbie", "--role", "agent", "--team", "north",
            ],
            "",
        );
        assert!(said.contains("changed at the first login"), "{said}");
        let generated = printed_password(&said);

        let (mut newbie, to) = log_in(&console, "newbie", &generated).await;
        assert_eq!(to, "/password", "{name}");
        let (other, _) = log_in(&console, "newbie", &generated).await;
        // Every other page leads to the form; every API call but the change and logout is
        // refused, saying why.
        let page = newbie.get("/agent").await;
        assert_eq!(
            (page.status, page.location.as_deref()),
            (303, Some("/password"))
        );
        for path in [
            "/api/agent/state",
            "/api/session",
            "/api/lookup?phone=13800000001",
        ] {
            let res = newbie.get(path).await;
            assert_eq!(res.status, 403, "{name} {path}: {}", res.text);
            assert_eq!(res.json()["password_change_required"], true, "{path}");
            let error = res.json()["error"].as_str().unwrap().to_string();
            assert!(error.contains("choose your own first"), "{error}");
        }
        let form = newbie.get("/password").await;
        assert_eq!(form.status, 200, "{name}: {}", form.text);
        assert!(form.text.contains("id=\"password-forced\""));
        assert!(
            !form.text.contains("href=\"/agent\""),
            "no nav while forced"
        );
        newbie.csrf = form_csrf(&form.text);

        // The rules: the current password, at least 8 characters, not the old one, twice.
        let post = |current: &str, new: &str, repeat: &str| {
            let fields = [("current", current), ("new", new), ("repeat", repeat)];
            let fields: Vec<(String, String)> = fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let newbie = &newbie;
            async move {
                let fields: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                newbie.post_form("/password", &fields).await
            }
        };
        for (current, new, repeat, said) in [
            (
                "wrong-one-1",
                "mine-at-last",
                "mine-at-last",
                "not your current password",
            ),
            (
                generated.as_str(),
                "short",
                "short",
                "at least 8 characters",
            ),
            (
                generated.as_str(),
                generated.as_str(),
                generated.as_str(),
                "not the one you have now",
            ),
            (generated.as_str(), "mine-at-last", "mine-at-lats", "differ"),
        ] {
            let res = post(current, new, repeat).await;
            assert_eq!(res.status, 422, "{name} {new}: {}", res.text);
            assert!(res.text.contains(said), "{said}: {}", res.text);
        }
        let done = post(&generated, "mine-at-last", "mine-at-last").await;
        assert_eq!(done.status, 303, "{name}: {}", done.text);
        assert_eq!(done.location.as_deref(), Some("/agent"));
        assert_eq!(newbie.get("/api/session").await.status, 200);
        assert_eq!(newbie.get("/agent").await.status, 200);
        // Whoever else logged in with the generated password is logged out; it opens no more.
        assert_eq!(other.get("/api/session").await.status, 401, "{name}");
        assert_eq!(console.post_login("newbie", &generated).await.status, 401);
        let (_, to) = log_in(&console, "newbie", "mine-at-last").await;
        assert_eq!(to, "/agent");
        let rows = AuditLog::new(&console.db.store)
            .search(&AuditFilter {
                action: Some(AuditAction::AccountPassword),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{name}");
        assert_eq!(
            (rows[0].actor.as_str(), rows[0].target.as_str()),
            ("newbie", "user:newbie")
        );
        assert!(rows[0].detail.contains("first login"), "{}", rows[0].detail);
    }
}

/// Sends `body` with `Authorization: Bearer token`.
async fn bearer(
    console: &Console,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", console.base))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// `POST /api/session` as `sup`.
async fn api_login(console: &Console, password: &str) -> (u16, Value) {
    let body = json!({ "username": "sup", "password": password });
    bearer(console, Method::POST, "/api/session", "", Some(body)).await
}

#[tokio::test]
async fn a_reset_password_is_changed_through_the_api_and_a_chosen_one_is_not_asked_again() {
    for console in consoles().await {
        let name = &console.db.name;
        let reset = [
            "user",
            "add",
            "sup",
            "--reset",
            "--role",
            "supervisor",
            "--team",
            "north",
        ];
        let generated = printed_password(&huifang(&console, &reset, ""));
        let (status, session) = api_login(&console, &generated).await;
        assert_eq!(status, 201, "{name}: {session}");
        assert_eq!(session["must_change_password"], true);
        let token = session["token"].as_str().unwrap().to_string();
        let (status, said) = bearer(&console, Method::GET, "/api/tickets", &token, None).await;
        assert_eq!(status, 403, "{name}");
        assert_eq!(said["password_change_required"], true);

        let change =
            |current: &str, new: &str| json!({ "current_password": current, "new_password": new });
        let path = "/api/session/password";
        let (status, said) = bearer(
            &console,
            Method::POST,
            path,
            &token,
            Some(change(&generated, "1234567")),
        )
        .await;
        assert_eq!(status, 422, "{name}: {said}");
        assert!(
            said["error"]
                .as_str()
                .unwrap()
                .starts_with("new_password: "),
            "{said}"
        );
        let (status, said) = bearer(
            &console,
            Method::POST,
            path,
            &token,
            Some(change("nope-nope", "good-pass-1")),
        )
        .await;
        assert_eq!(status, 403, "{name}: {said}");
        assert!(
            said["error"]
                .as_str()
                .unwrap()
                .starts_with("current_password: "),
            "{said}"
        );
        let (status, said) = bearer(
            &console,
            Method::POST,
            path,
            &token,
            Some(change(&generated, "good-pass-1")),
        )
        .await;
        assert_eq!(status, 204, "{name}: {said}");
        assert_eq!(
            bearer(&console, Method::GET, "/api/tickets", &token, None)
                .await
                .0,
            200
        );
        let (status, session) = api_login(&console, "good-pass-1").await;
        assert_eq!(
            (status, &session["must_change_password"]),
            (201, &json!(false))
        );

        // Pending or not, a session can always log out.
        let generated = printed_password(&huifang(&console, &reset, ""));
        let (_, session) = api_login(&console, &generated).await;
        let token = session["token"].as_str().unwrap().to_string();
        assert_eq!(
            bearer(&console, Method::DELETE, "/api/session", &token, None)
                .await
                .0,
            204
        );
        assert_eq!(
            bearer(&console, Method::GET, path, &token, None).await.0,
            405
        );

        // A reset with a password chosen by its owner is not asked again.
        let chosen = [&reset[..], &["--password-stdin"]].concat();
        let said = huifang(&console, &chosen, "typed-by-sup\n");
        assert!(!said.contains("password:"), "{said}");
        let (_, to) = log_in(&console, "sup", "typed-by-sup").await;
        assert_eq!(to, "/campaigns", "{name}");
    }
}
