//! The Numenta Anomaly Benchmark's scoring rules (NAB's `sweeper.py`), for alerts given as rows.
//!
//! - The first `min(floor(0.15 n), 750)` rows of a file are a probation period: alerts there are
//!   not scored, and windows that end there are not scored either.
//! - With `sig(y) = 2 / (1 + exp(5y)) - 1`, an alert at row `i` inside a window `[left, right]` of
//!   `width = right - left + 1` rows earns `tp * sig(-(right - i + 1) / width) / sig(-1)`: 1 at the
//!   window's first row, near 0 at its last. Only the best alert per window counts.
//! - A scored window without an alert costs `fn` (1 in `standard` and `low_fp`, 2 in `low_fn`).
//! - An alert outside every window scores `fp * sig(|i - prev_right| / (prev_width - 1))` after a
//!   window (close to 0 just after it, tending to `-fp`), or `-fp` when no window came before;
//!   `fp` is 0.11 (0.22 in `low_fp`).
//! - Over a set of files, `100 * (S - S_null) / (S_perfect - S_null)`, where the null detector
//!   raises no alert (`-fn` per window) and the perfect one earns `tp = 1` per window.
//!
//! NAB itself clamps `sig` to -1 beyond 3 window widths; the difference is below 1e-6 per alert,
//! and this module follows the formula as the issue states it.

use serde::Serialize;

use crate::{Error, Result};

/// A NAB cost profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// tp 1, fp 0.11, fn 1.
    #[default]
    Standard,
    /// tp 1, fp 0.22, fn 1.
    LowFp,
    /// tp 1, fp 0.11, fn 2.
    LowFn,
}

impl Profile {
    /// Reward of an alert at a window's first row.
    pub fn tp_weight(self) -> f64 {
        1.0
    }

    /// Cost of an alert far from any window.
    pub fn fp_weight(self) -> f64 {
        match self {
            Self::LowFp => 0.22,
            Self::Standard | Self::LowFn => 0.11,
        }
    }

    /// Cost of a window without an alert.
    pub fn fn_weight(self) -> f64 {
        match self {
            Self::LowFn => 2.0,
            Self::Standard | Self::LowFp => 1.0,
        }
    }
}

/// A labelled anomaly window, as rows `left..=right` of its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    /// First row inside the window.
    pub left: usize,
    /// Last row inside the window.
    pub right: usize,
}

impl Window {
    /// Rows in the window.
    pub fn width(&self) -> usize {
        self.right - self.left + 1
    }
}

/// How one file scored.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct FileScore {
    /// The file's score `S`: true positives minus missed windows minus false positives.
    pub score: f64,
    /// What the null detector (no alerts) scores on this file.
    pub null_score: f64,
    /// What the perfect detector (an alert at each window's first row) scores on this file.
    pub perfect_score: f64,
    /// Scored windows (those ending after the probation period).
    pub windows: usize,
    /// Scored windows with at least one alert.
    pub detected: usize,
    /// Sum of the best alert's reward over detected windows.
    pub true_positive: f64,
    /// Scored alerts outside every window.
    pub false_positives: usize,
    /// Their summed (negative) contribution.
    pub false_positive_score: f64,
}

/// NAB's scaled sigmoid `2 / (1 + exp(5y)) - 1`.
pub fn scaled_sigmoid(y: f64) -> f64 {
    2.0 / (1.0 + (5.0 * y).exp()) - 1.0
}

/// Rows of the probation period of a file with `rows` rows: `min(floor(0.15 rows), 750)`.
pub fn probation_rows(rows: usize) -> usize {
    (rows * 15 / 100).min(750)
}

/// Converts windows given as inclusive `(start, end)` timestamps to rows of a file, the way NAB's
/// scorer does: rows are records in file order (timestamps may repeat or jump backwards), and
/// each window, in order, starts at the first row after the previous window with a timestamp at
/// or after `start` and ends at the first row from there whose timestamp is `end` (or just before
/// the first one past `end`). With NAB's windows, whose limits are timestamps of the file, this
/// is exactly where NAB's `sweeper.py` enters and leaves them.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `windows` when a window holds no row.
pub fn windows_to_rows(timestamps: &[f64], windows: &[(f64, f64)]) -> Result<Vec<Window>> {
    let mut cursor = 0;
    windows
        .iter()
        .map(|&(start, end)| {
            let empty = || Error::InvalidParameter {
                field: "windows",
                reason: format!(
                    "the window [{start}, {end}] contains no row of the series after the window before it"
                ),
            };
            let left = cursor + timestamps[cursor..].iter().position(|&t| t >= start).ok_or_else(empty)?;
            let right = match timestamps[left..].iter().position(|&t| t >= end) {
                Some(offset) if timestamps[left + offset] == end => left + offset,
                Some(0) => return Err(empty()),
                Some(offset) => left + offset - 1,
                None => timestamps.len() - 1,
            };
            cursor = right + 1;
            Ok(Window { left, right })
        })
        .collect()
}

