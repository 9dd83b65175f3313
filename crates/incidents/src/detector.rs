//! The causal streaming detector: two cheap raw scores (sudden change, and distance from what the
//! same hour of the day usually looks like), HTM's anomaly likelihood on top of them, a spatial
//! (new range) check, and an incident tracker that suppresses repeated alerts.
//!
//! Per point, in O(1) time and under 2 KiB of state:
//! 1. **Raw score** in `[0, 1)`, the largest of two standardised distances `z`:
//!    - *change*: `|x_t - x_(t-1)|` over the exponentially weighted mean absolute change
//!      (horizon [`DetectorParams::baseline`] rows), divided by 1.13 (the mean absolute change of
//!      unit white noise is `2 / sqrt(pi)`), which catches spikes and steps;
//!    - *context*: `|x_t - m_h| / sd_h` against an exponentially weighted mean and standard
//!      deviation of the values seen at the same hour of the day `h` (the point's timestamp),
//!      which catches a value that is normal for the series but not for the time (CAD OSE's
//!      contextual idea, in its cheapest form);
//!
//!    mapped by `1 - exp(-(z / sharpness)^2 / 2)`.
//! 2. **Anomaly likelihood** (Numenta's HTM detector, the largest single factor on NAB): the mean
//!    of the last [`DetectorParams::averaging`] raw scores is compared with the running
//!    distribution of that mean (exponentially weighted over about [`DetectorParams::history`]
//!    rows, with HTM's floors on mean and variance); the point's *surprise* is `-log10` of the
//!    Gaussian upper-tail probability. It adapts to each series' own noise, so one threshold
//!    serves every series.
//!
//!    **Same hour of the day**: the same mean is also judged against its running distribution at
//!    the point's hour of the day (24 distributions, each over about `history / 24` of its own
//!    rows, trusted from 30 rows on). A point is surprising only if it is surprising at that hour
//!    too, by at least [`DetectorParams::hour_gate`]; otherwise its surprise is capped at the
//!    threshold. A score level that recurs at the same time of day (a spike every other day at
//!    the same hour, a busy period's noise) is then not an anomaly.
//! 3. **Spatial anomaly** (also from HTM): a value beyond the range seen so far by more than
//!    [`DetectorParams::spatial_tolerance`] of that range is anomalous whatever its surprise, if
//!    it got there suddenly: by a change of at least [`DetectorParams::spatial_jump`] times the
//!    running mean absolute change. A slow drift out of the range (a daily wave on a series
//!    watched for a few hours) is left to the likelihood.
//! 4. **Decision** `threshold - surprise` (below 0 anomalous; nothing is anomalous during the
//!    first [`DetectorParams::learning`] rows), fed to an [`IncidentTracker`] whose cooldown
//!    suppresses alerts for a while after each alert.
//!
//! Rows are taken in order: timestamps may repeat or jump backwards (they pick the hour, and
//! their typical spacing the time scale below).
//!
//! **Time scale.** The row counts of [`DetectorParams`] were chosen on NAB's series, most of them
//! sampled every 5 minutes. On finer data (a typical interval below 4 minutes) the row counts of
//! time - the horizons, the averaging, the rows the hour contexts and distributions need and the
//! cooldown - are multiplied by `300 s / interval`, at most 5 times (1-minute data), so that they
//! span the same time as on 5-minute data; the learning period stays a count of rows (so a
//! watcher of 1-minute data can alert after 100 minutes). Coarser data keeps the row counts: NAB
//! scores rows, and on its hourly and half-hourly series shorter horizons cost false positives.
//! The interval is a streaming median of the positive gaps between consecutive timestamps (1 %
//! steps), so repeated and backwards timestamps and the odd gap do not move it.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::incident::check_same_length;
use crate::{CheckedIncidentParams, Error, Incident, IncidentParams, IncidentTracker, Result, TrackerEvents};

/// Parameters of the [`StreamingDetector`]. Validate with [`DetectorParams::check`]. The
/// [`Default`] is the one parameter set every command uses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectorParams {
    /// Horizon (rows) of the mean absolute change, and (in rows of the series) of each hour's
    /// context. Like the other row counts here but `learning`: rows of 5-minute data, scaled up
    /// on finer data (see the module documentation).
    pub baseline: usize,
    /// How many standard deviations make a raw score of `1 - e^-0.5`.
    pub sharpness: f64,
    /// Rows of the short mean of raw scores that the likelihood judges (HTM: 10).
    pub averaging: usize,
    /// Horizon (rows) of the running distribution of that short mean.
    pub history: usize,
    /// Rows before anything can be anomalous (a count of rows at any sampling interval).
    pub learning: usize,
    /// Surprise (`-log10` of the tail probability) at which a point is anomalous.
    pub threshold: f64,
    /// Fraction of the range seen so far by which a value must leave it to be a spatial anomaly
    /// (HTM: 0.05).
    pub spatial_tolerance: f64,
    /// How many mean absolute changes the step out of the range must be, at least, for a
    /// spatial anomaly (0: any step).
    pub spatial_jump: f64,
    /// Surprise that the recent mean raw score must also reach against its running distribution
    /// at the same hour of the day (once that hour has 30 rows) for a point to be surprising:
    /// below it, the surprise is capped at the threshold (0: off). Missing in the parameters of
    /// older state files, which then read as the default.
    #[serde(default = "default_hour_gate")]
    pub hour_gate: f64,
    /// How anomalous points become incidents and alerts (the cooldown, scaled up on finer data,
    /// suppresses alerts).
    pub incidents: IncidentParams,
}

