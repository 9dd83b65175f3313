//! Numeric CSV tables (a features CSV, an ODDS data set): a header, then rows; the chosen columns
//! parsed as finite floats into an `n x d` array, the `timestamp` column (when present) kept as
//! text so outputs can repeat it unchanged.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use aiops_features::{FeatureSchema, REFERENCE_COLUMNS};
use ndarray::{Array2, ArrayView1};

use crate::columnar::{ParquetTable, ParquetWriter};
use crate::fast_csv::{
    Blocks, Piece, PieceLines, Problem, lossy, parse_block, parse_f64, push_i64, push_shortest, write_rows,
};
use crate::gather::{Gather, Progress};
use crate::{Error, Format, Result};

/// Name of the column carried through as text rather than parsed.
pub const TIMESTAMP_COLUMN: &str = "timestamp";
/// Name of a ground-truth column never used as a model input by default.
pub const LABEL_COLUMN: &str = "label";

/// `text` as a CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break
/// (`\n` or a bare `\r`, which readers also take as the end of a record).
pub fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

/// The chosen columns of a CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Names of the columns in `values`, in order.
    pub columns: Vec<String>,
    /// The `timestamp` column's text, one per row, when the CSV has one.
    pub timestamps: Option<TextColumn>,
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

/// Reads `path` (Parquet for a `.parquet` file, else CSV), parsing `columns` (or
/// [`default_columns`] when `None`) as finite floats.
///
/// # Errors
/// [`Error::Io`] when unreadable; [`Error::Csv`] naming the line for a missing header, a missing
/// or duplicated column, a wrong field count, or a value that is not a finite number;
/// [`Error::Parquet`] (naming the row) and [`Error::ParquetFormat`] for the same in Parquet.
pub fn read_table(path: &Path, columns: Option<&[String]>) -> Result<Table> {
    TableReader::open(path, Format::of(path), columns)?.read_all()
}

/// Reads a table from any reader; `path` only names the source in errors.
///
/// # Errors
/// As [`read_table`].
pub fn parse_table(input: impl Read + Send, path: &Path, columns: Option<&[String]>) -> Result<Table> {
    CsvTable::new(Blocks::new(input), path, columns)?.read_all()
}

/// Short texts (timestamps) kept in one buffer: no allocation per row.
///
/// ```
/// use aiops_artifacts::table::TextColumn;
/// let column: TextColumn = ["2024-01-01 00:00:00", "1700000000"].into_iter().collect();
/// assert_eq!(column.get(1), Some("1700000000"));
/// assert_eq!(column.iter().count(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextColumn {
    text: String,
    ends: Vec<usize>,
}

impl TextColumn {
    /// An empty column with room for `texts` texts of `bytes` bytes in all.
    pub(crate) fn with_capacity(texts: usize, bytes: usize) -> Self {
        Self { text: String::with_capacity(bytes), ends: Vec::with_capacity(texts) }
    }

    /// Appends one text.
    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
        self.ends.push(self.text.len());
    }

    /// Number of texts.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there is no text.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`-th text.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..end])
    }

    /// The texts in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }

    /// Appends every text of `other`.
    pub fn append(&mut self, other: &Self) {
        let offset = self.text.len();
        self.text.push_str(&other.text);
        self.ends.extend(other.ends.iter().map(|end| end + offset));
    }

    /// The texts reordered: the `k`-th is the `order[k]`-th of `self`.
    pub(crate) fn permuted(&self, order: &[usize]) -> Self {
        order.iter().filter_map(|&i| self.get(i)).collect()
    }
}

/// A [`TextColumn`] gathered from the columns of parsed pieces, copied in parallel (see
/// [`Gather`]).
#[derive(Debug, Default)]
pub(crate) struct TextGather {
    text: Gather<u8>,
    ends: Gather<usize>,
}

impl TextGather {
    /// Appends the texts of `parts` in order.
    pub(crate) fn extend(&mut self, parts: &[&TextColumn], progress: Progress) {
        let texts: Vec<&[u8]> = parts.iter().map(|part| part.text.as_bytes()).collect();
        // Each part's ends move by the text gathered before it.
        let mut before = self.text.len();
        let shifted: Vec<(&[usize], usize)> = parts
            .iter()
            .map(|part| {
                before += part.text.len();
                (part.ends.as_slice(), before - part.text.len())
            })
            .collect();
        self.text.extend(&texts, progress);
        self.ends.extend_with(
            &shifted,
            progress,
            |(ends, by), into| into.iter_mut().zip(*ends).for_each(|(into, end)| *into = end + by),
            |(ends, _)| ends.len(),
        );
    }