/// Scores the `alerts` (rows, any order; duplicates count once) of a file with `rows` rows and
/// labelled `windows` (sorted, disjoint) under `profile`.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `windows` when they are unsorted, overlapping or past the
/// end, or `alerts` when an alert lies past the end.
pub fn score_file(rows: usize, windows: &[Window], alerts: &[usize], profile: Profile) -> Result<FileScore> {
    check_windows(rows, windows)?;
    if let Some(&bad) = alerts.iter().find(|&&a| a >= rows) {
        return Err(Error::InvalidParameter {
            field: "alerts",
            reason: format!("row {bad} is past the end of a {rows}-row file"),
        });
    }
    let probation = probation_rows(rows);
    let scored: Vec<bool> = windows.iter().map(|w| w.right >= probation).collect();
    let mut best: Vec<Option<f64>> = vec![None; windows.len()];
    let mut alerts = alerts.to_vec();
    alerts.sort_unstable();
    alerts.dedup();
    let mut result = FileScore::default();
    for &alert in alerts.iter().filter(|&&a| a >= probation) {
        let before = windows.partition_point(|w| w.right < alert);
        match windows.get(before).filter(|w| w.left <= alert) {
            Some(window) => {
                let position = -((window.right - alert + 1) as f64) / window.width() as f64;
                let reward = profile.tp_weight() * scaled_sigmoid(position) / scaled_sigmoid(-1.0);
                let slot = &mut best[before];
                *slot = Some(slot.map_or(reward, |b: f64| b.max(reward)));
            }
            None => {
                let cost = match before.checked_sub(1).map(|i| windows[i]) {
                    Some(previous) => {
                        let distance = (alert - previous.right) as f64;
                        profile.fp_weight() * scaled_sigmoid(distance / (previous.width() as f64 - 1.0))
                    }
                    None => -profile.fp_weight(),
                };
                result.false_positives += 1;
                result.false_positive_score += cost;
            }
        }
    }
    for (reward, _) in best.iter().zip(&scored).filter(|(_, scored)| **scored) {
        result.windows += 1;
        if let Some(reward) = reward {
            result.detected += 1;
            result.true_positive += reward;
        }
    }
    let missed = (result.windows - result.detected) as f64;
    result.score = result.true_positive - profile.fn_weight() * missed + result.false_positive_score;
    result.null_score = -profile.fn_weight() * result.windows as f64;
    result.perfect_score = profile.tp_weight() * result.windows as f64;
    Ok(result)
}

/// NAB's normalised score over `files`: `100 * (S - S_null) / (S_perfect - S_null)` with sums over
/// all files; 0 when no file has a scored window.
pub fn normalised_score(files: &[FileScore]) -> f64 {
    let sum = |f: fn(&FileScore) -> f64| files.iter().map(f).sum::<f64>();
    let (score, null, perfect) = (sum(|f| f.score), sum(|f| f.null_score), sum(|f| f.perfect_score));
    if perfect == null { 0.0 } else { 100.0 * (score - null) / (perfect - null) }
}

/// One labelled series of the benchmark.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelledSeries {
    /// The file's name in the benchmark (e.g. `realAWSCloudwatch/grok_asg_anomaly.csv`).
    pub name: String,
    /// Unix seconds, ascending.
    pub timestamps: Vec<f64>,
    /// Metric values.
    pub values: Vec<f64>,
    /// The labelled windows as rows.
    pub windows: Vec<Window>,
}

/// How one series went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesResult {
    /// The series' name.
    pub name: String,
    /// Its rows.
    pub rows: usize,
    /// Rows at which the detector alerted.
    pub alerts: Vec<usize>,
    /// The NAB score of those alerts.
    pub score: FileScore,
}

