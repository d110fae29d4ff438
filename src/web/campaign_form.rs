//! The create form of a campaign: the fields a supervisor fills in, the TOML definition built
//! from them, and where each validation error is shown.
//!
//! The form builds the same TOML a file would hold, so one validator ([`Campaign::parse`])
//! judges both ways in; its errors name dotted keys, which [`field_of`] maps to the input the
//! supervisor typed the value into. What the form itself cannot read (a window line without
//! `=`, a cap that is no number) is reported on its field before the validator runs.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::campaigns::{Campaign, CampaignError, ListSource, companions};

/// The fields of the create form, as typed (kept to be shown again with the errors).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(super) struct CampaignForm {
    pub(super) csrf: String,
    /// `validate` or `create`.
    pub(super) op: String,
    /// A whole TOML definition; when given, the other fields are ignored.
    pub(super) definition: String,
    pub(super) code: String,
    pub(super) name: String,
    pub(super) kind: String,
    /// `csv`, `callbacks` or `owners`.
    pub(super) source: String,
    pub(super) csv: String,
    pub(super) projects: String,
    pub(super) buildings: String,
    pub(super) mode: String,
    /// One line per day set: `mon-fri = 09:00-12:00, 14:00-20:00`; `holidays = ...` too.
    pub(super) windows: String,
    /// One line per rule: `busy = 30m max 3`, `daily_cap = 3`.
    pub(super) retry: String,
    pub(super) max_abandon_pct: String,
    pub(super) script: String,
    pub(super) prompts: String,
    pub(super) channels: String,
    pub(super) template: String,
    /// A checkbox: start at once after creating.
    pub(super) start: Option<String>,
}

/// Errors by form field (`form`: the top of the form), several per field possible.
pub(super) type FieldErrors = BTreeMap<String, Vec<String>>;

/// The field of the top of the form, for errors that name no input.
pub(super) const FORM: &str = "form";

fn add(errors: &mut FieldErrors, field: &str, message: impl Into<String>) {
    errors
        .entry(field.to_string())
        .or_default()
        .push(message.into());
}

/// A TOML string literal (quoted and escaped).
fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// `["a", "b"]` of the comma- or space-separated words of `text`.
fn array(text: &str) -> String {
    let items: Vec<String> = words(text).map(quote).collect();
    format!("[{}]", items.join(", "))
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c == ',' || c == '，' || c.is_whitespace())
        .filter(|w| !w.is_empty())
}

impl CampaignForm {
    /// Whether a whole definition was pasted (then it is the one judged).
    pub(super) fn pasted(&self) -> bool {
        !self.definition.trim().is_empty()
    }

    /// The TOML definition of the form's fields, or the errors of fields the form itself
    /// cannot read. Empty optional fields are left out, so the format's defaults apply.
    pub(super) fn to_toml(&self) -> Result<String, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut top = vec![
            format!("code = {}", quote(self.code.trim())),
            format!("name = {}", quote(self.name.trim())),
            format!("kind = {}", quote(self.kind.trim())),
        ];
        let mut optional = |key: &str, value: &str| {
            if !value.trim().is_empty() {
                top.push(format!("{key} = {}", quote(value.trim())));
            }
        };
        optional("mode", &self.mode);
        optional("script", &self.script);
        optional("template", &self.template);
        if words(&self.channels).next().is_some() {
            top.push(format!("channels = {}", array(&self.channels)));
        }
        if words(&self.prompts).next().is_some() {
            top.push(format!("prompts = {}", array(&self.prompts)));
        }
        let cap = self.max_abandon_pct.trim();
        if !cap.is_empty() {
            match cap.parse::<f64>() {
                Ok(v) if v.is_finite() => top.push(format!("max_abandon_pct = {v:?}")),
                _ => add(
                    &mut errors,
                    "max_abandon_pct",
                    format!("`{cap}` is not a number (percent, e.g. 3 or 2.5)"),
                ),
            }
        }
        let mut text = top.join("\n");
        text.push('\n');
        match self.source.trim() {
            "" => {}
            "csv" if self.csv.trim().is_empty() => add(
                &mut errors,
                "csv",
                "give the CSV file's path (relative to the campaigns folder)",
            ),
            "csv" => text.push_str(&format!("\n[source]\ncsv = {}\n", quote(self.csv.trim()))),
            "callbacks" => text.push_str("\n[source]\ncallbacks = true\n"),
            "owners" => text.push_str(&format!(
                "\n[source]\nowners = {{ projects = {}, buildings = {} }}\n",
                array(&self.projects),
                array(&self.buildings)
            )),
            other => add(
                &mut errors,
                "source",
                format!("unknown list source `{other}`: expected csv, callbacks or owners"),
            ),
        }
        match table_lines(&self.windows, window_line) {
            Ok(lines) if lines.is_empty() => {}
            Ok(lines) => text.push_str(&format!("\n[windows]\n{}\n", lines.join("\n"))),
            Err(e) => add(&mut errors, "windows", e),
        }
        match table_lines(&self.retry, retry_line) {
            Ok(lines) if lines.is_empty() => {}
            Ok(lines) => text.push_str(&format!("\n[retry]\n{}\n", lines.join("\n"))),
            Err(e) => add(&mut errors, "retry", e),
        }
        if errors.is_empty() {
            Ok(text)
        } else {
            Err(errors)
        }
    }
}

