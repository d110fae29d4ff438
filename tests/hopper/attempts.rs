//! Attempt rows: written before dialling, stamped, closed once; unfinished ones listed.

use std::time::Duration;

use chrono::TimeDelta;
use huifang::dialer::hopper::{AttemptEnd, AttemptError, Attempts, Hopper};
use huifang::vocab::{AttemptOutcome, Channel};
use testkit::db::{campaign, contacts, databases, t0};

fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
    t0() + TimeDelta::seconds(seconds)
}

#[tokio::test]
async fn an_attempt_is_written_stamped_and_closed() {
    for db in databases().await {
        let (hopper, attempts) = (Hopper::new(&db.store), Attempts::new(&db.store));
        let c = campaign(&db.store, "C1").await;
        hopper.enqueue(c, &contacts(0, 1), t0()).await.unwrap();
        let contact = hopper
            .claim(c, "a", t0(), Duration::from_secs(60), 1)
            .await
            .unwrap();
        let id = attempts
            .open(&contact[0], Channel::Voice, "a", at(1))
            .await
            .unwrap();
        attempts.mark_dialed(id, at(2)).await.unwrap();
        attempts.mark_answered(id, at(10)).await.unwrap();
        attempts.mark_bridged(id, "agent-7", at(11)).await.unwrap();
        let end = AttemptEnd {
            outcome: AttemptOutcome::Answered,
            sip_status: Some(200),
            agent: None,
            recording_path: Some("rec/1.wav"),
            detail: None,
            at: at(90),
        };
        attempts.close(id, &end).await.unwrap();
        let row = attempts.get(id).await.unwrap().unwrap();
        assert_eq!(row.campaign_id, c);
        assert_eq!(row.campaign_contact_id, contact[0].campaign_contact_id);
        assert_eq!((row.channel.as_str(), row.node.as_str()), ("voice", "a"));
        assert_eq!(row.queued_at, at(1), "{}", db.name);
        assert_eq!(row.dialed_at, Some(at(2)));
        assert_eq!(row.answered_at, Some(at(10)));
        assert_eq!(row.bridged_at, Some(at(11)));
        assert_eq!(row.ended_at, Some(at(90)));
        assert_eq!(row.outcome.map(|o| o.as_str()), Some("answered"));
        assert_eq!(row.sip_status, Some(200));
        assert_eq!(row.agent.as_deref(), Some("agent-7"), "bridged agent kept");
        assert_eq!(row.recording_path.as_deref(), Some("rec/1.wav"));
        let again = attempts.close(id, &end).await.unwrap_err();
        assert!(
            matches!(again, AttemptError::NotOpen { step: "close", .. }),
            "{again}"
        );
        let late = attempts.mark_answered(id, at(91)).await.unwrap_err();
        assert!(late.to_string().contains("no such open attempt"), "{late}");
    }
}

