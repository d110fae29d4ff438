//! `owners.csv`: owners with their phones and units. Built for a million rows: multi-row
//! statements per batch, duplicate codes and phones caught across the whole file.

use std::collections::HashMap;

use chrono::Utc;
use chrono_tz::Tz;
use sqlx::QueryBuilder;

use super::people::parse_email;
use super::{FirstSeen, Importer, Lined, Row, RowError, code_map};
use crate::on_tx;
use crate::phone::Phone;
use crate::store::Store;

/// A parsed `owners.csv` row.
pub(crate) struct OwnerRow {
    code: String,
    name: String,
    phones: Vec<String>,
    email: Option<String>,
    language: String,
    time_zone: String,
    consent_voice: bool,
    consent_sms: bool,
    consent_email: bool,
    units: Vec<i64>,
}

/// Imports owners.
/// `Default`: no units known, as [`super::check_rows`] has no store.
#[derive(Default)]
pub(crate) struct Owners {
    units: HashMap<String, i64>,
    /// Codes given so far in this file.
    codes: FirstSeen,
    /// Owner code and line of each phone seen in this file.
    phones: HashMap<String, (String, u64)>,
}

impl Owners {
    pub(crate) async fn new(store: &Store) -> Result<Owners, sqlx::Error> {
        Ok(Owners {
            units: code_map(store, "units", "unit_id").await?,
            codes: FirstSeen::default(),
            phones: HashMap::new(),
        })
    }
}

const LANGUAGES: [&str; 2] = ["zh-CN", "en"];

impl Importer for Owners {
    type Row = OwnerRow;
    const REQUIRED: &'static [&'static str] = &["code", "name", "phones"];
    const OPTIONAL: &'static [&'static str] = &[
        "email",
        "language",
        "time_zone",
        "consent_voice",
        "consent_sms",
        "consent_email",
        "units",
    ];
    const TABLE: &'static str = "owners";

    fn parse(&mut self, row: &Row<'_>) -> Result<OwnerRow, RowError> {
        let code = row.required("code")?.to_string();
        let mut phones = Vec::new();
        for raw in row
            .required("phones")?
            .split([';', '/', '|'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let phone = Phone::parse(raw).map_err(|e| row.error("phones", e))?;
            if let Some((other, line)) = self.phones.get(phone.as_str())
                && *other != code
            {
                return Err(row.error(
                    "phones",
                    format!("{phone} already belongs to owner {other} (line {line})"),
                ));
            }
            if !phones.contains(&String::from(phone.clone())) {
                phones.push(phone.into());
            }
        }
        let units = row
            .get("units")
            .unwrap_or_default()
            .split([';', '|'])
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| {
                self.units.get(u).copied().ok_or_else(|| {
                    row.error("units", format!("no unit `{u}`: import units.csv first"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let language = match row.get("language") {
            None => "zh-CN".to_string(),
            Some(l) => LANGUAGES
                .iter()
                .find(|known| {
                    known.eq_ignore_ascii_case(l)
                        || (l.eq_ignore_ascii_case("zh") && known.starts_with("zh"))
                })
                .map(|known| known.to_string())
                .ok_or_else(|| {
                    row.error(
                        "language",
                        format!("`{l}` is not one of {}", LANGUAGES.join(", ")),
                    )
                })?,
        };
        let time_zone = row
            .parsed("time_zone", |tz| {
                tz.parse::<Tz>()
                    .map(|_| tz.to_string())
                    .map_err(|_| format!("`{tz}` is not an IANA time zone"))
            })?
            .unwrap_or_else(|| "Asia/Shanghai".to_string());
        let owner = OwnerRow {
            name: row.required("name")?.to_string(),
            email: row.parsed("email", parse_email)?,
            language,
            time_zone,
            consent_voice: row.flag("consent_voice", true)?,
            consent_sms: row.flag("consent_sms", true)?,
            consent_email: row.flag("consent_email", true)?,
            units,
            phones,
            code,
        };
        self.codes.check(row, "code", owner.code.clone())?;
        for phone in &owner.phones {
            self.phones
                .insert(phone.clone(), (owner.code.clone(), row.line()));
        }
        Ok(owner)
    }

    async fn write(
        &mut self,
        store: &Store,
        _file: &str,
        batch: Vec<Lined<OwnerRow>>,
    ) -> Result<Vec<RowError>, sqlx::Error> {
        let now = Utc::now();
        let rows: Vec<&OwnerRow> = batch.iter().map(|l| &l.row).collect();
        let mut tx = store.begin_write().await?;
        on_tx!(&mut tx, |conn| {
            let mut insert = QueryBuilder::new(
                "insert into owners (code, name, email, language, time_zone, consent_voice, consent_sms, consent_email, updated_at) ",
            );
            insert.push_values(&rows, |mut b, o| {
                b.push_bind(o.code.clone())
                    .push_bind(o.name.clone())
                    .push_bind(o.email.clone())
                    .push_bind(o.language.clone())
                    .push_bind(o.time_zone.clone())
                    .push_bind(o.consent_voice)
                    .push_bind(o.consent_sms)
                    .push_bind(o.consent_email)
                    .push_bind(now);
            });
            insert.push(
                " on conflict (code) do update set name = excluded.name, email = excluded.email,
                   language = excluded.language, time_zone = excluded.time_zone,
                   consent_voice = excluded.consent_voice, consent_sms = excluded.consent_sms,
                   consent_email = excluded.consent_email, updated_at = excluded.updated_at
                 returning code, owner_id",
            );
            let ids: HashMap<String, i64> = insert
                .build_query_as::<(String, i64)>()
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .collect();

            // The file's lists are the whole truth for these owners: replace their phones and units.
            let mut clear = QueryBuilder::new("delete from owner_phones where owner_id in ");
            clear.push_tuples(ids.values(), |mut b, id| {
                b.push_bind(*id);
            });
            clear.build().execute(&mut *conn).await?;
            let mut clear = QueryBuilder::new("delete from owner_units where owner_id in ");
            clear.push_tuples(ids.values(), |mut b, id| {
                b.push_bind(*id);
            });
            clear.build().execute(&mut *conn).await?;

            let phones: Vec<(String, i64, i64)> = rows
                .iter()
                .flat_map(|o| {
                    o.phones
                        .iter()
                        .enumerate()
                        .map(|(i, p)| (p.clone(), ids[&o.code], i as i64))
                })
                .collect();
            for chunk in phones.chunks(5_000) {
                let mut insert =
                    QueryBuilder::new("insert into owner_phones (phone, owner_id, position) ");
                insert.push_values(chunk, |mut b, (phone, owner, position)| {
                    b.push_bind(phone.clone())
                        .push_bind(*owner)
                        .push_bind(*position);
                });
                // A number that moved from another owner (re-issued numbers) follows the file.
                insert.push(" on conflict (phone) do update set owner_id = excluded.owner_id, position = excluded.position");
                insert.build().execute(&mut *conn).await?;
            }

            let links: Vec<(i64, i64)> = rows
                .iter()
                .flat_map(|o| o.units.iter().map(|u| (ids[&o.code], *u)))
                .collect();
            for chunk in links.chunks(5_000) {
                let mut insert = QueryBuilder::new("insert into owner_units (owner_id, unit_id) ");
                insert.push_values(chunk, |mut b, (owner, unit)| {
                    b.push_bind(*owner).push_bind(*unit);
                });
                insert.push(" on conflict (owner_id, unit_id) do nothing");
                insert.build().execute(&mut *conn).await?;
            }
            Ok::<_, sqlx::Error>(())
        })?;
        tx.commit().await?;
        Ok(Vec::new())
    }
}
