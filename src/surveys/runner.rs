//! A script walked over one connected call.
//!
//! The walk knows nothing of SIP or the database: it asks a [`Line`] to play, collect keys,
//! record and transfer, and hands every answer to [`Answers`] *before* it moves on, so a
//! hang-up keeps what was said. Answers from earlier attempts are passed in: a node answered
//! before is not asked again, its stored answer decides where the walk goes.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use super::script::{Input, Node, Script, Step};

/// How long to wait between the keys of a multi-digit answer.
pub const INTER_DIGIT: Duration = Duration::from_secs(3);

/// A script may loop (a choice leading back); no honest survey visits this many nodes.
const MAX_STEPS: usize = 100;

/// How a prompt queue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// Played to the end, or cut short by a key (kept for the next collection).
    Played,
    /// The owner hung up.
    HungUp,
}

/// The keys to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Want {
    /// Stop after this many keys.
    pub max_digits: u8,
    /// Stop at this key (not part of the answer).
    pub terminator: Option<char>,
    /// How long to wait for the first key.
    pub first_timeout: Duration,
    /// How long to wait between keys.
    pub inter_timeout: Duration,
}

/// Keys pressed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keys {
    /// In order, the terminator left out.
    pub digits: String,
    /// The call ended while waiting.
    pub hung_up: bool,
}

/// What the walk needs from a connected call; the dialer implements it over a SIP call,
/// unit tests with a scripted fake.
pub trait Line {
    /// Plays the prompts named (in the owner's language); with `barge_in` a key stops them.
    fn play(&mut self, prompts: &[String], barge_in: bool) -> impl Future<Output = Heard> + Send;
    /// Waits for keys (type-ahead first).
    fn collect(&mut self, want: Want) -> impl Future<Output = Keys> + Send;
    /// Records the owner for at most `max`, or until `#`; the file's path, or `None` when
    /// nothing could be recorded.
    fn record(&mut self, max: Duration) -> impl Future<Output = Option<String>> + Send;
    /// Hands the owner to a free agent and waits for their conversation to end; false when
    /// no agent took the call.
    fn transfer(&mut self) -> impl Future<Output = bool> + Send;
    /// Whether the call has ended.
    fn hung_up(&self) -> bool;
}

/// One answer the owner gave, or one thing the survey did on their behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A rating, 1..=max.
    Rating(u8),
    /// A choice: the option's value, or its key when it has none.
    Choice(String),
    /// Digits entered.
    Digits(String),
    /// A spoken comment, recorded to this file.
    Recording(String),
    /// Handed to an agent (`true`), or no agent took the call (`false`).
    Transfer(bool),
    /// The owner asked not to be called again.
    OptOut,
    /// An SMS from this template was queued.
    Sms(String),
}

impl Answer {
    /// The node kind it answers (the `kind` column).
    pub fn kind(&self) -> &'static str {
        match self {
            Answer::Rating(_) => "rating",
            Answer::Choice(_) => "choice",
            Answer::Digits(_) => "digits",
            Answer::Recording(_) => "record",
            Answer::Transfer(_) => "transfer",
            Answer::OptOut => "opt_out",
            Answer::Sms(_) => "sms",
        }
    }

    /// The stored value (the `value` column).
    pub fn value(&self) -> String {
        match self {
            Answer::Rating(r) => r.to_string(),
            Answer::Choice(v) | Answer::Digits(v) | Answer::Recording(v) | Answer::Sms(v) => {
                v.clone()
            }
            Answer::Transfer(connected) => {
                if *connected { "agent" } else { "no_agent" }.to_string()
            }
            Answer::OptOut => "dnc".to_string(),
        }
    }

    /// Reads a stored answer back (`kind`, `value`); `None` for a row this version cannot read.
    pub fn from_stored(kind: &str, value: &str) -> Option<Answer> {
        Some(match kind {
            "rating" => Answer::Rating(value.parse().ok()?),
            "choice" => Answer::Choice(value.to_string()),
            "digits" => Answer::Digits(value.to_string()),
            "record" => Answer::Recording(value.to_string()),
            "transfer" => Answer::Transfer(value == "agent"),
            "opt_out" => Answer::OptOut,
            "sms" => Answer::Sms(value.to_string()),
            _ => return None,
        })
    }
}

