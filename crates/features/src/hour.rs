//! `Series.dt.hour` of unix-second timestamps, as pandas computes it.

use crate::{Error, Result};

const NANOS_PER_SECOND: f64 = 1e9;
const NANOS_PER_HOUR: i64 = 3_600_000_000_000;
const NANOS_PER_DAY: i64 = 24 * NANOS_PER_HOUR;

/// A unix time in seconds as nanoseconds, exactly as `pd.to_datetime(seconds, unit="s")`
/// converts it (see [`hour_of_unix_seconds`]): the `datetime64[ns]` value pandas stores.
///
/// ```
/// use aiops_features::nanos_of_unix_seconds;
/// assert_eq!(nanos_of_unix_seconds(1.5, 0)?, 1_500_000_000);
/// assert_eq!(nanos_of_unix_seconds(-1.0, 0)?, -1_000_000_000);
/// # Ok::<(), aiops_features::Error>(())
/// ```
///
/// # Errors
/// As [`hour_of_unix_seconds`].
pub fn nanos_of_unix_seconds(seconds: f64, row: usize) -> Result<i64> {
    let invalid = || Error::InvalidTimestamp { row, value: seconds };
    if !seconds.is_finite() {
        return Err(invalid());
    }
    let whole = seconds.trunc();
    let frac = seconds - whole;
    let frac_nanos = if frac == 0.0 {
        // Whole seconds (the common case) skip the division below; it would give 0 too.
        0
    } else {
        // numpy's round(x, 9): rint(x * 1e9) / 1e9.
        let rounded_frac = (frac * NANOS_PER_SECOND).round_ties_even() / NANOS_PER_SECOND;
        (rounded_frac * NANOS_PER_SECOND) as i64
    };
    // `as` saturates, so an out-of-range `whole` fails the checked multiply like pandas'
    // overflow check; i64::MIN is pandas' NaT, not a time.
    (whole as i64)
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(frac_nanos))
        .filter(|&n| n != i64::MIN)
        .ok_or_else(invalid)
}

/// The UTC hour (0-23) of a unix time in seconds, exactly as
/// `pd.to_datetime(seconds, unit="s").dt.hour` computes it.
///
/// pandas converts float seconds to nanoseconds as `trunc(s) * 1e9 + trunc(round(frac, 9) * 1e9)`
/// (numpy's `round`), so `3599.9999999999` is hour 1, and floors negative times (`-1` is hour 23).
///
/// ```
/// use aiops_features::hour_of_unix_seconds;
/// assert_eq!(hour_of_unix_seconds(3599.9999999999, 0)?, 1);
/// assert_eq!(hour_of_unix_seconds(-1.0, 0)?, 23);
/// # Ok::<(), aiops_features::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidTimestamp`] (naming `row`) when `seconds` is NaN, infinite, or outside
/// pandas' nanosecond range (about ±9.22e9 s, 1677-09-21 to 2262-04-11).
pub fn hour_of_unix_seconds(seconds: f64, row: usize) -> Result<u8> {
    let nanos = nanos_of_unix_seconds(seconds, row)?;
    let hour = nanos.rem_euclid(NANOS_PER_DAY) / NANOS_PER_HOUR;
    // rem_euclid keeps `hour` in 0..24, so the narrowing is lossless.
    Ok(hour as u8)
}
