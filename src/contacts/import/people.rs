//! `suppliers.csv` and `staff.csv` (with the responsibility matrix and escalation chain).

use std::collections::HashMap;

use chrono::Utc;

use super::{FirstSeen, Importer, Lined, Row, RowError, code_map};
use crate::on_tx;
use crate::phone::Phone;
use crate::store::Store;
use crate::vocab::{Category, StaffRole};

/// A parsed `suppliers.csv` row.
pub(crate) struct SupplierRow {
    code: String,
    name: String,
    trade: String,
    phone: Option<String>,
    email: Option<String>,
}

/// Imports suppliers.
#[derive(Default)]
pub(crate) struct Suppliers {
    codes: FirstSeen,
}

impl Importer for Suppliers {
    type Row = SupplierRow;
    const REQUIRED: &'static [&'static str] = &["code", "name"];
    const OPTIONAL: &'static [&'static str] = &["trade", "phone", "email"];
    const TABLE: &'static str = "suppliers";

    fn parse(&mut self, row: &Row<'_>) -> Result<SupplierRow, RowError> {
        let supplier = SupplierRow {
            code: row.required("code")?.to_string(),
            name: row.required("name")?.to_string(),
            trade: row.get("trade").unwrap_or_default().to_string(),
            phone: row.parsed("phone", Phone::parse)?.map(String::from),
            email: row.parsed("email", parse_email)?,
        };
        self.codes.check(row, "code", supplier.code.clone())?;
        Ok(supplier)
    }

    async fn write(
        &mut self,
        store: &Store,
        _file: &str,
        batch: Vec<Lined<SupplierRow>>,
    ) -> Result<Vec<RowError>, sqlx::Error> {
        let now = Utc::now();
        let mut tx = store.begin_write().await?;
        for Lined { row, .. } in &batch {
            on_tx!(&mut tx, |conn| {
                sqlx::query(
                    "insert into suppliers (code, name, trade, phone, email, updated_at) values ($1, $2, $3, $4, $5, $6)
                     on conflict (code) do update set name = excluded.name, trade = excluded.trade,
                         phone = excluded.phone, email = excluded.email, updated_at = excluded.updated_at",
                )
                .bind(&row.code)
                .bind(&row.name)
                .bind(&row.trade)
                .bind(&row.phone)
                .bind(&row.email)
                .bind(now)
                .execute(conn)
                .await
                .map(drop)
            })?;
        }
        tx.commit().await?;
        Ok(Vec::new())
    }
}

/// A plausible address: one `@`, something before it, a dot in the domain.
pub(crate) fn parse_email(value: &str) -> Result<String, String> {
    match value.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !value.contains(char::is_whitespace) =>
        {
            Ok(value.to_string())
        }
        _ => Err(format!("`{value}` is not an email address")),
    }
}

/// A parsed `staff.csv` row.
pub(crate) struct StaffRow {
    code: String,
    name: String,
    role: StaffRole,
    department: String,
    phone: String,
    email: Option<String>,
    region_id: Option<i64>,
    project_id: Option<i64>,
    categories: Vec<Category>,
    head_code: Option<String>,
}

/// Imports staff; responsible persons' `categories` in their `project` fill the matrix, and
/// `head_code` names the department head escalations of those go to.
/// `Default`: no regions or projects known, as [`super::check_rows`] has no store.
#[derive(Default)]
pub(crate) struct StaffImport {
    codes: FirstSeen,
    regions: HashMap<String, i64>,
    projects: HashMap<String, i64>,
    /// (line, project, category, staff code, head code) to link once every row is in.
    pending: Vec<(u64, i64, Category, String, Option<String>)>,
}

impl StaffImport {
    pub(crate) async fn new(store: &Store) -> Result<StaffImport, sqlx::Error> {
        Ok(StaffImport {
            codes: FirstSeen::default(),
            regions: code_map(store, "regions", "region_id").await?,
            projects: code_map(store, "projects", "project_id").await?,
            pending: Vec::new(),
        })
    }
}

