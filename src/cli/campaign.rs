//! `huifang campaign validate|create|start|pause|resume|stop|status|list|run`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;

use super::output::{json, table};
use crate::campaigns::lifecycle::{Action, State};
use crate::campaigns::repo::{Campaigns, RepoError, StoredCampaign};
use crate::campaigns::{Campaign, companions, wallboard};
use crate::clock::SystemClock;
use crate::config::{Config, DialerConfig, TrunkConfig};
use crate::dialer::agents::AgentConfig;
use crate::dialer::{DialerNode, NodeConfig, lists};
use crate::outbox::worker::Worker;
use crate::store::Store;
use crate::telephony::sip::AccessList;
use crate::telephony::transport::{UserAgent, UserAgentConfig};

/// The campaign subcommands.
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Check campaign definition files: `FILE: ok (...)`, or each error as `FILE:LINE: KEY:
    /// REASON`; exits 1 when any file is invalid.
    Validate {
        /// The TOML files (e.g. campaigns/*.toml).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Store a campaign from its definition file as a draft and load its lists into the
    /// hopper (bad CSV rows are named and skipped).
    Create {
        /// The TOML file.
        file: PathBuf,
        /// Start it at once.
        #[arg(long, conflicts_with = "start_at")]
        start: bool,
        /// Schedule it to start by itself at this moment (RFC 3339, `2026-12-03T09:00:00+08:00`).
        #[arg(long)]
        start_at: Option<DateTime<chrono::FixedOffset>>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Let the dialer work a draft or scheduled campaign.
    Start(StepArgs),
    /// No new calls; calls in progress finish.
    Pause(StepArgs),
    /// Dial a paused campaign again.
    Resume(StepArgs),
    /// End a campaign for good.
    Stop(StepArgs),
    /// A campaign's state, contacts and attempts.
    Status {
        /// The campaign's code.
        code: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every campaign.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Be a dialer node: work the running campaigns (all, or the codes given) until Ctrl-C,
    /// or with `--exit-when-idle` until none is running, paused or scheduled.
    Run {
        /// Campaign codes to work (default: every running one).
        codes: Vec<String>,
        /// This node's name (default: `[dialer] node`, else the host name). Keep it stable:
        /// a restarted node settles the attempts left under its name.
        #[arg(long)]
        node: Option<String>,
        /// SIP address to bind (default: `[dialer] sip_listen`, 127.0.0.1:0).
        #[arg(long)]
        sip_listen: Option<SocketAddr>,
        /// Exit once no selected campaign is running, paused or scheduled.
        #[arg(long)]
        exit_when_idle: bool,
        /// An agent and their SIP phone, `NAME=sip:USER@HOST:PORT` (repeat; adds to
        /// `[dialer.agents]`); each phone gets one nailed-up call.
        #[arg(long = "agent", value_name = "NAME=URI")]
        agents: Vec<String>,
    },
}

/// A life-cycle step on one campaign.
#[derive(Debug, clap::Args)]
pub struct StepArgs {
    /// The campaign's code.
    code: String,
    /// Who takes the step (for the campaign's timeline).
    #[arg(long, default_value = "cli")]
    actor: String,
    /// Why.
    #[arg(long, default_value = "")]
    reason: String,
}

pub(crate) async fn run(config: &Config, command: CampaignCommand) -> anyhow::Result<ExitCode> {
    let command = match command {
        CampaignCommand::Validate { files } => return Ok(validate(&files)),
        other => other,
    };
    let store = Store::open(config.database_url()).await?;
    let campaigns = Campaigns::new(&store);
    let now = Utc::now();
    match command {
        CampaignCommand::Validate { .. } => unreachable!("handled above"),
        CampaignCommand::Create {
            file,
            start,
            start_at,
            json: as_json,
        } => create(&store, &file, start, start_at.map(|t| t.to_utc()), as_json).await,
        CampaignCommand::Start(step) => apply(&campaigns, step, Action::Start, now).await,
        CampaignCommand::Pause(step) => apply(&campaigns, step, Action::Pause, now).await,
        CampaignCommand::Resume(step) => apply(&campaigns, step, Action::Resume, now).await,
        CampaignCommand::Stop(step) => apply(&campaigns, step, Action::Stop, now).await,
        CampaignCommand::Status {
            code,
            json: as_json,
        } => status(&campaigns, &code, as_json).await,
        CampaignCommand::List { json: as_json } => list(&campaigns, as_json).await,
        CampaignCommand::Run {
            codes,
            node,
            sip_listen,
            exit_when_idle,
            agents,
        } => {
            let options = RunOptions {
                codes,
                node,
                sip_listen,
                exit_when_idle,
                agents,
            };
            run_node(config, store, options).await
        }
    }
}

/// Validates every file (not stopping at the first bad one) and prints one verdict each.
fn validate(files: &[PathBuf]) -> ExitCode {
    let mut all_valid = true;
    for file in files {
        match Campaign::load(file) {
            Ok(campaign) => {
                // Its survey script and message templates are checked with it, relative to
                // the campaign file.
                let base = file.parent().unwrap_or(Path::new("."));
                if let Err(error) = companions::check(&campaign, base) {
                    all_valid = false;
                    eprintln!("{}: {error}", file.display());
                    continue;
                }
                println!(
                    "{}: ok ({}, {}, {} windows)",
                    file.display(),
                    campaign.kind(),
                    campaign.mode(),
                    campaign.windows().count()
                );
            }
            Err(errors) => {
                all_valid = false;
                eprintln!("{errors}");
            }
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn create(
    store: &Store,
    file: &Path,
    start: bool,
    start_at: Option<DateTime<Utc>>,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let campaign = match Campaign::load(file) {
        Ok(campaign) => campaign,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let absolute =
        std::path::absolute(file).with_context(|| format!("cannot resolve {}", file.display()))?;
    let source = absolute.to_string_lossy().to_string();
    let campaigns = Campaigns::new(store);
    let now = Utc::now();
    let stored = match campaigns
        .create(&campaign, &text, Some(&source), "cli", now)
        .await
    {
        Ok(stored) => stored,
        // The same definition again on a draft (say, after its lists failed to load): load
        // the lists again; the hopper adds only what is new.
        Err(RepoError::Exists(code)) => {
            let existing = campaigns.get(&code).await?;
            if existing.state != State::Draft || existing.definition != text {
                bail!(
                    "a campaign with code `{code}` already exists ({}); give the new one another code",
                    existing.state
                );
            }
            existing
        }
        Err(e) => return Err(e.into()),
    };
    let report = lists::load(
        store,
        stored.campaign_id,
        &campaign,
        &stored.base_dir(),
        now,
    )
    .await
    .with_context(|| {
        format!(
            "campaign {} was created, but its lists did not load",
            stored.code
        )
    })?;
    for refused in &report.refused {
        eprintln!("{refused}");
    }
    let stored = if start {
        campaigns
            .apply(&stored.code, Action::Start, "cli", "", now)
            .await?
    } else if let Some(at) = start_at {
        campaigns.schedule(&stored.code, at, "cli", now).await?
    } else {
        stored
    };
    if as_json {
        json(&serde_json::json!({ "campaign": summary(&stored), "lists": report }))?;
    } else {
        println!(
            "campaign {} ({}) is {}: {} contacts loaded ({} read, {} refused)",
            stored.code,
            stored.name,
            stored.state,
            report.added,
            report.read,
            report.refused.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn apply(
    campaigns: &Campaigns<'_>,
    step: StepArgs,
    action: Action,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let stored = campaigns
        .apply(&step.code, action, &step.actor, &step.reason, now)
        .await?;
    println!("campaign {} is {}", stored.code, stored.state);
    Ok(ExitCode::SUCCESS)
}

fn summary(c: &StoredCampaign) -> serde_json::Value {
    serde_json::json!({
        "code": c.code, "name": c.name, "kind": c.kind, "state": c.state,
        "starts_at": c.starts_at, "created_at": c.created_at, "updated_at": c.updated_at,
    })
}

async fn status(campaigns: &Campaigns<'_>, code: &str, as_json: bool) -> anyhow::Result<ExitCode> {
    let stored = campaigns.get(code).await?;
    let progress = campaigns.progress(stored.campaign_id).await?;
    let events = campaigns.events(stored.campaign_id).await?;
    let now = Utc::now();
    // The wallboard's figures, so the console and the command line agree.
    let abandon = wallboard::abandon(campaigns, &stored, now).await?;
    let survey = crate::outcomes::tally(campaigns.store(), stored.campaign_id).await?;
    let messages = crate::outbox::counts(campaigns.store(), Some(stored.campaign_id)).await?;
    if as_json {
        json(&serde_json::json!({
            "campaign": summary(&stored), "progress": progress, "events": events,
            "abandon": abandon,
            "survey": survey,
            "messages": messages
                .iter()
                .map(|(channel, state, n)| serde_json::json!({"channel": channel, "state": state, "messages": n}))
                .collect::<Vec<_>>(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "campaign {} ({}, {}) is {}",
        stored.code, stored.name, stored.kind, stored.state
    );
    println!(
        "contacts: {} pending, {} being called, {} done",
        progress.pending, progress.leased, progress.done
    );
    // Machine-classified answers are out of both counts, as the abandon rule says.
    let (day, month) = (abandon.last_24h, abandon.last_30d);
    let cap = abandon
        .max_pct
        .map_or(String::new(), |pct| format!(" (cap {pct} %)"));
    println!(
        "abandoned: {:.1} % over 24 h ({} of {} answered), {:.1} % over 30 days ({} of {}){cap}",
        day.pct, day.abandoned, day.answered, month.pct, month.abandoned, month.answered,
    );
    let mut t = table(&["final outcome", "contacts"]);
    for (outcome, n) in &progress.final_outcomes {
        t.add_row(vec![outcome.clone(), n.to_string()]);
    }
    println!("{t}");
    let mut t = table(&["attempt outcome", "attempts"]);
    for (outcome, n) in &progress.attempts {
        t.add_row(vec![outcome.clone(), n.to_string()]);
    }
    println!("{t}");
    if !messages.is_empty() {
        let mut t = table(&["message channel", "state", "messages"]);
        for (channel, state, n) in &messages {
            t.add_row(vec![channel.clone(), state.clone(), n.to_string()]);
        }
        println!("{t}");
    }
    if !survey.answers.is_empty() || !survey.verdicts.is_empty() {
        let mut t = table(&["survey node", "answer", "answers"]);
        for (node, value, n) in &survey.answers {
            t.add_row(vec![node.clone(), value.clone(), n.to_string()]);
        }
        println!("{t}");
        let mut t = table(&["ticket verdict", "contacts"]);
        for (verdict, n) in &survey.verdicts {
            t.add_row(vec![verdict.clone(), n.to_string()]);
        }
        println!("{t}");
    }
    let mut t = table(&["at", "actor", "action", "state", "reason"]);
    for e in &events {
        t.add_row(vec![
            e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            e.actor.clone(),
            e.action.clone(),
            e.to_state.clone(),
            e.reason.clone(),
        ]);
    }
    println!("{t}");
    Ok(ExitCode::SUCCESS)
}

async fn list(campaigns: &Campaigns<'_>, as_json: bool) -> anyhow::Result<ExitCode> {
    let all = campaigns.list().await?;
    if as_json {
        json(&all.iter().map(summary).collect::<Vec<_>>())?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = table(&["code", "name", "kind", "state", "updated"]);
    for c in &all {
        t.add_row(vec![
            c.code.clone(),
            c.name.clone(),
            c.kind.clone(),
            c.state.to_string(),
            c.updated_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        ]);
    }
    println!("{t}\n{} campaign(s)", all.len());
    Ok(ExitCode::SUCCESS)
}

/// The host name, the default node name.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node-1".into())
}

/// `campaign run`'s options.
struct RunOptions {
    codes: Vec<String>,
    node: Option<String>,
    sip_listen: Option<SocketAddr>,
    exit_when_idle: bool,
    agents: Vec<String>,
}

/// The number agents' phones show for their nailed-up call (the hotline's own).
const AGENT_LEG_CALLER_ID: &str = "4008000400";

/// The agents of the configuration and of `--agent NAME=URI`.
fn agents(config: &Config, extra: &[String]) -> anyhow::Result<Option<AgentConfig>> {
    let mut agents: Vec<(String, String)> = config
        .dialer
        .agents
        .iter()
        .map(|(name, uri)| (name.clone(), uri.clone()))
        .collect();
    for given in extra {
        let Some((name, uri)) = given.split_once('=') else {
            bail!("--agent `{given}` is not NAME=sip:USER@HOST:PORT");
        };
        if !uri.starts_with("sip:") {
            bail!("--agent {name}: `{uri}` is not a SIP URI (sip:USER@HOST:PORT)");
        }
        agents.push((name.to_string(), uri.to_string()));
    }
    // Without configured agents the desk still exists: agents log in on the web desktop.
    Ok(Some(AgentConfig {
        agents,
        wrap: Duration::from_secs(config.dialer.wrap_secs),
        talk_limit: Duration::from_secs(config.dialer.talk_limit_secs.max(1)),
        caller_id: AGENT_LEG_CALLER_ID.to_string(),
    }))
}

/// The user agent of a dialer node. It places calls and, without `[[inbound]]` numbers,
/// takes none: a stranger's INVITE is refused at once and leaves no state. Requests outside a call are taken only from the trunks' addresses (the proxy's, else
/// the domain's, and `addresses`) and `[dialer] allow`. It listens on TCP only when a trunk
/// uses TCP (that trunk's requests of a call may come over a connection it opens); otherwise a
/// TCP listener is only a door for strangers' connections, which hold descriptors the RTP
/// sockets need.
async fn dialer_agent(
    listen: SocketAddr,
    dialer: &DialerConfig,
    trunks: &BTreeMap<String, TrunkConfig>,
) -> UserAgentConfig {
    let mut config = UserAgentConfig::new(listen);
    config.takes_calls = false;
    config.tcp = trunks.values().any(|trunk| trunk.transport == "tcp");
    config.tcp_limits = dialer.tcp.limits();
    config.allow = Some(access_list(dialer, trunks).await);
    config.media.rtp_timeout =
        (dialer.rtp_timeout_secs > 0).then(|| Duration::from_secs(dialer.rtp_timeout_secs));
    config.media.symmetric_rtp = dialer.symmetric_rtp;
    config
}

/// Who may send the node requests outside a call: every trunk's far end and the configured
/// extras. A trunk host that does not resolve now is left out with a warning (its calls fail
/// with their own error; a node still serves its other trunks).
async fn access_list(dialer: &DialerConfig, trunks: &BTreeMap<String, TrunkConfig>) -> AccessList {
    let mut list = AccessList::default();
    for net in &dialer.allow {
        list.push(net.0);
    }
    for (name, trunk) in trunks {
        for net in &trunk.addresses {
            list.push(net.0);
        }
        let Some(host) = trunk.proxy.as_deref().or(trunk.domain.as_deref()) else {
            continue;
        };
        match far_end_ips(host).await {
            Ok(ips) => ips.into_iter().for_each(|ip| list.push(ip.into())),
            Err(err) => tracing::warn!(
                trunk = %name,
                "cannot resolve `{host}` ({err}): its requests outside a call will be refused"
            ),
        }
    }
    list
}

/// The IP addresses of a trunk's `host[:port]` (default port 5060).
async fn far_end_ips(host: &str) -> std::io::Result<Vec<std::net::IpAddr>> {
    if let Ok(addr) = host.parse::<SocketAddr>() {
        return Ok(vec![addr.ip()]);
    }
    if let Ok(ip) = host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        return Ok(vec![ip]);
    }
    let target = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:5060")
    };
    let ips = tokio::net::lookup_host(target).await?.map(|addr| addr.ip());
    Ok(ips.collect())
}

async fn run_node(config: &Config, store: Store, options: RunOptions) -> anyhow::Result<ExitCode> {
    let RunOptions {
        codes,
        node,
        sip_listen,
        exit_when_idle,
        agents: extra_agents,
    } = options;
    let dialer = &config.dialer;
    let listen = match sip_listen {
        Some(addr) => addr,
        None => dialer.sip_listen.parse().with_context(|| {
            format!(
                "[dialer] sip_listen `{}` is not an address",
                dialer.sip_listen
            )
        })?,
    };
    if config.trunks.is_empty() {
        // A campaign of SMS and email needs none; a voice campaign is paused with the reason.
        eprintln!(
            "no trunks configured: voice campaigns cannot run (add [trunks.main] with a domain \
             to huifang.toml)"
        );
    }
    let node_name = node
        .or_else(|| dialer.node.clone())
        .unwrap_or_else(host_name);
    let numbers = super::hotline::menus(config)?;
    let mut ua_config = dialer_agent(listen, dialer, &config.trunks).await;
    ua_config.takes_calls = !numbers.is_empty();
    let ua = UserAgent::start(ua_config).await?;
    let node_config = NodeConfig {
        node: node_name.clone(),
        lease: Duration::from_secs(dialer.lease_secs.max(60)),
        poll: Duration::from_millis(500),
        prompts_dir: PathBuf::from(&dialer.prompts_dir),
        recordings_dir: PathBuf::from(&dialer.recordings_dir),
        sla: config.sla.clone(),
        trunks: config.trunks.clone(),
        prefix_rates: dialer.prefix_calls_per_second.clone(),
        agents: agents(config, &extra_agents)?,
    };
    // The node's messages (SMS and email turns, survey SMS) go out through an outbox worker of
    // its own, when gateways are configured.
    let outbox = Arc::new(Worker::new(
        store.clone(),
        Arc::new(SystemClock),
        &node_name,
        config,
    )?);
    let node = DialerNode::new(store, ua.clone(), Arc::new(SystemClock), node_config)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        super::stop_requested().await;
        eprintln!("stopping: calls in progress finish, no new ones are placed");
        let _ = stop.send(true);
    });
    eprintln!("dialer node `{node_name}` on {}", ua.local_addr());
    let recovery = node.recover().await?;
    eprintln!(
        "recovered: {} answered, {} interrupted, {} never dialled, {} leases given back",
        recovery.answered, recovery.interrupted, recovery.not_dialed, recovery.released
    );
    if outbox.channels().is_empty() {
        eprintln!(
            "no [sms] or [email] gateway configured: SMS and email turns of campaigns wait in \
             the outbox (huifang outbox list)"
        );
    }
    let (stop_outbox, outbox_stopped) = tokio::sync::watch::channel(false);
    let sender = (!outbox.channels().is_empty()).then(|| {
        eprintln!("outbox worker sending {:?}", outbox.channels());
        tokio::spawn(outbox.clone().run(outbox_stopped))
    });
    if !numbers.is_empty() {
        let list: Vec<String> = numbers.keys().cloned().collect();
        let store = node.store().clone();
        let ua = ua.clone();
        let hotline = super::hotline::start(config, store, &node, ua, numbers, stopped.clone());
        let hotline = hotline.await?;
        node.set_inbound_load(Arc::new(move || hotline.pacing_load()));
        eprintln!("hotline answering {list:?}");
    }
    let result = node.run(&codes, exit_when_idle, stopped).await;
    let _ = stop_outbox.send(true);
    if let Some(sender) = sender {
        match sender.await {
            Ok(Err(e)) => eprintln!("outbox worker: {e}"),
            Err(e) => eprintln!("outbox worker: {e}"),
            Ok(Ok(())) => {}
        }
    }
    result?;
    ua.shutdown();
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunks(transports: &[&str]) -> BTreeMap<String, TrunkConfig> {
        transports
            .iter()
            .enumerate()
            .map(|(i, transport)| {
                let trunk = toml::from_str(&format!("transport = \"{transport}\"")).unwrap();
                (format!("t{i}"), trunk)
            })
            .collect()
    }

    /// Whether the agent a dialer node starts with these trunks takes TCP connections.
    async fn takes_tcp(trunks: &BTreeMap<String, TrunkConfig>) -> bool {
        let dialer = DialerConfig::default();
        let agent = dialer_agent("127.0.0.1:0".parse().unwrap(), &dialer, trunks).await;
        let ua = UserAgent::start(agent).await.unwrap();
        let connected = tokio::net::TcpStream::connect(ua.local_addr()).await;
        ua.shutdown();
        match connected {
            Ok(_) => true,
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => false,
            Err(err) => panic!("connect: {err}"),
        }
    }

    #[tokio::test]
    async fn a_dialer_listens_on_tcp_only_when_a_trunk_uses_it() {
        assert!(
            !takes_tcp(&trunks(&["udp", "udp"])).await,
            "UDP trunks only"
        );
        assert!(!takes_tcp(&trunks(&[])).await, "no trunks");
        assert!(takes_tcp(&trunks(&["udp", "tcp"])).await, "a TCP trunk");
    }

    #[tokio::test]
    async fn a_dialer_takes_requests_outside_calls_only_from_its_trunks_and_allow() {
        let config: Config = toml::from_str(
            r#"
            [dialer]
            allow = ["192.0.2.9"]
            [trunks.carrier]
            proxy = "127.0.0.5:5070"
            domain = "ims.example.invalid"
            addresses = ["10.1.2.0/28"]
            [trunks.pbx]
            domain = "localhost"
            [trunks.lost]
            domain = "no-such-host.invalid"
            "#,
        )
        .unwrap();
        let list = access_list(&config.dialer, &config.trunks).await;
        for ip in [
            "192.0.2.9",
            "127.0.0.5",
            "10.1.2.1",
            "10.1.2.15",
            "127.0.0.1",
        ] {
            assert!(
                list.contains(ip.parse().unwrap()),
                "{ip} may talk to the node"
            );
        }
        for ip in ["192.0.2.10", "10.1.2.16", "127.0.0.2", "203.0.113.7"] {
            assert!(!list.contains(ip.parse().unwrap()), "{ip} is a stranger");
        }
    }

    #[test]
    fn a_bad_address_in_a_list_is_named_with_its_line() {
        let err = Config::parse(
            "[trunks.main]\ndomain = \"x\"\naddresses = [\"10.1.2\"]\n",
            "huifang.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`10.1.2` is not an IP address or network"),
            "{err}"
        );
        assert!(err.contains("line 3"), "{err}");
    }
}