impl Default for DetectorParams {
    /// Chosen by leave-one-file-out cross-validation on NAB's 24 server series over
    /// [`DetectorParams::candidates`] (see `benches/README.md`, "NAB incident detection").
    fn default() -> Self {
        Self {
            baseline: 1000,
            sharpness: 3.0,
            averaging: 10,
            history: 2000,
            learning: 100,
            threshold: 3.5,
            spatial_tolerance: 0.05,
            spatial_jump: 3.0,
            hour_gate: DEFAULT_HOUR_GATE,
            incidents: IncidentParams { max_gap: 0, min_points: 1, cooldown: 300, long_incident: 12 },
        }
    }
}

/// [`DetectorParams::hour_gate`] of the default: a tail probability of 1 %.
const DEFAULT_HOUR_GATE: f64 = 2.0;

fn default_hour_gate() -> f64 {
    DEFAULT_HOUR_GATE
}

/// [`DetectorParams`] that passed [`DetectorParams::check`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckedDetectorParams {
    params: DetectorParams,
    incidents: CheckedIncidentParams,
}

impl Default for CheckedDetectorParams {
    /// [`DetectorParams::default`], checked: the one incident policy of every command (`watch`,
    /// the MCP tools' anomaly periods, `pipeline run`, `demo`, `eval nab`).
    fn default() -> Self {
        let params = DetectorParams::default();
        Self { params, incidents: CheckedIncidentParams::new_unchecked(params.incidents) }
    }
}

impl CheckedDetectorParams {
    /// The validated parameters.
    pub fn params(&self) -> &DetectorParams {
        &self.params
    }
}

impl DetectorParams {
    /// The candidate grid that leave-one-file-out cross-validation on NAB's 24 server series
    /// chooses from (`aiops eval nab --cross-validate`); the [`Default`] is its in-sample best.
    pub fn candidates() -> Vec<Self> {
        let base = Self::default();
        let mut grid = Vec::new();
        for threshold in [3.0, 3.5, 4.0, 5.0] {
            for cooldown in [150, 300, 600] {
                for sharpness in [2.0, 3.0] {
                    let incidents = IncidentParams { cooldown, ..base.incidents };
                    grid.push(Self { threshold, sharpness, incidents, ..base });
                }
            }
        }
        grid
    }

    /// Validates every field, naming the first bad one.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the field: `baseline`, `averaging` or `history` of 0,
    /// a non-positive or non-finite `sharpness` or `threshold`, a negative or non-finite
    /// `spatial_tolerance`, `spatial_jump` or `hour_gate`, bad incident parameters.
    pub fn check(self) -> Result<CheckedDetectorParams> {
        let invalid = |field, reason: &str| Err(Error::InvalidParameter { field, reason: reason.to_owned() });
        for (field, value) in
            [("baseline", self.baseline), ("averaging", self.averaging), ("history", self.history)]
        {
            if value == 0 {
                return invalid(field, "must be at least 1 row");
            }
        }
        for (field, value) in [("sharpness", self.sharpness), ("threshold", self.threshold)] {
            if !(value.is_finite() && value > 0.0) {
                return invalid(field, "must be finite and above 0");
            }
        }
        for (field, value) in [
            ("spatial_tolerance", self.spatial_tolerance),
            ("spatial_jump", self.spatial_jump),
            ("hour_gate", self.hour_gate),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return invalid(field, "must be finite and at least 0");
            }
        }
        let incidents = self.incidents.check()?;
        Ok(CheckedDetectorParams { params: self, incidents })
    }
}

/// What the detector made of one point.
#[derive(Debug, Clone, PartialEq)]
pub struct PointOutcome {
    /// The raw score in `[0, 1)`; NaN for a missing value.
    pub raw: f64,
    /// `-log10` of the tail probability of the recent mean raw score, at most the threshold when
    /// that mean is not surprising at this hour of the day (see [`DetectorParams::hour_gate`]);
    /// NaN for a missing value.
    pub surprise: f64,
    /// Whether the value left the range seen so far (by the spatial tolerance).
    pub spatial: bool,
    /// `(threshold - surprise) / (10 threshold)`: below 0 anomalous, scaled so that
    /// [`crate::Severity`]'s depths 0.05, 0.10 and 0.15 are a surprise of 1.5, 2 and 2.5 times the
    /// threshold; [`SPATIAL_DECISION`] for a spatial anomaly; NaN during learning and for a
    /// missing value.
    pub decision: f64,
    /// Incidents confirmed (alert) or closed by this point.
    pub events: TrackerEvents,
}

/// An exponentially weighted mean and variance (West's update), O(1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Ewm {
    mean: f64,
    var: f64,
    seen: usize,
}

impl Ewm {
    /// Adds `x` with weight `max(1 / horizon, 1 / seen)`, so the first rows form a plain mean.
    fn push(&mut self, x: f64, horizon: usize) {
        self.seen = self.seen.saturating_add(1);
        let alpha = 1.0 / self.seen.min(horizon) as f64;
        let delta = x - self.mean;
        self.mean += alpha * delta;
        self.var = (1.0 - alpha) * (self.var + alpha * delta * delta);
    }

    /// Whether the mean and variance are finite and within what values of at most
    /// [`MAX_MAGNITUDE`] make them ([`MAX_EWM_MEAN`], [`MAX_EWM_VARIANCE`]).
    fn is_bounded(&self) -> bool {
        self.mean.abs() <= MAX_EWM_MEAN && (0.0..=MAX_EWM_VARIANCE).contains(&self.var)
    }