impl Importer for StaffImport {
    type Row = StaffRow;
    const REQUIRED: &'static [&'static str] = &["code", "name", "role", "phone"];
    const OPTIONAL: &'static [&'static str] = &[
        "department",
        "email",
        "region_code",
        "project_code",
        "categories",
        "head_code",
    ];
    const TABLE: &'static str = "staff";

    fn parse(&mut self, row: &Row<'_>) -> Result<StaffRow, RowError> {
        let role = StaffRole::parse(row.required("role")?).map_err(|e| row.error("role", e))?;
        let lookup = |column: &str, map: &HashMap<String, i64>, what: &str| {
            row.parsed(column, |code| {
                map.get(code)
                    .copied()
                    .ok_or(format!("no {what} `{code}`: import units.csv first"))
            })
        };
        let region_id = lookup("region_code", &self.regions, "region")?;
        let project_id = lookup("project_code", &self.projects, "project")?;
        let categories = row
            .parsed("categories", |list| {
                list.split([';', ',', '|'])
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(Category::parse)
                    .collect::<Result<Vec<_>, _>>()
            })?
            .unwrap_or_default();
        if role == StaffRole::Responsible && (project_id.is_none() || categories.is_empty()) {
            return Err(row.error(
                "categories",
                "a responsible person needs a project_code and categories",
            ));
        }
        if role == StaffRole::RegionalGm && region_id.is_none() {
            return Err(row.error("region_code", "a regional GM needs a region_code"));
        }
        let staff = StaffRow {
            code: row.required("code")?.to_string(),
            name: row.required("name")?.to_string(),
            role,
            department: row.get("department").unwrap_or_default().to_string(),
            phone: row
                .parsed("phone", Phone::parse)?
                .map(String::from)
                .unwrap_or_default(),
            email: row.parsed("email", parse_email)?,
            region_id,
            project_id,
            categories,
            head_code: row.get("head_code").map(str::to_string),
        };
        self.codes.check(row, "code", staff.code.clone())?;
        Ok(staff)
    }

    async fn write(
        &mut self,
        store: &Store,
        _file: &str,
        batch: Vec<Lined<StaffRow>>,
    ) -> Result<Vec<RowError>, sqlx::Error> {
        let now = Utc::now();
        let mut tx = store.begin_write().await?;
        for Lined { line, row } in batch {
            on_tx!(&mut tx, |conn| {
                sqlx::query(
                    "insert into staff (code, name, role, department, phone, email, region_id, project_id, active, updated_at)
                     values ($1, $2, $3, $4, $5, $6, $7, $8, true, $9)
                     on conflict (code) do update set name = excluded.name, role = excluded.role,
                         department = excluded.department, phone = excluded.phone, email = excluded.email,
                         region_id = excluded.region_id, project_id = excluded.project_id,
                         active = true, updated_at = excluded.updated_at",
                )
                .bind(&row.code)
                .bind(&row.name)
                .bind(row.role.as_str())
                .bind(&row.department)
                .bind(&row.phone)
                .bind(&row.email)
                .bind(row.region_id)
                .bind(row.project_id)
                .bind(now)
                .execute(conn)
                .await
                .map(drop)
            })?;
            if let Some(project_id) = row.project_id {
                for category in row.categories {
                    self.pending.push((
                        line,
                        project_id,
                        category,
                        row.code.clone(),
                        row.head_code.clone(),
                    ));
                }
            }
        }
        tx.commit().await?;
        Ok(Vec::new())
    }

    async fn finish(&mut self, store: &Store, file: &str) -> Result<Vec<RowError>, sqlx::Error> {
        let staff = code_map(store, "staff", "staff_id").await?;
        let mut errors = Vec::new();
        let mut tx = store.begin_write().await?;
        for (line, project_id, category, code, head_code) in std::mem::take(&mut self.pending) {
            let head = match head_code {
                Some(head) => match staff.get(&head) {
                    Some(id) => Some(*id),
                    None => {
                        errors.push(RowError {
                            file: file.to_string(),
                            line,
                            column: Some("head_code".into()),
                            reason: format!(
                                "no staff `{head}`; the row is kept without a department head"
                            ),
                        });
                        None
                    }
                },
                None => None,
            };
            let Some(staff_id) = staff.get(&code).copied() else {
                continue;
            };
            on_tx!(&mut tx, |conn| {
                sqlx::query(
                    "insert into responsibilities (project_id, category, staff_id, head_staff_id) values ($1, $2, $3, $4)
                     on conflict (project_id, category) do update set staff_id = excluded.staff_id,
                         head_staff_id = excluded.head_staff_id",
                )
                .bind(project_id)
                .bind(category.as_str())
                .bind(staff_id)
                .bind(head)
                .execute(conn)
                .await
                .map(drop)
            })?;
        }
        tx.commit().await?;
        Ok(errors)
    }
}