    /// The gathered column.
    pub(crate) fn finish(self) -> TextColumn {
        // Whole texts of valid UTF-8 one after another are valid UTF-8.
        let text = String::from_utf8(self.text.into_vec())
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        TextColumn { text, ends: self.ends.into_vec() }
    }
}

impl<'a> FromIterator<&'a str> for TextColumn {
    fn from_iter<I: IntoIterator<Item = &'a str>>(texts: I) -> Self {
        let mut column = Self::default();
        texts.into_iter().for_each(|text| column.push(text));
        column
    }
}

/// Reads a table, CSV or Parquet, a block of rows at a time (for streaming), or whole.
pub struct TableReader(Source);

enum Source {
    Csv(Box<CsvTable<std::fs::File>>),
    Parquet(Box<ParquetTable>),
}

impl TableReader {
    /// Opens `path` as `format` and reads its header (its schema), choosing `columns` (or
    /// [`default_columns`]).
    ///
    /// # Errors
    /// As [`read_table`], for the header.
    pub fn open(path: &Path, format: Format, columns: Option<&[String]>) -> Result<Self> {
        Ok(Self(match format {
            Format::Csv => Source::Csv(Box::new(CsvTable::new(Blocks::open(path)?, path, columns)?)),
            Format::Parquet => Source::Parquet(Box::new(ParquetTable::open(path, columns)?)),
        }))
    }

    fn layout(&self) -> &Layout {
        match &self.0 {
            Source::Csv(table) => &table.layout,
            Source::Parquet(table) => table.layout(),
        }
    }

    /// The chosen columns, in order.
    pub fn columns(&self) -> &[String] {
        &self.layout().columns
    }

    /// Leaves the `timestamp` column unread (training needs only the values: no text is kept).
    pub fn without_timestamps(mut self) -> Self {
        match &mut self.0 {
            Source::Csv(table) => table.layout.timestamp_at = None,
            Source::Parquet(table) => table.drop_timestamps(),
        }
        self
    }

    /// Whether the input has a `timestamp` column (kept as text in each block).
    pub fn has_timestamps(&self) -> bool {
        self.layout().timestamp_at.is_some()
    }

    /// The next block of rows (a few megabytes of input) handed to `f` in pieces, each parsed and passed to `f` in one
    /// parallel task (the pieces of whole lines a CSV block is cut into; a Parquet row group
    /// whole), `f`'s results in input order; `None` at the end. Streaming steps process a
    /// block this way without gathering its pieces into one table first.
    ///
    /// # Errors
    /// As [`read_table`]: the block's first bad row, whatever `f` returned for the pieces.
    pub fn next_block_pieces<T: Send>(&mut self, f: impl Fn(Table) -> T + Sync) -> Result<Option<Vec<T>>> {
        match &mut self.0 {
            Source::Csv(table) => {
                let pieces =
                    table.map_block(|layout, rows| layout.table(rows.values, rows.timestamps).map(&f))?;
                pieces.map(|pieces| pieces.into_iter().collect()).transpose()
            }
            Source::Parquet(table) => Ok(table.next_block()?.map(|block| vec![f(block)])),
        }
    }

    /// Every remaining row.
    ///
    /// # Errors
    /// As [`read_table`].
    pub fn read_all(self) -> Result<Table> {
        match self.0 {
            Source::Csv(table) => table.read_all(),
            Source::Parquet(mut table) => {
                let mut parts = table.layout().parts();
                while let Some(block) = table.next_block()? {
                    parts.values.extend(block.values.iter());
                    if let (Some(all), Some(more)) = (parts.timestamps.as_mut(), &block.timestamps) {
                        all.append(more);
                    }
                }
                table.layout().table(parts.values, parts.timestamps)
            }
        }
    }
}

/// A CSV table read in blocks of whole lines.
struct CsvTable<R> {
    blocks: Blocks<R>,
    layout: Layout,
}

