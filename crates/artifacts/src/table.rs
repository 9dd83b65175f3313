//! Numeric CSV tables (a features CSV, an ODDS data set): a header, then rows; the chosen columns
//! parsed as finite floats into an `n x d` array, the `timestamp` column (when present) kept as
//! text so outputs can repeat it unchanged.

use std::path::Path;

use aiops_features::{FeatureSchema, REFERENCE_COLUMNS};
use ndarray::Array2;

use crate::{Error, Result};

/// Name of the column carried through as text rather than parsed.
pub const TIMESTAMP_COLUMN: &str = "timestamp";
/// Name of a ground-truth column never used as a model input by default.
pub const LABEL_COLUMN: &str = "label";

/// The chosen columns of a CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Names of the columns in `values`, in order.
    pub columns: Vec<String>,
    /// The `timestamp` column's text, one per row, when the CSV has one.
    pub timestamps: Option<Vec<String>>,
    /// One row per CSV row, one column per name in `columns`.
    pub values: Array2<f64>,
}

/// The model inputs to use when none are named: the five standard feature columns
/// (`<value>, rolling_mean, rolling_std, rate_of_change, hour`, the value column being the one
/// just before `rolling_mean`) when the header has them, else every column but `timestamp` and
/// `label`.
pub fn default_columns(header: &[String]) -> Vec<String> {
    let derived = &REFERENCE_COLUMNS[1..];
    let value = header
        .iter()
        .position(|c| c == derived[0])
        .and_then(|at| at.checked_sub(1))
        .map(|at| &header[at])
        .filter(|name| name.as_str() != TIMESTAMP_COLUMN && name.as_str() != LABEL_COLUMN);
    match value {
        Some(value) if derived.iter().all(|d| header.iter().any(|c| c == d)) => {
            std::iter::once(value.clone()).chain(derived.iter().map(|d| (*d).to_owned())).collect()
        }
        _ => header.iter().filter(|c| *c != TIMESTAMP_COLUMN && *c != LABEL_COLUMN).cloned().collect(),
    }
}

/// The reference feature schema, with the CSV's value column name, when `columns` are the five
/// standard feature columns in order. The window cannot be read from a CSV: the reference window
/// is assumed.
pub fn standard_schema(columns: &[String]) -> Option<FeatureSchema> {
    let standard = columns.len() == REFERENCE_COLUMNS.len() && columns[1..] == REFERENCE_COLUMNS[1..];
    standard.then(|| FeatureSchema::reference().with_value_column(&columns[0]).ok()).flatten()
}

/// Reads `path`, parsing `columns` (or [`default_columns`] when `None`) as finite floats.
///
/// # Errors
/// [`Error::Io`] when unreadable; [`Error::Csv`] naming the line for a missing header, a missing
/// or duplicated column, a wrong field count, or a value that is not a finite number.
pub fn read_table(path: &Path, columns: Option<&[String]>) -> Result<Table> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    parse_table(std::io::BufReader::new(file), path, columns)
}

/// Reads a table from any reader; `path` only names the source in errors.
///
/// # Errors
/// As [`read_table`].
pub fn parse_table(input: impl std::io::Read, path: &Path, columns: Option<&[String]>) -> Result<Table> {
    let csv_error = |line: u64, problem: String| Error::Csv { path: path.to_owned(), line, problem };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).trim(csv::Trim::All).from_reader(input);
    let mut records = reader.records();
    let header: Vec<String> = match records.next() {
        None => return Err(csv_error(1, "the file is empty; expected a header naming the columns".into())),
        Some(record) => record.map_err(|e| csv_error(1, e.to_string()))?.iter().map(str::to_owned).collect(),
    };
    if let Some(dup) = header.iter().enumerate().find(|(i, c)| header[..*i].contains(c)) {
        return Err(csv_error(1, format!("column `{}` appears twice", dup.1)));
    }
    let columns = columns.map_or_else(|| default_columns(&header), <[String]>::to_vec);
    if columns.is_empty() {
        return Err(csv_error(1, "no numeric column to read".into()));
    }
    let missing: Vec<&String> = columns.iter().filter(|c| !header.contains(c)).collect();
    if !missing.is_empty() {
        return Err(csv_error(1, format!("missing column(s) {missing:?}; the header has {header:?}")));
    }
    let positions: Vec<usize> = columns.iter().filter_map(|c| header.iter().position(|h| h == c)).collect();
    let timestamp_at = header.iter().position(|h| h == TIMESTAMP_COLUMN);
    let mut timestamps = timestamp_at.map(|_| Vec::new());
    let mut values = Vec::new();
    for record in records {
        let record =
            record.map_err(|e| csv_error(e.position().map_or(0, csv::Position::line), e.to_string()))?;
        let line = record.position().map_or(0, csv::Position::line);
        for (&at, name) in positions.iter().zip(&columns) {
            let text = &record[at];
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => values.push(v),
                _ => {
                    return Err(csv_error(line, format!("column `{name}` is `{text}`, not a finite number")));
                }
            }
        }
        if let (Some(at), Some(texts)) = (timestamp_at, timestamps.as_mut()) {
            texts.push(record[at].to_owned());
        }
    }
    let rows = values.len() / columns.len();
    let values = Array2::from_shape_vec((rows, columns.len()), values)
        .map_err(|e| csv_error(0, format!("internal shape error: {e}")))?;
    Ok(Table { columns, timestamps, values })
}
