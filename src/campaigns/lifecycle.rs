//! The campaign life cycle: draft → scheduled → running ⇄ paused → completed | stopped.
//!
//! Pure rules (no database): which [`Action`] is allowed in which [`State`], and where it
//! leads. The repository ([`super::repo`]) writes the new state and its event row together.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Where a campaign is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Created, contacts loaded; nothing is dialled.
    Draft,
    /// Waits for its start time; then the dialer starts it by itself.
    Scheduled,
    /// The dialer works it.
    Running,
    /// Held by a supervisor: no new calls; calls in progress finish.
    Paused,
    /// Every contact reached a final outcome (set by the dialer).
    Completed,
    /// Ended by a supervisor before completion; never resumed.
    Stopped,
}

/// A step in the life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Draft → scheduled (with a start time).
    Schedule,
    /// Draft or scheduled → running.
    Start,
    /// Running → paused.
    Pause,
    /// Paused → running.
    Resume,
    /// Any live state → stopped.
    Stop,
    /// Running → completed, when nothing is left to dial.
    Complete,
}

/// A step that the current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a campaign that is {state}; allowed now: {allowed}")]
pub struct TransitionError {
    /// The step asked for.
    pub action: Action,
    /// The state it was asked in.
    pub state: State,
    /// The steps that are allowed, comma-separated (`none` for a finished campaign).
    pub allowed: String,
}

impl State {
    /// Every state, in life order.
    pub const ALL: [State; 6] = [
        State::Draft,
        State::Scheduled,
        State::Running,
        State::Paused,
        State::Completed,
        State::Stopped,
    ];

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Scheduled => "scheduled",
            State::Running => "running",
            State::Paused => "paused",
            State::Completed => "completed",
            State::Stopped => "stopped",
        }
    }

    /// Whether the campaign can still change (not completed or stopped).
    pub fn is_live(self) -> bool {
        !matches!(self, State::Completed | State::Stopped)
    }

    /// Where `action` leads from here, or why it may not be taken.
    pub fn apply(self, action: Action) -> Result<State, TransitionError> {
        self.target(action).ok_or_else(|| TransitionError {
            action,
            state: self,
            allowed: self.allowed_list(),
        })
    }

    fn target(self, action: Action) -> Option<State> {
        use Action as A;
        use State as S;
        match (self, action) {
            (S::Draft, A::Schedule) => Some(S::Scheduled),
            (S::Draft | S::Scheduled, A::Start) => Some(S::Running),
            (S::Running, A::Pause) => Some(S::Paused),
            (S::Paused, A::Resume) => Some(S::Running),
            (S::Running, A::Complete) => Some(S::Completed),
            (S::Draft | S::Scheduled | S::Running | S::Paused, A::Stop) => Some(S::Stopped),
            _ => None,
        }
    }

    fn allowed_list(self) -> String {
        let allowed: Vec<&str> = Action::ALL
            .iter()
            .filter(|a| self.target(**a).is_some())
            .map(|a| a.as_str())
            .collect();
        if allowed.is_empty() {
            "none".into()
        } else {
            allowed.join(", ")
        }
    }
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 6] = [
        Action::Schedule,
        Action::Start,
        Action::Pause,
        Action::Resume,
        Action::Stop,
        Action::Complete,
    ];

    /// The stored (and CLI) word.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Schedule => "schedule",
            Action::Start => "start",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Stop => "stop",
            Action::Complete => "complete",
        }
    }
}

/// A stored state word that is not one of ours (a damaged row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown campaign state `{0}`")]
pub struct UnknownState(pub String);

impl FromStr for State {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<State, UnknownState> {
        State::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_string()))
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_life_cycle_allows_only_its_steps() {
        assert_eq!(State::Draft.apply(Action::Schedule), Ok(State::Scheduled));
        assert_eq!(State::Scheduled.apply(Action::Start), Ok(State::Running));
        assert_eq!(State::Running.apply(Action::Pause), Ok(State::Paused));
        assert_eq!(State::Paused.apply(Action::Resume), Ok(State::Running));
        assert_eq!(State::Running.apply(Action::Complete), Ok(State::Completed));
        assert_eq!(State::Paused.apply(Action::Stop), Ok(State::Stopped));
        let refused = State::Paused.apply(Action::Pause).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "cannot pause a campaign that is paused; allowed now: resume, stop"
        );
        let finished = State::Completed.apply(Action::Start).unwrap_err();
        assert_eq!(finished.allowed, "none");
        assert!(State::Stopped.apply(Action::Resume).is_err());
        assert!(State::Paused.apply(Action::Complete).is_err());
    }

    #[test]
    fn states_round_trip_through_their_words() {
        for state in State::ALL {
            assert_eq!(state.as_str().parse::<State>(), Ok(state));
        }
        assert!("gone".parse::<State>().is_err());
    }
}
