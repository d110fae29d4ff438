//! Screen pop (来电弹屏): from a phone number to everything an agent needs, in one call — the
//! owner, their phones and units (from [`crate::contacts`]) and their tickets. It lives with the
//! desktop because it joins contacts and tickets, and contacts sit below tickets.

use serde::Serialize;

use crate::contacts::{
    Owner, UnitInfo, owner_by_phone, owner_phones, owner_units, owners_by_phone,
};
use crate::phone::Phone;
use crate::store::Store;
use crate::tickets::{Ticket, TicketRepo};
use crate::vocab::TicketState;

/// Everything about a caller.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScreenPop {
    /// The owner.
    pub owner: Owner,
    /// All their phones, primary first.
    pub phones: Vec<String>,
    /// All their units.
    pub units: Vec<UnitInfo>,
    /// Tickets not yet closed, newest first.
    pub open_tickets: Vec<Ticket>,
    /// Closed tickets, newest first.
    pub past_tickets: Vec<Ticket>,
}

/// The screen pop for a calling number, or `None` for an unknown caller.
pub async fn screen_pop(store: &Store, phone: &Phone) -> Result<Option<ScreenPop>, sqlx::Error> {
    let Some(owner) = owner_by_phone(store, phone).await? else {
        return Ok(None);
    };
    pop_of(store, owner).await.map(Some)
}

/// The screen pops of every owner of a calling number (none: an unknown caller), for the
/// agent to choose from.
pub async fn screen_pops(store: &Store, phone: &Phone) -> Result<Vec<ScreenPop>, sqlx::Error> {
    let mut pops = Vec::new();
    for owner in owners_by_phone(store, phone).await? {
        pops.push(pop_of(store, owner).await?);
    }
    Ok(pops)
}

async fn pop_of(store: &Store, owner: Owner) -> Result<ScreenPop, sqlx::Error> {
    let phones = owner_phones(store, owner.owner_id).await?;
    let units = owner_units(store, owner.owner_id).await?;
    let (past_tickets, open_tickets) = TicketRepo::new(store)
        .for_owner(owner.owner_id)
        .await?
        .into_iter()
        .partition(|t| t.state == TicketState::Closed);
    Ok(ScreenPop {
        owner,
        phones,
        units,
        open_tickets,
        past_tickets,
    })
}
