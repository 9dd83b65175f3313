//! A from-scratch Isolation Forest with scikit-learn 1.9.1's semantics (`sklearn.ensemble.IsolationForest`):
//! the same parameters and the same meaning of every output, a flat cache-friendly tree layout,
//! parallel fitting and scoring, per-feature explanations, and a versioned, checksummed model file
//! that never executes anything when loaded. The crate does no I/O.