/// Where answers go: stored (and acted on: DNC, SMS) before the walk goes on.
pub trait Answers {
    /// Why an answer could not be kept.
    type Error;
    /// Keeps `answer` to `node`.
    fn save(
        &mut self,
        node: &str,
        answer: &Answer,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// How a walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walked {
    /// Nothing is left to ask: the end of the script was reached, the owner went to an agent,
    /// or the call ended where no question remained.
    pub complete: bool,
    /// The node the walk stopped in.
    pub last: String,
    /// Answers given in this call, in order.
    pub answers: Vec<(String, Answer)>,
    /// A question ran out of retries without a valid answer.
    pub no_input: bool,
}

/// Walks `script` over `line` from its start, skipping the nodes answered in `earlier`.
pub async fn walk<L: Line + Send, A: Answers + Send>(
    script: &Script,
    line: &mut L,
    answers: &mut A,
    earlier: &BTreeMap<String, Answer>,
) -> Result<Walked, A::Error> {
    let mut walked = Walked {
        complete: false,
        last: script.start.clone(),
        answers: Vec::new(),
        no_input: false,
    };
    let mut current = Some(script.start.clone());
    let mut steps = 0;
    while let Some(name) = current.take() {
        steps += 1;
        let Some(node) = script.nodes.get(&name).filter(|_| steps <= MAX_STEPS) else {
            return Ok(walked);
        };
        walked.last = name.clone();
        if line.hung_up() {
            walked.complete = !script.question_ahead(&name);
            return Ok(walked);
        }
        if let Some(before) = earlier.get(&name) {
            // An owner who reached an agent before has nothing left to answer.
            if *before == Answer::Transfer(true) {
                walked.complete = true;
                return Ok(walked);
            }
            current = after(node, before);
            continue;
        }
        let answer = match step(node, line).await {
            Did::Answered(answer) => answer,
            Did::Played => {
                current = node.next.clone();
                continue;
            }
            Did::End => {
                walked.complete = true;
                return Ok(walked);
            }
            Did::HungUp => {
                walked.complete = !script.question_ahead(&name);
                return Ok(walked);
            }
            Did::NoInput => {
                walked.no_input = true;
                return Ok(walked);
            }
        };
        answers.save(&name, &answer).await?;
        walked.answers.push((name.clone(), answer.clone()));
        if answer == Answer::Transfer(true) {
            walked.complete = true;
            return Ok(walked);
        }
        current = after(node, &answer);
    }
    // The last node had nowhere to go: the script's end.
    walked.complete = true;
    Ok(walked)
}

/// Where a node's answer leads.
fn after(node: &Node, answer: &Answer) -> Option<String> {
    match (&node.step, answer) {
        (Step::Rating { on, .. }, Answer::Rating(r)) => on
            .iter()
            .find(|((low, high), _)| (low..=high).contains(&r))
            .map(|(_, to)| to.clone())
            .or_else(|| node.next.clone()),
        (Step::Choice { options, .. }, Answer::Choice(value)) => options
            .iter()
            .find(|(key, o)| o.value.as_deref() == Some(value) || key.to_string() == *value)
            .and_then(|(_, o)| o.next.clone())
            .or_else(|| node.next.clone()),
        _ => node.next.clone(),
    }
}

/// What one node did.
enum Did {
    /// It produced an answer (to store).
    Answered(Answer),
    /// It only played.
    Played,
    /// The script ends here.
    End,
    /// The call ended.
    HungUp,
    /// No valid answer within the retries.
    NoInput,
}

async fn step<L: Line + Send>(node: &Node, line: &mut L) -> Did {
    match &node.step {
        Step::Play => match line.play(&node.prompts, false).await {
            Heard::Played => Did::Played,
            Heard::HungUp => Did::HungUp,
        },
        Step::Hangup => {
            if !node.prompts.is_empty() {
                line.play(&node.prompts, false).await;
            }
            Did::End
        }
        Step::Rating { max, input, .. } => {
            let max = *max;
            let want = one_key(input);
            ask(node, input, want, line, |keys| {
                let r: u8 = keys.parse().ok()?;
                (1..=max).contains(&r).then_some(Answer::Rating(r))
            })
            .await
        }
        Step::Choice { options, input } => {
            ask(node, input, one_key(input), line, |keys| {
                let key = keys.chars().next()?;
                let option = options.get(&key)?;
                Some(Answer::Choice(
                    option.value.clone().unwrap_or_else(|| key.to_string()),
                ))
            })
            .await
        }
        Step::Digits {
            min,
            max,
            terminator,
            input,
        } => {
            let want = Want {
                max_digits: *max,
                terminator: *terminator,
                first_timeout: input.timeout,
                inter_timeout: INTER_DIGIT,
            };
            let min = usize::from(*min);
            ask(node, input, want, line, |keys| {
                (keys.len() >= min && keys.chars().all(|c| c.is_ascii_digit()))
                    .then(|| Answer::Digits(keys.to_string()))
            })
            .await
        }
        Step::Record { max } => {
            if line.play(&node.prompts, false).await == Heard::HungUp {
                return Did::HungUp;
            }
            match line.record(*max).await {
                Some(path) => Did::Answered(Answer::Recording(path)),
                None if line.hung_up() => Did::HungUp,
                None => Did::Played,
            }
        }
        Step::Transfer => {
            if !node.prompts.is_empty() && line.play(&node.prompts, false).await == Heard::HungUp {
                return Did::HungUp;
            }
            Did::Answered(Answer::Transfer(line.transfer().await))
        }
        Step::OptOut | Step::Sms { .. } => {
            if !node.prompts.is_empty() && line.play(&node.prompts, false).await == Heard::HungUp {
                return Did::HungUp;
            }
            Did::Answered(match &node.step {
                Step::Sms { template } => Answer::Sms(template.clone()),
                _ => Answer::OptOut,
            })
        }
    }
}

fn one_key(input: &Input) -> Want {
    Want {
        max_digits: 1,
        terminator: None,
        first_timeout: input.timeout,
        inter_timeout: INTER_DIGIT,
    }
}

/// Plays the question, collects, checks; after an invalid or missing answer plays the
/// node's `invalid` or `missing` prompt and asks again, `retries` times.
async fn ask<L: Line + Send>(
    node: &Node,
    input: &Input,
    want: Want,
    line: &mut L,
    valid: impl Fn(&str) -> Option<Answer>,
) -> Did {
    let mut lead: &[String] = &[];
    for _ in 0..=input.retries {
        let prompts: Vec<String> = lead.iter().chain(&node.prompts).cloned().collect();
        if line.play(&prompts, input.barge_in).await == Heard::HungUp {
            return Did::HungUp;
        }
        let keys = line.collect(want).await;
        if let Some(answer) = valid(&keys.digits) {
            return Did::Answered(answer);
        }
        if keys.hung_up {
            return Did::HungUp;
        }
        lead = if keys.digits.is_empty() {
            &input.missing
        } else {
            &input.invalid
        };
    }
    Did::NoInput
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;
