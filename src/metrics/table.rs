//! The figures as a text table for a terminal, in the CLI's house style.

use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;

use super::{Figures, GroupBy};

/// The figures as a table, one row per group (the CLI's `metrics` and the demo print it).
pub fn figures_table(by: Option<GroupBy>, rows: &[(String, Figures)]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        by.map_or("group", GroupBy::as_str),
        "关闭率 closure",
        "一次满意度 first-contact",
        "rating avg",
        "ratings 1/2/3/4/5",
        "及时率 reply",
        "及时率 on site",
        "升级率 escalation",
        "callbacks tried/conn/done",
        "接通率 connect",
        "survey completion",
        "abandon",
    ]);
    for (group, f) in rows {
        t.add_row(vec![
            group.clone(),
            rate(f.closed, f.completed),
            rate(f.first_satisfied, f.first_rated),
            f.average_rating()
                .map_or_else(|| "-".to_string(), |avg| format!("{avg:.2}")),
            f.ratings.map(|n| n.to_string()).join("/"),
            rate(f.ack_in_time, f.ack_measured),
            rate(f.onsite_in_time, f.onsite_measured),
            rate(f.escalated, f.opened),
            format!(
                "{}/{}/{}",
                f.callbacks_attempted, f.callbacks_connected, f.callbacks_completed
            ),
            rate(f.callbacks_connected, f.callbacks_attempted),
            rate(f.callbacks_completed, f.callbacks_connected),
            rate(f.abandoned, f.answered),
        ]);
    }
    t
}

/// `67% (2/3)`, or `-` when there is nothing to divide by.
fn rate(part: i64, whole: i64) -> String {
    if whole == 0 {
        return "-".to_string();
    }
    format!(
        "{:.0}% ({part}/{whole})",
        100.0 * part as f64 / whole as f64
    )
}
