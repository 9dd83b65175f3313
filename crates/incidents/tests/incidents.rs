//! Integration tests of `aiops-incidents` through its public API.

#[path = "incidents/invariants.rs"]
mod invariants;

use aiops_incidents::{CheckedDetectorParams, StreamingDetector};
use aiops_testkit::mutate::{Mutator, json_variants};

/// A detector after `rows` points `step` seconds apart of a daily wave with some noise and a
/// jump at `rows - 20` (an incident open at the end), plus a missing value.
fn detector_after(rows: usize, step: f64) -> StreamingDetector {
    let mut detector = StreamingDetector::new(&CheckedDetectorParams::default());
    let mut state = 99_u64;
    for row in 0..rows {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let wave = 50.0 + 20.0 * (row as f64 * step / 86_400.0 * std::f64::consts::TAU).sin();
        let value = match row {
            _ if row == rows / 2 => f64::NAN,
            _ if row + 20 >= rows => wave + 60.0,
            _ => wave + (state % 1000) as f64 / 250.0,
        };
        detector.push(1_796_083_200.0 + step * row as f64, value);
    }
    detector
}

/// The deterministic half of fuzzing the detector's saved state (the other half is
/// `fuzz/fuzz_targets/detector_state.rs`), run by every `cargo test`: states saved after 5-minute
/// and 1-minute points (an incident open) and a fresh one, each number set to each extreme value
/// and each member removed, then 20,000 seeded byte-level mutations of their JSON; each is
/// refused or accepted, never a panic, and an accepted one takes hostile points and still saves
/// and loads back.
#[test]
fn every_mutation_of_a_saved_detector_state_is_refused_or_runs_and_saves() {
    let seeds: Vec<serde_json::Value> =
        [detector_after(0, 300.0), detector_after(700, 300.0), detector_after(1500, 60.0)]
            .iter()
            .map(|detector| serde_json::to_value(detector).unwrap())
            .collect();
    for seed in &seeds {
        let state: StreamingDetector = serde_json::from_value(seed.clone()).unwrap();
        assert!(invariants::check_state(state), "a saved state is accepted: {seed}");
    }
    let (mut tried, mut accepted) = (0, 0);
    for variant in seeds.iter().flat_map(json_variants) {
        accepted += usize::from(invariants::check_json(&serde_json::to_vec(&variant).unwrap()));
        tried += 1;
    }
    let texts: Vec<Vec<u8>> = seeds.iter().map(|s| serde_json::to_vec(s).unwrap()).collect();
    let texts: Vec<&[u8]> = texts.iter().map(Vec::as_slice).collect();
    for text in Mutator::new(13).variants(&texts, 20_000) {
        accepted += usize::from(invariants::check_json(&text));
        tried += 1;
    }
    assert!(tried > 20_000 && accepted > 1_000, "{accepted} of {tried} variants accepted");
}
