//! Spreadsheets (XLSX, XLS, ODS): the first sheet is turned into CSV text and imported like a
//! CSV file, so every rule and message is the same. Line numbers are the sheet's row numbers.

use std::path::Path;

use calamine::{Data, Reader, Sheets, open_workbook_auto, open_workbook_auto_from_rs};

use super::ImportError;

/// Whether `path` names a spreadsheet rather than a CSV file.
pub(crate) fn is_spreadsheet(path: &Path) -> bool {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(extension.as_str(), "xlsx" | "xlsm" | "xls" | "ods")
}

/// The first sheet of the workbook at `path` as CSV bytes.
pub(crate) fn first_sheet_as_csv(path: &Path) -> Result<Vec<u8>, ImportError> {
    let file = path.display().to_string();
    let unreadable = |reason: String| ImportError::Spreadsheet {
        file: file.clone(),
        reason,
    };
    let workbook = open_workbook_auto(path).map_err(|e| unreadable(e.to_string()))?;
    sheet_as_csv(workbook, &file)
}

/// The first sheet of a workbook in memory (its format found from its bytes) as CSV bytes; for
/// the fuzz targets (`fuzz/`), through [`crate::fuzzing`].
pub(crate) fn bytes_as_csv(bytes: &[u8], file: &str) -> Result<Vec<u8>, ImportError> {
    let workbook = open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).map_err(|e| {
        ImportError::Spreadsheet {
            file: file.into(),
            reason: e.to_string(),
        }
    })?;
    sheet_as_csv(workbook, file)
}

fn sheet_as_csv<R: std::io::Read + std::io::Seek>(
    mut workbook: Sheets<R>,
    file: &str,
) -> Result<Vec<u8>, ImportError> {
    let unreadable = |reason: String| ImportError::Spreadsheet {
        file: file.into(),
        reason,
    };
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| unreadable("the workbook has no sheet".into()))?
        .map_err(|e| unreadable(e.to_string()))?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    // Rows above the used range become blank lines, which the CSV reader skips but counts, so
    // errors name the row a person sees in the spreadsheet.
    let (first_row, first_column) = range.start().unwrap_or((0, 0));
    let mut bytes = "\n".repeat(first_row as usize).into_bytes();
    for row in range.rows() {
        let mut fields: Vec<String> = vec![String::new(); first_column as usize];
        fields.extend(row.iter().map(cell_text));
        csv.write_record(&fields)
            .map_err(|e| unreadable(e.to_string()))?;
    }
    bytes.extend(csv.into_inner().map_err(|e| unreadable(e.to_string()))?);
    Ok(bytes)
}

/// A cell as the text a CSV file would hold.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        // Phone numbers and codes typed as numbers come back as floats: no ".0".
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Data::DateTime(d) => match d.as_datetime() {
            Some(at) if at.time() == chrono::NaiveTime::MIN => at.date().to_string(),
            Some(at) => at.to_string(),
            None => d.to_string(),
        },
        Data::Error(e) => format!("#{e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_like_csv_text() {
        assert_eq!(cell_text(&Data::Float(13812345678.0)), "13812345678");
        assert_eq!(cell_text(&Data::Float(89.5)), "89.5");
        assert_eq!(cell_text(&Data::Bool(true)), "1");
        assert_eq!(cell_text(&Data::Empty), "");
    }

    #[test]
    fn only_spreadsheet_extensions_count() {
        assert!(is_spreadsheet(Path::new("owners.XLSX")));
        assert!(!is_spreadsheet(Path::new("owners.csv")));
    }
}
