//! The supervisors' figures on both backends: a small day of tickets made through the real
//! desk, callback campaigns written as the dialer will write them, exact counts per group and
//! in total. Then `huifang metrics` through the real binary.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use huifang::metrics::{Figures, GroupBy, Period, compute};
use huifang::on_pool;
use huifang::store::Store;
use huifang::tickets::{OpenTicket, TicketDesk};
use huifang::vocab::{Category, TicketKind};
use testkit::binary::{self, text};
use testkit::db::databases;

use crate::helpers::{desk, small_world};

/// `hh:mm` China time on 2026-05-`day` or 2026-06-`day`.
fn at(month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, month, day, hour, minute, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn june_first() -> Period {
    let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    Period::days(day, day).unwrap()
}

fn ticket(category: Category, component: Option<&str>, on_site: bool) -> OpenTicket {
    OpenTicket {
        phone: Some("138 1234 5678".into()),
        owner: None,
        unit: Some("HYF-3-1202".into()),
        kind: TicketKind::Repair,
        category,
        component: component.map(Into::into),
        description: "测试 / test".into(),
        owner_on_site: on_site,
        actor: "agent-7".into(),
    }
}

/// The tickets of the story that get callbacks (T4 gets none).
struct Tickets {
    t1: i64,
    t2: i64,
    t3: i64,
    t5: i64,
}

/// Tickets through the real desk on a manual clock. SUP01 supplies the kitchen of HYF-3-1202,
/// SUP02 its light fitting; a ticket without a component has no supplier ("-").
async fn tickets(store: &Store) -> Tickets {
    let (desk, clock) = desk(store);
    let open = |request: OpenTicket| {
        let desk = desk.clone();
        async move {
            let id = desk.open(request).await.unwrap().ticket_id;
            desk.dispatch(id, "agent-7").await.unwrap();
            id
        }
    };
    // T3: the day before, completed then (kitchen, SUP01).
    clock.set(at(5, 31, 10, 0));
    let t3 = open(ticket(Category::Materials, Some("kitchen"), false)).await;
    step(&desk, &clock, at(5, 31, 10, 5), t3, "ack").await;
    step(&desk, &clock, at(5, 31, 11, 0), t3, "complete").await;
    // T1: replied in time, completed, closed (kitchen, SUP01).
    clock.set(at(6, 1, 9, 0));
    let t1 = open(ticket(Category::Materials, Some("kitchen"), false)).await;
    step(&desk, &clock, at(6, 1, 9, 5), t1, "ack").await;
    step(&desk, &clock, at(6, 1, 10, 0), t1, "complete").await;
    // T2: replied late, completed, called back, reopened, escalated (light fitting, SUP02).
    clock.set(at(6, 1, 9, 10));
    let t2 = open(ticket(Category::Materials, Some("light_fitting"), false)).await;
    step(&desk, &clock, at(6, 1, 9, 25), t2, "ack").await;
    step(&desk, &clock, at(6, 1, 10, 30), t2, "complete").await;
    step(&desk, &clock, at(6, 1, 14, 0), t2, "callback").await;
    step(&desk, &clock, at(6, 1, 14, 5), t2, "reopen").await;
    step(&desk, &clock, at(6, 1, 14, 10), t2, "escalate").await;
    // T4: the owner waits on site; nobody replies or comes; escalated (no component: "-").
    clock.set(at(6, 1, 9, 20));
    let t4 = open(ticket(Category::PropertyManagement, None, true)).await;
    step(&desk, &clock, at(6, 1, 11, 0), t4, "escalate").await;
    // T5: replied and on site in time, completed, never reached (kitchen, SUP01).
    clock.set(at(6, 1, 9, 30));
    let t5 = open(ticket(Category::Materials, Some("kitchen"), true)).await;
    step(&desk, &clock, at(6, 1, 9, 33), t5, "ack").await;
    step(&desk, &clock, at(6, 1, 10, 0), t5, "onsite").await;
    step(&desk, &clock, at(6, 1, 10, 30), t5, "complete").await;
    // The callbacks satisfied T1 and T3 (see `calls`): both closed.
    step(&desk, &clock, at(6, 1, 15, 0), t1, "close").await;
    step(&desk, &clock, at(6, 1, 15, 30), t3, "close").await;
    Tickets { t1, t2, t3, t5 }
}

async fn step(
    desk: &TicketDesk,
    clock: &huifang::clock::ManualClock,
    when: DateTime<Utc>,
    id: i64,
    what: &str,
) {
    clock.set(when);
    let done = match what {
        "ack" => desk.acknowledge(id, "tester").await.map(drop),
        "onsite" => desk.arrive_on_site(id, "tester").await.map(drop),
        "complete" => desk.complete(id, "tester", "").await.map(drop),
        "callback" => desk.start_callback(id, "tester").await.map(drop),
        "close" => desk.close(id, "tester", "满意 / satisfied").await.map(drop),
        "reopen" => desk
            .reopen(id, "tester", "未解决 / not solved")
            .await
            .map(drop),
        "escalate" => desk.escalate(id, "tester", "").await.map(drop),
        other => panic!("no step {other}"),
    };
    done.unwrap_or_else(|err| panic!("#{id} {what}: {err}"));
}

/// Campaign rows as the dialer writes them (its API is not there yet, so plain SQL).
struct Calls<'a>(&'a Store);

