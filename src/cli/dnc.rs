//! `huifang dnc add|remove|check|list`

use std::process::ExitCode;

use clap::Subcommand;

use super::output::{json, table};
use crate::contacts::dnc;
use crate::phone::Phone;
use crate::store::Store;
use crate::vocab::Channel;

/// The do-not-call subcommands.
#[derive(Debug, Subcommand)]
pub enum DncCommand {
    /// Never reach this number on the channel.
    Add {
        /// The number.
        phone: String,
        /// voice, sms, email or all.
        #[arg(long, default_value = "all", value_parser = Channel::parse)]
        channel: Channel,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        /// Only for this campaign (its code); without it the entry holds for every campaign.
        #[arg(long)]
        campaign: Option<String>,
    },
    /// Allow the number again on the channel.
    Remove {
        /// The number.
        phone: String,
        /// voice, sms, email or all.
        #[arg(long, default_value = "all", value_parser = Channel::parse)]
        channel: Channel,
    },
    /// Whether the number may be reached on the channel (exit 1 when blocked).
    Check {
        /// The number.
        phone: String,
        /// voice, sms or email.
        #[arg(long, default_value = "voice", value_parser = Channel::parse)]
        channel: Channel,
    },
    /// Every entry.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(store: &Store, command: DncCommand) -> anyhow::Result<ExitCode> {
    match command {
        DncCommand::Add {
            phone,
            channel,
            reason,
            campaign,
        } => {
            let phone = Phone::parse(&phone)?;
            let scope = campaign.as_deref().unwrap_or("");
            dnc::add_in(store, &phone, channel, scope, &reason, chrono::Utc::now()).await?;
            match campaign {
                Some(code) => {
                    println!("{phone} is on campaign {code}'s do-not-call list for {channel}")
                }
                None => println!("{phone} is on the do-not-call list for {channel}"),
            }
        }
        DncCommand::Remove { phone, channel } => {
            let phone = Phone::parse(&phone)?;
            if !dnc::remove(store, &phone, channel).await? {
                eprintln!("{phone} was not on the do-not-call list for {channel}");
                return Ok(ExitCode::from(1));
            }
            println!("{phone} is off the do-not-call list for {channel}");
        }
        DncCommand::Check { phone, channel } => {
            let phone = Phone::parse(&phone)?;
            if dnc::is_blocked(store, &phone, channel).await? {
                println!("{phone}: do not contact by {channel}");
                return Ok(ExitCode::from(1));
            }
            println!("{phone}: may be contacted by {channel}");
        }
        DncCommand::List { json: as_json } => {
            let entries = dnc::list(store).await?;
            if as_json {
                json(&entries)?;
            } else {
                let mut t = table(&["phone", "channel", "since", "reason"]);
                for e in &entries {
                    t.add_row(vec![
                        e.phone.clone(),
                        e.channel.to_string(),
                        e.created_at.to_rfc3339(),
                        e.reason.clone(),
                    ]);
                }
                println!("{t}\n{} number(s)", entries.len());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
