//! `huifang demo`: a fresh SQLite database with the sample data, then a simulated day of the
//! 400 hotline on an accelerated clock — tickets opened, dispatched by SMS, some replied to late
//! and escalated, visits, completions — and its summary; then the next morning's callback
//! survey campaign over real SIP/RTP on loopback to the built-in phone simulator
//! ([`callbacks`]): ratings pressed, tickets closed with consent or reopened and escalated,
//! unreached owners onto the agents' callback list; and the metrics of the two days.
//!
//! The day is deterministic (fixed date and seed); the callback round's SIP timing is not, so
//! its figures vary a little run to run.

mod callbacks;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use clap::Args;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::clock::{Clock, ManualClock};
use crate::config::{Config, SlaPolicy};
use crate::contacts::import::{ImportKind, import_reader};
use crate::on_pool;
use crate::store::{Store, sqlite_path};
use crate::tickets::report::{Summary, summary};
use crate::tickets::{Action, OpenTicket, TicketDesk};
use crate::vocab::{Category, TicketKind, TicketState};

/// The committed sample data set, embedded so the demo needs no files.
pub const SAMPLE: [(ImportKind, &str); 5] = [
    (
        ImportKind::Units,
        include_str!("../campaigns/sample/units.csv"),
    ),
    (
        ImportKind::Suppliers,
        include_str!("../campaigns/sample/suppliers.csv"),
    ),
    (
        ImportKind::Components,
        include_str!("../campaigns/sample/components.csv"),
    ),
    (
        ImportKind::Staff,
        include_str!("../campaigns/sample/staff.csv"),
    ),
    (
        ImportKind::Owners,
        include_str!("../campaigns/sample/owners.csv"),
    ),
];

/// The `meta` key that marks a database as the demo's own, so the demo may replace it.
const DEMO_MARK: &str = "created_by";

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Tickets the hotline takes during the day.
    #[arg(long, default_value_t = 240)]
    pub tickets: u32,
    /// Seed of the day's randomness.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// The prompts folder (default: the configuration's, `prompts` of the repository).
    #[arg(long)]
    pub prompts: Option<std::path::PathBuf>,
}

