//! The features step: data CSV in, features CSV out
//! (`timestamp,<value column>,rolling_mean,rolling_std,rate_of_change,hour`).

use std::io::Write;
use std::path::Path;

use aiops_features::FeatureSchema;
use ndarray::Array2;

use aiops_artifacts::series::{Order, Series, Shortest, read_series};
use aiops_artifacts::write_atomically;

use crate::Result;

/// Column index of `hour`, written as an integer.
const HOUR_COLUMN: usize = 4;

/// Reads `input`, computes the schema's features and writes them to `output` atomically.
/// Returns the number of rows written.
///
/// # Errors
/// Any input error (with its line), a timestamp pandas could not represent, or an I/O error.
pub fn run(schema: &FeatureSchema, input: &Path, output: &Path, order: Order) -> Result<usize> {
    let series = read_series(input, order)?;
    let features = schema.compute(&series.timestamps, &series.values)?;
    write_atomically(output, |out| write_features(out, &series, schema, &features))?;
    Ok(series.values.len())
}

/// Writes a features CSV: the input's timestamp text, then the feature columns, the first named
/// after the input's value column.
///
/// # Errors
/// Whatever `out` returns.
pub fn write_features(
    out: &mut dyn Write,
    series: &Series,
    schema: &FeatureSchema,
    features: &Array2<f64>,
) -> std::io::Result<()> {
    write!(out, "{},{}", csv_field(&series.timestamp_column), csv_field(&series.value_column))?;
    for name in &schema.columns[1..] {
        write!(out, ",{name}")?;
    }
    writeln!(out)?;
    for (timestamp, row) in series.timestamp_text.iter().zip(features.rows()) {
        write!(out, "{}", csv_field(timestamp))?;
        for (column, &v) in row.iter().enumerate() {
            if column == HOUR_COLUMN {
                write!(out, ",{}", v as u8)?;
            } else {
                write!(out, ",{}", Shortest(v))?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Quotes a field when CSV requires it (RFC 3339 timestamps never do, but names might).
fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}
