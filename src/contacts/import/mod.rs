//! CSV import of owners, units, components, suppliers and staff.
//!
//! Each file is read row by row; a bad row is reported with file, line, column and reason and
//! skipped, good rows are written in batches (one transaction each), and a re-import updates
//! rows by their code instead of duplicating them. Unknown or missing columns refuse the whole
//! file up front, naming them, since every row would be wrong.

mod owners;
mod people;
mod places;
mod spreadsheet;

pub(crate) use spreadsheet::bytes_as_csv as spreadsheet_bytes_as_csv;

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use crate::on_pool;
use crate::store::Store;

/// Rows per transaction: large enough to amortise commits, small enough for SQLite's limit of
/// bound parameters per statement.
const BATCH: usize = 1_000;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// `owners.csv`: owners with phones and units.
    Owners,
    /// `units.csv`: regions, projects, buildings and units.
    Units,
    /// `components.csv`: per-unit components with supplier and warranty.
    Components,
    /// `suppliers.csv`.
    Suppliers,
    /// `staff.csv`: staff, the responsibility matrix and the escalation chain.
    Staff,
}

impl ImportKind {
    /// The order a full data set must be imported in (later kinds refer to earlier ones).
    pub const ORDER: [ImportKind; 5] = [
        ImportKind::Units,
        ImportKind::Suppliers,
        ImportKind::Components,
        ImportKind::Staff,
        ImportKind::Owners,
    ];

    /// The usual file name.
    pub fn file_name(self) -> &'static str {
        match self {
            ImportKind::Owners => "owners.csv",
            ImportKind::Units => "units.csv",
            ImportKind::Components => "components.csv",
            ImportKind::Suppliers => "suppliers.csv",
            ImportKind::Staff => "staff.csv",
        }
    }
}

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The file.
    pub file: String,
    /// 1-based line number in the file.
    pub line: u64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(
                f,
                "{}:{}: column `{}`: {}",
                self.file, self.line, column, self.reason
            ),
            None => write!(f, "{}:{}: {}", self.file, self.line, self.reason),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// What was imported.
    pub kind: ImportKind,
    /// From where.
    pub file: String,
    /// Data rows read.
    pub rows: u64,
    /// Rows written (new or updated).
    pub accepted: u64,
    /// Of those, rows that were new.
    pub created: u64,
    /// Rows refused, with why.
    pub rejected: Vec<RowError>,
}

impl ImportReport {
    /// The report of a file before its first row: read by the import and by its parse-only
    /// twin alike.
    fn empty(kind: ImportKind, file: &str) -> ImportReport {
        ImportReport {
            kind,
            file: file.to_string(),
            rows: 0,
            accepted: 0,
            created: 0,
            rejected: Vec::new(),
        }
    }
}

