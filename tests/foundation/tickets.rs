//! Tickets on both backends: life cycle, dispatch to the right person, SLA breach and the
//! escalation ladder on a controlled clock, warranty, callback tasks.

use chrono::Duration;
use huifang::callbacks;
use huifang::outbox;
use huifang::tickets::{Action, OpenTicket, TicketDesk, TicketError, TicketRepo};
use huifang::vocab::{Category, Level, TicketKind, TicketState, Warranty};
use testkit::db::databases;

use crate::helpers::{desk, morning, small_world};

fn repair(component: &str) -> OpenTicket {
    OpenTicket {
        phone: Some("138 1234 5678".into()),
        owner: None,
        unit: Some("HYF-3-1202".into()),
        kind: TicketKind::Repair,
        category: Category::Materials,
        component: Some(component.into()),
        description: "厨房灯具损坏".into(),
        owner_on_site: false,
        actor: "agent-7".into(),
    }
}

async fn open_and_dispatch(desk: &TicketDesk, request: OpenTicket) -> i64 {
    let ticket = desk.open(request).await.unwrap();
    desk.dispatch(ticket.ticket_id, "agent-7").await.unwrap();
    ticket.ticket_id
}

#[tokio::test]
async fn full_life_cycle_is_recorded_on_the_timeline() {
    for db in databases().await {
        small_world(&db.store).await;
        let (desk, clock) = desk(&db.store);
        let id = open_and_dispatch(&desk, repair("kitchen")).await;
        for (action, state) in [
            (Action::Acknowledge, TicketState::Acknowledged),
            (Action::ArriveOnSite, TicketState::OnSite),
            (Action::Complete, TicketState::Completed),
            (Action::StartCallback, TicketState::Callback),
            (Action::Close, TicketState::Closed),
            (Action::Reopen, TicketState::Dispatched),
        ] {
            clock.advance(Duration::minutes(5));
            let ticket = desk.act(id, "tester", action, "why not").await.unwrap();
            assert_eq!(ticket.state, state, "{}: {action:?}", db.name);
        }
        let ticket = TicketRepo::new(&db.store).get(id).await.unwrap().unwrap();
        assert_eq!(ticket.reopen_count, 1);
        assert!(
            ticket.closed_at.is_none() && ticket.acknowledged_at.is_none(),
            "reopen restarts the work"
        );
        let actions: Vec<String> = TicketRepo::new(&db.store)
            .timeline(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            actions,
            [
                "open", "dispatch", "notify", "ack", "onsite", "complete", "callback", "close",
                "reopen", "notify"
            ],
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn invalid_transitions_are_refused_and_change_nothing() {
    for db in databases().await {
        small_world(&db.store).await;
        let (desk, _clock) = desk(&db.store);
        let ticket = desk.open(repair("kitchen")).await.unwrap();
        for action in [
            Action::Acknowledge,
            Action::Complete,
            Action::Close,
            Action::Reopen,
            Action::StartCallback,
        ] {
            let err = desk
                .act(ticket.ticket_id, "tester", action, "")
                .await
                .unwrap_err();
            assert!(
                matches!(err, TicketError::Transition { .. }),
                "{}: {err}",
                db.name
            );
            assert!(err.to_string().contains("is new"), "{err}");
        }
        let err = desk
            .act(9999, "tester", Action::Dispatch, "")
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "ticket #9999 does not exist");
        let events = TicketRepo::new(&db.store)
            .timeline(ticket.ticket_id)
            .await
            .unwrap();
        assert_eq!(events.len(), 1, "only the open event");
    }
}

#[tokio::test]
async fn dispatch_goes_to_the_matrix_person_by_sms() {
    for db in databases().await {
        small_world(&db.store).await;
        let (desk, _clock) = desk(&db.store);
        let id = open_and_dispatch(&desk, repair("kitchen")).await;
        let messages = outbox::for_ticket(&db.store, id).await.unwrap();
        assert_eq!(messages.len(), 1, "{}", db.name);
        let sms = &messages[0];
        assert_eq!(
            (
                sms.channel.as_str(),
                sms.recipient.as_str(),
                sms.purpose.as_str()
            ),
            ("sms", "+8613900000005", "dispatch")
        );
        assert!(
            sms.body.contains("海韵府")
                && sms.body.contains("HYF-3-1202")
                && sms.body.contains("+86138****5678"),
            "{}",
            sms.body
        );
        assert!(
            sms.body.contains("09:10"),
            "reply deadline in China time: {}",
            sms.body
        );

        // Property management goes to someone else; a category nobody holds is a clear error.
        let mut request = repair("kitchen");
        request.category = Category::PropertyManagement;
        request.component = None;
        let id = open_and_dispatch(&desk, request).await;
        assert_eq!(
            outbox::for_ticket(&db.store, id).await.unwrap()[0].recipient,
            "+8613900000006"
        );
        let mut request = repair("kitchen");
        request.category = Category::PlanningDesign;
        let ticket = desk.open(request).await.unwrap();
        let err = desk.dispatch(ticket.ticket_id, "agent").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "nobody is responsible for planning_design in project 海韵府: add them with `huifang import staff`"
        );
    }
}

#[tokio::test]
async fn late_reply_escalates_up_the_chain_with_a_controlled_clock() {
    for db in databases().await {
        small_world(&db.store).await;
        let (desk, clock) = desk(&db.store);
        let id = open_and_dispatch(&desk, repair("kitchen")).await;

        clock.advance(Duration::minutes(10));
        assert!(
            desk.escalate_overdue().await.unwrap().is_empty(),
            "exactly at the limit is still in time"
        );
        clock.advance(Duration::minutes(1));
        let done = desk.escalate_overdue().await.unwrap();
        assert_eq!(done.len(), 1, "{}", db.name);
        assert_eq!(
            (done[0].level, done[0].notified.as_deref()),
            (Level::Key, Some("S003")),
            "department head"
        );
        assert!(
            desk.escalate_overdue().await.unwrap().is_empty(),
            "one step per breach"
        );

        clock.advance(Duration::minutes(121));
        let done = desk.escalate_overdue().await.unwrap();
        assert_eq!(
            (done[0].level, done[0].notified.as_deref()),
            (Level::Hot, Some("S002")),
            "regional GM"
        );
        clock.advance(Duration::minutes(481));
        let done = desk.escalate_overdue().await.unwrap();
        assert_eq!(
            (done[0].level, done[0].notified.as_deref()),
            (Level::Major, Some("S001")),
            "group VP"
        );
        clock.advance(Duration::days(3));
        assert!(
            desk.escalate_overdue().await.unwrap().is_empty(),
            "major is the top"
        );

        let recipients: Vec<String> = outbox::for_ticket(&db.store, id)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.recipient)
            .collect();
        assert_eq!(
            recipients,
            [
                "+8613900000005",
                "+8613900000004",
                "+8613900000003",
                "+8613900000001"
            ]
        );
        let overdue = TicketRepo::new(&db.store)
            .list(
                &huifang::tickets::TicketFilter {
                    overdue: true,
                    ..Default::default()
                },
                clock_now(&desk),
            )
            .await
            .unwrap();
        assert_eq!(
            overdue.iter().map(|t| t.ticket_id).collect::<Vec<_>>(),
            [id]
        );
    }
}