/// The chosen columns of a table and where they are.
pub(crate) struct Layout {
    /// The input, for errors.
    pub(crate) path: PathBuf,
    /// The chosen columns, in order.
    pub(crate) columns: Vec<String>,
    /// Header index of each chosen column.
    pub(crate) positions: Vec<usize>,
    /// Fields per record (the header's).
    width: usize,
    /// Header index of the `timestamp` column.
    pub(crate) timestamp_at: Option<usize>,
    /// Per header field, the chosen column it holds, for [`Layout::take_plain`]; `None` when
    /// a field is chosen twice (then every record takes the general path).
    plain_slots: Option<Vec<Option<usize>>>,
}

/// Rows read so far.
struct Parts {
    values: Vec<f64>,
    timestamps: Option<TextColumn>,
}

impl<R: Read + Send> CsvTable<R> {
    /// Reads the header from `input`; `path` only names the source in errors.
    fn new(mut blocks: Blocks<R>, path: &Path, columns: Option<&[String]>) -> Result<Self> {
        let csv_error = |problem: String| Error::Csv { path: path.to_owned(), line: 1, problem };
        let header = blocks
            .header()
            .map_err(|source| Error::Io { path: path.to_owned(), source })?
            .ok_or_else(|| csv_error("the file is empty; expected a header naming the columns".into()))?;
        let header = header_fields(&header).map_err(csv_error)?;
        let layout = Layout::new(path, &header, columns).map_err(csv_error)?;
        Ok(Self { blocks, layout })
    }

    fn read_all(mut self) -> Result<Table> {
        let mut values = Gather::default();
        let mut timestamps = self.layout.timestamp_at.map(|_| TextGather::default());
        while let Some(pieces) = self.map_block(|_, rows| rows)? {
            let progress = self.blocks.progress();
            let parts: Vec<&[f64]> = pieces.iter().map(|piece| piece.values.as_slice()).collect();
            values.extend(&parts, progress);
            if let Some(all) = timestamps.as_mut() {
                let parts: Vec<&TextColumn> =
                    pieces.iter().filter_map(|piece| piece.timestamps.as_ref()).collect();
                all.extend(&parts, progress);
            }
        }
        self.layout.table(values.into_vec(), timestamps.map(TextGather::finish))
    }

    /// Parses the pieces of the next block in parallel, each handed to `f` in the task that
    /// parsed it; `f`'s results in input order, `None` at the end of the input. `f` sees only
    /// pieces without a problem; the block's first problem is the error.
    fn map_block<T: Send>(&mut self, f: impl Fn(&Layout, PieceRows) -> T + Sync) -> Result<Option<Vec<T>>> {
        let layout = &self.layout;
        let parse = |piece: Piece<'_>| {
            let (rows, lines) = layout.parse(piece);
            (lines.error.is_none().then(|| f(layout, rows)), lines)
        };
        let pieces = self
            .blocks
            .map_next(|block, start| parse_block(block, start, parse))
            .map_err(|source| Error::Io { path: layout.path.clone(), source })?;
        let Some(pieces) = pieces else { return Ok(None) };
        let mut records = 0;
        let mut results = Vec::with_capacity(pieces.len());
        for mut piece in pieces {
            if let Some((at, problem)) = piece.error() {
                return Err(Error::Csv { path: layout.path.clone(), line: at.line, problem });
            }
            records += piece.lines.records;
            results.extend(piece.value);
        }
        self.blocks.count_records(records);
        Ok(Some(results))
    }
}

/// The header's fields, trimmed, as the `csv` crate reads them.
fn header_fields(line: &[u8]) -> Result<Vec<String>, String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).trim(csv::Trim::All).from_reader(line);
    let mut record = csv::StringRecord::new();
    reader.read_record(&mut record).map_err(|e| e.to_string())?;
    Ok(record.iter().map(str::to_owned).collect())
}

/// One piece of a block, parsed.
struct PieceRows {
    values: Vec<f64>,
    timestamps: Option<TextColumn>,
}

