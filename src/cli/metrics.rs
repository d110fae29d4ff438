//! `huifang metrics --from DAY --to DAY [--by project|region|category|supplier] [--json]`

use std::process::ExitCode;

use anyhow::bail;
use chrono::{NaiveDate, Utc};
use clap::Args;

use super::output::json;
use crate::config::Config;
use crate::metrics::{GroupBy, Period, compute, figures_table};
use crate::tickets::sla::local_time;

/// Arguments of `metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// First day, China time (Asia/Shanghai).
    #[arg(long, value_name = "YYYY-MM-DD")]
    from: NaiveDate,
    /// Last day, China time, included.
    #[arg(long, value_name = "YYYY-MM-DD")]
    to: NaiveDate,
    /// One row per project, region, category or supplier, before the total ("all").
    #[arg(long, value_enum)]
    by: Option<GroupBy>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(config: &Config, args: MetricsArgs) -> anyhow::Result<ExitCode> {
    // Checked before the database is opened (or a SQLite file created) for nothing.
    if args.from > args.to {
        bail!("--from {} is after --to {}", args.from, args.to);
    }
    let period = Period::days(args.from, args.to)?;
    let store = super::open(config).await?;
    let now = Utc::now();
    let rows = compute(&store, &period, args.by, now).await?;
    if args.json {
        json(&crate::metrics::report_json(
            args.from, args.to, args.by, now, &rows,
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let by = args.by.map_or("total only", GroupBy::as_str);
    println!(
        "{} to {} (China time), by {by}; open deadlines judged at {}",
        args.from,
        args.to,
        local_time(now)
    );
    println!("{}", figures_table(args.by, &rows));
    Ok(ExitCode::SUCCESS)
}
