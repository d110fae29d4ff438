//! Tests of the pacers and of the simulator's invariants (deterministic, seeded; nothing timed).

use super::model::Forecast;
use super::pacer::{Feedback, predictive};
use super::stats::LogNormal;
use super::*;

fn estimates() -> Estimates {
    Estimates {
        answer_rate: 0.3,
        ring: LogNormal::with_mean(7.0, 0.5),
        talk: LogNormal::with_mean(120.0, 0.6),
        wrap_mean_s: 20.0,
    }
}

fn state(free: u32, busy: Vec<BusyAgent>, ringing: Vec<f64>) -> ObservedState {
    ObservedState {
        now_s: 100.0,
        logged_in: free + busy.len() as u32,
        free_agents: free,
        busy,
        ringing_ages_s: ringing,
        waiting_calls: 0,
        estimates: estimates(),
        abandon: AbandonWindow::default(),
        abandon_target: 0.03,
        connect_rule_s: 2.0,
        ring_timeout_s: 25.0,
        max_lines: 100,
    }
}

fn talking(n: usize, elapsed_s: f64) -> Vec<BusyAgent> {
    let agent = BusyAgent {
        phase: AgentPhase::Talk,
        elapsed_s,
    };
    vec![agent; n]
}

fn calls(mode: &str, s: &ObservedState) -> u32 {
    Pacer::new(mode.parse().expect("mode")).calls_to_place(s)
}

#[test]
fn modes_parse_and_print() {
    for text in [
        "preview",
        "progressive",
        "ratio:2",
        "predictive",
        "adaptive-heuristic",
    ] {
        assert_eq!(text.parse::<PacingMode>().expect(text).to_string(), text);
    }
    assert!(matches!(
        "ratio:0.5".parse::<PacingMode>(),
        Err(ModeError::BadRatio(_))
    ));
    assert!(matches!(
        "turbo".parse::<PacingMode>(),
        Err(ModeError::Unknown(_))
    ));
}

#[test]
fn nobody_free_and_nobody_soon_means_no_calls() {
    // Twenty agents ten seconds into 120-second talks: none is free within the ring time.
    let s = state(0, talking(20, 10.0), vec![]);
    assert_eq!(calls("predictive", &s), 0);
    assert_eq!(calls("progressive", &s), 0);
    assert_eq!(calls("ratio:2", &s), 0);
}

#[test]
fn progressive_dials_one_per_free_agent_not_yet_served() {
    assert_eq!(calls("progressive", &state(5, vec![], vec![])), 5);
    assert_eq!(calls("preview", &state(5, vec![], vec![])), 5);
    assert_eq!(calls("progressive", &state(5, vec![], vec![1.0, 2.0])), 3);
}

#[test]
fn ratio_dials_k_per_free_agent() {
    assert_eq!(calls("ratio:2", &state(4, vec![], vec![])), 8);
    assert_eq!(calls("ratio:3", &state(4, vec![], vec![1.0; 5])), 7);
}

#[test]
fn predictive_stays_under_the_cap_it_is_given() {
    let s = state(3, talking(10, 60.0), vec![2.0, 5.0, 9.0]);
    let forecast = Forecast::new(&s);
    let cap = Feedback::default().cap(&s);
    let n = predictive(&s, &Feedback::default());
    assert!(n >= 1, "three free agents: dial something ({n})");
    let added = |k: u32| forecast.expected_abandons(k) - forecast.expected_abandons(k - 1);
    for k in 1..=n {
        assert!(added(k) <= cap * 0.3, "dial {k} adds {}", added(k));
        assert!(forecast.abandon_share(k) <= cap);
    }
    assert!(added(n + 1) > cap * 0.3, "one more would break the cap");
}

#[test]
fn predictive_counts_agents_about_to_finish_their_wrap_up() {
    let wrapping = vec![
        BusyAgent {
            phase: AgentPhase::Wrap,
            elapsed_s: 18.5,
        };
        5
    ];
    // Free in 1.5 s, within the connect rule of any answer: as good as free now.
    let idle_soon = calls("predictive", &state(0, wrapping.clone(), vec![]));
    assert!(idle_soon >= 5, "{idle_soon}");
    // Free in 10 s: an answer before then would be abandoned, so wait.
    let later = wrapping
        .iter()
        .map(|a| BusyAgent {
            elapsed_s: 10.0,
            ..*a
        })
        .collect();
    assert!(calls("predictive", &state(0, later, vec![])) < idle_soon);
}

#[test]
fn feedback_tightens_when_measured_abandon_is_high() {
    let mut s = state(5, talking(10, 60.0), vec![]);
    s.abandon = AbandonWindow {
        answered: 1000,
        abandoned: 30,
    };
    let on_target = Feedback::default().cap(&s);
    let n_on_target = predictive(&s, &Feedback::default());
    s.abandon.abandoned = 60;
    let high = Feedback::default().cap(&s);
    assert!(high < on_target);
    assert!(predictive(&s, &Feedback::default()) <= n_on_target);
    s.abandon.abandoned = 0;
    assert!(Feedback::default().cap(&s) > on_target);
    assert!((on_target - 0.03).abs() < 1e-9);
}

#[test]
fn adaptive_raises_its_level_while_agents_wait() {
    let mut pacer = Pacer::new(PacingMode::AdaptiveHeuristic);
    let mut s = state(10, talking(10, 30.0), vec![]);
    let first = pacer.calls_to_place(&s);
    assert_eq!(first, 10, "level 1 at the start");
    for second in 1..=16 {
        s.now_s = 100.0 + f64::from(second);
        pacer.calls_to_place(&s);
    }
    s.now_s = 120.0;
    assert!(pacer.calls_to_place(&s) > 10);
}

fn quick(mode: &str, seed: u64) -> SimReport {
    let mut config = SimConfig::benchmark(mode.parse().expect("mode"), seed);
    config.hours = 1.0;
    simulate(&config).expect("valid")
}

#[test]
fn simulation_is_deterministic_for_a_seed() {
    assert_eq!(quick("predictive", 7), quick("predictive", 7));
    assert_ne!(quick("ratio:2", 7).dials, quick("ratio:2", 8).dials);
}

#[test]
fn simulation_invariants_hold() {
    for mode in ["progressive", "ratio:2", "predictive", "adaptive-heuristic"] {
        let r = quick(mode, 3);
        assert!(r.occupancy > 0.0 && r.occupancy <= 1.0, "{mode}: {r:?}");
        // Owners still waiting when the run stops are neither connected nor abandoned.
        let settled = r.connected + r.abandoned;
        assert!(
            settled <= r.human_answers && r.human_answers - settled <= 20,
            "{mode}: {r:?}"
        );
        let share = 100.0 * r.abandoned as f64 / r.human_answers as f64;
        assert!((r.abandon_pct - share).abs() < 1e-9, "{mode}: {r:?}");
        assert!(r.worst_hour_abandon_pct >= r.abandon_pct - 1e-9);
        assert!(r.wait_p50_s <= r.wait_p95_s && r.wait_p95_s <= 2.0);
    }
}

#[test]
fn progressive_never_abandons() {
    let r = quick("progressive", 11);
    assert!(r.human_answers > 100);
    assert_eq!(r.abandoned, 0);
    assert_eq!(r.wait_p95_s, 0.0);
}

#[test]
fn bad_settings_are_refused() {
    let mut config = SimConfig::benchmark(PacingMode::Predictive, 1);
    config.answer_rate = 0.0;
    assert!(matches!(simulate(&config), Err(SimError::Invalid(_))));
}
