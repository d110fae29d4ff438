//! The claim-rate benchmark (`benches/hopper.sh`): enqueue a campaign, drain it in batches as
//! a dialer would (claim, then finish each contact), and print contacts claimed per second.
//! Ignored in normal runs; `HOPPER_CONTACTS` and `HOPPER_BATCH` size it.

use std::time::{Duration, Instant};

use huifang::dialer::hopper::Hopper;
use huifang::store::Store;
use huifang::vocab::AttemptOutcome;
use testkit::db::{campaign, contacts, databases, t0};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Time spent in `claim` and in the whole loop, and how many contacts one node claimed.
#[derive(Debug, Default, Clone, Copy)]
struct Drained {
    claimed: u64,
    claiming: Duration,
}

async fn drain(store: Store, campaign_id: i64, node: &'static str, batch: u32) -> Drained {
    let hopper = Hopper::new(&store);
    let lease = Duration::from_secs(3600);
    let mut out = Drained::default();
    loop {
        let start = Instant::now();
        let claimed = hopper
            .claim(campaign_id, node, t0(), lease, batch)
            .await
            .unwrap();
        out.claiming += start.elapsed();
        if claimed.is_empty() {
            return out;
        }
        out.claimed += claimed.len() as u64;
        for contact in &claimed {
            hopper
                .finish(contact, AttemptOutcome::Answered, t0())
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run by benches/hopper.sh"]
async fn claim_rate() {
    let (n, batch) = (
        env("HOPPER_CONTACTS", 100_000),
        env("HOPPER_BATCH", 50) as u32,
    );
    for db in databases().await {
        let c = campaign(&db.store, "BENCH").await;
        let list = contacts(0, n);
        let start = Instant::now();
        Hopper::new(&db.store)
            .enqueue(c, &list, t0())
            .await
            .unwrap();
        let enqueue = start.elapsed();
        let nodes: Vec<Store> = match db.name {
            "sqlite" => vec![db.store.clone()],
            _ => vec![db.store.clone(), db.another_node().await],
        };
        let start = Instant::now();
        let names = ["node-a", "node-b"];
        let runs = nodes
            .into_iter()
            .zip(names)
            .map(|(store, node)| tokio::spawn(drain(store, c, node, batch)));
        let mut drained = Vec::new();
        for run in runs.collect::<Vec<_>>() {
            drained.push(run.await.unwrap());
        }
        let wall = start.elapsed().as_secs_f64();
        report(db.name, n, batch, enqueue, wall, &drained);
    }
}

fn report(backend: &str, n: u64, batch: u32, enqueue: Duration, wall: f64, nodes: &[Drained]) {
    let claimed: u64 = nodes.iter().map(|d| d.claimed).sum();
    assert_eq!(claimed, n, "{backend}: every contact claimed exactly once");
    let per_node: Vec<String> = nodes
        .iter()
        .map(|d| format!("{:.0}", d.claimed as f64 / d.claiming.as_secs_f64()))
        .collect();
    println!(
        "hopper {backend}: {n} contacts, {} node(s), batch {batch}: enqueue {:.0}/s; \
         claim+finish {:.0} contacts/s wall; claim alone {} contacts/s per node (split {:?})",
        nodes.len(),
        n as f64 / enqueue.as_secs_f64(),
        claimed as f64 / wall,
        per_node.join(" + "),
        nodes.iter().map(|d| d.claimed).collect::<Vec<_>>(),
    );
}
