//! Message templates of the SMS and email channels, written with `tera`, one folder per
//! language: `templates/LANG/NAME.sms.txt`, `NAME.subject.txt`, `NAME.email.txt` and an
//! optional `NAME.email.html` (autoescaped), beside the campaign file.
//!
//! Every template is rendered once at load time with a complete sample [`MessageContext`],
//! so a misspelt or missing variable (`{{ owner.nmae }}`) is an error of `campaign validate`
//! naming the file, not a blank in an owner's SMS. At send time the context always carries
//! every field (empty when unknown: a CSV contact has no unit), so rendering cannot fail on a
//! missing value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Campaign;
use crate::vocab::Channel;

/// The default language: every template must exist in it.
pub const DEFAULT_LANGUAGE: &str = "zh-CN";

/// What a template may use.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MessageContext {
    /// The owner.
    pub owner: OwnerFields,
    /// The owner's (first) unit.
    pub unit: UnitFields,
    /// The ticket a callback is about.
    pub ticket: TicketFields,
    /// The campaign.
    pub campaign: CampaignFields,
    /// The keys a survey reply may use (`reply.min`–`reply.max`), 0–0 when none.
    pub reply: ReplyFields,
}

/// `owner.*`
#[derive(Debug, Clone, Default, Serialize)]
pub struct OwnerFields {
    /// Name (empty for a list contact without an owner record).
    pub name: String,
    /// The number messaged or called.
    pub phone: String,
    /// Email address, when known.
    pub email: String,
}

/// `unit.*`
#[derive(Debug, Clone, Default, Serialize)]
pub struct UnitFields {
    /// Unit code, e.g. `HYF-3-1201`.
    pub code: String,
    /// Project name.
    pub project: String,
    /// Building name.
    pub building: String,
    /// Handover date (`YYYY-MM-DD`), when set.
    pub handover_date: String,
}

/// `ticket.*`
#[derive(Debug, Clone, Default, Serialize)]
pub struct TicketFields {
    /// Ticket number (0 when the message is about none).
    pub id: i64,
    /// Category in Chinese (工程质量, 物业, ...).
    pub category: String,
    /// What the owner reported.
    pub description: String,
}

/// `campaign.*`
#[derive(Debug, Clone, Default, Serialize)]
pub struct CampaignFields {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
}

/// `reply.*`
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplyFields {
    /// Lowest key.
    pub min: u8,
    /// Highest key.
    pub max: u8,
}

impl MessageContext {
    /// A context with every field filled, for checking templates.
    pub fn sample(code: &str, name: &str) -> MessageContext {
        MessageContext {
            owner: OwnerFields {
                name: "王先生".into(),
                phone: "+8613800000000".into(),
                email: "owner@example.com".into(),
            },
            unit: UnitFields {
                code: "HYF-3-1201".into(),
                project: "和悦府".into(),
                building: "3".into(),
                handover_date: "2026-12-20".into(),
            },
            ticket: TicketFields {
                id: 1,
                category: "工程质量".into(),
                description: "卫生间漏水".into(),
            },
            campaign: CampaignFields {
                code: code.into(),
                name: name.into(),
            },
            reply: ReplyFields { min: 1, max: 5 },
        }
    }
}

/// A template that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A file the channels need is missing in the default language.
    #[error("{path}: missing (the {channel} channel needs it in {DEFAULT_LANGUAGE})")]
    Missing {
        /// The file expected.
        path: PathBuf,
        /// The channel.
        channel: Channel,
    },
    /// A file does not parse or does not render with the sample context.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Tera's reason, with its causes.
        reason: String,
    },
}

/// The parts of one message: the SMS text, or an email's subject, text and HTML.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Email subject (empty for SMS).
    pub subject: String,
    /// SMS text or email text body.
    pub text: String,
    /// Email HTML body.
    pub html: Option<String>,
}

/// A campaign's templates in every language found, compiled once.
#[derive(Debug)]
pub struct MessageTemplates {
    tera: tera::Tera,
    /// Template names present, by language.
    languages: BTreeMap<String, Vec<String>>,
}

/// The files of each channel: (suffix, required).
fn files(channel: Channel) -> &'static [(&'static str, bool)] {
    match channel {
        Channel::Sms => &[("sms.txt", true)],
        Channel::Email => &[
            ("subject.txt", true),
            ("email.txt", true),
            ("email.html", false),
        ],
        Channel::Voice | Channel::All => &[],
    }
}

impl MessageTemplates {
    /// The templates `campaign` names for its SMS and email channels (`None`: it names none),
    /// from `base_dir` (the campaign file's folder), each checked with a sample context.
    pub fn of_campaign(
        campaign: &Campaign,
        base_dir: &Path,
    ) -> Result<Option<MessageTemplates>, Vec<TemplateError>> {
        let Some(name) = campaign.template() else {
            return Ok(None);
        };
        let channels: Vec<Channel> = campaign
            .channels()
            .iter()
            .copied()
            .filter(|c| *c != Channel::Voice)
            .collect();
        let sample = MessageContext::sample(campaign.code(), campaign.name());
        MessageTemplates::load(base_dir, name, &channels, &sample).map(Some)
    }