fn clock_now(desk: &TicketDesk) -> chrono::DateTime<chrono::Utc> {
    desk.now()
}

#[tokio::test]
async fn on_site_clock_runs_only_when_the_owner_waits() {
    for db in databases().await {
        small_world(&db.store).await;
        let (desk, clock) = desk(&db.store);
        let mut waiting = repair("kitchen");
        waiting.owner_on_site = true;
        let waits = open_and_dispatch(&desk, waiting).await;
        let calm = open_and_dispatch(&desk, repair("kitchen")).await;
        clock.advance(Duration::minutes(5));
        desk.acknowledge(waits, "S004").await.unwrap();
        desk.acknowledge(calm, "S004").await.unwrap();
        clock.advance(Duration::minutes(56));
        let done = desk.escalate_overdue().await.unwrap();
        assert_eq!(
            done.iter().map(|e| e.ticket_id).collect::<Vec<_>>(),
            [waits],
            "{}",
            db.name
        );
        assert!(done[0].reason.contains("not on site"), "{}", done[0].reason);
    }
}

#[tokio::test]
async fn a_replied_and_completed_ticket_never_escalates_and_gets_a_callback_task() {
    for db in databases().await {
        small_world(&db.store).await;
        let (desk, clock) = desk(&db.store);
        let id = open_and_dispatch(&desk, repair("kitchen")).await;
        clock.advance(Duration::minutes(9));
        desk.acknowledge(id, "S004").await.unwrap();
        clock.advance(Duration::hours(2));
        desk.complete(id, "S004", "换了铰链").await.unwrap();
        clock.advance(Duration::days(2));
        assert!(
            desk.escalate_overdue().await.unwrap().is_empty(),
            "{}",
            db.name
        );
        let tasks = callbacks::list(&db.store, "pending").await.unwrap();
        assert_eq!(tasks.len(), 1);
        assert_eq!(
            (tasks[0].ticket_id, tasks[0].phone.as_deref()),
            (id, Some("+8613812345678"))
        );
        assert_eq!(tasks[0].due_at - tasks[0].created_at, Duration::minutes(60));
    }
}

