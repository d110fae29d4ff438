//! The console in a real browser: headless Chromium driven through chromedriver (WebDriver,
//! Debian's `chromium` and `chromium-driver`, installed by tests/run.sh) against the console on
//! a real socket, with a dialer node (`huifang campaign run`) and the owners' phone simulator
//! (`huifang phones`) as processes and sipp as the agent's SIP phone — the deployment's shape.
//!
//! `HUIFANG_SCREENSHOTS=DIR` saves the wallboard and the agent desktop as PNG files there (the
//! README's pictures come from `HUIFANG_SCREENSHOTS=docs`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use fantoccini::{Client, ClientBuilder, Locator};
use huifang::campaigns::Campaign;
use huifang::campaigns::repo::Campaigns;
use huifang::clock::SystemClock;
use huifang::dialer::lists;
use huifang::on_pool;
use huifang::store::Store;
use serde_json::json;
use testkit::{
    binary::{Proc, spawn},
    dialer::{free_port, sipp_uas},
};

use crate::support::{Console, PASSWORD, console_on};

/// chromedriver on a loopback port.
pub(crate) struct Driver {
    url: String,
    _process: Proc,
}

pub(crate) fn driver(dir: &Path) -> Driver {
    let port = free_port();
    let out = std::fs::File::create(dir.join("chromedriver.log")).unwrap();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect(
            "chromedriver (apt-get install chromium chromium-driver; tests/run.sh installs it)",
        );
    let process = Proc(child, "chromedriver");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver {
        url: format!("http://127.0.0.1:{port}"),
        _process: process,
    }
}

/// A new headless Chromium window (its own cookies: one user each).
pub(crate) async fn window(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--lang=zh-CN"]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session through chromedriver")
}

