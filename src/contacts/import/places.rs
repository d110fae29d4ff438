//! `units.csv` (regions, projects, buildings, units) and `components.csv`.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};

use sqlx::QueryBuilder;

use super::{FirstSeen, Importer, Lined, Row, RowError, code_map};
use crate::on_tx;
use crate::store::{Store, Tx};

/// A parsed `units.csv` row.
pub(crate) struct UnitRow {
    region_code: String,
    region_name: String,
    project_code: String,
    project_name: String,
    city: String,
    building: String,
    number: String,
    floor: Option<i64>,
    area_m2: Option<f64>,
    handover_date: Option<NaiveDate>,
}

/// Imports units, creating their region, project and building on first sight.
#[derive(Default)]
pub(crate) struct Units {
    seen: FirstSeen,
    regions: HashMap<String, i64>,
    projects: HashMap<String, i64>,
    buildings: HashMap<(i64, String), i64>,
}

/// The code of a unit: `PROJECT-BUILDING-NUMBER`.
pub(crate) fn unit_code(project: &str, building: &str, number: &str) -> String {
    format!("{project}-{building}-{number}")
}

impl Importer for Units {
    type Row = UnitRow;
    const REQUIRED: &'static [&'static str] = &[
        "region_code",
        "region_name",
        "project_code",
        "project_name",
        "building",
        "unit",
    ];
    const OPTIONAL: &'static [&'static str] = &["city", "floor", "area_m2", "handover_date"];
    const TABLE: &'static str = "units";

    fn parse(&mut self, row: &Row<'_>) -> Result<UnitRow, RowError> {
        let code = |column| {
            row.required(column).and_then(|v| {
                if v.contains(char::is_whitespace) || v.contains('-') {
                    Err(row.error(column, format!("`{v}` must not contain spaces or '-'")))
                } else {
                    Ok(v.to_string())
                }
            })
        };
        let unit = UnitRow {
            region_code: row.required("region_code")?.to_string(),
            region_name: row.required("region_name")?.to_string(),
            project_code: code("project_code")?,
            project_name: row.required("project_name")?.to_string(),
            city: row.get("city").unwrap_or_default().to_string(),
            building: code("building")?,
            number: code("unit")?,
            floor: row.parsed("floor", |v| {
                v.parse::<i64>()
                    .map_err(|_| format!("`{v}` is not a whole number"))
            })?,
            area_m2: row.parsed("area_m2", |v| match v.parse::<f64>() {
                Ok(a) if a > 0.0 && a.is_finite() => Ok(a),
                _ => Err(format!("`{v}` is not a positive area")),
            })?,
            handover_date: row.parsed("handover_date", parse_date)?,
        };
        let code = unit_code(&unit.project_code, &unit.building, &unit.number);
        self.seen.check(row, "unit", code)?;
        Ok(unit)
    }

    async fn write(
        &mut self,
        store: &Store,
        _file: &str,
        batch: Vec<Lined<UnitRow>>,
    ) -> Result<Vec<RowError>, sqlx::Error> {
        let now = Utc::now();
        let mut tx = store.begin_write().await?;
        let mut buildings = Vec::with_capacity(batch.len());
        for Lined { row, .. } in &batch {
            buildings.push(self.building(&mut tx, row).await?);
        }
        on_tx!(&mut tx, |conn| {
            let mut insert = QueryBuilder::new(
                "insert into units (code, building_id, number, floor, area_m2, handover_date, updated_at) ",
            );
            insert.push_values(
                batch.iter().zip(&buildings),
                |mut b, (Lined { row, .. }, building)| {
                    b.push_bind(unit_code(&row.project_code, &row.building, &row.number))
                        .push_bind(*building)
                        .push_bind(row.number.clone())
                        .push_bind(row.floor)
                        .push_bind(row.area_m2)
                        .push_bind(row.handover_date)
                        .push_bind(now);
                },
            );
            insert.push(
                " on conflict (code) do update set building_id = excluded.building_id,
                   number = excluded.number, floor = excluded.floor, area_m2 = excluded.area_m2,
                   handover_date = excluded.handover_date, updated_at = excluded.updated_at",
            );
            insert.build().execute(conn).await.map(drop)
        })?;
        tx.commit().await?;
        Ok(Vec::new())
    }
}

