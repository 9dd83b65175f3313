//! The fitted forest: flat node storage, fitting, scoring and explanations.

// ndarray's views are cheap handles; the public API takes them by value as ndarray's own does.
#![allow(clippy::needless_pass_by_value)]

use ndarray::{Array1, ArrayView2, Axis};
use rayon::prelude::*;

use crate::complete::{CompleteTrees, Slot};
use crate::math::{average_path_length, percentile};
use crate::params::{Contamination, IsolationForestParams, MaxSamples};
use crate::rng::Rng;
use crate::tree::{LEAF, RawNode, TreeSpec, grow};
use crate::{Error, Result};

/// One node of the flat forest, 16 bytes, four to a cache line: scoring reads one node per level
/// (array-of-structs keeps a node's three fields in one cache line, where separate arrays would
/// cost three lines per step).
///
/// A leaf is a node that sends every row back to itself (`threshold = +inf`, `left` = its own
/// index), so scoring walks each tree a fixed number of steps without branching on leaves.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Node {
    threshold: f64,
    feature: u32,
    /// Absolute index of the left child; the right child is `left + 1`.
    left: u32,
}

/// Rows scored together through one tree: enough independent walks to hide memory latency,
/// few enough that their rows and positions stay in L1.
const INTERLEAVE: usize = 32;
/// Most rows per parallel task: enough to amortise a task, small enough to balance big batches.
const MAX_TASK_ROWS: usize = 8192;
/// Fewest rows per parallel task (a block of the complete-tree kernel).
const MIN_TASK_ROWS: usize = 512;

/// Rows per parallel task for `rows` rows on `threads` threads: about four tasks per thread, so a
/// batch of a few thousand rows (a day of 10 s samples) still uses every core.
fn task_rows(rows: usize, threads: usize) -> usize {
    let per_task = rows.div_ceil(4 * threads.max(1));
    per_task.next_multiple_of(MIN_TASK_ROWS).clamp(MIN_TASK_ROWS, MAX_TASK_ROWS)
}

/// A fitted Isolation Forest with scikit-learn 1.9.1's semantics (see the crate docs).
#[derive(Clone, Debug, PartialEq)]
pub struct IsolationForest {
    params: IsolationForestParams,
    n_features: usize,
    max_samples: usize,
    offset: f64,
    nodes: Vec<Node>,
    /// Per node: distinct training rows that reached it.
    sizes: Vec<u32>,
    /// Per node: for a leaf, the path length scikit-learn charges a row ending there
    /// (`depth + c(size)`); 0 for internal nodes.
    leaf_values: Vec<f64>,
    /// Per tree: index of its root; the tree's nodes run up to the next root.
    roots: Vec<u32>,
    /// Per tree: its depth (edges on its longest root-to-leaf path).
    depths: Vec<u32>,
    /// The same trees laid out for batch scoring, unless the forest is too deep for it.
    complete: Option<CompleteTrees>,
}

impl IsolationForest {
    /// Grows a forest on `x` (rows are samples, columns features).
    ///
    /// # Errors
    /// [`Error::InvalidParams`] for bad parameters (naming the field), [`Error::EmptyInput`] for
    /// no rows or no columns, [`Error::NonFinite`] naming the first NaN or infinite value.
    pub fn fit(params: &IsolationForestParams, x: ArrayView2<'_, f64>) -> Result<Self> {
        Self::fit_then(params, x, |forest| {
            if matches!(forest.params.contamination, Contamination::Fraction(_)) {
                let scores = forest.score_samples(x)?;
                forest.calibrate(scores.as_slice().unwrap_or_default());
            }
            Ok(())
        })
    }

    /// [`IsolationForest::fit`], also returning the training rows' scores (scored once: the
    /// contamination offset and any summary of the training data come from the same scores).
    ///
    /// # Errors
    /// As [`IsolationForest::fit`].
    pub fn fit_scored(params: &IsolationForestParams, x: ArrayView2<'_, f64>) -> Result<(Self, Array1<f64>)> {
        let mut scores = Array1::zeros(0);
        let forest = Self::fit_then(params, x, |forest| {
            scores = forest.score_samples(x)?;
            forest.calibrate(scores.as_slice().unwrap_or_default());
            Ok(())
        })?;
        Ok((forest, scores))
    }

