//! Erlang C: how many agents a queue of callers needs to meet a service level.
//!
//! Callers arrive as a Poisson stream at `λ` a second and hold an agent for an exponential time
//! of mean `h` seconds (talk plus wrap-up), so the offered load is `A = λ·h` Erlangs. With `N`
//! agents and an infinite queue served first come, first served (M/M/N), for `N > A`:
//!
//! ```text
//!   P(wait) = C(N, A) = N·B(N, A) / (N − A·(1 − B(N, A)))
//!   SL(t)   = P(wait ≤ t) = 1 − C(N, A) · exp(−(N − A)·t / h)
//! ```
//!
//! where `B` is Erlang B, computed by its recursion `B(0) = 1`, `B(k) = A·B(k−1) / (k + A·B(k−1))`
//! (no factorials or powers, so no overflow at hundreds of agents). For `N ≤ A` the queue grows
//! without bound: everyone waits and the service level is 0.
//!
//! Erlang C ignores callers who hang up while waiting (Erlang A would count them), so it asks
//! for a little more than a queue with impatient callers needs: on the safe side for a reserve.

/// Erlang B, the blocking probability of `agents` servers offered `load` Erlangs (no queue).
pub fn erlang_b(agents: u32, load: f64) -> f64 {
    if load <= 0.0 {
        return if agents == 0 { 1.0 } else { 0.0 };
    }
    (1..=agents).fold(1.0, |b, k| load * b / (f64::from(k) + load * b))
}

/// Erlang C, the chance that a caller has to wait at all, for `agents` agents offered `load`
/// Erlangs (1 when `agents ≤ load`, 0 when nothing is offered).
pub fn erlang_c(agents: u32, load: f64) -> f64 {
    if load <= 0.0 {
        return 0.0;
    }
    let n = f64::from(agents);
    if n <= load {
        return 1.0;
    }
    let b = erlang_b(agents, load);
    (n * b / (n - load * (1.0 - b))).clamp(0.0, 1.0)
}

/// The service level: the share of callers answered within `within_s` seconds, for `agents`
/// agents, `load` Erlangs offered and a mean handle time of `handle_s` seconds.
pub fn service_level(agents: u32, load: f64, handle_s: f64, within_s: f64) -> f64 {
    if load <= 0.0 {
        return 1.0;
    }
    let n = f64::from(agents);
    if n <= load || handle_s <= 0.0 {
        return 0.0;
    }
    let wait = erlang_c(agents, load);
    1.0 - wait * (-(n - load) * within_s.max(0.0) / handle_s).exp()
}

/// The fewest agents (at most `max_agents`) whose service level for callers arriving at
/// `arrivals_per_s` with a mean handle of `handle_s` seconds is at least `target` within
/// `within_s` seconds; `max_agents` when even those do not reach it. Nothing offered or no
/// target (`target ≤ 0`) needs no agent.
pub fn agents_needed(
    arrivals_per_s: f64,
    handle_s: f64,
    target: f64,
    within_s: f64,
    max_agents: u32,
) -> u32 {
    let load = arrivals_per_s * handle_s;
    if target <= 0.0 || !load.is_finite() || load <= 0.0 {
        return 0;
    }
    let first = (load.floor() as u32).saturating_add(1).min(max_agents);
    (first..=max_agents)
        .find(|&n| service_level(n, load, handle_s, within_s) >= target)
        .unwrap_or(max_agents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_textbook_example() {
        // 10 Erlangs (200 calls an hour × 180 s), 12 agents, 80/20 target: P(wait) = 0.4494,
        // SL = 1 − 0.4494·e^(−2·20/180) = 0.640. 13 agents reach 0.796, 14 agents 0.888.
        assert!((erlang_c(12, 10.0) - 0.4494).abs() < 5e-4);
        assert!((service_level(12, 10.0, 180.0, 20.0) - 0.640).abs() < 5e-4);
        assert!((service_level(13, 10.0, 180.0, 20.0) - 0.796).abs() < 5e-4);
        assert!((service_level(14, 10.0, 180.0, 20.0) - 0.888).abs() < 5e-4);
        assert_eq!(agents_needed(200.0 / 3600.0, 180.0, 0.8, 20.0, 100), 14);
    }

    #[test]
    fn the_benchmark_hotline_needs_five_agents() {
        // 60 calls an hour × 180 s = 3 Erlangs: 4 agents answer 54.4 % in 20 s, 5 agents 81.1 %.
        assert!((service_level(4, 3.0, 180.0, 20.0) - 0.544).abs() < 5e-4);
        assert!((service_level(5, 3.0, 180.0, 20.0) - 0.811).abs() < 5e-4);
        assert_eq!(agents_needed(60.0 / 3600.0, 180.0, 0.8, 20.0, 20), 5);
    }

    #[test]
    fn erlang_b_agrees_with_the_closed_form() {
        // B(2, 1) = (1/2) / (1 + 1 + 1/2) = 0.2.
        assert!((erlang_b(2, 1.0) - 0.2).abs() < 1e-12);
        // Hundreds of agents do not overflow.
        let c = erlang_c(500, 480.0);
        assert!(c > 0.0 && c < 1.0, "{c}");
    }

    #[test]
    fn edges() {
        assert_eq!(erlang_c(3, 0.0), 0.0);
        assert_eq!(erlang_c(3, 3.0), 1.0);
        assert_eq!(service_level(3, 4.0, 180.0, 20.0), 0.0);
        assert_eq!(service_level(0, 0.0, 180.0, 20.0), 1.0);
        assert_eq!(agents_needed(0.0, 180.0, 0.8, 20.0, 20), 0);
        assert_eq!(agents_needed(0.1, 180.0, 0.0, 20.0, 20), 0);
        // 18 Erlangs on 20 agents cannot reach 99 % in 1 s: everyone is asked for.
        assert_eq!(agents_needed(0.1, 180.0, 0.99, 1.0, 20), 20);
        assert_eq!(agents_needed(1.0, 180.0, 0.8, 20.0, 20), 20);
    }

    #[test]
    fn more_callers_need_more_agents() {
        let needed = |per_hour: f64| agents_needed(per_hour / 3600.0, 180.0, 0.8, 20.0, 1000);
        let counts: Vec<u32> = [10.0, 60.0, 120.0, 600.0].map(needed).to_vec();
        assert!(counts.windows(2).all(|w| w[0] < w[1]), "{counts:?}");
    }
}
