//! The ticket loop closed by a keypad survey, end to end over real SIP/RTP on loopback: tickets
//! are completed, a callback campaign calls their owners, the owners press ratings (the
//! built-in phone simulator, and sipp sending RFC 2833 events from its pcaps), and the
//! tickets are closed with consent, reopened and escalated, or put on the agents' callback
//! list. SQLite always, PostgreSQL as well when `TEST_DATABASE_URL` is set.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use huifang::callbacks;
use huifang::campaigns::lifecycle::State;
use huifang::campaigns::repo::Campaigns;
use huifang::clock::ManualClock;
use huifang::config::SlaPolicy;
use huifang::dialer::DialerNode;
use huifang::store::Store;
use huifang::telephony::Digit;
use huifang::telephony::simulator::{self, Behaviour, Mix, PhoneConfig};
use huifang::telephony::transport::{UserAgent, UserAgentConfig};
use huifang::tickets::{OpenTicket, TicketDesk, TicketRepo};
use huifang::vocab::{Category, Level, TicketKind, TicketState};
use testkit::{binary::Proc, db::databases, dialer::free_port};

/// A short survey: the callback script's shape with quick time-outs and tone prompts.
const SCRIPT: &str = r#"
start = "rating"
[nodes.rating]
kind = "rating"
prompts = ["ask"]
max = 5
timeout_secs = 3
retries = 1
missing = ["ask"]
on = { "1-2" = "sorry", "3-5" = "thanks" }
[nodes.sorry]
kind = "choice"
prompts = ["ask"]
options = { "1" = { value = "agent", next = "agent" }, "2" = { value = "comment", next = "comment" } }
timeout_secs = 6
retries = 0
next = "thanks"
[nodes.agent]
kind = "transfer"
next = "later"
[nodes.later]
kind = "play"
prompts = ["ask"]
next = "bye"
[nodes.comment]
kind = "record"
prompts = ["ask"]
max = 2
next = "thanks"
[nodes.thanks]
kind = "play"
prompts = ["ask"]
next = "bye"
[nodes.bye]
kind = "hangup"
"#;