/// The non-empty lines of a textarea, each turned into a TOML line by `line`.
fn table_lines(
    text: &str,
    line: fn(&str, &str) -> Result<String, String>,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let Some((key, value)) = raw.split_once('=') else {
            return Err(format!("line {}: `{raw}` has no `=`", n + 1));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("line {}: `{raw}` names nothing before `=`", n + 1));
        }
        out.push(line(key, value.trim()).map_err(|e| format!("line {}: {e}", n + 1))?);
    }
    Ok(out)
}

/// `mon-fri = 09:00-12:00, 14:00-20:00` → `"mon-fri" = ["09:00-12:00", "14:00-20:00"]`.
fn window_line(days: &str, ranges: &str) -> Result<String, String> {
    Ok(format!("{} = {}", quote(days), array(ranges)))
}

/// `busy = 30m max 3` → `busy = { after = "30m", max = 3 }`; `daily_cap = 3` as it is.
fn retry_line(key: &str, value: &str) -> Result<String, String> {
    let number = |text: &str| {
        text.parse::<i64>()
            .map_err(|_| format!("`{text}` is not a whole number"))
    };
    if key.ends_with("_cap") {
        return Ok(format!("{} = {}", quote(key), number(value)?));
    }
    let parts: Vec<&str> = value.split_whitespace().collect();
    let (after, max) = match parts.as_slice() {
        [after, "max", max] | [after, max] => (*after, number(max)?),
        _ => return Err(format!("`{key} = {value}`: write `{key} = 30m max 3`")),
    };
    Ok(format!(
        "{} = {{ after = {}, max = {max} }}",
        quote(key),
        quote(after)
    ))
}

/// The form input a definition key was typed into (`form` when none).
pub(super) fn field_of(key: &str) -> &'static str {
    let head = key.split(['.', '[']).next().unwrap_or("");
    match head {
        "code" => "code",
        "name" => "name",
        "kind" => "kind",
        "mode" => "mode",
        "windows" => "windows",
        "retry" => "retry",
        "max_abandon_pct" => "max_abandon_pct",
        "script" => "script",
        "prompts" => "prompts",
        "channels" => "channels",
        "template" => "template",
        "source" | "lists" if key.contains(".csv") => "csv",
        "source" | "lists" if key.contains(".owners") => "projects",
        "source" | "lists" => "source",
        _ => FORM,
    }
}

/// What a form field shows of one definition error: the key and the problem (the line of a
/// generated definition means nothing to whoever filled the form in).
fn message(error: &CampaignError) -> String {
    match error {
        CampaignError::Invalid { key, problem, .. } => format!("{key}: {problem}"),
        CampaignError::Syntax {
            key: Some(key),
            message,
            ..
        } => format!("{key}: {message}"),
        other => other.to_string(),
    }
}

