//! The same worker sends the tickets' dispatch SMS; a worker killed mid-send and restarted
//! resends nothing the SMSC accepted; an email's unsubscribe link works through `huifang serve`.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use huifang::clock::{SharedClock, SystemClock};
use huifang::outbox::worker::Worker;
use huifang::tickets::{OpenTicket, TicketDesk};
use huifang::vocab::{Category, Channel, TicketKind};
use testkit::db::databases;

use crate::gateways::queue;
use crate::peers;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_dispatch_reaches_the_responsible_person_by_sms() {
    for db in databases().await {
        let store = &db.store;
        let dir = tempfile::tempdir().unwrap();
        let smsc = peers::smsc(dir.path(), &[]);
        let clock: SharedClock = Arc::new(SystemClock);
        huifang::demo::load_sample(store).await.unwrap();
        let desk = TicketDesk::new(store.clone(), clock.clone(), Default::default());
        let (phone, unit): (String, String) = huifang::on_pool!(store, |pool| {
            sqlx::query_as(
                "select p.phone, u.code from owner_phones p
                   join owner_units ou on ou.owner_id = p.owner_id
                   join units u on u.unit_id = ou.unit_id
                  order by p.phone limit 1",
            )
            .fetch_one(pool)
            .await
        })
        .unwrap();
        let ticket = desk
            .open(OpenTicket {
                phone: Some(phone),
                owner: None,
                unit: Some(unit),
                kind: TicketKind::Repair,
                category: Category::ConstructionQuality,
                component: None,
                description: "卫生间漏水 / bathroom leak".into(),
                owner_on_site: false,
                actor: "agent".into(),
            })
            .await
            .unwrap();
        desk.dispatch(ticket.ticket_id, "agent").await.unwrap();
        let config = peers::config(Some(&smsc), None, "");
        let worker = Arc::new(Worker::new(store.clone(), clock, "w1", &config).unwrap());
        worker.drain(Duration::from_secs(30)).await.unwrap();
        let messages = huifang::outbox::for_ticket(store, ticket.ticket_id)
            .await
            .unwrap();
        assert_eq!(messages.len(), 1, "{}: {messages:?}", db.name);
        let m = &messages[0];
        assert_eq!(
            (m.purpose.as_str(), m.state.as_str()),
            ("dispatch", "delivered"),
            "{}",
            db.name
        );
        // One message, sent once: as many segments as its header says, one each.
        let submits = smsc.submits_to(&m.recipient);
        let total = submits[0]["udh"]["total"].as_u64().unwrap_or(1) as usize;
        assert_eq!(submits.len(), total, "{}: {submits:?}", db.name);
        let mut seqs: Vec<u64> = submits
            .iter()
            .map(|s| s["udh"]["seq"].as_u64().unwrap_or(1))
            .collect();
        seqs.sort();
        assert_eq!(seqs, (1..=total as u64).collect::<Vec<_>>());
        let text: String = submits
            .iter()
            .map(|s| s["text"].as_str().unwrap())
            .collect();
        assert!(
            text.contains(&format!("#{}", ticket.ticket_id)) && text.contains("卫生间漏水"),
            "{text}"
        );
        assert_eq!(submits[0]["data_coding"], 8, "Chinese goes as UCS-2");
    }
}

