//! The survey script model and its validation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// Default seconds to wait for a key.
const TIMEOUT_SECS: u64 = 8;
/// Default times an invalid or missing answer is asked again.
const RETRIES: u8 = 2;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    start: Spanned<String>,
    rating: Option<Spanned<String>>,
    satisfied: Option<Spanned<u8>>,
    unsatisfied: Option<Spanned<u8>>,
    nodes: BTreeMap<String, Spanned<RawNode>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    kind: Spanned<String>,
    #[serde(default)]
    prompts: Vec<String>,
    next: Option<Spanned<String>>,
    timeout_secs: Option<Spanned<u64>>,
    retries: Option<Spanned<u8>>,
    #[serde(default)]
    invalid: Vec<String>,
    #[serde(default)]
    missing: Vec<String>,
    barge_in: Option<bool>,
    max: Option<Spanned<u64>>,
    min: Option<Spanned<u64>>,
    terminator: Option<Spanned<String>>,
    on: Option<BTreeMap<String, Spanned<String>>>,
    options: Option<Spanned<BTreeMap<String, RawOption>>>,
    template: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOption {
    value: Option<String>,
    next: Option<String>,
}

/// Reads and validates the script at `path`.
pub fn load(path: &Path) -> Result<Script, ScriptErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScriptErrors {
        path: name.clone(),
        errors: vec![ScriptError {
            line: None,
            node: None,
            field: "file".into(),
            message: format!("cannot read: {e}"),
        }],
    })?;
    parse(&text).map_err(|errors| ScriptErrors { path: name, errors })
}

/// Parses and validates a script's text.
pub fn parse(text: &str) -> Result<Script, Vec<ScriptError>> {
    let line = |offset: usize| Some(text[..offset.min(text.len())].matches('\n').count() + 1);
    let raw: RawScript = toml::from_str(text).map_err(|e| {
        vec![ScriptError {
            line: e.span().and_then(|s| line(s.start)),
            node: None,
            field: "toml".into(),
            message: e.message().to_string(),
        }]
    })?;
    let mut errors = Vec::new();
    let names: BTreeSet<&str> = raw.nodes.keys().map(String::as_str).collect();
    if !names.contains(raw.start.get_ref().as_str()) {
        errors.push(ScriptError {
            line: line(raw.start.span().start),
            node: None,
            field: "start".into(),
            message: format!("no node is named `{}`", raw.start.get_ref()),
        });
    }
    let mut nodes = BTreeMap::new();
    for (name, spanned) in &raw.nodes {
        let at = line(spanned.span().start);
        let mut check = Checker {
            node: name,
            line: at,
            names: &names,
            errors: &mut errors,
        };
        if let Some(node) = check.node(spanned.get_ref(), &line) {
            nodes.insert(name.clone(), node);
        }
    }
    if errors.is_empty() {
        let start = raw.start.get_ref().clone();
        for unreachable in unreachable(&start, &nodes) {
            errors.push(ScriptError {
                line: line(raw.nodes[&unreachable].span().start),
                node: Some(unreachable),
                field: "kind".into(),
                message: format!("no path from `{start}` leads here"),
            });
        }
        if errors.is_empty() {
            let mut script = Script {
                start,
                nodes,
                verdict: VerdictRule {
                    node: None,
                    satisfied: SATISFIED_AT,
                    unsatisfied: UNSATISFIED_AT,
                },
            };
            script.verdict = verdict_rule(&raw, &script, &line, &mut errors);
            if errors.is_empty() {
                return Ok(script);
            }
        }
    }
    Err(errors)
}

struct Checker<'a> {
    node: &'a str,
    line: Option<usize>,
    names: &'a BTreeSet<&'a str>,
    errors: &'a mut Vec<ScriptError>,
}