/// Why a whole file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be opened.
    #[error("cannot open {file}: {source}")]
    Open {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// A spreadsheet could not be read.
    #[error("cannot read spreadsheet {file}: {reason}")]
    Spreadsheet {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// The CSV is broken beyond one row (bad encoding, I/O).
    #[error("{file}:{line}: {source}")]
    Csv {
        /// The file.
        file: String,
        /// Where reading stopped.
        line: u64,
        /// The reader's error.
        source: csv::Error,
    },
    /// The header row lacks columns or has unknown ones.
    #[error("{file}:1: {problem}; expected columns: {expected}")]
    Columns {
        /// The file.
        file: String,
        /// Which columns are missing or unknown.
        problem: String,
        /// The columns this kind takes.
        expected: String,
    },
    /// The database failed; rows of earlier batches are kept.
    #[error("database error after {accepted} rows of {file}: {source}")]
    Db {
        /// The file.
        file: String,
        /// Rows already committed.
        accepted: u64,
        /// The driver's error.
        source: sqlx::Error,
    },
}

/// A data row with the header map, for reading columns by name.
pub(crate) struct Row<'a> {
    file: &'a str,
    line: u64,
    columns: &'a HashMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    /// The trimmed value of `column`, or `None` when empty or absent.
    pub(crate) fn get(&self, column: &str) -> Option<&str> {
        let index = *self.columns.get(column)?;
        self.record
            .get(index)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// The value of a column that must not be empty.
    pub(crate) fn required(&self, column: &str) -> Result<&str, RowError> {
        self.get(column)
            .ok_or_else(|| self.error(column, "is empty"))
    }

    /// A parsed optional value.
    pub(crate) fn parsed<T, E: fmt::Display>(
        &self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, RowError> {
        self.get(column)
            .map(|v| parse(v).map_err(|e| self.error(column, e)))
            .transpose()
    }

    /// A yes/no column, `default` when empty.
    pub(crate) fn flag(&self, column: &str, default: bool) -> Result<bool, RowError> {
        Ok(self.parsed(column, parse_flag)?.unwrap_or(default))
    }

    /// An error about `column` of this row.
    pub(crate) fn error(&self, column: &str, reason: impl fmt::Display) -> RowError {
        RowError {
            file: self.file.to_string(),
            line: self.line,
            column: Some(column.to_string()),
            reason: reason.to_string(),
        }
    }

    /// The line number.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }
}

fn parse_flag(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "y" | "yes" | "true" | "是" => Ok(true),
        "0" | "n" | "no" | "false" | "否" => Ok(false),
        other => Err(format!(
            "`{other}` is not yes/no (use 1/0, yes/no, true/false, 是/否)"
        )),
    }
}

/// The line each key was first given on, so a file that repeats a key keeps its first row and
/// names the repeat (one statement must not update the same row twice).
#[derive(Debug, Default)]
pub(crate) struct FirstSeen(HashMap<String, u64>);

impl FirstSeen {
    /// Refuses `key` when an earlier row of the file had it; remembers it otherwise.
    pub(crate) fn check(
        &mut self,
        row: &Row<'_>,
        column: &str,
        key: String,
    ) -> Result<(), RowError> {
        match self.0.entry(key) {
            std::collections::hash_map::Entry::Occupied(first) => Err(row.error(
                column,
                format!(
                    "`{}` already given on line {}; the first row is kept",
                    first.key(),
                    first.get()
                ),
            )),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(row.line());
                Ok(())
            }
        }
    }
}

/// A parsed row waiting for its batch, with its line for batch-level errors.
pub(crate) struct Lined<T> {
    pub(crate) line: u64,
    pub(crate) row: T,
}

/// One kind of file.
pub(crate) trait Importer {
    /// A parsed, valid row.
    type Row;
    /// Columns every file of this kind must have.
    const REQUIRED: &'static [&'static str];
    /// Columns it may have.
    const OPTIONAL: &'static [&'static str];
    /// The table whose row count tells how many rows were new.
    const TABLE: &'static str;

    /// Checks and converts one row.
    fn parse(&mut self, row: &Row<'_>) -> Result<Self::Row, RowError>;

    /// Writes a batch in one transaction; returns the rows refused at this stage.
    async fn write(
        &mut self,
        store: &Store,
        file: &str,
        batch: Vec<Lined<Self::Row>>,
    ) -> Result<Vec<RowError>, sqlx::Error>;

    /// Work after the last batch (links between rows of the same file).
    async fn finish(&mut self, _store: &Store, _file: &str) -> Result<Vec<RowError>, sqlx::Error> {
        Ok(Vec::new())
    }
}

/// Imports the CSV file (or XLSX/XLS/ODS spreadsheet, first sheet) at `path`; `progress` is
/// told the bytes read so far.
pub async fn import_file(
    store: &Store,
    kind: ImportKind,
    path: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let file = path.display().to_string();
    if spreadsheet::is_spreadsheet(path) {
        let csv = spreadsheet::first_sheet_as_csv(path)?;
        return import_reader(store, kind, &file, csv.as_slice(), progress).await;
    }
    let reader = std::fs::File::open(path).map_err(|source| ImportError::Open {
        file: file.clone(),
        source,
    })?;
    import_reader(
        store,
        kind,
        &file,
        std::io::BufReader::with_capacity(1 << 16, reader),
        progress,
    )
    .await
}