    /// Loads template `name` for `channels` from `base_dir/templates/LANG/`, checking each file
    /// against a sample context. Every problem is reported, not just the first.
    pub fn load(
        base_dir: &Path,
        name: &str,
        channels: &[Channel],
        sample: &MessageContext,
    ) -> Result<MessageTemplates, Vec<TemplateError>> {
        let dir = base_dir.join("templates");
        let mut languages = vec![DEFAULT_LANGUAGE.to_string()];
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut found: Vec<String> = entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|l| l != DEFAULT_LANGUAGE)
                .collect();
            found.sort();
            languages.extend(found);
        }
        let mut tera = tera::Tera::default();
        let mut present: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut errors = Vec::new();
        let context = tera::Context::from_serialize(sample).unwrap_or_default();
        for language in &languages {
            for channel in channels {
                for (suffix, required) in files(*channel) {
                    let path = dir.join(language).join(format!("{name}.{suffix}"));
                    let key = format!("{language}/{name}.{suffix}");
                    let text = match std::fs::read_to_string(&path) {
                        Ok(text) => text,
                        Err(_) if *required && language == DEFAULT_LANGUAGE => {
                            errors.push(TemplateError::Missing {
                                path,
                                channel: *channel,
                            });
                            continue;
                        }
                        Err(_) => continue,
                    };
                    let checked = tera
                        .add_raw_template(&key, &text)
                        .and_then(|()| tera.render(&key, &context));
                    match checked {
                        Ok(_) => present.entry(language.clone()).or_default().push(key),
                        Err(e) => errors.push(TemplateError::Invalid {
                            path,
                            reason: causes(&e),
                        }),
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(MessageTemplates {
                tera,
                languages: present,
            })
        } else {
            Err(errors)
        }
    }

    /// Renders the message of `channel` in `language` (else the default language) for one
    /// contact.
    pub fn render(
        &self,
        channel: Channel,
        language: &str,
        context: &MessageContext,
    ) -> Result<Rendered, tera::Error> {
        let context = tera::Context::from_serialize(context)?;
        let pick = |suffix: &str| -> Option<String> {
            [language, DEFAULT_LANGUAGE].into_iter().find_map(|l| {
                self.languages
                    .get(l)?
                    .iter()
                    .find(|k| k.ends_with(&format!(".{suffix}")))
                    .cloned()
            })
        };
        let render = |suffix: &str| -> Result<Option<String>, tera::Error> {
            pick(suffix)
                .map(|key| self.tera.render(&key, &context))
                .transpose()
        };
        Ok(match channel {
            Channel::Email => Rendered {
                subject: render("subject.txt")?
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                text: render("email.txt")?.unwrap_or_default(),
                html: render("email.html")?,
            },
            _ => Rendered {
                subject: String::new(),
                text: render("sms.txt")?.unwrap_or_default().trim().to_string(),
                html: None,
            },
        })
    }
}

/// A tera error with its causes (the useful part, such as the missing variable, is a cause).
fn causes(e: &tera::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, text: &str) {
        let path = dir.join("templates").join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn templates_render_per_language_with_fallback() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "zh-CN/n.sms.txt",
            "{{ owner.name }}您好，{{ unit.code }}可以交付了。\n",
        );
        write(
            dir.path(),
            "en/n.sms.txt",
            "Dear {{ owner.name }}, {{ unit.code }} is ready.",
        );
        write(
            dir.path(),
            "zh-CN/n.subject.txt",
            "交付通知 {{ unit.code }}",
        );
        write(dir.path(), "zh-CN/n.email.txt", "{{ owner.name }}您好");
        write(dir.path(), "zh-CN/n.email.html", "<p>{{ owner.name }}</p>");
        let sample = MessageContext::sample("c", "C");
        let t = MessageTemplates::load(dir.path(), "n", &[Channel::Sms, Channel::Email], &sample)
            .unwrap();
        let mut ctx = MessageContext::sample("c", "C");
        ctx.owner.name = "<李>".into();
        let sms = t.render(Channel::Sms, "en", &ctx).unwrap();
        assert_eq!(sms.text, "Dear <李>, HYF-3-1201 is ready.");
        let email = t.render(Channel::Email, "en", &ctx).unwrap();
        assert_eq!(email.subject, "交付通知 HYF-3-1201", "falls back to zh-CN");
        assert_eq!(
            email.html.as_deref(),
            Some("<p>&lt;李&gt;</p>"),
            "HTML is escaped"
        );
    }

    #[test]
    fn a_misspelt_variable_or_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "zh-CN/n.sms.txt", "{{ owner.nmae }}您好");
        let sample = MessageContext::sample("c", "C");
        let errors =
            MessageTemplates::load(dir.path(), "n", &[Channel::Sms, Channel::Email], &sample)
                .unwrap_err();
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(
            text[0].contains("n.sms.txt") && text[0].contains("nmae"),
            "{}",
            text[0]
        );
        assert!(text[1].contains("n.subject.txt: missing"), "{}", text[1]);
        assert!(text[2].contains("n.email.txt: missing"), "{}", text[2]);
    }
}
