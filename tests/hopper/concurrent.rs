//! Two nodes claiming one campaign at once never get the same contact.

use std::collections::HashSet;
use std::time::Duration;

use huifang::dialer::hopper::Hopper;
use huifang::store::Store;
use huifang::vocab::AttemptOutcome;
use testkit::db::{campaign, contacts, databases, t0};

const CONTACTS: u64 = 600;

/// Claims 5 at a time until the campaign is drained; finishes every other batch, so the
/// claim also runs over `done` rows. Returns the ids claimed.
async fn drain(store: &Store, campaign_id: i64, node: &str) -> Vec<i64> {
    let hopper = Hopper::new(store);
    let lease = Duration::from_secs(3600);
    let mut got = Vec::new();
    for round in 0.. {
        let batch = hopper
            .claim(campaign_id, node, t0(), lease, 5)
            .await
            .unwrap();
        if batch.is_empty() {
            break;
        }
        for contact in &batch {
            assert_eq!(contact.lease_owner, node);
            if round % 2 == 0 {
                hopper
                    .finish(contact, AttemptOutcome::Answered, t0())
                    .await
                    .unwrap();
            }
        }
        got.extend(batch.iter().map(|c| c.campaign_contact_id));
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_claimers_never_receive_the_same_contact_and_together_claim_all() {
    for db in databases().await {
        let other = db.another_node().await;
        let c = campaign(&db.store, "C1").await;
        Hopper::new(&db.store)
            .enqueue(c, &contacts(0, CONTACTS), t0())
            .await
            .unwrap();
        let (a, b) = tokio::join!(drain(&db.store, c, "node-a"), drain(&other, c, "node-b"));
        let a_set: HashSet<_> = a.iter().copied().collect();
        let b_set: HashSet<_> = b.iter().copied().collect();
        assert_eq!(
            a_set.len(),
            a.len(),
            "{}: node-a got a contact twice",
            db.name
        );
        assert_eq!(
            b_set.len(),
            b.len(),
            "{}: node-b got a contact twice",
            db.name
        );
        let both: Vec<_> = a_set.intersection(&b_set).collect();
        assert!(both.is_empty(), "{}: claimed by both: {both:?}", db.name);
        assert_eq!(a.len() + b.len(), CONTACTS as usize, "{}", db.name);
        assert!(
            !a.is_empty() && !b.is_empty(),
            "{}: {} / {}",
            db.name,
            a.len(),
            b.len()
        );
        other.close().await;
    }
}