    /// Grows a forest and runs `then` on it, both on the fitting thread pool.
    fn fit_then(
        params: &IsolationForestParams,
        x: ArrayView2<'_, f64>,
        then: impl FnOnce(&mut Self) -> Result<()> + Send,
    ) -> Result<Self> {
        let mut params = params.check()?.get().clone();
        // The thread count is the fitting machine's: used here, never kept in the forest.
        let threads = params.threads.take();
        with_threads(threads, || {
            let mut forest = Self::grow_checked(params, x)?;
            then(&mut forest)?;
            Ok(forest)
        })?
    }

    /// Sets the offset from the training rows' scores when the contamination is a fraction
    /// (scikit-learn's `offset_ = np.percentile(scores, 100 * contamination)`).
    fn calibrate(&mut self, training_scores: &[f64]) {
        if let Contamination::Fraction(c) = self.params.contamination {
            self.offset = percentile(training_scores, 100.0 * c).unwrap_or(-0.5);
        }
    }

    /// Grows the trees with checked parameters on the current rayon pool (offset -0.5).
    fn grow_checked(params: IsolationForestParams, x: ArrayView2<'_, f64>) -> Result<Self> {
        let (n_rows, n_features) = x.dim();
        if n_rows == 0 || n_features == 0 {
            return Err(Error::EmptyInput { rows: n_rows, columns: n_features });
        }
        check_finite(x)?;
        let max_samples = match params.max_samples {
            MaxSamples::Auto => n_rows.min(256),
            MaxSamples::Count(k) => k.min(n_rows),
            MaxSamples::Fraction(f) => (f * n_rows as f64) as usize,
        };
        if max_samples == 0 {
            return Err(Error::InvalidParams {
                field: "max_samples",
                reason: format!("{} of {n_rows} rows is no row at all", params.max_samples),
            });
        }
        let spec = TreeSpec {
            x,
            rows_per_tree: max_samples,
            features_per_tree: ((params.max_features * n_features as f64) as usize).max(1),
            max_depth: height_limit(max_samples),
            bootstrap: params.bootstrap,
        };
        let trees: Vec<Vec<RawNode>> = (0..params.n_estimators)
            .into_par_iter()
            .map(|t| grow(&spec, &mut Rng::for_tree(params.seed, t)))
            .collect();
        Self::from_trees(params, n_features, max_samples, -0.5, &trees)
    }

    /// Assembles a forest from grown or loaded trees, validating their structure: at least one
    /// feature, children after their parent and inside the tree, each node reached once, no
    /// deeper than the height limit of `max_samples`, root sizes within `max_samples`, known
    /// features, finite thresholds.
    pub(crate) fn from_trees(
        params: IsolationForestParams,
        n_features: usize,
        max_samples: usize,
        offset: f64,
        trees: &[Vec<RawNode>],
    ) -> Result<Self> {
        if n_features == 0 {
            return Err(Error::Corrupt("`n_features` is 0: a forest needs at least one column".into()));
        }
        let total: usize = trees.iter().map(Vec::len).sum();
        if total >= u32::MAX as usize {
            return Err(Error::TooLarge { nodes: total });
        }
        let mut forest = Self {
            params,
            n_features,
            max_samples,
            offset,
            nodes: Vec::with_capacity(total),
            sizes: Vec::with_capacity(total),
            leaf_values: Vec::with_capacity(total),
            roots: Vec::with_capacity(trees.len()),
            depths: Vec::with_capacity(trees.len()),
            complete: None,
        };
        for (t, tree) in trees.iter().enumerate() {
            forest.push_tree(tree).map_err(|reason| Error::Corrupt(format!("tree {t}: {reason}")))?;
        }
        let depth = forest.depths.iter().copied().max().unwrap_or(0);
        if CompleteTrees::fits(depth, n_features, trees.len(), total) {
            let slots: Vec<Vec<Slot>> = (0..forest.roots.len()).map(|t| forest.slots(t)).collect();
            forest.complete = CompleteTrees::new(depth, n_features, &slots);
        }
        Ok(forest)
    }

