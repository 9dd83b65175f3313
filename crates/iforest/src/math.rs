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
    percentiles(values, &[percent])[0]
}

/// [`percentile`] at each of `percents` (`None` where [`percentile`] gives `None`). The order
/// statistics they need are selected in one pass of nested partitions (about `n log k` work for
/// `k` percentiles), not sorted for.
///
/// ```
/// let at = aiops_iforest::percentiles(&[4.0, 1.0, 3.0, 2.0], &[0.0, 50.0, 100.0, 101.0]);
/// assert_eq!(at, [Some(1.0), Some(2.5), Some(4.0), None]);
/// ```
pub fn percentiles(values: &[f64], percents: &[f64]) -> Vec<Option<f64>> {
    let positions: Vec<Option<Position>> = percents.iter().map(|&p| Position::of(values.len(), p)).collect();
    let mut ranks: Vec<usize> = positions
        .iter()
        .flatten()
        .flat_map(|at| [at.previous, at.previous + usize::from(at.gamma.is_some())])
        .collect();
    ranks.sort_unstable();
    ranks.dedup();
    let mut ordered = values.to_vec();
    select_ranks(&mut ordered, &ranks);
    positions
        .iter()
        .map(|at| {
            let at = at.as_ref()?;
            let b = ordered.get(at.previous + 1).copied().unwrap_or(ordered[at.previous]);
            Some(at.interpolate(ordered[at.previous], b))
        })
        .collect()
}

/// Puts the `r`-th smallest of `values` (by `total_cmp`) at index `r` for every `r` in `ranks`
/// (ascending, distinct, below `values.len()`): a selection at the middle rank splits the rest
/// into two independent halves. Unstable selection is exact here: values equal under
/// `total_cmp` have the same bits.
fn select_ranks(values: &mut [f64], ranks: &[usize]) {
    let Some(&middle) = ranks.get(ranks.len() / 2) else { return };
    let (below, _, above) = values.select_nth_unstable_by(middle, f64::total_cmp);
    let (lower, higher) = ranks.split_at(ranks.len() / 2);
    select_ranks(below, lower);
    let higher: Vec<usize> = higher[1..].iter().map(|r| r - middle - 1).collect();
    select_ranks(above, &higher);
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The nested selections give what one full sort gives, for any percents in any order
        /// (repeated, out of range, adjacent ranks) over values with many ties.
        #[test]
        fn selecting_many_ranks_matches_sorting(
            values in prop::collection::vec((-4i8..4).prop_map(|v| f64::from(v) * 0.5), 0..300),
            percents in prop::collection::vec(-1.0f64..101.0, 0..12),
        ) {
            let mut sorted = values.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            let by_sorting: Vec<Option<u64>> = percents
                .iter()
                .map(|&p| {
                    let at = Position::of(sorted.len(), p)?;
                    let b = sorted.get(at.previous + 1).copied().unwrap_or(sorted[at.previous]);
                    Some(at.interpolate(sorted[at.previous], b).to_bits())
                })
                .collect();
            let selected: Vec<Option<u64>> =
                percentiles(&values, &percents).into_iter().map(|v| v.map(f64::to_bits)).collect();
            prop_assert_eq!(selected, by_sorting);
        }
    }
}
