//! The built-in CPU trace of `aiops demo`: several days of a node's CPU usage (percent) with a
//! business-hours daily cycle, quieter weekends, an hourly cron burst, autocorrelated noise, and
//! four injected incidents of different kinds (a spike, a sustained plateau at night, a drop to
//! idle at peak time, a runaway ramp). Generated deterministically from a seed, so every run and
//! every machine sees the same data, and the injected windows are known for checking detection.

use std::f64::consts::TAU;

use crate::{Error, Result};

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// What to generate (unchecked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParams {
    /// First timestamp, unix seconds (UTC).
    pub start: i64,
    /// Length in days (1-60).
    pub days: u32,
    /// Seconds between points (10-3600).
    pub step_seconds: u32,
    /// Seed of the noise.
    pub seed: u64,
}

impl Default for TraceParams {
    /// A week at one-minute resolution from Monday 2026-01-05 00:00 UTC, seed 42.
    fn default() -> Self {
        Self { start: 1_767_571_200, days: 7, step_seconds: 60, seed: 42 }
    }
}

/// [`TraceParams`] that passed [`TraceParams::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedTraceParams(TraceParams);

impl TraceParams {
    /// Validates the parameters, naming the first bad field.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `days` outside 1-60, `step_seconds` outside 10-3600, or a start
    /// outside 1970-9999.
    pub fn check(self) -> Result<CheckedTraceParams> {
        let invalid = |field, problem: String| Err(Error::InvalidParameter { field, reason: problem });
        if !(1..=60).contains(&self.days) {
            return invalid("days", format!("{} is outside 1-60", self.days));
        }
        if !(10..=3600).contains(&self.step_seconds) {
            return invalid("step_seconds", format!("{} is outside 10-3600", self.step_seconds));
        }
        if !(0..=253_402_300_799 - i64::from(self.days) * 86_400).contains(&self.start) {
            return invalid("start", format!("{} is not a unix time between 1970 and 9999", self.start));
        }
        Ok(CheckedTraceParams(self))
    }
}

/// The kinds of incident the trace contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentKind {
    /// A few minutes at saturation (a burst of requests, a GC storm).
    Spike,
    /// An hour and more near saturation at night, when the node is normally idle (a stuck
    /// batch job).
    Plateau,
    /// CPU falls to idle during business hours (the service crashed or lost its traffic).
    Drop,
    /// CPU climbs steadily to saturation over hours (a runaway process, a leak).
    Ramp,
}

impl IncidentKind {
    /// A short description for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Spike => "spike to saturation",
            Self::Plateau => "sustained plateau at night",
            Self::Drop => "drop to idle at peak time",
            Self::Ramp => "runaway ramp to saturation",
        }
    }
}

/// An incident injected into the trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InjectedIncident {
    /// What kind.
    pub kind: IncidentKind,
    /// First affected timestamp (unix seconds).
    pub start: f64,
    /// Last affected timestamp (unix seconds).
    pub end: f64,
}

/// A generated trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Unix seconds, evenly spaced.
    pub timestamps: Vec<f64>,
    /// CPU usage in percent (0-100).
    pub values: Vec<f64>,
    /// The injected incidents, in time order.
    pub incidents: Vec<InjectedIncident>,
}

impl Trace {
    /// Writes the trace as a data CSV: `timestamp,cpu_usage`, times as `YYYY-MM-DD HH:MM:SS`
    /// (UTC), like the reference's pandas output.
    ///
    /// # Errors
    /// Whatever `out` returns.
    pub fn write_data_csv(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(out, "timestamp,cpu_usage")?;
        for (&t, &value) in self.timestamps.iter().zip(&self.values) {
            let time = chrono::DateTime::from_timestamp(t as i64, 0).unwrap_or_default();
            writeln!(
                out,
                "{},{}",
                time.format("%Y-%m-%d %H:%M:%S"),
                aiops_artifacts::series::format_float(value)
            )?;
        }
        Ok(())
    }
}

/// Where each incident goes: its kind, the fraction of the trace's days at which its day starts,
/// the hour of day it starts, and its length in minutes.
const SCHEDULE: [(IncidentKind, f64, f64, f64); 4] = [
    (IncidentKind::Spike, 0.30, 10.3, 6.0),
    (IncidentKind::Plateau, 0.45, 2.5, 90.0),
    (IncidentKind::Drop, 0.60, 13.0, 150.0),
    (IncidentKind::Ramp, 0.75, 17.0, 180.0),
];

/// SplitMix64: a tiny, well-mixed generator; enough for reproducible synthetic noise.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        (-2.0 * self.unit().ln()).sqrt() * (TAU * self.unit()).cos()
    }
}