    fn push_tree(&mut self, tree: &[RawNode]) -> Result<(), String> {
        if tree.is_empty() {
            return Err("has no node".into());
        }
        if tree[0].size as usize > self.max_samples {
            return Err(format!(
                "the root holds {} rows, more than max_samples {}",
                tree[0].size, self.max_samples
            ));
        }
        let limit = height_limit(self.max_samples);
        let base = self.nodes.len();
        let mut depth: Vec<Option<u32>> = vec![None; tree.len()];
        depth[0] = Some(0);
        for (i, node) in tree.iter().enumerate() {
            let d = depth[i].ok_or_else(|| format!("node {i} has no parent"))?;
            if node.size == 0 {
                return Err(format!("node {i} holds no row"));
            }
            let absolute = (base + i) as u32;
            if node.feature == LEAF {
                self.nodes.push(Node { threshold: f64::INFINITY, feature: 0, left: absolute });
                // scikit-learn: decision path length (root = 1) + c(size) - 1.
                self.leaf_values.push(f64::from(d + 1) + average_path_length(node.size as usize) - 1.0);
            } else {
                let left = node.left as usize;
                if left <= i || left + 1 >= tree.len() {
                    return Err(format!("node {i} has children {left}, {} outside the tree", left + 1));
                }
                if node.feature as usize >= self.n_features {
                    return Err(format!("node {i} splits on column {} of {}", node.feature, self.n_features));
                }
                if !node.threshold.is_finite() {
                    return Err(format!("node {i} has threshold {}", node.threshold));
                }
                let children = u64::from(tree[left].size) + u64::from(tree[left + 1].size);
                if children != u64::from(node.size) {
                    return Err(format!("node {i} holds {} rows, its children {children}", node.size));
                }
                if d >= limit {
                    return Err(format!(
                        "node {i} at depth {d} has children, but trees of max_samples {} stop at depth {limit}",
                        self.max_samples
                    ));
                }
                for child in [left, left + 1] {
                    if depth[child].replace(d + 1).is_some() {
                        return Err(format!("node {child} has two parents"));
                    }
                }
                self.nodes.push(Node {
                    threshold: node.threshold,
                    feature: node.feature,
                    left: (base + left) as u32,
                });
                self.leaf_values.push(0.0);
            }
            self.sizes.push(node.size);
        }
        self.roots.push(base as u32);
        self.depths.push(depth.iter().flatten().copied().max().unwrap_or(0));
        Ok(())
    }

