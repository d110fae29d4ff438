//! The campaign file exactly as written: serde shapes with spans, before any checking.
//!
//! Unknown keys are refused here (`deny_unknown_fields`), so a misspelt key is a parse error
//! with its line. Values that can be wrong in meaning are kept as `Spanned` text or numbers so
//! the validator can point at their line; nothing here is trusted by the rest of the crate.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A list of spanned strings (weekday windows, holidays, prompts, channels).
pub(crate) type Texts = Spanned<Vec<Spanned<String>>>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCampaign {
    pub(super) code: Spanned<String>,
    pub(super) name: Spanned<String>,
    pub(super) kind: Spanned<String>,
    pub(super) channels: Option<Texts>,
    pub(super) source: Option<Spanned<RawSource>>,
    pub(super) lists: Option<Spanned<Vec<Spanned<RawList>>>>,
    pub(super) mode: Option<Spanned<String>>,
    pub(super) max_abandon_pct: Option<Spanned<f64>>,
    pub(super) ring_timeout_secs: Option<Spanned<i64>>,
    pub(super) calls_per_second: Option<Spanned<f64>>,
    pub(super) timezone: Option<Spanned<String>>,
    pub(super) windows: Option<BTreeMap<String, Texts>>,
    pub(super) retry: Option<RawRetry>,
    pub(super) caller_id: Option<Spanned<String>>,
    pub(super) trunk: Option<Spanned<String>>,
    pub(super) prompts: Option<Texts>,
    pub(super) script: Option<Spanned<String>>,
    pub(super) priority: Option<Spanned<i64>>,
    pub(super) template: Option<Spanned<String>>,
    pub(super) reply_hours: Option<Spanned<i64>>,
    pub(super) sip_info_dtmf: Option<Spanned<bool>>,
}

/// One list source: exactly one key is expected.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub(super) csv: Option<Spanned<String>>,
    pub(super) callbacks: Option<Spanned<bool>>,
    pub(super) owners: Option<Spanned<RawOwners>>,
}

/// `owners = { projects = [...], buildings = [...] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOwners {
    #[serde(default)]
    pub(super) projects: Vec<String>,
    #[serde(default)]
    pub(super) buildings: Vec<String>,
}

/// `[[lists]] source = {...}, weight = N`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawList {
    pub(super) source: Spanned<RawSource>,
    pub(super) weight: Option<Spanned<i64>>,
}

/// `[retry]`: one rule per outcome, and the caps.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetry {
    pub(super) busy: Option<RawRule>,
    pub(super) no_answer: Option<RawRule>,
    pub(super) machine: Option<RawRule>,
    pub(super) abandoned: Option<RawRule>,
    pub(super) failed: Option<RawRule>,
    pub(super) incomplete: Option<RawRule>,
    pub(super) daily_cap: Option<Spanned<i64>>,
    pub(super) lifetime_cap: Option<Spanned<i64>>,
}

/// `busy = { after = "30m", max = 3 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) after: Spanned<String>,
    pub(super) max: Spanned<i64>,
}
