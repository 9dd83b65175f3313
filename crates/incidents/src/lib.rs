//! Incidents, not points: turns per-point anomaly scores into incidents (onset, end, peak,
//! severity, explanation) with merging and blip suppression, and runs a causal streaming detector
//! that trains, scores and retrains on a live series without ever looking at future data.
//! The crate does no I/O.
