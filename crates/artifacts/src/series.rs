//! The data CSV: `timestamp,<value column>`, as `aiops fetch` writes and `aiops features` reads.
//!
//! Timestamps may be unix seconds (integer or fractional), `YYYY-MM-DD HH:MM:SS[.fff]` (naive,
//! taken as UTC) or RFC 3339. An empty value is a missing value (NaN). Timestamps must be
//! strictly increasing: an unsorted or duplicate timestamp is an error naming the line, unless the
//! caller asks for [`Order::Sort`], which sorts stably (duplicates are still refused), or for
//! [`Order::Records`], which keeps rows as records in file order whatever their timestamps (how
//! benchmarks such as NAB score them).

use std::path::Path;

use crate::{Error, Result};

/// One metric series with its timestamps as written and as unix seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Name of the timestamp column (the header's first field).
    pub timestamp_column: String,
    /// Name of the value column (the header's second field), e.g. `cpu_usage`.
    pub value_column: String,
    /// Timestamps exactly as they appeared in the input, for writing back unchanged.
    pub timestamp_text: Vec<String>,
    /// Timestamps as unix seconds.
    pub timestamps: Vec<f64>,
    /// Metric values; NaN where the input was empty.
    pub values: Vec<f64>,
}

/// What to do with timestamps that are not strictly increasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Refuse them with an error naming the line (the default).
    #[default]
    Strict,
    /// Sort rows by time (stable); still refuse duplicates.
    Sort,
    /// Keep every row as a record in file order: duplicated and backwards timestamps are
    /// accepted as they are (the evaluation reader; see [`order_problems`] to count them).
    Records,
}

/// Rows whose timestamp repeats an earlier row's (`duplicated`) or precedes the row before it
/// (`backwards`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderProblems {
    /// Rows with the timestamp of an earlier row.
    pub duplicated: usize,
    /// Rows with an earlier timestamp than the row before.
    pub backwards: usize,
}

/// Counts the rows of `timestamps` that repeat an earlier timestamp or go back in time.
///
/// ```
/// use aiops_artifacts::series::{OrderProblems, order_problems};
/// let problems = order_problems(&[0.0, 60.0, 60.0, 30.0, 90.0]);
/// assert_eq!(problems, OrderProblems { duplicated: 1, backwards: 1 });
/// ```
pub fn order_problems(timestamps: &[f64]) -> OrderProblems {
    let mut seen = std::collections::HashSet::with_capacity(timestamps.len());
    let mut problems = OrderProblems::default();
    for (i, &t) in timestamps.iter().enumerate() {
        if !seen.insert(t.to_bits()) {
            problems.duplicated += 1;
        }
        if i > 0 && t < timestamps[i - 1] {
            problems.backwards += 1;
        }
    }
    problems
}

/// Parses a timestamp in any accepted form into unix seconds.
///
/// ```
/// use aiops_artifacts::series::parse_timestamp;
/// assert_eq!(parse_timestamp("1700000000"), Some(1_700_000_000.0));
/// assert_eq!(parse_timestamp("2014-02-14 14:30:00"), Some(1_392_388_200.0));
/// assert_eq!(parse_timestamp("2014-02-14T15:30:00+01:00"), Some(1_392_388_200.0));
/// assert_eq!(parse_timestamp("yesterday"), None);
/// ```
pub fn parse_timestamp(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds.is_finite().then_some(seconds);
    }
    let datetime = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .map(|naive| naive.and_utc())
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(text).map(|dt| dt.to_utc()))
        .ok()?;
    Some(datetime.timestamp() as f64 + f64::from(datetime.timestamp_subsec_nanos()) / 1e9)
}

/// Parses a metric value: empty means missing (NaN); `NaN`, `inf` and `-inf` are accepted.
fn parse_value(text: &str) -> Option<f64> {
    let text = text.trim();
    if text.is_empty() { Some(f64::NAN) } else { text.parse().ok() }
}

/// Reads a data CSV from `path`.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read, [`Error::Csv`] naming the line for a missing
/// header, a wrong column count, an unparsable timestamp or value, or bad ordering.
pub fn read_series(path: &Path, order: Order) -> Result<Series> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    parse_series(file, path, order)
}

