//! How often a flood of bad input may write to the log: a few lines a second, then one line
//! saying how many were left out. Every item is still counted (the node's metric), so a
//! stranger sending garbage fills neither the disk nor hides from the operator.

use std::time::{Duration, Instant};

/// Lines logged per window at most.
pub(super) const LINES_PER_WINDOW: u32 = 5;
/// The window.
pub(super) const WINDOW: Duration = Duration::from_secs(1);

/// Whether to log this item, and how many the log left out before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admit {
    /// Log it; `suppressed` items were counted but not logged since the last line.
    Log { suppressed: u64 },
    /// Count it, do not log it.
    Quiet,
}

/// A per-window budget of log lines (sans-IO: the caller passes the time).
#[derive(Debug, Clone)]
pub(super) struct LogBudget {
    window_start: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl Default for LogBudget {
    fn default() -> LogBudget {
        LogBudget::new()
    }
}

impl LogBudget {
    /// A budget with nothing spent.
    pub(super) fn new() -> LogBudget {
        LogBudget {
            window_start: None,
            logged: 0,
            suppressed: 0,
        }
    }

    /// One more item at `now`.
    pub(super) fn admit(&mut self, now: Instant) -> Admit {
        let fresh = self
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= WINDOW);
        if fresh {
            self.window_start = Some(now);
            self.logged = 0;
        }
        if self.logged < LINES_PER_WINDOW {
            self.logged += 1;
            let suppressed = std::mem::take(&mut self.suppressed);
            Admit::Log { suppressed }
        } else {
            self.suppressed += 1;
            Admit::Quiet
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_logs_a_few_lines_a_second_and_says_what_it_left_out() {
        let t0 = Instant::now();
        let mut budget = LogBudget::new();
        let mut logged = 0;
        // 20,000 items within one second: five lines.
        for i in 0..20_000u64 {
            let at = t0 + Duration::from_micros(i * 40);
            if matches!(budget.admit(at), Admit::Log { .. }) {
                logged += 1;
            }
        }
        assert_eq!(logged, LINES_PER_WINDOW);
        // The next window's first line carries the count of what was left out.
        assert_eq!(
            budget.admit(t0 + WINDOW + Duration::from_millis(1)),
            Admit::Log {
                suppressed: 20_000 - u64::from(LINES_PER_WINDOW)
            }
        );
        assert_eq!(
            budget.admit(t0 + WINDOW + Duration::from_millis(2)),
            Admit::Log { suppressed: 0 }
        );
    }

    #[test]
    fn a_trickle_is_logged_in_full() {
        let t0 = Instant::now();
        let mut budget = LogBudget::new();
        for i in 0..100u64 {
            let at = t0 + Duration::from_millis(i * 300);
            assert_eq!(budget.admit(at), Admit::Log { suppressed: 0 }, "item {i}");
        }
    }
}