/// The NAB score of a detector over a set of series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// The profile scored with.
    pub profile: Profile,
    /// Per series, in the order given.
    pub series: Vec<SeriesResult>,
    /// [`normalised_score`] over all series.
    pub normalised: f64,
}

/// Runs `alerts_of` (a detector: series in, alert rows out) on every series and scores the alerts.
///
/// # Errors
/// What `alerts_of` returns, or what [`score_file`] returns for bad windows or alerts.
pub fn evaluate(
    series: &[LabelledSeries],
    profile: Profile,
    mut alerts_of: impl FnMut(&LabelledSeries) -> Result<Vec<usize>>,
) -> Result<Evaluation> {
    let results = series
        .iter()
        .map(|s| {
            let alerts = alerts_of(s)?;
            let score = score_file(s.timestamps.len(), &s.windows, &alerts, profile)?;
            Ok(SeriesResult { name: s.name.clone(), rows: s.timestamps.len(), alerts, score })
        })
        .collect::<Result<Vec<_>>>()?;
    let scores: Vec<FileScore> = results.iter().map(|r| r.score).collect();
    Ok(Evaluation { profile, normalised: normalised_score(&scores), series: results })
}

/// Leave-one-file-out cross-validation of a family of detectors (candidate parameter sets).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossValidation {
    /// The profile scored with.
    pub profile: Profile,
    /// Normalised score of each candidate over all series (in-sample), in candidate order.
    pub in_sample: Vec<f64>,
    /// The candidate with the best in-sample score (the first on ties).
    pub best: usize,
    /// Per series: the candidate chosen on the *other* series and its score on this one.
    pub held_out: Vec<(String, usize, FileScore)>,
    /// [`normalised_score`] of the held-out scores: what the selection procedure scores on
    /// series it never saw.
    pub cross_validated: f64,
}

/// Scores every candidate (`alerts_of(candidate, series)`, for candidates `0..candidates`) on every
/// series, then for each series picks the candidate with the best normalised score on all the
/// *other* series and keeps its score on the held-out one. Series run in parallel on `threads`.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `candidates` when there are none; what `alerts_of` or
/// [`score_file`] returns.
pub fn cross_validate(
    series: &[LabelledSeries],
    profile: Profile,
    candidates: usize,
    threads: usize,
    alerts_of: impl Fn(usize, &LabelledSeries) -> Result<Vec<usize>> + Sync,
) -> Result<CrossValidation> {
    if candidates == 0 {
        return Err(Error::InvalidParameter {
            field: "candidates",
            reason: "no candidate to choose from".to_owned(),
        });
    }
    // scores[file][candidate]
    let scores = parallel_map(series, threads, |s| {
        (0..candidates)
            .map(|c| score_file(s.timestamps.len(), &s.windows, &alerts_of(c, s)?, profile))
            .collect::<Result<Vec<_>>>()
    })?;
    let normalised_of = |c: usize, skip: Option<usize>| {
        let files: Vec<FileScore> =
            scores.iter().enumerate().filter(|(f, _)| Some(*f) != skip).map(|(_, row)| row[c]).collect();
        normalised_score(&files)
    };
    let best_without = |skip: Option<usize>| {
        (0..candidates).fold((0, f64::NEG_INFINITY), |(best, top), c| {
            let score = normalised_of(c, skip);
            if score > top { (c, score) } else { (best, top) }
        })
    };
    let held_out: Vec<(String, usize, FileScore)> = series
        .iter()
        .enumerate()
        .map(|(f, s)| {
            let (chosen, _) = best_without(Some(f));
            (s.name.clone(), chosen, scores[f][chosen])
        })
        .collect();
    let held_scores: Vec<FileScore> = held_out.iter().map(|(_, _, score)| *score).collect();
    Ok(CrossValidation {
        profile,
        in_sample: (0..candidates).map(|c| normalised_of(c, None)).collect(),
        best: best_without(None).0,
        cross_validated: normalised_score(&held_scores),
        held_out,
    })
}

/// `f` over `items` on up to `threads` scoped threads (contiguous chunks), results in order.
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Result<Vec<R>>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for handle in handles {
            match handle.join() {
                Ok(part) => out.extend(part?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(out)
    })
}

