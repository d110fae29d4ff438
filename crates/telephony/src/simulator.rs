//! The built-in phone simulator: a UAS on the same stack that behaves like a crowd of owners'
//! phones — answering after a random delay, busy, never answering, a voicemail greeting — and
//! pressing scripted or random keys by RFC 4733.
//!
//! It is the embedded default "owners" for the demo and the tests (never the only peer a test
//! uses: sipp and baresip are the others). What a call does comes from the dialled user part
//! when it names a behaviour (`sip:busy@...`, `sip:press-4@...`, `sip:noanswer@...`,
//! `sip:voicemail@...`, `sip:answer@...`), otherwise from the configured mix.

use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Digit;
use super::media::Prompt;
use super::sip::message;
use super::transport::{Incoming, UserAgent};

/// What one simulated phone does with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Ring, answer, press `digits` (after `press_after`; none given: a random rating 1-5, mostly 4 and 5,
    /// followed by `1` when it is 1 or 2), then wait for the caller's BYE.
    Answer {
        /// Keys to press; empty = a random rating 1-5 (mostly 4 and 5).
        digits: Option<Vec<Digit>>,
    },
    /// 486 Busy Here.
    Busy,
    /// Ring until the caller gives up.
    NoAnswer,
    /// Answer and play a greeting, as an answering machine does; press nothing.
    Voicemail,
}

/// The share of each behaviour (weights, not necessarily summing to 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// Answers and presses keys.
    pub answer: u32,
    /// Busy.
    pub busy: u32,
    /// Never answers.
    pub no_answer: u32,
    /// A voicemail greeting.
    pub voicemail: u32,
}

impl Default for Mix {
    fn default() -> Mix {
        Mix {
            answer: 70,
            busy: 10,
            no_answer: 10,
            voicemail: 10,
        }
    }
}

/// Why a mix string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixError {
    /// `name=weight` expected.
    #[error("`{0}` is not NAME=WEIGHT (answer, busy, no_answer, voicemail)")]
    Item(String),
    /// All weights zero.
    #[error("the mix has no weight at all")]
    Empty,
}

impl Mix {
    /// The sum of the weights (in u64: four u32 weights cannot overflow it).
    fn total(&self) -> u64 {
        [self.answer, self.busy, self.no_answer, self.voicemail]
            .into_iter()
            .map(u64::from)
            .sum()
    }
}

impl std::str::FromStr for Mix {
    type Err = MixError;

    /// Parses `answer=70,busy=10,no_answer=10,voicemail=10` (missing names weigh 0).
    fn from_str(s: &str) -> Result<Mix, MixError> {
        let mut mix = Mix {
            answer: 0,
            busy: 0,
            no_answer: 0,
            voicemail: 0,
        };
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, weight) = item
                .split_once('=')
                .ok_or_else(|| MixError::Item(item.to_string()))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| MixError::Item(item.to_string()))?;
            match name.trim().replace('-', "_").as_str() {
                "answer" => mix.answer = weight,
                "busy" => mix.busy = weight,
                "no_answer" | "noanswer" => mix.no_answer = weight,
                "voicemail" | "machine" => mix.voicemail = weight,
                _ => return Err(MixError::Item(item.to_string())),
            }
        }
        if mix.total() == 0 {
            return Err(MixError::Empty);
        }
        Ok(mix)
    }
}

/// How the simulated phones behave.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    /// Behaviour weights for calls whose user part names none.
    pub mix: Mix,
    /// Answer after a delay drawn uniformly from this range.
    pub answer_delay: (Duration, Duration),
    /// Wait this long after answering before pressing keys.
    pub press_after: Duration,
    /// Keys to press when answering (None: a random rating 1-5).
    pub digits: Option<Vec<Digit>>,
    /// Hang up ourselves after this long if the caller does not.
    pub max_call: Duration,
    /// Random seed (the same seed gives the same choices in the same order).
    pub seed: u64,
    /// Behaviours of given numbers (the dialled user part, `+8613800000001`), before the mix.
    pub numbers: std::collections::HashMap<String, Behaviour>,
}

