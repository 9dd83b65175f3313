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
/// (`values` need not be sorted; `None` when empty or `percent` is outside `[0, 100]`).
///
/// ```
/// assert_eq!(aiops_iforest::percentile(&[4.0, 1.0, 3.0, 2.0], 50.0), Some(2.5));
/// ```
pub fn percentile(values: &[f64], percent: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=100.0).contains(&percent) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let quantile = percent / 100.0;
    let last = sorted.len() - 1;
    let virtual_index = last as f64 * quantile;
    if virtual_index >= last as f64 {
        return Some(sorted[last]);
    }
    let previous = virtual_index.floor();
    let gamma = virtual_index - previous;
    let (a, b) = (sorted[previous as usize], sorted[previous as usize + 1]);
    let difference = b - a;
    // numpy's `_lerp`: from the nearer end, so that gamma = 1 gives `b` exactly.
    Some(if gamma >= 0.5 { b - difference * (1.0 - gamma) } else { a + difference * gamma })
}