#[tokio::test]
async fn manual_escalation_climbs_one_level_and_stops_at_the_top() {
    for db in databases().await {
        small_world(&db.store).await;
        let (desk, _clock) = desk(&db.store);
        let ticket = desk.open(repair("kitchen")).await.unwrap();
        for level in [Level::Key, Level::Hot, Level::Major] {
            assert_eq!(
                desk.escalate(ticket.ticket_id, "supervisor", "owner very upset")
                    .await
                    .unwrap()
                    .level,
                level
            );
        }
        let err = desk
            .escalate(ticket.ticket_id, "supervisor", "")
            .await
            .unwrap_err();
        assert!(
            matches!(err, TicketError::AtTopLevel(_)),
            "{}: {err}",
            db.name
        );
    }
}

#[tokio::test]
async fn warranty_decides_free_or_paid_repair() {
    for db in databases().await {
        small_world(&db.store).await;
        let (desk, clock) = desk(&db.store);
        // Handover 2026-03-15; on 2026-06-01 the 6-month light fitting is covered until 09-14.
        let covered = desk.open(repair("light_fitting")).await.unwrap();
        assert_eq!(
            (covered.warranty, covered.paid),
            (Warranty::InWarranty, false),
            "{}",
            db.name
        );
        assert_eq!(covered.warranty_until.unwrap().to_string(), "2026-09-14");
        clock.set(morning() + Duration::days(106)); // 2026-09-15
        let expired = desk.open(repair("light_fitting")).await.unwrap();
        assert_eq!(
            (expired.warranty, expired.paid),
            (Warranty::OutOfWarranty, true)
        );
        let kitchen = desk.open(repair("kitchen")).await.unwrap();
        assert_eq!(
            kitchen.warranty,
            Warranty::InWarranty,
            "24 months still run"
        );

        let mut complaint = repair("kitchen");
        complaint.kind = TicketKind::Complaint;
        assert_eq!(
            desk.open(complaint).await.unwrap().warranty,
            Warranty::NotApplicable
        );
        let err = desk.open(repair("sauna")).await.unwrap_err();
        assert_eq!(err.to_string(), "unit HYF-3-1202 has no component `sauna`");
    }
}

#[tokio::test]
async fn opening_checks_caller_unit_and_description() {
    for db in databases().await {
        small_world(&db.store).await;
        let (desk, _clock) = desk(&db.store);
        // One unit: found from the phone alone, landline included.
        let mut request = repair("kitchen");
        request.unit = None;
        request.phone = Some("021-64001234".into());
        let ticket = desk.open(request).await.unwrap();
        assert_eq!(
            ticket.unit_code.as_deref(),
            Some("HYF-3-1202"),
            "{}",
            db.name
        );

        let mut request = repair("kitchen");
        request.phone = Some("12".into());
        assert_eq!(
            desk.open(request).await.unwrap_err().to_string(),
            "`12` is not a valid number in its country's numbering plan"
        );
        let mut request = repair("kitchen");
        request.unit = Some("HYF-3-1203".into());
        let err = desk.open(request).await.unwrap_err().to_string();
        assert_eq!(
            err,
            "owner O00001 is not an owner of unit HYF-3-1203; their units: HYF-3-1202"
        );
        let mut request = repair("kitchen");
        request.description = "  ".into();
        assert!(matches!(
            desk.open(request).await.unwrap_err(),
            TicketError::NoDescription
        ));
        let mut request = repair("kitchen");
        request.phone = None;
        assert!(matches!(
            desk.open(request).await.unwrap_err(),
            TicketError::NoCaller
        ));

        // A consultation answered on the call closes at once; a repair cannot.
        let mut question = repair("kitchen");
        question.kind = TicketKind::Consultation;
        question.component = None;
        let q = desk.open(question).await.unwrap();
        assert_eq!(
            desk.close(q.ticket_id, "agent", "answered")
                .await
                .unwrap()
                .state,
            TicketState::Closed
        );
    }
}