/// Imports CSV text from `reader`; `file` names it in errors.
pub async fn import_reader(
    store: &Store,
    kind: ImportKind,
    file: &str,
    reader: impl Read,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let job = Job {
        store,
        kind,
        file,
        progress,
    };
    match kind {
        ImportKind::Owners => job.run(reader, owners::Owners::new(store).await).await,
        ImportKind::Units => job.run(reader, Ok(places::Units::default())).await,
        ImportKind::Components => job.run(reader, places::Components::new(store).await).await,
        ImportKind::Suppliers => job.run(reader, Ok(people::Suppliers::default())).await,
        ImportKind::Staff => job.run(reader, people::StaffImport::new(store).await).await,
    }
}

/// One import: where to, what, from where, and who hears of progress.
struct Job<'a> {
    store: &'a Store,
    kind: ImportKind,
    file: &'a str,
    progress: &'a mut dyn FnMut(u64),
}

impl Job<'_> {
    async fn run<I: Importer>(
        self,
        reader: impl Read,
        importer: Result<I, sqlx::Error>,
    ) -> Result<ImportReport, ImportError> {
        let Job {
            store,
            kind,
            file,
            progress,
        } = self;
        let db = |accepted: u64| {
            move |source| ImportError::Db {
                file: file.to_string(),
                accepted,
                source,
            }
        };
        let mut importer = importer.map_err(db(0))?;
        let mut csv = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::Headers)
            .from_reader(reader);
        let columns = check_columns::<I>(file, &mut csv)?;
        let before = count_rows(store, I::TABLE).await.map_err(db(0))?;
        let mut report = ImportReport::empty(kind, file);
        let mut batch = Vec::with_capacity(BATCH);
        let mut record = csv::StringRecord::new();
        while let Some(line) = next_row(&mut csv, &mut record, file, columns.len(), &mut report)? {
            let row = Row {
                file,
                line,
                columns: &columns,
                record: &record,
            };
            match importer.parse(&row) {
                Ok(parsed) => batch.push(Lined { line, row: parsed }),
                Err(error) => report.rejected.push(error),
            }
            if batch.len() == BATCH {
                flush(&mut importer, store, file, &mut batch, &mut report)
                    .await
                    .map_err(db(report.accepted))?;
                progress(csv.position().byte());
            }
        }
        flush(&mut importer, store, file, &mut batch, &mut report)
            .await
            .map_err(db(report.accepted))?;
        report.rejected.extend(
            importer
                .finish(store, file)
                .await
                .map_err(db(report.accepted))?,
        );
        progress(csv.position().byte());
        let after = count_rows(store, I::TABLE)
            .await
            .map_err(db(report.accepted))?;
        report.created = u64::try_from(after - before).unwrap_or(0);
        report.rejected.sort_by_key(|e| e.line);
        Ok(report)
    }
}

/// Reads the next data row into `record`: its line, or `None` at the end of the file. Rows that
/// are not UTF-8 or have another number of fields than the header are counted and refused into
/// `report`; blank lines are skipped.
fn next_row(
    csv: &mut csv::Reader<impl Read>,
    record: &mut csv::StringRecord,
    file: &str,
    columns: usize,
    report: &mut ImportReport,
) -> Result<Option<u64>, ImportError> {
    loop {
        let line = csv.position().line();
        match csv.read_record(record) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(source) if matches!(source.kind(), csv::ErrorKind::Utf8 { .. }) => {
                report.rows += 1;
                report.rejected.push(RowError {
                    file: file.into(),
                    line,
                    column: None,
                    reason: source.to_string(),
                });
                continue;
            }
            Err(source) => {
                return Err(ImportError::Csv {
                    file: file.into(),
                    line,
                    source,
                });
            }
        }
        if record.iter().all(|field| field.trim().is_empty()) {
            continue; // blank lines are not rows
        }
        report.rows += 1;
        let line = record.position().map_or(line, |p| p.line());
        if record.len() != columns {
            // An unquoted comma shifts every later column: refuse rather than guess.
            report.rejected.push(RowError {
                file: file.into(),
                line,
                column: None,
                reason: format!(
                    "has {} fields but the header has {columns} (a comma inside a value must be quoted)",
                    record.len(),
                ),
            });
            continue;
        }
        return Ok(Some(line));
    }
}

