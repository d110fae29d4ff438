//! `huifang phones`: run the built-in phone simulator (the owners of the demo and tests).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use crate::telephony::Digit;
use crate::telephony::simulator::{self, Mix, PhoneConfig};
use crate::telephony::transport::{UserAgent, UserAgentConfig};

/// `huifang phones ...`
#[derive(Debug, Args)]
pub struct PhonesArgs {
    /// SIP address to answer on (UDP and TCP).
    #[arg(long, default_value = "127.0.0.1:5080")]
    pub listen: SocketAddr,
    /// Behaviour weights for calls whose user part names none.
    #[arg(long, default_value = "answer=70,busy=10,no_answer=10,voicemail=10")]
    pub mix: Mix,
    /// Keys answering phones press (default: a random rating 1-5).
    #[arg(long)]
    pub digits: Option<String>,
    /// Answer delay range in milliseconds, `LOW-HIGH`.
    #[arg(long, default_value = "200-1500")]
    pub answer_delay_ms: String,
    /// Milliseconds between answering and pressing keys.
    #[arg(long, default_value_t = 1200)]
    pub press_after_ms: u64,
    /// Random seed.
    #[arg(long, default_value_t = 400)]
    pub seed: u64,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    pub seconds: Option<u64>,
}

/// Runs the simulator until Ctrl-C or `--seconds`.
pub(super) async fn run(args: PhonesArgs) -> anyhow::Result<ExitCode> {
    let (low, high) = args
        .answer_delay_ms
        .split_once('-')
        .and_then(|(l, h)| Some((l.trim().parse::<u64>().ok()?, h.trim().parse::<u64>().ok()?)))
        .with_context(|| {
            format!(
                "--answer-delay-ms `{}` is not LOW-HIGH",
                args.answer_delay_ms
            )
        })?;
    if low > high {
        bail!("--answer-delay-ms: {low} is above {high}");
    }
    let digits = match &args.digits {
        Some(keys) => Some(Digit::parse_all(keys).context("--digits")?),
        None => None,
    };
    let ua = UserAgent::start(UserAgentConfig::new(args.listen)).await?;
    eprintln!(
        "phone simulator answering on sip:*@{} (udp, tcp)",
        ua.local_addr()
    );
    let config = PhoneConfig {
        mix: args.mix,
        answer_delay: (Duration::from_millis(low), Duration::from_millis(high)),
        press_after: Duration::from_millis(args.press_after_ms),
        digits,
        seed: args.seed,
        ..PhoneConfig::default()
    };
    let serve = simulator::serve(ua.clone(), config);
    match args.seconds {
        Some(secs) => {
            tokio::select! {
                () = serve => {},
                () = tokio::time::sleep(Duration::from_secs(secs)) => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        }
        None => {
            tokio::select! {
                () = serve => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        }
    }
    ua.shutdown();
    Ok(ExitCode::SUCCESS)
}
