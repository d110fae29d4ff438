//! The hotline's screen pop in a real browser: an owner calls the 400 number of a running
//! node (`huifang campaign run` with `[[inbound]]`) from their own phone, presses 1 and is put
//! through to the desktop agent's phone (sipp); the desktop shows that owner, with their
//! units, before anyone types anything. A screen-pop audit row is written for them.

use std::path::Path;
use std::time::{Duration, Instant};

use huifang::on_pool;
use huifang::telephony::Digit;
use huifang::telephony::transport::{DialRequest, UserAgent, UserAgentConfig};
use testkit::dialer::free_port;

use crate::browser::{
    agent_with_a_bad_phone, click, csp_violations, driver, fill, floor_of, owner_of, wait_text,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_caller_pops_up_on_the_agents_desktop_as_the_right_owner() {
    let shots = tempfile::tempdir().unwrap();
    let chrome = driver(shots.path());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The shipped menu without its opening hours, so the test runs at any hour.
    let shipped = std::fs::read_to_string(root.join("campaigns/hotline/400.toml")).unwrap();
    let start = shipped.find("[hours]").unwrap();
    let end = shipped[start..].find("[queues.").unwrap() + start;
    let menu_text = format!("{}{}", &shipped[..start], &shipped[end..]);
    for db in testkit::db::databases().await {
        let name = db.name;
        let menu = shots.path().join(format!("hotline-{name}.toml"));
        std::fs::write(&menu, &menu_text).unwrap();
        let sip_port = free_port();
        let extra = format!(
            "sip_listen = \"127.0.0.1:{sip_port}\"\n\
             [[inbound]]\nnumber = \"4008108888\"\nmenu = \"{}\"\n",
            menu.display()
        );
        let floor = floor_of(db, "inbound-demo", "progressive", &extra).await;
        let base = floor.console.base.clone();
        let store = floor.console.db.store.clone();

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

        // An owner of the sample data calls from their phone.
        let phone: String = on_pool!(&store, |pool| {
            sqlx::query_scalar("select phone from owner_phones order by owner_id desc limit 1")
                .fetch_one(pool)
                .await
        })
        .unwrap();
        let expected = owner_of(&store, &phone).await;
        let ua = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let mut request = DialRequest::new(format!("sip:4008108888@127.0.0.1:{sip_port}"));
        request.caller_id = phone.clone();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut call = loop {
            // The node may still be starting: its hotline answers once it listens.
            let mut call = ua.dial(request.clone()).await.unwrap();
            if call.wait_answer().await {
                break call;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: the hotline never answered"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        tokio::time::sleep(Duration::from_millis(1500)).await;
        call.send_digits(&Digit::parse_all("1").unwrap());

        let popped = wait_text(
            &agent,
            "pop-owner",
            Duration::from_secs(30),
            "screen pop",
            |t| !t.is_empty(),
        )
        .await;
        assert_eq!(popped, expected, "{name}");
        let shown = wait_text(&agent, "pop-phone", Duration::from_secs(2), "phone", |t| {
            !t.is_empty()
        })
        .await;
        assert_eq!(shown, phone, "{name}");
        let violations = csp_violations(&agent).await;
        assert!(violations.is_empty(), "{name}: {violations:?}");
        let audited: i64 = on_pool!(&store, |pool| {
            sqlx::query_scalar(
                "select count(*) from audit_log where action = 'owner.screen_pop' and detail like 'hotline call %'",
            )
            .fetch_one(pool)
            .await
        })
        .unwrap();
        assert!(
            audited >= 1,
            "{name}: the hotline screen pop was not audited"
        );
        call.hangup().await;
        call.close().await;
        agent.close().await.unwrap();
    }
}
