//! Value parsers shared by every flag of a kind: durations (`10s`, `2m`, `1h`), counts and hours,
//! each checked against its limit from [`super::limits`]. clap prefixes the message with the
//! flag and the value given (`invalid value '1e30' for '--timeout <DURATION>': ...`).

use std::ops::RangeInclusive;
use std::time::Duration;

/// Shortest and longest value of a duration flag, and whether it must be whole seconds
/// (Prometheus steps and the timestamps derived from them are).
#[derive(Debug, Clone)]
pub(crate) struct DurationLimit {
    /// Accepted values, bounds included.
    pub(crate) range: RangeInclusive<Duration>,
    /// Whether a fraction of a second is refused.
    pub(crate) whole_seconds: bool,
}

/// A duration as humantime writes it (`10s`, `2m`, `1h30m`, `500ms`), or a bare number of
/// seconds (`60`, `30.0`: the spelling older releases took), within `limit`.
pub(crate) fn duration(text: &str, limit: &DurationLimit) -> Result<Duration, String> {
    within(parse_duration(text, limit)?, limit)
}

/// [`duration`], or zero (`0`, `0s`) for "off".
pub(crate) fn duration_or_off(text: &str, limit: &DurationLimit) -> Result<Duration, String> {
    let value = parse_duration(text, limit)?;
    if value.is_zero() { Ok(value) } else { within(value, limit) }
}

fn parse_duration(text: &str, limit: &DurationLimit) -> Result<Duration, String> {
    let text = text.trim();
    match text.parse::<f64>() {
        Ok(seconds) => seconds_within(seconds, limit),
        Err(_) => humantime::parse_duration(text).map_err(|error| match error {
            humantime::DurationError::NumberOverflow => at_most(limit),
            _ => format!("not a duration like `10s`, `2m` or `1h` ({error})"),
        }),
    }
}

/// A whole number of milliseconds (the `--reload-interval-ms` of older releases), within
/// `limit`, or 0 for "off" when `zero_is_off`.
pub(crate) fn millis(text: &str, limit: &DurationLimit, zero_is_off: bool) -> Result<Duration, String> {
    let millis: u64 = text.trim().parse().map_err(|_| "not a whole number of milliseconds".to_owned())?;
    match Duration::from_millis(millis) {
        off if off.is_zero() && zero_is_off => Ok(off),
        value => within(value, limit),
    }
}

/// `value` if `limit` accepts it.
fn within(value: Duration, limit: &DurationLimit) -> Result<Duration, String> {
    if value < *limit.range.start() {
        return Err(format!("must be at least {}", humantime::format_duration(*limit.range.start())));
    }
    if value > *limit.range.end() {
        return Err(at_most(limit));
    }
    if limit.whole_seconds && value.subsec_nanos() != 0 {
        return Err("must be a whole number of seconds".into());
    }
    Ok(value)
}

/// A number of seconds as a [`Duration`], refusing what no [`Duration`] can hold before
/// converting (`1e30`, `inf`, `NaN`, negatives).
fn seconds_within(seconds: f64, limit: &DurationLimit) -> Result<Duration, String> {
    if seconds.is_nan() || seconds < 0.0 {
        return Err("must be a positive duration like `10s`, `2m` or `1h`".into());
    }
    if seconds > limit.range.end().as_secs_f64() {
        return Err(at_most(limit));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn at_most(limit: &DurationLimit) -> String {
    format!("must be at most {}", humantime::format_duration(*limit.range.end()))
}

/// A whole number within `range`.
pub(crate) fn count(text: &str, range: &RangeInclusive<u64>) -> Result<usize, String> {
    let value: u64 = text.trim().parse().map_err(|_| "not a whole number".to_owned())?;
    if !range.contains(&value) {
        return Err(format!("must be between {} and {}", range.start(), range.end()));
    }
    usize::try_from(value).map_err(|_| format!("must be at most {}", usize::MAX))
}

/// A positive number of hours, at most [`super::limits::MAX_HOURS`].
pub(crate) fn hours(text: &str) -> Result<f64, String> {
    let max = super::limits::MAX_HOURS;
    match text.trim().parse::<f64>() {
        Ok(hours) if hours > 0.0 && hours <= max => Ok(hours),
        Ok(_) => Err(format!("must be more than 0 and at most {max} (366 days)")),
        Err(_) => Err("not a number of hours".into()),
    }
}
