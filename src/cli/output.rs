//! Printing: tables for people, JSON for programs.

use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use serde::Serialize;

use crate::tickets::Ticket;
use crate::tickets::sla::local_time;

/// A table with the house style.
pub(crate) fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    table
}

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// One line per ticket.
pub(crate) fn ticket_table(tickets: &[Ticket]) -> Table {
    let mut t = table(&[
        "#",
        "state",
        "level",
        "kind",
        "category",
        "unit",
        "warranty",
        "opened",
        "reply due",
        "description",
    ]);
    for ticket in tickets {
        t.add_row(vec![
            ticket.ticket_id.to_string(),
            ticket.state.to_string(),
            ticket.level.to_string(),
            ticket.kind.to_string(),
            ticket.category.to_string(),
            ticket.unit_code.clone().unwrap_or_default(),
            ticket.warranty.to_string(),
            local_time(ticket.opened_at),
            ticket.ack_due_at.map(local_time).unwrap_or_default(),
            ticket.description.chars().take(30).collect(),
        ]);
    }
    t
}
