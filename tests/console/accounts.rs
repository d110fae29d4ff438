//! Password guessing and departed staff: the login throttle (429 with `Retry-After`, address
//! first), the lock-out and its unlock, and `huifang user disable|enable|list` ending sessions.

use huifang::audit::{AuditAction, AuditFilter, AuditLog};
use huifang::users::{LOCK_AFTER, Users};
use reqwest::Method;
use serde_json::json;

use crate::support::{Console, PASSWORD, consoles};

/// Posts the login form; (status, Retry-After, body).
async fn try_login(
    console: &Console,
    username: &str,
    password: &str,
) -> (u16, Option<u64>, String) {
    let answer = console.post_login(username, password).await;
    (answer.status, answer.retry_after, answer.text)
}

/// Runs `huifang` on the console's database; its stdout (the command must succeed).
fn huifang(console: &Console, args: &[&str]) -> String {
    crate::support::huifang(console, args, "")
}

#[tokio::test]
async fn the_11th_wrong_password_in_a_minute_gets_429_even_with_the_right_one() {
    for console in consoles().await {
        let mut answers = Vec::new();
        for _ in 0..10 {
            answers.push(try_login(&console, "admin", "guess-guess").await);
        }
        // The first answers are the usual 401; the address is held back long before the 10th.
        assert_eq!(answers[0].0, 401, "{}", answers[0].2);
        assert!(answers[0].2.contains("wrong username or password"));
        let held = answers.iter().find(|a| a.0 == 429).expect("a 429 among 10");
        assert!(held.1.is_some_and(|s| s >= 1), "Retry-After: {:?}", held.1);
        assert!(held.2.contains("too many failed logins"), "{}", held.2);
        // The 11th — even the right password — is refused, not accepted.
        let (status, retry, _) = try_login(&console, "admin", PASSWORD).await;
        assert_eq!(status, 429, "{}", console.db.name);
        assert!(retry.is_some());
        // Back-off by address first: guessing at another account from here is held back too.
        assert_eq!(try_login(&console, "agent2", "guess-guess").await.0, 429);

        // Every real failure is on record with the address; a refused attempt checks nothing.
        let failed = AuditLog::new(&console.db.store)
            .search(&AuditFilter {
                action: Some(AuditAction::LoginFailed),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        let refused = answers.iter().filter(|a| a.0 == 429).count();
        assert_eq!(failed.len(), 10 - refused, "{}", console.db.name);
        assert!(
            failed
                .iter()
                .all(|r| r.actor == "admin" && r.address == "127.0.0.1")
        );
        let admin = Users::new(&console.db.store)
            .accounts(chrono::Utc::now())
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.user.username == "admin")
            .unwrap();
        assert_eq!(admin.failed_logins as usize, failed.len());
    }
}

#[tokio::test]
async fn an_account_locked_after_many_failures_opens_only_when_unlocked() {
    for console in consoles().await {
        let users = Users::new(&console.db.store);
        // Failures from many addresses over time (the database's count is what locks).
        for _ in 0..LOCK_AFTER {
            users
                .record_failure("sup2", chrono::Utc::now())
                .await
                .unwrap();
        }
        let list = huifang(&console, &["user", "list"]);
        let row = list.lines().find(|l| l.contains("sup2")).unwrap();
        assert!(row.contains("locked"), "{list}");
        // The right password does not open a locked account.
        let (status, retry, _) = try_login(&console, "sup2", PASSWORD).await;
        assert_eq!(status, 429, "{}", console.db.name);
        assert!(retry.is_some_and(|s| s > 60), "{retry:?}");
        huifang(&console, &["user", "unlock", "sup2"]);
        let (status, _, body) = try_login(&console, "sup2", PASSWORD).await;
        assert_eq!(status, 303, "{body}");
        let list = huifang(&console, &["user", "list", "--json"]);
        let all: serde_json::Value = serde_json::from_str(&list).unwrap();
        let sup2 = all
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["username"] == "sup2")
            .unwrap();
        assert_eq!(sup2["state"], "active");
        assert!(sup2["last_login_at"].is_string(), "{sup2}");
    }
}

