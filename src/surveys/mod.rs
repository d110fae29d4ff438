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
//! A script is checked whole at load: every error names the node and the field (and the
//! line), and all of them are reported at once.

mod script;

pub use script::{ChoiceOption, Input, Node, Script, ScriptError, ScriptErrors, Step, load, parse};