impl Default for PhoneConfig {
    fn default() -> PhoneConfig {
        PhoneConfig {
            mix: Mix::default(),
            answer_delay: (Duration::from_millis(200), Duration::from_millis(1500)),
            press_after: Duration::from_millis(1200),
            digits: None,
            max_call: Duration::from_secs(180),
            seed: 400,
            numbers: std::collections::HashMap::new(),
        }
    }
}

/// The behaviour a dialled user part names, if any.
pub fn scripted(user: &str) -> Option<Behaviour> {
    let user = user.to_ascii_lowercase();
    match user.as_str() {
        "busy" => Some(Behaviour::Busy),
        "noanswer" | "no-answer" | "no_answer" => Some(Behaviour::NoAnswer),
        "voicemail" | "machine" => Some(Behaviour::Voicemail),
        "answer" => Some(Behaviour::Answer { digits: None }),
        _ => {
            let keys = user.strip_prefix("press-")?;
            Digit::parse_all(keys).ok().map(|digits| Behaviour::Answer {
                digits: Some(digits),
            })
        }
    }
}

/// Answers calls on `ua` until it stops, each call on its own task.
pub async fn serve(ua: UserAgent, config: PhoneConfig) {
    let config = Arc::new(config);
    let greeting = Arc::new(greeting());
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    while let Some(incoming) = ua.accept().await {
        let user = message::user_of(&incoming.uri)
            .unwrap_or_default()
            .to_string();
        let behaviour = scripted(&user)
            .or_else(|| config.numbers.get(&user).cloned())
            .unwrap_or_else(|| pick(&config, &mut rng));
        let delay = draw(&mut rng, config.answer_delay);
        let rating = rating(&mut rng);
        let config = Arc::clone(&config);
        let greeting = Arc::clone(&greeting);
        tokio::spawn(async move {
            handle(incoming, behaviour, delay, rating, &config, greeting).await;
        });
    }
}

fn pick(config: &PhoneConfig, rng: &mut ChaCha8Rng) -> Behaviour {
    let m = config.mix;
    let mut roll = rng.random_range(0..m.total().max(1));
    for (weight, behaviour) in [
        (
            m.answer,
            Behaviour::Answer {
                digits: config.digits.clone(),
            },
        ),
        (m.busy, Behaviour::Busy),
        (m.no_answer, Behaviour::NoAnswer),
        (m.voicemail, Behaviour::Voicemail),
    ] {
        let weight = u64::from(weight);
        if roll < weight {
            return behaviour;
        }
        roll -= weight;
    }
    Behaviour::Answer {
        digits: config.digits.clone(),
    }
}

/// A rating 1-5 as owners give them after a repair: mostly 4 and 5, some 3, a few 1 and 2
/// (5 %, 8 %, 12 %, 35 %, 40 %).
fn rating(rng: &mut ChaCha8Rng) -> u8 {
    match rng.random_range(0..100u32) {
        0..5 => 1,
        5..13 => 2,
        13..25 => 3,
        25..60 => 4,
        _ => 5,
    }
}

fn draw(rng: &mut ChaCha8Rng, (low, high): (Duration, Duration)) -> Duration {
    if high <= low {
        return low;
    }
    low + Duration::from_millis(rng.random_range(0..(high - low).as_millis().max(1) as u64))
}

