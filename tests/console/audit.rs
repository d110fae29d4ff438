//! The audit log over HTTP: an owner's look-up, a ticket change and a campaign's start each
//! leave a row (who, what, target, from where) on every backend; admins search it at
//! `/api/audit` and with `huifang audit`.

use huifang::audit::{AuditAction, AuditFilter, AuditLog, AuditRow};
use reqwest::Method;
use serde_json::json;

use crate::support::consoles;

async fn rows(log: &AuditLog, action: AuditAction) -> Vec<AuditRow> {
    log.search(&AuditFilter {
        action: Some(action),
        ..AuditFilter::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn look_ups_ticket_changes_and_campaign_starts_are_on_record() {
    for console in consoles().await {
        let store = &console.db.store;
        let log = AuditLog::new(store);
        let (owner_id, phone): (i64, String) = huifang::on_pool!(store, |pool| {
            sqlx::query_as("select owner_id, phone from owner_phones order by phone limit 1")
                .fetch_one(pool)
                .await
        })
        .unwrap();
        let sup = console.login("sup").await;

        // A look-up of an owner by phone.
        let found = sup.get(&format!("/api/lookup?phone={phone}")).await;
        assert_eq!(found.status, 200, "{}", found.text);
        let looked = rows(&log, AuditAction::OwnerLookup).await;
        assert_eq!(looked.len(), 1, "{}", console.db.name);
        assert_eq!(looked[0].actor, "sup");
        assert_eq!(looked[0].target, format!("owner:{owner_id}"));
        assert_eq!(looked[0].address, "127.0.0.1");

        // A ticket opened and changed.
        let opened = sup
            .send_json(
                Method::POST,
                "/api/tickets",
                &json!({"owner": "O00004", "kind": "complaint",
                        "category": "property_management", "description": "电梯噪音"}),
            )
            .await;
        assert_eq!(opened.status, 201, "{}", opened.text);
        let id = opened.json()["ticket_id"].as_i64().unwrap();
        let changed = sup
            .send_json(
                Method::POST,
                &format!("/api/tickets/{id}/dispatch"),
                &json!({}),
            )
            .await;
        assert_eq!(changed.status, 200, "{}", changed.text);
        let change = rows(&log, AuditAction::TicketChange).await;
        assert_eq!(change.len(), 1);
        assert_eq!(
            (
                change[0].actor.as_str(),
                change[0].target.as_str(),
                change[0].detail.as_str()
            ),
            ("sup", format!("ticket:{id}").as_str(), "dispatch")
        );
        assert_eq!(rows(&log, AuditAction::TicketOpen).await.len(), 1);

        // A campaign created and started.
        let definition = "code = \"audited\"\nname = \"通知\"\nkind = \"notification\"\n\
             mode = \"agentless\"\nprompts = [\"handover-notice\"]\nmax_abandon_pct = 3\n\
             [source]\nowners = { buildings = [\"HYF-3\"] }\n\
             [windows]\nmon-sun = [\"00:00-24:00\"]\n";
        let created = sup
            .send_json(
                Method::POST,
                "/api/campaigns",
                &json!({ "definition": definition }),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let started = sup
            .send_json(
                Method::POST,
                "/api/campaigns/audited/start",
                &json!({ "reason": "go" }),
            )
            .await;
        assert_eq!(started.status, 200, "{}", started.text);
        let steps = rows(&log, AuditAction::CampaignStep).await;
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].target, "campaign:audited");
        assert_eq!(steps[0].detail, "start: go");
        assert_eq!(rows(&log, AuditAction::CampaignCreate).await.len(), 1);

        // Logins are on record too; only an admin may search the log.
        assert!(!rows(&log, AuditAction::LoginOk).await.is_empty());
        assert_eq!(sup.get("/api/audit").await.status, 403);
        let admin = console.login("admin").await;
        let page = admin.get("/api/audit?actor=sup&action=campaign.step").await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert_eq!(
            page.json().as_array().map(Vec::len),
            Some(1),
            "{}",
            page.text
        );
        assert_eq!(admin.get("/api/audit?action=nonsense").await.status, 422);

        // The admins' page searches the same rows; others get 403; a wrong action is named.
        assert_eq!(sup.get("/audit").await.status, 403);
        let page = admin.get("/audit?actor=sup&action=campaign.step").await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains("campaign:audited") && page.text.contains("start: go"));
        assert!(
            !page.text.contains(&format!("owner:{owner_id}")),
            "filtered by action"
        );
        assert!(page.text.contains("1 row,"), "{}", page.text);
        let all = admin.get("/audit?actor=&action=").await;
        assert!(
            all.text.contains(&format!("owner:{owner_id}")),
            "empty fields mean any"
        );
        let wrong = admin.get("/audit?action=nonsense").await;
        assert_eq!(wrong.status, 200);
        assert!(
            wrong.text.contains("`nonsense` is not an action"),
            "{}",
            wrong.text
        );

        // The command line reads the same rows.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_huifang"))
            .args(["--database", &console.db.url(), "audit", "--actor", "sup"])
            .args(["--action", "owner.lookup"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(
            text.contains(&format!("owner:{owner_id}")) && text.contains("1 row(s)"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn rows_cannot_be_rewritten_and_old_ones_are_pruned() {
    for console in consoles().await {
        let store = &console.db.store;
        let log = AuditLog::new(store);
        let entry = huifang::audit::AuditEntry {
            actor: "sup",
            action: AuditAction::Export,
            target: "report",
            address: "",
            detail: "",
        };
        let old = chrono::Utc::now() - chrono::TimeDelta::days(400);
        log.record(&entry, old).await.unwrap();
        log.record(&entry, chrono::Utc::now()).await.unwrap();
        let rewrite = huifang::on_pool!(store, |pool| {
            sqlx::query("update audit_log set actor = 'nobody'")
                .execute(pool)
                .await
                .map(|_| ())
        });
        assert!(
            rewrite.is_err(),
            "{}: an update went through",
            console.db.name
        );
        // The serve loop's own first pass may get to the old row first: either way it goes.
        assert!(log.prune(365, chrono::Utc::now()).await.unwrap() <= 1);
        let left = rows(&log, AuditAction::Export).await;
        assert_eq!(left.len(), 1, "{}", console.db.name);
        assert!(left[0].at > old + chrono::TimeDelta::days(300));
    }
}
