//! From the spanned file shapes to a [`Campaign`]: every value checked, every problem recorded.
//!
//! Each part is checked on its own and falls back to a placeholder when wrong, so one pass
//! reports all problems of a file; the campaign is returned only when there were none.

use std::path::PathBuf;

use chrono_tz::Tz;
use toml::Spanned;

use super::error::{Problem, Report, syntax};
use super::raw::{RawCampaign, RawList, RawSource, Texts};
use super::{
    CallWindows, Campaign, CampaignErrors, CampaignKind, Content, DialMode, ListSource,
    RetryPolicy, WeightedList,
};
use crate::pacing::PacingMode;
use crate::phone::Phone;
use crate::vocab::Channel;

/// Parses and validates one file's text.
pub(super) fn campaign(text: &str, origin: &str) -> Result<Campaign, CampaignErrors> {
    let raw: RawCampaign =
        toml::from_str(text).map_err(|e| CampaignErrors(vec![syntax(text, origin, &e)]))?;
    let mut report = Report::new(text, origin);
    let campaign = build(raw, &mut report);
    report.finish()?;
    Ok(campaign)
}

fn build(raw: RawCampaign, report: &mut Report<'_>) -> Campaign {
    let kind = report.check(
        "kind",
        raw.kind.span(),
        CampaignKind::parse(raw.kind.get_ref()),
    );
    let mode_span = raw.mode.as_ref().map(|m| m.span());
    let mode = raw
        .mode
        .and_then(|m| report.check("mode", m.span(), DialMode::parse(m.get_ref())));
    let channels_span = raw.channels.as_ref().map(|c| c.span());
    let channels = channels(raw.channels, report);
    let voice = channels.contains(&Channel::Voice);
    // A campaign of messages only places no calls: it needs no agents and nothing to play.
    let mode = match mode {
        Some(DialMode::Paced(_)) if !voice => {
            report.add("mode", mode_span, Problem::MessagesArePaced);
            DialMode::Agentless
        }
        Some(mode) => mode,
        None if voice => DialMode::Paced(PacingMode::Progressive),
        None => DialMode::Agentless,
    };
    let kind = kind.unwrap_or(CampaignKind::Notification);
    let lists = lists(raw.source, raw.lists, kind, report);
    let content = content(raw.prompts, raw.script, kind, mode, voice, report);
    let messages = channels.iter().any(|c| *c != Channel::Voice);
    let template = raw.template.map(|t| text("template", &t, report));
    if messages && template.is_none() {
        report.add("template", channels_span, Problem::TemplateRequired);
    }
    Campaign {
        code: code(&raw.code, report),
        name: text("name", &raw.name, report),
        kind,
        channels,
        template,
        reply_hours: number(raw.reply_hours, "reply_hours", 24, reply_hours, report),
        lists,
        mode,
        max_abandon_pct: number(
            raw.max_abandon_pct,
            "max_abandon_pct",
            3.0,
            abandon_pct,
            report,
        ),
        ring_timeout_secs: number(raw.ring_timeout_secs, "ring_timeout_secs", 30, ring, report),
        calls_per_second: raw
            .calls_per_second
            .and_then(|r| report.check("calls_per_second", r.span(), rate(*r.get_ref()))),
        timezone: number(raw.timezone, "timezone", Tz::Asia__Shanghai, zone, report),
        windows: {
            let problems_before = report.len();
            let windows = CallWindows::from_raw(raw.windows, "windows", report);
            if windows.count() == 0 && report.len() == problems_before {
                // A campaign never open would finish every contact after one attempt.
                report.add("windows", None, Problem::NoWindows);
            }
            windows
        },
        retry: RetryPolicy::from_raw(raw.retry, report),
        caller_id: raw.caller_id.and_then(|c| {
            report.check(
                "caller_id",
                c.span(),
                Phone::parse(c.get_ref()).map_err(Problem::from),
            )
        }),
        trunk: raw
            .trunk
            .map_or("main".to_string(), |t| text("trunk", &t, report)),
        content,
        priority: raw.priority.map_or(0, |p| {
            report
                .check("priority", p.span(), bounded_priority(*p.get_ref()))
                .unwrap_or(0)
        }),
        sip_info_dtmf: raw.sip_info_dtmf.is_some_and(|b| *b.get_ref()),
    }
}

