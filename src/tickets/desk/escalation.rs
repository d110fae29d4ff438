//! Escalation: a ticket raised one level by hand, or by the escalation worker's sweep of
//! tickets whose SLA clock or level time ran out; the person of the new level is told by SMS.

use serde::Serialize;

use super::{TicketDesk, TicketError, notify};
use crate::contacts::{self, Staff, UnitRef};
use crate::tickets::repo::{self, NewEvent};
use crate::tickets::sla::escalation_due;
use crate::tickets::{Ticket, TicketRepo};
use crate::vocab::{Level, StaffRole, TicketState};

/// One escalation made by [`TicketDesk::escalate_overdue`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Escalated {
    /// The ticket.
    pub ticket_id: i64,
    /// Its new level.
    pub level: Level,
    /// Why.
    pub reason: String,
    /// Who was told (staff code), if anyone could be found.
    pub notified: Option<String>,
}

impl TicketDesk {
    /// Raises a ticket one level by hand.
    pub async fn escalate(
        &self,
        ticket_id: i64,
        actor: &str,
        reason: &str,
    ) -> Result<Escalated, TicketError> {
        let ticket = TicketRepo::new(&self.store)
            .get(ticket_id)
            .await?
            .ok_or(TicketError::NotFound(ticket_id))?;
        if ticket.state == TicketState::Closed {
            return Err(TicketError::Closed(ticket_id));
        }
        let level = ticket
            .level
            .next()
            .ok_or(TicketError::AtTopLevel(ticket_id))?;
        let reason = if reason.trim().is_empty() {
            "人工升级 / raised by hand"
        } else {
            reason
        };
        self.escalate_to(&ticket, level, actor, reason)
            .await?
            .ok_or(TicketError::AtTopLevel(ticket_id))
    }

    /// Raises a ticket one level above `from` unless it is already there (so a step that
    /// is repeated after a crash does not climb twice); `None` when nothing changed.
    pub async fn escalate_above(
        &self,
        ticket_id: i64,
        from: Level,
        actor: &str,
        reason: &str,
    ) -> Result<Option<Escalated>, TicketError> {
        let ticket = TicketRepo::new(&self.store)
            .get(ticket_id)
            .await?
            .ok_or(TicketError::NotFound(ticket_id))?;
        match from.next() {
            Some(level) if ticket.state != TicketState::Closed => {
                self.escalate_to(&ticket, level, actor, reason).await
            }
            _ => Ok(None),
        }
    }

    /// The escalation worker's pass: raises every ticket whose clock or level time ran out.
    pub async fn escalate_overdue(&self) -> Result<Vec<Escalated>, TicketError> {
        let now = self.clock.now();
        let mut done = Vec::new();
        for ticket in TicketRepo::new(&self.store).in_progress().await? {
            if let Some((level, reason)) = escalation_due(&ticket, &self.policy, now)
                && let Some(escalated) = self
                    .escalate_to(&ticket, level, "escalation-worker", &reason)
                    .await?
            {
                done.push(escalated);
            }
        }
        Ok(done)
    }

    /// Raises `ticket` to `level` unless someone already did; tells the person of that level.
    async fn escalate_to(
        &self,
        ticket: &Ticket,
        level: Level,
        actor: &str,
        reason: &str,
    ) -> Result<Option<Escalated>, TicketError> {
        let now = self.clock.now();
        let recipient = self.escalation_recipient(ticket, level).await?;
        let mut tx = self.store.begin_write().await?;
        let Some(mut locked) = repo::lock(&mut tx, ticket.ticket_id).await? else {
            return Err(TicketError::NotFound(ticket.ticket_id));
        };
        if locked.level >= level {
            return Ok(None); // another node or an earlier pass got there first
        }
        locked.level = level;
        locked.level_changed_at = now;
        locked.updated_at = now;
        repo::save(&mut tx, &locked).await?;
        let event = NewEvent {
            ticket_id: locked.ticket_id,
            at: now,
            actor,
            action: "escalate",
            from_state: None,
            to_state: None,
            level: Some(level),
            reason,
        };
        repo::add_event(&mut tx, &event).await?;
        if let Some(staff) = &recipient {
            let body = format!(
                "【工单升级·{}】#{} {} {}（{}）：{}。请跟进。",
                level.label_zh(),
                locked.ticket_id,
                locked.unit_code.as_deref().unwrap_or("-"),
                locked.kind.label_zh(),
                locked.category.label_zh(),
                reason
            );
            notify(&mut tx, &locked, staff, "escalation", &body, now).await?;
        }
        tx.commit().await?;
        Ok(Some(Escalated {
            ticket_id: locked.ticket_id,
            level,
            reason: reason.to_string(),
            notified: recipient.map(|s| s.code),
        }))
    }

    /// Who hears of a ticket at `level`: key → department head, hot → regional GM, major → group VP.
    async fn escalation_recipient(
        &self,
        ticket: &Ticket,
        level: Level,
    ) -> Result<Option<Staff>, TicketError> {
        let place = match ticket.unit_id {
            Some(id) => contacts::unit_place(&self.store, UnitRef::Id(id)).await?,
            None => None,
        };
        let region = place.as_ref().map(|p| p.region_id);
        let staff = match level {
            Level::General => None,
            Level::Key => {
                let head = match &place {
                    Some(p) => {
                        contacts::responsible_for(&self.store, p.project_id, ticket.category)
                            .await?
                            .and_then(|(_, head)| head)
                    }
                    None => None,
                };
                match head {
                    Some(id) => contacts::staff_by_id(&self.store, id).await?,
                    None => {
                        contacts::staff_with_role(&self.store, StaffRole::DepartmentHead, region)
                            .await?
                    }
                }
            }
            Level::Hot => {
                contacts::staff_with_role(&self.store, StaffRole::RegionalGm, region).await?
            }
            Level::Major => {
                contacts::staff_with_role(&self.store, StaffRole::GroupVp, None).await?
            }
        };
        Ok(staff)
    }
}
