//! A campaign's attempts as CSV, for supervisors who take figures out of the console (the
//! web layer puts each export on the audit log before it answers).
//!
//! Cells that a spreadsheet would run as a formula (`=`, `@`, `+` or `-` not followed by
//! digits alone, a leading tab or carriage return) are prefixed with `'`: an owner's name
//! comes from an imported list and must not become a formula on a supervisor's machine (CSV
//! injection).
//! Phone numbers such as `+8613800000001` stay as they are.

use chrono::{DateTime, Utc};

use super::repo::RepoError;
use super::wallboard::AttemptRow;
use crate::on_pool;
use crate::store::Store;

/// Rows read per query: the export walks the attempts by id, never holding a cursor open.
const BATCH: i64 = 1_000;

/// The columns, in order.
pub const HEADER: [&str; 13] = [
    "attempt_id",
    "contact_name",
    "phone",
    "channel",
    "queued_at",
    "dialed_at",
    "answered_at",
    "bridged_at",
    "ended_at",
    "outcome",
    "sip_status",
    "agent",
    "detail",
];

/// Every attempt of `campaign_id` with `outcome` (`open`: not ended; none: all), oldest first.
pub async fn attempts(
    store: &Store,
    campaign_id: i64,
    outcome: Option<&str>,
) -> Result<Vec<AttemptRow>, RepoError> {
    let filter = outcome.unwrap_or("");
    let mut all: Vec<AttemptRow> = Vec::new();
    loop {
        let after = all.last().map_or(0, |r| r.attempt_id);
        let batch: Vec<AttemptRow> = on_pool!(store, |pool| {
            sqlx::query_as(
                "select a.attempt_id, o.name as contact_name, c.phone, a.channel, a.queued_at,
                        a.dialed_at, a.answered_at, a.bridged_at, a.ended_at, a.outcome,
                        a.sip_status, a.agent, a.detail
                   from attempts a
                   join campaign_contacts c on c.campaign_contact_id = a.campaign_contact_id
                   left join owners o on o.owner_id = c.owner_id
                  where a.campaign_id = $1 and ($2 = '' or coalesce(a.outcome, 'open') = $2)
                    and a.attempt_id > $3
                  order by a.attempt_id
                  limit $4",
            )
            .bind(campaign_id)
            .bind(filter)
            .bind(after)
            .bind(BATCH)
            .fetch_all(pool)
            .await
        })?;
        let full = batch.len() as i64 == BATCH;
        all.extend(batch);
        if !full {
            return Ok(all);
        }
    }
}

/// `rows` as CSV with [`HEADER`]; times in RFC 3339 UTC, blanks for none.
pub fn to_csv(rows: &[AttemptRow]) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let at = |t: Option<DateTime<Utc>>| t.map_or(String::new(), |t| t.to_rfc3339());
    let text = |t: Option<&str>| defuse(t.unwrap_or(""));
    // Writing to a Vec cannot fail.
    out.write_record(HEADER).expect("csv to memory");
    for r in rows {
        let record = [
            r.attempt_id.to_string(),
            text(r.contact_name.as_deref()),
            defuse(&r.phone),
            r.channel.clone(),
            at(Some(r.queued_at)),
            at(r.dialed_at),
            at(r.answered_at),
            at(r.bridged_at),
            at(r.ended_at),
            text(r.outcome.as_deref()),
            r.sip_status.map_or(String::new(), |s| s.to_string()),
            text(r.agent.as_deref()),
            text(r.detail.as_deref()),
        ];
        out.write_record(&record).expect("csv to memory");
    }
    out.into_inner().expect("csv to memory")
}

/// `cell`, prefixed with `'` when a spreadsheet would take it for a formula.
fn defuse(cell: &str) -> String {
    let risky = match cell.chars().next() {
        Some('=' | '@' | '\t' | '\r') => true,
        // `-2+3+cmd|' /C calc'!A0` starts with a digit too: only a bare number is safe.
        Some('+' | '-') => !cell[1..].chars().all(|c| c.is_ascii_digit()) || cell.len() == 1,
        _ => false,
    };
    if risky {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, phone: &str) -> AttemptRow {
        AttemptRow {
            attempt_id: 7,
            contact_name: Some(name.into()),
            phone: phone.into(),
            channel: "voice".into(),
            queued_at: "2026-12-07T08:00:00Z".parse().unwrap(),
            dialed_at: None,
            answered_at: Some("2026-12-07T08:00:05Z".parse().unwrap()),
            bridged_at: None,
            ended_at: None,
            outcome: Some("answered".into()),
            sip_status: Some(200),
            agent: None,
            detail: Some("said \"yes\", then 5".into()),
        }
    }

    #[test]
    fn rows_are_quoted_csv_with_the_header_first() {
        let text = String::from_utf8(to_csv(&[row("王芳", "+8613800000001")])).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER.join(","));
        assert_eq!(
            lines[1],
            "7,王芳,+8613800000001,voice,2026-12-07T08:00:00+00:00,,\
             2026-12-07T08:00:05+00:00,,,answered,200,,\"said \"\"yes\"\", then 5\""
        );
    }

    #[test]
    fn formulas_are_defused_and_numbers_kept() {
        assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse("+cmd"), "'+cmd");
        assert_eq!(defuse("-2+3+cmd|' /C calc'!A0"), "'-2+3+cmd|' /C calc'!A0");
        assert_eq!(defuse("-"), "'-");
        assert_eq!(defuse("+8613800000001"), "+8613800000001");
        assert_eq!(defuse("\tx"), "'\tx");
        assert_eq!(defuse("王芳"), "王芳");
        assert_eq!(defuse(""), "");
    }
}
