//! Whole-series features, written row by row straight into the output array.
//!
//! The rolling mean and variance are chains of dependent floating-point operations whose order
//! pandas fixes (the variance has two dependent divisions per point), so the work is one
//! sequential pass. One fused loop lets the CPU overlap the pointwise work (rate of change, hour)
//! and the mean with the variance chain; two threads measured no faster on the shared 2-core
//! machine (see `benches/README.md`). Each row comes from the same [`RollingFeatures::row`] the
//! streaming API calls.

use ndarray::{Array2, ArrayView1, ArrayViewMut2};

use crate::hour::hour_of_unix_seconds;
use crate::rolling::RollingFeatures;
use crate::schema::check_window;
use crate::{Error, Result};

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
    check_window(window)?;
    if timestamps.len() != values.len() {
        return Err(Error::LengthMismatch { timestamps: timestamps.len(), values: values.len() });
    }
    if out.dim() != (values.len(), WIDTH) {
        return Err(Error::OutputShape { expected: (values.len(), WIDTH), actual: out.dim() });
    }
    let Some(&first) = values.first() else { return Ok(()) };
    let mut rolling = RollingFeatures::new(first);
    let leaving = std::iter::repeat_n(None, window).chain(values.iter().copied().map(Some));
    let inputs = timestamps.iter().zip(values).zip(leaving);
    for (row, (mut out_row, ((&t, &v), old))) in out.rows_mut().into_iter().zip(inputs).enumerate() {
        let hour = hour_of_unix_seconds(t, row)?;
        out_row.assign(&ArrayView1::from(&rolling.row(old, v, hour)));
    }
    Ok(())
}
