//! Parquet tables, typed as pandas 2.3.3 with pyarrow writes them: timestamps as
//! `timestamp[ns]` (tz-naive, UTC wall time, as `pd.to_datetime(..., unit="s")` gives),
//! floats as `double`, `hour` as `int32` (`Series.dt.hour`), predictions as `int64`; a missing
//! value is a null. Written with Snappy, pandas' default.
//!
//! Reading takes what pandas or another writer may have used: any timestamp unit or time zone
//! (an instant), integer or float unix seconds, or timestamp text; floats and integers of any
//! width as numbers; pandas' stored index (`__index_level_N__`) is not a column.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::fast_csv::push_shortest;
use crate::series::{Order, Series, parse_timestamp};
use crate::table::{Column, Kind, Layout, Table, TextColumn};
use crate::{Error, Result};

/// Rows per record batch read (one block of a streaming read).
const BATCH_ROWS: usize = 256 << 10;

const NANOS: i64 = 1_000_000_000;

fn parquet_error(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> Error + '_ {
    move |source| Error::ParquetFormat { path: path.to_owned(), source: Box::new(source) }
}

fn arrow_error(path: &Path) -> impl Fn(arrow_schema::ArrowError) -> Error + '_ {
    move |source| Error::ParquetFormat { path: path.to_owned(), source: Box::new(source) }
}

fn problem(path: &Path, problem: String) -> Error {
    Error::Parquet { path: path.to_owned(), problem }
}

/// A file's top-level columns: position and name.
type Columns = Vec<(usize, String)>;

/// Opens `path` and lists its columns (pandas' index columns left out) with their positions.
fn open(path: &Path) -> Result<(ParquetRecordBatchReaderBuilder<File>, Columns)> {
    let file = File::open(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_error(path))?;
    let columns = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, field)| !field.name().starts_with("__index_level_"))
        .map(|(i, field)| (i, field.name().clone()))
        .collect();
    Ok((builder, columns))
}

/// Builds a reader of the columns at `indices` (positions in the file's top-level columns).
fn reader(
    builder: ParquetRecordBatchReaderBuilder<File>,
    indices: &[usize],
    path: &Path,
) -> Result<ParquetRecordBatchReader> {
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices.iter().copied());
    builder.with_projection(mask).with_batch_size(BATCH_ROWS).build().map_err(parquet_error(path))
}

/// Reads a data table (`timestamp`, value) from a Parquet file.
pub(crate) fn read_series(path: &Path, order: Order) -> Result<Series> {
    let (builder, columns) = open(path)?;
    let [(t, timestamp_column), (v, value_column)] = columns.as_slice() else {
        let names: Vec<&str> = columns.iter().map(|(_, n)| n.as_str()).collect();
        return Err(problem(
            path,
            format!(
                "expected two columns like `timestamp,cpu_usage`, found `{}`",
                aiops_text::bounded(&names.join(","))
            ),
        ));
    };
    let mut series = Series {
        timestamp_column: timestamp_column.clone(),
        value_column: value_column.clone(),
        ..Series::default()
    };
    let (t, v) = (*t, *v);
    let mut batches = reader(builder, &[t, v], path)?;
    // The projection keeps the file's column order.
    let (t_at, v_at) = if t < v { (0, 1) } else { (1, 0) };
    for batch in &mut batches {
        let batch = batch.map_err(arrow_error(path))?;
        let (timestamp, value) = (batch.column(t_at), batch.column(v_at));
        push_timestamps(timestamp, &mut series.timestamp_text, &mut series.timestamps)
            .map_err(|e| problem(path, format!("column `{}`: {e}", aiops_text::bounded(timestamp_column))))?;
        if !numbers(value, &mut series.values) {
            return Err(type_error(path, value_column, value.data_type()));
        }
    }
    for (row, &seconds) in series.timestamps.iter().enumerate() {
        if aiops_features::hour_of_unix_seconds(seconds, row).is_err() {
            return Err(problem(
                path,
                format!(
                    "row {}: timestamp `{}` is outside the range pandas can represent (1677-09-21 to 2262-04-11)",
                    row + 1,
                    aiops_text::bounded(series.timestamp_text.get(row).unwrap_or_default())
                ),
            ));
        }
    }
    crate::series::finish(series, |row| row as u64 + 1, order, "row").map_err(|(_, text)| problem(path, text))
}

fn type_error(path: &Path, column: &str, data_type: &DataType) -> Error {
    problem(path, format!("column `{}` has type {data_type}, not a number", aiops_text::bounded(column)))
}

