//! Whole-series features. The mean and the variance are independent sequential chains, so they
//! run on two threads; each is the same accumulator the streaming API uses.

use ndarray::{Array2, ArrayViewMut1, s};

use crate::hour::hour_of_unix_seconds;
use crate::rolling::{KahanMean, WelfordVar, rate_of_change, rolling_input};
use crate::{Error, Result};

/// Column positions in the output.
const VALUE: usize = 0;
const MEAN: usize = 1;
const STD: usize = 2;
const RATE: usize = 3;
const HOUR: usize = 4;

pub(crate) fn compute(window: usize, timestamps: &[f64], values: &[f64]) -> Result<Array2<f64>> {
    if timestamps.len() != values.len() {
        return Err(Error::LengthMismatch { timestamps: timestamps.len(), values: values.len() });
    }
    let n = values.len();
    let mut out = Array2::<f64>::zeros((n, 5));
    if n == 0 {
        return Ok(out);
    }
    let hours = timestamps
        .iter()
        .enumerate()
        .map(|(row, &t)| hour_of_unix_seconds(t, row).map(f64::from))
        .collect::<Result<Vec<f64>>>()?;
    let inputs: Vec<f64> = values.iter().copied().map(rolling_input).collect();

    let (value_col, mean_col, std_col, rate_col, hour_col) =
        out.multi_slice_mut((s![.., VALUE], s![.., MEAN], s![.., STD], s![.., RATE], s![.., HOUR]));
    rayon::join(
        || rolling_mean(window, &inputs, mean_col),
        || {
            rolling_std(window, &inputs, std_col);
            fill_pointwise(values, &hours, value_col, rate_col, hour_col);
        },
    );
    Ok(out)
}

fn rolling_mean(window: usize, inputs: &[f64], mut out: ArrayViewMut1<'_, f64>) {
    let mut acc = KahanMean::new(inputs[0]);
    for (i, &v) in inputs.iter().enumerate() {
        if i >= window {
            acc.remove(inputs[i - window]);
        }
        acc.add(v);
        out[i] = acc.mean();
    }
}

fn rolling_std(window: usize, inputs: &[f64], mut out: ArrayViewMut1<'_, f64>) {
    let mut acc = WelfordVar::new(inputs[0]);
    for (i, &v) in inputs.iter().enumerate() {
        if i >= window {
            acc.remove(inputs[i - window]);
        }
        acc.add(v);
        out[i] = acc.std_filled();
    }
}

fn fill_pointwise(
    values: &[f64],
    hours: &[f64],
    mut value_col: ArrayViewMut1<'_, f64>,
    mut rate_col: ArrayViewMut1<'_, f64>,
    mut hour_col: ArrayViewMut1<'_, f64>,
) {
    let mut previous = None;
    for (i, &v) in values.iter().enumerate() {
        value_col[i] = v;
        rate_col[i] = rate_of_change(previous, v);
        hour_col[i] = hours[i];
        previous = Some(v);
    }
}