/// Judges a definition: the campaign, or its errors by field. A pasted definition's errors all
/// go next to it (with their lines); a built one's next to the inputs they are about. Script
/// and message templates are checked relative to `base` (the server's campaigns folder).
pub(super) fn judge(text: &str, pasted: bool, base: &Path) -> Result<Campaign, FieldErrors> {
    let mut errors = FieldErrors::new();
    let campaign = match Campaign::parse(text, "definition") {
        Ok(campaign) => campaign,
        Err(all) => {
            for e in &all.0 {
                if pasted {
                    add(&mut errors, "definition", e.to_string());
                } else {
                    add(&mut errors, field_of(e.key().unwrap_or("")), message(e));
                }
            }
            return Err(errors);
        }
    };
    // The console reads lists and scripts only inside its campaigns folder: a path that
    // leaves it (absolute, or with `..`) would let a browser read any file the server can.
    let outside = |path: &Path| {
        path.components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
    };
    let mut paths: Vec<(&Path, &str)> = Vec::new();
    for list in campaign.lists() {
        if let ListSource::Csv(csv) = &list.source {
            paths.push((csv, "csv"));
        }
    }
    if let crate::campaigns::Content::Script(script) = campaign.content() {
        paths.push((script, "script"));
    }
    for (path, field) in paths {
        if outside(path) {
            let field = if pasted { "definition" } else { field };
            add(
                &mut errors,
                field,
                format!(
                    "{}: give a path inside the campaigns folder (no absolute path, no `..`)",
                    path.display()
                ),
            );
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // A CSV list that is not there would fail only after the draft is stored: say so now.
    for list in campaign.lists() {
        if let ListSource::Csv(csv) = &list.source
            && !base.join(csv).is_file()
        {
            let field = if pasted { "definition" } else { "csv" };
            let shown = base.join(csv).display().to_string();
            add(&mut errors, field, format!("{shown}: no such CSV file"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if let Err(e) = companions::check(&campaign, base) {
        let field = match (&e, pasted) {
            (_, true) => "definition",
            (companions::CompanionError::Script(_), false) => "script",
            (companions::CompanionError::Templates(_), false) => "template",
        };
        add(&mut errors, field, e.to_string());
        return Err(errors);
    }
    Ok(campaign)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_campaigns_folder_are_refused() {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns");
        for (csv, ok) in [
            ("/etc/passwd", false),
            ("../Cargo.toml", false),
            ("lists/x.csv", true),
        ] {
            let text = format!(
                "code = \"t\"\nname = \"t\"\nkind = \"notification\"\nmode = \"agentless\"\n\
                 prompts = [\"beep\"]\n[source]\ncsv = \"{csv}\"\n[windows]\nmon-sun = [\"09:00-18:00\"]\n"
            );
            let errors = judge(&text, true, &base).unwrap_err();
            let said = errors["definition"].join(" ");
            assert_eq!(
                said.contains("inside the campaigns folder"),
                !ok,
                "{csv}: {said}"
            );
        }
    }

    fn form() -> CampaignForm {
        CampaignForm {
            code: "handover-b7".into(),
            name: "交付通知 \"B7\"".into(),
            kind: "notification".into(),
            source: "owners".into(),
            projects: "HYF".into(),
            buildings: "HYF-3, HYF-5".into(),
            mode: "agentless".into(),
            windows: "mon-fri = 09:00-12:00, 14:00-19:30\nsat = 10:00-12:00\nsun =\n".into(),
            retry: "busy = 30m max 2\nno_answer = 3h 2\ndaily_cap = 2".into(),
            max_abandon_pct: "2.5".into(),
            prompts: "handover-notice handover-date".into(),
            ..CampaignForm::default()
        }
    }

    #[test]
    fn the_form_builds_a_definition_the_validator_accepts() {
        let text = form().to_toml().expect("builds");
        assert!(text.contains("[windows]\n\"mon-fri\" = [\"09:00-12:00\", \"14:00-19:30\"]"));
        assert!(text.contains("\"sun\" = []"), "{text}");
        assert!(
            text.contains("\"busy\" = { after = \"30m\", max = 2 }"),
            "{text}"
        );
        assert!(text.contains("max_abandon_pct = 2.5"), "{text}");
        let campaign = Campaign::parse(&text, "form").expect("valid");
        assert_eq!(campaign.name(), "交付通知 \"B7\"");
        assert_eq!(campaign.max_abandon_pct(), 2.5);
        assert_eq!(campaign.windows().count(), 11);
        assert_eq!(campaign.retry().daily_cap(), 2);
    }

    #[test]
    fn what_the_form_cannot_read_is_named_on_its_field() {
        let bad = CampaignForm {
            max_abandon_pct: "three".into(),
            windows: "mon-fri 09:00-12:00".into(),
            retry: "busy = soon".into(),
            source: "csv".into(),
            ..form()
        };
        let errors = bad.to_toml().unwrap_err();
        assert!(errors["max_abandon_pct"][0].contains("`three` is not a number"));
        assert!(errors["windows"][0].contains("line 1"));
        assert!(errors["retry"][0].contains("busy = 30m max 3"));
        assert!(errors["csv"][0].contains("CSV file"));
    }

    #[test]
    fn definition_errors_go_next_to_their_inputs() {
        assert_eq!(field_of("windows.mon-fri[0]"), "windows");
        assert_eq!(field_of("retry.busy.after"), "retry");
        assert_eq!(field_of("source.csv"), "csv");
        assert_eq!(field_of("lists[1].source.owners"), "projects");
        assert_eq!(field_of("lists[0].weight"), "source");
        assert_eq!(field_of("caller_id"), FORM);
        assert_eq!(field_of(""), FORM);
        let bad = CampaignForm {
            mode: "turbo".into(),
            windows: "mon-fri = 25:00-26:00".into(),
            ..form()
        };
        let text = bad.to_toml().unwrap();
        let errors = judge(&text, false, Path::new("campaigns")).unwrap_err();
        assert!(
            errors["mode"][0].contains("unknown dial mode `turbo`"),
            "{errors:?}"
        );
        assert!(errors["windows"][0].starts_with("windows.mon-fri[0]: `25:00-26:00`"));
        let pasted = judge(&text, true, Path::new("campaigns")).unwrap_err();
        assert!(
            pasted["definition"][0].starts_with("definition:"),
            "{pasted:?}"
        );
    }
}
