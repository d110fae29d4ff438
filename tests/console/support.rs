//! A console under test: `huifang serve`'s application on port 0 over a fresh database with the
//! sample data set and one account of each role, and an HTTP client that logs in like a
//! browser (session cookie, CSRF token in forms and the `x-csrf-token` header).

use std::sync::Arc;

use huifang::clock::{SharedClock, SystemClock};
use huifang::config::Config;
use huifang::users::{NewUser, Role, Users};
use huifang::web::Application;
use serde_json::Value;
use testkit::db::TestDb;
use tokio::sync::watch;

/// The password of every test account.
pub(crate) const PASSWORD: &str = "s3cret-pass";

/// A running console.
pub(crate) struct Console {
    pub(crate) base: String,
    pub(crate) db: TestDb,
    stop: watch::Sender<bool>,
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Accounts every console has: admin `admin`, supervisors `sup` (team north) and `sup2`
/// (team south), agents `agent1`, `agent2` (north) and `agent3` (south).
pub(crate) const ACCOUNTS: [(&str, Role, &str); 6] = [
    ("admin", Role::Admin, ""),
    ("sup", Role::Supervisor, "north"),
    ("sup2", Role::Supervisor, "south"),
    ("agent1", Role::Agent, "north"),
    ("agent2", Role::Agent, "north"),
    ("agent3", Role::Agent, "south"),
];

/// Serves `db` (loaded with the sample data set and the accounts) with `config_toml` added to
/// its database URL; `clock` dates what the pages do.
pub(crate) async fn console_on(db: TestDb, config_toml: &str, clock: SharedClock) -> Console {
    huifang::demo::load_sample(&db.store).await.unwrap();
    let users = Users::new(&db.store);
    for (username, role, team) in ACCOUNTS {
        let new = NewUser {
            username,
            display_name: "",
            role,
            team,
            password: PASSWORD,
            must_change: false,
        };
        users.add(&new, false, clock.now()).await.unwrap();
    }
    let toml = format!("database_url = \"{}\"\n{config_toml}", db.url());
    let config = Config::parse(&toml, "console test").unwrap();
    let app = Application::build(&config, "127.0.0.1:0", clock)
        .await
        .unwrap();
    let base = format!("http://{}", app.addr());
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(app.run(shutdown));
    Console { base, db, stop }
}

/// A console per backend under test, on the system clock.
pub(crate) async fn consoles() -> Vec<Console> {
    let mut out = Vec::new();
    for db in testkit::db::databases().await {
        out.push(console_on(db, "", Arc::new(SystemClock)).await);
    }
    out
}

/// A logged-in browser-like client.
pub(crate) struct Browser {
    pub(crate) base: String,
    http: reqwest::Client,
    cookie: String,
    pub(crate) csrf: String,
}

/// A response: status and body text.
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) text: String,
    pub(crate) location: Option<String>,
}

impl Page {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// What the login form answered.
pub(crate) struct LoginAnswer {
    /// The client that posted it (it follows no redirects).
    pub(crate) http: reqwest::Client,
    pub(crate) status: u16,
    /// Where it sends the browser (303 after a good login).
    pub(crate) location: Option<String>,
    /// `Retry-After` in seconds (on a 429).
    pub(crate) retry_after: Option<u64>,
    /// The session cookie set, `huifang_session=...`.
    pub(crate) cookie: Option<String>,
    pub(crate) text: String,
}

impl Console {
    /// Posts the login form as a browser would, with a client of its own.
    pub(crate) async fn post_login(&self, username: &str, password: &str) -> LoginAnswer {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = http
            .post(format!("{}/login", self.base))
            .form(&[("username", username), ("password", password), ("next", "")])
            .send()
            .await
            .unwrap();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (location, retry_after) = (header("location"), header("retry-after"));
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                v.split(';')
                    .next()
                    .filter(|c| c.starts_with("huifang_session="))
            })
            .map(str::to_string);
        LoginAnswer {
            http,
            status: res.status().as_u16(),
            location,
            retry_after: retry_after.and_then(|v| v.parse().ok()),
            cookie,
            text: res.text().await.unwrap_or_default(),
        }
    }

    /// Logs `username` in through the login form (with the test password).
    pub(crate) async fn login(&self, username: &str) -> Browser {
        let answer = self.post_login(username, PASSWORD).await;
        assert_eq!(answer.status, 303, "login of {username}: {}", answer.text);
        let mut browser = Browser::of(&self.base, answer);
        let me = browser.get("/api/session").await.json();
        browser.csrf = me["csrf"].as_str().unwrap().to_string();
        browser
    }
}

impl Browser {
    /// The browser a good login made (its CSRF token still to be read).
    pub(crate) fn of(base: &str, answer: LoginAnswer) -> Browser {
        Browser {
            base: base.to_string(),
            http: answer.http,
            cookie: answer.cookie.expect("session cookie"),
            csrf: String::new(),
        }
    }

    async fn finish(res: reqwest::Response) -> Page {
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Page {
            status,
            text: res.text().await.unwrap_or_default(),
            location,
        }
    }

    /// GET a page or an API path.
    pub(crate) async fn get(&self, path: &str) -> Page {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        Browser::finish(res).await
    }

    /// GET with the session cookie, the whole response (headers and all).
    pub(crate) async fn get_response(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    /// The session cookie, `huifang_session=...`.
    pub(crate) fn cookie(&self) -> &str {
        &self.cookie
    }

    /// POST a form; the CSRF field `csrf` is added.
    pub(crate) async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &self.csrf));
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(&all)
            .send()
            .await
            .unwrap();
        Browser::finish(res).await
    }

    /// Sends JSON to the API with the CSRF header, as the pages' script does.
    pub(crate) async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Page {
        let res = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .json(body)
            .send()
            .await
            .unwrap();
        Browser::finish(res).await
    }
}

/// Runs `huifang` on the console's database with `stdin`; its stdout (the command must
/// succeed).
pub(crate) fn huifang(console: &Console, args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_huifang"))
        .arg("--database")
        .arg(console.db.url())
        .args(args)
        .env("USER", "ops")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "huifang {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