fn check_windows(rows: usize, windows: &[Window]) -> Result<()> {
    let invalid = |reason: String| Err(Error::InvalidParameter { field: "windows", reason });
    for (i, window) in windows.iter().enumerate() {
        if window.left > window.right || window.right >= rows {
            return invalid(format!("window {i} ({window:?}) is empty or past the end of a {rows}-row file"));
        }
        if i > 0 && windows[i - 1].right >= window.left {
            return invalid(format!("window {i} ({window:?}) overlaps or precedes the one before it"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sig(-1) = 2 / (1 + e^-5) - 1, the normaliser of true positives.
    fn sig_minus_one() -> f64 {
        2.0 / (1.0 + (-5.0f64).exp()) - 1.0
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// 1000 rows: probation is floor(0.15 * 1000) = 150 rows; one window at rows 200..=299
    /// (width 100).
    const ROWS: usize = 1000;
    const WINDOW: Window = Window { left: 200, right: 299 };

    fn standard(alerts: &[usize]) -> FileScore {
        score_file(ROWS, &[WINDOW], alerts, Profile::Standard).unwrap()
    }

    #[test]
    fn probation_is_fifteen_percent_capped_at_750() {
        assert_eq!(probation_rows(0), 0);
        assert_eq!(probation_rows(6), 0); // floor(0.9)
        assert_eq!(probation_rows(1000), 150);
        assert_eq!(probation_rows(4033), 604); // floor(604.95)
        assert_eq!(probation_rows(5000), 750);
        assert_eq!(probation_rows(10_000), 750);
    }

    #[test]
    fn an_alert_at_the_window_start_earns_one() {
        // position -(299 - 200 + 1) / 100 = -1, so sig(-1) / sig(-1)
        let score = standard(&[200]);
        assert!(close(score.score, 1.0), "{score:?}");
        assert_eq!((score.windows, score.detected, score.false_positives), (1, 1, 0));
    }

    #[test]
    fn an_alert_at_the_window_end_earns_almost_nothing() {
        // position -(299 - 299 + 1) / 100 = -0.01: sig(-0.01) = 2 / (1 + e^-0.05) - 1
        let expected = (2.0 / (1.0 + (-0.05f64).exp()) - 1.0) / sig_minus_one();
        let score = standard(&[299]);
        assert!(close(score.score, expected), "{} != {expected}", score.score);
        assert!(expected > 0.0 && expected < 0.03);
    }

    #[test]
    fn an_alert_in_the_middle_earns_the_sigmoid_of_its_position() {
        // row 250: position -(299 - 250 + 1) / 100 = -0.5: sig(-0.5) = 2 / (1 + e^-2.5) - 1
        let expected = (2.0 / (1.0 + (-2.5f64).exp()) - 1.0) / sig_minus_one();
        assert!(close(standard(&[250]).score, expected));
        assert!((expected - 0.8598).abs() < 1e-4);
    }

    #[test]
    fn only_the_best_alert_per_window_counts() {
        // overlapping alerts in one window (and a duplicate): the earliest, at the start, wins
        let score = standard(&[250, 200, 299, 250]);
        assert!(close(score.score, 1.0), "{score:?}");
        assert_eq!(score.false_positives, 0);
    }

    #[test]
    fn an_alert_after_a_window_costs_by_its_distance() {
        // row 349: |349 - 299| / (100 - 1) = 50/99; cost 0.11 * sig(50/99); the window is missed (-1)
        let expected_fp = 0.11 * (2.0 / (1.0 + (5.0 * 50.0 / 99.0f64).exp()) - 1.0);
        let score = standard(&[349]);
        assert!(close(score.false_positive_score, expected_fp));
        assert!(close(score.score, -1.0 + expected_fp), "{score:?}");
        // right after the window the cost is tiny, far after it tends to the full 0.11
        assert!(standard(&[300]).false_positive_score > -0.015);
        assert!(standard(&[999]).false_positive_score < -0.1099);
    }

    #[test]
    fn an_alert_before_any_window_costs_the_full_fp_weight() {
        let score = standard(&[160]);
        assert!(close(score.score, -1.0 - 0.11), "{score:?}");
        let low_fp = score_file(ROWS, &[WINDOW], &[160], Profile::LowFp).unwrap();
        assert!(close(low_fp.score, -1.0 - 0.22));
        let low_fn = score_file(ROWS, &[WINDOW], &[160], Profile::LowFn).unwrap();
        assert!(close(low_fn.score, -2.0 - 0.11));
        assert!(close(low_fn.null_score, -2.0));
    }

    #[test]
    fn alerts_in_probation_are_not_scored() {
        assert_eq!(standard(&[0, 10, 149]), standard(&[]));
        assert!(close(standard(&[]).score, -1.0));
    }

    #[test]
    fn windows_ending_in_probation_are_not_scored() {
        // the window 10..=100 ends before row 150: neither a miss nor a reward
        let early = Window { left: 10, right: 100 };
        let score = score_file(ROWS, &[early, WINDOW], &[50, 200], Profile::Standard).unwrap();
        assert_eq!((score.windows, score.detected), (1, 1));
        assert!(close(score.score, 1.0));
        // but it still counts as the previous window for a later false positive:
        // |160 - 100| / (91 - 1) = 2/3
        let fp = score_file(ROWS, &[early, WINDOW], &[160], Profile::Standard).unwrap();
        assert!(close(fp.false_positive_score, 0.11 * scaled_sigmoid(60.0 / 90.0)));
    }

    #[test]
    fn empty_files_and_files_without_windows() {
        let empty = score_file(0, &[], &[], Profile::Standard).unwrap();
        assert_eq!(empty, FileScore::default());
        // no windows: every scored alert costs the full weight
        let no_windows = score_file(ROWS, &[], &[100, 500, 600], Profile::Standard).unwrap();
        assert!(close(no_windows.score, -0.22));
        assert_eq!(no_windows.false_positives, 2);
    }

    #[test]
    fn normalisation_maps_null_to_zero_and_perfect_to_one_hundred() {
        let files =
            |alerts: &[usize]| vec![standard(alerts), score_file(ROWS, &[], &[], Profile::Standard).unwrap()];
        assert!(close(normalised_score(&files(&[])), 0.0));
        assert!(close(normalised_score(&files(&[200])), 100.0));
        // one false positive before any window, nothing detected: 100 * (-1.11 + 1) / 2
        assert!(close(normalised_score(&files(&[160])), -5.5));
        assert_eq!(normalised_score(&[]), 0.0);
    }

    #[test]
    fn windows_are_mapped_to_rows_inclusively() {
        let timestamps = [0.0, 300.0, 600.0, 900.0, 1200.0];
        assert_eq!(windows_to_rows(&timestamps, &[(300.0, 900.0)]).unwrap(), [Window { left: 1, right: 3 }]);
        assert_eq!(windows_to_rows(&timestamps, &[(299.0, 901.0)]).unwrap(), [Window { left: 1, right: 3 }]);
        assert!(windows_to_rows(&timestamps, &[(301.0, 599.0)]).is_err());
        assert!(windows_to_rows(&timestamps, &[(2000.0, 3000.0)]).is_err());
    }

    #[test]
    fn windows_match_repeated_and_backwards_timestamps_in_file_order() {
        // a daylight-saving repeat (600 twice) and a backwards jump (1200 -> 900)
        let timestamps = [0.0, 300.0, 600.0, 600.0, 900.0, 1200.0, 900.0, 1500.0, 1800.0];
        // NAB enters at the first 600 and leaves at the first 1200 after it
        assert_eq!(windows_to_rows(&timestamps, &[(600.0, 1200.0)]).unwrap(), [Window { left: 2, right: 5 }]);
        // the next window is looked for after the previous one only
        let two = windows_to_rows(&timestamps, &[(300.0, 600.0), (900.0, 1500.0)]).unwrap();
        assert_eq!(two, [Window { left: 1, right: 2 }, Window { left: 4, right: 7 }]);
    }

    #[test]
    fn bad_windows_and_alerts_are_refused_by_name() {
        let error = score_file(10, &[Window { left: 5, right: 10 }], &[], Profile::Standard).unwrap_err();
        assert!(matches!(error, Error::InvalidParameter { field: "windows", .. }));
        let overlapping = [Window { left: 1, right: 5 }, Window { left: 5, right: 6 }];
        assert!(score_file(10, &overlapping, &[], Profile::Standard).is_err());
        let error = score_file(10, &[], &[10], Profile::Standard).unwrap_err();
        assert!(matches!(error, Error::InvalidParameter { field: "alerts", .. }));
    }
}
