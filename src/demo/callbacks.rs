//! The demo's callback round (回访): the day's completed tickets feed a callback survey campaign
//! dialled over real SIP/RTP on loopback to the built-in phone simulator, whose owners press
//! ratings; the verdicts close, reopen and escalate tickets or fill the agents' callback list.
//!
//! The clock is the demo's manual clock: whenever nothing is due it jumps to the next retry,
//! so a morning of retries takes seconds.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::campaigns::Campaign;
use crate::campaigns::lifecycle::{Action, State};
use crate::campaigns::repo::Campaigns;
use crate::clock::{Clock, ManualClock};
use crate::config::{SlaPolicy, TrunkConfig};
use crate::dialer::hopper::Hopper;
use crate::dialer::{DialerNode, NodeConfig, lists};
use crate::on_pool;
use crate::store::Store;
use crate::telephony::simulator::{self, PhoneConfig};
use crate::telephony::transport::{UserAgent, UserAgentConfig};

/// The demo's callback campaign: `campaigns/callback-survey.toml` with the shortest ring
/// time-out and one retry per outcome, so the round ends within a minute.
const CAMPAIGN: &str = r#"
code = "demo-callback"
name = "回访满意度（演示）"
kind = "callback"
mode = "agentless"
script = "surveys/callback-satisfaction.toml"
caller_id = "400-810-8888"
trunk = "main"
ring_timeout_secs = 15
[source]
callbacks = true
[windows]
mon-sat = ["09:00-12:00", "14:00-20:00"]
[retry]
busy = { after = "30m", max = 1 }
no_answer = { after = "1h", max = 1 }
incomplete = { after = "1h", max = 1 }
failed = { after = "30m", max = 1 }
daily_cap = 3
lifetime_cap = 3
"#;

/// The survey the owners hear (the shipped one).
const SCRIPT: &str = include_str!("../../campaigns/surveys/callback-satisfaction.toml");

/// What the round did.
#[derive(Debug, Default)]
pub(super) struct Round {
    /// Calls placed.
    pub(super) calls: i64,
    /// Verdicts by word.
    pub(super) verdicts: BTreeMap<String, i64>,
    /// A ticket the survey reopened, to point the user at.
    pub(super) reopened_example: Option<i64>,
    /// How long it took.
    pub(super) took: Duration,
}

/// Runs the callback round on `store`, dating everything by `clock`.
pub(super) async fn run(
    store: &Store,
    clock: &ManualClock,
    sla: &SlaPolicy,
    prompts: &Path,
    work_dir: &Path,
) -> anyhow::Result<Round> {
    let started = Instant::now();
    let intro = prompts.join("zh-CN").join("callback-intro.wav");
    if !intro.is_file() {
        bail!(
            "the survey prompts are missing ({} does not exist): run the demo from the \
             repository's root folder, or give --prompts DIR",
            intro.display()
        );
    }
    std::fs::create_dir_all(work_dir.join("surveys"))
        .with_context(|| format!("cannot create {}", work_dir.display()))?;
    let file = work_dir.join("demo-callback.toml");
    std::fs::write(&file, CAMPAIGN)?;
    std::fs::write(
        work_dir.join("surveys").join("callback-satisfaction.toml"),
        SCRIPT,
    )?;
    let campaign = Campaign::load(&file)?;
    let repo = Campaigns::new(store);
    let now = clock.now();
    let stored = repo
        .create(&campaign, CAMPAIGN, file.to_str(), "demo", now)
        .await?;
    lists::load(store, stored.campaign_id, &campaign, work_dir, now).await?;
    repo.apply(&stored.code, Action::Start, "demo", "", now)
        .await?;

    // The owners: the phone simulator on loopback (answering, busy, or ringing out), pressing
    // a random rating — and 1 ("an agent, please") after a low one.
    let phones = UserAgent::start(UserAgentConfig::new("127.0.0.1:0".parse()?)).await?;
    let owners = PhoneConfig {
        mix: "answer=80,busy=10,no_answer=10".parse()?,
        ..PhoneConfig::default()
    };
    tokio::spawn(simulator::serve(phones.clone(), owners));
    let trunk: TrunkConfig = toml::from_str(&format!(
        "domain = \"{}\"\nchannels = 60\ncalls_per_second = 30\n",
        phones.local_addr()
    ))?;
    let mut dialer = UserAgentConfig::new("127.0.0.1:0".parse()?);
    dialer.takes_calls = false;
    // As `huifang campaign run`: TCP only when the trunk uses it.
    dialer.tcp = trunk.transport == "tcp";
    let ua = UserAgent::start(dialer).await?;
    let config = NodeConfig {
        node: "demo".into(),
        lease: Duration::from_secs(900),
        poll: Duration::from_millis(100),
        prompts_dir: prompts.to_path_buf(),
        recordings_dir: work_dir.join("recordings"),
        sla: sla.clone(),
        trunks: BTreeMap::from([("main".to_string(), trunk)]),
        prefix_rates: BTreeMap::new(),
        agents: None,
    };
    let node = DialerNode::new(store.clone(), ua, Arc::new(clock.clone()), config)?;
    node.recover().await?;
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let runner = {
        let node = node.clone();
        let code = stored.code.clone();
        tokio::spawn(async move { node.run(&[code], true, stopped).await })
    };
    let hopper = Hopper::new(store);
    let deadline = Instant::now() + Duration::from_secs(150);
    while repo.get(&stored.code).await?.state == State::Running {
        if Instant::now() > deadline {
            bail!("the callback round did not finish within 150 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = clock.now();
        if hopper.due_now(stored.campaign_id, now).await? == 0 {
            let (_, next) = hopper.remaining(stored.campaign_id).await?;
            if let Some(next) = next.filter(|n| *n > now) {
                clock.set(next);
            }
        }
    }
    runner.await??;
    phones.shutdown();
    let mut round = Round {
        took: started.elapsed(),
        ..Round::default()
    };
    on_pool!(store, |pool| {
        round.calls = sqlx::query_scalar("select count(*) from attempts where campaign_id = $1")
            .bind(stored.campaign_id)
            .fetch_one(pool)
            .await?;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "select verdict, count(*) from survey_verdicts where campaign_id = $1 group by verdict",
        )
        .bind(stored.campaign_id)
        .fetch_all(pool)
        .await?;
        round.verdicts = rows.into_iter().collect();
        round.reopened_example = sqlx::query_scalar(
            "select min(ticket_id) from survey_verdicts where campaign_id = $1 \
             and verdict = 'unsatisfied'",
        )
        .bind(stored.campaign_id)
        .fetch_one(pool)
        .await?;
        Ok::<_, sqlx::Error>(())
    })?;
    Ok(round)
}
