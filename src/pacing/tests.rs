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
        inbound: InboundLoad::default(),
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

fn hotline(per_hour: f64, on_inbound: u32, waiting: u32) -> InboundLoad {
    InboundLoad {
        waiting,
        on_inbound,
        arrivals_per_s: per_hour / 3600.0,
        handle_s: 180.0,
        service_target: 0.8,
        answer_within_s: 20.0,
    }
}

#[test]
fn no_hotline_leaves_the_state_untouched() {
    let s = state(3, talking(10, 60.0), vec![2.0, 5.0]);
    assert!(matches!(
        reserve::for_outbound(&s),
        std::borrow::Cow::Borrowed(_)
    ));
    // A target with nobody calling holds back nothing either.
    let mut quiet = s.clone();
    quiet.inbound = hotline(0.0, 0, 0);
    assert_eq!(reserve::Holdback::of(&quiet).total(), 0);
    for mode in ["progressive", "ratio:2", "predictive", "adaptive-heuristic"] {
        assert_eq!(calls(mode, &quiet), calls(mode, &s), "{mode}");
    }
}

#[test]
fn queued_callers_take_free_agents_first() {
    let mut s = state(5, talking(10, 60.0), vec![]);
    let before =
        ["progressive", "ratio:2", "predictive", "adaptive-heuristic"].map(|m| calls(m, &s));
    s.inbound = InboundLoad {
        waiting: 2,
        ..InboundLoad::default()
    };
    let after =
        ["progressive", "ratio:2", "predictive", "adaptive-heuristic"].map(|m| calls(m, &s));
    assert_eq!((after[0], after[1]), (3, 6));
    for (b, a) in before.iter().zip(&after) {
        assert!(a < b, "{before:?} -> {after:?}");
    }
}

#[test]
fn queued_callers_take_the_agents_about_to_be_free() {
    // Nobody free, five agents 1.5 s from the end of their wrap-up: the predictive model would
    // dial for them, but two callers queued will take the first two.
    let wrapping = vec![
        BusyAgent {
            phase: AgentPhase::Wrap,
            elapsed_s: 18.5,
        };
        5
    ];
    let mut s = state(0, wrapping, vec![]);
    let alone = calls("predictive", &s);
    s.inbound.waiting = 2;
    let out = reserve::for_outbound(&s);
    assert_eq!((out.free_agents, out.busy.len()), (0, 3));
    let blended = calls("predictive", &s);
    assert!(blended < alone, "{alone} -> {blended}");
}

#[test]
fn the_reserve_grows_with_the_arrival_rate_and_shrinks_with_agents_on_calls() {
    let reserve = |per_hour: f64, on_inbound: u32| {
        let mut s = state(20, vec![], vec![]);
        s.inbound = hotline(per_hour, on_inbound, 0);
        reserve::Holdback::of(&s).reserve
    };
    let grows: Vec<u32> = [10.0, 60.0, 120.0, 240.0].map(|r| reserve(r, 0)).to_vec();
    assert!(grows.windows(2).all(|w| w[0] < w[1]), "{grows:?}");
    // 60 calls an hour of 180 s need 5 agents by Erlang C (80 % in 20 s).
    assert_eq!(reserve(60.0, 0), 5);
    assert_eq!(reserve(60.0, 3), 2);
    assert_eq!(reserve(60.0, 7), 0);
    let mut unprotected = state(20, vec![], vec![]);
    unprotected.inbound = InboundLoad {
        service_target: 0.0,
        ..hotline(60.0, 0, 0)
    };
    assert_eq!(reserve::Holdback::of(&unprotected).total(), 0);
}

#[test]
fn the_reserve_keeps_free_agents_idle_in_every_mode() {
    let mut s = state(10, talking(10, 60.0), vec![]);
    let before = ["progressive", "ratio:2", "predictive"].map(|m| calls(m, &s));
    s.inbound = hotline(60.0, 3, 0); // a reserve of 2
    assert_eq!(calls("progressive", &s), 8);
    assert_eq!(calls("ratio:2", &s), 16);
    assert!(calls("predictive", &s) < before[2], "{before:?}");
    // The reserve does not touch the busy agents the model counts on.
    let out = reserve::for_outbound(&s);
    assert_eq!((out.free_agents, out.busy.len()), (8, 10));
}

fn blended(mode: &str, seed: u64, target: f64) -> SimReport {
    let mut config = SimConfig::benchmark(mode.parse().expect("mode"), seed);
    config.hours = 2.0;
    config.inbound = InboundConfig {
        per_hour: 60.0,
        handle_s: Some(180.0),
        service_target: target,
        ..InboundConfig::default()
    };
    simulate(&config).expect("valid")
}

#[test]
fn a_simulated_hotline_is_served_first_and_measured() {
    let r = blended("predictive", 5, 0.8);
    assert_eq!(r, blended("predictive", 5, 0.8));
    let i = &r.inbound;
    assert!(i.offered > 80, "{i:?}");
    assert_eq!(
        i.offered,
        i.answered + i.abandoned + i.still_waiting,
        "{i:?}"
    );
    assert!(i.answered_within <= i.answered && i.abandoned_after <= i.abandoned);
    let sl = i.service_level_pct.expect("callers settled");
    assert!(sl >= 80.0, "{i:?}");
    let direct = 100.0 * i.answered_within as f64 / (i.answered + i.abandoned_after) as f64;
    assert!((sl - direct).abs() < 1e-9);
    assert!((r.occupancy - r.outbound_occupancy - i.occupancy).abs() < 1e-9);
    assert!(r.abandon_pct <= 3.0 + 1.0, "{r:?}");
    // The same seed brings the same callers whatever the mode.
    assert_eq!(blended("progressive", 5, 0.8).inbound.offered, i.offered);
}

#[test]
fn no_hotline_is_reported_as_none() {
    let r = quick("predictive", 7);
    assert_eq!(r.inbound.offered, 0);
    assert_eq!(r.inbound.service_level_pct, None);
    assert_eq!(r.outbound_occupancy, r.occupancy);
}

#[test]
fn bad_hotline_settings_are_refused() {
    let mut config = SimConfig::benchmark(PacingMode::Predictive, 1);
    config.inbound.handle_s = Some(config.wrap_s);
    assert!(matches!(simulate(&config), Err(SimError::Invalid(_))));
    config.inbound = InboundConfig {
        service_target: 1.0,
        ..InboundConfig::default()
    };
    assert!(matches!(simulate(&config), Err(SimError::Invalid(_))));
}