impl Calls<'_> {
    async fn campaign(&self, code: &str, kind: &str) -> i64 {
        let now = at(5, 30, 9, 0);
        on_pool!(self.0, |pool| {
            sqlx::query_scalar(
                "insert into campaigns (code, name, kind, definition, created_at, updated_at)
                 values ($1, $1, $2, '', $3, $3) returning campaign_id",
            )
            .bind(code)
            .bind(kind)
            .bind(now)
            .fetch_one(pool)
            .await
            .unwrap()
        })
    }

    async fn contact(&self, campaign: i64, phone: &str, ticket: Option<i64>) -> i64 {
        let now = at(5, 30, 9, 0);
        on_pool!(self.0, |pool| {
            sqlx::query_scalar(
                "insert into campaign_contacts (campaign_id, phone, tz, ticket_id, created_at, updated_at)
                 values ($1, $2, 'Asia/Shanghai', $3, $4, $4) returning campaign_contact_id",
            )
            .bind(campaign)
            .bind(phone)
            .bind(ticket)
            .bind(now)
            .fetch_one(pool)
            .await
            .unwrap()
        })
    }

    /// One attempt dialled at `dialed`; `outcome` says whether it was answered.
    async fn attempt(&self, (campaign, contact): (i64, i64), dialed: DateTime<Utc>, outcome: &str) {
        let answered = [
            "completed",
            "incomplete",
            "answered",
            "abandoned",
            "machine",
        ]
        .contains(&outcome)
        .then(|| dialed + chrono::Duration::seconds(8));
        let ended = dialed + chrono::Duration::seconds(90);
        on_pool!(self.0, |pool| {
            sqlx::query(
                "insert into attempts (campaign_contact_id, campaign_id, channel, node, queued_at,
                                       dialed_at, answered_at, ended_at, outcome)
                 values ($1, $2, 'voice', 'test', $3, $3, $4, $5, $6)",
            )
            .bind(contact)
            .bind(campaign)
            .bind(dialed)
            .bind(answered)
            .bind(ended)
            .bind(outcome)
            .execute(pool)
            .await
            .map(drop)
            .unwrap()
        });
    }

    async fn verdict(
        &self,
        (campaign, contact): (i64, i64),
        ticket: i64,
        verdict: &str,
        rating: Option<i64>,
        decided: DateTime<Utc>,
    ) {
        on_pool!(self.0, |pool| {
            sqlx::query(
                "insert into survey_verdicts (campaign_contact_id, campaign_id, ticket_id, verdict,
                                              rating, level_before, decided_at, applied_at)
                 values ($1, $2, $3, $4, $5, 'general', $6, $6)",
            )
            .bind(contact)
            .bind(campaign)
            .bind(ticket)
            .bind(verdict)
            .bind(rating)
            .bind(decided)
            .execute(pool)
            .await
            .map(drop)
            .unwrap()
        });
    }
}

