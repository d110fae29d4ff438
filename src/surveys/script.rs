//! The survey script model: a [`Script`] of named [`Node`]s, each one [`Step`]. Reading a
//! script's text and checking it whole (the verdict rule, reachability) is [`check`]'s.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

mod check;

pub use check::{load, parse};

/// Default rating at or above which a callback's owner is satisfied (of 5).
pub const SATISFIED_AT: u8 = 4;
/// Default rating at or below which a callback's owner is unsatisfied (of 5).
pub const UNSATISFIED_AT: u8 = 2;

/// A validated script.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The first node.
    pub start: String,
    /// Every node by name.
    pub nodes: BTreeMap<String, Node>,
    /// How the satisfaction rating is read for the ticket.
    pub verdict: VerdictRule,
}

/// Which answer decides a callback's ticket, and where satisfied and unsatisfied begin
/// (`rating`, `satisfied`, `unsatisfied` at the top of a script).
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictRule {
    /// The rating node (default: the first rating node on the way from `start`).
    pub node: Option<String>,
    /// A rating at or above this closes the ticket.
    pub satisfied: u8,
    /// A rating at or below this reopens and escalates it.
    pub unsatisfied: u8,
}

impl Script {
    /// The nodes `name` may lead to, in script order (`next` last).
    pub fn successors(&self, name: &str) -> Vec<&str> {
        let Some(node) = self.nodes.get(name) else {
            return Vec::new();
        };
        let mut out: Vec<&str> = match &node.step {
            Step::Rating { on, .. } => on.iter().map(|(_, to)| to.as_str()).collect(),
            Step::Choice { options, .. } => {
                options.values().filter_map(|o| o.next.as_deref()).collect()
            }
            _ => Vec::new(),
        };
        out.extend(node.next.as_deref());
        out
    }

    /// Every prompt the script may play (node prompts, `invalid` and `missing`), once each.
    pub fn prompt_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for node in self.nodes.values() {
            names.extend(node.prompts.iter().cloned());
            match &node.step {
                Step::Rating { input, .. }
                | Step::Choice { input, .. }
                | Step::Digits { input, .. } => {
                    names.extend(input.invalid.iter().cloned());
                    names.extend(input.missing.iter().cloned());
                }
                // No keys, so no invalid or missing prompts (a new kind must be placed here).
                Step::Play
                | Step::Transfer
                | Step::Record { .. }
                | Step::OptOut
                | Step::Sms { .. }
                | Step::Hangup => {}
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// Whether a question (rating, choice, digits, record) is still ahead from `name`, itself
    /// included: a survey cut off where none is ahead is complete.
    pub fn question_ahead(&self, name: &str) -> bool {
        self.walk_from(name)
            .any(|(_, node)| node.step.is_question())
    }

    /// Every node reachable from `name` (itself first), breadth first.
    fn walk_from<'s>(&'s self, name: &str) -> impl Iterator<Item = (&'s str, &'s Node)> + 's {
        let mut seen = BTreeSet::new();
        let mut queue = std::collections::VecDeque::from([name.to_string()]);
        let mut order = Vec::new();
        while let Some(name) = queue.pop_front() {
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some((key, node)) = self.nodes.get_key_value(&name) {
                order.push((key.as_str(), node));
                queue.extend(self.successors(&name).into_iter().map(str::to_string));
            }
        }
        order.into_iter()
    }
}

impl Step {
    /// Whether the node asks the owner something.
    pub fn is_question(&self) -> bool {
        matches!(
            self,
            Step::Rating { .. } | Step::Choice { .. } | Step::Digits { .. } | Step::Record { .. }
        )
    }

    /// The kind's word in scripts and in stored answers.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Play => "play",
            Step::Rating { .. } => "rating",
            Step::Choice { .. } => "choice",
            Step::Digits { .. } => "digits",
            Step::Transfer => "transfer",
            Step::Record { .. } => "record",
            Step::OptOut => "opt_out",
            Step::Sms { .. } => "sms",
            Step::Hangup => "hangup",
        }
    }
}

/// One step of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Prompts played on entering the node.
    pub prompts: Vec<String>,
    /// What the node does.
    pub step: Step,
    /// Where to go next (`None`: the survey ends).
    pub next: Option<String>,
}

/// How a node that waits for keys behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// How long to wait for the first key.
    pub timeout: Duration,
    /// How often an invalid or missing answer is asked again.
    pub retries: u8,
    /// Played after an invalid answer.
    pub invalid: Vec<String>,
    /// Played when nothing was pressed.
    pub missing: Vec<String>,
    /// Whether a key stops the prompt at once.
    pub barge_in: bool,
}

/// One choice of a `choice` node.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceOption {
    /// The answer stored.
    pub value: Option<String>,
    /// Where the choice leads (else the node's `next`).
    pub next: Option<String>,
}

/// What a node does.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Only play.
    Play,
    /// A rating 1..=max; ranges of values may lead elsewhere.
    Rating {
        /// The highest rating.
        max: u8,
        /// Inclusive ranges and their next node.
        on: Vec<((u8, u8), String)>,
        /// Key handling.
        input: Input,
    },
    /// A digit chooses.
    Choice {
        /// By key.
        options: BTreeMap<char, ChoiceOption>,
        /// Key handling.
        input: Input,
    },
    /// Several digits (a unit number, a date).
    Digits {
        /// Fewest digits.
        min: u8,
        /// Most digits.
        max: u8,
        /// Ends the entry early.
        terminator: Option<char>,
        /// Key handling.
        input: Input,
    },
    /// To an agent.
    Transfer,
    /// A spoken comment, recorded.
    Record {
        /// The longest comment.
        max: Duration,
    },
    /// The owner asks not to be called again: the number goes on the DNC list.
    OptOut,
    /// Sends an SMS from a template.
    Sms {
        /// The template's name.
        template: String,
    },
    /// Ends the call.
    Hangup,
}

/// One thing wrong with a script.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ScriptError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The node, when the error is in one.
    pub node: Option<String>,
    /// The field.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        match &self.node {
            Some(node) => write!(f, "node `{node}`, field `{}`: {}", self.field, self.message),
            None => write!(f, "field `{}`: {}", self.field, self.message),
        }
    }
}

/// Every error of one script (never empty), one per line, after the file name.
#[derive(Debug, thiserror::Error)]
pub struct ScriptErrors {
    /// The file.
    pub path: String,
    /// The errors.
    pub errors: Vec<ScriptError>,
}

impl fmt::Display for ScriptErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}: {e}", self.path)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
