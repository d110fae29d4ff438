//! The ticket operations. Each is one write transaction: the ticket row, its timeline event and
//! any outbox message or callback task are committed together, before anything acts on them.
//! Opening a ticket is in [`open`], escalation (by hand and the overdue sweep) in
//! [`escalation`]; the life-cycle actions, notes and callbacks stay here.

use chrono::{DateTime, Duration, Utc};

use super::repo::{self, NewEvent};
use super::sla::local_time;
use super::state::{Action, InvalidTransition, next_state};
use super::{Ticket, TicketRepo};
use crate::callbacks;
use crate::clock::SharedClock;
use crate::config::SlaPolicy;
use crate::contacts::{self, Staff, UnitPlace, UnitRef};
use crate::outbox::{self, NewMessage};
use crate::phone::{Phone, PhoneError};
use crate::store::{Store, Tx};
use crate::vocab::{Category, Channel};

mod escalation;
mod open;

pub use escalation::Escalated;
pub use open::OpenTicket;

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
        self.apply(&mut ticket, action, plan.as_ref(), now);
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
        self.follow_up(&mut tx, &ticket, action, plan.as_ref(), now)
            .await?;
        tx.commit().await?;
        Ok(ticket)
    }

    /// What `action` changes on the ticket besides its state: clocks, times, the assignee.
    fn apply(
        &self,
        ticket: &mut Ticket,
        action: Action,
        plan: Option<&DispatchPlan>,
        now: DateTime<Utc>,
    ) {
        ticket.updated_at = now;
        match action {
            Action::Dispatch | Action::Reopen => {
                self.start_clocks(ticket, now);
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
        if let Some(plan) = plan {
            ticket.assignee_id = Some(plan.assignee.staff_id);
        }
    }

    /// What `action` sets going, in its transaction: the dispatch SMS to the assignee, the
    /// callback task after a completion.
    async fn follow_up(
        &self,
        tx: &mut Tx,
        ticket: &Ticket,
        action: Action,
        plan: Option<&DispatchPlan>,
        now: DateTime<Utc>,
    ) -> Result<(), TicketError> {
        if let Some(plan) = plan {
            let body = dispatch_text(ticket, plan, action == Action::Reopen);
            notify(tx, ticket, &plan.assignee, "dispatch", &body, now).await?;
        }
        if action == Action::Complete {
            let due = now + Duration::minutes(self.policy.callback_after_minutes);
            callbacks::create(
                tx,
                ticket.ticket_id,
                ticket.owner_id,
                ticket.phone.as_deref(),
                now,
                due,
            )
            .await?;
        }
        Ok(())
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
