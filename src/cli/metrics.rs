//! `huifang metrics --from DAY --to DAY [--by project|region|category|supplier] [--json]`

use std::process::ExitCode;

use anyhow::bail;
use chrono::{NaiveDate, Utc};
use clap::Args;

use super::output::json;
use crate::config::Config;
use crate::inbound::AnswerTarget;
use crate::metrics::{
    GroupBy, InboundReport, Period, compute, compute_inbound, figures_table, inbound_json,
};
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
    /// The inbound service level's threshold: answered within this many seconds of queueing
    /// (default: the `[[inbound]]` menus' `answer_within_secs`, the strictest, as the console
    /// takes it; 20 without a hotline).
    #[arg(long, value_name = "SECONDS")]
    answer_within: Option<i64>,
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
    let within = match args.answer_within {
        Some(secs) => secs,
        None => AnswerTarget::of_config(&config.inbound)?.secs,
    };
    let inbound = compute_inbound(&store, &period, within).await?;
    if args.json {
        let mut report = crate::metrics::report_json(args.from, args.to, args.by, now, &rows);
        report["inbound"] = inbound_json(&inbound);
        json(&report)?;
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
    print_inbound(&inbound);
    Ok(ExitCode::SUCCESS)
}

/// The hotline section: the total, then one line per local hour with calls.
fn print_inbound(r: &InboundReport) {
    println!(
        "inbound 400 hotline (service level: answered within {} s of queueing / offered)",
        r.answer_within_secs
    );
    let line = |label: &str, f: &crate::metrics::InboundFigures| {
        let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.0}%", 100.0 * v));
        let asa = f
            .average_speed_of_answer()
            .map_or("-".to_string(), |v| format!("{v:.1} s"));
        println!(
            "  {label:<6} offered {:>4}  answered {:>4}  abandoned in queue {:>4}  callback {:>4}  service level {:>4}  ASA {asa}",
            f.offered,
            f.answered,
            f.abandoned,
            f.callback_requests,
            pct(f.service_level()),
        );
    };
    line("all", &r.total);
    for (hour, f) in &r.by_hour {
        line(&format!("{hour:02}:00"), f);
    }
}
