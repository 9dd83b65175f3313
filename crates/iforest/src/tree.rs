//! Growing one isolation tree: scikit-learn's `ExtraTreeRegressor(max_features=1,
//! splitter="random")` as `IsolationForest` configures it.
//!
//! At each node a feature is drawn uniformly among those not constant in the node (when all are
//! constant the node is a leaf), the threshold uniformly in `[min, max)` of that feature in the
//! node, rows with `x <= threshold` go left. A node is a leaf when it holds one row or sits at the
//! depth limit. Children are stored next to each other (`right = left + 1`), after their parent.

use std::collections::HashSet;

use ndarray::ArrayView2;

use crate::rng::Rng;

/// Marks a leaf in [`RawNode::feature`].
pub(crate) const LEAF: u32 = u32::MAX;

/// One node as grown and as stored in a model file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RawNode {
    /// Column split on, or [`LEAF`].
    pub(crate) feature: u32,
    /// Index of the left child within the tree (the right child follows it); 0 for a leaf.
    pub(crate) left: u32,
    /// Number of distinct training rows that reached the node.
    pub(crate) size: u32,
    /// Split threshold (`x <= threshold` goes left); 0 for a leaf.
    pub(crate) threshold: f64,
}

/// What a tree is grown from.
pub(crate) struct TreeSpec<'a> {
    pub(crate) x: ArrayView2<'a, f64>,
    pub(crate) rows_per_tree: usize,
    pub(crate) features_per_tree: usize,
    pub(crate) max_depth: u32,
    pub(crate) bootstrap: bool,
}

/// Grows the tree whose random choices come from `rng`.
pub(crate) fn grow(spec: &TreeSpec<'_>, rng: &mut Rng) -> Vec<RawNode> {
    let n_columns = spec.x.ncols();
    let features = if spec.features_per_tree < n_columns {
        sample_without_replacement(rng, n_columns, spec.features_per_tree)
    } else {
        (0..n_columns).collect()
    };
    let mut rows = if spec.bootstrap {
        sample_with_replacement_distinct(rng, spec.x.nrows(), spec.rows_per_tree)
    } else {
        sample_without_replacement(rng, spec.x.nrows(), spec.rows_per_tree)
    };
    // The tree only depends on the set of rows; sorting makes the gather below cache-friendly.
    rows.sort_unstable();
    let m = rows.len();
    // Column-major copy of the sample: columns[f * m + i] is feature f of sampled row i.
    let mut columns = vec![0.0; m * features.len()];
    for (i, &row) in rows.iter().enumerate() {
        for (f, &column) in features.iter().enumerate() {
            columns[f * m + i] = spec.x[[row, column]];
        }
    }
    Grower { columns: &columns, m, features: &features, max_depth: spec.max_depth }.grow(rng)
}

struct Grower<'a> {
    columns: &'a [f64],
    m: usize,
    features: &'a [usize],
    max_depth: u32,
}

impl Grower<'_> {
    fn grow(&self, rng: &mut Rng) -> Vec<RawNode> {
        let mut order: Vec<u32> = (0..self.m as u32).collect();
        let mut nodes = vec![leaf(self.m)];
        let mut candidates: Vec<usize> = Vec::with_capacity(self.features.len());
        // (node, first row in `order`, end, depth)
        let mut stack = vec![(0usize, 0usize, self.m, 0u32)];
        while let Some((node, start, end, depth)) = stack.pop() {
            if end - start < 2 || depth >= self.max_depth {
                continue;
            }
            let rows = &mut order[start..end];
            let Some((f, threshold)) = self.draw_split(rows, &mut candidates, rng) else {
                continue;
            };
            let column = &self.columns[f * self.m..(f + 1) * self.m];
            let n_left = partition(rows, |i| column[i as usize] <= threshold);
            let left = nodes.len();
            nodes[node] = RawNode {
                feature: self.features[f] as u32,
                left: left as u32,
                size: (end - start) as u32,
                threshold,
            };
            nodes.push(leaf(n_left));
            nodes.push(leaf(end - start - n_left));
            // Right pushed first so the left subtree is grown (and draws its randomness) first.
            stack.push((left + 1, start + n_left, end, depth + 1));
            stack.push((left, start, start + n_left, depth + 1));
        }
        nodes
    }

    /// Draws a feature uniformly among those not constant over `rows` and a threshold uniformly
    /// in `[min, max)`; `None` when every feature is constant there.
    fn draw_split(&self, rows: &[u32], candidates: &mut Vec<usize>, rng: &mut Rng) -> Option<(usize, f64)> {
        candidates.clear();
        candidates.extend(0..self.features.len());
        while !candidates.is_empty() {
            let f = candidates.swap_remove(rng.below(candidates.len()));
            let column = &self.columns[f * self.m..(f + 1) * self.m];
            let (min, max) = rows.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &i| {
                let v = column[i as usize];
                (lo.min(v), hi.max(v))
            });
            if max > min {
                return Some((f, uniform_threshold(min, max, rng.uniform())));
            }
        }
        None
    }
}