/// Appends the timestamps of `array` as text and unix seconds.
fn push_timestamps(array: &ArrayRef, text: &mut TextColumn, seconds: &mut Vec<f64>) -> Result<(), String> {
    if array.null_count() > 0 {
        let row = (0..array.len()).find(|&i| array.is_null(i)).unwrap_or_default();
        return Err(format!("a timestamp is missing (null) in row {} of a batch", row + 1));
    }
    let mut buffer = Vec::new();
    match array.data_type() {
        DataType::Timestamp(unit, zone) => {
            let scale = match unit {
                TimeUnit::Second => NANOS,
                TimeUnit::Millisecond => 1_000_000,
                TimeUnit::Microsecond => 1_000,
                TimeUnit::Nanosecond => 1,
            };
            let values: Vec<i64> = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().values().to_vec(),
                TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().values().to_vec(),
                TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().values().to_vec(),
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().values().to_vec(),
            };
            for value in values {
                let nanos = value.checked_mul(scale).ok_or("a timestamp is outside pandas' range")?;
                text.push(&format_nanos(nanos, zone.is_some()));
                seconds.push(nanos.div_euclid(NANOS) as f64 + nanos.rem_euclid(NANOS) as f64 / 1e9);
            }
        }
        DataType::Int64 | DataType::Int32 | DataType::Float64 | DataType::Float32 => {
            let mut values = Vec::new();
            numbers(array, &mut values);
            for v in values {
                buffer.clear();
                if v.fract() == 0.0 && v.abs() < 1e15 {
                    buffer.extend_from_slice((v as i64).to_string().as_bytes());
                } else {
                    push_shortest(&mut buffer, v);
                }
                text.push(&String::from_utf8_lossy(&buffer));
                if !v.is_finite() {
                    return Err(format!("timestamp `{v:?}` is not a time"));
                }
                seconds.push(v);
            }
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let strings: Vec<Option<&str>> = match array.data_type() {
                DataType::Utf8 => array.as_string::<i32>().iter().collect(),
                DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
                _ => array.as_string_view().iter().collect(),
            };
            for value in strings.into_iter().flatten() {
                let parsed = parse_timestamp(value).ok_or_else(|| {
                    format!(
                        "cannot parse timestamp `{}` (unix seconds, `YYYY-MM-DD HH:MM:SS` or RFC 3339)",
                        aiops_text::bounded(value)
                    )
                })?;
                text.push(value.trim());
                seconds.push(parsed);
            }
        }
        other => return Err(format!("type {other} is not a timestamp")),
    }
    Ok(())
}

/// Appends `array`'s values as floats, nulls as NaN; `false` when they are not numbers.
fn numbers(array: &ArrayRef, out: &mut Vec<f64>) -> bool {
    let start = out.len();
    match array.data_type() {
        DataType::Float64 => out.extend_from_slice(array.as_primitive::<Float64Type>().values()),
        DataType::Float32 => {
            out.extend(array.as_primitive::<Float32Type>().values().iter().map(|&v| f64::from(v)));
        }
        DataType::Int64 => out.extend(array.as_primitive::<Int64Type>().values().iter().map(|&v| v as f64)),
        DataType::Int32 => {
            out.extend(array.as_primitive::<Int32Type>().values().iter().map(|&v| f64::from(v)));
        }
        _ => return false,
    }
    if let Some(nulls) = array.nulls() {
        for row in (0..array.len()).filter(|&i| nulls.is_null(i)) {
            out[start + row] = f64::NAN;
        }
    }
    true
}

/// `nanos` since the epoch as pandas writes a `datetime64[ns]` in a CSV: `YYYY-MM-DD HH:MM:SS`,
/// the fraction only when there is one, `+00:00` for a time-zone-aware column.
fn format_nanos(nanos: i64, zoned: bool) -> String {
    let (seconds, fraction) = (nanos.div_euclid(NANOS), nanos.rem_euclid(NANOS));
    let time = chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default().naive_utc();
    let mut text = time.format("%Y-%m-%d %H:%M:%S").to_string();
    if fraction != 0 {
        text.push_str(format!(".{fraction:09}").trim_end_matches('0'));
    }
    if zoned {
        text.push_str("+00:00");
    }
    text
}

/// A Parquet table read a batch of rows at a time.
pub(crate) struct ParquetTable {
    batches: ParquetRecordBatchReader,
    layout: Layout,
    /// Batch position of each chosen column, and of the timestamp column.
    positions: Vec<usize>,
    timestamp_at: Option<usize>,
    /// Rows read so far.
    rows: usize,
}

impl ParquetTable {
    pub(crate) fn open(path: &Path, columns: Option<&[String]>) -> Result<Self> {
        let (builder, file_columns) = open(path)?;
        let header: Vec<String> = file_columns.iter().map(|(_, n)| n.clone()).collect();
        let layout = Layout::new(path, &header, columns).map_err(|text| problem(path, text))?;
        // The projection keeps the file's order: map each wanted header index to its batch
        // position.
        let mut wanted: Vec<usize> = layout.positions.iter().copied().chain(layout.timestamp_at).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let batch_at = |at: usize| wanted.iter().position(|&w| w == at).unwrap_or_default();
        let positions = layout.positions.iter().map(|&at| batch_at(at)).collect();
        let timestamp_at = layout.timestamp_at.map(batch_at);
        let indices: Vec<usize> = wanted.iter().map(|&at| file_columns[at].0).collect();
        let batches = reader(builder, &indices, path)?;
        Ok(Self { batches, layout, positions, timestamp_at, rows: 0 })
    }

    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    pub(crate) fn drop_timestamps(&mut self) {
        self.layout.timestamp_at = None;
        self.timestamp_at = None;
    }

