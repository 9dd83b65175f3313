//! pandas 2.3.3's rolling accumulators (`pandas/_libs/window/aggregations.pyx`), operation by
//! operation. Both the batch and the streaming API drive these same types, which is what makes
//! their outputs bit-identical. Never use `mul_add` here: pandas' x86-64 build does not fuse.

/// Converts a value the way pandas' rolling functions see it: `±inf` is treated as missing.
#[inline]
fn rolling_input(v: f64) -> f64 {
    if v.is_infinite() { f64::NAN } else { v }
}

/// Kahan-compensated running sum behind `rolling(...).mean()`.
#[derive(Debug, Clone)]
struct KahanMean {
    sum: f64,
    comp_add: f64,
    comp_remove: f64,
    nobs: i64,
    negatives: i64,
    prev: f64,
    same_run: i64,
}

impl KahanMean {
    /// A fresh accumulator; `first` is the series' first raw value, which pandas (after the
    /// rolling conversion) uses to seed its same-value run detection.
    fn new(first: f64) -> Self {
        let first = rolling_input(first);
        Self { sum: 0.0, comp_add: 0.0, comp_remove: 0.0, nobs: 0, negatives: 0, prev: first, same_run: 0 }
    }

    #[inline]
    fn add(&mut self, v: f64) {
        if v.is_nan() {
            return;
        }
        self.nobs += 1;
        let y = v - self.comp_add;
        let t = self.sum + y;
        self.comp_add = (t - self.sum) - y;
        self.sum = t;
        if v.is_sign_negative() {
            self.negatives += 1;
        }
        self.same_run = if v == self.prev { self.same_run + 1 } else { 1 };
        self.prev = v;
    }

    #[inline]
    fn remove(&mut self, v: f64) {
        if v.is_nan() {
            return;
        }
        self.nobs -= 1;
        let y = -v - self.comp_remove;
        let t = self.sum + y;
        self.comp_remove = (t - self.sum) - y;
        self.sum = t;
        if v.is_sign_negative() {
            self.negatives -= 1;
        }
    }

    /// One window step on raw values: drop `leaving` (when the window is full), add `entering`,
    /// and return the mean. Batch and streaming both advance the mean through this.
    #[inline]
    fn roll(&mut self, leaving: Option<f64>, entering: f64) -> f64 {
        if let Some(old) = leaving {
            self.remove(rolling_input(old));
        }
        self.add(rolling_input(entering));
        self.mean()
    }

    #[inline]
    fn mean(&self) -> f64 {
        if self.nobs < 1 {
            return f64::NAN;
        }
        let r = self.sum / self.nobs as f64;
        let sign_contradicts_inputs =
            (self.negatives == 0 && r < 0.0) || (self.negatives == self.nobs && r > 0.0);
        if self.same_run >= self.nobs {
            self.prev
        } else if sign_contradicts_inputs {
            0.0
        } else {
            r
        }
    }
}

/// Compensated Welford variance behind `rolling(...).std()` (ddof = 1).
#[derive(Debug, Clone)]
struct WelfordVar {
    n: f64,
    mean: f64,
    m2: f64,
    comp_add: f64,
    comp_remove: f64,
    prev: f64,
    same_run: f64,
}

impl WelfordVar {
    /// A fresh accumulator seeded, like [`KahanMean::new`], with the series' first value.
    fn new(first: f64) -> Self {
        let first = rolling_input(first);
        Self { n: 0.0, mean: 0.0, m2: 0.0, comp_add: 0.0, comp_remove: 0.0, prev: first, same_run: 0.0 }
    }

    #[inline]
    fn add(&mut self, v: f64) {
        if v.is_nan() {
            return;
        }
        self.n += 1.0;
        self.same_run = if v == self.prev { self.same_run + 1.0 } else { 1.0 };
        self.prev = v;
        let prev_mean = self.mean - self.comp_add;
        let y = v - self.comp_add;
        let t = y - self.mean;
        self.comp_add = (t + self.mean) - y;
        self.mean += divide_by_count(t, self.n);
        self.m2 += (v - prev_mean) * (v - self.mean);
    }

    #[inline]
    fn remove(&mut self, v: f64) {
        if v.is_nan() {
            return;
        }
        self.n -= 1.0;
        if self.n != 0.0 {
            let prev_mean = self.mean - self.comp_remove;
            let y = v - self.comp_remove;
            let t = y - self.mean;
            self.comp_remove = (t + self.mean) - y;
            self.mean -= divide_by_count(t, self.n);
            self.m2 -= (v - prev_mean) * (v - self.mean);
        } else {
            self.mean = 0.0;
            self.m2 = 0.0;
        }
    }

