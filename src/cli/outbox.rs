//! `huifang outbox run|list|show|retry|replies`: the message worker and what it did.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use clap::Subcommand;

use super::output::{json, table};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::outbox::{self, delivery, inbound, worker::Worker};
use crate::store::Store;

/// The outbox subcommands.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Send queued SMS and email through the gateways of huifang.toml ([sms.smpp] or
    /// [sms.http], [email]); record receipts, replies and opt-outs. Runs until Ctrl-C or
    /// SIGTERM.
    Run {
        /// This worker's name in leases (default: `HOST:outbox`); keep it stable across restarts
        /// and different for every worker running at once.
        #[arg(long)]
        node: Option<String>,
        /// Stop once nothing is due and no receipt is awaited.
        #[arg(long)]
        until_idle: bool,
        /// With --until-idle, give up waiting after this many seconds.
        #[arg(long, default_value_t = 300)]
        patience: u64,
    },
    /// The latest messages.
    List {
        /// Only this state (queued, sent, delivered, failed, unknown, suppressed, ...).
        #[arg(long)]
        state: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One message, whole.
    Show {
        /// Its id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send a failed or unknown message again, on purpose (it may reach the owner twice).
    Retry {
        /// Its id.
        id: i64,
    },
    /// The latest SMS replies and unsubscribe clicks, with what was done.
    Replies {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

impl OutboxCommand {
    /// Whether this command only prints a report (see `Command::prints_a_report`).
    pub fn prints_a_report(&self) -> bool {
        !matches!(self, OutboxCommand::Run { .. })
    }
}

pub(crate) async fn run(
    config: &Config,
    store: Store,
    command: OutboxCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        OutboxCommand::Run {
            node,
            until_idle,
            patience,
        } => {
            // Not the dialer node's name: `campaign run` has an outbox worker of its own under
            // that name, and two live workers must never share one.
            let node = node.unwrap_or_else(|| {
                let base = config
                    .dialer
                    .node
                    .clone()
                    .unwrap_or_else(super::campaign::host_name);
                format!("{base}:outbox")
            });
            let worker = Arc::new(Worker::new(store, Arc::new(SystemClock), &node, config)?);
            if worker.channels().is_empty() {
                bail!(
                    "no gateway configured: add [sms.smpp] or [sms.http], and/or [email], to \
                     huifang.toml"
                );
            }
            eprintln!(
                "outbox worker `{node}` sending {}",
                worker
                    .channels()
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            );
            if until_idle {
                worker.drain(Duration::from_secs(patience)).await?;
            } else {
                let (stop, stopped) = tokio::sync::watch::channel(false);
                tokio::spawn(async move {
                    super::stop_requested().await;
                    eprintln!("stopping: messages being sent finish, no new ones are taken");
                    let _ = stop.send(true);
                });
                worker.run(stopped).await?;
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::List {
            state,
            limit,
            json: as_json,
        } => {
            let rows = outbox::recent(&store, state.as_deref(), limit.clamp(1, 10_000)).await?;
            if as_json {
                json(&rows)?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = table(&[
                "#",
                "channel",
                "to",
                "purpose",
                "state",
                "tries",
                "provider id",
                "error",
            ]);
            for m in &rows {
                t.add_row(vec![
                    m.message_id.to_string(),
                    m.channel.to_string(),
                    m.recipient.clone(),
                    m.purpose.clone(),
                    m.state.to_string(),
                    m.attempts.to_string(),
                    m.provider_id.clone().unwrap_or_default(),
                    m.last_error.clone().unwrap_or_default(),
                ]);
            }
            println!("{t}");
            for (channel, state, n) in outbox::counts(&store, None).await? {
                println!("{channel} {state}: {n}");
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Show { id, json: as_json } => {
            let Some(m) = outbox::get(&store, id).await? else {
                eprintln!("no message {id}");
                return Ok(ExitCode::from(1));
            };
            if as_json {
                json(&m)?;
            } else {
                println!(
                    "message {} ({}) to {}: {}",
                    m.message_id, m.channel, m.recipient, m.state
                );
                println!(
                    "purpose {}, {} tries, queued {}",
                    m.purpose, m.attempts, m.created_at
                );
                if let Some(at) = m.sent_at {
                    println!(
                        "sent {at}, provider id {}",
                        m.provider_id.as_deref().unwrap_or("-")
                    );
                }
                if let Some(at) = m.ended_at {
                    println!("final at {at}");
                }
                if let Some(e) = &m.last_error {
                    println!("error: {e}");
                }
                println!("\n{}", m.body);
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Retry { id } => {
            if delivery::retry(&store, id, chrono::Utc::now()).await? {
                println!("message {id} is queued again");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("message {id} is not failed or unknown (see huifang outbox show {id})");
                Ok(ExitCode::from(1))
            }
        }
        OutboxCommand::Replies {
            limit,
            json: as_json,
        } => {
            let rows = inbound::recent(&store, limit.clamp(1, 10_000)).await?;
            if as_json {
                json(&rows)?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = table(&[
                "#", "channel", "from", "text", "received", "action", "detail",
            ]);
            for r in &rows {
                t.add_row(vec![
                    r.inbound_id.to_string(),
                    r.channel.clone(),
                    r.sender.clone(),
                    r.body.clone(),
                    r.received_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    r.action.clone(),
                    r.detail.clone(),
                ]);
            }
            println!("{t}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