impl Checker<'_> {
    fn fail(&mut self, line: Option<usize>, field: &str, message: impl Into<String>) {
        self.errors.push(ScriptError {
            line: line.or(self.line),
            node: Some(self.node.to_string()),
            field: field.into(),
            message: message.into(),
        });
    }

    fn target(&mut self, line: Option<usize>, field: &str, to: &str) {
        if !self.names.contains(to) {
            self.fail(line, field, format!("no node is named `{to}`"));
        }
    }

    fn node(&mut self, raw: &RawNode, line: &dyn Fn(usize) -> Option<usize>) -> Option<Node> {
        let kind = raw.kind.get_ref().as_str();
        let kind_line = line(raw.kind.span().start);
        let at = |s: &Option<Spanned<u64>>| s.as_ref().and_then(|s| line(s.span().start));
        let input = |c: &mut Checker<'_>| {
            let timeout = raw
                .timeout_secs
                .as_ref()
                .map_or(TIMEOUT_SECS, |t| *t.get_ref());
            if !(1..=60).contains(&timeout) {
                c.fail(
                    at(&raw.timeout_secs),
                    "timeout_secs",
                    "must be 1 to 60 seconds",
                );
            }
            let retries = raw.retries.as_ref().map_or(RETRIES, |r| *r.get_ref());
            if retries > 5 {
                let l = raw.retries.as_ref().and_then(|r| line(r.span().start));
                c.fail(l, "retries", "must be 0 to 5");
            }
            Input {
                timeout: Duration::from_secs(timeout),
                retries,
                invalid: raw.invalid.clone(),
                missing: raw.missing.clone(),
                barge_in: raw.barge_in.unwrap_or(true),
            }
        };
        let waits = matches!(kind, "rating" | "choice" | "digits" | "record" | "play");
        if waits && raw.prompts.is_empty() {
            self.fail(
                kind_line,
                "prompts",
                format!("a `{kind}` node needs a prompt"),
            );
        }
        // Fields that only some kinds read must not be silently ignored.
        let only = [
            (
                "max",
                raw.max.is_some(),
                &["rating", "digits", "record"][..],
            ),
            ("min", raw.min.is_some(), &["digits"][..]),
            ("terminator", raw.terminator.is_some(), &["digits"][..]),
            ("on", raw.on.is_some(), &["rating"][..]),
            ("options", raw.options.is_some(), &["choice"][..]),
            ("template", raw.template.is_some(), &["sms"][..]),
            (
                "timeout_secs",
                raw.timeout_secs.is_some(),
                &["rating", "choice", "digits"][..],
            ),
            (
                "retries",
                raw.retries.is_some(),
                &["rating", "choice", "digits"][..],
            ),
        ];
        for (field, present, kinds) in only {
            if present && !kinds.contains(&kind) {
                self.fail(
                    kind_line,
                    field,
                    format!("a `{kind}` node has no `{field}`"),
                );
            }
        }
        if let Some(next) = &raw.next {
            let l = line(next.span().start);
            if kind == "hangup" {
                self.fail(l, "next", format!("a `{kind}` node ends the survey"));
            } else {
                self.target(l, "next", next.get_ref());
            }
        }
        let step = match kind {
            "play" => Step::Play,
            "rating" => {
                let max = raw.max.as_ref().map_or(0, |m| *m.get_ref());
                if !(2..=9).contains(&max) {
                    self.fail(at(&raw.max), "max", "a rating needs `max` from 2 to 9");
                }
                let max = max.clamp(2, 9) as u8;
                let mut on = Vec::new();
                for (range, to) in raw.on.iter().flatten() {
                    let l = line(to.span().start);
                    match parse_range(range, max) {
                        Some(r) => on.push((r, to.get_ref().clone())),
                        None => self.fail(
                            l,
                            &format!("on.{range}"),
                            format!("expected a rating or a range like `1-2` within 1..={max}"),
                        ),
                    }
                    self.target(l, &format!("on.{range}"), to.get_ref());
                }
                Step::Rating {
                    max,
                    on,
                    input: input(self),
                }
            }
            "choice" => {
                let mut options = BTreeMap::new();
                match &raw.options {
                    None => self.fail(kind_line, "options", "a choice needs `options`"),
                    Some(raw_options) => {
                        let l = line(raw_options.span().start);
                        for (key, option) in raw_options.get_ref() {
                            let field = format!("options.{key}");
                            let mut chars = key.chars();
                            let digit = match (chars.next(), chars.next()) {
                                (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => c,
                                _ => {
                                    self.fail(l, &field, "a key is one of 0-9, * or #");
                                    continue;
                                }
                            };
                            if option.value.is_none() && option.next.is_none() {
                                self.fail(l, &field, "give a `value`, a `next`, or both");
                            }
                            if let Some(to) = &option.next {
                                self.target(l, &field, to);
                            }
                            options.insert(
                                digit,
                                ChoiceOption {
                                    value: option.value.clone(),
                                    next: option.next.clone(),
                                },
                            );
                        }
                        if raw_options.get_ref().is_empty() {
                            self.fail(l, "options", "a choice needs at least one option");
                        }
                    }
                }
                Step::Choice {
                    options,
                    input: input(self),
                }
            }
            "digits" => {
                let min = raw.min.as_ref().map_or(1, |m| *m.get_ref());
                let max = raw.max.as_ref().map_or(0, |m| *m.get_ref());
                if !(1..=20).contains(&min) {
                    self.fail(at(&raw.min), "min", "must be 1 to 20");
                }
                if !(min.max(1)..=20).contains(&max) {
                    self.fail(
                        at(&raw.max),
                        "max",
                        "a digits node needs `max` from `min` to 20",
                    );
                }
                let terminator = match &raw.terminator {
                    None => Some('#'),
                    Some(t) => match t.get_ref().as_str() {
                        "#" => Some('#'),
                        "*" => Some('*'),
                        "" => None,
                        _ => {
                            let l = line(t.span().start);
                            self.fail(l, "terminator", "must be `#`, `*` or empty (none)");
                            None
                        }
                    },
                };
                Step::Digits {
                    min: min.min(20) as u8,
                    max: max.min(20) as u8,
                    terminator,
                    input: input(self),
                }
            }
            "transfer" => Step::Transfer,
            "record" => {
                let max = raw.max.as_ref().map_or(30, |m| *m.get_ref());
                if !(1..=120).contains(&max) {
                    self.fail(at(&raw.max), "max", "a comment lasts 1 to 120 seconds");
                }
                Step::Record {
                    max: Duration::from_secs(max),
                }
            }
            "opt_out" => Step::OptOut,
            "sms" => match &raw.template {
                Some(t) => Step::Sms {
                    template: t.get_ref().clone(),
                },
                None => {
                    self.fail(kind_line, "template", "an `sms` node needs a `template`");
                    Step::Hangup
                }
            },
            "hangup" => Step::Hangup,
            other => {
                self.fail(
                    kind_line,
                    "kind",
                    format!(
                        "unknown kind `{other}`; expected play, rating, choice, digits, \
                         transfer, record, opt_out, sms or hangup"
                    ),
                );
                return None;
            }
        };
        Some(Node {
            prompts: raw.prompts.clone(),
            step,
            next: raw.next.as_ref().map(|n| n.get_ref().clone()),
        })
    }
}

