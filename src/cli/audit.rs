//! `huifang audit`: search the audit log, newest first.

use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;

use super::output::{json, table};
use crate::audit::{AuditAction, AuditFilter, AuditLog};
use crate::store::Store;

/// Arguments of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only rows of this actor (a username, or `cli:USER`).
    #[arg(long)]
    actor: Option<String>,
    /// Only this action (`login.failed`, `owner.lookup`, `ticket.change`, `campaign.step`, ...).
    #[arg(long)]
    action: Option<AuditAction>,
    /// Only rows since this day (YYYY-MM-DD, UTC) or instant (RFC 3339).
    #[arg(long, value_parser = parse_since)]
    since: Option<DateTime<Utc>>,
    /// At most this many rows.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    limit: i64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        .map_err(|_| format!("`{text}`: expected YYYY-MM-DD or an RFC 3339 instant"))
}

pub(crate) async fn run(store: &Store, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let filter = AuditFilter {
        actor: args.actor,
        action: args.action,
        since: args.since,
        limit: Some(args.limit),
    };
    let rows = AuditLog::new(store)
        .search(&filter)
        .await
        .context("cannot read the audit log")?;
    if args.json {
        json(&rows)?;
    } else {
        let mut t = table(&["at", "actor", "action", "target", "from", "detail"]);
        for r in &rows {
            t.add_row(vec![
                r.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.actor.clone(),
                r.action.to_string(),
                r.target.clone(),
                r.address.clone(),
                r.detail.clone(),
            ]);
        }
        println!("{t}\n{} row(s)", rows.len());
    }
    Ok(ExitCode::SUCCESS)
}