#[tokio::test]
async fn opening_an_attempt_counts_it_on_the_contact() {
    for db in databases().await {
        let (hopper, attempts) = (Hopper::new(&db.store), Attempts::new(&db.store));
        let c = campaign(&db.store, "C1").await;
        hopper.enqueue(c, &contacts(0, 1), t0()).await.unwrap();
        let lease = Duration::from_secs(60);
        let first = hopper
            .claim(c, "a", t0(), lease, 1)
            .await
            .unwrap()
            .remove(0);
        assert_eq!((first.attempts, first.attempts_today), (0, 0));
        attempts
            .open(&first, Channel::Voice, "a", t0())
            .await
            .unwrap();
        hopper.release(&first, None, t0()).await.unwrap();
        let second = hopper
            .claim(c, "a", t0(), lease, 1)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(
            (second.attempts, second.attempts_today),
            (1, 1),
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn unfinished_attempts_are_listed_per_node() {
    for db in databases().await {
        let (hopper, attempts) = (Hopper::new(&db.store), Attempts::new(&db.store));
        let c = campaign(&db.store, "C1").await;
        hopper.enqueue(c, &contacts(0, 3), t0()).await.unwrap();
        let lease = Duration::from_secs(60);
        let mine = hopper.claim(c, "a", t0(), lease, 2).await.unwrap();
        let theirs = hopper.claim(c, "b", t0(), lease, 1).await.unwrap();
        let done = attempts
            .open(&mine[0], Channel::Voice, "a", at(1))
            .await
            .unwrap();
        let live = attempts
            .open(&mine[1], Channel::Voice, "a", at(2))
            .await
            .unwrap();
        attempts.mark_dialed(live, at(3)).await.unwrap();
        attempts
            .open(&theirs[0], Channel::Voice, "b", at(2))
            .await
            .unwrap();
        let end = AttemptEnd {
            outcome: AttemptOutcome::Busy,
            sip_status: Some(486),
            agent: None,
            recording_path: None,
            detail: None,
            at: at(5),
        };
        attempts.close(done, &end).await.unwrap();
        let open = attempts.unfinished("a").await.unwrap();
        let ids: Vec<_> = open.iter().map(|r| r.attempt_id).collect();
        assert_eq!(ids, [live.0], "{}", db.name);
        assert_eq!(open[0].dialed_at, Some(at(3)));
        assert_eq!(attempts.unfinished("b").await.unwrap().len(), 1);
        assert!(attempts.unfinished("c").await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_node_whose_lease_ran_out_cannot_open_an_attempt() {
    for db in databases().await {
        let (hopper, attempts) = (Hopper::new(&db.store), Attempts::new(&db.store));
        let c = campaign(&db.store, "C9").await;
        hopper.enqueue(c, &contacts(0, 1), t0()).await.unwrap();
        let lease = Duration::from_secs(60);
        let stale = hopper.claim(c, "a", t0(), lease, 1).await.unwrap();
        // Node a stalls past its lease; node b reclaims the contact.
        let fresh = hopper.claim(c, "b", at(120), lease, 1).await.unwrap();
        assert_eq!(fresh.len(), 1, "{}", db.name);
        let refused = attempts
            .open(&stale[0], Channel::Voice, "a", at(121))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, AttemptError::LeaseLost { .. }),
            "{}: {refused}",
            db.name
        );
        attempts
            .open(&fresh[0], Channel::Voice, "b", at(121))
            .await
            .unwrap();
        assert!(
            attempts.unfinished("a").await.unwrap().is_empty(),
            "{}",
            db.name
        );
    }
}

/// A word outside the vocabulary in a stored attempt (a damaged row, or one written by a
/// newer version) is an error naming table, row, column and word when the dialer reads the
/// contact's history for its retry decision, or lists its unfinished attempts on restart;
/// it is never taken for some other outcome.
#[tokio::test]
async fn a_damaged_outcome_word_is_an_error_naming_its_row() {
    for db in databases().await {
        let (hopper, attempts) = (Hopper::new(&db.store), Attempts::new(&db.store));
        let c = campaign(&db.store, "C1").await;
        hopper.enqueue(c, &contacts(0, 2), t0()).await.unwrap();
        let claimed = hopper
            .claim(c, "a", t0(), Duration::from_secs(60), 2)
            .await
            .unwrap();
        let ended = attempts
            .open(&claimed[0], Channel::Voice, "a", at(1))
            .await
            .unwrap();
        let end = AttemptEnd {
            outcome: AttemptOutcome::Busy,
            at: at(5),
            ..AttemptEnd::default()
        };
        attempts.close(ended, &end).await.unwrap();
        let open = attempts
            .open(&claimed[1], Channel::Voice, "a", at(2))
            .await
            .unwrap();
        for (sql, id) in [
            (
                "update attempts set outcome = 'bizzy' where attempt_id = $1",
                ended,
            ),
            (
                "update attempts set channel = 'fax' where attempt_id = $1",
                open,
            ),
        ] {
            huifang::on_pool!(&db.store, |pool| {
                sqlx::query(sql).bind(id.0).execute(pool).await.map(drop)
            })
            .unwrap();
        }
        let err = attempts
            .of_contact(claimed[0].campaign_contact_id)
            .await
            .unwrap_err();
        assert!(
            matches!(err, AttemptError::Damaged(_)),
            "{}: {err}",
            db.name
        );
        let text = err.to_string();
        assert!(
            text.contains(&format!("attempts row {ended}, column `outcome`"))
                && text.contains("`bizzy`"),
            "{}: {text}",
            db.name
        );
        let err = attempts.unfinished("a").await.unwrap_err().to_string();
        assert!(
            err.contains(&format!("attempts row {open}, column `channel`"))
                && err.contains("`fax`"),
            "{}: {err}",
            db.name
        );
    }
}
