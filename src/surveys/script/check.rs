//! Loading a survey script: its TOML read into raw tables, each node checked by the
//! [`Checker`] (every error names the node, the field and the line, all reported at once), then
//! the verdict rule and reachability from `start`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{
    ChoiceOption, Input, Node, SATISFIED_AT, Script, ScriptError, ScriptErrors, Step,
    UNSATISFIED_AT, VerdictRule,
};

/// Default seconds to wait for a key.
const TIMEOUT_SECS: u64 = 8;
/// Default times an invalid or missing answer is asked again.
const RETRIES: u8 = 2;

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
            lines: &line,
        };
        if let Some(node) = check.node(spanned.get_ref()) {
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

/// Checks one node, gathering its errors with the node's name and line.
struct Checker<'a> {
    node: &'a str,
    line: Option<usize>,
    names: &'a BTreeSet<&'a str>,
    errors: &'a mut Vec<ScriptError>,
    /// The line of a byte offset in the script's text.
    lines: &'a dyn Fn(usize) -> Option<usize>,
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

    /// The line of an optional field, when it is there.
    fn at<T>(&self, field: &Option<Spanned<T>>) -> Option<usize> {
        field.as_ref().and_then(|f| (self.lines)(f.span().start))
    }

    /// The line of a field.
    fn line_of<T>(&self, field: &Spanned<T>) -> Option<usize> {
        (self.lines)(field.span().start)
    }

    fn node(&mut self, raw: &RawNode) -> Option<Node> {
        let kind = raw.kind.get_ref().as_str();
        let kind_line = self.line_of(&raw.kind);
        self.fields(raw, kind, kind_line);
        let step = match kind {
            "play" => Step::Play,
            "rating" => self.rating(raw),
            "choice" => self.choice(raw, kind_line),
            "digits" => self.digits(raw),
            "transfer" => Step::Transfer,
            "record" => self.record(raw),
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

    /// What every kind shares: a prompt where the node waits, no field the kind does not
    /// read, a `next` that exists (and none after a hangup).
    fn fields(&mut self, raw: &RawNode, kind: &str, kind_line: Option<usize>) {
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
            let l = self.line_of(next);
            if kind == "hangup" {
                self.fail(l, "next", format!("a `{kind}` node ends the survey"));
            } else {
                self.target(l, "next", next.get_ref());
            }
        }
    }

    /// How a question waits for keys: time-out, retries, the prompts of a wrong or no answer.
    fn input(&mut self, raw: &RawNode) -> Input {
        let timeout = raw
            .timeout_secs
            .as_ref()
            .map_or(TIMEOUT_SECS, |t| *t.get_ref());
        if !(1..=60).contains(&timeout) {
            let l = self.at(&raw.timeout_secs);
            self.fail(l, "timeout_secs", "must be 1 to 60 seconds");
        }
        let retries = raw.retries.as_ref().map_or(RETRIES, |r| *r.get_ref());
        if retries > 5 {
            let l = self.at(&raw.retries);
            self.fail(l, "retries", "must be 0 to 5");
        }
        Input {
            timeout: Duration::from_secs(timeout),
            retries,
            invalid: raw.invalid.clone(),
            missing: raw.missing.clone(),
            barge_in: raw.barge_in.unwrap_or(true),
        }
    }

    fn rating(&mut self, raw: &RawNode) -> Step {
        let max = raw.max.as_ref().map_or(0, |m| *m.get_ref());
        if !(2..=9).contains(&max) {
            let l = self.at(&raw.max);
            self.fail(l, "max", "a rating needs `max` from 2 to 9");
        }
        let max = max.clamp(2, 9) as u8;
        let mut on = Vec::new();
        for (range, to) in raw.on.iter().flatten() {
            let l = self.line_of(to);
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
            input: self.input(raw),
        }
    }

    fn choice(&mut self, raw: &RawNode, kind_line: Option<usize>) -> Step {
        let mut options = BTreeMap::new();
        match &raw.options {
            None => self.fail(kind_line, "options", "a choice needs `options`"),
            Some(raw_options) => {
                let l = self.line_of(raw_options);
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
            input: self.input(raw),
        }
    }

    fn digits(&mut self, raw: &RawNode) -> Step {
        let min = raw.min.as_ref().map_or(1, |m| *m.get_ref());
        let max = raw.max.as_ref().map_or(0, |m| *m.get_ref());
        if !(1..=20).contains(&min) {
            let l = self.at(&raw.min);
            self.fail(l, "min", "must be 1 to 20");
        }
        if !(min.max(1)..=20).contains(&max) {
            let l = self.at(&raw.max);
            self.fail(l, "max", "a digits node needs `max` from `min` to 20");
        }
        let terminator = match &raw.terminator {
            None => Some('#'),
            Some(t) => match t.get_ref().as_str() {
                "#" => Some('#'),
                "*" => Some('*'),
                "" => None,
                _ => {
                    let l = self.line_of(t);
                    self.fail(l, "terminator", "must be `#`, `*` or empty (none)");
                    None
                }
            },
        };
        Step::Digits {
            min: min.min(20) as u8,
            max: max.min(20) as u8,
            terminator,
            input: self.input(raw),
        }
    }

    fn record(&mut self, raw: &RawNode) -> Step {
        let max = raw.max.as_ref().map_or(30, |m| *m.get_ref());
        if !(1..=120).contains(&max) {
            let l = self.at(&raw.max);
            self.fail(l, "max", "a comment lasts 1 to 120 seconds");
        }
        Step::Record {
            max: Duration::from_secs(max),
        }
    }
}

/// The top-level `rating`, `satisfied` and `unsatisfied`, checked against the nodes.
fn verdict_rule(
    raw: &RawScript,
    script: &Script,
    line: &dyn Fn(usize) -> Option<usize>,
    errors: &mut Vec<ScriptError>,
) -> VerdictRule {
    let node = verdict_node(raw, script, line, errors);
    let mut fail = |at: Option<usize>, field: &str, message: String| {
        errors.push(top_error(at, field, message));
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

/// The rating that decides a callback's ticket: the one `rating` names, which must be a
/// rating node, or else the first rating on the way from `start`.
fn verdict_node(
    raw: &RawScript,
    script: &Script,
    line: &dyn Fn(usize) -> Option<usize>,
    errors: &mut Vec<ScriptError>,
) -> Option<String> {
    let mut fail = |at: Option<usize>, field: &str, message: String| {
        errors.push(top_error(at, field, message));
    };
    match &raw.rating {
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
    }
}

/// An error in a top-level field (not in a node).
fn top_error(line: Option<usize>, field: &str, message: String) -> ScriptError {
    ScriptError {
        line,
        node: None,
        field: field.into(),
        message,
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
