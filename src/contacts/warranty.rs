//! Warranty (保修期): a component is covered for its months from the unit's handover.

use chrono::{Months, NaiveDate};
use serde::Serialize;

/// Whether a component was covered on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WarrantyStatus {
    /// Covered: repairs are free.
    InWarranty {
        /// Last day of cover.
        until: NaiveDate,
    },
    /// Cover ran out: repairs are paid service.
    Expired {
        /// Last day of cover.
        until: NaiveDate,
    },
    /// The unit has not been handed over yet: the developer still owns every defect.
    NotHandedOver,
}

impl WarrantyStatus {
    /// Whether a repair is free.
    pub fn is_covered(self) -> bool {
        !matches!(self, WarrantyStatus::Expired { .. })
    }

    /// The last day of cover, when known.
    pub fn until(self) -> Option<NaiveDate> {
        match self {
            WarrantyStatus::InWarranty { until } | WarrantyStatus::Expired { until } => Some(until),
            WarrantyStatus::NotHandedOver => None,
        }
    }
}

/// The warranty status on `on` of a component with `months` of cover, handed over on `handover`.
///
/// Cover runs up to and including the day before the same date `months` later (handover on
/// 15 March with 6 months: covered through 14 September). Month ends clamp (31 Aug + 6 → 28 Feb).
pub fn warranty_status(handover: Option<NaiveDate>, months: u32, on: NaiveDate) -> WarrantyStatus {
    let Some(handover) = handover else {
        return WarrantyStatus::NotHandedOver;
    };
    let end = handover
        .checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX);
    let until = end.pred_opt().unwrap_or(end);
    if on <= until {
        WarrantyStatus::InWarranty { until }
    } else {
        WarrantyStatus::Expired { until }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn half_a_year_for_the_light_fitting() {
        let handover = Some(day("2026-03-15"));
        assert_eq!(
            warranty_status(handover, 6, day("2026-09-14")),
            WarrantyStatus::InWarranty {
                until: day("2026-09-14")
            }
        );
        assert_eq!(
            warranty_status(handover, 6, day("2026-09-15")),
            WarrantyStatus::Expired {
                until: day("2026-09-14")
            }
        );
    }

    #[test]
    fn month_ends_clamp_and_no_handover_is_covered() {
        assert_eq!(
            warranty_status(Some(day("2025-08-31")), 6, day("2026-02-27")).until(),
            Some(day("2026-02-27"))
        );
        assert!(warranty_status(None, 6, day("2030-01-01")).is_covered());
    }
}