impl Layout {
    /// Chooses `columns` (or [`default_columns`]) in `header`; the problem in words when a
    /// column is missing or the header names one twice.
    pub(crate) fn new(path: &Path, header: &[String], columns: Option<&[String]>) -> Result<Self, String> {
        if let Some(dup) = header.iter().enumerate().find(|(i, c)| header[..*i].contains(c)) {
            return Err(format!("column `{}` appears twice", aiops_text::bounded(dup.1)));
        }
        let columns = columns.map_or_else(|| default_columns(header), <[String]>::to_vec);
        if columns.is_empty() {
            return Err("no numeric column to read".into());
        }
        let missing: Vec<&String> = columns.iter().filter(|c| !header.contains(c)).collect();
        if !missing.is_empty() {
            return Err(format!(
                "missing column(s) {}; the header has {}",
                aiops_text::bounded(&format!("{missing:?}")),
                aiops_text::bounded(&format!("{header:?}"))
            ));
        }
        let positions: Vec<usize> =
            columns.iter().filter_map(|c| header.iter().position(|h| h == c)).collect();
        let timestamp_at = header.iter().position(|h| h == TIMESTAMP_COLUMN);
        let plain_slots = plain_slots(&positions, header.len());
        Ok(Self { path: path.to_owned(), columns, positions, width: header.len(), timestamp_at, plain_slots })
    }

    fn parts(&self) -> Parts {
        Parts { values: Vec::new(), timestamps: self.timestamp_at.map(|_| TextColumn::default()) }
    }

    /// The table of row-major `values` (one per chosen column and row).
    pub(crate) fn table(&self, values: Vec<f64>, timestamps: Option<TextColumn>) -> Result<Table> {
        let shape = (values.len() / self.columns.len(), self.columns.len());
        let values = Array2::from_shape_vec(shape, values).map_err(|e| Error::Csv {
            path: self.path.clone(),
            line: 0,
            problem: format!("internal shape error: {e}"),
        })?;
        Ok(Table { columns: self.columns.clone(), timestamps, values })
    }

    fn parse(&self, piece: Piece<'_>) -> (PieceRows, PieceLines) {
        let mut rows = PieceRows {
            values: Vec::with_capacity(piece.bytes.len() / 8),
            timestamps: self.timestamp_at.map(|_| TextColumn::default()),
        };
        let plain = |rows: &mut PieceRows, _, line: &[u8]| self.take_plain(line, rows);
        let lines = piece.for_each_plain_record_or(&mut rows, plain, |rows, _, fields| {
            if fields.len() != self.width {
                return Err(Problem::FieldCount { found: fields.len(), expected: self.width });
            }
            piece.check_utf8(fields)?;
            for (&at, name) in self.positions.iter().zip(&self.columns) {
                match parse_f64(fields[at]) {
                    Some(v) if v.is_finite() => rows.values.push(v),
                    _ => {
                        return Err(Problem::Text(format!(
                            "column `{name}` is `{}`, not a finite number",
                            aiops_text::bounded(lossy(fields[at]).trim())
                        )));
                    }
                }
            }
            if let (Some(at), Some(texts)) = (self.timestamp_at, rows.timestamps.as_mut()) {
                texts.push(lossy(fields[at]).trim());
            }
            Ok(())
        });
        (rows, lines)
    }

    /// The fast path of [`Layout::parse`] for one record of an all-ASCII piece (its line):
    /// when the line splits on commas into the header's number of fields and every chosen
    /// column is a finite number `fast_float2` reads whole, pushes the row as the general path
    /// would and returns `true`. Anything else (a space, an empty field, a field too many)
    /// pushes nothing and returns `false`, leaving the record to the general path. Each number
    /// is parsed where it starts and its end must be the field's end, so fields are not split
    /// first.
    fn take_plain(&self, line: &[u8], rows: &mut PieceRows) -> bool {
        let Some(slots) = &self.plain_slots else { return false };
        let values = &mut rows.values;
        let row = values.len();
        values.resize(row + self.columns.len(), 0.0);
        let mut timestamp: &[u8] = &[];
        let mut from = 0;
        for (field, slot) in slots.iter().enumerate() {
            let rest = &line[from..];
            let end = match slot {
                Some(slot) => match fast_float2::parse_partial::<f64, _>(rest) {
                    Ok((value, len)) if value.is_finite() => {
                        values[row + slot] = value;
                        from + len
                    }
                    _ => line.len() + 1,
                },
                None => memchr::memchr(b',', rest).map_or(line.len(), |at| from + at),
            };
            let whole_field =
                if field + 1 == slots.len() { end == line.len() } else { line.get(end) == Some(&b',') };
            if !whole_field {
                values.truncate(row);
                return false;
            }
            if Some(field) == self.timestamp_at {
                timestamp = &line[from..end];
            }
            from = end + 1;
        }
        if let Some(texts) = rows.timestamps.as_mut() {
            texts.push(lossy(timestamp).trim());
        }
        true
    }
}