/// Runs the demo on the configured SQLite file and prints the summary.
pub async fn run(config: &Config, args: &DemoArgs) -> anyhow::Result<Summary> {
    let url = config.database_url();
    let Some(path) = sqlite_path(url).filter(|_| !url.starts_with("postgres")) else {
        bail!("the demo makes a fresh SQLite database; give --database sqlite://FILE (not {url})");
    };
    let started = Instant::now();
    let store = fresh_store(path).await?;
    let loading = Instant::now();
    load_sample(&store).await?;
    let loaded_in = loading.elapsed();
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).context("demo date")?;
    let start = chrono_tz::Asia::Shanghai
        .from_local_datetime(&day.and_hms_opt(8, 0, 0).context("demo time")?)
        .single()
        .context("demo time zone")?
        .with_timezone(&Utc);
    let clock = ManualClock::new(start);
    let desk = TicketDesk::new(store.clone(), Arc::new(clock.clone()), config.sla.clone());
    let day_of = simulate_day(&desk, &clock, args).await?;
    let end = clock.now();
    let figures = summary(&store, start, end, end).await?;
    println!("sample data set (campaigns/sample) imported in {loaded_in:.2?}");
    print_summary(&figures, &config.sla, started.elapsed());

    // The next morning, 10:00: the callback survey of every ticket completed the day before.
    clock.set(start + Duration::hours(26));
    let work_dir = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("huifang-demo");
    println!("\ncalling the owners of completed tickets back (回访) over SIP on loopback ...");
    let prompts = args
        .prompts
        .clone()
        .unwrap_or_else(|| config.dialer.prompts_dir.clone().into());
    let round = callbacks::run(&store, &clock, &config.sla, &prompts, &work_dir).await?;
    println!(
        "{} calls in {:.1?}; verdicts: {}",
        round.calls,
        round.took,
        round
            .verdicts
            .iter()
            .map(|(v, n)| format!("{v} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let period = crate::metrics::Period::days(day, day + Duration::days(1))?;
    let rows = crate::metrics::compute(
        &store,
        &period,
        Some(crate::metrics::GroupBy::Project),
        clock.now(),
    )
    .await?;
    println!("\nmetrics of {day} and the callbacks of the next morning, by project:");
    println!(
        "{}",
        crate::metrics::figures_table(Some(crate::metrics::GroupBy::Project), &rows)
    );
    let accounts = console_accounts(&store, clock.now()).await?;
    println!(
        "\nconsole accounts (huifang --database sqlite://{path} serve, then http://127.0.0.1:8080/login):"
    );
    for (username, role, password) in &accounts {
        println!("  {role:<10} {username:<12} password {password}");
    }
    println!("\nThe database is left at {path}. Try:");
    println!(
        "  huifang ticket list --overdue        (or: cargo run --release -- ticket list --overdue)"
    );
    if let Some(id) = day_of.escalated_example {
        println!("  huifang ticket show {id}");
    }
    if let Some(id) = round.reopened_example {
        println!("  huifang ticket show {id}              (reopened by the callback survey)");
    }
    println!(
        "  huifang metrics --from {day} --to {} --by category",
        day + Duration::days(1)
    );
    println!("  huifang campaign status demo-callback");
    if let Some(phone) = &day_of.caller_example {
        println!("  huifang lookup --phone {phone}");
    }
    store.close().await;
    Ok(figures)
}

/// One console account of each role, with fresh random passwords (printed once).
async fn console_accounts(
    store: &Store,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<Vec<(String, &'static str, String)>> {
    use crate::users::{NewUser, Role, Users, random_token};
    let users = Users::new(store);
    let mut made = Vec::new();
    for (username, name, role) in [
        ("admin", "管理员 Admin", Role::Admin),
        ("supervisor", "班长 Supervisor", Role::Supervisor),
        ("agent1", "坐席一 Agent 1", Role::Agent),
    ] {
        let password = random_token()[..12].to_string();
        let new = NewUser {
            username,
            display_name: name,
            role,
            team: "demo",
            password: &password,
            // The demo's accounts are for trying it out at once.
            must_change: false,
        };
        users.add(&new, true, now).await?;
        made.push((username.to_string(), role.as_str(), password));
    }
    Ok(made)
}

/// Creates the demo database, replacing an earlier demo's but never someone's real data.
async fn fresh_store(path: &str) -> anyhow::Result<Store> {
    if Path::new(path).exists() {
        let existing = Store::open_sqlite(path).await?;
        let mark: Option<String> = on_pool!(&existing, |pool| {
            sqlx::query_scalar("select value from meta where key = $1")
                .bind(DEMO_MARK)
                .fetch_optional(pool)
                .await
        })
        .ok()
        .flatten();
        existing.close().await;
        if mark.as_deref() != Some("demo") {
            bail!(
                "{path} exists and was not made by the demo; the demo will not overwrite it. \
                 Use another file: huifang --database sqlite://huifang-demo.db demo"
            );
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{path}{suffix}");
            if Path::new(&file).exists() {
                std::fs::remove_file(&file).with_context(|| format!("cannot remove {file}"))?;
            }
        }
    }
    let store = Store::open_sqlite(path).await?;
    store.migrate().await?;
    store.set_meta(DEMO_MARK, "demo").await?;
    Ok(store)
}

/// Imports the embedded sample data set (regions to owners and staff) into `store`.
pub async fn load_sample(store: &Store) -> anyhow::Result<()> {
    for (kind, text) in SAMPLE {
        let report =
            import_reader(store, kind, kind.file_name(), text.as_bytes(), &mut |_| {}).await?;
        if let Some(error) = report.rejected.first() {
            bail!("the embedded sample has a bad row: {error}");
        }
    }
    Ok(())
}

/// What the day produced besides the figures: examples to point the user at.
#[derive(Debug, Default)]
struct DayOf {
    escalated_example: Option<i64>,
    caller_example: Option<String>,
}

/// One ticket's script: the steps still to come, each at its time.
#[derive(Debug)]
struct Script {
    ticket_id: i64,
    steps: Vec<(DateTime<Utc>, Step)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Dispatch,
    CloseAtOnce,
    Ack,
    OnSite,
    Complete,
}

/// Owners who may call: (phone, unit code).
async fn callers(store: &Store) -> anyhow::Result<Vec<(String, String)>> {
    Ok(on_pool!(store, |pool| {
        sqlx::query_as(
            "select p.phone, u.code from owner_phones p
             join owner_units ou on ou.owner_id = p.owner_id
             join units u on u.unit_id = ou.unit_id
             where p.position = 0 order by p.phone, u.code",
        )
        .fetch_all(pool)
        .await
    })?)
}

async fn simulate_day(
    desk: &TicketDesk,
    clock: &ManualClock,
    args: &DemoArgs,
) -> anyhow::Result<DayOf> {
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let callers = callers(desk.store()).await?;
    if callers.is_empty() {
        bail!("the sample has no owners with units");
    }
    let start = clock.now();
    // Calls arrive between 08:00 and 20:00; the day runs on to 08:00 the next morning.
    let mut arrivals: Vec<i64> = (0..args.tickets)
        .map(|_| rng.random_range(0..12 * 60))
        .collect();
    arrivals.sort_unstable();
    let mut arrivals = arrivals.into_iter().peekable();
    let mut scripts: Vec<Script> = Vec::new();
    let mut day_of = DayOf::default();
    for minute in 0..24 * 60 {
        let now = start + Duration::minutes(minute);
        clock.set(now);
        while arrivals.peek().is_some_and(|at| *at <= minute) {
            arrivals.next();
            let (phone, unit) = &callers[rng.random_range(0..callers.len())];
            let request = random_request(&mut rng, phone, unit);
            let ticket = desk.open(request).await?;
            day_of.caller_example.get_or_insert_with(|| phone.clone());
            scripts.push(script(
                &mut rng,
                ticket.ticket_id,
                ticket.kind,
                ticket.owner_on_site,
                now,
            ));
        }
        for script in &mut scripts {
            while script.steps.first().is_some_and(|(at, _)| *at <= now) {
                let (_, step) = script.steps.remove(0);
                perform(desk, script, step).await?;
            }
        }
        for escalated in desk.escalate_overdue().await? {
            day_of.escalated_example.get_or_insert(escalated.ticket_id);
        }
    }
    Ok(day_of)
}

async fn perform(desk: &TicketDesk, script: &mut Script, step: Step) -> anyhow::Result<()> {
    let id = script.ticket_id;
    match step {
        Step::Dispatch => {
            desk.act(id, "agent", Action::Dispatch, "").await?;
        }
        Step::CloseAtOnce => {
            desk.close(id, "agent", "answered on the call / 电话中已解答")
                .await?;
        }
        Step::Ack => {
            desk.act(id, "responsible", Action::Acknowledge, "").await?;
        }
        Step::OnSite => {
            desk.act(id, "responsible", Action::ArriveOnSite, "")
                .await?;
        }
        Step::Complete => {
            desk.complete(id, "responsible", "work done / 已处理")
                .await?;
        }
    }
    Ok(())
}

/// The day of one ticket: mostly on time, some late replies (escalations), a few never.
fn script(
    rng: &mut ChaCha8Rng,
    ticket_id: i64,
    kind: TicketKind,
    on_site: bool,
    opened: DateTime<Utc>,
) -> Script {
    let at = |minutes: i64| opened + Duration::minutes(minutes);
    let mut steps = Vec::new();
    if kind == TicketKind::Consultation && rng.random_bool(0.6) {
        steps.push((at(rng.random_range(1..4)), Step::CloseAtOnce));
        return Script { ticket_id, steps };
    }
    let dispatch = rng.random_range(1..5);
    steps.push((at(dispatch), Step::Dispatch));
    let roll: f64 = rng.random();
    let ack = match roll {
        r if r < 0.88 => dispatch + rng.random_range(2..10),
        r if r < 0.97 => dispatch + rng.random_range(11..45),
        _ => return Script { ticket_id, steps }, // nobody answers today
    };
    steps.push((at(ack), Step::Ack));
    let mut done = ack;
    if on_site {
        done = dispatch
            + if rng.random_bool(0.85) {
                rng.random_range(20..60)
            } else {
                rng.random_range(61..150)
            };
        steps.push((at(done), Step::OnSite));
    }
    if rng.random_bool(0.75) {
        let complete = done + rng.random_range(30..8 * 60);
        // The owner is called back by the survey campaign the next morning.
        steps.push((at(complete), Step::Complete));
    }
    Script { ticket_id, steps }
}

fn random_request(rng: &mut ChaCha8Rng, phone: &str, unit: &str) -> OpenTicket {
    let kind = *pick(
        rng,
        &[
            (TicketKind::Repair, 55),
            (TicketKind::Complaint, 20),
            (TicketKind::Consultation, 15),
            (TicketKind::Service, 10),
        ],
    );
    let (category, component, description): (Category, Option<&str>, &str) = match kind {
        TicketKind::Repair => {
            let (component, category, text) = *pick(
                rng,
                &[
                    (
                        (
                            "kitchen",
                            Category::Materials,
                            "橱柜门铰链松动 / kitchen cabinet hinge loose",
                        ),
                        3,
                    ),
                    (
                        (
                            "windows",
                            Category::ConstructionQuality,
                            "卧室窗户渗水 / bedroom window leaks",
                        ),
                        3,
                    ),
                    (
                        (
                            "waterproofing",
                            Category::ConstructionQuality,
                            "卫生间楼板渗漏到楼下 / bathroom leaks downstairs",
                        ),
                        2,
                    ),
                    (
                        (
                            "electrical",
                            Category::ConstructionQuality,
                            "客厅插座无电 / living-room socket dead",
                        ),
                        2,
                    ),
                    (
                        (
                            "doors",
                            Category::Materials,
                            "入户门关不严 / front door does not close",
                        ),
                        1,
                    ),
                    (
                        (
                            "light_fitting",
                            Category::Materials,
                            "厨房灯具损坏 / kitchen light broken",
                        ),
                        2,
                    ),
                ],
            );
            (category, Some(component), text)
        }
        TicketKind::Complaint => *pick(
            rng,
            &[
                (
                    (
                        Category::PropertyManagement,
                        None,
                        "小区垃圾清运不及时 / rubbish not collected",
                    ),
                    3,
                ),
                (
                    (
                        Category::PlanningDesign,
                        None,
                        "车位规划与宣传不符 / parking differs from the brochure",
                    ),
                    1,
                ),
                (
                    (
                        Category::CustomerServiceSales,
                        None,
                        "交房资料迟迟未给 / handover papers still missing",
                    ),
                    1,
                ),
                (
                    (
                        Category::ConstructionQuality,
                        None,
                        "外墙空鼓开裂 / facade cracking",
                    ),
                    1,
                ),
            ],
        ),
        TicketKind::Consultation => (
            Category::CustomerServiceSales,
            None,
            "咨询产权证办理进度 / asks about the title deed",
        ),
        TicketKind::Service => (
            Category::PropertyManagement,
            None,
            "申请装修备案 / renovation permit request",
        ),
    };
    OpenTicket {
        phone: Some(phone.to_string()),
        owner: None,
        unit: Some(unit.to_string()),
        kind,
        category,
        component: component.map(str::to_string),
        description: description.to_string(),
        owner_on_site: kind == TicketKind::Repair && rng.random_bool(0.3),
        actor: "agent".to_string(),
    }
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, weighted: &'a [(T, u32)]) -> &'a T {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total);
    for (item, weight) in weighted {
        if roll < *weight {
            return item;
        }
        roll -= weight;
    }
    &weighted[weighted.len() - 1].0
}

fn print_summary(s: &Summary, policy: &SlaPolicy, took: std::time::Duration) {
    use comfy_table::presets::UTF8_FULL_CONDENSED;
    let mut states: Vec<(String, i64)> = s.by_state.clone();
    states.sort_by_key(|(state, _)| TicketState::parse(state).ok());
    let percent = |rate: Option<f64>| {
        rate.map(|r| format!("{:.1}%", r * 100.0))
            .unwrap_or_else(|| "-".into())
    };
    let mut table = comfy_table::Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(vec!["the day at the 400 hotline", "count"]);
    table.add_row(vec!["tickets opened".to_string(), s.opened.to_string()]);
    for (state, n) in &states {
        let label = TicketState::parse(state)
            .map(|st| st.label_zh())
            .unwrap_or("");
        table.add_row(vec![format!("  now {state} {label}"), n.to_string()]);
    }
    for (kind, n) in &s.by_kind {
        table.add_row(vec![format!("  kind {kind}"), n.to_string()]);
    }
    for (level, n) in &s.escalations {
        table.add_row(vec![format!("escalated to {level}"), n.to_string()]);
    }
    table.add_row(vec![
        format!("reply within {} min (及时率)", policy.acknowledge_minutes),
        format!(
            "{} of {} = {}",
            s.ack_in_time,
            s.ack_measured,
            percent(s.ack_rate())
        ),
    ]);
    table.add_row(vec![
        format!("on site within {} min", policy.on_site_minutes),
        format!(
            "{} of {} = {}",
            s.onsite_in_time,
            s.onsite_measured,
            percent(s.onsite_rate())
        ),
    ]);
    table.add_row(vec![
        "paid repairs (out of warranty)".to_string(),
        s.paid_repairs.to_string(),
    ]);
    table.add_row(vec![
        "SMS queued (dispatch + escalation)".to_string(),
        s.sms_queued.to_string(),
    ]);
    table.add_row(vec![
        "callback tasks (回访) created".to_string(),
        s.callback_tasks.to_string(),
    ]);
    println!("{table}");
    println!("simulated 24 hours in {took:.2?}");
}
