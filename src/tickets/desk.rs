//! The ticket operations. Each is one write transaction: the ticket row, its timeline event and
//! any outbox message or callback task are committed together, before anything acts on them.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::repo::{self, NewEvent};
use super::sla::{escalation_due, local_time};
use super::state::{Action, InvalidTransition, next_state};
use super::{Ticket, TicketRepo};
use crate::callbacks;
use crate::clock::SharedClock;
use crate::config::SlaPolicy;
use crate::contacts::{self, Staff, UnitPlace, UnitRef};
use crate::outbox::{self, NewMessage};
use crate::phone::{Phone, PhoneError};
use crate::store::{Store, Tx};
use crate::vocab::{Category, Channel, Level, StaffRole, TicketKind, TicketState, Warranty};

/// Why a ticket operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// No such ticket.
    #[error("ticket #{0} does not exist")]
    NotFound(i64),
    /// The state does not allow the action.
    #[error("ticket #{ticket_id}: {source}")]
    Transition {
        /// The ticket.
        ticket_id: i64,
        /// What was refused.
        source: InvalidTransition,
    },
    /// No owner has this phone or code.
    #[error("no owner with {0}")]
    UnknownOwner(String),
    /// No unit has this code.
    #[error("no unit with code `{0}`")]
    UnknownUnit(String),
    /// The owner is not linked to the unit.
    #[error("owner {owner} is not an owner of unit {unit}; their units: {units}")]
    UnitNotOwned {
        /// The owner's code.
        owner: String,
        /// The unit's code.
        unit: String,
        /// The owner's units, for the message.
        units: String,
    },
    /// The unit has no record of that component.
    #[error("unit {unit} has no component `{component}`")]
    UnknownComponent {
        /// The unit's code.
        unit: String,
        /// The component asked for.
        component: String,
    },
    /// Dispatch needs to know the unit, to find its project.
    #[error("ticket #{0} has no unit: its project, and so its responsible person, is unknown")]
    NoUnit(i64),
    /// The responsibility matrix has no one for this project and category.
    #[error(
        "nobody is responsible for {category} in project {project}: add them with `huifang import staff`"
    )]
    NoResponsible {
        /// The project's name.
        project: String,
        /// The category.
        category: Category,
    },
    /// Already at the top of the ladder.
    #[error("ticket #{0} is already at the major level")]
    AtTopLevel(i64),
    /// A closed ticket is not escalated; reopen it first.
    #[error("ticket #{0} is closed: reopen it before escalating")]
    Closed(i64),
    /// Neither a phone nor an owner was given.
    #[error("a ticket needs the caller's phone or the owner's code")]
    NoCaller,
    /// The description is empty.
    #[error("a ticket needs a description of the problem")]
    NoDescription,
    /// A bad phone number.
    #[error(transparent)]
    Phone(#[from] PhoneError),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

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

/// The ticket operations, over a store, a clock and the SLA policy.
#[derive(Debug, Clone)]
pub struct TicketDesk {
    store: Store,
    clock: SharedClock,
    policy: SlaPolicy,
}

/// Who gets a dispatch and what the SMS says; worked out before the transaction.
struct DispatchPlan {
    assignee: Staff,
    place: UnitPlace,
}

impl TicketDesk {
    /// A desk over `store`, reading time from `clock`.
    pub fn new(store: Store, clock: SharedClock, policy: SlaPolicy) -> TicketDesk {
        TicketDesk {
            store,
            clock,
            policy,
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The current time of the desk's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Logs a new ticket.
    pub async fn open(&self, request: OpenTicket) -> Result<Ticket, TicketError> {
        let now = self.clock.now();
        if request.description.trim().is_empty() {
            return Err(TicketError::NoDescription);
        }
        let phone = request.phone.as_deref().map(Phone::parse).transpose()?;
        let owner = match (&request.owner, &phone) {
            (Some(code), _) => Some(
                contacts::owner_by_code(&self.store, code)
                    .await?
                    .ok_or_else(|| TicketError::UnknownOwner(format!("code `{code}`")))?,
            ),
            (None, Some(phone)) => contacts::owner_by_phone(&self.store, phone).await?,
            (None, None) => return Err(TicketError::NoCaller),
        };
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
        let mut tx = self.store.begin_write().await?;
        ticket.ticket_id = repo::insert(&mut tx, &ticket).await?;
        let reason = format!(
            "{} {}: {}",
            ticket.kind.label_zh(),
            ticket.category.label_zh(),
            ticket.description
        );
        let event = NewEvent {
            ticket_id: ticket.ticket_id,
            at: now,
            actor: &request.actor,
            action: "open",
            from_state: None,
            to_state: Some(TicketState::New),
            level: Some(Level::General),
            reason: &reason,
        };
        repo::add_event(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(ticket)
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

    /// Sends the ticket to the responsible person of its project and category, by SMS.
    pub async fn dispatch(&self, ticket_id: i64, actor: &str) -> Result<Ticket, TicketError> {
        self.act(ticket_id, actor, Action::Dispatch, "").await
    }

    /// The responsible person replied.
    pub async fn acknowledge(&self, ticket_id: i64, actor: &str) -> Result<Ticket, TicketError> {
        self.act(ticket_id, actor, Action::Acknowledge, "").await
    }

    /// Someone arrived on site.
    pub async fn arrive_on_site(&self, ticket_id: i64, actor: &str) -> Result<Ticket, TicketError> {
        self.act(ticket_id, actor, Action::ArriveOnSite, "").await
    }

    /// The work is done; a callback task is created.
    pub async fn complete(
        &self,
        ticket_id: i64,
        actor: &str,
        note: &str,
    ) -> Result<Ticket, TicketError> {
        self.act(ticket_id, actor, Action::Complete, note).await
    }

    /// The owner is being called back.
    pub async fn start_callback(&self, ticket_id: i64, actor: &str) -> Result<Ticket, TicketError> {
        self.act(ticket_id, actor, Action::StartCallback, "").await
    }

    /// Closed with the owner's agreement.
    pub async fn close(
        &self,
        ticket_id: i64,
        actor: &str,
        reason: &str,
    ) -> Result<Ticket, TicketError> {
        self.act(ticket_id, actor, Action::Close, reason).await
    }

    /// Not solved: back to the responsible person, with fresh SLA clocks.
    pub async fn reopen(
        &self,
        ticket_id: i64,
        actor: &str,
        reason: &str,
    ) -> Result<Ticket, TicketError> {
        self.act(ticket_id, actor, Action::Reopen, reason).await
    }

    /// Applies a life-cycle action.
    pub async fn act(
        &self,
        ticket_id: i64,
        actor: &str,
        action: Action,
        reason: &str,
    ) -> Result<Ticket, TicketError> {
        self.act_noting(ticket_id, actor, action, reason, &[]).await
    }

    /// Applies a life-cycle action and adds `notes` (`(action, reason)`: the owner's consent
    /// to a closure, say) to the timeline in the same transaction.
    pub async fn act_noting(
        &self,
        ticket_id: i64,
        actor: &str,
        action: Action,
        reason: &str,
        notes: &[(&str, &str)],
    ) -> Result<Ticket, TicketError> {
        let now = self.clock.now();
        let current = TicketRepo::new(&self.store)
            .get(ticket_id)
            .await?
            .ok_or(TicketError::NotFound(ticket_id))?;
        // Fail early, before any look-up, when the state refuses the action.
        next_state(current.state, action, current.kind)
            .map_err(|source| TicketError::Transition { ticket_id, source })?;
        let plan = match action {
            Action::Dispatch | Action::Reopen => Some(self.dispatch_plan(&current).await?),
            _ => None,
        };

        let mut tx = self.store.begin_write().await?;
        let mut ticket = repo::lock(&mut tx, ticket_id)
            .await?
            .ok_or(TicketError::NotFound(ticket_id))?;
        let from = ticket.state;
        ticket.state = next_state(from, action, ticket.kind)
            .map_err(|source| TicketError::Transition { ticket_id, source })?;
        ticket.updated_at = now;
        match action {
            Action::Dispatch | Action::Reopen => {
                self.start_clocks(&mut ticket, now);
                if action == Action::Reopen {
                    ticket.reopen_count += 1;
                }
            }
            Action::Acknowledge => ticket.acknowledged_at = Some(now),
            Action::ArriveOnSite => ticket.on_site_at = Some(now),
            Action::Complete => ticket.completed_at = Some(now),
            Action::StartCallback => {}
            Action::Close => ticket.closed_at = Some(now),
        }
        if let Some(plan) = &plan {
            ticket.assignee_id = Some(plan.assignee.staff_id);
        }
        repo::save(&mut tx, &ticket).await?;
        let event = NewEvent {
            ticket_id,
            at: now,
            actor,
            action: action.as_str(),
            from_state: Some(from),
            to_state: Some(ticket.state),
            level: None,
            reason,
        };
        repo::add_event(&mut tx, &event).await?;
        for (note, why) in notes {
            let event = NewEvent {
                action: note,
                from_state: None,
                to_state: None,
                reason: why,
                ..event.clone()
            };
            repo::add_event(&mut tx, &event).await?;
        }
        if let Some(plan) = &plan {
            let body = dispatch_text(&ticket, plan, action == Action::Reopen);
            notify(&mut tx, &ticket, &plan.assignee, "dispatch", &body, now).await?;
        }
        if action == Action::Complete {
            let due = now + Duration::minutes(self.policy.callback_after_minutes);
            callbacks::create(
                &mut tx,
                ticket_id,
                ticket.owner_id,
                ticket.phone.as_deref(),
                now,
                due,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(ticket)
    }

    fn start_clocks(&self, ticket: &mut Ticket, now: DateTime<Utc>) {
        let clock = self.policy.clock(ticket.category);
        ticket.dispatched_at = Some(now);
        ticket.ack_due_at = Some(now + Duration::minutes(clock.acknowledge_minutes));
        ticket.onsite_due_at = ticket
            .owner_on_site
            .then(|| now + Duration::minutes(clock.on_site_minutes));
        ticket.acknowledged_at = None;
        ticket.on_site_at = None;
        ticket.completed_at = None;
        ticket.closed_at = None;
    }

    async fn dispatch_plan(&self, ticket: &Ticket) -> Result<DispatchPlan, TicketError> {
        let unit_id = ticket
            .unit_id
            .ok_or(TicketError::NoUnit(ticket.ticket_id))?;
        let place = contacts::unit_place(&self.store, UnitRef::Id(unit_id))
            .await?
            .ok_or(TicketError::NoUnit(ticket.ticket_id))?;
        // A reopened ticket goes back to whoever had it; a new one to the matrix's person.
        let staff_id = match ticket.assignee_id {
            Some(id) => Some(id),
            None => contacts::responsible_for(&self.store, place.project_id, ticket.category)
                .await?
                .map(|(staff, _head)| staff),
        };
        let assignee = match staff_id {
            Some(id) => contacts::staff_by_id(&self.store, id).await?,
            None => None,
        }
        .ok_or_else(|| TicketError::NoResponsible {
            project: place.project_name.clone(),
            category: ticket.category,
        })?;
        Ok(DispatchPlan { assignee, place })
    }

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

    /// Adds a line to the timeline that changes nothing else (why a step was not taken).
    pub async fn note(
        &self,
        ticket_id: i64,
        actor: &str,
        action: &str,
        reason: &str,
    ) -> Result<(), TicketError> {
        let mut tx = self.store.begin_write().await?;
        let event = NewEvent {
            ticket_id,
            at: self.clock.now(),
            actor,
            action,
            from_state: None,
            to_state: None,
            level: None,
            reason,
        };
        repo::add_event(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Puts the owner of `ticket_id` on the agents' callback list, with a timeline line, in
    /// one transaction; a second call for the same verdict and reason adds nothing.
    pub async fn schedule_agent_callback(
        &self,
        ticket_id: i64,
        call: &callbacks::NewAgentCallback<'_>,
        actor: &str,
    ) -> Result<bool, TicketError> {
        let mut tx = self.store.begin_write().await?;
        let added = callbacks::add_agent_callback(&mut tx, Some(ticket_id), call).await?;
        if added {
            let reason = format!(
                "{}: {}（{}）",
                call.reason,
                call.note,
                local_time(call.due_at)
            );
            let event = NewEvent {
                ticket_id,
                at: call.created_at,
                actor,
                action: "agent_callback",
                from_state: None,
                to_state: None,
                level: None,
                reason: &reason,
            };
            repo::add_event(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(added)
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

/// Queues an SMS to `staff` about `ticket` and notes it on the timeline.
async fn notify(
    tx: &mut Tx,
    ticket: &Ticket,
    staff: &Staff,
    purpose: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let message = NewMessage {
        channel: Channel::Sms,
        recipient: &staff.phone,
        subject: None,
        body,
        html: None,
        ticket_id: Some(ticket.ticket_id),
        staff_id: Some(staff.staff_id),
        purpose,
        at: now,
        campaign: None,
    };
    outbox::enqueue(tx, &message).await?;
    let reason = format!("SMS to {} {} ({})", staff.name, staff.code, staff.phone);
    let event = NewEvent {
        ticket_id: ticket.ticket_id,
        at: now,
        actor: "system",
        action: "notify",
        from_state: None,
        to_state: None,
        level: None,
        reason: &reason,
    };
    repo::add_event(tx, &event).await
}

fn dispatch_text(ticket: &Ticket, plan: &DispatchPlan, reopened: bool) -> String {
    let masked = ticket
        .phone
        .as_deref()
        .and_then(|p| Phone::parse(p).ok())
        .map(|p| p.masked())
        .unwrap_or_default();
    let due = ticket.ack_due_at.map(local_time).unwrap_or_default();
    let on_site = match ticket.onsite_due_at {
        Some(at) => format!("业主在现场等候，请于{}前到场。", local_time(at)),
        None => String::new(),
    };
    format!(
        "【{}】{}工单#{}（{}/{}）{} 业主电话{}：{}。请于{}前回复。{}",
        plan.place.project_name,
        if reopened { "重新派发" } else { "新" },
        ticket.ticket_id,
        ticket.kind.label_zh(),
        ticket.category.label_zh(),
        plan.place.unit_code,
        masked,
        ticket.description,
        due,
        on_site
    )
}
