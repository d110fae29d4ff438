//! Keypad survey scripts (`campaigns/surveys/*.toml`): what an answered owner hears and
//! presses, as named nodes from `start` on.
//!
//! ```toml
//! start = "rating"
//! [nodes.rating]
//! kind = "rating"              # play | rating | choice | digits | transfer | record
//! prompts = ["rate-1-5"]       #   | opt_out | sms | hangup
//! max = 5
//! on = { "1-2" = "sorry", "3-5" = "thanks" }
//! [nodes.sorry]
//! kind = "transfer"
//! [nodes.thanks]
//! kind = "play"
//! prompts = ["thanks"]
//! next = "bye"
//! [nodes.bye]
//! kind = "hangup"
//! ```
//!
//! A `transfer` node's `next` is where the walk goes when no agent takes the call. At the top,
//! `rating = "NODE"` names the rating that decides a callback's ticket (default: the first
//! rating on the way from `start`), `satisfied = 4` and `unsatisfied = 2` where the verdicts
//! begin.
//!
//! A script is checked whole at load: every error names the node and the field (and the
//! line), and all of them are reported at once.

mod runner;
mod script;

pub use runner::{Answer, Answers, Heard, INTER_DIGIT, Keys, Line, Walked, Want, walk};
pub use script::{
    ChoiceOption, Input, Node, SATISFIED_AT, Script, ScriptError, ScriptErrors, Step,
    UNSATISFIED_AT, VerdictRule, load, parse,
};