/// The normal load at time `t`: business-hours bump with an evening shoulder, lower at
/// weekends, plus a short hourly cron burst.
fn normal_load(t: f64) -> f64 {
    let hour = t.rem_euclid(DAY) / 3600.0;
    // 1970-01-01 was a Thursday: (days + 3) % 7 counts from Monday = 0.
    let weekday = ((t / DAY).floor() as i64 + 3).rem_euclid(7);
    let amplitude = if weekday >= 5 { 14.0 } else { 36.0 };
    let bump = (-((hour - 14.0) / 4.0).powi(2)).exp() + 0.35 * (-((hour - 20.5) / 1.5).powi(2)).exp();
    let minute = t.rem_euclid(3600.0) / 60.0;
    let cron = if minute < 2.0 { 5.0 } else { 0.0 };
    14.0 + amplitude * bump + cron
}

/// Generates the trace.
pub fn generate(params: &CheckedTraceParams) -> Trace {
    let p = params.0;
    let step = f64::from(p.step_seconds);
    let points = (u64::from(p.days) * 86_400 / u64::from(p.step_seconds)) as usize;
    let start = p.start as f64;
    let timestamps: Vec<f64> = (0..points).map(|i| start + step * i as f64).collect();
    let first_midnight = (start / DAY).floor() * DAY;
    let incidents: Vec<InjectedIncident> = SCHEDULE
        .iter()
        .map(|&(kind, day_fraction, hour, minutes)| {
            let day = (day_fraction * f64::from(p.days)).floor();
            let begin = first_midnight + day * DAY + hour * 3600.0;
            let begin = start + ((begin - start) / step).ceil().max(0.0) * step;
            InjectedIncident {
                kind,
                start: begin,
                end: begin + (minutes * 60.0 / step).ceil().max(1.0) * step - step,
            }
        })
        .collect();
    let mut rng = SplitMix64(p.seed);
    let mut noise = 0.0;
    let values = timestamps
        .iter()
        .map(|&t| {
            noise = 0.8 * noise + 1.0 * rng.normal();
            let normal = normal_load(t) + noise;
            let value = match incidents.iter().find(|i| i.start <= t && t <= i.end) {
                None => normal,
                Some(incident) => {
                    let progress = (t - incident.start) / (incident.end - incident.start).max(step);
                    match incident.kind {
                        IncidentKind::Spike => 96.0 + 0.5 * noise,
                        IncidentKind::Plateau => 88.0 + 0.8 * noise,
                        IncidentKind::Drop => 2.0 + 0.15 * noise.abs(),
                        IncidentKind::Ramp => normal + (99.0 - normal) * progress.powf(1.3),
                    }
                }
            };
            (value.clamp(0.0, 100.0) * 1000.0).round() / 1000.0
        })
        .collect();
    Trace { timestamps, values, incidents }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_trace_other_seed_other_noise() {
        let params = TraceParams::default().check().unwrap();
        let a = generate(&params);
        assert_eq!(a, generate(&params));
        let b = generate(&TraceParams { seed: 7, ..TraceParams::default() }.check().unwrap());
        assert_ne!(a.values, b.values);
        assert_eq!(a.incidents, b.incidents, "incidents are placed by the calendar, not the seed");
    }

    #[test]
    fn a_week_at_one_minute_has_every_incident_kind_inside_it() {
        let trace = generate(&TraceParams::default().check().unwrap());
        assert_eq!(trace.timestamps.len(), 7 * 1440);
        assert!(trace.values.iter().all(|v| (0.0..=100.0).contains(v)));
        let kinds: Vec<_> = trace.incidents.iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            [IncidentKind::Spike, IncidentKind::Plateau, IncidentKind::Drop, IncidentKind::Ramp]
        );
        let (first, last) = (trace.timestamps[0], trace.timestamps[trace.timestamps.len() - 1]);
        for pair in trace.incidents.windows(2) {
            assert!(pair[0].end < pair[1].start);
        }
        assert!(trace.incidents.iter().all(|i| first < i.start && i.start < i.end && i.end < last));
    }

    #[test]
    fn incidents_stand_out_from_the_normal_range() {
        let trace = generate(&TraceParams::default().check().unwrap());
        let inside = |t: f64| trace.incidents.iter().any(|i| i.start <= t && t <= i.end);
        let normal: Vec<f64> = trace
            .timestamps
            .iter()
            .zip(&trace.values)
            .filter(|(t, _)| !inside(**t))
            .map(|(_, v)| *v)
            .collect();
        let max_normal = normal.iter().copied().fold(f64::MIN, f64::max);
        let min_normal = normal.iter().copied().fold(f64::MAX, f64::min);
        assert!(max_normal < 80.0 && min_normal > 4.0, "normal range {min_normal}..{max_normal}");
    }

    #[test]
    fn bad_params_are_named() {
        let cases = [
            (TraceParams { days: 0, ..TraceParams::default() }, "days"),
            (TraceParams { step_seconds: 1, ..TraceParams::default() }, "step_seconds"),
            (TraceParams { start: -1, ..TraceParams::default() }, "start"),
        ];
        for (params, field) in cases {
            assert!(
                matches!(params.check(), Err(Error::InvalidParameter { field: f, .. }) if f == field),
                "{params:?}"
            );
        }
    }
}