/// Reads a data CSV from any reader; `path` only names the source in errors.
///
/// # Errors
/// As [`read_series`].
pub fn parse_series(input: impl std::io::Read, path: &Path, order: Order) -> Result<Series> {
    let csv_error = |line: u64, problem: String| Error::Csv { path: path.to_owned(), line, problem };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(input);
    let mut records = reader.records();
    let header = match records.next() {
        None => return Err(csv_error(1, "the file is empty; expected a header `timestamp,<value>`".into())),
        Some(record) => record.map_err(|e| csv_error(1, e.to_string()))?,
    };
    if header.len() != 2 || parse_timestamp(&header[0]).is_some() {
        return Err(csv_error(
            1,
            format!(
                "expected a header with two columns like `timestamp,cpu_usage`, found `{}`",
                aiops_text::bounded(&join(&header))
            ),
        ));
    }
    let mut series = Series {
        timestamp_column: header[0].trim().to_owned(),
        value_column: header[1].trim().to_owned(),
        ..Series::default()
    };
    // 1-based input line of each row, so that errors found after sorting name the right line.
    let mut lines = Vec::new();
    for record in records {
        let record =
            record.map_err(|e| csv_error(e.position().map_or(0, csv::Position::line), e.to_string()))?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != 2 {
            return Err(csv_error(
                line,
                format!(
                    "expected 2 fields, found {}: `{}`",
                    record.len(),
                    aiops_text::bounded(&join(&record))
                ),
            ));
        }
        let timestamp = parse_timestamp(&record[0]).ok_or_else(|| {
            csv_error(
                line,
                format!(
                    "cannot parse timestamp `{}` (unix seconds, `YYYY-MM-DD HH:MM:SS` or RFC 3339)",
                    aiops_text::bounded(&record[0])
                ),
            )
        })?;
        if aiops_features::hour_of_unix_seconds(timestamp, series.timestamps.len()).is_err() {
            return Err(csv_error(
                line,
                format!(
                    "timestamp `{}` is outside the range pandas can represent (1677-09-21 to 2262-04-11)",
                    aiops_text::bounded(&record[0])
                ),
            ));
        }
        let value = parse_value(&record[1]).ok_or_else(|| {
            csv_error(line, format!("cannot parse value `{}` as a number", aiops_text::bounded(&record[1])))
        })?;
        lines.push(line);
        series.timestamp_text.push(record[0].trim().to_owned());
        series.timestamps.push(timestamp);
        series.values.push(value);
    }
    match order {
        Order::Records => return Ok(series),
        Order::Sort => sort_by_time(&mut series, &mut lines),
        Order::Strict => {}
    }
    check_strictly_increasing(&series, &lines, order).map_err(|(line, problem)| csv_error(line, problem))?;
    Ok(series)
}

fn join(record: &csv::StringRecord) -> String {
    record.iter().collect::<Vec<_>>().join(",")
}

fn sort_by_time(series: &mut Series, lines: &mut Vec<u64>) {
    let mut order: Vec<usize> = (0..series.timestamps.len()).collect();
    order.sort_by(|&a, &b| series.timestamps[a].total_cmp(&series.timestamps[b]));
    series.timestamp_text = order.iter().map(|&i| std::mem::take(&mut series.timestamp_text[i])).collect();
    series.timestamps = order.iter().map(|&i| series.timestamps[i]).collect();
    series.values = order.iter().map(|&i| series.values[i]).collect();
    *lines = order.iter().map(|&i| lines[i]).collect();
}

/// Names the first row whose timestamp does not exceed its predecessor's, by input line.
fn check_strictly_increasing(series: &Series, lines: &[u64], order: Order) -> Result<(), (u64, String)> {
    for (i, pair) in series.timestamps.windows(2).enumerate() {
        if pair[1] > pair[0] {
            continue;
        }
        let what = if pair[1] == pair[0] { "duplicate" } else { "out-of-order" };
        let hint =
            if order == Order::Strict && pair[1] < pair[0] { " (pass --sort to sort the input)" } else { "" };
        return Err((
            lines[i + 1],
            format!(
                "{what} timestamp `{}` (line {} has `{}`): timestamps must be strictly increasing{hint}",
                aiops_text::bounded(&series.timestamp_text[i + 1]),
                lines[i],
                aiops_text::bounded(&series.timestamp_text[i])
            ),
        ));
    }
    Ok(())
}

/// Formats a float in the shortest form that parses back to the same bits (`NaN`, `inf`,
/// `-inf`, `-0.0` included).
///
/// ```
/// use aiops_artifacts::series::format_float;
/// assert_eq!(format_float(0.1), "0.1");
/// assert_eq!(format_float(1e300), "1e300");
/// assert_eq!(format_float(f64::NAN), "NaN");
/// assert_eq!(format_float(-0.0), "-0.0");
/// ```
pub fn format_float(v: f64) -> String {
    Shortest(v).to_string()
}

/// Displays a float as [`format_float`] does, without allocating (for writing large files).
///
/// ```
/// use aiops_artifacts::series::Shortest;
/// assert_eq!(format!("{},{}", Shortest(2.5), Shortest(f64::NEG_INFINITY)), "2.5,-inf");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Shortest(pub f64);

impl std::fmt::Display for Shortest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Debug is Rust's shortest round-trip form with an exponent for very large or small
        // magnitudes; Display would spell 1e300 out in 301 digits.
        write!(f, "{:?}", self.0)
    }
}