/// Per header field of `width`, the index among `positions` (the chosen columns' fields) of the
/// column it holds; `None` when a field is chosen twice.
fn plain_slots(positions: &[usize], width: usize) -> Option<Vec<Option<usize>>> {
    let mut slots = vec![None; width];
    for (slot, &field) in positions.iter().enumerate() {
        if slots.get_mut(field)?.replace(slot).is_some() {
            return None;
        }
    }
    Some(slots)
}

/// One column of a table to write.
#[derive(Debug, Clone)]
pub enum Column<'a> {
    /// Text written as it is (quoted when CSV requires it): timestamps as they were read.
    Text(&'a TextColumn),
    /// Floats, written in the shortest form that reads back to the same bits.
    Float(ArrayView1<'a, f64>),
    /// Whole numbers.
    Int(ArrayView1<'a, i64>),
    /// Small whole numbers (an hour of the day).
    Byte(ArrayView1<'a, u8>),
}

impl Column<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Text(texts) => texts.len(),
            Self::Float(values) => values.len(),
            Self::Int(values) => values.len(),
            Self::Byte(values) => values.len(),
        }
    }

    /// Whether some text of a text column holds a character CSV quotes.
    fn may_need_quotes(&self) -> bool {
        match self {
            Self::Text(texts) => {
                let text = texts.text.as_bytes();
                memchr::memchr3(b',', b'"', b'\n', text).is_some() || memchr::memchr(b'\r', text).is_some()
            }
            Self::Float(_) | Self::Int(_) | Self::Byte(_) => false,
        }
    }

    /// Appends the value of `row`; a text is checked for characters CSV quotes only when
    /// `may_need_quotes` (what [`Column::may_need_quotes`] said).
    fn push(&self, row: usize, out: &mut Vec<u8>, may_need_quotes: bool) {
        match self {
            Self::Text(texts) => {
                let text = texts.get(row).unwrap_or_default();
                if may_need_quotes {
                    out.extend_from_slice(csv_field(text).as_bytes());
                } else {
                    out.extend_from_slice(text.as_bytes());
                }
            }
            Self::Float(values) => push_shortest(out, values[row]),
            Self::Int(values) => push_i64(out, values[row]),
            Self::Byte(values) => push_i64(out, i64::from(values[row])),
        }
    }
}

/// What a column of a table to write holds, for Parquet's schema (CSV is text either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Timestamps ([`Column::Text`]): `timestamp[ns]`.
    Timestamp,
    /// Floats ([`Column::Float`]): `double`, NaN as a missing value.
    Float,
    /// Whole numbers ([`Column::Int`], [`Column::Byte`]) stored as `int32` (pandas' `Series.dt.hour`).
    Int32,
    /// Whole numbers ([`Column::Int`], [`Column::Byte`]) stored as `int64`.
    Int64,
}

/// Writes a table, CSV or Parquet, a block of rows at a time: the header (schema) first, then
/// each block's rows (CSV rows formatted in parallel); [`TableWriter::finish`] ends it.
pub struct TableWriter<'w>(Sink<'w>);