/// The top-level `rating`, `satisfied` and `unsatisfied`, checked against the nodes.
fn verdict_rule(
    raw: &RawScript,
    script: &Script,
    line: &dyn Fn(usize) -> Option<usize>,
    errors: &mut Vec<ScriptError>,
) -> VerdictRule {
    let mut fail = |at: Option<usize>, field: &str, message: String| {
        errors.push(ScriptError {
            line: at,
            node: None,
            field: field.into(),
            message,
        });
    };
    let node = match &raw.rating {
        Some(name) => {
            let at = line(name.span().start);
            match script.nodes.get(name.get_ref()).map(|n| &n.step) {
                Some(Step::Rating { .. }) => Some(name.get_ref().clone()),
                Some(other) => {
                    let kind = other.kind();
                    fail(
                        at,
                        "rating",
                        format!("`{}` is a `{kind}` node, not a rating", name.get_ref()),
                    );
                    None
                }
                None => {
                    fail(
                        at,
                        "rating",
                        format!("no node is named `{}`", name.get_ref()),
                    );
                    None
                }
            }
        }
        None => script
            .walk_from(&script.start)
            .find(|(_, n)| matches!(n.step, Step::Rating { .. }))
            .map(|(name, _)| name.to_string()),
    };
    let max = match node
        .as_deref()
        .and_then(|n| script.nodes.get(n))
        .map(|n| &n.step)
    {
        Some(Step::Rating { max, .. }) => *max,
        _ => 5,
    };
    // Defaults scale with the rating's range: 4 and 2 of 5, 2 and 1 of 2, 8 and 3 of 9.
    let satisfied = raw
        .satisfied
        .as_ref()
        .map_or(default_satisfied(max), |s| *s.get_ref());
    let unsatisfied = raw.unsatisfied.as_ref().map_or(
        default_unsatisfied(max).min(satisfied.saturating_sub(1)),
        |s| *s.get_ref(),
    );
    let at = |s: &Option<Spanned<u8>>| s.as_ref().and_then(|s| line(s.span().start));
    if !(1..=max).contains(&satisfied) {
        fail(
            at(&raw.satisfied),
            "satisfied",
            format!("must be a rating from 1 to {max}"),
        );
    }
    if unsatisfied >= satisfied {
        fail(
            at(&raw.unsatisfied).or(at(&raw.satisfied)),
            "unsatisfied",
            format!("must be below `satisfied` ({satisfied}): {unsatisfied} is not"),
        );
    }
    VerdictRule {
        node,
        satisfied,
        unsatisfied,
    }
}

/// The default satisfied threshold of a 1..=max rating ([`SATISFIED_AT`] of 5).
fn default_satisfied(max: u8) -> u8 {
    if max == 5 {
        SATISFIED_AT
    } else {
        max - max / 5
    }
}

/// The default unsatisfied threshold of a 1..=max rating ([`UNSATISFIED_AT`] of 5).
fn default_unsatisfied(max: u8) -> u8 {
    if max == 5 {
        UNSATISFIED_AT
    } else {
        (max * 2 / 5).max(1)
    }
}

/// `3` or `1-2`, within 1..=max.
fn parse_range(text: &str, max: u8) -> Option<(u8, u8)> {
    let (low, high) = match text.split_once('-') {
        Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
        None => {
            let v = text.trim().parse().ok()?;
            (v, v)
        }
    };
    (1 <= low && low <= high && high <= max).then_some((low, high))
}

/// Nodes no path from `start` reaches, by name.
fn unreachable(start: &str, nodes: &BTreeMap<String, Node>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![start.to_string()];
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(node) = nodes.get(&name) else {
            continue;
        };
        todo.extend(node.next.iter().cloned());
        match &node.step {
            Step::Rating { on, .. } => todo.extend(on.iter().map(|(_, to)| to.clone())),
            Step::Choice { options, .. } => {
                todo.extend(options.values().filter_map(|o| o.next.clone()));
            }
            _ => {}
        }
    }
    nodes
        .keys()
        .filter(|n| !seen.contains(*n))
        .cloned()
        .collect()
}

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
