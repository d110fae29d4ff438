//! What a screen pop shows of a caller's units: where each unit is, its components with their
//! suppliers and warranty. The pop itself, which adds the owner's tickets, is the desktop's
//! ([`crate::desktop::screen_pop`]): contacts sit below tickets.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{WarrantyStatus, warranty_status};
use crate::on_pool;
use crate::store::Store;

/// A unit with where it is, for display.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct UnitInfo {
    /// Database id.
    pub unit_id: i64,
    /// `PROJECT-BUILDING-NUMBER`.
    pub code: String,
    /// Unit number within the building.
    pub number: String,
    /// Building name.
    pub building: String,
    /// Project code.
    pub project_code: String,
    /// Project name (楼盘).
    pub project_name: String,
    /// Region name.
    pub region_name: String,
    /// Handover date, if handed over.
    pub handover_date: Option<NaiveDate>,
}

/// A component of a unit with its supplier and warranty.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentInfo {
    /// The unit's code.
    pub unit_code: String,
    /// The component (kitchen, windows, ...).
    pub component: String,
    /// Supplier code.
    pub supplier_code: String,
    /// Supplier name.
    pub supplier_name: String,
    /// Supplier's phone, if known.
    pub supplier_phone: Option<String>,
    /// Months of cover from handover.
    pub warranty_months: i64,
    /// Cover on the day asked about.
    pub warranty: WarrantyStatus,
}

/// The owner's units with where they are, for display.
pub async fn owner_units(store: &Store, owner_id: i64) -> Result<Vec<UnitInfo>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as(
            "select u.unit_id, u.code, u.number, b.name as building, p.code as project_code,
                    p.name as project_name, r.name as region_name, u.handover_date
             from owner_units ou
             join units u on u.unit_id = ou.unit_id
             join buildings b on b.building_id = u.building_id
             join projects p on p.project_id = b.project_id
             join regions r on r.region_id = p.region_id
             where ou.owner_id = $1 order by u.code",
        )
        .bind(owner_id)
        .fetch_all(pool)
        .await
    })
}

#[derive(sqlx::FromRow)]
struct ComponentRow {
    unit_code: String,
    component: String,
    supplier_code: String,
    supplier_name: String,
    supplier_phone: Option<String>,
    warranty_months: i64,
    handover_date: Option<NaiveDate>,
}

/// Who supplied `component` of the unit `unit_code`, and whether its warranty ran on `at`.
pub async fn component_info(
    store: &Store,
    unit_code: &str,
    component: &str,
    at: DateTime<Utc>,
) -> Result<Option<ComponentInfo>, sqlx::Error> {
    let component = component.trim().to_lowercase();
    Ok(components(store, unit_code, Some(&component), at)
        .await?
        .into_iter()
        .next())
}

/// Every component of the unit `unit_code` with its supplier and warranty on `at` (the
/// screen pop of a connected call shows them all).
pub async fn unit_components(
    store: &Store,
    unit_code: &str,
    at: DateTime<Utc>,
) -> Result<Vec<ComponentInfo>, sqlx::Error> {
    components(store, unit_code, None, at).await
}

async fn components(
    store: &Store,
    unit_code: &str,
    component: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Vec<ComponentInfo>, sqlx::Error> {
    let rows: Vec<ComponentRow> = on_pool!(store, |pool| {
        sqlx::query_as(
            "select u.code as unit_code, c.component, s.code as supplier_code, s.name as supplier_name,
                    s.phone as supplier_phone, c.warranty_months, u.handover_date
             from unit_components c
             join units u on u.unit_id = c.unit_id
             join suppliers s on s.supplier_id = c.supplier_id
             where u.code = $1 and ($2 is null or c.component = $2)
             order by c.component",
        )
        .bind(unit_code)
        .bind(component)
        .fetch_all(pool)
        .await
    })?;
    Ok(rows
        .into_iter()
        .map(|row| ComponentInfo {
            warranty: warranty_status(
                row.handover_date,
                u32::try_from(row.warranty_months).unwrap_or(0),
                crate::clock::business_date(at),
            ),
            unit_code: row.unit_code,
            component: row.component,
            supplier_code: row.supplier_code,
            supplier_name: row.supplier_name,
            supplier_phone: row.supplier_phone,
            warranty_months: row.warranty_months,
        })
        .collect())
}
