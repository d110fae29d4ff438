//! Turning a campaign's list sources into hopper contacts.
//!
//! Three sources: a CSV file, the callback tasks of completed tickets, and the owners of
//! projects or buildings. Several lists are mixed by weight: their contacts are interleaved
//! in a smooth weighted round robin before they are enqueued, and the hopper claims in
//! enqueue order (within a priority), so dials follow the weights.
//!
//! A bad CSV row is reported as `file:line: column `x`: reason` and skipped; good rows are
//! kept. Do-not-call and consent are *not* applied here but at dial time, since both can
//! change while a campaign runs.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::QueryBuilder;

use super::hopper::{Hopper, HopperError, NewContact};
use crate::campaigns::{Campaign, ListSource};
use crate::on_pool;
use crate::phone::Phone;
use crate::store::Store;

/// What loading a campaign's lists did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadReport {
    /// Contacts read from every list (after dropping numbers seen twice).
    pub read: usize,
    /// Contacts new to the campaign (re-loading adds only what is new).
    pub added: u64,
    /// Rows refused, each `file:line: column `x`: reason`.
    pub refused: Vec<String>,
}

/// Why a campaign's lists could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The CSV file could not be opened or its header read.
    #[error("cannot read list {path}: {source}")]
    Csv {
        /// The file.
        path: String,
        /// Why.
        source: csv::Error,
    },
    /// The CSV file has no `phone` column.
    #[error("{path}:1: the header has no `phone` column")]
    NoPhoneColumn {
        /// The file.
        path: String,
    },
    /// Reading owners or callback tasks failed.
    #[error("cannot read the contacts of a list: {0}")]
    Db(#[from] sqlx::Error),
    /// Enqueueing failed.
    #[error(transparent)]
    Hopper(#[from] HopperError),
}

/// Reads every list of `campaign` (relative CSV paths taken from `base_dir`), mixes them by
/// weight and enqueues them into campaign `campaign_id`.
pub async fn load(
    store: &Store,
    campaign_id: i64,
    campaign: &Campaign,
    base_dir: &Path,
    now: DateTime<Utc>,
) -> Result<LoadReport, ListError> {
    let mut report = LoadReport::default();
    let mut lists = Vec::new();
    for list in campaign.lists() {
        let contacts = match &list.source {
            ListSource::Csv(path) => {
                let path = resolve(base_dir, path);
                read_csv(&path, campaign.timezone(), &mut report.refused)?
            }
            ListSource::Callbacks => callbacks(store, campaign.timezone()).await?,
            ListSource::Owners {
                projects,
                buildings,
            } => owners(store, projects, buildings, campaign.timezone()).await?,
        };
        lists.push((contacts, list.weight));
    }
    let mut mixed = mix(lists);
    let mut seen = std::collections::HashSet::new();
    mixed.retain(|c| seen.insert(c.phone.clone()));
    report.read = mixed.len();
    report.added = Hopper::new(store).enqueue(campaign_id, &mixed, now).await?;
    if campaign
        .lists()
        .iter()
        .any(|l| matches!(l.source, ListSource::Callbacks))
    {
        taken_callbacks(store, campaign_id, now).await?;
    }
    Ok(report)
}

fn resolve(base_dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

/// Interleaves lists so that each list's share of any prefix follows its weight (smooth
/// weighted round robin, as nginx balances upstreams): weights 2:1 give a a b a a b ...
pub fn mix(lists: Vec<(Vec<NewContact>, u32)>) -> Vec<NewContact> {
    struct Queue {
        contacts: std::vec::IntoIter<NewContact>,
        weight: i64,
        current: i64,
    }
    let capacity = lists.iter().map(|(c, _)| c.len()).sum();
    let mut queues: Vec<Queue> = lists
        .into_iter()
        .map(|(contacts, weight)| Queue {
            contacts: contacts.into_iter(),
            weight: i64::from(weight),
            current: 0,
        })
        .collect();
    let mut out = Vec::with_capacity(capacity);
    loop {
        let live = |q: &&mut Queue| q.contacts.len() > 0;
        let total: i64 = queues.iter_mut().filter(live).map(|q| q.weight).sum();
        if total == 0 {
            return out;
        }
        for queue in queues.iter_mut().filter(live) {
            queue.current += queue.weight;
        }
        let pick = queues
            .iter_mut()
            .enumerate()
            .filter(|(_, q)| q.contacts.len() > 0)
            .max_by_key(|(i, q)| (q.current, std::cmp::Reverse(*i)))
            .map(|(_, q)| q);
        let Some(queue) = pick else { return out };
        out.extend(queue.contacts.next());
        queue.current -= total;
    }
}

/// A CSV list: `phone` required; `owner` (owner code), `tz`, `language`, `priority` optional.
fn read_csv(
    path: &Path,
    default_tz: Tz,
    refused: &mut Vec<String>,
) -> Result<Vec<NewContact>, ListError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| ListError::Csv {
        path: shown.clone(),
        source: e.into(),
    })?;
    read_csv_from(file, &shown, default_tz, refused)
}