/// 300 SMS; `huifang outbox run` is killed with SIGKILL while sending, then run again until
/// idle: no message reaches the SMSC twice, every one ends final, and only those caught in
/// flight by the kill are `unknown`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_send_resends_nothing_the_smsc_accepted() {
    for db in databases().await {
        let store = &db.store;
        let dir = tempfile::tempdir().unwrap();
        let smsc = peers::smsc(dir.path(), &[]);
        let mut ids = Vec::new();
        for i in 0..300 {
            let to = format!("+86137{i:08}");
            ids.push((
                queue(store, Channel::Sms, &to, &format!("消息 {i}")).await,
                to,
            ));
        }
        let config = dir.path().join("huifang.toml");
        std::fs::write(
            &config,
            format!(
                "[sms]\nmessages_per_second = 20\n[sms.smpp]\naddress = \"127.0.0.1:{}\"\n\
                 system_id = \"huifang\"\npassword = \"secret\"\nsource_addr = \"4008108888\"\n",
                smsc.ports[0]
            ),
        )
        .unwrap();
        let worker = |extra: &[&str]| {
            testkit::binary::command()
                .args([
                    "--config",
                    config.to_str().unwrap(),
                    "--database",
                    &db.url(),
                ])
                .args(["outbox", "run", "--node", "w1"])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let mut first = worker(&[]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while smsc.where_("pdu", "submit_sm").len() < 100 {
            assert!(
                Instant::now() < deadline,
                "{}: the worker sent nothing",
                db.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        first.kill().unwrap(); // SIGKILL
        first.wait().unwrap();
        let sent_before = smsc.where_("pdu", "submit_sm").len();
        assert!(
            sent_before < 300,
            "{}: killed too late to prove anything",
            db.name
        );
        let status = worker(&["--until-idle", "--patience", "60"])
            .wait()
            .unwrap();
        assert!(status.success(), "{}", db.name);
        let all = huifang::outbox::recent(store, None, 1000).await.unwrap();
        let mut unknown = 0;
        for (id, to) in &ids {
            let m = all.iter().find(|m| m.message_id == *id).unwrap();
            let submits = smsc.submits_to(to).len();
            assert!(m.ended_at.is_some(), "{}: {m:?}", db.name);
            if m.state == "unknown" {
                unknown += 1;
                assert!(submits <= 1, "{}: {m:?} sent {submits} times", db.name);
                assert!(m.last_error.as_deref().unwrap().contains("not resent"));
            } else {
                assert_eq!(m.state, "delivered", "{}: {m:?}", db.name);
                assert_eq!(submits, 1, "{}: {m:?} sent {submits} times", db.name);
            }
        }
        assert!(
            unknown <= 10,
            "{}: {unknown} unknown, more than one window",
            db.name
        );
        assert_eq!(
            smsc.where_("pdu", "submit_sm").len(),
            300 - ids
                .iter()
                .filter(|(_, to)| smsc.submits_to(to).is_empty())
                .count(),
            "{}",
            db.name
        );
    }
}

/// An email's unsubscribe link, through `huifang serve`: the GET shows a button and changes
/// nothing; the POST puts the owner on the email do-not-contact list, and the worker then
/// suppresses a queued email to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unsubscribe_link_of_an_email_stops_email() {
    for db in databases().await {
        let store = &db.store;
        let dir = tempfile::tempdir().unwrap();
        huifang::demo::load_sample(store).await.unwrap();
        // A campaign contact's email (the link needs the contact's number).
        let smtp = peers::smtp(dir.path(), &[]);
        let (phone, email): (String, String) = huifang::on_pool!(store, |pool| {
            sqlx::query_as(
                "select p.phone, o.email from owner_phones p join owners o on o.owner_id = p.owner_id
                  where p.position = 0 and o.email is not null and o.consent_email
                  order by p.phone limit 1",
            )
            .fetch_one(pool)
            .await
        })
        .unwrap();
        std::fs::write(dir.path().join("list.csv"), format!("phone\n{phone}\n")).unwrap();
        let templates = dir.path().join("templates/zh-CN");
        std::fs::create_dir_all(&templates).unwrap();
        std::fs::write(templates.join("n.subject.txt"), "通知").unwrap();
        std::fs::write(templates.join("n.email.txt"), "{{ owner.name }}您好").unwrap();
        let file = dir.path().join("n.toml");
        std::fs::write(
            &file,
            "code = \"n\"\nname = \"邮件通知\"\nkind = \"notification\"\nchannels = [\"email\"]\n\
             template = \"n\"\n[source]\ncsv = \"list.csv\"\n[windows]\nmon-sun = [\"00:00-23:59\"]\n",
        )
        .unwrap();
        let clock: SharedClock = Arc::new(SystemClock);
        testkit::campaign::create(store, &file, huifang::clock::Clock::now(&*clock)).await;
        let config = peers::config(None, Some(&smtp), "");
        let ua = huifang::telephony::transport::UserAgent::start(
            huifang::telephony::transport::UserAgentConfig::new("127.0.0.1:0".parse().unwrap()),
        )
        .await
        .unwrap();
        let node_config = huifang::dialer::NodeConfig {
            node: "n1".into(),
            lease: Duration::from_secs(900),
            poll: Duration::from_millis(100),
            prompts_dir: dir.path().join("prompts"),
            recordings_dir: dir.path().join("recordings"),
            sla: Default::default(),
            trunks: Default::default(),
            prefix_rates: Default::default(),
            agents: None,
        };
        let node = huifang::dialer::DialerNode::new(store.clone(), ua, clock.clone(), node_config)
            .unwrap();
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let runner = tokio::spawn({
            let node = node.clone();
            async move { node.run(&["n".to_string()], true, stopped).await }
        });
        let worker = Arc::new(Worker::new(store.clone(), clock.clone(), "n1", &config).unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        while smtp.where_("event", "message").is_empty() {
            worker.pass().await.unwrap();
            assert!(Instant::now() < deadline, "{}: no email", db.name);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mail = &smtp.where_("event", "message")[0];
        assert_eq!(mail["rcpt_tos"][0], email.as_str());
        let link = mail["list_unsubscribe"]
            .as_str()
            .unwrap()
            .trim_matches(['<', '>'])
            .to_string();
        let path = link
            .strip_prefix("http://127.0.0.1:8080")
            .unwrap()
            .to_string();
        while !runner.is_finished() {
            worker.pass().await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let web = huifang::web::Application::build(
            &huifang::config::Config::parse(
                &format!(
                    "database_url = \"{}\"\n[sms]\ninbound_token = \"w3bh00k\"\n",
                    db.url()
                ),
                "t",
            )
            .unwrap(),
            "127.0.0.1:0",
            clock.clone(),
        )
        .await
        .unwrap();
        let base = format!("http://{}", web.addr());
        let (stop_web, web_stopped) = tokio::sync::watch::channel(false);
        let serving = tokio::spawn(web.run(web_stopped));
        let http = reqwest::Client::new();
        let page = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("<form method=\"post\""));
        assert!(
            !huifang::contacts::dnc::is_blocked(
                store,
                &huifang::phone::Phone::parse(&phone).unwrap(),
                Channel::Email
            )
            .await
            .unwrap(),
            "{}: a GET (a link scanner) unsubscribes nobody",
            db.name
        );
        let done = http
            .post(format!("{base}{path}"))
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 200, "{}", db.name);
        let phone = huifang::phone::Phone::parse(&phone).unwrap();
        assert!(
            huifang::contacts::dnc::is_blocked(store, &phone, Channel::Email)
                .await
                .unwrap()
        );
        assert!(
            !huifang::contacts::dnc::is_blocked(store, &phone, Channel::Sms)
                .await
                .unwrap(),
            "email only"
        );
        let consent: bool = huifang::on_pool!(store, |pool| {
            sqlx::query_scalar(
                "select o.consent_email from owners o join owner_phones p on p.owner_id = o.owner_id
                  where p.phone = $1",
            )
            .bind(phone.as_str())
            .fetch_one(pool)
            .await
        })
        .unwrap();
        assert!(
            !consent,
            "{}: the owner's email consent is withdrawn too",
            db.name
        );
        let unknown = http
            .post(format!("{base}/unsubscribe/{}", "0".repeat(32)))
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status(), 404);
        let garbage = http
            .get(format!("{base}/unsubscribe/..%2F.."))
            .send()
            .await
            .unwrap();
        assert_eq!(garbage.status(), 404);
        // An SMS reply through the HTTP webhook is handled like one through the SMSC, once the
        // caller shows the webhook's secret.
        let body = serde_json::json!({"from": phone.as_str(), "to": "4008108888", "text": "TD"});
        let stranger = http
            .post(format!("{base}/api/sms/inbound"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(stranger.status(), 401);
        assert!(
            !huifang::contacts::dnc::is_blocked(store, &phone, Channel::Sms)
                .await
                .unwrap()
        );
        let reply = http
            .post(format!("{base}/api/sms/inbound"))
            .bearer_auth("w3bh00k")
            .json(&serde_json::json!({"from": phone.as_str(), "to": "4008108888", "text": "TD"}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        let handled: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(handled["action"], "opt_out");
        assert!(
            huifang::contacts::dnc::is_blocked(store, &phone, Channel::Sms)
                .await
                .unwrap()
        );
        let _ = stop_web.send(true);
        serving.await.unwrap().unwrap();
    }
}