    /// One window step on raw values, like [`KahanMean::roll`], returning `std().fillna(0)`.
    #[inline]
    fn roll(&mut self, leaving: Option<f64>, entering: f64) -> f64 {
        if let Some(old) = leaving {
            self.remove(rolling_input(old));
        }
        self.add(rolling_input(entering));
        self.std_filled()
    }

    /// `std().fillna(0)`: the square root of the variance, a negative variance giving 0 (pandas'
    /// `zsqrt`), and fewer than two observations giving 0.
    #[inline]
    fn std_filled(&self) -> f64 {
        let var = if self.n > 1.0 {
            if self.same_run >= self.n { 0.0 } else { self.m2 / (self.n - 1.0) }
        } else {
            f64::NAN
        };
        let std = if var < 0.0 { 0.0 } else { var.sqrt() };
        fill_nan_with_zero(std)
    }
}

/// `t / n` for a positive whole count `n`, to the bit, but as a multiplication when `n` is a
/// power of two: dividing by 2^k is exact scaling, so `t * (1 / 2^k)` rounds identically, and
/// it keeps the divider (about 14 cycles) off the variance's dependency chain where it can.
/// With the reference window of 5, every removal divides by 4. This is not a reassociation; the
/// oracle test checks the bits.
#[inline]
fn divide_by_count(t: f64, n: f64) -> f64 {
    const MANTISSA: u64 = (1 << 52) - 1;
    if n.to_bits() & MANTISSA == 0 { t * (1.0 / n) } else { t / n }
}

/// The rolling mean of every value of a series (window `window`), in one sequential pass.
pub(crate) fn rolling_means(window: usize, values: &[f64]) -> Vec<f64> {
    let Some(&first) = values.first() else { return Vec::new() };
    let mut mean = KahanMean::new(first);
    roll_column(window, values, |leaving, value| mean.roll(leaving, value))
}

/// The rolling standard deviation (missing values filled with 0) of every value of a series,
/// in one sequential pass.
pub(crate) fn rolling_stds(window: usize, values: &[f64]) -> Vec<f64> {
    let Some(&first) = values.first() else { return Vec::new() };
    let mut var = WelfordVar::new(first);
    roll_column(window, values, |leaving, value| var.roll(leaving, value))
}

/// `roll(leaving, entering)` of every value in order, `leaving` the value `window` rows back.
fn roll_column(window: usize, values: &[f64], mut roll: impl FnMut(Option<f64>, f64) -> f64) -> Vec<f64> {
    values.iter().zip(leaving_values(window, values)).map(|(&value, old)| roll(old, value)).collect()
}

/// For each row of `values`, the value leaving a window of `window` rows as it enters: the
/// value `window` rows back, `None` while the window fills.
pub(crate) fn leaving_values(window: usize, values: &[f64]) -> impl Iterator<Item = Option<f64>> + '_ {
    std::iter::repeat_n(None, window).chain(values.iter().copied().map(Some))
}

/// pandas' `fillna(0)`: only NaN is replaced; `-0.0` stays.
#[inline]
fn fill_nan_with_zero(v: f64) -> f64 {
    if v.is_nan() { 0.0 } else { v }
}

/// `diff().fillna(0)` for one row: the raw (not rolling-converted) difference.
#[inline]
pub(crate) fn rate_of_change(previous: Option<f64>, current: f64) -> f64 {
    previous.map_or(0.0, |p| fill_nan_with_zero(current - p))
}

/// Everything one series carries from row to row: the two window accumulators and the previous
/// raw value. Batch and streaming both produce each row through [`RollingFeatures::row`], which
/// is what makes their outputs bit-identical.
#[derive(Debug, Clone)]
pub(crate) struct RollingFeatures {
    mean: KahanMean,
    var: WelfordVar,
    previous: Option<f64>,
}

impl RollingFeatures {
    /// A fresh state for a series whose first raw value is `first`.
    pub(crate) fn new(first: f64) -> Self {
        Self { mean: KahanMean::new(first), var: WelfordVar::new(first), previous: None }
    }

    /// The feature row of the next point: `value` enters the window, `leaving` (the value
    /// `window` points back, once there is one) leaves it; `hour` was computed by the caller,
    /// which decides what to do with an invalid timestamp.
    #[inline]
    pub(crate) fn row(&mut self, leaving: Option<f64>, value: f64, hour: u8) -> [f64; 5] {
        let (mean, std) = self.roll(leaving, value);
        let row = [value, mean, std, rate_of_change(self.previous, value), f64::from(hour)];
        self.previous = Some(value);
        row
    }

    /// The rolling mean and standard deviation after `value` enters (and `leaving` leaves) the
    /// window: the sequential part of a row.
    #[inline]
    pub(crate) fn roll(&mut self, leaving: Option<f64>, value: f64) -> (f64, f64) {
        (self.mean.roll(leaving, value), self.var.roll(leaving, value))
    }
}
