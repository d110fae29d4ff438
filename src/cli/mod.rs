//! The command line: parse, load configuration, call the library, print.

mod audit;
mod bench;
mod call;
mod campaign;
mod dnc;
mod import;
mod lookup;
mod metrics;
mod outbox;

mod hotline;
mod output;
mod phones;
mod simulate;
mod ticket;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::clock::SystemClock;
use crate::config::Config;
use crate::store::Store;
use crate::tickets::TicketDesk;

/// huifang (回访): tickets, callbacks and outbound campaigns of a 400 customer-service center.
#[derive(Debug, Parser)]
#[command(name = "huifang", version, about)]
pub struct Cli {
    /// Configuration file (optional; defaults apply when it is missing).
    #[arg(long, global = true, default_value = "huifang.toml")]
    pub config: PathBuf,
    /// Database URL: sqlite://FILE (default sqlite://huifang.db) or postgres://...
    #[arg(long, global = true, env = "DATABASE_URL")]
    pub database: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a simulated day of the hotline on a fresh demo database and print its summary.
    Demo(crate::demo::DemoArgs),
    /// Import a CSV file (bad rows are reported with file, line and column; good rows are kept).
    Import(import::ImportArgs),
    /// Work with tickets.
    #[command(subcommand)]
    Ticket(ticket::TicketCommand),
    /// Screen pop by phone number, or a unit component's supplier and warranty.
    Lookup(lookup::LookupArgs),
    /// The do-not-call list.
    #[command(subcommand)]
    Dnc(dnc::DncCommand),
    /// The SMS and email outbox: run the sending worker, list messages, retry one, replies.
    #[command(subcommand)]
    Outbox(outbox::OutboxCommand),
    /// Raise every overdue ticket one level (the escalation worker's pass); `--every` repeats.
    Escalate(ticket::EscalateArgs),
    /// Serve the web console and its JSON API (and run the escalation worker).
    Serve(crate::web::ServeArgs),
    /// Console accounts: add (admin, supervisor, agent), list, disable, enable, unlock.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Search the audit log (logins, owner look-ups, ticket, campaign and account changes).
    Audit(audit::AuditArgs),
    /// Telephony load generators for the benchmark (see benches/telephony.sh).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Place one SIP call: play prompts, collect digits, record; print every event.
    Call(call::CallArgs),
    /// Run the built-in phone simulator (simulated owners answering, busy, pressing keys).
    Phones(phones::PhonesArgs),
    /// Run the pacer on a simulated campaign (see benches/pacing.sh).
    Simulate(simulate::SimulateArgs),
    /// Campaigns: validate definitions, create, start, pause, resume, stop, status, list, and
    /// run a dialer node.
    #[command(subcommand)]
    Campaign(campaign::CampaignCommand),
    /// The 400 hotline: validate menu files, list recent inbound calls (the hotline itself
    /// runs in `campaign run`, from `[[inbound]]`).
    #[command(subcommand)]
    Hotline(hotline::HotlineCommand),
    /// The supervisors' figures over local days: closure, first-contact satisfaction, ratings,
    /// timeliness, escalation, callbacks and abandoned calls, per project, region, category or
    /// supplier.
    Metrics(metrics::MetricsArgs),
    /// Write the deterministic sample data set (CSV) into a folder.
    Sample {
        /// Folder to write into.
        #[arg(long, default_value = "campaigns/sample")]
        out: PathBuf,
        /// Generator seed.
        #[arg(long, default_value_t = crate::sample::SEED)]
        seed: u64,
        /// Instead, write this many synthetic owners to `--out` (a file), for the import benchmark.
        #[arg(long)]
        owners: Option<u64>,
    },
}

impl Command {
    /// Whether this command only prints a report and exits, so that a closed pipe
    /// (`huifang ticket list | head`) may end it quietly as it ends any Unix tool. Servers,
    /// dialer nodes, the simulator and calls keep running and log instead.
    pub fn prints_a_report(&self) -> bool {
        match self {
            Command::Ticket(_)
            | Command::Lookup(_)
            | Command::Dnc(_)
            | Command::Import(_)
            | Command::Simulate(_)
            | Command::Metrics(_)
            | Command::User(_)
            | Command::Audit(_)
            | Command::Hotline(_)
            | Command::Sample { .. } => true,
            Command::Campaign(command) => !matches!(command, campaign::CampaignCommand::Run { .. }),
            Command::Outbox(command) => command.prints_a_report(),
            Command::Demo(_)
            | Command::Escalate(_)
            | Command::Serve(_)
            | Command::Bench(_)
            | Command::Call(_)
            | Command::Phones(_) => false,
        }
    }
}

/// Waits for Ctrl-C, or SIGTERM from a service manager or `timeout`: the same clean stop for
/// every long-running command. A handler that cannot be installed disables its branch only.
pub(crate) async fn stop_requested() {
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        Ok(()) = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(&cli.config)?;
    if let Some(url) = cli.database {
        config.database_url = Some(url);
    }
    match cli.command {
        Command::Demo(args) => crate::demo::run(&config, &args)
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Call(args) => call::run(&config, args).await,
        Command::Bench(command) => bench::run(command).await,
        Command::Phones(args) => phones::run(args).await,
        Command::Simulate(args) => simulate::run(args),
        Command::Campaign(command) => campaign::run(&config, command).await,
        Command::Hotline(command) => hotline::run(&config, command).await,
        Command::Sample { out, seed, owners } => sample(out, seed, owners),
        Command::Import(args) => import::run(&open(&config).await?, args).await,
        Command::Ticket(command) => ticket::run(&desk(&config).await?, command).await,
        Command::Lookup(args) => lookup::run(&open(&config).await?, args).await,
        Command::Metrics(args) => metrics::run(&config, args).await,
        Command::Dnc(command) => dnc::run(&open(&config).await?, command).await,
        Command::User(command) => user::run(&open(&config).await?, command).await,
        Command::Audit(args) => audit::run(&open(&config).await?, args).await,
        Command::Outbox(command) => outbox::run(&config, open(&config).await?, command).await,
        Command::Escalate(args) => ticket::escalate_overdue(&desk(&config).await?, args).await,
        Command::Serve(args) => crate::web::serve(config, args)
            .await
            .map(|_| ExitCode::SUCCESS),
    }
}

async fn open(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::open(config.database_url()).await?)
}

async fn desk(config: &Config) -> anyhow::Result<TicketDesk> {
    Ok(TicketDesk::new(
        open(config).await?,
        Arc::new(SystemClock),
        config.sla.clone(),
    ))
}

fn sample(out: PathBuf, seed: u64, owners: Option<u64>) -> anyhow::Result<ExitCode> {
    match owners {
        Some(count) => {
            let file = std::fs::File::create(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let mut writer = std::io::BufWriter::new(file);
            crate::sample::write_owners(count, seed, &mut writer)?;
            std::io::Write::flush(&mut writer)?;
            eprintln!("wrote {count} owners to {}", out.display());
        }
        None => {
            crate::sample::generate(seed).write_to(&out)?;
            eprintln!("wrote the sample data set to {}", out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