/// The callbacks of the tickets, and a notification campaign whose contacts have no ticket.
async fn calls(store: &Store, t: &Tickets) {
    let calls = Calls(store);
    let may = calls.campaign("CB-0531", "callback").await;
    let june = calls.campaign("CB-0601", "callback").await;
    let notice = calls.campaign("NT-0601", "notification").await;
    let c3a = (may, calls.contact(may, "13800000003", Some(t.t3)).await);
    let c1 = (june, calls.contact(june, "13800000001", Some(t.t1)).await);
    let c2 = (june, calls.contact(june, "13800000002", Some(t.t2)).await);
    let c3b = (june, calls.contact(june, "13800000003", Some(t.t3)).await);
    let c5 = (june, calls.contact(june, "13800000005", Some(t.t5)).await);
    let n1 = (notice, calls.contact(notice, "13800000009", None).await);

    // T3's first callback, the day before: neutral 3.
    calls.attempt(c3a, at(5, 31, 15, 0), "completed").await;
    calls
        .verdict(c3a, t.t3, "neutral", Some(3), at(5, 31, 15, 2))
        .await;
    // T1: no answer, then satisfied 5.
    calls.attempt(c1, at(6, 1, 11, 0), "no_answer").await;
    calls.attempt(c1, at(6, 1, 11, 30), "completed").await;
    calls
        .verdict(c1, t.t1, "satisfied", Some(5), at(6, 1, 11, 32))
        .await;
    // T2: abandoned (no agent free), then unsatisfied 2.
    calls.attempt(c2, at(6, 1, 12, 0), "abandoned").await;
    calls.attempt(c2, at(6, 1, 12, 30), "completed").await;
    calls
        .verdict(c2, t.t2, "unsatisfied", Some(2), at(6, 1, 12, 32))
        .await;
    // T3's second callback: satisfied 4 (not its first rated verdict).
    calls.attempt(c3b, at(6, 1, 14, 30), "completed").await;
    calls
        .verdict(c3b, t.t3, "satisfied", Some(4), at(6, 1, 14, 32))
        .await;
    // T5: never reached.
    calls.attempt(c5, at(6, 1, 16, 0), "no_answer").await;
    calls.attempt(c5, at(6, 1, 16, 30), "busy").await;
    calls
        .verdict(c5, t.t5, "unreached", None, at(6, 1, 17, 0))
        .await;
    // The notification: answered at the first instant of the day, abandoned, a machine, busy,
    // and abandoned again at the first instant of the next day (outside).
    calls.attempt(n1, at(6, 1, 0, 0), "answered").await;
    calls.attempt(n1, at(6, 1, 10, 0), "abandoned").await;
    calls.attempt(n1, at(6, 1, 10, 10), "machine").await;
    calls.attempt(n1, at(6, 1, 10, 20), "busy").await;
    calls.attempt(n1, at(6, 2, 0, 0), "abandoned").await;
}

async fn seeded(store: &Store) {
    small_world(store).await;
    let t = tickets(store).await;
    calls(store, &t).await;
}

fn row<'a>(rows: &'a [(String, Figures)], group: &str) -> &'a Figures {
    &rows
        .iter()
        .find(|(g, _)| g == group)
        .unwrap_or_else(|| panic!("no group {group} in {rows:?}"))
        .1
}

/// The whole day, by hand: T1, T2, T5 completed in the day (T3 the day before), T1 closed;
/// first rated verdicts in the day are T1's (satisfied) and T2's; ratings 5, 2, 4; opened
/// T1, T2, T4, T5: replies in time T1, T5 of 4, on site T5 of T4, T5; escalated T2, T4;
/// callback contacts C1, C2, C3b, C5 dialled, all but C5 connected and completed; answered by
/// a person: six attempts (not the machine, not the next day), two abandoned.
fn expected_all() -> Figures {
    Figures {
        completed: 3,
        closed: 1,
        first_rated: 2,
        first_satisfied: 1,
        ratings: [0, 1, 0, 1, 1],
        opened: 4,
        ack_measured: 4,
        ack_in_time: 2,
        onsite_measured: 2,
        onsite_in_time: 1,
        escalated: 2,
        callbacks_attempted: 4,
        callbacks_connected: 3,
        callbacks_completed: 3,
        answered: 6,
        abandoned: 2,
    }
}

#[tokio::test]
async fn figures_of_a_day_in_total_and_per_supplier() {
    for db in databases().await {
        seeded(&db.store).await;
        let now = at(6, 1, 18, 0);
        let rows = compute(&db.store, &june_first(), Some(GroupBy::Supplier), now)
            .await
            .unwrap();
        let groups: Vec<&str> = rows.iter().map(|(g, _)| g.as_str()).collect();
        assert_eq!(groups, ["-", "SUP01", "SUP02", "all"], "{}", db.name);

        let all = row(&rows, "all");
        assert_eq!(*all, expected_all(), "{}", db.name);
        assert_eq!(all.closure_rate(), Some(1.0 / 3.0));
        assert_eq!(all.first_contact_satisfaction(), Some(0.5));
        assert_eq!(all.average_rating(), Some(11.0 / 3.0));
        assert_eq!(all.connect_rate(), Some(0.75));
        assert_eq!(all.completion_rate(), Some(1.0));
        assert_eq!(all.abandon_rate(), Some(2.0 / 6.0));

        // SUP01: T1, T3, T5.
        let sup01 = Figures {
            completed: 2,
            closed: 1,
            first_rated: 1,
            first_satisfied: 1,
            ratings: [0, 0, 0, 1, 1],
            opened: 2,
            ack_measured: 2,
            ack_in_time: 2,
            onsite_measured: 1,
            onsite_in_time: 1,
            escalated: 0,
            callbacks_attempted: 3,
            callbacks_connected: 2,
            callbacks_completed: 2,
            answered: 2,
            abandoned: 0,
        };
        assert_eq!(*row(&rows, "SUP01"), sup01, "{}", db.name);
        // SUP02: T2, reopened and now past its fresh reply deadline.
        let sup02 = Figures {
            completed: 1,
            first_rated: 1,
            ratings: [0, 1, 0, 0, 0],
            opened: 1,
            ack_measured: 1,
            escalated: 1,
            callbacks_attempted: 1,
            callbacks_connected: 1,
            callbacks_completed: 1,
            answered: 2,
            abandoned: 1,
            ..Figures::default()
        };
        assert_eq!(*row(&rows, "SUP02"), sup02, "{}", db.name);
        assert_eq!(row(&rows, "SUP02").onsite_rate(), None);
        // "-": T4, opened and neglected; nothing to close or rate.
        let none = Figures {
            opened: 1,
            ack_measured: 1,
            onsite_measured: 1,
            escalated: 1,
            ..Figures::default()
        };
        let dash = row(&rows, "-");
        assert_eq!(*dash, none, "{}", db.name);
        assert_eq!((dash.closure_rate(), dash.average_rating()), (None, None));
    }
}