enum Sink<'w> {
    Csv { out: &'w mut (dyn Write + Send), width: usize },
    Parquet(Box<ParquetWriter<'w>>),
}

impl<'w> TableWriter<'w> {
    /// Starts a table of `columns` (name and kind) in `format`; a CSV header is quoted where
    /// CSV requires it.
    ///
    /// # Errors
    /// Whatever `out` returns.
    pub fn new(
        out: &'w mut (dyn Write + Send),
        format: Format,
        columns: &[(&str, Kind)],
    ) -> std::io::Result<Self> {
        Ok(Self(match format {
            Format::Csv => {
                let header: Vec<_> = columns.iter().map(|(name, _)| csv_field(name)).collect();
                writeln!(out, "{}", header.join(","))?;
                Sink::Csv { out, width: columns.len() }
            }
            Format::Parquet => Sink::Parquet(Box::new(ParquetWriter::new(out, columns)?)),
        }))
    }

    /// Writes the rows of `columns` (one per column of the header, all of the same length).
    ///
    /// # Errors
    /// Whatever `out` returns; [`std::io::ErrorKind::InvalidInput`] when the columns do not fit
    /// the header, [`std::io::ErrorKind::InvalidData`] for a value Parquet's type cannot hold.
    pub fn write(&mut self, columns: &[Column<'_>]) -> std::io::Result<()> {
        self.write_pieces(std::slice::from_ref(&columns))
    }

    /// Writes the rows of several pieces of a table in order, each piece's `columns` as in
    /// [`TableWriter::write`]; CSV rows are formatted in parallel across pieces.
    ///
    /// # Errors
    /// As [`TableWriter::write`].
    pub fn write_pieces<'c, C: AsRef<[Column<'c>]> + Sync>(&mut self, pieces: &[C]) -> std::io::Result<()> {
        let width = match &self.0 {
            Sink::Csv { width, .. } => *width,
            Sink::Parquet(writer) => writer.width(),
        };
        let rows: Vec<usize> = pieces.iter().map(|c| c.as_ref().first().map_or(0, Column::len)).collect();
        for (columns, &rows) in pieces.iter().map(AsRef::as_ref).zip(&rows) {
            if columns.len() != width || columns.iter().any(|c| c.len() != rows) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{} columns of unequal lengths for a header of {width}", columns.len()),
                ));
            }
        }
        match &mut self.0 {
            Sink::Csv { out, .. } => {
                // Whether each text column holds a character CSV quotes, found once per column.
                let quoted: Vec<Vec<bool>> = pieces
                    .iter()
                    .map(|columns| columns.as_ref().iter().map(Column::may_need_quotes).collect())
                    .collect();
                write_rows(*out, &rows, |piece, range, text| {
                    let (columns, quoted) = (pieces[piece].as_ref(), &quoted[piece]);
                    for row in range {
                        for (i, column) in columns.iter().enumerate() {
                            if i > 0 {
                                text.push(b',');
                            }
                            column.push(row, text, quoted[i]);
                        }
                        text.push(b'\n');
                    }
                })
            }
            Sink::Parquet(writer) => pieces.iter().try_for_each(|columns| writer.write(columns.as_ref())),
        }
    }

    /// Ends the table (Parquet's footer).
    ///
    /// # Errors
    /// Whatever `out` returns.
    pub fn finish(self) -> std::io::Result<()> {
        match self.0 {
            Sink::Csv { .. } => Ok(()),
            Sink::Parquet(writer) => writer.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;

    use super::{TextColumn, TextGather, csv_field, parse_table};
    use crate::Error;
    use crate::gather::Progress;
    use crate::series::{Order, parse_series};

    /// What the `csv` crate (the reader before issue 16) says of a table: the values, or the
    /// first error's position line and message.
    fn csv_crate_table(text: &str) -> Result<Vec<f64>, (u64, String)> {
        let mut reader =
            csv::ReaderBuilder::new().has_headers(false).trim(csv::Trim::All).from_reader(text.as_bytes());
        let mut values = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| (e.position().map_or(0, csv::Position::line), e.to_string()))?;
            let line = record.position().map_or(0, csv::Position::line);
            for (j, field) in record.iter().enumerate().filter(|_| i > 0) {
                match field.parse::<f64>() {
                    Ok(v) if v.is_finite() => values.push(v),
                    _ => {
                        let name = ["a", "b"][j];
                        return Err((line, format!("column `{name}` is `{field}`, not a finite number")));
                    }
                }
            }
        }
        Ok(values)
    }

    /// The line the `csv` crate placed the first record failing `bad` at (flexible reading).
    fn csv_crate_line(text: &str, bad: impl Fn(&csv::StringRecord) -> bool) -> Option<u64> {
        let mut reader =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        records.iter().skip(1).find(|r| bad(r)).and_then(|r| r.position().map(csv::Position::line))
    }

    fn terminator() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\n \n"])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Issue 16: the parallel reader names the line and byte the `csv` crate named, with
        /// CRLF, lone CR and blank lines.
        #[test]
        fn tables_read_and_fail_as_the_csv_crate_did(
            rows in prop::collection::vec((prop::sample::select(vec![
                "1,2", " 3 , 4", "5", "6,7,8", "x,9", "1e3,-0.5", "1.5e,2", "1.5 ,2", "2, 1.5", "inf,2", "1,NaN",
                "1,", ",1", "+1,.5", "1.5x,2", "1,2,", "-,1", "1e400,1", "0x10,1", "1_0,2", "7.,-0e-5",
            ]), terminator()), 0..12),
            first in terminator(),
        ) {
            let text: String = std::iter::once(("a,b", first)).chain(rows).map(|(row, end)| format!("{row}{end}")).collect();
            let ours = parse_table(text.as_bytes(), Path::new("t.csv"), None);
            match (ours, csv_crate_table(&text)) {
                (Ok(table), Ok(values)) => prop_assert_eq!(table.values.iter().copied().collect::<Vec<_>>(), values),
                (Err(Error::Csv { line, problem, .. }), Err(expected)) => prop_assert_eq!((line, problem), expected),
                (ours, theirs) => prop_assert!(false, "{:?} vs {:?} for {:?}", ours.map(|t| t.values), theirs, text),
            }
        }

        #[test]
        fn series_errors_name_the_line_the_csv_crate_did(
            rows in prop::collection::vec((prop::sample::select(vec!["1,2", "2,bad", "3", "4,5,6", "5,"]), terminator()), 0..12),
            first in terminator(),
        ) {
            let rows: Vec<(String, &str)> =
                rows.into_iter().enumerate().map(|(i, (row, end))| (row.replacen(|c: char| c.is_ascii_digit(), &format!("{}", 10 + i), 1), end)).collect();
            let text: String = std::iter::once(("timestamp,v".to_owned(), first)).chain(rows).map(|(row, end)| format!("{row}{end}")).collect();
            let expected = csv_crate_line(&text, |r| r.len() != 2 || &r[1] == "bad");
            match parse_series(text.as_bytes(), Path::new("d.csv"), Order::Strict) {
                Ok(_) => prop_assert_eq!(expected, None, "{:?}", text),
                Err(Error::Csv { line, .. }) => prop_assert_eq!(Some(line), expected, "{:?}", text),
                Err(other) => prop_assert!(false, "{other}"),
            }
        }
    }

    /// Issue 16's plain-record fast path puts chosen columns in the chosen order, keeps the
    /// timestamp text, and agrees with the general path it leaves irregular records to.
    #[test]
    fn chosen_columns_come_in_the_chosen_order_on_the_fast_path_and_off_it() {
        let text = "a,timestamp,b,c\n1,t1,2,3\n 4,t2 ,5,6\n7,t3,8,9\n\"10\",t4,11,12\n";
        let columns = ["c".to_owned(), "a".to_owned()];
        let table = parse_table(text.as_bytes(), Path::new("t.csv"), Some(&columns)).expect("valid");
        assert_eq!(
            table.values.iter().copied().collect::<Vec<_>>(),
            [3.0, 1.0, 6.0, 4.0, 9.0, 7.0, 12.0, 10.0]
        );
        let timestamps = table.timestamps.expect("a timestamp column");
        assert_eq!(timestamps.iter().collect::<Vec<_>>(), ["t1", "t2", "t3", "t4"]);
        let twice = ["b".to_owned(), "b".to_owned()];
        let table = parse_table(text.as_bytes(), Path::new("t.csv"), Some(&twice)).expect("valid");
        assert_eq!(
            table.values.iter().copied().collect::<Vec<_>>(),
            [2.0, 2.0, 5.0, 5.0, 8.0, 8.0, 11.0, 11.0]
        );
    }

    #[test]
    fn gathered_texts_keep_their_order_and_bounds() {
        let pieces: Vec<Vec<TextColumn>> = vec![
            vec![
                ["a", "bc"].into_iter().collect(),
                TextColumn::default(),
                ["", "d\u{e9}"].into_iter().collect(),
            ],
            vec![["2024-01-01 00:00:00"].into_iter().collect()],
        ];
        let mut gather = TextGather::default();
        for block in &pieces {
            gather.extend(&block.iter().collect::<Vec<_>>(), Progress::default());
        }
        let texts: Vec<&str> = pieces.iter().flatten().flat_map(TextColumn::iter).collect();
        assert_eq!(texts, ["a", "bc", "", "d\u{e9}", "2024-01-01 00:00:00"]);
        assert_eq!(gather.finish(), texts.into_iter().collect::<TextColumn>());
    }

    #[test]
    fn a_bare_carriage_return_is_quoted_and_reads_back() {
        for text in ["a\rb", "a\nb", "a,b", "say \"hi\"", "plain"] {
            let line = format!("{},1\n", csv_field(text));
            let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes());
            let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
            assert_eq!(records.len(), 1, "{text:?} split the record: {line:?}");
            assert_eq!(&records[0][0], text);
        }
    }
}