    /// The standard deviation, at least a millionth of the mean's magnitude (a flat series still
    /// has a scale) and never 0.
    fn scale(&self) -> f64 {
        self.var.sqrt().max(1e-6 * self.mean.abs()).max(f64::MIN_POSITIVE)
    }
}

/// The decision of a spatial anomaly (a value leaving the range seen so far): `High` severity.
pub const SPATIAL_DECISION: f64 = -0.1;

/// HTM's floors on the running distribution of the averaged raw score.
const MIN_MEAN: f64 = 0.03;
const MIN_VARIANCE: f64 = 0.0003;
/// Values an hour's context needs before it is trusted.
const MIN_CONTEXT: usize = 6;
/// The largest magnitude taken as a measurement. Beyond it a value is skipped like NaN: the
/// squares of differences of such values overflow, and a detector that learnt an infinite
/// variance could never be saved (JSON has no infinity) nor see anything again.
const MAX_MAGNITUDE: f64 = 1e100;
/// Bounds on a running mean and variance: values within ±[`MAX_MAGNITUDE`] and their absolute
/// changes (at most twice that) keep a state inside them, and a push from inside them stays
/// inside (the mean moves between itself and the value; the variance between itself and the
/// squared distance, at most `(MAX_EWM_MEAN + 2 * MAX_MAGNITUDE)^2`).
const MAX_EWM_MEAN: f64 = 1e101;
const MAX_EWM_VARIANCE: f64 = 1e203;
/// The longest gap between timestamps (seconds, 31,700 years) taken as a sampling interval: a
/// longer one is a broken timestamp, and could push the interval's estimate past `f64::MAX`.
const LONGEST_GAP: f64 = 1e12;
/// Rows an hour's distribution of the averaged raw score needs before it can veto a surprise.
const MIN_HOUR_HISTORY: usize = 30;
/// Mean absolute difference of two independent standard normal values, `2 / sqrt(pi)`.
const MEAN_ABS_CHANGE: f64 = std::f64::consts::FRAC_2_SQRT_PI;
/// The sampling interval (seconds) the row counts of [`DetectorParams`] are counted in.
const REFERENCE_INTERVAL: f64 = 300.0;
/// Intervals (seconds) below which the row counts are scaled up.
const FINE_INTERVAL: f64 = 240.0;
/// The largest scale (1-minute data; finer data is treated as such): beyond it, the averaging
/// spans so many rows of a short incident that its peak decision moves to the incident's end.
const MAX_TIME_SCALE: f64 = 5.0;
/// The factor by which the streaming median of the gaps moves per gap.
const INTERVAL_STEP: f64 = 1.01;

/// `rows` of 5-minute data in rows of data `scale` times finer (`rows` itself at scale 1).
fn scale_rows(rows: usize, scale: f64) -> usize {
    (rows as f64 * scale).round() as usize
}

/// The causal detector: sees points in row order only and reports for each what it makes of it;
/// nothing it reports for a point depends on a later point.
///
/// Its state serialises (serde) so that a live stream can be checkpointed and resumed exactly; a
/// deserialised detector must pass [`StreamingDetector::is_consistent`] before use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamingDetector {
    params: DetectorParams,
    previous: Option<f64>,
    /// Absolute changes between consecutive values.
    change: Ewm,
    /// Values by hour of the day.
    hours: [Ewm; 24],
    /// The last `averaging` raw scores and their sum.
    raw: VecDeque<f64>,
    raw_sum: f64,
    /// The running distribution of the averaged raw score.
    average: Ewm,
    /// The same by hour of the day (empty in older state files: it refills).
    #[serde(default)]
    hour_averages: [Ewm; 24],
    range: Option<(f64, f64)>,
    /// The previous finite timestamp.
    #[serde(default)]
    previous_timestamp: Option<f64>,
    /// The streaming median of the positive gaps between timestamps (seconds; 0: none seen yet).
    #[serde(default)]
    interval: f64,
    tracker: IncidentTracker,
}

impl StreamingDetector {
    /// A detector that has seen nothing yet.
    pub fn new(params: &CheckedDetectorParams) -> Self {
        Self {
            params: params.params,
            previous: None,
            change: Ewm::default(),
            hours: [Ewm::default(); 24],
            raw: VecDeque::with_capacity(params.params.averaging),
            raw_sum: 0.0,
            average: Ewm::default(),
            hour_averages: [Ewm::default(); 24],
            range: None,
            previous_timestamp: None,
            interval: 0.0,
            tracker: IncidentTracker::new(&params.incidents),
        }
    }

    /// The parameters it runs with.
    pub fn params(&self) -> &DetectorParams {
        &self.params
    }

    /// Whether this state is one a detector can reach: valid parameters, at most `averaging`
    /// recent raw scores (times the largest time scale), every number within the bounds its
    /// inputs keep it in, and incident indices before the next row. A state read from a file
    /// must pass this before [`StreamingDetector::push`] (which may panic on a forged state).
    pub fn is_consistent(&self) -> bool {
        self.params.check().is_ok()
            && self.params.incidents == *self.tracker.params()
            && self.raw.len() <= scale_rows(self.params.averaging, MAX_TIME_SCALE)
            && self.numbers_in_bounds()
            && self.tracker.is_consistent()
    }