/// A callback campaign over the completed tickets; no retries, so every contact ends on its
/// first attempt.
fn campaign(dir: &Path, code: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("survey.toml"), SCRIPT).unwrap();
    let path = dir.join(format!("{code}.toml"));
    let text = format!(
        "code = \"{code}\"\nname = \"回访 {code}\"\nkind = \"callback\"\nmode = \"agentless\"\n\
         script = \"survey.toml\"\nring_timeout_secs = 15\ncaller_id = \"400-810-8888\"\n\
         [source]\ncallbacks = true\n[windows]\nmon-sun = [\"00:00-23:59\"]\n[retry]\n\
         busy = {{ after = \"30m\", max = 0 }}\nno_answer = {{ after = \"30m\", max = 0 }}\n\
         failed = {{ after = \"30m\", max = 0 }}\nincomplete = {{ after = \"30m\", max = 0 }}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The sample data and `n` tickets of different owners taken to `completed`; their ids and
/// the owners' numbers.
async fn completed_tickets(store: &Store, desk: &TicketDesk, n: usize) -> Vec<(i64, String)> {
    huifang::demo::load_sample(store).await.unwrap();
    let owners: Vec<(String, String)> = huifang::on_pool!(store, |pool| {
        sqlx::query_as(
            "select p.phone, min(u.code) from owner_phones p
               join owner_units ou on ou.owner_id = p.owner_id
               join units u on u.unit_id = ou.unit_id
               join owners o on o.owner_id = p.owner_id
              where p.position = 0 and o.consent_voice group by p.phone order by p.phone",
        )
        .fetch_all(pool)
        .await
    })
    .unwrap();
    let mut tickets = Vec::new();
    for (phone, unit) in owners.into_iter().take(n) {
        let ticket = desk
            .open(OpenTicket {
                phone: Some(phone.clone()),
                owner: None,
                unit: Some(unit),
                kind: TicketKind::Complaint,
                category: Category::PropertyManagement,
                component: None,
                description: "保洁不及时 / cleaning late".into(),
                owner_on_site: false,
                actor: "agent".into(),
            })
            .await
            .unwrap();
        let id = ticket.ticket_id;
        desk.dispatch(id, "agent").await.unwrap();
        desk.acknowledge(id, "staff").await.unwrap();
        desk.complete(id, "staff", "done").await.unwrap();
        tickets.push((id, phone));
    }
    tickets
}

/// Creates the campaign, runs a node against `domain` until it completes.
async fn run_campaign(
    store: &Store,
    dir: &Path,
    code: &str,
    domain: &str,
    clock: &ManualClock,
) -> i64 {
    let prompts = testkit::campaign::prompts(dir, "ask", 0.4);
    let file = campaign(dir, code);
    let stored = testkit::campaign::create(store, &file, clock_now(clock)).await;
    let ua = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let config = testkit::dialer::node_config("n1", domain, &prompts, 10);
    let node = DialerNode::new(store.clone(), ua, Arc::new(clock.clone()), config).unwrap();
    node.recover().await.unwrap();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let runner = {
        let node = node.clone();
        let code = code.to_string();
        tokio::spawn(async move { node.run(&[code], true, stopped).await })
    };
    let repo = Campaigns::new(store);
    let deadline = Instant::now() + Duration::from_secs(120);
    while repo.get(code).await.unwrap().state == State::Running {
        if Instant::now() > deadline {
            let contacts = testkit::campaign::contacts(store, stored.campaign_id).await;
            let attempts = testkit::campaign::attempts(store, stored.campaign_id).await;
            panic!("campaign {code} did not complete: {contacts:?} {attempts:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    runner.await.unwrap().unwrap();
    stored.campaign_id
}

fn clock_now(clock: &ManualClock) -> chrono::DateTime<Utc> {
    huifang::clock::Clock::now(clock)
}

/// A Wednesday morning in Shanghai.
fn morning() -> ManualClock {
    ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 2, 2, 0, 0).unwrap())
}

async fn answers(store: &Store, ticket_id: i64) -> Vec<(String, String)> {
    huifang::on_pool!(store, |pool| {
        sqlx::query_as(
            "select a.node, a.value from survey_answers a
               join campaign_contacts c on c.campaign_contact_id = a.campaign_contact_id
              where c.ticket_id = $1 order by a.answer_id",
        )
        .bind(ticket_id)
        .fetch_all(pool)
        .await
    })
    .unwrap()
}

async fn actions(store: &Store, ticket_id: i64) -> Vec<String> {
    TicketRepo::new(store)
        .timeline(ticket_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_simulator_closes_reopens_and_hands_over_tickets() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let clock = morning();
        let desk = TicketDesk::new(
            db.store.clone(),
            Arc::new(clock.clone()),
            SlaPolicy::default(),
        );
        let tickets = completed_tickets(&db.store, &desk, 6).await;
        // The sixth owner asked not to be called: never dialled, nor put on the agents' list.
        let phone = huifang::phone::Phone::parse(&tickets[5].1).unwrap();
        huifang::contacts::dnc::add_in(
            &db.store,
            &phone,
            huifang::vocab::Channel::All,
            "",
            "asked",
            clock_now(&clock),
        )
        .await
        .unwrap();
        let press = |keys: &str| Behaviour::Answer {
            digits: Some(Digit::parse_all(keys).unwrap()),
        };
        // Satisfied; unsatisfied asking for an agent; busy; rated 2 then silent; rated 1 and
        // leaving a spoken comment.
        let behaviours = [
            press("5"),
            press("11"),
            Behaviour::Busy,
            press("2"),
            press("12"),
            press("5"),
        ];
        let numbers: HashMap<String, Behaviour> = tickets
            .iter()
            .map(|(_, phone)| phone.clone())
            .zip(behaviours)
            .collect();
        let phones = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let config = PhoneConfig {
            mix: "answer=1".parse::<Mix>().unwrap(),
            answer_delay: (Duration::from_millis(100), Duration::from_millis(300)),
            press_after: Duration::from_millis(300),
            numbers,
            ..PhoneConfig::default()
        };
        tokio::spawn(simulator::serve(phones.clone(), config));
        let domain = phones.local_addr().to_string();
        run_campaign(&db.store, dir.path(), "cb-sim", &domain, &clock).await;
        let repo = TicketRepo::new(&db.store);
        let state = |i: usize| {
            let id = tickets[i].0;
            async move { repo.get(id).await.unwrap().unwrap() }
        };

        let satisfied = state(0).await;
        assert_eq!(satisfied.state, TicketState::Closed, "{}", db.name);
        assert_eq!(
            answers(&db.store, tickets[0].0).await,
            pairs(&[("rating", "5")])
        );
        let timeline = actions(&db.store, tickets[0].0).await;
        assert!(
            timeline.ends_with(&["close".to_string(), "consent".to_string()]),
            "{}: {timeline:?}",
            db.name
        );

        let unsatisfied = state(1).await;
        assert_eq!(unsatisfied.state, TicketState::Dispatched, "{}", db.name);
        assert_eq!(unsatisfied.level, Level::Key, "{}", db.name);
        assert_eq!(unsatisfied.reopen_count, 1);
        assert_eq!(
            answers(&db.store, tickets[1].0).await,
            pairs(&[("rating", "1"), ("sorry", "agent"), ("agent", "no_agent")])
        );
        let timeline = actions(&db.store, tickets[1].0).await;
        for action in ["callback", "reopen", "escalate", "agent_callback"] {
            assert!(
                timeline.iter().any(|a| a == action),
                "{}: no {action} in {timeline:?}",
                db.name
            );
        }

        let busy = state(2).await;
        assert_eq!(busy.state, TicketState::Completed, "{}", db.name);
        assert!(answers(&db.store, tickets[2].0).await.is_empty());
        assert!(
            actions(&db.store, tickets[2].0)
                .await
                .contains(&"agent_callback".into())
        );

        // Rated 2 and then said nothing: the rating is kept and decides, the survey is
        // incomplete.
        let silent = state(3).await;
        assert_eq!(silent.state, TicketState::Dispatched, "{}", db.name);
        assert_eq!(
            answers(&db.store, tickets[3].0).await,
            pairs(&[("rating", "2")])
        );

        let blocked = actions(&db.store, tickets[5].0).await;
        assert!(
            blocked.contains(&"no_callback".to_string()),
            "{}: {blocked:?}",
            db.name
        );
        assert_eq!(state(5).await.state, TicketState::Completed);

        // The comment: recorded to a WAV that hound reads, its path the answer.
        let given = answers(&db.store, tickets[4].0).await;
        assert_eq!(given[..2], pairs(&[("rating", "1"), ("sorry", "comment")]));
        assert_eq!(given[2].0, "comment");
        let wav = hound::WavReader::open(&given[2].1).unwrap();
        assert!(
            wav.duration() >= 8000,
            "{}: a comment of {} samples",
            db.name,
            wav.duration()
        );

        let list = callbacks::agent_callbacks(&db.store).await.unwrap();
        let mut reasons: Vec<(i64, String)> = list
            .iter()
            .map(|c| (c.ticket_id.unwrap(), c.reason.clone()))
            .collect();
        reasons.sort();
        let mut expected = vec![
            (tickets[1].0, "unsatisfied".to_string()),
            (tickets[2].0, "unreached".to_string()),
            (tickets[3].0, "unsatisfied".to_string()),
            (tickets[4].0, "unsatisfied".to_string()),
        ];
        expected.sort();
        assert_eq!(reasons, expected, "{}", db.name);
        let outcomes: Vec<Option<String>> = huifang::on_pool!(&db.store, |pool| {
            sqlx::query_scalar("select outcome from attempts order by attempt_id")
                .fetch_all(pool)
                .await
        })
        .unwrap();
        let mut outcomes: Vec<String> = outcomes.into_iter().flatten().collect();
        outcomes.sort();
        assert_eq!(
            outcomes,
            ["busy", "completed", "completed", "completed", "incomplete"]
        );
    }
}

/// A sipp UAS that answers and presses `digit` by RFC 2833 from sipp's own pcap; with
/// `hang_up` it then sends its own BYE (an owner hanging up mid-survey), else it waits for ours.
fn sipp_pressing(dir: &Path, digit: char, hang_up: bool, port: u16) -> Proc {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp");
    let (base, pause) = if hang_up {
        ("uas_bye_via_proxy.xml", "<pause milliseconds=\"1000\"/>")
    } else {
        ("uas_dtmf.xml", "")
    };
    let mut text = std::fs::read_to_string(root.join(base)).unwrap();
    let pcap = format!("/usr/share/sip-tester/dtmf_2833_{digit}.pcap");
    if hang_up {
        let play = format!(
            "<pause milliseconds=\"500\"/>\n  <nop><action><exec play_pcap_audio=\"{pcap}\"/>\
             </action></nop>\n  <pause milliseconds=\"2500\"/>"
        );
        assert!(text.contains(pause));
        text = text.replacen(pause, &play, 1);
    } else {
        text = text.replace("/usr/share/sip-tester/dtmf_2833_4.pcap", &pcap);
        // The key goes 1.5 s after the ACK rather than 0.5 s: on a loaded machine our side may
        // still be setting the answered call up half a second in (CI saw the key missed once).
        assert!(text.contains("<pause milliseconds=\"500\"/>"));
        text = text.replacen(
            "<pause milliseconds=\"500\"/>",
            "<pause milliseconds=\"1500\"/>",
            1,
        );
    }
    let scenario = dir.join(format!("uas_press_{digit}.xml"));
    std::fs::write(&scenario, text).unwrap();
    scenario_uas(dir, &scenario, port)
}

fn scenario_uas(dir: &Path, scenario: &Path, port: u16) -> Proc {
    let out = std::fs::File::create(dir.join("sipp.out")).unwrap();
    let child = std::process::Command::new("sipp")
        .arg("-sf")
        .arg(scenario)
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args([
            "-mi",
            "127.0.0.1",
            "-mp",
            &free_port().to_string(),
            "-nostdin",
        ])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("sipp (apt-get install sip-tester; tests/run.sh installs it)");
    std::thread::sleep(Duration::from_millis(500));
    Proc(child, "sipp")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_owners_pressing_rfc_2833_keys_close_reopen_and_miss() {
    for db in databases().await {
        let clock = morning();
        let desk = TicketDesk::new(
            db.store.clone(),
            Arc::new(clock.clone()),
            SlaPolicy::default(),
        );
        let tickets = completed_tickets(&db.store, &desk, 3).await;
        // One campaign per sipp behaviour: each takes the tickets completed before it, so the
        // tickets are completed one at a time, just before their campaign.
        let ids: Vec<i64> = tickets.iter().map(|t| t.0).collect();
        let park = |keep: i64| {
            let store = db.store.clone();
            async move {
                huifang::on_pool!(&store, |pool| {
                    sqlx::query(
                        "update callback_tasks set state = case when ticket_id = $1 \
                         then 'pending' else 'parked' end where state in ('pending', 'parked')",
                    )
                    .bind(keep)
                    .execute(pool)
                    .await
                    .map(drop)
                })
                .unwrap();
            }
        };

        // One round: the ticket's task alone pending, a sipp UAS made by `uas`, the campaign
        // run to its end; the ticket afterwards.
        let round = |ticket: i64, code: &'static str, uas: &'static dyn Fn(&Path, u16) -> Proc| {
            let store = db.store.clone();
            let clock = clock.clone();
            let park = &park;
            async move {
                let dir = tempfile::tempdir().unwrap();
                park(ticket).await;
                let port = free_port();
                let sipp = uas(dir.path(), port);
                let domain = format!("127.0.0.1:{port}");
                run_campaign(&store, dir.path(), code, &domain, &clock).await;
                drop(sipp);
                TicketRepo::new(&store).get(ticket).await.unwrap().unwrap()
            }
        };

        // Presses 5 and waits for our BYE: satisfied, closed with consent.
        let t = round(ids[0], "cb-5", &|dir, port| {
            sipp_pressing(dir, '5', false, port)
        })
        .await;
        assert_eq!(t.state, TicketState::Closed, "{}", db.name);
        assert_eq!(answers(&db.store, ids[0]).await, pairs(&[("rating", "5")]));

        // Presses 1 and hangs up at the next question: the rating is kept, the ticket is
        // reopened and escalated.
        let t = round(ids[1], "cb-1", &|dir, port| {
            sipp_pressing(dir, '1', true, port)
        })
        .await;
        assert_eq!(t.state, TicketState::Dispatched, "{}", db.name);
        assert_eq!(t.level, Level::Key, "{}", db.name);
        assert_eq!(answers(&db.store, ids[1]).await, pairs(&[("rating", "1")]));
        let outcome: Option<String> = huifang::on_pool!(&db.store, |pool| {
            sqlx::query_scalar(
                "select a.outcome from attempts a join campaign_contacts c
                   on c.campaign_contact_id = a.campaign_contact_id where c.ticket_id = $1",
            )
            .bind(ids[1])
            .fetch_one(pool)
            .await
        })
        .unwrap();
        assert_eq!(outcome.as_deref(), Some("incomplete"), "{}", db.name);

        // Busy: never reached, onto the agents' callback list.
        fn busy(dir: &Path, port: u16) -> Proc {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp/uas_busy.xml");
            scenario_uas(dir, &root, port)
        }
        let t = round(ids[2], "cb-busy", &busy).await;
        assert_eq!(t.state, TicketState::Completed, "{}", db.name);
        let list = callbacks::agent_callbacks(&db.store).await.unwrap();
        assert!(
            list.iter()
                .any(|c| c.ticket_id == Some(ids[2]) && c.reason == "unreached"),
            "{}: {list:?}",
            db.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verdict_applied_again_after_a_crash_changes_nothing_twice() {
    use huifang::outcomes::{self, Decision, Outcomes, Verdict};
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let clock = morning();
        let desk = TicketDesk::new(
            db.store.clone(),
            Arc::new(clock.clone()),
            SlaPolicy::default(),
        );
        let tickets = completed_tickets(&db.store, &desk, 1).await;
        let file = campaign(dir.path(), "cb-crash");
        let stored = testkit::campaign::create(&db.store, &file, clock_now(&clock)).await;
        let contact: i64 = huifang::on_pool!(&db.store, |pool| {
            sqlx::query_scalar(
                "select campaign_contact_id from campaign_contacts where ticket_id = $1",
            )
            .bind(tickets[0].0)
            .fetch_one(pool)
            .await
        })
        .unwrap();
        let decision = Decision {
            campaign_contact_id: contact,
            campaign_id: stored.campaign_id,
            ticket_id: tickets[0].0,
            verdict: Verdict::Unsatisfied,
            rating: Some(1),
            at: clock_now(&clock),
        };
        let first = outcomes::decide(&db.store, &decision).await.unwrap();
        assert!(first.written);
        assert_eq!(first.stored.verdict, Verdict::Unsatisfied);
        assert_eq!(first.stored.applied_at, None);
        // The first verdict stands.
        let again = Decision {
            verdict: Verdict::Satisfied,
            rating: Some(5),
            ..decision.clone()
        };
        let second = outcomes::decide(&db.store, &again).await.unwrap();
        assert!(!second.written);
        assert_eq!(second.stored, first.stored, "the first verdict stands");
        let outcomes = Outcomes::new(desk.clone(), "test");
        assert_eq!(outcomes.apply_pending().await.unwrap().len(), 1);
        // As if the node died before stamping it applied: the next pass runs it again.
        huifang::on_pool!(&db.store, |pool| {
            sqlx::query("update survey_verdicts set applied_at = null")
                .execute(pool)
                .await
                .map(drop)
        })
        .unwrap();
        assert_eq!(outcomes.apply_pending().await.unwrap().len(), 1);
        let t = TicketRepo::new(&db.store)
            .get(tickets[0].0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (t.state, t.level, t.reopen_count),
            (TicketState::Dispatched, Level::Key, 1),
            "{}",
            db.name
        );
        let timeline = actions(&db.store, tickets[0].0).await;
        for once in ["reopen", "escalate", "agent_callback"] {
            assert_eq!(
                timeline.iter().filter(|a| *a == once).count(),
                1,
                "{}: {timeline:?}",
                db.name
            );
        }
        assert_eq!(
            callbacks::agent_callbacks(&db.store).await.unwrap().len(),
            1
        );
    }
}