/// [`read_csv`] over any reader; `shown` names the list in what is refused. The fuzz targets
/// (`fuzz/`) call it through [`crate::fuzzing`].
pub(crate) fn read_csv_from(
    input: impl std::io::Read,
    shown: &str,
    default_tz: Tz,
    refused: &mut Vec<String>,
) -> Result<Vec<NewContact>, ListError> {
    let fail = |source| ListError::Csv {
        path: shown.to_string(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = reader.headers().map_err(fail)?.clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let phone_at = column("phone").ok_or_else(|| ListError::NoPhoneColumn {
        path: shown.to_string(),
    })?;
    let (tz_at, language_at, priority_at) = (column("tz"), column("language"), column("priority"));
    let mut contacts = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                refused.push(format!("{shown}:{line}: {e}"));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let field = |at: Option<usize>| at.and_then(|i| record.get(i)).filter(|v| !v.is_empty());
        let bad = |col: &str, why: String| format!("{shown}:{line}: column `{col}`: {why}");
        let phone = match Phone::parse(record.get(phone_at).unwrap_or("")) {
            Ok(phone) => phone,
            Err(e) => {
                refused.push(bad("phone", e.to_string()));
                continue;
            }
        };
        let tz = match field(tz_at).map(str::parse::<Tz>) {
            None => default_tz,
            Some(Ok(tz)) => tz,
            Some(Err(_)) => {
                refused.push(bad("tz", "not an IANA time zone (Asia/Shanghai)".into()));
                continue;
            }
        };
        let priority = match field(priority_at).map(str::parse::<i64>) {
            None => 0,
            Some(Ok(p)) if (-1_000_000..=1_000_000).contains(&p) => p,
            Some(_) => {
                refused.push(bad(
                    "priority",
                    "not a whole number within ±1,000,000".into(),
                ));
                continue;
            }
        };
        contacts.push(NewContact {
            owner_id: None,
            phone,
            tz,
            priority,
            language: field(language_at).unwrap_or(DEFAULT_LANGUAGE).to_string(),
            ticket_id: None,
        });
    }
    Ok(contacts)
}

/// The prompt language of contacts that name none.
pub const DEFAULT_LANGUAGE: &str = "zh-CN";

#[derive(sqlx::FromRow)]
struct OwnerRow {
    owner_id: Option<i64>,
    phone: String,
    time_zone: Option<String>,
    language: Option<String>,
    ticket_id: Option<i64>,
}

impl OwnerRow {
    fn contact(self, default_tz: Tz) -> Option<NewContact> {
        let phone = Phone::parse(&self.phone).ok()?;
        Some(NewContact {
            owner_id: self.owner_id,
            phone,
            tz: self
                .time_zone
                .and_then(|z| z.parse().ok())
                .unwrap_or(default_tz),
            priority: 0,
            language: self.language.unwrap_or_else(|| DEFAULT_LANGUAGE.into()),
            ticket_id: self.ticket_id,
        })
    }
}

/// The pending callback tasks of completed tickets, oldest due first.
async fn callbacks(store: &Store, default_tz: Tz) -> Result<Vec<NewContact>, ListError> {
    let rows: Vec<OwnerRow> = on_pool!(store, |pool| {
        sqlx::query_as(
            "select t.owner_id, t.phone, o.time_zone, o.language, t.ticket_id
               from callback_tasks t left join owners o on o.owner_id = t.owner_id
              where t.state = 'pending' and t.phone is not null
              order by t.due_at, t.task_id",
        )
        .fetch_all(pool)
        .await
    })?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.contact(default_tz))
        .collect())
}