    /// Whether every number is within what the detector's inputs can make it: values and the
    /// range within ±[`MAX_MAGNITUDE`], raw scores in `[0, 1]`, running distributions within
    /// their bounds, the interval at most a step past [`LONGEST_GAP`]. Pushing keeps these, so a
    /// state that passes stays finite (and saves to JSON, which has no infinity).
    fn numbers_in_bounds(&self) -> bool {
        let value = |x: f64| x.abs() <= MAX_MAGNITUDE;
        let distributions =
            [&self.change, &self.average].into_iter().chain(&self.hours).chain(&self.hour_averages);
        distributions.into_iter().all(Ewm::is_bounded)
            && self.previous.is_none_or(value)
            && self.range.is_none_or(|(low, high)| value(low) && value(high) && low <= high)
            && self.raw.iter().all(|raw| (0.0..=1.0).contains(raw))
            && value(self.raw_sum)
            && self.previous_timestamp.is_none_or(f64::is_finite)
            && (0.0..=INTERVAL_STEP * LONGEST_GAP).contains(&self.interval)
    }

    /// Bytes of state held per series (the struct and its buffer, which holds up to 5 times
    /// `averaging` raw scores on 1-minute and finer data).
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.raw.capacity() * std::mem::size_of::<f64>()
    }

    /// Scores the next point (`timestamp` in unix seconds) and then learns from it. A NaN,
    /// an infinite value or one beyond ±1e100 (no metric's, and too large to square) is skipped:
    /// unscored, and not learnt.
    pub fn push(&mut self, timestamp: f64, value: f64) -> PointOutcome {
        let index = self.tracker.len();
        self.learn_interval(timestamp);
        let scale = self.time_scale();
        let cooldown = scale_rows(self.params.incidents.cooldown, scale);
        if value.is_nan() || value.abs() > MAX_MAGNITUDE {
            let events = self.tracker.push_with_cooldown(timestamp, value, f64::NAN, cooldown);
            return PointOutcome {
                raw: f64::NAN,
                surprise: f64::NAN,
                spatial: false,
                decision: f64::NAN,
                events,
            };
        }
        let params = self.params;
        let hour =
            if timestamp.is_finite() { (timestamp.rem_euclid(86_400.0) / 3600.0) as usize % 24 } else { 0 };
        let raw = self.raw_score(value, hour, scale);
        let step = self.previous.map_or(f64::INFINITY, |previous| (value - previous).abs());
        self.learn(value, hour, scale);
        // the hour gate decides whether an incident starts, never cuts an open one short
        let gated = self.tracker.open_incident().is_none();
        let surprise = self.surprise(raw, hour, scale, gated);
        let spatial = self.leaves_range(value, step);
        let decision = if index < params.learning {
            f64::NAN
        } else if spatial {
            SPATIAL_DECISION
        } else {
            (params.threshold - surprise) / (10.0 * params.threshold)
        };
        let events = self.tracker.push_with_cooldown(timestamp, value, decision, cooldown);
        PointOutcome { raw, surprise, spatial, decision, events }
    }

    /// Moves the streaming median of the positive gaps between timestamps 1 % towards this
    /// point's gap (the first gap sets it).
    fn learn_interval(&mut self, timestamp: f64) {
        if !timestamp.is_finite() {
            return;
        }
        if let Some(previous) = self.previous_timestamp {
            let gap = timestamp - previous;
            if gap > 0.0 && gap <= LONGEST_GAP {
                if self.interval == 0.0 {
                    self.interval = gap;
                } else if gap > self.interval {
                    self.interval *= INTERVAL_STEP;
                } else if gap < self.interval {
                    self.interval /= INTERVAL_STEP;
                }
            }
        }
        self.previous_timestamp = Some(timestamp);
    }

    /// How many rows of this series span the time of one row of 5-minute data: 1 unless the
    /// interval is below [`FINE_INTERVAL`] seconds, then `300 / interval`, at most
    /// [`MAX_TIME_SCALE`].
    fn time_scale(&self) -> f64 {
        if self.interval > 0.0 && self.interval < FINE_INTERVAL {
            (REFERENCE_INTERVAL / self.interval).min(MAX_TIME_SCALE)
        } else {
            1.0
        }
    }

    /// Ends the stream: the incident still open, if confirmed.
    pub fn finish(self) -> Option<Incident> {
        self.tracker.finish()
    }

    /// The incident in progress, once confirmed.
    pub fn open_incident(&self) -> Option<&Incident> {
        self.tracker
            .open_incident()
            .filter(|incident| incident.anomalous_points >= self.params.incidents.min_points)
    }

    /// The raw score of `value` against what was learnt before it.
    fn raw_score(&self, value: f64, hour: usize, scale: f64) -> f64 {
        let mut z: f64 = 0.0;
        if let Some(previous) = self.previous
            && self.change.seen > 1
        {
            let typical = self.change.mean.max(1e-9 * value.abs()).max(f64::MIN_POSITIVE);
            z = (value - previous).abs() / typical / MEAN_ABS_CHANGE;
        }
        let context = self.hours[hour];
        if context.seen >= scale_rows(MIN_CONTEXT, scale) {
            z = z.max((value - context.mean).abs() / context.scale());
        }
        let scaled = z / self.params.sharpness;
        1.0 - (-0.5 * scaled * scaled).exp()
    }

    fn learn(&mut self, value: f64, hour: usize, scale: f64) {
        if let Some(previous) = self.previous {
            self.change.push((value - previous).abs(), scale_rows(self.params.baseline, scale));
        }
        self.previous = Some(value);
        self.hours[hour].push(value, scale_rows((self.params.baseline / 24).max(2), scale));
    }

    /// The surprise of the mean of the last raw scores (if `gated`, capped at the threshold when
    /// it is not surprising at this hour of the day), then learns that mean.
    fn surprise(&mut self, raw: f64, hour: usize, scale: f64, gated: bool) -> f64 {
        let averaging = scale_rows(self.params.averaging, scale);
        while self.raw.len() >= averaging {
            self.raw_sum -= self.raw.pop_front().unwrap_or(0.0);
        }
        self.raw.push_back(raw);
        self.raw_sum += raw;
        let average = self.raw_sum / self.raw.len() as f64;
        let surprise = likelihood_surprise(average, &self.average);
        self.average.push(average, scale_rows(self.params.history, scale));
        let at_hour = &mut self.hour_averages[hour];
        let usual_at_this_hour = gated
            && at_hour.seen >= scale_rows(MIN_HOUR_HISTORY, scale)
            && likelihood_surprise(average, at_hour) < self.params.hour_gate;
        at_hour.push(average, scale_rows((self.params.history / 24).max(2), scale));
        if usual_at_this_hour { surprise.min(self.params.threshold) } else { surprise }
    }

    /// Whether `value` leaves the range seen so far by more than the tolerance, by a step of
    /// `step` (its change from the previous value) that is large for the series; then widens the
    /// range.
    fn leaves_range(&mut self, value: f64, step: f64) -> bool {
        let Some((low, high)) = self.range else {
            self.range = Some((value, value));
            return false;
        };
        let margin = (high - low) * self.params.spatial_tolerance;
        let sudden = step >= self.params.spatial_jump * self.change.mean;
        let spatial = high > low && (value > high + margin || value < low - margin) && sudden;
        self.range = Some((low.min(value), high.max(value)));
        spatial
    }
}