impl Units {
    /// The building's id, creating the region, project and building as needed (cached).
    async fn building(&mut self, tx: &mut Tx, row: &UnitRow) -> Result<i64, sqlx::Error> {
        let region_id = match self.regions.get(&row.region_code) {
            Some(id) => *id,
            None => {
                let id: i64 = on_tx!(tx, |conn| {
                    sqlx::query_scalar(
                        "insert into regions (code, name) values ($1, $2)
                         on conflict (code) do update set name = excluded.name returning region_id",
                    )
                    .bind(&row.region_code)
                    .bind(&row.region_name)
                    .fetch_one(conn)
                    .await
                })?;
                self.regions.insert(row.region_code.clone(), id);
                id
            }
        };
        let project_id = match self.projects.get(&row.project_code) {
            Some(id) => *id,
            None => {
                let id: i64 = on_tx!(tx, |conn| {
                    sqlx::query_scalar(
                        "insert into projects (code, name, city, region_id) values ($1, $2, $3, $4)
                         on conflict (code) do update set name = excluded.name, city = excluded.city,
                             region_id = excluded.region_id
                         returning project_id",
                    )
                    .bind(&row.project_code)
                    .bind(&row.project_name)
                    .bind(&row.city)
                    .bind(region_id)
                    .fetch_one(conn)
                    .await
                })?;
                self.projects.insert(row.project_code.clone(), id);
                id
            }
        };
        let key = (project_id, row.building.clone());
        if let Some(id) = self.buildings.get(&key) {
            return Ok(*id);
        }
        let id: i64 = on_tx!(tx, |conn| {
            sqlx::query_scalar(
                "insert into buildings (project_id, name) values ($1, $2)
                 on conflict (project_id, name) do update set name = excluded.name returning building_id",
            )
            .bind(project_id)
            .bind(&row.building)
            .fetch_one(conn)
            .await
        })?;
        self.buildings.insert(key, id);
        Ok(id)
    }
}

/// `YYYY-MM-DD` (also `YYYY/MM/DD`).
pub(crate) fn parse_date(value: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(value, "%Y/%m/%d"))
        .map_err(|_| format!("`{value}` is not a date (YYYY-MM-DD)"))
}

/// A parsed `components.csv` row.
pub(crate) struct ComponentRow {
    unit_id: i64,
    component: String,
    supplier_id: i64,
    warranty_months: i64,
}

/// Imports per-unit components; units and suppliers must exist.
/// `Default`: no units or suppliers known, as [`super::check_rows`] has no store.
#[derive(Default)]
pub(crate) struct Components {
    seen: FirstSeen,
    units: HashMap<String, i64>,
    suppliers: HashMap<String, i64>,
}

impl Components {
    pub(crate) async fn new(store: &Store) -> Result<Components, sqlx::Error> {
        Ok(Components {
            seen: FirstSeen::default(),
            units: code_map(store, "units", "unit_id").await?,
            suppliers: code_map(store, "suppliers", "supplier_id").await?,
        })
    }
}

impl Importer for Components {
    type Row = ComponentRow;
    const REQUIRED: &'static [&'static str] =
        &["unit_code", "component", "supplier_code", "warranty_months"];
    const OPTIONAL: &'static [&'static str] = &[];
    const TABLE: &'static str = "unit_components";

    fn parse(&mut self, row: &Row<'_>) -> Result<ComponentRow, RowError> {
        let unit = row.required("unit_code")?;
        let unit_id = *self.units.get(unit).ok_or_else(|| {
            row.error(
                "unit_code",
                format!("no unit `{unit}`: import units.csv first"),
            )
        })?;
        let supplier = row.required("supplier_code")?;
        let supplier_id = *self.suppliers.get(supplier).ok_or_else(|| {
            row.error(
                "supplier_code",
                format!("no supplier `{supplier}`: import suppliers.csv first"),
            )
        })?;
        let months = row.required("warranty_months")?;
        let warranty_months = months
            .parse::<i64>()
            .ok()
            .filter(|m| (0..=1200).contains(m))
            .ok_or_else(|| {
                row.error(
                    "warranty_months",
                    format!("`{months}` is not a number of months (0-1200)"),
                )
            })?;
        let component = row.required("component")?.to_lowercase();
        self.seen
            .check(row, "component", format!("{unit} {component}"))?;
        Ok(ComponentRow {
            unit_id,
            component,
            supplier_id,
            warranty_months,
        })
    }

    async fn write(
        &mut self,
        store: &Store,
        _file: &str,
        batch: Vec<Lined<ComponentRow>>,
    ) -> Result<Vec<RowError>, sqlx::Error> {
        let mut tx = store.begin_write().await?;
        on_tx!(&mut tx, |conn| {
            let mut insert = QueryBuilder::new(
                "insert into unit_components (unit_id, component, supplier_id, warranty_months) ",
            );
            insert.push_values(&batch, |mut b, Lined { row, .. }| {
                b.push_bind(row.unit_id)
                    .push_bind(row.component.clone())
                    .push_bind(row.supplier_id)
                    .push_bind(row.warranty_months);
            });
            insert.push(
                " on conflict (unit_id, component) do update set supplier_id = excluded.supplier_id,
                   warranty_months = excluded.warranty_months",
            );
            insert.build().execute(conn).await.map(drop)
        })?;
        tx.commit().await?;
        Ok(Vec::new())
    }
}
