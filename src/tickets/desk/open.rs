//! Opening a ticket: the caller's owner and unit looked up, the warranty decided, the ticket
//! and its first timeline event written in one transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{TicketDesk, TicketError};
use crate::contacts::{self, UnitPlace, UnitRef};
use crate::phone::Phone;
use crate::tickets::Ticket;
use crate::tickets::repo::{self, NewEvent};
use crate::vocab::{Category, Level, TicketKind, TicketState, Warranty};

/// What the agent logs when an owner calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenTicket {
    /// The calling number (looks up the owner when `owner` is not given).
    #[serde(default)]
    pub phone: Option<String>,
    /// The owner's code.
    #[serde(default)]
    pub owner: Option<String>,
    /// The unit's code; may be left out when the owner has one unit.
    #[serde(default)]
    pub unit: Option<String>,
    /// Repair, complaint, ...
    pub kind: TicketKind,
    /// What it is about.
    pub category: Category,
    /// The component concerned, for repairs (decides the warranty).
    #[serde(default)]
    pub component: Option<String>,
    /// The owner's words.
    pub description: String,
    /// The owner waits on site (starts the 1-hour clock at dispatch).
    #[serde(default)]
    pub owner_on_site: bool,
    /// Who logs it.
    #[serde(default = "default_actor")]
    pub actor: String,
}

fn default_actor() -> String {
    "agent".to_string()
}

impl TicketDesk {
    /// Logs a new ticket.
    pub async fn open(&self, request: OpenTicket) -> Result<Ticket, TicketError> {
        let now = self.clock.now();
        if request.description.trim().is_empty() {
            return Err(TicketError::NoDescription);
        }
        let phone = request.phone.as_deref().map(Phone::parse).transpose()?;
        let owner = self
            .caller(request.owner.as_deref(), phone.as_ref())
            .await?;
        let unit = self
            .resolve_unit(request.unit.as_deref(), owner.as_ref())
            .await?;
        let (warranty, warranty_until) = self.warranty(&request, unit.as_ref(), now).await?;
        let phone = match (phone, &owner) {
            (Some(phone), _) => Some(phone.to_string()),
            (None, Some(owner)) => contacts::owner_phones(&self.store, owner.owner_id)
                .await?
                .into_iter()
                .next(),
            (None, None) => None,
        };
        let mut ticket = Ticket {
            ticket_id: 0,
            owner_id: owner.as_ref().map(|o| o.owner_id),
            unit_id: unit.as_ref().map(|u| u.unit_id),
            unit_code: unit.as_ref().map(|u| u.unit_code.clone()),
            phone,
            kind: request.kind,
            category: request.category,
            component: request
                .component
                .as_deref()
                .map(|c| c.trim().to_lowercase()),
            description: request.description.trim().to_string(),
            state: TicketState::New,
            level: Level::General,
            warranty,
            warranty_until,
            paid: warranty == Warranty::OutOfWarranty,
            owner_on_site: request.owner_on_site,
            assignee_id: None,
            reopen_count: 0,
            opened_at: now,
            dispatched_at: None,
            ack_due_at: None,
            acknowledged_at: None,
            onsite_due_at: None,
            on_site_at: None,
            completed_at: None,
            closed_at: None,
            level_changed_at: now,
            updated_at: now,
        };
        ticket.ticket_id = self.insert_opened(&ticket, &request.actor).await?;
        Ok(ticket)
    }

    /// The owner who calls: the one of `code` when given (who must exist), else the one with
    /// `phone`, if any.
    async fn caller(
        &self,
        code: Option<&str>,
        phone: Option<&Phone>,
    ) -> Result<Option<contacts::Owner>, TicketError> {
        Ok(match (code, phone) {
            (Some(code), _) => Some(
                contacts::owner_by_code(&self.store, code)
                    .await?
                    .ok_or_else(|| TicketError::UnknownOwner(format!("code `{code}`")))?,
            ),
            (None, Some(phone)) => contacts::owner_by_phone(&self.store, phone).await?,
            (None, None) => return Err(TicketError::NoCaller),
        })
    }

    /// Writes a new ticket and its `open` event in one transaction; returns its id.
    async fn insert_opened(&self, ticket: &Ticket, actor: &str) -> Result<i64, TicketError> {
        let mut tx = self.store.begin_write().await?;
        let ticket_id = repo::insert(&mut tx, ticket).await?;
        let reason = format!(
            "{} {}: {}",
            ticket.kind.label_zh(),
            ticket.category.label_zh(),
            ticket.description
        );
        let event = NewEvent {
            ticket_id,
            at: ticket.opened_at,
            actor,
            action: "open",
            from_state: None,
            to_state: Some(TicketState::New),
            level: Some(Level::General),
            reason: &reason,
        };
        repo::add_event(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(ticket_id)
    }

    async fn resolve_unit(
        &self,
        unit: Option<&str>,
        owner: Option<&contacts::Owner>,
    ) -> Result<Option<UnitPlace>, TicketError> {
        let owned = match owner {
            Some(owner) => contacts::owner_unit_ids(&self.store, owner.owner_id).await?,
            None => Vec::new(),
        };
        let place = match unit {
            Some(code) => contacts::unit_place(&self.store, UnitRef::Code(code.trim()))
                .await?
                .ok_or_else(|| TicketError::UnknownUnit(code.to_string()))?,
            None if owned.len() == 1 => {
                match contacts::unit_place(&self.store, UnitRef::Id(owned[0])).await? {
                    Some(place) => place,
                    None => return Ok(None),
                }
            }
            None => return Ok(None),
        };
        if let Some(owner) = owner
            && !owned.contains(&place.unit_id)
        {
            let mut units = Vec::new();
            for id in owned {
                if let Some(p) = contacts::unit_place(&self.store, UnitRef::Id(id)).await? {
                    units.push(p.unit_code);
                }
            }
            return Err(TicketError::UnitNotOwned {
                owner: owner.code.clone(),
                unit: place.unit_code,
                units: if units.is_empty() {
                    "none".into()
                } else {
                    units.join(", ")
                },
            });
        }
        Ok(Some(place))
    }

    async fn warranty(
        &self,
        request: &OpenTicket,
        unit: Option<&UnitPlace>,
        now: DateTime<Utc>,
    ) -> Result<(Warranty, Option<chrono::NaiveDate>), TicketError> {
        let (Some(component), Some(unit)) = (request.component.as_deref(), unit) else {
            return Ok((Warranty::NotApplicable, None));
        };
        let info = contacts::component_info(&self.store, &unit.unit_code, component, now)
            .await?
            .ok_or_else(|| TicketError::UnknownComponent {
                unit: unit.unit_code.clone(),
                component: component.to_string(),
            })?;
        if request.kind != TicketKind::Repair {
            return Ok((Warranty::NotApplicable, info.warranty.until()));
        }
        let warranty = if info.warranty.is_covered() {
            Warranty::InWarranty
        } else {
            Warranty::OutOfWarranty
        };
        Ok((warranty, info.warranty.until()))
    }
}
