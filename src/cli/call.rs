//! `huifang call`: place one call, play prompts, collect digits, record, print every event.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;

use crate::config::Config;
use crate::telephony::sip::auth::Credentials;
use crate::telephony::sip::{RegState, Register, Transport, message};
use crate::telephony::transport::{
    CallUpdate, Collect, DialRequest, PlayEnd, UserAgent, UserAgentConfig,
};
use crate::telephony::{Digit, transport::CollectEnd};

/// `huifang call TARGET ...`
#[derive(Debug, Args)]
pub struct CallArgs {
    /// Who to call: `sip:USER@HOST:PORT` (or a number, with `--trunk` giving the domain).
    pub target: String,
    /// Play this WAV once answered (repeatable; played in order, a digit interrupts).
    #[arg(long = "play")]
    pub play: Vec<PathBuf>,
    /// Collect this many digits after the prompts.
    #[arg(long)]
    pub collect: Option<usize>,
    /// Seconds to wait for the first digit (and between digits).
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Record both directions into this WAV file.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Use this trunk of `huifang.toml` (`[trunks.NAME]`).
    #[arg(long)]
    pub trunk: Option<String>,
    /// Digest user name (overrides the trunk's).
    #[arg(long)]
    pub username: Option<String>,
    /// Digest password (overrides the trunk's).
    #[arg(long)]
    pub password: Option<String>,
    /// `udp` or `tcp` (overrides the trunk's).
    #[arg(long)]
    pub transport: Option<Transport>,
    /// Outbound proxy `host:port` (overrides the trunk's).
    #[arg(long)]
    pub proxy: Option<String>,
    /// The caller ID (user part of From).
    #[arg(long)]
    pub from: Option<String>,
    /// Seconds to let it ring before CANCEL (at least 15).
    #[arg(long)]
    pub ring_timeout: Option<u64>,
    /// Seconds to stay connected after prompts and collection (default: 2, or 0 when
    /// something was played or collected).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Local SIP address to bind (default: the address that routes to the target, port 0).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A mistake in the command line itself: reported, and the exit code is 2 (as clap's own).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

/// Runs `huifang call`; exit 0 when the call was answered, 1 when not, 2 for a usage error.
pub(super) async fn run(config: &Config, args: CallArgs) -> anyhow::Result<ExitCode> {
    match place(config, args).await {
        Err(err) if err.downcast_ref::<Usage>().is_some() => {
            eprintln!("error: {err}");
            Ok(ExitCode::from(2))
        }
        other => other,
    }
}

async fn place(config: &Config, args: CallArgs) -> anyhow::Result<ExitCode> {
    let trunk = match &args.trunk {
        Some(name) => Some(
            config
                .trunks
                .get(name)
                .with_context(|| {
                    format!("no trunk `{name}` in the configuration ([trunks.{name}])")
                })?
                .clone(),
        ),
        None => None,
    };
    let target = if args.target.starts_with("sip:") || args.target.starts_with("sips:") {
        args.target.clone()
    } else if let Some(domain) = trunk.as_ref().and_then(|t| t.domain.clone()) {
        format!("sip:{}@{domain}", args.target)
    } else {
        return Err(Usage(format!(
            "`{}` is not a SIP URI (sip:USER@HOST:PORT); give --trunk with a domain to dial a number",
            args.target
        ))
        .into());
    };
    let Some((host, port)) = message::host_port(&target) else {
        return Err(Usage(format!("`{target}` is not a SIP URI (sip:USER@HOST:PORT)")).into());
    };
    let transport = match (args.transport, trunk.as_ref().map(|t| t.transport.as_str())) {
        (Some(t), _) => t,
        (None, Some("tcp")) => Transport::Tcp,
        (None, Some("udp") | None) => Transport::Udp,
        (None, Some(other)) => bail!("trunk transport `{other}` is neither udp nor tcp"),
    };
    let proxy = args
        .proxy
        .clone()
        .or_else(|| trunk.as_ref().and_then(|t| t.proxy.clone()));
    let username = args
        .username
        .clone()
        .or_else(|| trunk.as_ref().and_then(|t| t.username.clone()));
    let password = args
        .password
        .clone()
        .or_else(|| trunk.as_ref().and_then(|t| t.password.clone()));
    let credentials = match (username, password) {
        (Some(username), Some(password)) => Some(Credentials { username, password }),
        (None, None) => None,
        _ => return Err(Usage("give both --username and --password (or neither)".into()).into()),
    };
    let linger = match args.duration {
        None if args.play.is_empty() && args.collect.is_none() => Duration::from_secs(2),
        None => Duration::ZERO,
        Some(secs) => Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| *d <= Duration::from_secs(86_400))
            .ok_or_else(|| Usage(format!("--duration {secs}: give seconds from 0 to 86400")))?,
    };
    // The first hop decides which local address Via, Contact and SDP should name.
    let (hop_host, hop_port) = match &proxy {
        Some(p) => split_hostport(p),
        None => (host.clone(), port.unwrap_or(5060)),
    };
    let ua_listen = match args.listen {
        Some(addr) => addr,
        None => SocketAddr::new(route_to(&hop_host, hop_port), 0),
    };
    let ua = UserAgent::start(UserAgentConfig::new(ua_listen)).await?;
    // Load every prompt before dialling: a missing file is an error now, not mid-call.
    let mut prompts = Vec::new();
    for path in &args.play {
        prompts.push(ua.prompts().get(path)?);
    }
    let mut request = DialRequest::new(target.clone());
    // A diagnostic call reports keys however the far end sends them.
    request.sip_info_dtmf = true;
    request.transport = transport;
    request.proxy = proxy;
    request.credentials = credentials;
    if let Some(from) = args
        .from
        .clone()
        .or_else(|| trunk.as_ref().and_then(|t| t.caller_id.clone()))
    {
        request.caller_id = from;
    }
    let ring = args
        .ring_timeout
        .or(trunk.as_ref().map(|t| t.ring_timeout_secs))
        .unwrap_or(30);
    request.ring_timeout = Duration::from_secs(ring);

