//! A campaign's files and rows: prompt WAVs, a list file, an agentless notification campaign
//! created and started as `huifang campaign create --start` does, and what the dialer wrote
//! back (attempts, contacts' outcomes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use huifang::campaigns::Campaign;
use huifang::campaigns::lifecycle::Action;
use huifang::campaigns::repo::{Campaigns, StoredCampaign};
use huifang::dialer::hopper::AttemptRow;
use huifang::dialer::lists;
use huifang::store::Store;

/// A mono 8 kHz tone of `seconds`, written as `DIR/zh-CN/NAME.wav`; returns DIR.
pub fn prompts(dir: &Path, name: &str, seconds: f32) -> PathBuf {
    let root = dir.join("prompts");
    std::fs::create_dir_all(root.join("zh-CN")).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w =
        hound::WavWriter::create(root.join("zh-CN").join(format!("{name}.wav")), spec).unwrap();
    let samples = (8000.0 * seconds) as u32;
    for i in 0..samples {
        let t = i as f32 / 8000.0;
        w.write_sample((8000.0 * (t * 440.0 * std::f32::consts::TAU).sin()) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    root
}

/// The `i`-th test number (valid mainland mobiles).
pub fn number(i: usize) -> String {
    format!("+86138{i:08}")
}

/// A list file of `(phone, tz)` rows.
pub fn list(dir: &Path, rows: &[(String, &str)]) -> PathBuf {
    let path = dir.join("list.csv");
    let mut text = String::from("phone,tz\n");
    for (phone, tz) in rows {
        text.push_str(&format!("{phone},{tz}\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// An agentless notification campaign over `list.csv` playing `beep`, with `extra` TOML.
pub fn campaign_file(dir: &Path, code: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{code}.toml"));
    let text = format!(
        "code = \"{code}\"\nname = \"test {code}\"\nkind = \"notification\"\nmode = \"agentless\"\n\
         prompts = [\"beep\"]\nring_timeout_secs = 15\ncaller_id = \"400-810-8888\"\n\
         [source]\ncsv = \"list.csv\"\n{extra}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Stores, loads and starts the campaign of `file`, as `huifang campaign create --start`.
pub async fn create(store: &Store, file: &Path, now: DateTime<Utc>) -> StoredCampaign {
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

/// Every attempt of a campaign, by contact id, oldest first.
pub async fn attempts(store: &Store, campaign_id: i64) -> BTreeMap<i64, Vec<AttemptRow>> {
    let rows = huifang::dialer::hopper::Attempts::new(store)
        .of_campaign(campaign_id)
        .await
        .unwrap();
    let mut by_contact: BTreeMap<i64, Vec<AttemptRow>> = BTreeMap::new();
    for row in rows {
        by_contact
            .entry(row.campaign_contact_id)
            .or_default()
            .push(row);
    }
    by_contact
}

/// Each contact's phone, time zone and final outcome, by contact id.
pub async fn contacts(
    store: &Store,
    campaign_id: i64,
) -> BTreeMap<i64, (String, String, String, Option<String>)> {
    let rows: Vec<(i64, String, String, String, Option<String>)> =
        huifang::on_pool!(store, |pool| {
            sqlx::query_as(
                "select campaign_contact_id, phone, tz, state, final_outcome
                   from campaign_contacts where campaign_id = $1",
            )
            .bind(campaign_id)
            .fetch_all(pool)
            .await
        })
        .unwrap();
    rows.into_iter()
        .map(|(id, phone, tz, state, outcome)| (id, (phone, tz, state, outcome)))
        .collect()
}
