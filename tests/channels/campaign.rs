//! Campaigns on the SMS and email channels, against the SMSC simulator and the SMTP server:
//! 100 contacts, receipts, fallback from SMS to email, an MO 退订, and SMS surveys answered by
//! reply digits closing the loop on tickets.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use huifang::campaigns::lifecycle::State;
use huifang::campaigns::repo::Campaigns;
use huifang::clock::{Clock, ManualClock, SharedClock, SystemClock};
use huifang::config::Config;
use huifang::dialer::{DialerNode, NodeConfig};
use huifang::outbox::worker::Worker;
use huifang::store::Store;
use huifang::telephony::transport::{UserAgent, UserAgentConfig};
use huifang::tickets::{OpenTicket, TicketDesk, TicketRepo};
use huifang::vocab::{Category, TicketKind, TicketState};
use testkit::db::databases;

use crate::peers;

/// The template of the notice: long enough in Chinese for two SMS segments.
const NOTICE_SMS: &str = "【和悦地产】{{ owner.name }}您好，您的房屋{{ unit.code }}已具备交付条件，\
请于本月内携带身份证与购房合同前往交付中心办理交付手续，办理时间为每日九点至十七点，咨询请致电400-810-8888。回复TD退订";

fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A message campaign over `list.csv` with `channels`, open all day, and its templates.
fn notice(dir: &Path, code: &str, channels: &str) -> std::path::PathBuf {
    write(dir, "templates/zh-CN/notice.sms.txt", NOTICE_SMS);
    write(
        dir,
        "templates/zh-CN/notice.subject.txt",
        "交付通知 {{ unit.code }}",
    );
    write(
        dir,
        "templates/zh-CN/notice.email.txt",
        "{{ owner.name }}您好：{{ unit.code }}可以交付了。",
    );
    write(
        dir,
        "templates/zh-CN/notice.email.html",
        "<p>{{ owner.name }}您好：<b>{{ unit.code }}</b>可以交付了。</p>",
    );
    let path = dir.join(format!("{code}.toml"));
    let text = format!(
        "code = \"{code}\"\nname = \"交付通知 {code}\"\nkind = \"notification\"\n\
         channels = {channels}\ntemplate = \"notice\"\n\
         [source]\ncsv = \"list.csv\"\n[windows]\nmon-sun = [\"00:00-23:59\"]\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Owners of the sample set with a mobile number, an email and every consent: (phone, email).
async fn owners(store: &Store, n: usize) -> Vec<(String, String)> {
    huifang::demo::load_sample(store).await.unwrap();
    let rows: Vec<(String, String)> = huifang::on_pool!(store, |pool| {
        sqlx::query_as(
            "select p.phone, o.email from owner_phones p join owners o on o.owner_id = p.owner_id
              where p.position = 0 and o.email is not null and o.consent_sms and o.consent_email
              order by p.phone",
        )
        .fetch_all(pool)
        .await
    })
    .unwrap();
    assert!(
        rows.len() >= n,
        "the sample set has only {} such owners",
        rows.len()
    );
    rows.into_iter().take(n).collect()
}

fn list(dir: &Path, phones: &[&str]) {
    let mut text = String::from("phone\n");
    for p in phones {
        text.push_str(p);
        text.push('\n');
    }
    std::fs::write(dir.join("list.csv"), text).unwrap();
}

/// A node that works the campaigns (no trunk: messages only, unless `trunk` is given).
async fn node(store: &Store, clock: SharedClock, dir: &Path, trunk: Option<&str>) -> DialerNode {
    let ua = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let trunks = match trunk {
        Some(domain) => std::collections::BTreeMap::from([(
            "main".to_string(),
            toml::from_str(&format!(
                "domain = \"{domain}\"\nchannels = 20\ncalls_per_second = 100\n"
            ))
            .unwrap(),
        )]),
        None => Default::default(),
    };
    let config = NodeConfig {
        node: "n1".into(),
        lease: Duration::from_secs(900),
        poll: Duration::from_millis(100),
        prompts_dir: dir.join("prompts"),
        recordings_dir: dir.join("recordings"),
        sla: Default::default(),
        trunks,
        prefix_rates: Default::default(),
        agents: None,
    };
    let node = DialerNode::new(store.clone(), ua, clock, config).unwrap();
    node.recover().await.unwrap();
    node
}

/// Runs `node` on `code` and a worker beside it until the campaign completes (at most
/// `within`), calling `tick` every 100 ms (a test may move a manual clock there).
async fn run(
    store: &Store,
    node: &DialerNode,
    worker: &Arc<Worker>,
    code: &str,
    within: Duration,
    mut tick: impl FnMut(),
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runner = {
        let node = node.clone();
        let code = code.to_string();
        let stopped = stopped.clone();
        tokio::spawn(async move { node.run(&[code], true, stopped).await })
    };
    let sender = tokio::spawn(worker.clone().run(stopped));
    let repo = Campaigns::new(store);
    let deadline = Instant::now() + within;
    while repo.get(code).await.unwrap().state == State::Running {
        if Instant::now() > deadline {
            let rows = huifang::outbox::recent(store, None, 3).await.unwrap();
            let replies = huifang::outbox::inbound::recent(store, 5).await.unwrap();
            type Row = (
                i64,
                String,
                Option<String>,
                i64,
                Option<chrono::DateTime<Utc>>,
            );
            let contacts: Vec<Row> = huifang::on_pool!(store, |pool| {
                sqlx::query_as(
                    "select campaign_contact_id, state, final_outcome, channel_step,
                            next_attempt_at from campaign_contacts order by 1 desc limit 5",
                )
                .fetch_all(pool)
                .await
            })
            .unwrap();
            panic!(
                "campaign {code} did not complete within {within:?}; contacts {contacts:#?}, \
                 replies {replies:#?}, latest messages: {rows:#?}"
            );
        }
        tick();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    runner.await.unwrap().unwrap();
    let _ = stop.send(true);
    sender.await.unwrap().unwrap();
}

async fn scalar(store: &Store, sql: &str, id: i64) -> i64 {
    huifang::on_pool!(store, |pool| {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(id)
            .fetch_one(pool)
            .await
    })
    .unwrap()
}

/// 100 owners: the SMS goes as two UCS-2 segments and is delivered (receipts update the rows);
/// ten numbers the SMSC cannot deliver fall back to email. Then one owner replies 退订: a new
/// campaign sends them no SMS (their email still goes), and a message queued for them before
/// the opt-out is suppressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_of_100_owners_by_sms_and_email() {
    for db in databases().await {
        let store = &db.store;
        let dir = tempfile::tempdir().unwrap();
        let owners = owners(store, 100).await;
        let undeliverable: Vec<String> = owners[..10]
            .iter()
            .map(|(p, _)| p.trim_start_matches('+').to_string())
            .collect();
        let mut smsc_args = Vec::new();
        for number in &undeliverable {
            smsc_args.extend(["--undeliverable", number.as_str()]);
        }
        let smsc = peers::smsc(dir.path(), &smsc_args);
        let smtp = peers::smtp(dir.path(), &["--tempfail-first", "2"]);
        let config = peers::config(Some(&smsc), Some(&smtp), "");
        let clock: SharedClock = Arc::new(SystemClock);
        let worker = Arc::new(Worker::new(store.clone(), clock.clone(), "n1", &config).unwrap());
        let node = node(store, clock.clone(), dir.path(), None).await;

        let phones: Vec<&str> = owners.iter().map(|(p, _)| p.as_str()).collect();
        list(dir.path(), &phones);
        let file = notice(dir.path(), "notice-1", r#"["sms", "email"]"#);
        let stored = testkit::campaign::create(store, &file, clock.now()).await;
        run(
            store,
            &node,
            &worker,
            "notice-1",
            Duration::from_secs(120),
            || {},
        )
        .await;

        // Every message reached a final state.
        let messages = huifang::outbox::for_campaign(store, stored.campaign_id)
            .await
            .unwrap();
        assert_eq!(messages.len(), 110, "{}: 100 SMS and 10 emails", db.name);
        assert!(
            messages.iter().all(|m| m.ended_at.is_some()),
            "{}: {messages:#?}",
            db.name
        );
        let count = |channel: &str, state: &str| {
            messages
                .iter()
                .filter(|m| m.channel == channel && m.state == state)
                .count()
        };
        assert_eq!(count("sms", "delivered"), 90, "{}", db.name);
        assert_eq!(count("sms", "failed"), 10, "{}", db.name);
        assert_eq!(count("email", "sent"), 10, "{}", db.name);
        // Each SMS went as two UCS-2 segments, once each, and was reported on per segment.
        let submits = smsc.where_("pdu", "submit_sm");
        assert_eq!(
            submits.len(),
            200,
            "{}: 100 SMS of two segments, none twice",
            db.name
        );
        assert!(
            submits
                .iter()
                .all(|s| s["data_coding"] == 8 && s["udh"]["total"] == 2)
        );
        let first = smsc.submits_to(phones[50]);
        let text: String = first.iter().map(|s| s["text"].as_str().unwrap()).collect();
        assert!(
            text.starts_with("【和悦地产】") && text.ends_with("回复TD退订"),
            "{text}"
        );
        let parts = scalar(
            store,
            "select count(*) from outbox_parts p join outbox o on o.message_id = p.message_id
              where o.campaign_id = $1 and p.state = 'delivered'",
            stored.campaign_id,
        )
        .await;
        assert_eq!(parts, 180, "{}", db.name);
        // The ten undeliverable owners got the email instead (after two deferrals: retried).
        let mails = smtp.where_("event", "message");
        assert_eq!(mails.len(), 10, "{}", db.name);
        let fallback_mails: Vec<&str> = owners[..10].iter().map(|(_, e)| e.as_str()).collect();
        for mail in &mails {
            let to = mail["rcpt_tos"][0].as_str().unwrap();
            assert!(fallback_mails.contains(&to), "{to}");
            assert!(mail["subject"].as_str().unwrap().starts_with("交付通知 "));
            assert!(mail["html"].as_str().unwrap().contains("<b>"));
            let link = mail["list_unsubscribe"].as_str().unwrap();
            assert!(
                link.starts_with("<http://127.0.0.1:8080/unsubscribe/"),
                "{link}"
            );
            assert!(
                mail["text"]
                    .as_str()
                    .unwrap()
                    .contains("Unsubscribe: http://")
            );
        }
        assert_eq!(smtp.where_("event", "tempfail").len(), 2);
        // Contacts: finished with what their last channel achieved.
        let outcomes: Vec<(String, i64)> = huifang::on_pool!(store, |pool| {
            sqlx::query_as(
                "select final_outcome, count(*) from campaign_contacts where campaign_id = $1
                  group by final_outcome order by final_outcome",
            )
            .bind(stored.campaign_id)
            .fetch_all(pool)
            .await
        })
        .unwrap();
        assert_eq!(
            outcomes,
            [("delivered".to_string(), 90), ("sent".to_string(), 10)]
        );

        // An owner replies 退订 (by a real MO deliver_sm through the SMSC).
        let quitter = phones[50];
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let listening = tokio::spawn(worker.clone().run(stopped));
        let deadline = Instant::now() + Duration::from_secs(20);
        while smsc.mo(quitter, "退订").await != 200 {
            assert!(
                Instant::now() < deadline,
                "the SMSC never saw huifang bound"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let _ = stop.send(true);
        listening.await.unwrap().unwrap();
        let replies = huifang::outbox::inbound::recent(store, 10).await.unwrap();
        assert_eq!(replies[0].action, "opt_out", "{replies:?}");
        assert_eq!(replies[0].detail, "sms");
        // Queued before it, a message to them is not sent now.
        let mut tx = store.begin_write().await.unwrap();
        let late = huifang::outbox::enqueue(
            &mut tx,
            &huifang::outbox::NewMessage {
                channel: huifang::vocab::Channel::Sms,
                recipient: quitter,
                subject: None,
                body: "一条退订前排队的短信",
                html: None,
                ticket_id: None,
                staff_id: None,
                purpose: "campaign",
                at: clock.now(),
                campaign: None,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        // A second campaign to them and one other owner: SMS to the other, email to them.
        list(dir.path(), &[quitter, phones[60]]);
        let file = notice(dir.path(), "notice-2", r#"["sms", "email"]"#);
        let second = testkit::campaign::create(store, &file, clock.now()).await;
        let before = smsc.submits_to(quitter).len();
        run(
            store,
            &node,
            &worker,
            "notice-2",
            Duration::from_secs(60),
            || {},
        )
        .await;
        assert_eq!(
            smsc.submits_to(quitter).len(),
            before,
            "{}: no SMS after 退订",
            db.name
        );
        assert_eq!(
            smsc.submits_to(phones[60]).len(),
            4,
            "{}: the other owner's second SMS",
            db.name
        );
        let late = huifang::outbox::get(store, late).await.unwrap().unwrap();
        assert_eq!(late.state, "suppressed", "{}", db.name);
        let messages = huifang::outbox::for_campaign(store, second.campaign_id)
            .await
            .unwrap();
        let mut channels: Vec<(&str, &str)> = messages
            .iter()
            .map(|m| (m.channel.as_str(), m.state.as_str()))
            .collect();
        channels.sort();
        assert_eq!(
            channels,
            [("email", "sent"), ("sms", "delivered")],
            "{}",
            db.name
        );
    }
}

/// A callback survey by SMS: the owner's reply digit is recorded as the rating, like a key
/// pressed on a call, and decides the ticket (5 closes it, 1 reopens and escalates it); an
/// owner who never replies is unreached once the reply window passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_survey_replies_close_the_loop() {
    for db in databases().await {
        let store = &db.store;
        let dir = tempfile::tempdir().unwrap();
        let smsc = peers::smsc(dir.path(), &[]);
        let config: Config = peers::config(Some(&smsc), None, "");
        // Wednesday 10:00 in Shanghai.
        let manual = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 2, 2, 0, 0).unwrap());
        let clock: SharedClock = Arc::new(manual.clone());
        let desk = TicketDesk::new(store.clone(), clock.clone(), Default::default());
        huifang::demo::load_sample(store).await.unwrap();
        let phones: Vec<(String, String)> = huifang::on_pool!(store, |pool| {
            sqlx::query_as(
                "select min(p.phone), min(u.code) from owner_phones p
                   join owners o on o.owner_id = p.owner_id
                   join owner_units ou on ou.owner_id = o.owner_id
                   join units u on u.unit_id = ou.unit_id
                  where p.position = 0 and o.consent_sms group by o.owner_id order by o.owner_id
                  limit 3",
            )
            .fetch_all(pool)
            .await
        })
        .unwrap();
        let mut tickets = Vec::new();
        for (phone, unit) in &phones {
            let t = desk
                .open(OpenTicket {
                    phone: Some(phone.clone()),
                    owner: None,
                    unit: Some(unit.clone()),
                    kind: TicketKind::Repair,
                    category: Category::ConstructionQuality,
                    component: None,
                    description: "卫生间漏水".into(),
                    owner_on_site: false,
                    actor: "agent".into(),
                })
                .await
                .unwrap();
            desk.dispatch(t.ticket_id, "agent").await.unwrap();
            desk.acknowledge(t.ticket_id, "staff").await.unwrap();
            desk.complete(t.ticket_id, "staff", "done").await.unwrap();
            tickets.push(t.ticket_id);
        }
        manual.advance(chrono::TimeDelta::hours(2));
        write(
            dir.path(),
            "survey.toml",
            "start = \"rating\"\n[nodes.rating]\nkind = \"rating\"\nprompts = [\"ask\"]\nmax = 5\nnext = \"bye\"\n[nodes.bye]\nkind = \"hangup\"\n",
        );
        write(
            dir.path(),
            "templates/zh-CN/cb.sms.txt",
            "您报修的{{ ticket.category }}问题（工单{{ ticket.id }}）已处理，请回复{{ reply.min }}-{{ reply.max }}评分",
        );
        let file = dir.path().join("cb.toml");
        std::fs::write(
            &file,
            "code = \"cb\"\nname = \"短信回访\"\nkind = \"callback\"\nchannels = [\"sms\"]\n\
             template = \"cb\"\nscript = \"survey.toml\"\nreply_hours = 4\n[source]\ncallbacks = true\n\
             [windows]\nmon-sun = [\"00:00-23:59\"]\n",
        )
        .unwrap();
        let stored = testkit::campaign::create(store, &file, manual.now()).await;
        let node = node(store, clock.clone(), dir.path(), None).await;
        let worker = Arc::new(Worker::new(store.clone(), clock.clone(), "n1", &config).unwrap());
        // Owners reply once their SMS arrived; the third never does, and the clock moves past
        // the reply window once the other two are settled.
        let replies = tokio::spawn({
            let phones = phones.clone();
            let log = smsc.log.clone();
            let control = smsc.ports[1];
            async move {
                for ((phone, _), key) in phones.iter().zip(["5", "1"]) {
                    let bare = phone.trim_start_matches('+').to_string();
                    loop {
                        let seen = std::fs::read_to_string(&log).unwrap_or_default();
                        if seen
                            .lines()
                            .any(|l| l.contains("\"receipt\"") && l.contains(&bare))
                        {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    let body =
                        serde_json::json!({ "from": phone, "to": "4008108888", "text": key });
                    let status = reqwest::Client::new()
                        .post(format!("http://127.0.0.1:{control}/mo"))
                        .json(&body)
                        .send()
                        .await
                        .unwrap()
                        .status();
                    assert_eq!(status, 200);
                }
            }
        });
        let settled = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let store = store.clone();
            let settled = settled.clone();
            let campaign = stored.campaign_id;
            tokio::spawn(async move {
                loop {
                    let n: i64 = huifang::on_pool!(&store, |pool| {
                        sqlx::query_scalar(
                            "select count(*) from survey_verdicts where campaign_id = $1",
                        )
                        .bind(campaign)
                        .fetch_one(pool)
                        .await
                    })
                    .unwrap();
                    if n >= 2 {
                        settled.store(true, std::sync::atomic::Ordering::SeqCst);
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let mut moved = false;
        run(store, &node, &worker, "cb", Duration::from_secs(60), || {
            if !moved && settled.load(std::sync::atomic::Ordering::SeqCst) {
                manual.advance(chrono::TimeDelta::hours(5));
                moved = true;
            }
        })
        .await;
        replies.await.unwrap();
        watcher.await.unwrap();
        let repo = TicketRepo::new(store);
        let state = |t: &huifang::tickets::Ticket| t.state;
        let one = repo.get(tickets[0]).await.unwrap().unwrap();
        let two = repo.get(tickets[1]).await.unwrap().unwrap();
        let three = repo.get(tickets[2]).await.unwrap().unwrap();
        assert_eq!(
            state(&one),
            TicketState::Closed,
            "{}: rated 5 by SMS",
            db.name
        );
        assert_eq!(
            state(&two),
            TicketState::Dispatched,
            "{}: rated 1: reopened",
            db.name
        );
        assert_ne!(
            two.level,
            huifang::vocab::Level::General,
            "{}: and escalated",
            db.name
        );
        assert_eq!(
            state(&three),
            TicketState::Completed,
            "{}: no reply",
            db.name
        );
        let verdicts: Vec<(i64, String, Option<i64>)> = huifang::on_pool!(store, |pool| {
            sqlx::query_as("select ticket_id, verdict, rating from survey_verdicts where campaign_id = $1 order by ticket_id")
                .bind(stored.campaign_id)
                .fetch_all(pool)
                .await
        })
        .unwrap();
        assert_eq!(
            verdicts,
            [
                (tickets[0], "satisfied".to_string(), Some(5)),
                (tickets[1], "unsatisfied".to_string(), Some(1)),
                (tickets[2], "unreached".to_string(), None),
            ],
            "{}",
            db.name
        );
        let answers = scalar(
            store,
            "select count(*) from survey_answers where campaign_id = $1 and node = 'rating'",
            stored.campaign_id,
        )
        .await;
        assert_eq!(answers, 2);
        // The survey SMS rendered the ticket's fields.
        let sms = smsc.submits_to(&phones[0].0);
        assert!(
            sms[0]["text"]
                .as_str()
                .unwrap()
                .contains(&format!("工单{}", tickets[0]))
        );
    }
}

/// Voice first, then SMS: owners the phone simulator keeps busy get the notice by SMS once
/// their call attempts are spent; an owner on the voice do-not-call list gets it by SMS at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_unreached_by_phone_get_the_sms() {
    for db in databases().await {
        let store = &db.store;
        let dir = tempfile::tempdir().unwrap();
        let smsc = peers::smsc(dir.path(), &[]);
        let config = peers::config(Some(&smsc), None, "");
        let clock: SharedClock = Arc::new(SystemClock);
        // A one-second prompt.
        testkit::campaign::prompts(dir.path(), "beep", 1.0);
        // Every owner's phone is busy.
        let phones = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let owners_config = huifang::telephony::simulator::PhoneConfig {
            mix: "busy=100".parse().unwrap(),
            ..Default::default()
        };
        tokio::spawn(huifang::telephony::simulator::serve(
            phones.clone(),
            owners_config,
        ));
        let numbers = ["+8613800000101", "+8613800000102", "+8613800000103"];
        list(dir.path(), &numbers);
        huifang::contacts::dnc::add_in(
            store,
            &huifang::phone::Phone::parse(numbers[2]).unwrap(),
            huifang::vocab::Channel::Voice,
            "",
            "asked not to be called",
            clock.now(),
        )
        .await
        .unwrap();
        write(
            dir.path(),
            "templates/zh-CN/notice.sms.txt",
            "交付通知：请致电400-810-8888。",
        );
        let file = dir.path().join("v.toml");
        std::fs::write(
            &file,
            "code = \"v\"\nname = \"交付通知\"\nkind = \"notification\"\nmode = \"agentless\"\n\
             channels = [\"voice\", \"sms\"]\ntemplate = \"notice\"\nprompts = [\"beep\"]\n\
             ring_timeout_secs = 15\n[source]\ncsv = \"list.csv\"\n\
             [windows]\nmon-sun = [\"00:00-23:59\"]\n[retry]\nbusy = { after = \"1s\", max = 1 }\n",
        )
        .unwrap();
        let stored = testkit::campaign::create(store, &file, clock.now()).await;
        let domain = phones.local_addr().to_string();
        let node = node(store, clock.clone(), dir.path(), Some(&domain)).await;
        let worker = Arc::new(Worker::new(store.clone(), clock.clone(), "n1", &config).unwrap());
        run(store, &node, &worker, "v", Duration::from_secs(60), || {}).await;
        let attempts: Vec<(String, String, Option<String>)> = huifang::on_pool!(store, |pool| {
            sqlx::query_as(
                "select c.phone, a.channel, a.outcome from attempts a
                   join campaign_contacts c on c.campaign_contact_id = a.campaign_contact_id
                  where a.campaign_id = $1 order by c.phone, a.attempt_id",
            )
            .bind(stored.campaign_id)
            .fetch_all(pool)
            .await
        })
        .unwrap();
        let of = |phone: &str| -> Vec<(String, Option<String>)> {
            attempts
                .iter()
                .filter(|(p, _, _)| p == phone)
                .map(|(_, c, o)| (c.clone(), o.clone()))
                .collect()
        };
        let busy_then_sms = vec![
            ("voice".to_string(), Some("busy".to_string())),
            ("voice".to_string(), Some("busy".to_string())),
            ("sms".to_string(), Some("delivered".to_string())),
        ];
        assert_eq!(of(numbers[0]), busy_then_sms, "{}", db.name);
        assert_eq!(of(numbers[1]), busy_then_sms, "{}", db.name);
        assert_eq!(
            of(numbers[2]),
            [("sms".to_string(), Some("delivered".to_string()))],
            "{}: not called, messaged",
            db.name
        );
        for n in numbers {
            assert_eq!(smsc.submits_to(n).len(), 1, "{}", db.name);
        }
        phones.shutdown();
    }
}
