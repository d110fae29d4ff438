//! Claiming: due dates, priority, leases and their expiry, release and finish.

use std::time::Duration;

use chrono::TimeDelta;
use huifang::dialer::hopper::{ClaimedContact, Hopper, HopperError};
use huifang::vocab::AttemptOutcome;
use testkit::db::{campaign, contacts, databases, t0};

const LEASE: Duration = Duration::from_secs(60);

fn ids(claimed: &[ClaimedContact]) -> Vec<i64> {
    claimed.iter().map(|c| c.campaign_contact_id).collect()
}

#[tokio::test]
async fn enqueue_is_idempotent_on_campaign_and_phone() {
    for db in databases().await {
        let hopper = Hopper::new(&db.store);
        let c = campaign(&db.store, "C1").await;
        assert_eq!(hopper.enqueue(c, &contacts(0, 3), t0()).await.unwrap(), 3);
        assert_eq!(hopper.enqueue(c, &contacts(1, 3), t0()).await.unwrap(), 1);
        let all = hopper.claim(c, "a", t0(), LEASE, 100).await.unwrap();
        assert_eq!(all.len(), 4, "{}", db.name);
        assert_eq!(all[0].phone, "+8613800000000", "{}", db.name);
        assert_eq!(all[0].tz, "Asia/Shanghai", "{}", db.name);
    }
}

#[tokio::test]
async fn claim_takes_higher_priority_first_then_oldest() {
    for db in databases().await {
        let hopper = Hopper::new(&db.store);
        let c = campaign(&db.store, "C1").await;
        let mut list = contacts(0, 4);
        list[2].priority = 5;
        hopper.enqueue(c, &list, t0()).await.unwrap();
        let first = hopper.claim(c, "a", t0(), LEASE, 2).await.unwrap();
        let phones: Vec<_> = first.iter().map(|c| c.phone.as_str()).collect();
        assert_eq!(phones, ["+8613800000002", "+8613800000000"], "{}", db.name);
        let rest = hopper.claim(c, "a", t0(), LEASE, 10).await.unwrap();
        assert_eq!(rest.len(), 2, "{}", db.name);
        assert!(ids(&first)[1] < ids(&rest)[0], "{}", db.name);
    }
}

#[tokio::test]
async fn claim_waits_for_next_attempt_at() {
    for db in databases().await {
        let hopper = Hopper::new(&db.store);
        let c = campaign(&db.store, "C1").await;
        hopper.enqueue(c, &contacts(0, 2), t0()).await.unwrap();
        let both = hopper.claim(c, "a", t0(), LEASE, 10).await.unwrap();
        let later = t0() + TimeDelta::minutes(30);
        hopper.release(&both[0], Some(later), t0()).await.unwrap();
        hopper.release(&both[1], None, t0()).await.unwrap();
        let now = hopper.claim(c, "a", t0(), LEASE, 10).await.unwrap();
        assert_eq!(ids(&now), [both[1].campaign_contact_id], "{}", db.name);
        hopper
            .finish(&now[0], AttemptOutcome::Answered, t0())
            .await
            .unwrap();
        let early = later - TimeDelta::seconds(1);
        assert!(
            hopper
                .claim(c, "a", early, LEASE, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let due = hopper.claim(c, "a", later, LEASE, 10).await.unwrap();
        assert_eq!(ids(&due), [both[0].campaign_contact_id], "{}", db.name);
    }
}

#[tokio::test]
async fn a_leased_contact_is_not_claimed_again_until_its_lease_expires() {
    for db in databases().await {
        let hopper = Hopper::new(&db.store);
        let c = campaign(&db.store, "C1").await;
        hopper.enqueue(c, &contacts(0, 1), t0()).await.unwrap();
        let mine = hopper.claim(c, "a", t0(), LEASE, 10).await.unwrap();
        assert_eq!(mine[0].lease_owner, "a");
        assert_eq!(mine[0].lease_until, t0() + TimeDelta::seconds(60));
        let almost = t0() + TimeDelta::seconds(59);
        assert!(
            hopper
                .claim(c, "b", almost, LEASE, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // Node `a` crashed: once its lease ran out, `b` takes the contact over.
        let expired = t0() + TimeDelta::seconds(60);
        let taken = hopper.claim(c, "b", expired, LEASE, 10).await.unwrap();
        assert_eq!(ids(&taken), ids(&mine), "{}", db.name);
        assert_eq!(taken[0].lease_owner, "b");
        // `a` comes back and must not act on the contact any more.
        let err = hopper
            .finish(&mine[0], AttemptOutcome::Answered, expired)
            .await
            .unwrap_err();
        assert!(matches!(err, HopperError::LeaseLost { .. }), "{err}");
        hopper
            .finish(&taken[0], AttemptOutcome::Answered, expired)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn finished_contacts_are_never_claimed_and_leases_can_be_extended() {
    for db in databases().await {
        let hopper = Hopper::new(&db.store);
        let c = campaign(&db.store, "C1").await;
        hopper.enqueue(c, &contacts(0, 2), t0()).await.unwrap();
        let both = hopper.claim(c, "a", t0(), LEASE, 10).await.unwrap();
        hopper
            .finish(&both[0], AttemptOutcome::Answered, t0())
            .await
            .unwrap();
        let t1 = t0() + TimeDelta::seconds(50);
        let until = hopper.extend(&both[1], t1, LEASE).await.unwrap();
        assert_eq!(until, t1 + TimeDelta::seconds(60));
        let t2 = t0() + TimeDelta::seconds(100);
        assert!(
            hopper
                .claim(c, "b", t2, LEASE, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let t3 = until + TimeDelta::days(365);
        let left = hopper.claim(c, "b", t3, LEASE, 10).await.unwrap();
        assert_eq!(ids(&left), [both[1].campaign_contact_id], "{}", db.name);
        let err = hopper.release(&both[0], None, t3).await.unwrap_err();
        assert!(err.to_string().contains("no longer holds"), "{err}");
    }
}

#[tokio::test]
async fn campaigns_do_not_share_contacts() {
    for db in databases().await {
        let hopper = Hopper::new(&db.store);
        let (c1, c2) = (
            campaign(&db.store, "C1").await,
            campaign(&db.store, "C2").await,
        );
        hopper.enqueue(c1, &contacts(0, 2), t0()).await.unwrap();
        hopper.enqueue(c2, &contacts(0, 3), t0()).await.unwrap();
        assert_eq!(
            hopper.claim(c1, "a", t0(), LEASE, 10).await.unwrap().len(),
            2
        );
        assert_eq!(
            hopper.claim(c2, "a", t0(), LEASE, 10).await.unwrap().len(),
            3
        );
    }
}