/// The surprise of the averaged raw score `average` against a running distribution of it, with
/// HTM's floors on its mean and variance.
fn likelihood_surprise(average: f64, distribution: &Ewm) -> f64 {
    upper_tail_surprise(average, distribution.mean.max(MIN_MEAN), distribution.var.max(MIN_VARIANCE).sqrt())
}

/// `-log10` of the Gaussian upper-tail probability of `x` under `N(mean, sd^2)` (0 at or below
/// the mean), from the complementary error function's Chebyshev fit (Numerical Recipes'
/// `erfcc`, relative error below 1.2e-7), computed in logs so that it never underflows.
fn upper_tail_surprise(x: f64, mean: f64, sd: f64) -> f64 {
    let z = (x - mean) / (sd * std::f64::consts::SQRT_2);
    if z <= 0.0 {
        return 0.0;
    }
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    // tail = erfc(z) / 2 = t * exp(poly) / 2
    -(t.ln() + poly - std::f64::consts::LN_2) / std::f64::consts::LN_10
}

/// What [`detect`] found in a whole series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Detection {
    /// Per point: the raw score (NaN when missing).
    pub raw: Vec<f64>,
    /// Per point: the decision (NaN when unscored).
    pub decisions: Vec<f64>,
    /// The incidents, in time order (including those confirmed in an alert's cooldown, which
    /// did not alert).
    pub incidents: Vec<Incident>,
    /// Rows at which alerts fired.
    pub alerts: Vec<usize>,
}

/// Replays a whole series through a [`StreamingDetector`], point by point (so exactly what a
/// live stream would have reported).
///
/// # Errors
/// [`Error::LengthMismatch`] when `values` and `timestamps` differ in length.
pub fn detect(params: &CheckedDetectorParams, timestamps: &[f64], values: &[f64]) -> Result<Detection> {
    check_same_length(timestamps.len(), &[("values", values.len())])?;
    let mut detector = StreamingDetector::new(params);
    let mut detection = Detection::default();
    for (&timestamp, &value) in timestamps.iter().zip(values) {
        let outcome = detector.push(timestamp, value);
        detection.raw.push(outcome.raw);
        detection.decisions.push(outcome.decision);
        if let Some(alert) = outcome.events.alert {
            detection.alerts.push(alert.alert_index);
        }
        detection.incidents.extend(outcome.events.closed);
    }
    detection.incidents.extend(detector.finish());
    Ok(detection)
}

