//! Fit and score timings on 1,000,000 x 5 standard-normal rows (100 trees, 256 samples per tree),
//! printed as one JSON line for `benches/iforest_vs_sklearn.py`, which runs scikit-learn and
//! isotree on the same workload in the same run.

use std::time::Instant;

use aiops_iforest::{IsolationForest, IsolationForestParams};
use ndarray::Array2;

const ROWS: usize = 1_000_000;
const COLUMNS: usize = 5;
const REPEATS: usize = 5;

/// Standard-normal data from xorshift64* and Box-Muller (the forest's own generator is private).
fn standard_normal(rows: usize, columns: usize) -> Array2<f64> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        ((state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    Array2::from_shape_simple_fn((rows, columns), || {
        (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos()
    })
}

/// Best wall time of `REPEATS` runs, in seconds.
fn best_of<T>(mut run: impl FnMut() -> T) -> f64 {
    (0..REPEATS)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(run());
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let x = standard_normal(ROWS, COLUMNS);
    // contamination=auto, as scikit-learn's reference fit time (no scoring of the training set).
    let params = IsolationForestParams { seed: 42, ..IsolationForestParams::default() };
    let fit = best_of(|| IsolationForest::fit(&params, x.view()).expect("fit"));
    let forest = IsolationForest::fit(&params, x.view()).expect("fit");
    let score = best_of(|| forest.score_samples(x.view()).expect("score"));
    let row = x.row(0).to_vec();
    let single =
        best_of(|| (0..10_000).map(|_| forest.score_row(&row).expect("score_row")).sum::<f64>()) / 10_000.0;
    println!(
        "{{\"rows\": {ROWS}, \"columns\": {COLUMNS}, \"threads\": {}, \"kernel\": \"{}\", \"fit_s\": {fit}, \"score_s\": {score}, \"score_row_s\": {single}}}",
        rayon::current_num_threads(),
        forest.batch_kernel()
    );
}