#[tokio::test]
async fn groups_add_up_and_calls_without_a_ticket_count_in_the_total_only() {
    for db in databases().await {
        seeded(&db.store).await;
        let now = at(6, 1, 18, 0);
        let period = june_first();
        let total = compute(&db.store, &period, None, now).await.unwrap();
        assert_eq!(total, [("all".to_string(), expected_all())], "{}", db.name);

        let by_project = compute(&db.store, &period, Some(GroupBy::Project), now)
            .await
            .unwrap();
        let hyf = Figures {
            answered: 4,
            abandoned: 1,
            ..expected_all()
        };
        let expected = [
            ("HYF".to_string(), hyf),
            ("all".to_string(), expected_all()),
        ];
        assert_eq!(by_project, expected, "{}", db.name);

        let by_region = compute(&db.store, &period, Some(GroupBy::Region), now)
            .await
            .unwrap();
        assert_eq!(by_region[0].0, "EAST", "{}", db.name);
        let by_category = compute(&db.store, &period, Some(GroupBy::Category), now)
            .await
            .unwrap();
        let names: Vec<&str> = by_category.iter().map(|(g, _)| g.as_str()).collect();
        assert_eq!(names, ["materials", "property_management", "all"]);
        assert_eq!(by_category[1].1.opened, 1, "T4");

        // The day before holds only T3 and its first callback.
        let may = NaiveDate::from_ymd_opt(2026, 5, 31).unwrap();
        let before = compute(&db.store, &Period::days(may, may).unwrap(), None, now)
            .await
            .unwrap();
        let f = &before[0].1;
        assert_eq!(
            (
                f.opened,
                f.completed,
                f.closed,
                f.first_rated,
                f.first_satisfied
            ),
            (1, 1, 1, 1, 0),
            "{}",
            db.name
        );
        assert_eq!(f.ratings, [0, 0, 1, 0, 0]);
    }
}

/// The repository's prompts (the demo's callback round plays them).
const PROMPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/prompts");

#[test]
fn metrics_cli_prints_json_and_names_bad_flags() {
    let dir = tempfile::tempdir().unwrap();
    let demo = binary::run(
        dir.path(),
        &["demo", "--tickets", "30", "--prompts", PROMPTS],
    );
    assert!(demo.status.success(), "{}", text(&demo));

    let day = ["metrics", "--from", "2026-11-20", "--to", "2026-11-20"];
    let out = binary::run(
        dir.path(),
        &[&day[..], &["--by", "project", "--json"]].concat(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["by"], "project");
    let groups = report["groups"].as_array().unwrap();
    let all = groups.last().unwrap();
    assert_eq!(all["group"], "all");
    assert_eq!(all["opened"], 30, "the demo's tickets: {report}");
    let per_project: i64 = groups[..groups.len() - 1]
        .iter()
        .map(|g| g["opened"].as_i64().unwrap())
        .sum();
    assert_eq!(per_project, 30);
    assert!(all["ack_rate"].is_f64(), "{all}");
    assert!(
        all["first_contact_satisfaction"].is_null(),
        "no surveys: {all}"
    );

    let table = binary::run(dir.path(), &day);
    assert!(table.status.success(), "{}", text(&table));
    assert!(text(&table).contains("关闭率"), "{}", text(&table));

    let bad: [(&[&str], &str); 3] = [
        (
            &[
                "--from",
                "2026-11-20",
                "--to",
                "2026-11-20",
                "--by",
                "building",
            ],
            "--by",
        ),
        (&["--from", "2026-11-21", "--to", "2026-11-20"], "--from"),
        (&["--from", "2026-11-20", "--to", "2026-13-01"], "--to"),
    ];
    for (args, flag) in bad {
        let out = binary::run(dir.path(), &[&["metrics"], args].concat());
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out).contains(flag), "{args:?}: {}", text(&out));
    }
}
