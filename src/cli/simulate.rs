//! `huifang simulate`: run the pacer on a simulated campaign and print what it achieved.

use std::process::ExitCode;

use clap::Args;

use super::output::{json, table};
use crate::pacing::{InboundConfig, PacingMode, SimConfig, SimReport, TalkShape, simulate};

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
    /// Hotline callers per hour on the same agents (Poisson arrivals); 0 for none.
    #[arg(long, default_value_t = 0.0)]
    inbound_per_hour: f64,
    /// Mean inbound handle time, seconds: talk plus the `--wrap` wrap-up [default: --talk
    /// plus --wrap, as an outbound call].
    #[arg(long)]
    inbound_handle: Option<f64>,
    /// Inbound service-level target the pacer protects, as a share answered within
    /// `--inbound-within` (0: unprotected).
    #[arg(long, default_value_t = 0.8)]
    inbound_target: f64,
    /// Seconds of the inbound service level.
    #[arg(long, default_value_t = 20.0)]
    inbound_within: f64,
    /// Mean seconds a queued caller waits before hanging up (exponential).
    #[arg(long, default_value_t = 120.0)]
    inbound_patience: f64,
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
    config.inbound = InboundConfig {
        per_hour: args.inbound_per_hour,
        handle_s: args.inbound_handle,
        service_target: args.inbound_target,
        answer_within_s: args.inbound_within,
        patience_s: args.inbound_patience,
    };
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
    let mut rows = vec![
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
    let i = &r.inbound;
    if i.offered > 0 {
        let level = i
            .service_level_pct
            .map_or_else(|| "-".to_owned(), |sl| format!("{sl:.1} %"));
        rows.extend([
            (
                "outbound / inbound occupancy",
                format!(
                    "{:.1} % / {:.1} %",
                    100.0 * r.outbound_occupancy,
                    100.0 * i.occupancy
                ),
            ),
            (
                "inbound offered / answered / abandoned in queue",
                format!("{} / {} / {}", i.offered, i.answered, i.abandoned),
            ),
            (
                "inbound service level",
                format!(
                    "{level} in {:.0} s (target {:.0} %)",
                    i.answer_within_s, i.service_target_pct
                ),
            ),
            (
                "inbound average speed of answer",
                format!("{:.1} s", i.asa_s),
            ),
        ]);
    }
    for (name, value) in rows {
        t.add_row(vec![name.to_owned(), value]);
    }
    t
}