    /// The trees in their storable form (tree-local child indices).
    pub(crate) fn raw_trees(&self) -> impl Iterator<Item = Vec<RawNode>> + '_ {
        (0..self.roots.len()).map(|t| {
            let range = self.tree_range(t);
            let base = range.start;
            range
                .map(|i| {
                    let node = self.nodes[i];
                    if node.left as usize == i {
                        RawNode { feature: LEAF, left: 0, size: self.sizes[i], threshold: 0.0 }
                    } else {
                        RawNode {
                            feature: node.feature,
                            left: (node.left as usize - base) as u32,
                            size: self.sizes[i],
                            threshold: node.threshold,
                        }
                    }
                })
                .collect()
        })
    }

    /// Tree `t` as the complete layout reads it.
    fn slots(&self, t: usize) -> Vec<Slot> {
        let range = self.tree_range(t);
        let base = range.start;
        range
            .map(|i| {
                let node = self.nodes[i];
                if node.left as usize == i {
                    Slot::Leaf(self.leaf_values[i])
                } else {
                    Slot::Split {
                        feature: node.feature,
                        threshold: node.threshold,
                        left: node.left as usize - base,
                    }
                }
            })
            .collect()
    }

    fn tree_range(&self, t: usize) -> std::ops::Range<usize> {
        let end = self.roots.get(t + 1).map_or(self.nodes.len(), |&r| r as usize);
        self.roots[t] as usize..end
    }

    /// The parameters the forest was fitted with.
    pub fn params(&self) -> &IsolationForestParams {
        &self.params
    }

    /// Number of input columns.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// Rows each tree was grown from (scikit-learn's `max_samples_`).
    pub fn max_samples(&self) -> usize {
        self.max_samples
    }

    /// The kernel batch scoring uses: `"avx512"` (padded trees, sixteen rows per instruction)
    /// where the CPU has AVX-512 and the forest is at most 12 levels deep and 256 features wide,
    /// else `"portable"` (the real trees). Both give the same bits; see [`crate::KERNEL_VARIABLE`].
    pub fn batch_kernel(&self) -> &'static str {
        if self.complete.is_some() { "avx512" } else { "portable" }
    }

    /// The decision threshold on [`IsolationForest::score_samples`] (scikit-learn's `offset_`):
    /// -0.5 for [`Contamination::Auto`], else the training scores' percentile.
    pub fn offset(&self) -> f64 {
        self.offset
    }

    /// The anomaly score of each row (scikit-learn's `score_samples`): `-2^(-mean path length /
    /// c(max_samples))`, in `[-1, 0)`; the lower, the more abnormal. Runs on the caller's rayon
    /// pool (the global one unless the caller installed another).
    ///
    /// # Errors
    /// [`Error::FeatureCount`] for a wrong number of columns, [`Error::NonFinite`] naming the
    /// first NaN or infinite value.
    pub fn score_samples(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        self.check_width(x.ncols())?;
        check_finite(x)?;
        let mut out = vec![0.0; x.nrows()];
        let task_rows = task_rows(out.len(), rayon::current_num_threads());
        let denominator = self.denominator();
        out.par_chunks_mut(task_rows).enumerate().for_each(|(task, out)| {
            let start = task * task_rows;
            let rows = x.slice(ndarray::s![start..start + out.len(), ..]);
            match rows.as_slice() {
                Some(flat) => self.path_sums(flat, out),
                None => {
                    self.path_sums(&rows.as_standard_layout().into_owned().into_raw_vec_and_offset().0, out);
                }
            }
            out.iter_mut().for_each(|sum| *sum = self.score_from_sum(*sum, denominator));
        });
        Ok(Array1::from(out))
    }

    /// `score_samples - offset` (scikit-learn's `decision_function`): negative for anomalies.
    ///
    /// # Errors
    /// As [`IsolationForest::score_samples`].
    pub fn decision_function(&self, x: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        Ok(self.score_samples(x)? - self.offset)
    }

    /// -1 for anomalies (`decision_function < 0`), 1 for normal rows.
    ///
    /// # Errors
    /// As [`IsolationForest::score_samples`].
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Array1<i64>> {
        Ok(self.decision_function(x)?.mapv(prediction))
    }

    /// [`IsolationForest::score_samples`] of one row, without allocating: the online path.
    ///
    /// # Errors
    /// [`Error::FeatureCount`] or [`Error::NonFinite`] (row 0).
    pub fn score_row(&self, row: &[f64]) -> Result<f64> {
        self.check_row(row)?;
        let sum = (0..self.roots.len()).fold(0.0, |sum, t| sum + self.leaf_values[self.leaf_of(t, row)]);
        Ok(self.score_from_sum(sum, self.denominator()))
    }

    /// [`IsolationForest::decision_function`] of one row.
    ///
    /// # Errors
    /// As [`IsolationForest::score_row`].
    pub fn decision_row(&self, row: &[f64]) -> Result<f64> {
        Ok(self.score_row(row)? - self.offset)
    }

    /// [`IsolationForest::predict`] of one row.
    ///
    /// # Errors
    /// As [`IsolationForest::score_row`].
    pub fn predict_row(&self, row: &[f64]) -> Result<i64> {
        Ok(prediction(self.decision_row(row)?))
    }

    /// Each feature's share in isolating `row`, summing to 1: along the row's path in every tree,
    /// a split on feature `f` that narrows the node's training rows from `n` to `m` credits `f`
    /// with `log2(n / m)` bits; the credits are summed over trees and normalised. A row isolated
    /// quickly by splits on `rate_of_change` gets a large `rate_of_change` share. When no split
    /// narrows anything (every tree is a single leaf), the shares are equal.
    ///
    /// # Errors
    /// As [`IsolationForest::score_row`].
    pub fn explain_row(&self, row: &[f64]) -> Result<Vec<f64>> {
        self.check_row(row)?;
        let mut credit = vec![0.0; self.n_features];
        for &root in &self.roots {
            let mut i = root as usize;
            loop {
                let node = self.nodes[i];
                if node.left as usize == i {
                    break;
                }
                let next = node.left as usize + usize::from(row[node.feature as usize] > node.threshold);
                credit[node.feature as usize] +=
                    (f64::from(self.sizes[i]) / f64::from(self.sizes[next].max(1))).log2();
                i = next;
            }
        }
        let total: f64 = credit.iter().sum();
        if total > 0.0 {
            credit.iter_mut().for_each(|c| *c /= total);
        } else {
            credit.fill(1.0 / self.n_features as f64);
        }
        Ok(credit)
    }

    /// Sum over trees of each row's path length, rows taken `INTERLEAVE` at a time through each
    /// tree for a fixed number of branch-free steps.
    fn path_sums(&self, flat: &[f64], out: &mut [f64]) {
        let d = self.n_features;
        if let Some(complete) = &self.complete {
            complete.add_path_sums(flat, out);
            return;
        }
        for (block, sums) in flat.chunks(INTERLEAVE * d).zip(out.chunks_mut(INTERLEAVE)) {
            let mut at = [0u32; INTERLEAVE];
            let at = &mut at[..sums.len()];
            for (&root, &depth) in self.roots.iter().zip(&self.depths) {
                at.fill(root);
                for _ in 0..depth {
                    for (r, i) in at.iter_mut().enumerate() {
                        let node = self.nodes[*i as usize];
                        *i = node.left + u32::from(block[r * d + node.feature as usize] > node.threshold);
                    }
                }
                for (sum, &i) in sums.iter_mut().zip(at.iter()) {
                    *sum += self.leaf_values[i as usize];
                }
            }
        }
    }

    /// The leaf `row` reaches in tree `t`.
    fn leaf_of(&self, t: usize, row: &[f64]) -> usize {
        let mut i = self.roots[t] as usize;
        for _ in 0..self.depths[t] {
            let node = self.nodes[i];
            i = node.left as usize + usize::from(row[node.feature as usize] > node.threshold);
        }
        i
    }

    fn denominator(&self) -> f64 {
        self.roots.len() as f64 * average_path_length(self.max_samples)
    }

    /// scikit-learn: `-2^(-sum / denominator)`, where a zero denominator (one sample per tree)
    /// makes the exponent -1.
    fn score_from_sum(&self, sum: f64, denominator: f64) -> f64 {
        let exponent = if denominator == 0.0 { 1.0 } else { sum / denominator };
        -(2f64.powf(-exponent))
    }

    fn check_width(&self, columns: usize) -> Result<()> {
        if columns == self.n_features {
            Ok(())
        } else {
            Err(Error::FeatureCount { expected: self.n_features, actual: columns })
        }
    }

    fn check_row(&self, row: &[f64]) -> Result<()> {
        self.check_width(row.len())?;
        match row.iter().position(|v| !v.is_finite()) {
            Some(column) => Err(Error::NonFinite { row: 0, column, value: row[column] }),
            None => Ok(()),
        }
    }
}

