//! SMS and email end to end against real loopback peers (tests/peers): the SMSC simulator on
//! npm's smpp, an aiosmtpd SMTP server, an HTTP SMS provider. SQLite always, PostgreSQL as
//! well when `TEST_DATABASE_URL` is set.

#[path = "../hopper/db.rs"]
#[allow(dead_code)]
mod db;

mod campaign;
mod dispatch;
mod gateways;
mod peers;

use std::path::Path;

use chrono::{DateTime, Utc};
use huifang::campaigns::Campaign;
use huifang::campaigns::lifecycle::Action;
use huifang::campaigns::repo::{Campaigns, StoredCampaign};
use huifang::dialer::lists;
use huifang::store::Store;

/// Stores, loads and starts the campaign of `file`, as `huifang campaign create --start`.
pub(crate) async fn create(store: &Store, file: &Path, now: DateTime<Utc>) -> StoredCampaign {
    let campaign = Campaign::load(file).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(file).unwrap();
    let repo = Campaigns::new(store);
    let stored = repo
        .create(&campaign, &text, Some(file.to_str().unwrap()), "test", now)
        .await
        .unwrap();
    let report = lists::load(
        store,
        stored.campaign_id,
        &campaign,
        &stored.base_dir(),
        now,
    )
    .await
    .unwrap();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    repo.apply(&stored.code, Action::Start, "test", "", now)
        .await
        .unwrap()
}