/// An optional scalar: `default` when absent, `check`ed when present.
fn number<R: Clone, T>(
    raw: Option<Spanned<R>>,
    key: &str,
    default: T,
    check: fn(R) -> Result<T, Problem>,
    report: &mut Report<'_>,
) -> T {
    let Some(raw) = raw else { return default };
    report
        .check(key, raw.span(), check(raw.get_ref().clone()))
        .unwrap_or(default)
}

/// How long an SMS or email survey waits for its reply: an hour to two weeks.
fn reply_hours(value: i64) -> Result<u32, Problem> {
    u32::try_from(value)
        .ok()
        .filter(|h| (1..=336).contains(h))
        .ok_or_else(|| Problem::OutOfRange {
            value: value.to_string(),
            expected: "1..=336 hours",
        })
}

fn abandon_pct(value: f64) -> Result<f64, Problem> {
    (value > 0.0 && value <= 10.0)
        .then_some(value)
        .ok_or_else(|| Problem::OutOfRange {
            value: value.to_string(),
            expected: "more than 0 and at most 10 (percent of answered calls)",
        })
}

fn rate(value: f64) -> Result<f64, Problem> {
    (value > 0.0 && value <= 1000.0)
        .then_some(value)
        .ok_or_else(|| Problem::OutOfRange {
            value: value.to_string(),
            expected: "more than 0 and at most 1000 (calls per second)",
        })
}

fn ring(value: i64) -> Result<u32, Problem> {
    u32::try_from(value)
        .ok()
        .filter(|v| (15..=120).contains(v))
        .ok_or_else(|| Problem::OutOfRange {
            value: value.to_string(),
            expected: "at least 15 and at most 120 seconds",
        })
}

fn zone(value: String) -> Result<Tz, Problem> {
    value
        .parse::<Tz>()
        .map_err(|_| Problem::UnknownTimezone(value))
}

fn text(key: &str, value: &Spanned<String>, report: &mut Report<'_>) -> String {
    let trimmed = value.get_ref().trim();
    if trimmed.is_empty() {
        report.add(key, Some(value.span()), Problem::Empty);
    }
    trimmed.to_string()
}

fn code(value: &Spanned<String>, report: &mut Report<'_>) -> String {
    let code = text("code", value, report);
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if !code.chars().all(allowed) {
        report.add("code", Some(value.span()), Problem::BadCode(code.clone()));
    }
    code
}

/// The fallback order: known channels, no `all`, no repeats; `["voice"]` when absent.
fn channels(raw: Option<Texts>, report: &mut Report<'_>) -> Vec<Channel> {
    let Some(raw) = raw else {
        return vec![Channel::Voice];
    };
    let mut channels = Vec::new();
    for (i, value) in raw.get_ref().iter().enumerate() {
        let key = format!("channels[{i}]");
        let word = value.get_ref();
        match Channel::parse(word) {
            Ok(Channel::All) | Err(_) => {
                report.add(
                    key,
                    Some(value.span()),
                    Problem::UnknownChannel(word.clone()),
                );
            }
            Ok(c) if channels.contains(&c) => {
                report.add(key, Some(value.span()), Problem::Duplicate(word.clone()));
            }
            Ok(c) => channels.push(c),
        }
    }
    if raw.get_ref().is_empty() {
        report.add("channels", Some(raw.span()), Problem::Empty);
    }
    channels
}

