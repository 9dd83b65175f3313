//! The features step: data CSV in, features CSV out
//! (`timestamp,<value column>,rolling_mean,rolling_std,rate_of_change,hour`).

use std::io::Write;
use std::path::{Path, PathBuf};

use aiops_features::{FeatureColumns, FeatureSchema};
use ndarray::ArrayView1;

use aiops_artifacts::Format;
use aiops_artifacts::series::{Order, Series, read_series_as};
use aiops_artifacts::table::{Column, Kind, TableWriter};
use aiops_artifacts::write_atomically;

use crate::Result;

/// Column index of `hour`, written as an integer.
const HOUR_COLUMN: usize = 4;

/// Reads `input`, computes the schema's features and writes them to `output` atomically (each
/// file in `format`, or as its name says: `.parquet` is Parquet, anything else CSV), and
/// the schema they were computed with (the value column named as in the input) to
/// `schema_out` (usually [`schema_file`]`(output)`; a pipeline passes it on as an artifact of
/// its own), so that training records the window actually used. Returns the number of rows
/// written.
///
/// # Errors
/// Any input error (with its line), a timestamp pandas could not represent, or an I/O error.
pub fn run(
    schema: &FeatureSchema,
    input: &Path,
    output: &Path,
    schema_out: &Path,
    order: Order,
    format: Option<Format>,
) -> Result<usize> {
    let series = read_series_as(input, Format::resolve(input, format), order)?;
    let features = schema.compute_columns(&series.timestamps, &series.values)?;
    let schema = schema.clone().with_value_column(&series.value_column)?;
    let schema_json = serde_json::to_vec_pretty(&schema)?;
    write_atomically(schema_out, |out| out.write_all(&schema_json))?;
    let format = Format::resolve(output, format);
    write_atomically(output, |out| write_features(out, format, &series, &schema, &features))?;
    Ok(series.values.len())
}

/// The file beside a features CSV that records its feature schema: `<features file>.schema.json`
/// (`features.csv` -> `features.csv.schema.json`).
pub fn schema_file(features: &Path) -> PathBuf {
    let mut name = features.as_os_str().to_owned();
    name.push(".schema.json");
    PathBuf::from(name)
}

/// Writes a features table: the input's timestamps (as text in CSV, `timestamp[ns]` in
/// Parquet), then the feature columns, the first named after the input's value column; `hour`
/// as a whole number (`int32` in Parquet, as pandas' `dt.hour`).
///
/// # Errors
/// Whatever `out` returns.
pub fn write_features(
    out: &mut (dyn Write + Send),
    format: Format,
    series: &Series,
    schema: &FeatureSchema,
    features: &FeatureColumns,
) -> std::io::Result<()> {
    let mut names = vec![(series.timestamp_column.as_str(), Kind::Timestamp)];
    names.extend(schema.columns.iter().enumerate().map(|(c, name)| {
        let name = if c == 0 { series.value_column.as_str() } else { name.as_str() };
        (name, if c == HOUR_COLUMN { Kind::Int32 } else { Kind::Float })
    }));
    let columns = [
        Column::Text(&series.timestamp_text),
        Column::Float(ArrayView1::from(&series.values)),
        Column::Float(ArrayView1::from(&features.rolling_mean)),
        Column::Float(ArrayView1::from(&features.rolling_std)),
        Column::Float(ArrayView1::from(&features.rate_of_change)),
        Column::Byte(ArrayView1::from(&features.hour)),
    ];
    let mut writer = TableWriter::new(out, format, &names)?;
    writer.write(&columns)?;
    writer.finish()
}
