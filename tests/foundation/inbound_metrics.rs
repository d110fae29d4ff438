//! The hotline's figures on both backends from a fixed set of `inbound_calls` rows: offered,
//! answered, abandoned in queue, callback requests, service level, speed of answer, by hour.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use huifang::metrics::{Period, compute_inbound};
use huifang::on_pool;
use huifang::store::Store;
use testkit::db::databases;

/// `hh:mm:ss` China time on 2026-06-`day`.
fn at(day: u32, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 6, day, hour, minute, second)
        .unwrap()
        .with_timezone(&Utc)
}

/// One row: queued at `queued`, put through `wait` seconds later (if any), ended as `outcome`.
async fn call(store: &Store, queued: Option<DateTime<Utc>>, wait: Option<i64>, outcome: &str) {
    let arrived = queued.unwrap_or(at(1, 12, 0, 0)) - TimeDelta::seconds(15);
    let connected = queued.zip(wait).map(|(q, w)| q + TimeDelta::seconds(w));
    on_pool!(store, |pool| {
        sqlx::query(
            "insert into inbound_calls (node, number, caller, arrived_at, answered_at, queue,
                                        queued_at, connected_at, ended_at, outcome)
             values ('n1', '4008108888', '13812345678', $1, $1, 'repair', $2, $3, $4, $5)",
        )
        .bind(arrived)
        .bind(queued)
        .bind(connected)
        .bind(arrived + TimeDelta::seconds(300))
        .bind(outcome)
        .execute(pool)
        .await
        .map(|_| ())
    })
    .unwrap();
}

#[tokio::test]
async fn inbound_figures_of_a_day_in_total_and_by_hour() {
    for db in databases().await {
        let s = &db.store;
        // 09:xx: answered after 5 s, 20 s (in time: within, inclusive), 21 s; one abandon.
        call(s, Some(at(1, 9, 0, 0)), Some(5), "answered").await;
        call(s, Some(at(1, 9, 10, 0)), Some(20), "answered").await;
        call(s, Some(at(1, 9, 20, 0)), Some(21), "answered").await;
        call(s, Some(at(1, 9, 30, 0)), None, "abandoned").await;
        // 14:xx: a callback request, and one answered after 54 s.
        call(s, Some(at(1, 14, 0, 0)), None, "callback").await;
        call(s, Some(at(1, 14, 5, 0)), Some(54), "answered").await;
        // Not offered: hung up in the menu, closed; and one queued the next day.
        call(s, None, None, "menu").await;
        call(s, None, None, "closed").await;
        call(s, Some(at(2, 0, 0, 1)), Some(1), "answered").await;

        let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let period = Period::days(day, day).unwrap();
        let r = compute_inbound(s, &period, 20).await.unwrap();
        let t = &r.total;
        let name = db.name;
        assert_eq!(
            (t.offered, t.answered, t.abandoned, t.callback_requests),
            (6, 4, 1, 1),
            "{name}"
        );
        assert_eq!(t.answered_in_time, 2, "{name}");
        assert_eq!(t.service_level(), Some(2.0 / 6.0), "{name}");
        assert_eq!(t.average_speed_of_answer(), Some(25.0), "{name}");
        let hours: Vec<u32> = r.by_hour.keys().copied().collect();
        assert_eq!(hours, [9, 14], "{name}");
        assert_eq!(r.by_hour[&9].service_level(), Some(0.5), "{name}");
        assert_eq!(r.by_hour[&14].average_speed_of_answer(), Some(54.0));

        // A longer threshold counts the 21 s and 54 s answers in time.
        let r = compute_inbound(s, &period, 60).await.unwrap();
        assert_eq!(r.total.service_level(), Some(4.0 / 6.0), "{name}");
    }
}
