//! `huifang simulate`: run the pacer on a simulated campaign and print what it achieved.

use std::process::ExitCode;

use clap::Args;

use super::output::{json, table};
use crate::pacing::{PacingMode, SimConfig, SimReport, TalkShape, simulate};

/// Arguments of `simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Agents logged in.
    #[arg(long, default_value_t = 20)]
    agents: u32,
    /// Human-answer probability of a dial.
    #[arg(long, default_value_t = 0.3)]
    answer_rate: f64,
    /// Answering-machine probability of a dial (kept out of the abandon share).
    #[arg(long, default_value_t = 0.0)]
    machine_rate: f64,
    /// Mean talk time, seconds.
    #[arg(long, default_value_t = 120.0)]
    talk: f64,
    /// Talk-time distribution.
    #[arg(long, value_enum, default_value_t = TalkShape::Lognormal)]
    talk_shape: TalkShape,
    /// Wrap-up time, seconds.
    #[arg(long, default_value_t = 20.0)]
    wrap: f64,
    /// Mean delay from dial to answer, seconds.
    #[arg(long, default_value_t = 7.0)]
    ring: f64,
    /// Ring time-out, seconds.
    #[arg(long, default_value_t = 25.0)]
    ring_timeout: f64,
    /// Simulated hours.
    #[arg(long, default_value_t = 8.0)]
    hours: f64,
    /// preview, progressive, ratio:K, predictive or adaptive-heuristic.
    #[arg(long, default_value = "predictive")]
    mode: PacingMode,
    /// Abandon cap, percent of human answers.
    #[arg(long, default_value_t = 3.0)]
    abandon_target: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the simulation and prints its report.
pub(super) fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let mut config = SimConfig::benchmark(args.mode, args.seed);
    config.agents = args.agents;
    config.answer_rate = args.answer_rate;
    config.machine_rate = args.machine_rate;
    config.talk_s = args.talk;
    config.talk_shape = args.talk_shape;
    config.wrap_s = args.wrap;
    config.ring_mean_s = args.ring;
    config.ring_timeout_s = args.ring_timeout;
    config.hours = args.hours;
    config.abandon_target = args.abandon_target / 100.0;
    let report = simulate(&config)?;
    if args.json {
        json(&report)?;
    } else {
        println!("{}", report_table(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn report_table(r: &SimReport) -> comfy_table::Table {
    let mut t = table(&["measure", "value"]);
    let rows = [
        ("mode", r.mode.clone()),
        ("agents × hours", format!("{} × {:.1}", r.agents, r.hours)),
        ("agent occupancy", format!("{:.1} %", 100.0 * r.occupancy)),
        ("abandon (run)", format!("{:.2} %", r.abandon_pct)),
        (
            "abandon (worst hour)",
            format!("{:.2} %", r.worst_hour_abandon_pct),
        ),
        (
            "contacts per agent-hour",
            format!("{:.2}", r.contacts_per_agent_hour),
        ),
        (
            "owner wait p50 / p95",
            format!("{:.2} s / {:.2} s", r.wait_p50_s, r.wait_p95_s),
        ),
        ("dials per hour", format!("{:.0}", r.dials_per_hour)),
        (
            "dials / human answers / abandoned",
            format!("{} / {} / {}", r.dials, r.human_answers, r.abandoned),
        ),
        (
            "learned answer rate",
            format!("{:.3}", r.learned_answer_rate),
        ),
    ];
    for (name, value) in rows {
        t.add_row(vec![name.to_owned(), value]);
    }
    t
}