#[tokio::test]
async fn a_disabled_account_loses_its_open_session_and_cannot_log_in() {
    for console in consoles().await {
        let agent = console.login("agent1").await;
        assert_eq!(agent.get("/api/session").await.status, 200);
        assert_eq!(agent.get("/agent").await.status, 200);

        let said = huifang(&console, &["user", "disable", "agent1"]);
        assert!(said.contains("disabled agent1"), "{said}");
        // Its open session: 401 on the next API request, the login form for a page.
        assert_eq!(
            agent.get("/api/session").await.status,
            401,
            "{}",
            console.db.name
        );
        let page = agent.get("/agent").await;
        assert_eq!(page.status, 303);
        // A new login: the same answer as a wrong password.
        let (status, _, body) = try_login(&console, "agent1", PASSWORD).await;
        assert_eq!(status, 401);
        assert!(body.contains("wrong username or password"));
        let list = huifang(&console, &["user", "list"]);
        let row = list.lines().find(|l| l.contains("agent1")).unwrap();
        assert!(row.contains("disabled"), "{list}");

        huifang(&console, &["user", "enable", "agent1"]);
        let again = console.login("agent1").await;
        assert_eq!(again.get("/api/session").await.status, 200);
        // Both changes are on record, made from the command line.
        let rows = AuditLog::new(&console.db.store)
            .search(&AuditFilter {
                actor: Some("cli:ops".into()),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        let actions: Vec<AuditAction> = rows.iter().map(|r| r.action).collect();
        assert_eq!(
            actions,
            [AuditAction::AccountEnable, AuditAction::AccountDisable]
        );
        assert!(rows.iter().all(|r| r.target == "user:agent1"));

        // An admin does the same in the console; others may not.
        let agent2 = console.login("agent2").await;
        let sup = console.login("sup").await;
        let path = "/api/users/agent2/disable";
        assert_eq!(
            sup.send_json(Method::POST, path, &json!({})).await.status,
            403
        );
        let admin = console.login("admin").await;
        let own = admin
            .send_json(Method::POST, "/api/users/admin/disable", &json!({}))
            .await;
        assert_eq!(own.status, 409);
        let done = admin.send_json(Method::POST, path, &json!({})).await;
        assert_eq!(done.status, 204, "{}", done.text);
        assert_eq!(agent2.get("/api/session").await.status, 401);
        let listed = admin.get("/api/users").await.json();
        let row = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["username"] == "agent2")
            .unwrap();
        assert_eq!(row["state"], "disabled");
        let by_admin = AuditLog::new(&console.db.store)
            .search(&AuditFilter {
                actor: Some("admin".into()),
                action: Some(AuditAction::AccountDisable),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(by_admin.len(), 1);
        assert_eq!(by_admin[0].address, "127.0.0.1");
    }
}

/// The row of `username` on the accounts page.
fn account_row<'a>(page: &'a str, username: &str) -> &'a str {
    let start = page
        .find(&format!("<tr id=\"account-{username}\">"))
        .unwrap_or_else(|| panic!("no row for {username}:\n{page}"));
    let end = page[start..].find("</tr>").unwrap() + start;
    &page[start..end]
}

#[tokio::test]
async fn an_admin_disables_an_agent_from_the_accounts_page_and_its_session_ends() {
    for console in consoles().await {
        let name = &console.db.name;
        let agent = console.login("agent1").await;
        let sup = console.login("sup").await;
        let admin = console.login("admin").await;
        // The page and its nav link are the admins'.
        assert_eq!(sup.get("/accounts").await.status, 403, "{name}");
        assert_eq!(agent.get("/accounts").await.status, 403, "{name}");
        assert!(
            !sup.get("/tickets")
                .await
                .text
                .contains("href=\"/accounts\"")
        );
        let page = admin.get("/accounts").await;
        assert_eq!(page.status, 200, "{name}: {}", page.text);
        assert!(page.text.contains("href=\"/accounts\" class=\"on\""));
        let row = account_row(&page.text, "agent1");
        assert!(
            row.contains("<td>agent</td>") && row.contains("active"),
            "{row}"
        );
        assert!(row.contains("/accounts/agent1/disable"), "{row}");
        assert!(!row.contains("never"), "agent1 logged in: {row}");
        assert!(account_row(&page.text, "agent3").contains("never"));
        // An admin is offered no button to switch themself off.
        assert!(!account_row(&page.text, "admin").contains("/disable"));

        // A form without the session's CSRF token changes nothing.
        let forged = agent.post_form("/accounts/agent1/disable", &[]).await;
        assert_eq!(forged.status, 403);
        let stale = reqwest::Client::new()
            .post(format!("{}/accounts/agent1/disable", console.base))
            .header("cookie", admin.cookie())
            .form(&[("csrf", "not-the-token")])
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status().as_u16(), 403);
        assert_eq!(agent.get("/api/session").await.status, 200, "{name}");

        let done = admin.post_form("/accounts/agent1/disable", &[]).await;
        assert_eq!(done.status, 303, "{name}: {}", done.text);
        assert_eq!(done.location.as_deref(), Some("/accounts"));
        // The agent's open session: 401 on its next request.
        assert_eq!(agent.get("/api/session").await.status, 401, "{name}");
        let page = admin.get("/accounts").await;
        let row = account_row(&page.text, "agent1");
        assert!(row.contains("disabled"), "{row}");
        assert!(row.contains("/accounts/agent1/enable"), "{row}");
        let rows = AuditLog::new(&console.db.store)
            .search(&AuditFilter {
                actor: Some("admin".into()),
                action: Some(AuditAction::AccountDisable),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{name}");
        assert_eq!(
            (rows[0].target.as_str(), rows[0].address.as_str()),
            ("user:agent1", "127.0.0.1")
        );

        // Enable and unlock from the page too, each on record.
        assert_eq!(
            admin.post_form("/accounts/agent1/enable", &[]).await.status,
            303
        );
        assert_eq!(
            console
                .login("agent1")
                .await
                .get("/api/session")
                .await
                .status,
            200
        );
        let users = Users::new(&console.db.store);
        for _ in 0..LOCK_AFTER {
            users
                .record_failure("agent2", chrono::Utc::now())
                .await
                .unwrap();
        }
        let page = admin.get("/accounts").await;
        let row = account_row(&page.text, "agent2");
        assert!(
            row.contains("locked") && row.contains("/accounts/agent2/unlock"),
            "{row}"
        );
        assert_eq!(
            admin.post_form("/accounts/agent2/unlock", &[]).await.status,
            303
        );
        assert!(account_row(&admin.get("/accounts").await.text, "agent2").contains("active"));
        assert_eq!(console.post_login("agent2", PASSWORD).await.status, 303);
        let actions: Vec<AuditAction> = AuditLog::new(&console.db.store)
            .search(&AuditFilter {
                actor: Some("admin".into()),
                ..AuditFilter::default()
            })
            .await
            .unwrap()
            .iter()
            .map(|r| r.action)
            .filter(|a| a.to_string().starts_with("account."))
            .collect();
        assert_eq!(
            actions,
            [
                AuditAction::AccountUnlock,
                AuditAction::AccountEnable,
                AuditAction::AccountDisable
            ]
        );
        // An unknown action or account: 404, not a silent redirect.
        assert_eq!(
            admin.post_form("/accounts/agent2/delete", &[]).await.status,
            404
        );
        assert_eq!(
            admin
                .post_form("/accounts/nobody/disable", &[])
                .await
                .status,
            404
        );
    }
}
