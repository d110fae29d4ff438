//! `huifang user add|list|disable|enable|unlock`: console accounts. Every change is written
//! to the audit log with the actor `cli:USER`.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;

use super::output::{json, table};
use crate::audit::{AuditAction, AuditEntry, AuditLog};
use crate::store::Store;
use crate::users::{NewUser, Role, Users, random_token};

/// The account subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (or with `--reset`, set a new password, role and team on one).
    /// Without `--password-stdin` a password is generated and printed once; its owner must
    /// choose their own at the first login.
    Add {
        /// Login name (letters, digits, `.`, `_`, `-`); an agent's name on their calls.
        username: String,
        /// admin, supervisor or agent.
        #[arg(long)]
        role: Role,
        /// The group: a supervisor sees the agents of the same team.
        #[arg(long, default_value = "")]
        team: String,
        /// Name shown in the console (default: the username).
        #[arg(long, default_value = "")]
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Replace an existing account's password, role and team.
        #[arg(long)]
        reset: bool,
    },
    /// Every account with its state (active, disabled, locked) and last login.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Switch an account off: its sessions end at once and it cannot log in.
    Disable {
        /// Login name.
        username: String,
    },
    /// Switch a disabled account on again.
    Enable {
        /// Login name.
        username: String,
    },
    /// End a lock-out after too many wrong passwords.
    Unlock {
        /// Login name.
        username: String,
    },
}

/// Who runs the command line, as the audit log names them.
pub(crate) fn cli_actor() -> String {
    let who = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{who}")
}

/// Writes an audit row for an account change made here.
async fn audit(
    store: &Store,
    action: AuditAction,
    username: &str,
    detail: &str,
) -> anyhow::Result<()> {
    let actor = cli_actor();
    let entry = AuditEntry {
        actor: &actor,
        action,
        target: &format!("user:{username}"),
        address: "",
        detail,
    };
    AuditLog::new(store).record(&entry, Utc::now()).await?;
    Ok(())
}

pub(crate) async fn run(store: &Store, command: UserCommand) -> anyhow::Result<ExitCode> {
    let users = Users::new(store);
    match command {
        UserCommand::Add {
            username,
            role,
            team,
            name,
            password_stdin,
            reset,
        } => {
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the password from standard input")?;
                (line.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (random_token()[..16].to_string(), true)
            };
            let new = NewUser {
                username: &username,
                display_name: &name,
                role,
                team: &team,
                password: &password,
                must_change: generated,
            };
            let detail = format!(
                "role {role}, team `{team}`{}",
                if reset { ", reset" } else { "" }
            );
            audit(store, AuditAction::AccountAdd, &username, &detail).await?;
            let user = users.add(&new, reset, Utc::now()).await?;
            println!(
                "{} {} ({})",
                if reset { "reset" } else { "added" },
                user.username,
                user.role
            );
            if generated {
                println!("password: {password} (to be changed at the first login)");
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::List { json: as_json } => {
            let all = users.accounts(Utc::now()).await?;
            if as_json {
                json(&all)?;
            } else {
                let mut t = table(&["username", "name", "role", "team", "state", "last login"]);
                for a in &all {
                    t.add_row(vec![
                        a.user.username.clone(),
                        a.user.display_name.clone(),
                        a.user.role.to_string(),
                        a.user.team.clone(),
                        a.state.to_string(),
                        a.last_login_at
                            .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                            .unwrap_or_else(|| "never".into()),
                    ]);
                }
                println!("{t}\n{} account(s)", all.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Disable { username } => {
            audit(store, AuditAction::AccountDisable, &username, "").await?;
            users.disable(&username).await?;
            println!("disabled {username}: its sessions are ended");
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Enable { username } => {
            audit(store, AuditAction::AccountEnable, &username, "").await?;
            users.enable(&username).await?;
            println!("enabled {username}");
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Unlock { username } => {
            audit(store, AuditAction::AccountUnlock, &username, "").await?;
            users.unlock(&username).await?;
            println!("unlocked {username}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