/// A leaf holding `size` rows.
fn leaf(size: usize) -> RawNode {
    RawNode { feature: LEAF, left: 0, size: size as u32, threshold: 0.0 }
}

/// `min + u (max - min)`, kept in `[min, max)` so that both children get rows, also when
/// `max - min` overflows (huge magnitudes of both signs) or rounding lands on `max`.
fn uniform_threshold(min: f64, max: f64, u: f64) -> f64 {
    let span = max - min;
    let threshold = if span.is_finite() { min + span * u } else { min * (1.0 - u) + max * u };
    if threshold >= min && threshold < max { threshold } else { min }
}

/// Moves the rows satisfying `goes_left` to the front; returns how many there are.
fn partition(rows: &mut [u32], goes_left: impl Fn(u32) -> bool) -> usize {
    let mut n_left = 0;
    for i in 0..rows.len() {
        if goes_left(rows[i]) {
            rows.swap(i, n_left);
            n_left += 1;
        }
    }
    n_left
}

/// `k` distinct integers in `[0, n)` (`k <= n`), in O(k) expected time whatever `n` (Floyd's
/// algorithm), in an order fixed by `rng`.
pub(crate) fn sample_without_replacement(rng: &mut Rng, n: usize, k: usize) -> Vec<usize> {
    if k >= n {
        return (0..n).collect();
    }
    let mut chosen = HashSet::with_capacity(k);
    let mut out = Vec::with_capacity(k);
    for j in n - k..n {
        let t = rng.below(j + 1);
        let pick = if chosen.insert(t) { t } else { j };
        chosen.insert(pick);
        out.push(pick);
    }
    out
}

/// `k` draws with replacement from `[0, n)`, duplicates dropped: scikit-learn grows a bootstrap
/// tree from sample weights, so a row drawn twice is one row of weight 2 and counts once in a
/// node's size.
fn sample_with_replacement_distinct(rng: &mut Rng, n: usize, k: usize) -> Vec<usize> {
    let mut seen = HashSet::with_capacity(k);
    (0..k).map(|_| rng.below(n)).filter(|&row| seen.insert(row)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floyd_draws_distinct_rows_in_range() {
        let mut rng = Rng::for_tree(1, 0);
        for (n, k) in [(10, 10), (10, 3), (1_000_000, 256), (5, 4)] {
            let rows = sample_without_replacement(&mut rng, n, k);
            let distinct: HashSet<_> = rows.iter().copied().collect();
            assert_eq!((rows.len(), distinct.len()), (k, k));
            assert!(rows.iter().all(|&r| r < n));
        }
    }

    #[test]
    fn threshold_stays_within_min_inclusive_max_exclusive() {
        for (min, max) in [(0.0, 1.0), (-f64::MAX, f64::MAX), (1.0, 1.0 + f64::EPSILON), (-1e-300, 1e-300)] {
            for u in [0.0, 0.5, 1.0 - f64::EPSILON / 2.0] {
                let t = uniform_threshold(min, max, u);
                assert!(t >= min && t < max, "{min} {max} {u} -> {t}");
            }
        }
    }
}
