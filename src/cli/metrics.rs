//! `huifang metrics --from DAY --to DAY [--by project|region|category|supplier] [--json]`

use std::process::ExitCode;

use anyhow::bail;
use chrono::{NaiveDate, Utc};
use clap::Args;

use super::output::{json, table};
use crate::config::Config;
use crate::metrics::{Figures, GroupBy, Period, compute};
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

/// The figures as a table, one row per group (also printed by the demo).
pub(crate) fn figures_table(by: Option<GroupBy>, rows: &[(String, Figures)]) -> comfy_table::Table {
    let mut t = table(&[
        by.map_or("group", GroupBy::as_str),
        "关闭率 closure",
        "一次满意度 first-contact",
        "rating avg",
        "ratings 1/2/3/4/5",
        "及时率 reply",
        "及时率 on site",
        "升级率 escalation",
        "callbacks tried/conn/done",
        "接通率 connect",
        "survey completion",
        "abandon",
    ]);
    for (group, f) in rows {
        t.add_row(vec![
            group.clone(),
            rate(f.closed, f.completed),
            rate(f.first_satisfied, f.first_rated),
            f.average_rating()
                .map_or_else(|| "-".to_string(), |avg| format!("{avg:.2}")),
            f.ratings.map(|n| n.to_string()).join("/"),
            rate(f.ack_in_time, f.ack_measured),
            rate(f.onsite_in_time, f.onsite_measured),
            rate(f.escalated, f.opened),
            format!(
                "{}/{}/{}",
                f.callbacks_attempted, f.callbacks_connected, f.callbacks_completed
            ),
            rate(f.callbacks_connected, f.callbacks_attempted),
            rate(f.callbacks_completed, f.callbacks_connected),
            rate(f.abandoned, f.answered),
        ]);
    }
    t
}

/// `67% (2/3)`, or `-` when there is nothing to divide by.
fn rate(part: i64, whole: i64) -> String {
    if whole == 0 {
        return "-".to_string();
    }
    format!(
        "{:.0}% ({part}/{whole})",
        100.0 * part as f64 / whole as f64
    )
}