/// scikit-learn's `predict` rule for one `decision_function` value: `-1` (anomalous) below 0,
/// else `1`. Callers that already hold decisions derive predictions here instead of scoring twice.
///
/// ```
/// assert_eq!(aiops_iforest::prediction(-0.01), -1);
/// assert_eq!(aiops_iforest::prediction(0.0), 1);
/// ```
#[must_use]
pub fn prediction(decision: f64) -> i64 {
    if decision < 0.0 { -1 } else { 1 }
}

/// The deepest a tree grown from `max_samples` rows may be: `ceil(log2(max(max_samples, 2)))`,
/// scikit-learn's `max_depth`.
pub(crate) fn height_limit(max_samples: usize) -> u32 {
    u64::BITS - (max_samples.max(2) as u64 - 1).leading_zeros()
}

/// Refuses NaN and infinities, naming the first (row-major order).
fn check_finite(x: ArrayView2<'_, f64>) -> Result<()> {
    for (row, values) in x.axis_iter(Axis(0)).enumerate() {
        if let Some(column) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { row, column, value: values[column] });
        }
    }
    Ok(())
}

/// Runs `work` on a pool of `threads` workers, or on rayon's global pool.
fn with_threads<T: Send>(threads: Option<usize>, work: impl FnOnce() -> T + Send) -> Result<T> {
    match threads {
        None => Ok(work()),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| Error::InvalidParams { field: "threads", reason: e.to_string() })?;
            Ok(pool.install(work))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::task_rows;

    #[test]
    fn task_rows_spread_a_day_of_samples_over_every_thread_and_cap_big_batches() {
        // (rows, threads, rows per task)
        let table = [(10, 2, 512), (8_640, 2, 1_536), (8_640, 1, 2_560), (1_000_000, 2, 8_192), (0, 4, 512)];
        for (rows, threads, expected) in table {
            assert_eq!(task_rows(rows, threads), expected, "{rows} rows on {threads} threads");
        }
    }
}