/// Reads and checks every row of CSV text as [`import_reader`] does, without a store: nothing
/// is written and codes of earlier files (units, suppliers, projects) are unknown, so rows
/// naming them are refused. `accepted` counts the rows that parsed. For the fuzz targets
/// (`fuzz/`), through [`crate::fuzzing`].
pub(crate) fn check_rows(
    kind: ImportKind,
    file: &str,
    reader: impl Read,
) -> Result<ImportReport, ImportError> {
    match kind {
        ImportKind::Owners => check_rows_of(kind, file, reader, owners::Owners::default()),
        ImportKind::Units => check_rows_of(kind, file, reader, places::Units::default()),
        ImportKind::Components => check_rows_of(kind, file, reader, places::Components::default()),
        ImportKind::Suppliers => check_rows_of(kind, file, reader, people::Suppliers::default()),
        ImportKind::Staff => check_rows_of(kind, file, reader, people::StaffImport::default()),
    }
}

fn check_rows_of<I: Importer>(
    kind: ImportKind,
    file: &str,
    reader: impl Read,
    mut importer: I,
) -> Result<ImportReport, ImportError> {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(reader);
    let columns = check_columns::<I>(file, &mut csv)?;
    let mut report = ImportReport::empty(kind, file);
    let mut record = csv::StringRecord::new();
    while let Some(line) = next_row(&mut csv, &mut record, file, columns.len(), &mut report)? {
        let row = Row {
            file,
            line,
            columns: &columns,
            record: &record,
        };
        match importer.parse(&row) {
            Ok(_) => report.accepted += 1,
            Err(error) => report.rejected.push(error),
        }
    }
    report.rejected.sort_by_key(|e| e.line);
    Ok(report)
}

async fn flush<I: Importer>(
    importer: &mut I,
    store: &Store,
    file: &str,
    batch: &mut Vec<Lined<I::Row>>,
    report: &mut ImportReport,
) -> Result<(), sqlx::Error> {
    if batch.is_empty() {
        return Ok(());
    }
    let size = batch.len() as u64;
    let refused = importer.write(store, file, std::mem::take(batch)).await?;
    report.accepted += size - refused.len() as u64;
    report.rejected.extend(refused);
    Ok(())
}

fn check_columns<I: Importer>(
    file: &str,
    csv: &mut csv::Reader<impl Read>,
) -> Result<HashMap<String, usize>, ImportError> {
    let headers = csv
        .headers()
        .map_err(|source| ImportError::Csv {
            file: file.into(),
            line: 1,
            source,
        })?
        .clone();
    let columns: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim_start_matches('\u{feff}').to_lowercase(), i))
        .collect();
    let missing: Vec<&str> = I::REQUIRED
        .iter()
        .copied()
        .filter(|c| !columns.contains_key(*c))
        .collect();
    let unknown: Vec<&str> = columns
        .keys()
        .map(String::as_str)
        .filter(|c| !I::REQUIRED.contains(c) && !I::OPTIONAL.contains(c))
        .collect();
    let mut problems = Vec::new();
    if columns.len() != headers.len() {
        problems.push("a column name appears twice".to_string());
    }
    if missing.is_empty() && unknown.is_empty() && problems.is_empty() {
        return Ok(columns);
    }
    if !missing.is_empty() {
        problems.push(format!("missing column(s) {}", missing.join(", ")));
    }
    if !unknown.is_empty() {
        let mut unknown = unknown;
        unknown.sort_unstable();
        problems.push(format!("unknown column(s) {}", unknown.join(", ")));
    }
    Err(ImportError::Columns {
        file: file.into(),
        problem: problems.join("; "),
        expected: I::REQUIRED
            .iter()
            .chain(I::OPTIONAL)
            .copied()
            .collect::<Vec<_>>()
            .join(","),
    })
}

async fn count_rows(store: &Store, table: &'static str) -> Result<i64, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!("select count(*) from {table}"));
    on_pool!(store, |pool| sqlx::query_scalar(sql).fetch_one(pool).await)
}

/// All `code → id` pairs of a table, for resolving references in a file.
pub(crate) async fn code_map(
    store: &Store,
    table: &'static str,
    id: &'static str,
) -> Result<HashMap<String, i64>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!("select code, {id} from {table}"));
    let rows: Vec<(String, i64)> =
        on_pool!(store, |pool| sqlx::query_as(sql).fetch_all(pool).await)?;
    Ok(rows.into_iter().collect())
}
