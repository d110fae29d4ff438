//! `huifang hotline`: check menu files, list the calls of a day; and the hotline of
//! `campaign run` (its menus loaded from `[[inbound]]`, started on the node's agents).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{TimeDelta, Utc};
use clap::Subcommand;

use crate::config::Config;
use crate::inbound::{Hotline, HotlineConfig, InboundCalls, Menu, menu};
use crate::store::Store;

/// The hotline subcommands.
#[derive(Debug, Subcommand)]
pub enum HotlineCommand {
    /// Check hotline menu files (every prompt in every language, every queue named):
    /// `FILE: ok (...)`, or each error as `FILE:LINE: KEY: REASON`; exits 1 when any is bad.
    Validate {
        /// The TOML files (e.g. campaigns/hotline/*.toml).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The prompts folder (default: `[dialer] prompts_dir`).
        #[arg(long)]
        prompts: Option<PathBuf>,
    },
    /// The inbound calls of the last hours, oldest first, one line each.
    Calls {
        /// How many hours back.
        #[arg(long, default_value_t = 24)]
        hours: i64,
    },
}

/// Runs a hotline subcommand.
pub(super) async fn run(config: &Config, command: HotlineCommand) -> anyhow::Result<ExitCode> {
    match command {
        HotlineCommand::Validate { files, prompts } => {
            let dir = prompts.unwrap_or_else(|| PathBuf::from(&config.dialer.prompts_dir));
            let mut ok = true;
            for file in &files {
                match menu::load(file, Some(&dir)) {
                    Ok(menu) => println!(
                        "{}: ok ({} queues, {} keys, languages {})",
                        file.display(),
                        menu.queues.len(),
                        menu.keys.len(),
                        menu.languages.join(", ")
                    ),
                    Err(errors) => {
                        ok = false;
                        eprintln!("{errors}");
                    }
                }
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        HotlineCommand::Calls { hours } => {
            if !(1..=24 * 366).contains(&hours) {
                bail!("--hours {hours}: give 1..=8784");
            }
            let store = Store::open(config.database_url()).await?;
            let to = Utc::now();
            let rows = InboundCalls::new(&store)
                .between(to - TimeDelta::hours(hours), to + TimeDelta::seconds(1))
                .await?;
            for c in &rows {
                println!(
                    "{} {} {} -> {} keys={} queue={} agent={} {} {}",
                    c.inbound_call_id,
                    c.arrived_at.format("%Y-%m-%d %H:%M:%S"),
                    c.caller,
                    c.number,
                    if c.choices.is_empty() {
                        "-"
                    } else {
                        &c.choices
                    },
                    c.queue.as_deref().unwrap_or("-"),
                    c.agent.as_deref().unwrap_or("-"),
                    c.outcome.as_deref().unwrap_or("on"),
                    c.detail
                );
            }
            eprintln!("{} calls", rows.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The menus of `[[inbound]]` by number, each checked with its prompts; every error of every
/// file is named before the node starts.
pub(super) fn menus(config: &Config) -> anyhow::Result<BTreeMap<String, Arc<Menu>>> {
    let prompts = Path::new(&config.dialer.prompts_dir);
    let mut menus = BTreeMap::new();
    let mut errors = Vec::new();
    for (i, entry) in config.inbound.iter().enumerate() {
        let number = entry.number.trim().trim_start_matches('+').to_string();
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(format!(
                "[[inbound]] #{}: number `{}` is not digits",
                i + 1,
                entry.number
            ));
            continue;
        }
        match menu::load(Path::new(&entry.menu), Some(prompts)) {
            Ok(menu) => {
                if menus.insert(number.clone(), Arc::new(menu)).is_some() {
                    errors.push(format!(
                        "[[inbound]] #{}: number {number} is given twice",
                        i + 1
                    ));
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        bail!("the hotline cannot start:\n{}", errors.join("\n"));
    }
    Ok(menus)
}

/// Starts the hotline of a node on its agents.
pub(super) async fn start(
    config: &Config,
    store: Store,
    node: &crate::dialer::DialerNode,
    ua: crate::telephony::transport::UserAgent,
    numbers: BTreeMap<String, Arc<Menu>>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Hotline> {
    let desk = node
        .start_desk(&shutdown)
        .context("the hotline needs the node's agents")?;
    let hotline_config = HotlineConfig {
        node: node.name().to_string(),
        numbers,
        prompts_dir: PathBuf::from(&config.dialer.prompts_dir),
        recordings_dir: PathBuf::from(&config.dialer.recordings_dir),
    };
    let hotline = Hotline::start(
        store,
        ua,
        desk,
        Arc::new(crate::clock::SystemClock),
        hotline_config,
        Duration::from_secs(config.dialer.wrap_secs),
        shutdown,
    )
    .await?;
    Ok(hotline)
}