pub(crate) async fn login(client: &Client, base: &str, username: &str) {
    client.goto(&format!("{base}/login")).await.unwrap();
    client
        .find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(username)
        .await
        .unwrap();
    client
        .find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    client
        .find(Locator::Css("#login button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("who"))
        .await
        .unwrap_or_else(|e| panic!("{username} did not get in: {e}"));
}

/// The text of element `id` once `ok` holds for it, within `within`; panics naming `what`.
pub(crate) async fn wait_text(
    client: &Client,
    id: &str,
    within: Duration,
    what: &str,
    ok: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + within;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(el) = client.find(Locator::Id(id)).await
            && let Ok(text) = el.text().await
        {
            if ok(text.trim()) {
                return text.trim().to_string();
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: #{id} still shows `{last}` after {within:?}");
}

pub(crate) async fn click(client: &Client, id: &str) {
    client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .click()
        .await
        .unwrap();
}

pub(crate) async fn fill(client: &Client, id: &str, text: &str) {
    let el = client.find(Locator::Id(id)).await.unwrap();
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

async fn screenshot(client: &Client, name: &str) {
    if let Ok(dir) = std::env::var("HUIFANG_SCREENSHOTS") {
        let png = client.screenshot().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(name), png).unwrap();
    }
}

/// A campaign in `mode` (progressive, preview) over the first `n` sample owners' phones, stored
/// as a draft with its list loaded (the supervisor starts it in the browser).
async fn draft_campaign(store: &Store, dir: &Path, code: &str, mode: &str, n: i64) {
    let phones: Vec<String> = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "select phone from owner_phones where position = 0 order by owner_id limit $1",
        )
        .bind(n)
        .fetch_all(pool)
        .await
    })
    .unwrap();
    let mut csv = String::from("phone,tz\n");
    for p in &phones {
        csv.push_str(&format!("{p},Asia/Shanghai\n"));
    }
    std::fs::write(dir.join("owners.csv"), csv).unwrap();
    let file = dir.join(format!("{code}.toml"));
    std::fs::write(
        &file,
        format!(
            "code = \"{code}\"\nname = \"回访 web demo\"\nkind = \"notification\"\n\
             mode = \"{mode}\"\nring_timeout_secs = 15\nmax_abandon_pct = 3\n\
             [source]\ncsv = \"owners.csv\"\n[windows]\nmon-sun = [\"00:00-23:59\"]\n\
             [retry]\nbusy = {{ after = \"1m\", max = 1 }}\nno_answer = {{ after = \"1m\", max = 1 }}\n"
        ),
    )
    .unwrap();
    let campaign = Campaign::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(&file).unwrap();
    let now = Utc::now();
    let stored = Campaigns::new(store)
        .create(&campaign, &text, Some(file.to_str().unwrap()), "test", now)
        .await
        .unwrap();
    let report = lists::load(
        store,
        stored.campaign_id,
        &campaign,
        &stored.base_dir(),
        now,
    )
    .await
    .unwrap();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
}

/// The console, a dialer node, the owners' phones and the agent's phone, all on loopback.
pub(crate) struct Floor {
    pub(crate) console: Console,
    pub(crate) agent_phone: String,
    _procs: Vec<Proc>,
    _dir: tempfile::TempDir,
}

/// The floor of [`floor_of`] with a progressive campaign `web-demo` of 6 owners.
async fn floor(db: testkit::db::TestDb) -> Floor {
    floor_of(db, "web-demo", "progressive", "").await
}

/// The console, a node with `extra` at the end of its `[dialer]` section (tables may follow),
/// and the draft campaign `code` in `mode` over the first 6 sample owners.
pub(crate) async fn floor_of(
    db: testkit::db::TestDb,
    code: &str,
    mode: &str,
    extra: &str,
) -> Floor {
    // HUIFANG_KEEP_LOGS=1 keeps the folder (node, phones and sipp logs) for a post-mortem.
    let dir = tempfile::Builder::new()
        .prefix("huifang-browser-")
        .disable_cleanup(std::env::var_os("HUIFANG_KEEP_LOGS").is_some())
        .tempdir()
        .unwrap();
    let url = db.url();
    let console = console_on(db, "", Arc::new(SystemClock)).await;
    draft_campaign(&console.db.store, dir.path(), code, mode, 6).await;
    let phones_port = free_port();
    let phones = spawn(
        dir.path(),
        "phones",
        &[
            "phones",
            "--listen",
            &format!("127.0.0.1:{phones_port}"),
            "--mix",
            "answer=100",
            "--answer-delay-ms",
            "300-900",
        ],
    );
    let agent_port = free_port();
    let sipp = sipp_uas(agent_port, dir.path());
    let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
    std::fs::write(
        dir.path().join("node.toml"),
        format!(
            "database_url = \"{url}\"\n[dialer]\nprompts_dir = \"{}\"\nwrap_secs = 2\n\
             recordings_dir = \"{}\"\n{extra}\
             [trunks.main]\ndomain = \"127.0.0.1:{phones_port}\"\nchannels = 4\ncalls_per_second = 10\n",
            prompts.display(),
            dir.path().join("rec").display()
        ),
    )
    .unwrap();
    let node = spawn(
        dir.path(),
        "node",
        &["--config", "node.toml", "campaign", "run", "--node", "web1"],
    );
    Floor {
        console,
        agent_phone: format!("sip:agent@127.0.0.1:{agent_port}"),
        _procs: vec![node, sipp, phones],
        _dir: dir,
    }
}

/// agent1 on the desktop, having asked to be ready with a phone that is no SIP URI: the
/// error the desktop's script shows next to the field is checked.
pub(crate) async fn agent_with_a_bad_phone(chrome: &Driver, base: &str) -> Client {
    let agent = window(chrome).await;
    login(&agent, base, "agent1").await;
    agent.goto(&format!("{base}/agent")).await.unwrap();
    fill(&agent, "f-sip_uri", "1001@pbx").await;
    click(&agent, "ready").await;
    let error = wait_text(
        &agent,
        "sip_uri-error",
        Duration::from_secs(10),
        "the bad phone's error",
        |t| !t.is_empty(),
    )
    .await;
    assert!(error.contains("not a SIP URI"), "{error}");
    agent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_starts_the_campaign_and_the_agent_gets_the_screen_pop() {
    let shots = tempfile::tempdir().unwrap();
    let chrome = driver(shots.path());
    for db in testkit::db::databases().await {
        let name = db.name;
        let floor = floor(db).await;
        let base = floor.console.base.clone();
        let store = floor.console.db.store.clone();

        // The agent logs in, first with a phone that is no SIP URI: the error shows next to
        // the field; then with the real phone (sipp), and the node's leg comes up.
        let agent = agent_with_a_bad_phone(&chrome, &base).await;
        fill(&agent, "f-sip_uri", &floor.agent_phone).await;
        click(&agent, "ready").await;
        wait_text(
            &agent,
            "agent-phase",
            Duration::from_secs(20),
            "agent leg",
            |t| t == "free",
        )
        .await;

        // The supervisor's campaign form refuses a window at 25:00, next to that field, and
        // keeps what was typed.
        let sup = window(&chrome).await;
        login(&sup, &base, "sup").await;
        sup.goto(&format!("{base}/campaigns/new")).await.unwrap();
        fill(&sup, "f-code", "late-night").await;
        fill(&sup, "f-name", "深夜回访").await;
        fill(&sup, "f-windows", "mon-sun = 25:00-26:00").await;
        click(&sup, "validate").await;
        let error = wait_text(
            &sup,
            "windows-error",
            Duration::from_secs(5),
            "bad window",
            |t| !t.is_empty(),
        )
        .await;
        assert!(error.contains("25:00-26:00"), "{name}: {error}");
        let kept = sup
            .find(Locator::Id("f-code"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap();
        assert_eq!(kept.as_deref(), Some("late-night"));

        // The supervisor starts the campaign on its wallboard and sees it move.
        sup.goto(&format!("{base}/campaigns/web-demo"))
            .await
            .unwrap();
        wait_text(
            &sup,
            "campaign-state",
            Duration::from_secs(5),
            "state",
            |t| t.contains("draft"),
        )
        .await;
        click(&sup, "action-start").await;
        wait_text(
            &sup,
            "campaign-state",
            Duration::from_secs(10),
            "started",
            |t| t.contains("running"),
        )
        .await;
        wait_text(
            &sup,
            "live-attempts",
            Duration::from_secs(20),
            "attempts counter",
            |t| t.parse::<u32>().is_ok_and(|n| n > 0),
        )
        .await;
        wait_text(
            &sup,
            "live-agents-talk",
            Duration::from_secs(20),
            "agent talking",
            |t| t == "1",
        )
        .await;

        // The owner answered and was put through: the agent's screen pops with that owner.
        let owner = wait_text(
            &agent,
            "pop-owner",
            Duration::from_secs(20),
            "screen pop",
            |t| !t.is_empty(),
        )
        .await;
        let phone = wait_text(&agent, "pop-phone", Duration::from_secs(2), "phone", |t| {
            !t.is_empty()
        })
        .await;
        let expected: String = on_pool!(&store, |pool| {
            sqlx::query_scalar(
                "select o.name from owners o join owner_phones p on p.owner_id = o.owner_id
                  where p.phone = $1",
            )
            .bind(&phone)
            .fetch_one(pool)
            .await
        })
        .unwrap();
        assert_eq!(
            owner, expected,
            "{name}: the pop shows the owner of {phone}"
        );
        wait_text(
            &sup,
            "live-connected",
            Duration::from_secs(5),
            "connected",
            |t| t != "0",
        )
        .await;
        screenshot(&agent, "console-agent.png").await;
        screenshot(&sup, "console-wallboard.png").await;

        // Another agent's call does not open for this one.
        let (theirs, _, _) = crate::desktop::bridged_call(&store, "other-calls", "agent2").await;
        agent
            .goto(&format!("{base}/agent/calls/{theirs}"))
            .await
            .unwrap();
        let page = agent
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("403"), "{name}: {page}");
        let violations = csp_violations(&sup).await;
        assert!(
            violations.is_empty(),
            "{name}: the wallboard: {violations:?}"
        );

        agent.close().await.unwrap();
        sup.close().await.unwrap();
    }
}

/// The Content-Security-Policy violations the page open in `client` has reported since it
/// loaded (Chromium queues them for a `ReportingObserver` made later with `buffered: true`), as
/// `directive blocked-url sample` lines.
pub(crate) async fn csp_violations(client: &Client) -> Vec<String> {
    let script = r#"
        const done = arguments[arguments.length - 1];
        const seen = [];
        const note = (reports) => {
            for (const r of reports) {
                const b = r.body || {};
                seen.push([b.effectiveDirective, b.blockedURL, b.sample].join(" "));
            }
        };
        const observer = new ReportingObserver(note, { types: ["csp-violation"], buffered: true });
        observer.observe();
        setTimeout(() => { note(observer.takeRecords()); observer.disconnect(); done(seen); }, 500);
    "#;
    let found = client
        .execute_async(script, vec![])
        .await
        .expect("the page runs the check");
    serde_json::from_value(found).expect("a list of violations")
}

/// The pages' scripts run under the console's CSP (no inline script is left to block): the
/// agent desktop shows a refused phone next to its field, the wallboard follows its live stream
/// to a started campaign, and neither page reports a violation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_work_under_the_content_security_policy() {
    let dir = tempfile::tempdir().unwrap();
    let chrome = driver(dir.path());
    let db = testkit::db::databases().await.remove(0);
    let console = console_on(db, "", Arc::new(SystemClock)).await;
    let base = console.base.clone();
    let store = console.db.store.clone();
    draft_campaign(&store, dir.path(), "csp-demo", "progressive", 2).await;

    // The desktop's script shows the server's error next to the field.
    let agent = agent_with_a_bad_phone(&chrome, &base).await;

    let sup = window(&chrome).await;
    login(&sup, &base, "sup").await;
    sup.goto(&format!("{base}/campaigns/csp-demo"))
        .await
        .unwrap();
    wait_text(
        &sup,
        "campaign-state",
        Duration::from_secs(5),
        "draft",
        |t| t.contains("draft"),
    )
    .await;
    // Started elsewhere: only the page's script (its event stream) can bring the new state in.
    Campaigns::new(&store)
        .apply(
            "csp-demo",
            huifang::campaigns::lifecycle::Action::Start,
            "sup",
            "browser test",
            Utc::now(),
        )
        .await
        .unwrap();
    wait_text(
        &sup,
        "campaign-state",
        Duration::from_secs(15),
        "the wallboard following its stream",
        |t| t.contains("running"),
    )
    .await;

    for (who, client) in [("agent desktop", &agent), ("wallboard", &sup)] {
        let violations = csp_violations(client).await;
        assert!(violations.is_empty(), "{who}: {violations:?}");
    }
    agent.close().await.unwrap();
    sup.close().await.unwrap();
}

/// The owner of `phone` in the sample data.
pub(crate) async fn owner_of(store: &Store, phone: &str) -> String {
    on_pool!(store, |pool| {
        sqlx::query_scalar(
            "select o.name from owners o join owner_phones p on p.owner_id = o.owner_id
              where p.phone = $1",
        )
        .bind(phone)
        .fetch_one(pool)
        .await
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_shows_the_next_contact_the_agent_dials_or_skips() {
    let shots = tempfile::tempdir().unwrap();
    let chrome = driver(shots.path());
    let wait = Duration::from_secs(20);
    for db in testkit::db::databases().await {
        let name = db.name;
        // Conversations end after 3 s (the owners' phones would stay on), wrap-up lasts 2 s.
        let floor = floor_of(db, "pv-demo", "preview", "talk_limit_secs = 3\n").await;
        let base = floor.console.base.clone();
        let store = floor.console.db.store.clone();

        let agent = window(&chrome).await;
        login(&agent, &base, "agent1").await;
        agent.goto(&format!("{base}/agent")).await.unwrap();
        fill(&agent, "f-sip_uri", &floor.agent_phone).await;
        click(&agent, "ready").await;
        wait_text(&agent, "agent-phase", wait, "agent leg", |t| {
            matches!(t, "free" | "reserved")
        })
        .await;
        Campaigns::new(&store)
            .apply(
                "pv-demo",
                huifang::campaigns::lifecycle::Action::Start,
                "sup",
                "browser test",
                Utc::now(),
            )
            .await
            .unwrap();

        // The next contact shows before anything is dialled: its owner, phone and campaign.
        let owner = wait_text(&agent, "preview-owner", wait, "preview", |t| !t.is_empty()).await;
        let phone = wait_text(&agent, "preview-phone", wait, "preview phone", |t| {
            !t.is_empty()
        })
        .await;
        assert_eq!(owner, owner_of(&store, &phone).await, "{name}: {phone}");
        let campaign = wait_text(&agent, "preview-campaign", wait, "campaign", |t| {
            !t.is_empty()
        })
        .await;
        assert!(campaign.contains("pv-demo"), "{name}: {campaign}");
        let attempts: i64 = on_pool!(&store, |pool| {
            sqlx::query_scalar("select count(*) from attempts")
                .fetch_one(pool)
                .await
        })
        .unwrap();
        assert_eq!(
            attempts, 0,
            "{name}: nothing is dialled before the agent decides"
        );
        screenshot(&agent, "console-preview.png").await;

        // Dial: the owner answers and is put through to this agent; the screen pop follows.
        click(&agent, "preview-dial").await;
        let popped = wait_text(&agent, "pop-owner", wait, "screen pop", |t| !t.is_empty()).await;
        assert_eq!(popped, owner, "{name}: the pop is the previewed owner");
        let pop_phone = wait_text(&agent, "pop-phone", wait, "pop phone", |t| !t.is_empty()).await;
        assert_eq!(pop_phone, phone, "{name}");
        let (bridged_to, outcome): (Option<String>, Option<String>) = on_pool!(&store, |pool| {
            sqlx::query_as(
                "select a.agent, a.outcome from attempts a
                   join campaign_contacts cc on cc.campaign_contact_id = a.campaign_contact_id
                  where cc.phone = $1 and a.bridged_at is not null",
            )
            .bind(&phone)
            .fetch_one(pool)
            .await
        })
        .unwrap();
        assert_eq!(bridged_to.as_deref(), Some("agent1"), "{name}: {outcome:?}");

        // After the talk and wrap-up, the next contact is offered; Skip gives it back unused.
        let next = wait_text(&agent, "preview-phone", wait, "next preview", |t| {
            !t.is_empty() && t != phone
        })
        .await;
        let next_owner = wait_text(&agent, "preview-owner", wait, "next owner", |t| {
            !t.is_empty()
        })
        .await;
        assert_eq!(next_owner, owner_of(&store, &next).await, "{name}");
        click(&agent, "preview-skip").await;
        let third = wait_text(&agent, "preview-phone", wait, "preview after skip", |t| {
            !t.is_empty() && t != phone && t != next
        })
        .await;
        let (state, due, tried): (String, Option<chrono::DateTime<Utc>>, i64) =
            on_pool!(&store, |pool| {
                sqlx::query_as(
                    "select cc.state, cc.next_attempt_at,
                            (select count(*) from attempts a
                              where a.campaign_contact_id = cc.campaign_contact_id)
                       from campaign_contacts cc where cc.phone = $1",
                )
                .bind(&next)
                .fetch_one(pool)
                .await
            })
            .unwrap();
        assert_eq!(
            state, "pending",
            "{name}: the skipped contact is given back"
        );
        assert_eq!(tried, 0, "{name}: a skip is no attempt");
        assert!(
            due.is_some_and(|d| d > Utc::now() + chrono::TimeDelta::minutes(5)),
            "{name}: skipped contact due {due:?}, not offered again at once"
        );
        let decisions: Vec<String> = on_pool!(&store, |pool| {
            sqlx::query_scalar(
                "select coalesce(decision, '-') from agent_previews where agent = 'agent1'
                  order by preview_id",
            )
            .fetch_all(pool)
            .await
        })
        .unwrap();
        assert_eq!(
            decisions[..2],
            ["dial", "skip"],
            "{name}: {decisions:?} ({third})"
        );

        // Pausing withdraws the offer: its contact is given back at once.
        click(&agent, "pause").await;
        wait_text(&agent, "agent-wanted", wait, "paused", |t| t == "paused").await;
        let deadline = Instant::now() + wait;
        loop {
            let state: String = on_pool!(&store, |pool| {
                sqlx::query_scalar("select state from campaign_contacts where phone = $1")
                    .bind(&third)
                    .fetch_one(pool)
                    .await
            })
            .unwrap();
            if state == "pending" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: offer of {third} not withdrawn"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // And the desktop no longer shows it (a hidden element has no text for WebDriver).
        wait_text(
            &agent,
            "preview-owner",
            wait,
            "withdrawn preview",
            str::is_empty,
        )
        .await;
        agent.close().await.unwrap();
    }
}
