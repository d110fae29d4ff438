//! `huifang ticket open|dispatch|ack|onsite|complete|close|reopen|escalate|show|list` and
//! `huifang escalate`.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::output::{json, table, ticket_table};
use crate::tickets::sla::{breach, local_time};
use crate::tickets::{Action, OpenTicket, TicketDesk, TicketFilter, TicketRepo};
use crate::vocab::{Category, Level, TicketKind, TicketState};

/// The ticket subcommands.
#[derive(Debug, Subcommand)]
pub enum TicketCommand {
    /// Log a new ticket.
    Open(OpenArgs),
    /// Send to the responsible person (SMS into the outbox).
    Dispatch(ActArgs),
    /// The responsible person replied.
    Ack(ActArgs),
    /// Someone is on site.
    Onsite(ActArgs),
    /// The work is done (creates the callback task).
    Complete(ActArgs),
    /// The owner is being called back.
    Callback(ActArgs),
    /// Close with the owner's agreement.
    Close(ActArgs),
    /// Not solved: back to the responsible person.
    Reopen(ActArgs),
    /// Raise one escalation level by hand.
    Escalate(ActArgs),
    /// A ticket with its timeline.
    Show {
        /// Ticket number.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tickets, newest first.
    List(ListArgs),
    /// The agents' callback list: owners a person must call back (unsatisfied, unreached,
    /// left neutral by a callback survey), soonest due first.
    Callbacks {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `ticket open`.
#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The caller's number.
    #[arg(long)]
    phone: Option<String>,
    /// The owner's code (instead of, or besides, the phone).
    #[arg(long)]
    owner: Option<String>,
    /// The unit code; may be left out when the owner has one unit.
    #[arg(long)]
    unit: Option<String>,
    /// consultation, repair, complaint or service (or 咨询/报修/投诉/服务).
    #[arg(long, value_parser = TicketKind::parse)]
    kind: TicketKind,
    /// materials, construction_quality, planning_design, property_management, customer_service_sales.
    #[arg(long, value_parser = Category::parse)]
    category: Category,
    /// The component concerned (kitchen, windows, ...): decides the warranty.
    #[arg(long)]
    component: Option<String>,
    /// The owner's words.
    #[arg(long, short)]
    description: String,
    /// The owner waits on site (starts the on-site clock).
    #[arg(long)]
    on_site: bool,
    /// Who logs it.
    #[arg(long, default_value = "agent")]
    actor: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of the life-cycle subcommands.
#[derive(Debug, Args)]
pub struct ActArgs {
    /// Ticket number.
    id: i64,
    /// Who does it.
    #[arg(long, default_value = "agent")]
    actor: String,
    /// Why (kept on the timeline).
    #[arg(long, default_value = "")]
    reason: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `ticket list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only in this state.
    #[arg(long, value_parser = TicketState::parse)]
    state: Option<TicketState>,
    /// Only at this level.
    #[arg(long, value_parser = Level::parse)]
    level: Option<Level>,
    /// Only of this category.
    #[arg(long, value_parser = Category::parse)]
    category: Option<Category>,
    /// Only of this project (code).
    #[arg(long)]
    project: Option<String>,
    /// Only those past an SLA limit now.
    #[arg(long)]
    overdue: bool,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `escalate`.
#[derive(Debug, Args)]
pub struct EscalateArgs {
    /// Repeat every this many seconds (a worker) instead of one pass.
    #[arg(long)]
    every: Option<u64>,
}

pub(crate) async fn run(desk: &TicketDesk, command: TicketCommand) -> anyhow::Result<ExitCode> {
    let (action, args) = match command {
        TicketCommand::Open(args) => return open(desk, args).await,
        TicketCommand::Show { id, json } => return show(desk, id, json).await,
        TicketCommand::List(args) => return list(desk, args).await,
        TicketCommand::Callbacks { json } => return agent_callbacks(desk, json).await,
        TicketCommand::Escalate(args) => {
            let done = desk.escalate(args.id, &args.actor, &args.reason).await?;
            if args.json {
                json(&done)?;
            } else {
                let told = done
                    .notified
                    .map(|s| format!(", {s} notified"))
                    .unwrap_or_default();
                println!("ticket #{} is now {}{told}", done.ticket_id, done.level);
            }
            return Ok(ExitCode::SUCCESS);
        }
        TicketCommand::Dispatch(a) => (Action::Dispatch, a),
        TicketCommand::Ack(a) => (Action::Acknowledge, a),
        TicketCommand::Onsite(a) => (Action::ArriveOnSite, a),
        TicketCommand::Complete(a) => (Action::Complete, a),
        TicketCommand::Callback(a) => (Action::StartCallback, a),
        TicketCommand::Close(a) => (Action::Close, a),
        TicketCommand::Reopen(a) => (Action::Reopen, a),
    };
    let ticket = desk.act(args.id, &args.actor, action, &args.reason).await?;
    if args.json {
        json(&ticket)?;
    } else {
        println!("ticket #{} is now {}", ticket.ticket_id, ticket.state);
    }
    Ok(ExitCode::SUCCESS)
}

async fn open(desk: &TicketDesk, args: OpenArgs) -> anyhow::Result<ExitCode> {
    let ticket = desk
        .open(OpenTicket {
            phone: args.phone,
            owner: args.owner,
            unit: args.unit,
            kind: args.kind,
            category: args.category,
            component: args.component,
            description: args.description,
            owner_on_site: args.on_site,
            actor: args.actor,
        })
        .await?;
    if args.json {
        json(&ticket)?;
    } else {
        println!(
            "ticket #{} opened ({} {}, unit {}, {})",
            ticket.ticket_id,
            ticket.kind,
            ticket.category,
            ticket.unit_code.as_deref().unwrap_or("unknown"),
            ticket.warranty
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(desk: &TicketDesk, id: i64, as_json: bool) -> anyhow::Result<ExitCode> {
    let repo = TicketRepo::new(desk.store());
    let Some(ticket) = repo.get(id).await? else {
        anyhow::bail!("ticket #{id} does not exist");
    };
    let timeline = repo.timeline(id).await?;
    if as_json {
        json(&serde_json::json!({ "ticket": ticket, "timeline": timeline }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", ticket_table(std::slice::from_ref(&ticket)));
    println!("description: {}", ticket.description);
    if let Some(b) = breach(&ticket, desk.now()) {
        println!("OVERDUE: {}", b.describe());
    }
    let mut t = table(&["when", "who", "what", "state", "level", "why"]);
    for e in timeline {
        let state = match (e.from_state, e.to_state) {
            (Some(from), Some(to)) => format!("{from} → {to}"),
            (None, Some(to)) => to,
            _ => String::new(),
        };
        t.add_row(vec![
            local_time(e.at),
            e.actor,
            e.action,
            state,
            e.level.unwrap_or_default(),
            e.reason,
        ]);
    }
    println!("{t}");
    Ok(ExitCode::SUCCESS)
}

async fn list(desk: &TicketDesk, args: ListArgs) -> anyhow::Result<ExitCode> {
    let filter = TicketFilter {
        state: args.state,
        level: args.level,
        category: args.category,
        project: args.project,
        overdue: args.overdue,
        limit: Some(args.limit),
    };
    let tickets = TicketRepo::new(desk.store())
        .list(&filter, desk.now())
        .await?;
    if args.json {
        json(&tickets)?;
    } else {
        println!("{}", ticket_table(&tickets));
        println!("{} ticket(s)", tickets.len());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn escalate_overdue(
    desk: &TicketDesk,
    args: EscalateArgs,
) -> anyhow::Result<ExitCode> {
    loop {
        for done in desk.escalate_overdue().await? {
            println!(
                "ticket #{} → {} ({}){}",
                done.ticket_id,
                done.level,
                done.reason,
                done.notified
                    .map(|s| format!(", {s} notified"))
                    .unwrap_or_default()
            );
        }
        let Some(every) = args.every else {
            return Ok(ExitCode::SUCCESS);
        };
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(every.max(1))) => {}
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
    }
}

async fn agent_callbacks(desk: &TicketDesk, as_json: bool) -> anyhow::Result<ExitCode> {
    let list = crate::callbacks::agent_callbacks(desk.store()).await?;
    if as_json {
        json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = table(&["due", "ticket", "phone", "reason", "note"]);
    for c in &list {
        t.add_row(vec![
            local_time(c.due_at),
            c.ticket_id.map(|id| format!("#{id}")).unwrap_or_default(),
            c.phone.clone(),
            c.reason.clone(),
            c.note.clone(),
        ]);
    }
    println!("{t}");
    println!("{} owners to call back", list.len());
    Ok(ExitCode::SUCCESS)
}
