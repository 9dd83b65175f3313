//! Streaming cost of the incident detector: points per second per core, and state per series.
//!
//! A 1,000,000-point series of 5-minute samples (a daily wave, deterministic noise, a level shift
//! every 10,000 points) pushed through one `StreamingDetector`, single-threaded; then the same
//! values 15 seconds apart (the largest time scale: the detector averages 5 times more scores).
//! Run with `cargo bench -p aiops-incidents --bench detector`; the state sizes are printed first
//! (at 15 seconds, after the stream).

use std::hint::black_box;

use aiops_incidents::{CheckedDetectorParams, StreamingDetector};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const POINTS: usize = 1_000_000;

fn series(step: u64) -> (Vec<f64>, Vec<f64>) {
    (0..POINTS as u64)
        .map(|i| {
            let timestamp = (1_700_000_000 + step * i) as f64;
            let hash = i.wrapping_mul(2_654_435_761) % (1 << 32);
            let wave = (i as f64 * std::f64::consts::TAU / 288.0).sin();
            let shift = if i % 10_000 < 20 { 5.0 } else { 0.0 };
            (timestamp, 50.0 + 10.0 * wave + (hash % 1001) as f64 / 500.0 + shift)
        })
        .unzip()
}

/// Pushes the whole series through a new detector; returns it and the number of alerts.
fn stream(params: &CheckedDetectorParams, timestamps: &[f64], values: &[f64]) -> (StreamingDetector, usize) {
    let mut detector = StreamingDetector::new(params);
    let mut alerts = 0usize;
    for (&t, &v) in timestamps.iter().zip(values) {
        alerts += usize::from(detector.push(t, v).events.alert.is_some());
    }
    (detector, alerts)
}

fn detector(c: &mut Criterion) {
    let params = CheckedDetectorParams::default();
    println!("state per series: {} bytes", StreamingDetector::new(&params).state_bytes());
    let mut group = c.benchmark_group("detector_1m");
    group.throughput(Throughput::Elements(POINTS as u64));
    group.sample_size(10);
    for (name, step) in [("streaming", 300), ("streaming_15s", 15)] {
        let (timestamps, values) = series(step);
        if step == 15 {
            let state = stream(&params, &timestamps, &values).0.state_bytes();
            println!("state per series at 15 s: {state} bytes");
        }
        group.bench_function(name, |b| b.iter(|| black_box(stream(&params, &timestamps, &values).1)));
    }
    group.finish();
}

criterion_group!(benches, detector);
criterion_main!(benches);
