//! The data CSV: `timestamp,<value column>`, as `aiops fetch` writes and `aiops features` reads.
//!
//! Timestamps may be unix seconds (integer or fractional), `YYYY-MM-DD HH:MM:SS[.fff]` (naive,
//! taken as UTC) or RFC 3339. An empty value is a missing value (NaN). Timestamps must be
//! strictly increasing: an unsorted or duplicate timestamp is an error naming the line, unless the
//! caller asks for [`Order::Sort`], which sorts stably (duplicates are still refused), or for
//! [`Order::Records`], which keeps rows as records in file order whatever their timestamps (how
//! benchmarks such as NAB score them).

use std::path::Path;

use crate::fast_csv::{
    Blocks, Piece, PieceLines, Problem, RelativePosition, lossy, newlines, parse_block, parse_f64,
    push_shortest,
};
use crate::gather::Gather;
use crate::table::{TextColumn, TextGather};
use crate::{Error, Format, Result};

/// One metric series with its timestamps as written and as unix seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Name of the timestamp column (the header's first field).
    pub timestamp_column: String,
    /// Name of the value column (the header's second field), e.g. `cpu_usage`.
    pub value_column: String,
    /// Timestamps exactly as they appeared in the input, for writing back unchanged.
    pub timestamp_text: TextColumn,
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
    if let Some(seconds) = parse_f64(text.as_bytes()) {
        return seconds.is_finite().then_some(seconds);
    }
    if let Some(seconds) = plain_datetime_seconds(text.as_bytes()) {
        return Some(seconds);
    }
    let datetime = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .map(|naive| naive.and_utc())
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(text).map(|dt| dt.to_utc()))
        .ok()?;
    Some(datetime.timestamp() as f64 + f64::from(datetime.timestamp_subsec_nanos()) / 1e9)
}

