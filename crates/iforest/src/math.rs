//! The two formulas scikit-learn's results hinge on, with its exact sequence of operations.

/// Euler-Mascheroni constant (`np.euler_gamma`).
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Average path length of an unsuccessful search in a binary search tree of `n` points, the
/// expected depth still to go in a leaf holding `n` rows (scikit-learn's `_average_path_length`):
/// `c(n) = 2 (ln(n - 1) + gamma) - 2 (n - 1) / n`, `c(2) = 1`, `c(n <= 1) = 0`.
///
/// ```
/// assert_eq!(aiops_iforest::average_path_length(1), 0.0);
/// assert_eq!(aiops_iforest::average_path_length(2), 1.0);
/// assert_eq!(aiops_iforest::average_path_length(256), 10.244770920119917); // scikit-learn's value
/// ```
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// numpy's `np.percentile(values, percent)` with the default linear interpolation, bit for bit
/// (`values` need not be sorted; `None` when empty or `percent` is outside `[0, 100]`; numpy
/// does not order `-0.0` before `0.0`, so a zero result may differ in sign). Linear
/// time: the two order statistics it needs are selected, not sorted for.
///
/// ```
/// assert_eq!(aiops_iforest::percentile(&[4.0, 1.0, 3.0, 2.0], 50.0), Some(2.5));
/// ```
pub fn percentile(values: &[f64], percent: f64) -> Option<f64> {
    let at = Position::of(values.len(), percent)?;
    let mut scratch = values.to_vec();
    let (_, &mut a, above) = scratch.select_nth_unstable_by(at.previous, f64::total_cmp);
    let b = above.iter().copied().min_by(f64::total_cmp).unwrap_or(a);
    Some(at.interpolate(a, b))
}

/// [`percentile`] at each of `percents`, sorting `values` once (`None` where [`percentile`]
/// gives `None`).
///
/// ```
/// let at = aiops_iforest::percentiles(&[4.0, 1.0, 3.0, 2.0], &[0.0, 50.0, 100.0, 101.0]);
/// assert_eq!(at, [Some(1.0), Some(2.5), Some(4.0), None]);
/// ```
pub fn percentiles(values: &[f64], percents: &[f64]) -> Vec<Option<f64>> {
    let mut sorted = values.to_vec();
    // Unstable is exact here: values equal under `total_cmp` have the same bits.
    sorted.sort_unstable_by(f64::total_cmp);
    percents
        .iter()
        .map(|&percent| {
            let at = Position::of(sorted.len(), percent)?;
            let b = sorted.get(at.previous + 1).copied().unwrap_or(sorted[at.previous]);
            Some(at.interpolate(sorted[at.previous], b))
        })
        .collect()
}

/// Where numpy's linear rule puts a percentile among `len` sorted values: between the
/// `previous`-th and the next, `gamma` of the way (`None`: the last value itself).
struct Position {
    previous: usize,
    gamma: Option<f64>,
}

impl Position {
    fn of(len: usize, percent: f64) -> Option<Self> {
        if len == 0 || !(0.0..=100.0).contains(&percent) {
            return None;
        }
        let last = len - 1;
        let virtual_index = last as f64 * (percent / 100.0);
        if virtual_index >= last as f64 {
            return Some(Self { previous: last, gamma: None });
        }
        let previous = virtual_index.floor();
        Some(Self { previous: previous as usize, gamma: Some(virtual_index - previous) })
    }

    /// The value `gamma` of the way from `a` (the `previous`-th) to `b` (the next).
    fn interpolate(&self, a: f64, b: f64) -> f64 {
        let Some(gamma) = self.gamma else { return a };
        let difference = b - a;
        // numpy's `_lerp`: from the nearer end, so that gamma = 1 gives `b` exactly.
        if gamma >= 0.5 { b - difference * (1.0 - gamma) } else { a + difference * gamma }
    }
}