/// Marks the callback tasks whose ticket is now in campaign `campaign_id` as `queued`, so no
/// other callback campaign takes them; a task left out (its owner's number is already in the
/// campaign for another ticket) stays pending for the next one.
async fn taken_callbacks(
    store: &Store,
    campaign_id: i64,
    now: DateTime<Utc>,
) -> Result<(), ListError> {
    // Only contacts this load added: a ticket whose owner's number was already in the
    // campaign (an earlier round) keeps its new task pending for the next campaign.
    on_pool!(store, |pool| {
        sqlx::query(
            "update callback_tasks set state = 'queued'
              where state = 'pending' and ticket_id in
                    (select ticket_id from campaign_contacts
                      where campaign_id = $1 and ticket_id is not null and created_at = $2)",
        )
        .bind(campaign_id)
        .bind(now)
        .execute(pool)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// Every owner of a unit in `projects` (codes) or `buildings` (`PROJECT-BUILDING`), by their
/// first phone number.
async fn owners(
    store: &Store,
    projects: &[String],
    buildings: &[String],
    default_tz: Tz,
) -> Result<Vec<NewContact>, ListError> {
    // Built inside each backend's arm: a QueryBuilder is typed by its database.
    macro_rules! query {
        () => {{
            let mut q = QueryBuilder::new(
                "select distinct o.owner_id, ph.phone, o.time_zone, o.language,
                        cast(null as bigint) as ticket_id
                   from owners o
                   join owner_phones ph on ph.owner_id = o.owner_id
                        and ph.position = (select min(position) from owner_phones p2
                                            where p2.owner_id = o.owner_id)
                   join owner_units ou on ou.owner_id = o.owner_id
                   join units u on u.unit_id = ou.unit_id
                   join buildings b on b.building_id = u.building_id
                   join projects p on p.project_id = b.project_id
                  where p.code in (",
            );
            // A blank first entry keeps `in ()` valid when one of the lists is empty.
            let mut list = q.separated(", ");
            list.push_bind(String::new());
            for p in projects {
                list.push_bind(p.clone());
            }
            q.push(") or (p.code || '-' || b.name) in (");
            let mut list = q.separated(", ");
            list.push_bind(String::new());
            for b in buildings {
                list.push_bind(b.clone());
            }
            q.push(") order by o.owner_id");
            q
        }};
    }
    let rows: Vec<OwnerRow> = on_pool!(store, |pool| {
        query!().build_query_as().fetch_all(pool).await
    })?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.contact(default_tz))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(prefix: &str, n: u64) -> Vec<NewContact> {
        (0..n)
            .map(|i| NewContact {
                owner_id: None,
                phone: Phone::parse(&format!("{prefix}{i:08}")).unwrap(),
                tz: Tz::Asia__Shanghai,
                priority: 0,
                language: DEFAULT_LANGUAGE.into(),
                ticket_id: None,
            })
            .collect()
    }

    #[test]
    fn lists_are_mixed_by_weight_and_nothing_is_lost() {
        let mixed = mix(vec![(list("138", 6), 2), (list("139", 10), 1)]);
        assert_eq!(mixed.len(), 16);
        let pattern: String = mixed
            .iter()
            .take(9)
            .map(|c| {
                if c.phone.as_str().starts_with("+86138") {
                    'a'
                } else {
                    'b'
                }
            })
            .collect();
        assert_eq!(pattern, "abaabaaba");
        // Once the weighted list runs dry the other one goes on alone.
        assert!(
            mixed[9..]
                .iter()
                .all(|c| c.phone.as_str().starts_with("+86139"))
        );
    }

    #[test]
    fn a_csv_keeps_good_rows_and_names_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.csv");
        std::fs::write(
            &path,
            "phone,tz,language,priority\n13800000001,,,\nnot-a-number,,,\n13800000002,Mars/Base,,\n\
             13800000003,America/New_York,en,5\n",
        )
        .unwrap();
        let mut refused = Vec::new();
        let contacts = read_csv(&path, Tz::Asia__Shanghai, &mut refused).unwrap();
        assert_eq!(contacts.len(), 2);
        assert_eq!(contacts[1].tz, Tz::America__New_York);
        assert_eq!(contacts[1].language, "en");
        assert_eq!(contacts[1].priority, 5);
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(refused[0].ends_with(":3: column `phone`: `not-a-number` is not a phone number"));
        assert!(refused[1].contains(":4: column `tz`"));
        std::fs::write(&path, "number\n13800000001\n").unwrap();
        let err = read_csv(&path, Tz::Asia__Shanghai, &mut refused).unwrap_err();
        assert!(
            err.to_string()
                .ends_with(":1: the header has no `phone` column")
        );
    }
}