    let printer = Printer { json: args.json };
    if let Some(aor) = trunk.as_ref().and_then(|t| t.register.clone()) {
        register(&ua, &request, aor, printer).await?;
    }
    let mut call = ua.dial(request).await?;
    call.observe(move |update| printer.update(update));
    // Ctrl-C still hangs up properly (a BYE, a finished recording) instead of vanishing.
    let answered = tokio::select! {
        answered = converse(&mut call, &args, prompts, linger, printer) => answered,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: hanging up");
            Ok(call.ended().is_none())
        }
    };
    call.hangup().await;
    call.close().await;
    let answered = answered?;
    if let (true, Some(path)) = (answered, &args.record) {
        printer.recorded(path);
    }
    ua.shutdown();
    Ok(if answered {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Everything after dialling: wait for the answer, record, play, collect, linger. Returns
/// whether the call was answered; the caller hangs up whatever happens here.
async fn converse(
    call: &mut crate::telephony::transport::Call,
    args: &CallArgs,
    prompts: Vec<std::sync::Arc<crate::telephony::media::Prompt>>,
    linger: Duration,
    printer: Printer,
) -> anyhow::Result<bool> {
    if !call.wait_answer().await {
        return Ok(false);
    }
    if let Some(path) = &args.record {
        call.record(path.clone())
            .with_context(|| format!("cannot record to {}", path.display()))?;
    }
    if !prompts.is_empty() && call.play(prompts, args.collect.is_some()).await == PlayEnd::HungUp {
        tracing::info!("the callee hung up during the prompt");
    }
    if let Some(n) = args.collect {
        let timeout = Duration::from_secs(args.timeout);
        let collected = call
            .collect(Collect {
                max_digits: n.max(1),
                terminator: Digit::parse('#').ok(),
                first_timeout: timeout,
                inter_timeout: timeout,
            })
            .await;
        printer.digits(&collected.digits, collected.end);
    }
    if !linger.is_zero() && call.ended().is_none() {
        let _ = tokio::time::timeout(linger, async {
            while call.next_update().await.is_some() {}
        })
        .await;
    }
    Ok(true)
}

/// `host:port`, `[v6]:port` or a bare host (port 5060).
fn split_hostport(hostport: &str) -> (String, u16) {
    if let Ok(addr) = hostport.parse::<SocketAddr>() {
        return (addr.ip().to_string(), addr.port());
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            (host.to_string(), port.parse().unwrap_or(5060))
        }
        _ => (hostport.trim_matches(['[', ']']).to_string(), 5060),
    }
}

/// Registers with the trunk before the call and waits (10 s at most) for the registrar's word.
async fn register(
    ua: &UserAgent,
    request: &DialRequest,
    aor: String,
    printer: Printer,
) -> anyhow::Result<()> {
    let hop = match &request.proxy {
        Some(proxy) => proxy.clone(),
        None => {
            let (host, port) = message::host_port(&aor)
                .ok_or_else(|| Usage(format!("trunk register `{aor}` is not a SIP URI")))?;
            format!("{host}:{}", port.unwrap_or(5060))
        }
    };
    let registrar = tokio::net::lookup_host(&hop)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .with_context(|| format!("cannot resolve the registrar `{hop}`"))?;
    let mut states = ua.register(Register {
        registrar,
        transport: request.transport,
        aor,
        expires: 3600,
        credentials: request.credentials.clone(),
    })?;
    match tokio::time::timeout(Duration::from_secs(10), states.recv()).await {
        Ok(Some(RegState::Registered { expires })) => {
            printer.registered(expires);
            Ok(())
        }
        Ok(Some(RegState::Failed { status, reason })) => {
            bail!(
                "registration failed ({}): {reason}",
                status.map_or("no answer".into(), |s| s.to_string())
            )
        }
        _ => bail!("the registrar did not answer within 10 s"),
    }
}

/// The local address that routes to `host` (no packet is sent: a connected UDP socket only
/// asks the routing table), so Via, Contact and SDP name an address the peer can reach.
fn route_to(host: &str, port: u16) -> IpAddr {
    let unspecified: IpAddr = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => std::net::Ipv6Addr::UNSPECIFIED.into(),
        _ => Ipv4Addr::UNSPECIFIED.into(),
    };
    let probe = std::net::UdpSocket::bind((unspecified, 0)).and_then(|socket| {
        socket.connect((host, port))?;
        socket.local_addr()
    });
    match probe {
        Ok(addr) if !addr.ip().is_unspecified() => addr.ip(),
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

#[derive(Debug, Clone, Copy)]
struct Printer {
    json: bool,
}

impl Printer {
    fn update(&self, update: &CallUpdate) {
        if self.json {
            if let Ok(line) = serde_json::to_string(update) {
                println!("{line}");
            }
            return;
        }
        match update {
            CallUpdate::Digit { digit, source } => println!("digit {digit} ({source:?})"),
            CallUpdate::PlayInterrupted { digit } => println!("prompt interrupted by {digit}"),
            CallUpdate::Ended {
                disposition,
                status,
                by,
                reason,
            } => {
                let status = status.map(|s| format!(" {s}")).unwrap_or_default();
                let reason = reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                println!("ended {disposition}{status} by {by:?}{reason}");
            }
            other => println!(
                "{}",
                serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v["event"].as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
        }
    }

    fn digits(&self, digits: &str, end: CollectEnd) {
        if self.json {
            println!(
                "{}",
                json!({"event": "digits", "digits": digits, "end": end})
            );
        } else {
            println!("digits `{digits}` ({end:?})");
        }
    }

    fn registered(&self, expires: u32) {
        if self.json {
            println!("{}", json!({"event": "registered", "expires": expires}));
        } else {
            println!("registered for {expires} s");
        }
    }

    fn recorded(&self, path: &std::path::Path) {
        if self.json {
            println!("{}", json!({"event": "recorded", "path": path}));
        } else {
            println!("recorded {}", path.display());
        }
    }
}
