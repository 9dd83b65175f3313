//! Batch and streaming features of a 1,000,000-point series.
//!
//! The series is the one `benches/features_vs_pandas.py` gives pandas: one-decimal CPU
//! percentages with repeats and a missing value every 997 points, every 15 s from 2023-11-14.
//! Run with `cargo bench -p aiops-features --bench features`.

use std::hint::black_box;

use aiops_features::FeatureSchema;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;

const POINTS: usize = 1_000_000;

/// The shared benchmark series (keep in sync with `benches/features_vs_pandas.py`).
fn series() -> (Vec<f64>, Vec<f64>) {
    (0..POINTS as u64)
        .map(|i| {
            let timestamp = (1_700_000_000 + 15 * i) as f64;
            let hash = i.wrapping_mul(2_654_435_761) % (1 << 32);
            let value = if i % 997 == 0 { f64::NAN } else { (hash % 1001) as f64 / 10.0 };
            (timestamp, value)
        })
        .unzip()
}

fn features(c: &mut Criterion) {
    let (timestamps, values) = series();
    let schema = FeatureSchema::reference();
    let mut group = c.benchmark_group("features_1m");
    group.throughput(Throughput::Elements(POINTS as u64));
    group.sample_size(20);
    group.bench_function("batch", |b| b.iter(|| schema.compute(black_box(&timestamps), black_box(&values))));
    group.bench_function("streaming", |b| {
        b.iter(|| {
            let mut stream = schema.streaming();
            let mut last = [0.0; 5];
            for (&t, &v) in timestamps.iter().zip(&values) {
                last = stream.push(t, v).expect("valid timestamps");
            }
            black_box(last)
        });
    });
    let mut out = Array2::<f64>::zeros((POINTS, 5));
    group.bench_function("batch_into_reused_buffer", |b| {
        b.iter(|| schema.compute_into(black_box(&timestamps), black_box(&values), out.view_mut()));
    });
    group.finish();
}

criterion_group!(benches, features);
criterion_main!(benches);
