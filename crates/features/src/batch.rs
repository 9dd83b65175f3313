//! Whole-series features, written row by row straight into the output array, or column by
//! column.
//!
//! The rolling mean and variance are chains of dependent floating-point operations whose order
//! pandas fixes (the variance has two dependent divisions per point), so that work is one
//! sequential pass. For the array, one fused loop lets the CPU overlap the pointwise work (rate
//! of change, hour) and the mean with the variance chain; two threads splitting the mean and
//! the variance measured no faster on the shared 2-core machine (see `benches/README.md`). For
//! columns (what a table writer formats), the variance chain, the longest, runs alone on one
//! thread while the mean's chain and then the pointwise columns run beside it (10 ms faster than
//! both chains fused on one thread beside the pointwise columns, for a million rows). Every
//! value comes from the same accumulators the streaming API drives.

use ndarray::{Array2, ArrayView1, ArrayViewMut2};
use rayon::prelude::*;

use crate::hour::hour_of_unix_seconds;
use crate::rolling::{RollingFeatures, leaving_values, rate_of_change, rolling_means, rolling_stds};
use crate::schema::check_window;
use crate::{Error, Result};

/// Fewest rows of the pointwise columns computed per parallel task.
const POINTWISE_ROWS: usize = 64 << 10;

/// Stands for a timestamp without an hour in the parallel pass.
const BAD_HOUR: u8 = u8::MAX;

/// Columns in the output.
const WIDTH: usize = 5;

pub(crate) fn compute(window: usize, timestamps: &[f64], values: &[f64]) -> Result<Array2<f64>> {
    let mut out = Array2::<f64>::zeros((values.len(), WIDTH));
    compute_into(window, timestamps, values, out.view_mut())?;
    Ok(out)
}

pub(crate) fn compute_into(
    window: usize,
    timestamps: &[f64],
    values: &[f64],
    mut out: ArrayViewMut2<'_, f64>,
) -> Result<()> {
    check_inputs(window, timestamps, values)?;
    if out.dim() != (values.len(), WIDTH) {
        return Err(Error::OutputShape { expected: (values.len(), WIDTH), actual: out.dim() });
    }
    let Some(&first) = values.first() else { return Ok(()) };
    let mut rolling = RollingFeatures::new(first);
    let inputs = timestamps.iter().zip(values).zip(leaving_values(window, values));
    for (row, (mut out_row, ((&t, &v), old))) in out.rows_mut().into_iter().zip(inputs).enumerate() {
        let hour = hour_of_unix_seconds(t, row)?;
        out_row.assign(&ArrayView1::from(&rolling.row(old, v, hour)));
    }
    Ok(())
}

/// The feature columns of a whole series, one vector per column: what a table writer formats.
/// The value column is the series' values themselves.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeatureColumns {
    /// `rolling_mean`.
    pub rolling_mean: Vec<f64>,
    /// `rolling_std`, missing values filled with 0.
    pub rolling_std: Vec<f64>,
    /// `rate_of_change`.
    pub rate_of_change: Vec<f64>,
    /// `hour` (UTC).
    pub hour: Vec<u8>,
}

/// The columns of [`compute`] (bit for bit): the rolling deviation's sequential pass on one
/// thread while the rolling mean's pass and then the pointwise columns (rate of change, hour)
/// are computed beside it.
pub(crate) fn compute_columns(window: usize, timestamps: &[f64], values: &[f64]) -> Result<FeatureColumns> {
    check_inputs(window, timestamps, values)?;
    let (rolling_std, (rolling_mean, pointwise)) = rayon::join(
        || rolling_stds(window, values),
        || (rolling_means(window, values), pointwise_columns(timestamps, values)),
    );
    let (rate_of_change, hour) = pointwise?;
    Ok(FeatureColumns { rolling_mean, rolling_std, rate_of_change, hour })
}

fn check_inputs(window: usize, timestamps: &[f64], values: &[f64]) -> Result<()> {
    check_window(window)?;
    if timestamps.len() != values.len() {
        return Err(Error::LengthMismatch { timestamps: timestamps.len(), values: values.len() });
    }
    Ok(())
}

/// The rate of change and hour of every row, in parallel; the first bad timestamp is the error.
fn pointwise_columns(timestamps: &[f64], values: &[f64]) -> Result<(Vec<f64>, Vec<u8>)> {
    let (mut rates, mut hours) = (Vec::new(), Vec::new());
    (0..values.len())
        .into_par_iter()
        .with_min_len(POINTWISE_ROWS)
        .map(|row| rate_of_change(row.checked_sub(1).map(|p| values[p]), values[row]))
        .collect_into_vec(&mut rates);
    // A bad timestamp becomes an impossible hour here, then is named by a sequential search.
    timestamps
        .par_iter()
        .with_min_len(POINTWISE_ROWS)
        .enumerate()
        .map(|(row, &t)| hour_of_unix_seconds(t, row).unwrap_or(BAD_HOUR))
        .collect_into_vec(&mut hours);
    if hours.contains(&BAD_HOUR) {
        for (row, &t) in timestamps.iter().enumerate() {
            hour_of_unix_seconds(t, row)?;
        }
    }
    Ok((rates, hours))
}