/// `[source]` or `[[lists]]` (exactly one), each source fitting the kind.
fn lists(
    source: Option<Spanned<RawSource>>,
    lists: Option<Spanned<Vec<Spanned<RawList>>>>,
    kind: CampaignKind,
    report: &mut Report<'_>,
) -> Vec<WeightedList> {
    let entries: Vec<(String, Spanned<RawSource>, Option<Spanned<i64>>)> = match (source, lists) {
        (Some(source), None) => vec![("source".to_string(), source, None)],
        (None, Some(lists)) if !lists.get_ref().is_empty() => {
            let lists = lists.into_inner().into_iter().enumerate();
            lists
                .map(|(i, l)| {
                    let l = l.into_inner();
                    (format!("lists[{i}].source"), l.source, l.weight)
                })
                .collect()
        }
        (_, lists) => {
            report.add("source", lists.map(|l| l.span()), Problem::SourceOrLists);
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (key, source, weight) in entries {
        let weight = weight.map_or(Some(1), |w| {
            report.check(weight_key(&key), w.span(), weight_of(*w.get_ref()))
        });
        if let (Some(source), Some(weight)) = (list_source(&key, &source, kind, report), weight) {
            out.push(WeightedList { source, weight });
        }
    }
    out
}

fn weight_key(source_key: &str) -> String {
    source_key.replace(".source", ".weight")
}

fn weight_of(value: i64) -> Result<u32, Problem> {
    u32::try_from(value)
        .ok()
        .filter(|v| (1..=1000).contains(v))
        .ok_or_else(|| Problem::OutOfRange {
            value: value.to_string(),
            expected: "a weight of at least 1 and at most 1000",
        })
}

/// One source: exactly one of its keys, and `callbacks` if and only if the kind is callback.
fn list_source(
    key: &str,
    raw: &Spanned<RawSource>,
    kind: CampaignKind,
    report: &mut Report<'_>,
) -> Option<ListSource> {
    let source = raw.get_ref();
    let given = [
        source.csv.is_some(),
        source.callbacks.is_some(),
        source.owners.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        report.add(key, Some(raw.span()), Problem::SourceCount);
        return None;
    }
    let parsed = if let Some(csv) = &source.csv {
        let path = text(&format!("{key}.csv"), csv, report);
        ListSource::Csv(PathBuf::from(path))
    } else if let Some(callbacks) = &source.callbacks {
        if !callbacks.get_ref() {
            report.add(
                format!("{key}.callbacks"),
                Some(callbacks.span()),
                Problem::CallbacksFalse,
            );
            return None;
        }
        ListSource::Callbacks
    } else {
        let owners = source.owners.as_ref()?;
        let (projects, buildings) = (
            owners.get_ref().projects.clone(),
            owners.get_ref().buildings.clone(),
        );
        if projects.is_empty() && buildings.is_empty() {
            report.add(
                format!("{key}.owners"),
                Some(owners.span()),
                Problem::NoOwners,
            );
            return None;
        }
        ListSource::Owners {
            projects,
            buildings,
        }
    };
    if (parsed == ListSource::Callbacks) != (kind == CampaignKind::Callback) {
        report.add(key, Some(raw.span()), Problem::KindSource);
    }
    Some(parsed)
}

/// Prompts or a script (surveys need a script; agentless calls need something to play).
fn content(
    prompts: Option<Texts>,
    script: Option<Spanned<String>>,
    kind: CampaignKind,
    mode: DialMode,
    voice: bool,
    report: &mut Report<'_>,
) -> Content {
    let span = |p: &Option<Texts>| p.as_ref().map(|p| p.span());
    let content = match (&prompts, &script) {
        (Some(_), Some(s)) => {
            report.add("script", Some(s.span()), Problem::PromptsAndScript);
            Content::Agent
        }
        (None, Some(s)) => Content::Script(PathBuf::from(text("script", s, report))),
        (Some(p), None) => {
            if p.get_ref().is_empty() {
                report.add("prompts", Some(p.span()), Problem::Empty);
            }
            let names = p.get_ref().iter().enumerate();
            Content::Prompts(
                names
                    .map(|(i, n)| text(&format!("prompts[{i}]"), n, report))
                    .collect(),
            )
        }
        (None, None) => Content::Agent,
    };
    if kind == CampaignKind::Survey && !matches!(content, Content::Script(_)) && script.is_none() {
        report.add("script", span(&prompts), Problem::ScriptRequired);
    } else if voice && mode == DialMode::Agentless && content == Content::Agent && prompts.is_none()
    {
        report.add("prompts", None, Problem::NothingToPlay);
    }
    content
}

/// Priorities are ordinary numbers (±1,000,000): extremes only invite overflow downstream.
fn bounded_priority(p: i64) -> Result<i64, Problem> {
    if (-1_000_000..=1_000_000).contains(&p) {
        Ok(p)
    } else {
        Err(Problem::Priority(p))
    }
}
