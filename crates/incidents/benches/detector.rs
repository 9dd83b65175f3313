//! Streaming cost of the incident detector: points per second per core, and state per series.
//!
//! A 1,000,000-point series of 5-minute samples (a daily wave, deterministic noise, a level shift
//! every 10,000 points) pushed through one `StreamingDetector`, single-threaded.
//! Run with `cargo bench -p aiops-incidents --bench detector`; the state size is printed first.

use std::hint::black_box;

use aiops_incidents::{CheckedDetectorParams, StreamingDetector};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const POINTS: usize = 1_000_000;

fn series() -> (Vec<f64>, Vec<f64>) {
    (0..POINTS as u64)
        .map(|i| {
            let timestamp = (1_700_000_000 + 300 * i) as f64;
            let hash = i.wrapping_mul(2_654_435_761) % (1 << 32);
            let wave = (i as f64 * std::f64::consts::TAU / 288.0).sin();
            let shift = if i % 10_000 < 20 { 5.0 } else { 0.0 };
            (timestamp, 50.0 + 10.0 * wave + (hash % 1001) as f64 / 500.0 + shift)
        })
        .unzip()
}

fn detector(c: &mut Criterion) {
    let (timestamps, values) = series();
    let params = CheckedDetectorParams::default();
    println!("state per series: {} bytes", StreamingDetector::new(&params).state_bytes());
    let mut group = c.benchmark_group("detector_1m");
    group.throughput(Throughput::Elements(POINTS as u64));
    group.sample_size(10);
    group.bench_function("streaming", |b| {
        b.iter(|| {
            let mut detector = StreamingDetector::new(&params);
            let mut alerts = 0usize;
            for (&t, &v) in timestamps.iter().zip(&values) {
                alerts += usize::from(detector.push(t, v).events.alert.is_some());
            }
            black_box(alerts)
        });
    });
    group.finish();
}

criterion_group!(benches, detector);
criterion_main!(benches);