/// `YYYY-MM-DD HH:MM:SS` exactly (the form `aiops fetch` writes) as unix seconds, without
/// going through chrono's format interpreter; `None` for any other shape, which chrono then
/// reads.
fn plain_datetime_seconds(text: &[u8]) -> Option<f64> {
    let shape = text.len() == 19
        && text.iter().enumerate().all(|(i, &b)| match i {
            4 | 7 => b == b'-',
            10 => b == b' ',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    let number =
        |range: std::ops::Range<usize>| text[range].iter().fold(0i64, |n, &b| n * 10 + i64::from(b - b'0'));
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let (hour, minute, second) = (number(11..13), number(14..16), number(17..19));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let valid = (1..=12).contains(&month)
        && (1..=month_days[(month - 1).clamp(0, 11) as usize]).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    valid.then(|| (days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second) as f64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Parses a metric value: empty means missing (NaN); `NaN`, `inf` and `-inf` are accepted.
fn parse_value(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?.trim();
    if text.is_empty() { Some(f64::NAN) } else { parse_f64(text.as_bytes()) }
}

/// Reads a data table from `path`: Parquet for a `.parquet` file, else CSV.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read, [`Error::Csv`] naming the line for a missing
/// header, a wrong column count, an unparsable timestamp or value, or bad ordering;
/// [`Error::Parquet`] (naming the row) and [`Error::ParquetFormat`] for the same in Parquet.
pub fn read_series(path: &Path, order: Order) -> Result<Series> {
    read_series_as(path, Format::of(path), order)
}

/// Reads a data table from `path` in `format`. A Parquet table has two columns, the timestamp
/// (`timestamp[ns]` or any other unit or zone, unix seconds as numbers, or text) and the value
/// (any number type; null is a missing value).
///
/// # Errors
/// As [`read_series`].
pub fn read_series_as(path: &Path, format: Format, order: Order) -> Result<Series> {
    match format {
        Format::Csv => read_csv(Blocks::open(path)?, path, order),
        Format::Parquet => crate::columnar::read_series(path, order),
    }
}

/// Reads a data CSV from any reader; `path` only names the source in errors.
///
/// # Errors
/// As [`read_series`].
pub fn parse_series(input: impl std::io::Read + Send, path: &Path, order: Order) -> Result<Series> {
    read_csv(Blocks::new(input), path, order)
}

fn read_csv(mut blocks: Blocks<impl std::io::Read + Send>, path: &Path, order: Order) -> Result<Series> {
    let csv_error = |line: u64, problem: String| Error::Csv { path: path.to_owned(), line, problem };
    let io_error = |source| Error::Io { path: path.to_owned(), source };
    let header = blocks
        .header()
        .map_err(io_error)?
        .ok_or_else(|| csv_error(1, "the file is empty; expected a header `timestamp,<value>`".into()))?;
    let header = header_fields(&header).map_err(|problem| csv_error(1, problem))?;
    if header.len() != 2 || parse_timestamp(&header[0]).is_some() {
        return Err(csv_error(
            1,
            format!(
                "expected a header with two columns like `timestamp,cpu_usage`, found `{}`",
                aiops_text::bounded(&header.join(","))
            ),
        ));
    }
    let mut lines = RowLines::default();
    let (mut timestamp_text, mut timestamps, mut values) =
        (TextGather::default(), Gather::default(), Gather::default());
    while let Some(parsed) =
        blocks.map_next(|block, start| parse_block(block, start, parse_piece)).map_err(io_error)?
    {
        let mut pieces = Vec::with_capacity(parsed.len());
        let mut rows = values.len();
        let mut records = 0;
        for mut piece in parsed {
            if let Some((at, problem)) = piece.error() {
                return Err(csv_error(at.line, problem));
            }
            records += piece.lines.records;
            lines.add_piece(rows, piece.start.line, std::mem::take(&mut piece.value.newlines));
            rows += piece.value.values.len();
            pieces.push(piece.value);
        }
        blocks.count_records(records);
        let progress = blocks.progress();
        timestamp_text.extend(&pieces.iter().map(|p| &p.timestamp_text).collect::<Vec<_>>(), progress);
        timestamps.extend(&pieces.iter().map(|p| p.timestamps.as_slice()).collect::<Vec<_>>(), progress);
        values.extend(&pieces.iter().map(|p| p.values.as_slice()).collect::<Vec<_>>(), progress);
    }
    let series = Series {
        timestamp_column: header[0].trim().to_owned(),
        value_column: header[1].trim().to_owned(),
        timestamp_text: timestamp_text.finish(),
        timestamps: timestamps.into_vec(),
        values: values.into_vec(),
    };
    finish(series, |row| lines.line(row), order, "line").map_err(|(line, problem)| csv_error(line, problem))
}

/// The line of every row of a CSV, kept per piece as line ends from the piece's first line and
/// resolved only when an error names a row.
#[derive(Default)]
struct RowLines {
    /// Per piece with rows: its first row, its first line, each row's line ends from there.
    pieces: Vec<(usize, u64, RowNewlines)>,
}

impl RowLines {
    fn add_piece(&mut self, first_row: usize, first_line: u64, newlines: RowNewlines) {
        if newlines.rows > 0 {
            self.pieces.push((first_row, first_line, newlines));
        }
    }

    /// The line of row `row` (0-based, in read order; a row that was read).
    fn line(&self, row: usize) -> u64 {
        let piece = self.pieces.partition_point(|(first, ..)| *first <= row).saturating_sub(1);
        self.pieces.get(piece).map_or(0, |(first, line, newlines)| {
            line.saturating_add_signed(newlines.get(row - first).unwrap_or_default())
        })
    }
}

/// Each row's line ends from its piece's first line. The `k`-th row of a piece of one record
/// per line is `k` lines down; only a piece where some row is not (after a blank line, a lone
/// `\r`, terminators pending at its start) keeps every row's count.
#[derive(Debug, Default, PartialEq)]
struct RowNewlines {
    rows: usize,
    irregular: Option<Vec<i64>>,
}

impl RowNewlines {
    fn push(&mut self, newlines: i64) {
        match &mut self.irregular {
            Some(all) => all.push(newlines),
            None if newlines == self.rows as i64 => {}
            None => self.irregular = Some((0..self.rows as i64).chain([newlines]).collect()),
        }
        self.rows += 1;
    }

    fn get(&self, row: usize) -> Option<i64> {
        match &self.irregular {
            Some(all) => all.get(row).copied(),
            None => (row < self.rows).then_some(row as i64),
        }
    }
}

/// Applies `order` to rows whose 1-based `line_of` (in read order; of the `unit` errors name:
/// `line` or `row`) is looked up only for an error: sorts, or refuses the first row out of
/// order naming its line.
pub(crate) fn finish(
    mut series: Series,
    line_of: impl Fn(usize) -> u64,
    order: Order,
    unit: &str,
) -> Result<Series, (u64, String)> {
    let read_order = match order {
        Order::Records => return Ok(series),
        Order::Sort => Some(sort_by_time(&mut series)),
        Order::Strict => None,
    };
    let line = |row: usize| line_of(read_order.as_ref().map_or(row, |read| read[row]));
    check_strictly_increasing(&series, line, order, unit)?;
    Ok(series)
}

/// The header's fields as the `csv` crate reads them (not trimmed: the checks see them as
/// written).
fn header_fields(line: &[u8]) -> Result<Vec<String>, String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(line);
    let mut record = csv::StringRecord::new();
    reader.read_record(&mut record).map_err(|e| e.to_string())?;
    Ok(record.iter().map(str::to_owned).collect())
}

/// One piece of a block of a data CSV, parsed.
#[derive(Default)]
struct SeriesPiece {
    timestamp_text: TextColumn,
    timestamps: Vec<f64>,
    values: Vec<f64>,
    /// Each row's line ends from the piece's first line.
    newlines: RowNewlines,
}

fn parse_piece(piece: Piece<'_>) -> (SeriesPiece, PieceLines) {
    // Sized for the most rows the piece can hold, so that no column grows by copying.
    let rows = newlines(piece.bytes) as usize + 1;
    let mut parsed = SeriesPiece {
        timestamp_text: TextColumn::with_capacity(rows, piece.bytes.len()),
        timestamps: Vec::with_capacity(rows),
        values: Vec::with_capacity(rows),
        newlines: RowNewlines::default(),
    };
    let plain = |parsed: &mut SeriesPiece, at: RelativePosition, line: &[u8]| {
        let Some((seconds, value, timestamp)) = plain_row(line) else { return false };
        parsed.newlines.push(at.newlines());
        parsed.timestamp_text.push(lossy(timestamp).as_ref());
        parsed.timestamps.push(seconds);
        parsed.values.push(value);
        true
    };
    let lines = piece.for_each_plain_record_or(&mut parsed, plain, |parsed, at, fields| {
        piece.check_utf8(fields)?;
        let [timestamp, value] = fields else {
            let joined: Vec<_> = fields.iter().map(|f| lossy(f)).collect();
            return Err(Problem::Text(format!(
                "expected 2 fields, found {}: `{}`",
                fields.len(),
                aiops_text::bounded(&joined.join(","))
            )));
        };
        let text = lossy(timestamp);
        let seconds = parse_timestamp(&text).ok_or_else(|| {
            format!(
                "cannot parse timestamp `{}` (unix seconds, `YYYY-MM-DD HH:MM:SS` or RFC 3339)",
                aiops_text::bounded(&text)
            )
        })?;
        if aiops_features::hour_of_unix_seconds(seconds, 0).is_err() {
            return Err(Problem::Text(format!(
                "timestamp `{}` is outside the range pandas can represent (1677-09-21 to 2262-04-11)",
                aiops_text::bounded(&text)
            )));
        }
        let value = parse_value(value).ok_or_else(|| {
            format!("cannot parse value `{}` as a number", aiops_text::bounded(&lossy(value)))
        })?;
        parsed.newlines.push(at.newlines());
        parsed.timestamp_text.push(text.trim());
        parsed.timestamps.push(seconds);
        parsed.values.push(value);
        Ok(())
    });
    (parsed, lines)
}

/// The fast path of [`parse_piece`] for one record of an all-ASCII piece (its line): the
/// timestamp (unix seconds or `YYYY-MM-DD HH:MM:SS`, nothing to trim, within pandas' range),
/// the value and the timestamp's text when the line is two such fields; `None` leaves the
/// record to the general path, which reads every other form and names every problem.
fn plain_row(line: &[u8]) -> Option<(f64, f64, &[u8])> {
    let comma = memchr::memchr(b',', line)?;
    let (timestamp, value) = (&line[..comma], &line[comma + 1..]);
    let seconds = match fast_float2::parse::<f64, _>(timestamp) {
        Ok(seconds) => seconds.is_finite().then_some(seconds)?,
        Err(_) => plain_datetime_seconds(timestamp)?,
    };
    aiops_features::hour_of_unix_seconds(seconds, 0).ok()?;
    let value = if value.is_empty() { f64::NAN } else { fast_float2::parse(value).ok()? };
    Some((seconds, value, timestamp))
}

/// Sorts the rows by time (stable); returns, for each sorted row, its index in read order.
fn sort_by_time(series: &mut Series) -> Vec<usize> {
    let mut order: Vec<usize> = (0..series.timestamps.len()).collect();
    order.sort_by(|&a, &b| series.timestamps[a].total_cmp(&series.timestamps[b]));
    series.timestamp_text = series.timestamp_text.permuted(&order);
    series.timestamps = order.iter().map(|&i| series.timestamps[i]).collect();
    series.values = order.iter().map(|&i| series.values[i]).collect();
    order
}

/// Names the first row whose timestamp does not exceed its predecessor's, by input line.
fn check_strictly_increasing(
    series: &Series,
    line: impl Fn(usize) -> u64,
    order: Order,
    unit: &str,
) -> Result<(), (u64, String)> {
    for (i, pair) in series.timestamps.windows(2).enumerate() {
        if pair[1] > pair[0] {
            continue;
        }
        let what = if pair[1] == pair[0] { "duplicate" } else { "out-of-order" };
        let hint =
            if order == Order::Strict && pair[1] < pair[0] { " (pass --sort to sort the input)" } else { "" };
        return Err((
            line(i + 1),
            format!(
                "{what} timestamp `{}` ({unit} {} has `{}`): timestamps must be strictly increasing{hint}",
                aiops_text::bounded(series.timestamp_text.get(i + 1).unwrap_or_default()),
                line(i),
                aiops_text::bounded(series.timestamp_text.get(i).unwrap_or_default())
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
        // Rust's Debug form (shortest round trip, an exponent for very large or small
        // magnitudes; Display would spell 1e300 out in 301 digits), written by a faster formatter.
        let mut text = Vec::with_capacity(24);
        push_shortest(&mut text, self.0);
        f.write_str(&String::from_utf8_lossy(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::{RowLines, RowNewlines, parse_timestamp, parse_value, plain_row};

    /// Issue 16: wherever the fast path answers, the general path's parsers give the same row;
    /// everything they would trim, refuse or read in another form is left to them.
    #[test]
    fn the_plain_row_fast_path_agrees_with_the_general_parsers() {
        let timestamps = [
            "1700000000",
            "1.5e9",
            " 17",
            "17 ",
            "2024-01-02 03:04:05",
            "2024-01-02T03:04:05Z",
            "inf",
            "1e300",
            "-1e11",
            "",
            "2024-01-02 03:04:5",
        ];
        let values = ["97.8", "", " 1", "inf", "nan", "1,2", "x", "-0.0", "1e400", "1.5e"];
        let mut taken = 0;
        for timestamp in timestamps {
            for value in values {
                let line = format!("{timestamp},{value}");
                let Some((seconds, parsed, text)) = plain_row(line.as_bytes()) else { continue };
                taken += 1;
                assert_eq!(text, timestamp.as_bytes(), "{line}");
                assert_eq!(Some(seconds), parse_timestamp(timestamp), "{line}");
                assert_eq!(Some(parsed.to_bits()), parse_value(value.as_bytes()).map(f64::to_bits), "{line}");
            }
        }
        // Unix seconds, 1.5e9 and the plain date-time, each with 6 plain values.
        assert_eq!(taken, 3 * 6);
    }

    #[test]
    fn row_lines_resolve_first_and_last_rows_of_each_piece() {
        let newlines = |counts: &[i64]| {
            let mut newlines = RowNewlines::default();
            counts.iter().for_each(|&count| newlines.push(count));
            newlines
        };
        let mut lines = RowLines::default();
        lines.add_piece(0, 2, newlines(&[0, 1, 3]));
        lines.add_piece(3, 7, newlines(&[]));
        lines.add_piece(3, 7, newlines(&[-1, 0, 2]));
        lines.add_piece(6, 20, newlines(&[0, 1, 2]));
        let named: Vec<u64> = (0..9).map(|row| lines.line(row)).collect();
        assert_eq!(named, [2, 3, 5, 6, 7, 9, 20, 21, 22]);
        // One row per line keeps no counts; the first row off its line keeps them all.
        assert_eq!(newlines(&[0, 1, 2]), RowNewlines { rows: 3, irregular: None });
        assert_eq!(newlines(&[0, 1, 3, 4]).irregular, Some(vec![0, 1, 3, 4]));
    }
}