/// The reference platform's point detector, for comparison: computes the batch features of the
/// whole series, fits the forest on all of it (it sees the future) and flags every row the forest
/// predicts as anomalous (`decision < 0`, about `contamination` of the rows). Returns those rows.
///
/// # Errors
/// [`Error::Features`] or [`Error::Forest`].
pub fn reference_point_alerts(
    schema: &aiops_features::FeatureSchema,
    forest: &aiops_iforest::IsolationForestParams,
    timestamps: &[f64],
    values: &[f64],
) -> Result<Vec<usize>> {
    let x = schema.compute(timestamps, values).map_err(Error::Features)?;
    let forest = aiops_iforest::IsolationForest::fit(forest, x.view()).map_err(Error::Forest)?;
    let decisions = forest.decision_function(x.view()).map_err(Error::Forest)?;
    Ok(decisions.iter().enumerate().filter(|(_, d)| **d < 0.0).map(|(i, _)| i).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default with a longer learning period, so the synthetic wave has covered its range
    /// before anything can be anomalous.
    fn params() -> CheckedDetectorParams {
        DetectorParams { learning: 300, ..DetectorParams::default() }.check().unwrap()
    }

    #[test]
    fn bad_parameters_are_refused_by_name() {
        let field = |params: DetectorParams| match params.check().unwrap_err() {
            Error::InvalidParameter { field, .. } => field,
            other => panic!("unexpected {other}"),
        };
        let base = DetectorParams::default();
        assert_eq!(field(DetectorParams { baseline: 0, ..base }), "baseline");
        assert_eq!(field(DetectorParams { averaging: 0, ..base }), "averaging");
        assert_eq!(field(DetectorParams { history: 0, ..base }), "history");
        assert_eq!(field(DetectorParams { sharpness: 0.0, ..base }), "sharpness");
        assert_eq!(field(DetectorParams { threshold: f64::NAN, ..base }), "threshold");
        assert_eq!(field(DetectorParams { spatial_tolerance: -0.1, ..base }), "spatial_tolerance");
        assert_eq!(field(DetectorParams { spatial_jump: f64::INFINITY, ..base }), "spatial_jump");
        assert_eq!(field(DetectorParams { hour_gate: -1.0, ..base }), "hour_gate");
        let incidents = IncidentParams { min_points: 0, ..base.incidents };
        assert_eq!(field(DetectorParams { incidents, ..base }), "min_points");
    }

    #[test]
    fn the_tail_surprise_matches_the_normal_distribution() {
        // upper tails of N(0, 1): 1.5865525e-1 at 1, 2.2750132e-2 at 2, 2.8665157e-7 at 5
        for (z, tail) in [(1.0, 1.586_552_5e-1), (2.0, 2.275_013_2e-2), (5.0, 2.866_515_7e-7)] {
            let surprise = upper_tail_surprise(z, 0.0, 1.0);
            assert!((surprise + f64::log10(tail)).abs() < 1e-6, "z {z}: {surprise}");
        }
        assert_eq!(upper_tail_surprise(-1.0, 0.0, 1.0), 0.0);
        assert!(upper_tail_surprise(40.0, 0.0, 1.0).is_finite());
    }

    /// A week of 5-minute samples: a daily wave with deterministic noise and two injected level
    /// shifts (rows 1450..1470 and 1800..1820).
    fn wavy_series(n: usize) -> (Vec<f64>, Vec<f64>) {
        let timestamps: Vec<f64> = (0..n).map(|i| 1.4e9 + 300.0 * i as f64).collect();
        let values = (0..n)
            .map(|i| {
                let x = i as f64;
                let shift = if (1450..1470).contains(&i) || (1800..1820).contains(&i) { 8.0 } else { 0.0 };
                10.0 + (x * std::f64::consts::TAU / 288.0).sin()
                    + 0.1 * (x * 1.3).sin() * (x * 0.31).cos()
                    + shift
            })
            .collect();
        (timestamps, values)
    }

    #[test]
    fn level_shifts_alert_and_the_quiet_wave_does_not() {
        let (timestamps, values) = wavy_series(2016);
        let detection = detect(&params(), &timestamps, &values).unwrap();
        let alerts = &detection.alerts;
        assert!(alerts.iter().any(|&a| (1450..1455).contains(&a)), "{alerts:?}");
        assert!(alerts.iter().any(|&a| (1800..1805).contains(&a)), "{alerts:?}");
        assert!(alerts.iter().all(|&a| (1450..1470).contains(&a) || (1800..1820).contains(&a)), "{alerts:?}");
    }

    #[test]
    fn changing_points_after_t_never_changes_anything_before_t() {
        let params = params();
        let (timestamps, values) = wavy_series(2016);
        let original = detect(&params, &timestamps, &values).unwrap();
        assert!(!original.alerts.is_empty());
        for t in [50, 300, 1000, 1452, 1600, 1810] {
            let mut changed = values.clone();
            changed[t..].iter_mut().enumerate().for_each(|(k, v)| *v = -50.0 * (k % 3) as f64 + 1e3);
            let replay = detect(&params, &timestamps, &changed).unwrap();
            let before = |d: &Detection| d.alerts.iter().copied().filter(|&a| a < t).collect::<Vec<_>>();
            assert_eq!(before(&replay), before(&original), "alerts before row {t}");
            let bits = |d: &Detection| d.decisions[..t].iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&replay), bits(&original), "decisions before row {t}");
        }
    }

    #[test]
    fn missing_values_are_skipped_and_timestamps_may_repeat() {
        let (mut timestamps, mut values) = wavy_series(700);
        values[500] = f64::NAN;
        timestamps[400] = timestamps[399];
        timestamps[450] = timestamps[100];
        let detection = detect(&params(), &timestamps, &values).unwrap();
        assert!(detection.decisions[..300].iter().all(|d| d.is_nan()), "nothing is decided while learning");
        assert!(detection.decisions[500].is_nan() && detection.raw[500].is_nan());
        assert!(
            detection.decisions[300..500].iter().chain(&detection.decisions[501..]).all(|d| d.is_finite())
        );
    }

    /// Regression: one value of 1e300 gave the detector an infinite variance; its state then
    /// held `null`s in JSON, so `watch`'s whole state file failed to load and every series
    /// restarted from nothing (and the series itself saw no anomaly again). Timestamps far apart
    /// could do the same to the sampling interval's estimate.
    #[test]
    fn values_too_large_to_square_are_skipped_and_the_state_stays_saveable() {
        let (mut timestamps, mut values) = wavy_series(1200);
        let hostile = [1e300, f64::MAX, -f64::MAX, f64::INFINITY];
        values[600..604].copy_from_slice(&hostile);
        // the largest values taken: learnt, and the state still finite
        values[700] = 1e100;
        values[701] = -1e100;
        // and timestamps no clock gives, whose gaps could take the interval past f64::MAX
        timestamps[1..5].copy_from_slice(&[
            -0.499 * f64::MAX,
            0.499 * f64::MAX,
            -0.5 * f64::MAX,
            0.5 * f64::MAX,
        ]);
        let params = params();
        let mut detector = StreamingDetector::new(&params);
        for (row, (&timestamp, &value)) in timestamps.iter().zip(&values).enumerate() {
            let outcome = detector.push(timestamp, value);
            if (600..604).contains(&row) {
                assert!(outcome.decision.is_nan() && outcome.raw.is_nan(), "row {row}: {outcome:?}");
            } else if row >= 300 {
                assert!(outcome.decision.is_finite(), "row {row}: {outcome:?}");
            }
            if row == 750 {
                // an infinite or NaN float is written as `null`, which no f64 reads back; the
                // rest is read back exactly (the watcher's `float_roundtrip`)
                let saved = serde_json::to_string(&detector).unwrap();
                let restored: StreamingDetector = serde_json::from_str(&saved).unwrap();
                assert!(restored.is_consistent());
                assert_eq!(serde_json::to_string(&restored).unwrap(), saved);
            }
        }
    }

    #[test]
    fn a_value_outside_the_range_seen_is_a_spatial_anomaly() {
        let timestamps: Vec<f64> = (0..400).map(f64::from).collect();
        let mut values: Vec<f64> = (0..400).map(|i| f64::from(i % 7)).collect();
        // below 0 by more than 5 % of the range 0..6, in one step of 6.5 from row 349's 6 (the
        // mean absolute change is 12/7)
        values[350] = -0.5;
        let detection = detect(&params(), &timestamps, &values).unwrap();
        assert_eq!(detection.decisions[350], SPATIAL_DECISION);
        assert!(detection.alerts.contains(&350), "{:?}", detection.alerts);
    }

    /// Regression: a series watched for a few hours drifted out of the range seen so far with
    /// its daily wave, and every step out of it was a spatial alert (most of a fresh fleet
    /// alerted in its first minutes).
    #[test]
    fn a_slow_drift_out_of_the_range_is_not_a_spatial_anomaly() {
        let timestamps: Vec<f64> = (0..400).map(f64::from).collect();
        let values: Vec<f64> = (0..400)
            .map(|i| if i < 300 { f64::from(i % 7) } else { 6.0 + 0.5 * f64::from(i - 299) })
            .collect();
        let detection = detect(&params(), &timestamps, &values).unwrap();
        assert!(
            detection.decisions[300..].iter().all(|&d| d != SPATIAL_DECISION),
            "{:?}",
            &detection.decisions[300..]
        );
    }

    /// 2014-05-13 00:00 UTC.
    const MIDNIGHT: f64 = 1_399_939_200.0;

    /// Five-minute points from [`MIDNIGHT`] of a quiet noisy series (10 to 11), with a spike to
    /// exactly 20 at each of `spikes` (rows: the same height, so only the first leaves the range).
    fn quiet_series_with_spikes(days: usize, spikes: &[usize]) -> (Vec<f64>, Vec<f64>) {
        let mut state = 12_345_u64;
        (0..days * 288)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let noise = (state >> 11) as f64 / (1_u64 << 53) as f64;
                let value = if spikes.contains(&i) { 20.0 } else { 10.0 + noise };
                (MIDNIGHT + 300.0 * i as f64, value)
            })
            .unzip()
    }

    /// Regression: two of NAB's CPU series (`ec2_cpu_utilization_c6585a` and `24ae8d`) spike
    /// every other day at the same hour; each spike was surprising against the whole series'
    /// history and alerted (6 and 3 false alerts).
    #[test]
    fn a_spike_that_recurs_at_the_same_hour_stops_alerting_and_one_at_another_hour_does_not() {
        // 03:00 every other day from day 2, and once at 15:00 on day 19
        let mut spikes: Vec<usize> = (1..10).map(|day| 2 * day * 288 + 36).collect();
        spikes.push(19 * 288 + 180);
        let (timestamps, values) = quiet_series_with_spikes(20, &spikes);
        let alerted = |params: &CheckedDetectorParams| {
            let alerts = detect(params, &timestamps, &values).unwrap().alerts;
            spikes.iter().map(|&s| alerts.iter().any(|&a| (s..s + 10).contains(&a))).collect::<Vec<_>>()
        };
        let without_gate = DetectorParams { hour_gate: 0.0, learning: 300, ..DetectorParams::default() };
        let without = alerted(&without_gate.check().unwrap());
        assert!(without.iter().all(|&a| a), "every spike alerts without the gate: {without:?}");
        let with_gate = alerted(&params());
        assert!(with_gate[0], "the first spike at 03:00 alerts: {with_gate:?}");
        assert!(
            !with_gate[1..9].iter().any(|&a| a),
            "once 03:00 has 30 rows, its spikes are usual: {with_gate:?}"
        );
        assert!(with_gate[9], "the spike at 15:00 alerts: {with_gate:?}");
    }

    /// Regression: the hour's distribution learns an ongoing incident within a few rows (it has
    /// a short horizon), and gating every point cut `aiops demo`'s injected incidents short and
    /// split them in two: the gate only decides whether an incident starts.
    #[test]
    fn the_hour_gate_does_not_cut_an_open_incident_short() {
        let (timestamps, mut values) = quiet_series_with_spikes(12, &[]);
        let shift = 10 * 288 + 36..10 * 288 + 72; // 03:00 to 06:00 on day 10
        values[shift.clone()].iter_mut().for_each(|v| *v += 5.0);
        let incidents: Vec<Incident> = detect(&params(), &timestamps, &values)
            .unwrap()
            .incidents
            .into_iter()
            .filter(|i| i.end_index >= shift.start && i.onset_index < shift.end)
            .collect();
        assert_eq!(incidents.len(), 1, "{incidents:?}");
        assert!(incidents[0].onset_index <= shift.start + 1, "{incidents:?}");
        assert!(incidents[0].end_index >= shift.end - 1, "{incidents:?}");
    }

    /// Regression: state files of watchers written before the hour gate (no `hour_gate` in the
    /// parameters, no `hour_averages` in the state) must still be read and continue.
    #[test]
    fn a_state_written_before_the_hour_gate_reads_back_with_the_default_and_continues() {
        let params = CheckedDetectorParams::default();
        let (timestamps, values) = quiet_series_with_spikes(2, &[400]);
        let mut detector = StreamingDetector::new(&params);
        for (&t, &v) in timestamps.iter().zip(&values) {
            detector.push(t, v);
        }
        let mut json = serde_json::to_value(&detector).unwrap();
        let state = json.as_object_mut().unwrap();
        assert!(state.remove("hour_averages").is_some());
        assert!(state["params"].as_object_mut().unwrap().remove("hour_gate").is_some());
        let mut restored: StreamingDetector = serde_json::from_value(json).unwrap();
        assert!(restored.is_consistent());
        assert_eq!(restored.params(), params.params());
        assert!(restored.hour_averages.iter().all(|hour| hour.seen == 0), "the hours refill");
        let outcome = restored.push(timestamps[timestamps.len() - 1] + 300.0, 10.5);
        assert!(outcome.decision.is_finite() && outcome.decision >= 0.0, "{outcome:?}");
    }

    #[test]
    fn the_default_policy_is_valid() {
        assert_eq!(DetectorParams::default().check().unwrap(), CheckedDetectorParams::default());
    }

    #[test]
    fn the_state_is_small_at_any_interval() {
        let mut detector = StreamingDetector::new(&params());
        assert!(detector.state_bytes() < 64 * 1024, "{} bytes", detector.state_bytes());
        // 1-second data: the largest time scale (5), so the longest averaging buffer
        for i in 0..1000 {
            detector.push(1.4e9 + f64::from(i), f64::from(i % 7));
        }
        assert_eq!(detector.raw.len(), 5 * detector.params.averaging);
        assert!(detector.state_bytes() < 64 * 1024, "{} bytes", detector.state_bytes());
        assert!(detector.is_consistent());
    }

    /// The time scale after `rows` rows with these gaps (seconds), cycled.
    fn time_scale_after(gaps: &[f64], rows: usize) -> f64 {
        let mut detector = StreamingDetector::new(&params());
        let mut timestamp = 1.4e9;
        for gap in gaps.iter().cycle().take(rows) {
            timestamp += gap;
            detector.push(timestamp, 1.0);
        }
        detector.time_scale()
    }

    #[test]
    fn the_time_scale_follows_the_typical_interval() {
        // 5-minute rows with repeated and backwards timestamps and the odd gap: unscaled
        assert_eq!(time_scale_after(&[300.0, 0.0, 300.0, 3600.0, 300.0, -600.0, 300.0, 300.0], 2000), 1.0);
        assert_eq!(time_scale_after(&[3600.0], 100), 1.0, "coarser data keeps its row counts");
        let two_minutes = time_scale_after(&[120.0, 120.0, 120.0, 240.0], 2000);
        assert!((two_minutes - 2.5).abs() < 0.05, "2-minute data: {two_minutes}");
        // a first gap of 5 minutes does not stick: the median moves in 1 % steps
        let started_odd =
            time_scale_after(&[300.0].iter().chain(&[120.0; 999]).copied().collect::<Vec<_>>(), 1000);
        assert!((started_odd - 2.5).abs() < 0.05, "{started_odd}");
        assert_eq!(time_scale_after(&[60.0], 2000), 5.0, "1-minute data");
        assert_eq!(time_scale_after(&[15.0], 2000), 5.0, "at most 5 (1-minute data)");
    }

    /// Regression: on 1-minute data the row counts (chosen on 5-minute data) spanned a fifth of
    /// the time: on this business-hours series the detector alerted at the daily steps (20 alerts
    /// in ten days), and the injected jump came 76 rows late, inside a step's cooldown.
    #[test]
    fn one_minute_data_is_judged_on_the_time_scale_of_five_minute_data() {
        let day = 1440;
        let mut state = 12_345_u64;
        let mut noise = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1_u64 << 53) as f64
        };
        let jump = 8 * day + day / 2;
        let (timestamps, values): (Vec<f64>, Vec<f64>) = (0..10 * day)
            .map(|i| {
                let hour_of_day = (i % day) as f64 / day as f64;
                let level = if (0.3..0.8).contains(&hour_of_day) { 80.0 } else { 20.0 };
                let shift = if (jump..jump + 150).contains(&i) { 30.0 } else { 0.0 };
                (1.396e9 + 60.0 * i as f64, level + 5.0 * noise() + shift)
            })
            .unzip();
        let detection = detect(&params(), &timestamps, &values).unwrap();
        let after_the_first_day: Vec<usize> =
            detection.alerts.iter().copied().filter(|&a| a >= day).collect();
        assert_eq!(after_the_first_day.len(), 1, "{:?}", detection.alerts);
        assert!((jump..jump + 5).contains(&after_the_first_day[0]), "{:?}", detection.alerts);
    }
}
