//! The security headers of every answer (issue 29): a strict Content-Security-Policy, no
//! framing, `nosniff`, `Referrer-Policy`, and `Cache-Control: no-store` on pages and the API
//! while static files may be cached; and no page relies on what that policy blocks (inline
//! scripts, inline event handlers, `style=` attributes). `browser.rs` shows the pages' scripts
//! still work under it in Chromium.

use reqwest::header::HeaderMap;

use crate::support::{Browser, consoles};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
    object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The headers every answer carries, whatever it is.
fn assert_hardened(what: &str, headers: &HeaderMap) {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name} header in {headers:?}"))
            .to_string()
    };
    assert_eq!(get("content-security-policy"), CSP, "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "same-origin", "{what}");
}

fn cache_control(headers: &HeaderMap) -> &str {
    headers
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn headers_of(browser: &Browser, path: &str) -> (u16, HeaderMap) {
    let res = browser.get_response(path).await;
    (res.status().as_u16(), res.headers().clone())
}

#[tokio::test]
async fn pages_api_and_static_files_carry_the_security_headers() {
    let console = consoles().await.remove(0);
    let sup = console.login("sup").await;
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Pages, the API (an answer, an error, an event stream), and the login form.
    for path in [
        "/tickets",
        "/campaigns",
        "/api/tickets?limit=1",
        "/api/tickets/999999999",
        "/api/campaigns",
        "/nowhere",
    ] {
        let (status, headers) = headers_of(&sup, path).await;
        assert!(status < 500, "{path}: {status}");
        assert_hardened(path, &headers);
        assert_eq!(cache_control(&headers), "no-store", "{path}");
    }
    for path in ["/login", "/api/session", "/"] {
        let res = anonymous
            .get(format!("{}{path}", console.base))
            .send()
            .await
            .unwrap();
        assert_hardened(path, res.headers());
        assert_eq!(cache_control(res.headers()), "no-store", "{path}");
    }
    // The agent's event stream: axum says `no-cache`; owners' data in it must not be stored.
    let agent = console.login("agent1").await;
    let (status, headers) = headers_of(&agent, "/api/agent/live").await;
    assert_eq!(status, 200);
    assert_hardened("/api/agent/live", &headers);
    assert_eq!(cache_control(&headers), "no-store");

    // Static files: the same policy, and a browser may keep them a while.
    for path in [
        "/static/app.css",
        "/static/app.js",
        "/static/agent.js",
        "/static/campaign_live.js",
    ] {
        let res = anonymous
            .get(format!("{}{path}", console.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
        assert_hardened(path, res.headers());
        assert_eq!(cache_control(res.headers()), "max-age=300", "{path}");
    }
}

/// What the policy would block, found in a page's HTML: an inline `<script>` (one without
/// `src`), an `on...=` event handler attribute, a `style=` attribute, a `javascript:` URL.
fn blocked_by_csp(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    for piece in lower.split("<script").skip(1) {
        let tag = piece.split('>').next().unwrap_or("");
        if !tag.contains(" src=") {
            found.push(format!("inline <script{tag}>"));
        }
    }
    for tag in lower.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or("");
        for attr in tag.split_whitespace().skip(1) {
            let name = attr.split('=').next().unwrap_or("");
            let handler = name.len() > 2 && name.starts_with("on") && attr.contains('=');
            if handler || name == "style" || attr.contains("javascript:") {
                found.push(format!("<{tag}>"));
            }
        }
    }
    found
}

async fn campaign(sup: &Browser) -> String {
    let definition = "code = \"csp\"\nname = \"CSP\"\nkind = \"notification\"\n\
        mode = \"agentless\"\nprompts = [\"handover-notice\"]\nmax_abandon_pct = 3\n\
        [source]\nowners = { buildings = [\"HYF-3\"] }\n[windows]\nmon-sun = [\"00:00-24:00\"]\n";
    let page = sup
        .post_form(
            "/campaigns/new",
            &[("definition", definition), ("op", "create")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.text);
    "/campaigns/csp".to_string()
}

#[tokio::test]
async fn no_page_needs_what_the_policy_blocks() {
    let console = consoles().await.remove(0);
    let sup = console.login("sup").await;
    let agent = console.login("agent1").await;
    let opened = sup
        .send_json(
            reqwest::Method::POST,
            "/api/tickets",
            &serde_json::json!({"owner": "O00004", "kind": "complaint",
                "category": "property_management", "description": "电梯噪音"}),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let ticket = opened.json()["ticket_id"].as_i64().unwrap();
    let wallboard = campaign(&sup).await;

    let pages = vec![
        (&sup, "/tickets".to_string()),
        (&sup, format!("/tickets/{ticket}")),
        (&sup, "/campaigns".to_string()),
        (&sup, "/campaigns/new".to_string()),
        (&sup, wallboard.clone()),
        (&sup, format!("{wallboard}/attempts")),
        (&sup, "/reports".to_string()),
        (&agent, "/agent".to_string()),
        (&sup, "/tickets/999999999".to_string()),
    ];
    for (who, path) in pages {
        let page = who.get(&path).await;
        assert!(page.status < 500, "{path}: {}", page.status);
        let found = blocked_by_csp(&page.text);
        assert!(
            found.is_empty(),
            "{path} needs what the CSP blocks: {found:?}"
        );
    }
    let login = reqwest::get(format!("{}/login", console.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(blocked_by_csp(&login), Vec::<String>::new(), "/login");
    let unsubscribe = reqwest::get(format!(
        "{}/unsubscribe/0123456789abcdef0123456789abcdef",
        console.base
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert_eq!(
        blocked_by_csp(&unsubscribe),
        Vec::<String>::new(),
        "/unsubscribe"
    );
}

#[test]
fn the_scan_finds_what_the_policy_blocks() {
    assert_eq!(
        blocked_by_csp("<p>ok</p><script src=\"/static/app.js\"></script>").len(),
        0
    );
    assert_eq!(blocked_by_csp("<script>alert(1)</script>").len(), 1);
    assert_eq!(
        blocked_by_csp("<form id=\"x\" onsubmit=\"return false\">").len(),
        1
    );
    assert_eq!(blocked_by_csp("<body style=\"margin:0\">").len(), 1);
    assert_eq!(blocked_by_csp("<a href=\"javascript:go()\">").len(), 1);
}