async fn handle(
    mut incoming: Incoming,
    behaviour: Behaviour,
    delay: Duration,
    rating: u8,
    config: &PhoneConfig,
    greeting: Arc<Prompt>,
) {
    match behaviour {
        Behaviour::Busy => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            incoming.reject(486);
        }
        Behaviour::NoAnswer => {
            incoming.ring();
            // Ring until the caller's CANCEL (the endpoint answers 487 by itself); a caller
            // that never gives up is refused after our patience runs out.
            let _ = tokio::time::timeout(config.max_call, incoming.wait_end()).await;
        }
        Behaviour::Voicemail | Behaviour::Answer { .. } => {
            incoming.ring();
            tokio::time::sleep(delay).await;
            if incoming.cancelled() {
                return;
            }
            let mut call = match incoming.answer().await {
                Ok(call) => call,
                Err(err) => {
                    tracing::warn!(%err, "simulated phone could not answer");
                    return;
                }
            };
            match behaviour {
                Behaviour::Voicemail => {
                    call.play(vec![greeting], false).await;
                }
                Behaviour::Answer { digits } => {
                    tokio::time::sleep(config.press_after).await;
                    let digits = digits.unwrap_or_else(|| random_answer(rating));
                    call.send_digits(&digits);
                }
                _ => {}
            }
            // Stay on the line until the caller hangs up (or our patience ends).
            let wait = async { while call.next_update().await.is_some() {} };
            if tokio::time::timeout(config.max_call, wait).await.is_err() {
                call.hangup().await;
            }
            call.close().await;
        }
    }
}

/// A random owner's keys: a rating 1-5, and after a low one `1` (the callback survey's
/// "speak to an agent"; a survey asking nothing more leaves it unread).
fn random_answer(rating: u8) -> Vec<Digit> {
    let mut keys: Vec<Digit> = Digit::from_event(rating).into_iter().collect();
    if rating <= 2 {
        keys.extend(Digit::from_event(1));
    }
    keys
}

/// A voicemail-like greeting: 4 s of a speech-band warble followed by a 1 kHz beep, made here
/// so the simulator needs no files.
fn greeting() -> Prompt {
    let rate = 8000.0;
    let mut pcm = Vec::with_capacity(8000 * 5);
    for i in 0..(8000 * 4) {
        let t = i as f64 / rate;
        let envelope = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * 3.0 * t).sin().abs();
        let f = 180.0 + 60.0 * (2.0 * std::f64::consts::PI * 0.7 * t).sin();
        let s = (2.0 * std::f64::consts::PI * f * t).sin() * 6000.0 * envelope;
        pcm.push(s as i16);
    }
    for i in 0..(8000 / 2) {
        let t = i as f64 / rate;
        pcm.push(((2.0 * std::f64::consts::PI * 1000.0 * t).sin() * 8000.0) as i16);
    }
    Prompt::from_samples("voicemail greeting", pcm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse_and_refuse_nonsense() {
        let mix: Mix = "answer=5, busy=1".parse().unwrap();
        assert_eq!((mix.answer, mix.busy, mix.no_answer), (5, 1, 0));
        assert!("answer=x".parse::<Mix>().is_err());
        assert!("ringing=3".parse::<Mix>().is_err());
        assert_eq!("busy=0".parse::<Mix>(), Err(MixError::Empty));
    }

    #[test]
    fn user_parts_script_behaviour() {
        assert_eq!(scripted("busy"), Some(Behaviour::Busy));
        assert_eq!(
            scripted("press-4#"),
            Some(Behaviour::Answer {
                digits: Some(Digit::parse_all("4#").unwrap())
            })
        );
        assert_eq!(scripted("13800138000"), None);
        assert_eq!(scripted("press-x"), None);
    }

    #[test]
    fn the_mix_is_followed_roughly_and_deterministically() {
        let config = PhoneConfig::default();
        let mut a = ChaCha8Rng::seed_from_u64(1);
        let mut b = ChaCha8Rng::seed_from_u64(1);
        let picks: Vec<_> = (0..1000).map(|_| pick(&config, &mut a)).collect();
        let again: Vec<_> = (0..1000).map(|_| pick(&config, &mut b)).collect();
        assert_eq!(picks, again);
        let busy = picks.iter().filter(|p| **p == Behaviour::Busy).count();
        assert!((60..140).contains(&busy), "{busy}");
    }
}
