//! What a detector state read back guarantees on any input (`aiops watch`'s state file holds one
//! per series), checked by the seeded mutation test in `incidents.rs` and by the cargo-fuzz
//! target `fuzz/fuzz_targets/detector_state.rs` (which includes this file): a state that passes
//! [`StreamingDetector::is_consistent`] takes any points without a panic, and what it becomes
//! saves to JSON that loads back as the same state (no number ran off to infinity or NaN).

use aiops_incidents::StreamingDetector;

/// 2026-12-01 00:00 UTC.
const T0: f64 = 1_796_083_200.0;

/// Points every accepted state is fed: ordinary values and a spike, a repeated, a backwards and
/// a far timestamp, missing, infinite and out-of-range values, the largest values taken.
const POINTS: [(f64, f64); 14] = [
    (T0, 10.0),
    (T0 + 300.0, 11.0),
    (T0 + 600.0, 250.0),
    (T0 + 600.0, 12.0),
    (T0 + 300.0, 10.5),
    (T0 + 900.0, f64::NAN),
    (T0 + 1200.0, f64::INFINITY),
    (T0 + 1500.0, 1e300),
    (T0 + 1800.0, 1e100),
    (T0 + 2100.0, -1e100),
    (f64::MAX, 10.0),
    (-f64::MAX, 10.0),
    (f64::NAN, 10.0),
    (T0 + 2400.0, 10.0),
];

/// Checks `bytes` as a saved detector state; returns whether it was accepted.
pub fn check_json(bytes: &[u8]) -> bool {
    match serde_json::from_slice::<StreamingDetector>(bytes) {
        Ok(detector) => check_state(detector),
        Err(_) => false,
    }
}

/// Feeds [`POINTS`] to `detector` when it is consistent; returns whether it was.
pub fn check_state(mut detector: StreamingDetector) -> bool {
    if !detector.is_consistent() {
        return false;
    }
    for (timestamp, value) in POINTS {
        let outcome = detector.push(timestamp, value);
        assert!(
            !(outcome.raw.is_infinite() || outcome.surprise.is_infinite() || outcome.decision.is_infinite()),
            "({timestamp}, {value}): {outcome:?}"
        );
    }
    let saved = serde_json::to_string(&detector).expect("a detector state serialises");
    let restored: StreamingDetector = serde_json::from_str(&saved)
        .unwrap_or_else(|error| panic!("a state fed from a consistent one loads back ({error}): {saved}"));
    assert_eq!(restored, detector, "{saved}");
    true
}
