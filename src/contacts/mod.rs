//! Owners, units, suppliers and staff (seed 001), and the screen-pop look-ups over them.
//!
//! Owners have one or more phones and one or more units; each unit has components (kitchen
//! fittings, windows, ...) each with its supplier and warranty. Staff carry the responsibility
//! matrix (project × category → person) and the escalation chain.

pub mod dnc;
pub mod import;
mod lookup;
mod warranty;

pub use lookup::{ComponentInfo, UnitInfo, component_info, owner_units, unit_components};
pub use warranty::{WarrantyStatus, warranty_status};

use chrono::NaiveDate;
use serde::Serialize;

use crate::on_pool;
use crate::phone::Phone;
use crate::store::Store;
use crate::vocab::{Category, StaffRole};

/// An owner (业主).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Owner {
    /// Database id.
    pub owner_id: i64,
    /// The external key used by imports.
    pub code: String,
    /// Full name.
    pub name: String,
    /// Email address, if any.
    pub email: Option<String>,
    /// Preferred language (`zh-CN`, `en`).
    pub language: String,
    /// IANA time zone of the owner (call windows are in local time).
    pub time_zone: String,
    /// Agreed to be called.
    pub consent_voice: bool,
    /// Agreed to receive text messages.
    pub consent_sms: bool,
    /// Agreed to receive email.
    pub consent_email: bool,
}

/// A member of staff: responsible persons, heads, managers, agents.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Staff {
    /// Database id.
    pub staff_id: i64,
    /// The external key used by imports.
    pub code: String,
    /// Full name.
    pub name: String,
    /// What they do.
    #[sqlx(try_from = "String")]
    pub role: StaffRole,
    /// Department (工程, 物业, ...).
    pub department: String,
    /// Mobile number (E.164), where dispatch SMS go.
    pub phone: String,
    /// Email, if any.
    pub email: Option<String>,
}

/// A unit's project, for dispatch and escalation.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct UnitPlace {
    /// The unit.
    pub unit_id: i64,
    /// Its code (`PROJECT-BUILDING-NUMBER`).
    pub unit_code: String,
    /// Its project.
    pub project_id: i64,
    /// The project's name.
    pub project_name: String,
    /// The project's region.
    pub region_id: i64,
    /// Handover date, if handed over.
    pub handover_date: Option<NaiveDate>,
}

/// The owner whose phone this is, if any (the first, when several share it).
pub async fn owner_by_phone(store: &Store, phone: &Phone) -> Result<Option<Owner>, sqlx::Error> {
    Ok(owners_by_phone(store, phone).await?.into_iter().next())
}

/// Every owner who gave this phone (a family's landline may be several owners'), oldest
/// first.
pub async fn owners_by_phone(store: &Store, phone: &Phone) -> Result<Vec<Owner>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as(
            "select o.owner_id, o.code, o.name, o.email, o.language, o.time_zone,
                    o.consent_voice, o.consent_sms, o.consent_email
             from owner_phones p join owners o on o.owner_id = p.owner_id
             where p.phone = $1 order by o.owner_id",
        )
        .bind(phone.as_str())
        .fetch_all(pool)
        .await
    })
}

/// The owner with this import code, if any.
pub async fn owner_by_code(store: &Store, code: &str) -> Result<Option<Owner>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as(
            "select owner_id, code, name, email, language, time_zone,
                    consent_voice, consent_sms, consent_email
             from owners where code = $1",
        )
        .bind(code)
        .fetch_optional(pool)
        .await
    })
}

/// The phones of an owner, primary first.
pub async fn owner_phones(store: &Store, owner_id: i64) -> Result<Vec<String>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_scalar(
            "select phone from owner_phones where owner_id = $1 order by position, phone",
        )
        .bind(owner_id)
        .fetch_all(pool)
        .await
    })
}

/// Where a unit is, by unit id or by code.
pub async fn unit_place(
    store: &Store,
    unit: UnitRef<'_>,
) -> Result<Option<UnitPlace>, sqlx::Error> {
    const SELECT: &str =
        "select u.unit_id, u.code as unit_code, p.project_id, p.name as project_name,
                p.region_id, u.handover_date
         from units u join buildings b on b.building_id = u.building_id
         join projects p on p.project_id = b.project_id";
    on_pool!(store, |pool| match unit {
        UnitRef::Id(id) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{SELECT} where u.unit_id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await
        }
        UnitRef::Code(code) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} where u.code = $1")))
                .bind(code)
                .fetch_optional(pool)
                .await
        }
    })
}

/// A unit named by id or by code.
#[derive(Debug, Clone, Copy)]
pub enum UnitRef<'a> {
    /// By database id.
    Id(i64),
    /// By code.
    Code(&'a str),
}

/// The unit ids of an owner.
pub async fn owner_unit_ids(store: &Store, owner_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("select unit_id from owner_units where owner_id = $1 order by unit_id")
            .bind(owner_id)
            .fetch_all(pool)
            .await
    })
}

/// The responsible person for `category` in `project`, and their department head.
pub async fn responsible_for(
    store: &Store,
    project_id: i64,
    category: Category,
) -> Result<Option<(i64, Option<i64>)>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as(
            "select staff_id, head_staff_id from responsibilities where project_id = $1 and category = $2",
        )
        .bind(project_id)
        .bind(category.as_str())
        .fetch_optional(pool)
        .await
    })
}

/// A member of staff by id.
pub async fn staff_by_id(store: &Store, staff_id: i64) -> Result<Option<Staff>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as(
            "select staff_id, code, name, role, department, phone, email from staff where staff_id = $1",
        )
        .bind(staff_id)
        .fetch_optional(pool)
        .await
    })
}

/// The first active member of staff with `role`, in `region` when given.
pub async fn staff_with_role(
    store: &Store,
    role: StaffRole,
    region_id: Option<i64>,
) -> Result<Option<Staff>, sqlx::Error> {
    on_pool!(store, |pool| {
        sqlx::query_as(
            "select staff_id, code, name, role, department, phone, email from staff
             where role = $1 and active and ($2 is null or region_id = $2)
             order by staff_id limit 1",
        )
        .bind(role.as_str())
        .bind(region_id)
        .fetch_optional(pool)
        .await
    })
}