    pub(crate) fn next_block(&mut self) -> Result<Option<Table>> {
        let path = self.layout.path.clone();
        let Some(batch) = self.batches.next() else { return Ok(None) };
        let batch = batch.map_err(arrow_error(&path))?;
        let (rows, width) = (batch.num_rows(), self.positions.len());
        let mut values = vec![0.0; rows * width];
        let mut column = Vec::with_capacity(rows);
        for (j, (&at, name)) in self.positions.iter().zip(&self.layout.columns).enumerate() {
            column.clear();
            let array = batch.column(at);
            if !numbers(array, &mut column) {
                return Err(type_error(&path, name, array.data_type()));
            }
            if let Some(row) = column.iter().position(|v| !v.is_finite()) {
                let what =
                    if array.is_null(row) { "missing".to_owned() } else { format!("`{:?}`", column[row]) };
                return Err(problem(
                    &path,
                    format!("row {}: column `{name}` is {what}, not a finite number", self.rows + row + 1),
                ));
            }
            for (i, &v) in column.iter().enumerate() {
                values[i * width + j] = v;
            }
        }
        let timestamps = match self.timestamp_at {
            Some(at) => {
                let mut text = TextColumn::default();
                push_timestamps(batch.column(at), &mut text, &mut Vec::new())
                    .map_err(|e| problem(&path, format!("column `timestamp`: {e}")))?;
                Some(text)
            }
            None => None,
        };
        self.rows += rows;
        self.layout.table(values, timestamps).map(Some)
    }
}

/// Writes a Parquet table a block of rows at a time.
pub(crate) struct ParquetWriter<'w> {
    writer: ArrowWriter<&'w mut (dyn Write + Send)>,
    schema: Arc<Schema>,
}

impl<'w> ParquetWriter<'w> {
    pub(crate) fn new(out: &'w mut (dyn Write + Send), columns: &[(&str, Kind)]) -> std::io::Result<Self> {
        let fields: Vec<Field> = columns
            .iter()
            .map(|&(name, kind)| {
                let data_type = match kind {
                    Kind::Timestamp => DataType::Timestamp(TimeUnit::Nanosecond, None),
                    Kind::Float => DataType::Float64,
                    Kind::Int32 => DataType::Int32,
                    Kind::Int64 => DataType::Int64,
                };
                Field::new(name, data_type, kind == Kind::Float)
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
        let writer =
            ArrowWriter::try_new(out, schema.clone(), Some(properties)).map_err(std::io::Error::other)?;
        Ok(Self { writer, schema })
    }

    pub(crate) fn width(&self) -> usize {
        self.schema.fields().len()
    }

    pub(crate) fn write(&mut self, columns: &[Column<'_>]) -> std::io::Result<()> {
        let arrays = columns
            .iter()
            .zip(self.schema.fields())
            .map(|(column, field)| array(column, field.data_type()))
            .collect::<std::io::Result<Vec<ArrayRef>>>()?;
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(std::io::Error::other)?;
        self.writer.write(&batch).map_err(std::io::Error::other)
    }

    pub(crate) fn finish(self) -> std::io::Result<()> {
        self.writer.close().map(drop).map_err(std::io::Error::other)
    }
}

/// `column` as an Arrow array of `data_type`: floats with NaN as null (what pandas writes for a
/// missing value), timestamp text as nanoseconds.
fn array(column: &Column<'_>, data_type: &DataType) -> std::io::Result<ArrayRef> {
    let invalid = |text: String| std::io::Error::new(std::io::ErrorKind::InvalidData, text);
    Ok(match (column, data_type) {
        (Column::Float(values), DataType::Float64) => {
            Arc::new(values.iter().map(|&v| (!v.is_nan()).then_some(v)).collect::<Float64Array>())
        }
        (Column::Int(values), DataType::Int32) => Arc::new(
            values
                .iter()
                .map(|&v| i32::try_from(v).map_err(|_| invalid(format!("{v} does not fit an int32"))))
                .collect::<std::io::Result<Int32Array>>()?,
        ),
        (Column::Int(values), DataType::Int64) => Arc::new(values.iter().copied().collect::<Int64Array>()),
        (Column::Byte(values), DataType::Int32) => {
            Arc::new(values.iter().map(|&v| i32::from(v)).collect::<Int32Array>())
        }
        (Column::Byte(values), DataType::Int64) => {
            Arc::new(values.iter().map(|&v| i64::from(v)).collect::<Int64Array>())
        }
        (Column::Text(texts), DataType::Timestamp(..)) => {
            let nanos = texts
                .iter()
                .enumerate()
                .map(|(row, text)| {
                    parse_timestamp(text)
                        .and_then(|seconds| aiops_features::nanos_of_unix_seconds(seconds, row).ok())
                        .ok_or_else(|| {
                            invalid(format!(
                                "timestamp `{}` is not a time pandas can represent",
                                aiops_text::bounded(text)
                            ))
                        })
                })
                .collect::<std::io::Result<Vec<i64>>>()?;
            Arc::new(TimestampNanosecondArray::from(nanos))
        }
        (_, data_type) => return Err(invalid(format!("a column does not fit its type {data_type}"))),
    })
}
