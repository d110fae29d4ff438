//! `huifang bench calls|media`: the telephony benchmark's load generators (run by
//! `benches/telephony.sh` against a sipp UAS, side by side with sipp's own UAC).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::telephony::media::Prompt;
use crate::telephony::transport::{DialRequest, UserAgent, UserAgentConfig};

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Maximum call set-up rate: dial, answer, hang up, as fast as the peer allows.
    Calls(CallsArgs),
    /// Many concurrent calls each playing a prompt: RTP send jitter, CPU and memory per call.
    Media(MediaArgs),
}

/// `huifang bench calls`
#[derive(Debug, Args)]
pub struct CallsArgs {
    /// The UAS to call (a sipp `-sn uas`).
    #[arg(long)]
    pub target: String,
    /// Calls to complete.
    #[arg(long, default_value_t = 5000)]
    pub calls: u64,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// Local SIP address.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

/// `huifang bench media`
#[derive(Debug, Args)]
pub struct MediaArgs {
    /// The UAS to call (a sipp `-sn uas`).
    #[arg(long)]
    pub target: String,
    /// Concurrent calls.
    #[arg(long, default_value_t = 2000)]
    pub calls: usize,
    /// Calls placed per second while ramping up.
    #[arg(long, default_value_t = 200)]
    pub rate: u64,
    /// Seconds to measure once every call plays.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Local SIP address.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

/// Runs a benchmark and prints its result as one JSON line.
pub(super) async fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Calls(args) => calls(args).await,
        BenchCommand::Media(args) => media(args).await,
    }
}

async fn calls(args: CallsArgs) -> anyhow::Result<ExitCode> {
    let ua = UserAgent::start(UserAgentConfig::new(args.listen)).await?;
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    // The load runs in a task of the runtime, as the dialer's campaign workers do (they place
    // their calls from a spawned task too), not on the thread that started the runtime: from
    // there every permit and every spawn was a wake-up across threads.
    let load = {
        let (ua, target, ok, failed) =
            (ua.clone(), args.target.clone(), ok.clone(), failed.clone());
        let (calls, concurrency) = (args.calls, args.concurrency.max(1));
        tokio::spawn(async move {
            let permits = Arc::new(Semaphore::new(concurrency));
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..calls {
                let permit = Arc::clone(&permits).acquire_owned().await?;
                let (ua, target, ok, failed) =
                    (ua.clone(), target.clone(), ok.clone(), failed.clone());
                tasks.spawn(async move {
                    let _permit = permit;
                    let answered = match ua.dial(DialRequest::new(target)).await {
                        Ok(mut call) => {
                            let answered = call.wait_answer().await;
                            call.hangup().await;
                            call.close().await;
                            answered
                        }
                        Err(err) => {
                            tracing::warn!(%err, "dial failed");
                            false
                        }
                    };
                    let counter = if answered { ok } else { failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                });
                while tasks.try_join_next().is_some() {}
            }
            while tasks.join_next().await.is_some() {}
            anyhow::Ok(())
        })
    };
    load.await??;
    let seconds = start.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    println!(
        "{}",
        json!({
            "bench": "calls",
            "calls": args.calls,
            "answered": ok,
            "failed": failed.load(Ordering::Relaxed),
            "concurrency": args.concurrency,
            "seconds": seconds,
            "calls_per_second": ok as f64 / seconds,
        })
    );
    ua.shutdown();
    if ok == 0 {
        eprintln!(
            "no call was answered: is a UAS listening at {}?",
            args.target
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

async fn media(args: MediaArgs) -> anyhow::Result<ExitCode> {
    let ua = UserAgent::start(UserAgentConfig::new(args.listen)).await?;
    // A 10 s prompt, made here, played in a loop by every call.
    let prompt = Arc::new(Prompt::from_samples("bench tone", tone(10)));
    let rss_before = rss_kib()?;
    let mut calls = Vec::with_capacity(args.calls);
    let pace = Duration::from_secs_f64(1.0 / args.rate.max(1) as f64);
    let mut next = tokio::time::Instant::now();
    let mut pending = tokio::task::JoinSet::new();
    for _ in 0..args.calls {
        tokio::time::sleep_until(next).await;
        next += pace;
        let (ua, target) = (ua.clone(), args.target.clone());
        pending.spawn(async move {
            let mut call = ua.dial(DialRequest::new(target)).await.ok()?;
            call.wait_answer().await.then_some(call)
        });
    }
    while let Some(done) = pending.join_next().await {
        if let Ok(Some(call)) = done {
            call.leg_play_loop(&prompt);
            calls.push(call);
        }
    }
    let connected = calls.len();
    // Let the last calls settle, then measure a clean window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    ua.media().reset_send_jitter();
    let rss_connected = rss_kib()?;
    let cpu_before = cpu_seconds()?;
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let cpu = cpu_seconds()? - cpu_before;
    let wall = window.elapsed().as_secs_f64();
    let jitter = ua.media().send_jitter();
    let sent: u64 = calls
        .iter()
        .filter_map(|c| c.media_stats())
        .map(|s| s.packets_sent)
        .sum();
    println!(
        "{}",
        json!({
            "bench": "media",
            "calls": args.calls,
            "connected": connected,
            "window_seconds": wall,
            "packets_measured": jitter.count,
            "packets_sent_total": sent,
            "jitter_p50_ms": jitter.p50_us as f64 / 1000.0,
            "jitter_p99_ms": jitter.p99_us as f64 / 1000.0,
            "jitter_max_ms": jitter.max_us as f64 / 1000.0,
            "cpu_percent_of_one_core": 100.0 * cpu / wall,
            "rtp_sender_priority": ua.media().sender_priority().map(|p| p.to_string()),
            "cpu_ms_per_call_second": 1000.0 * cpu / wall / connected.max(1) as f64,
            "rss_kib_before": rss_before,
            "rss_kib_connected": rss_connected,
            "kib_per_call": (rss_connected.saturating_sub(rss_before)) as f64 / connected.max(1) as f64,
        })
    );
    for mut call in calls {
        call.hangup().await;
        call.close().await;
    }
    ua.shutdown();
    Ok(ExitCode::SUCCESS)
}

/// `seconds` of a 440 Hz tone at 8 kHz.
fn tone(seconds: usize) -> Vec<i16> {
    (0..8000 * seconds)
        .map(|i| ((i as f64 * 440.0 * 2.0 * std::f64::consts::PI / 8000.0).sin() * 8000.0) as i16)
        .collect()
}

/// Resident memory of this process, from /proc (Linux).
fn rss_kib() -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS in /proc/self/status")
}

/// User + system CPU time of this process, from /proc (Linux, USER_HZ = 100).
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("odd /proc/self/stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After the command name: state is field 0, utime field 11, stime field 12.
    Ok((ticks(11) + ticks(12)) as f64 / 100.0)
}
