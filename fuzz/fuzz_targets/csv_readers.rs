//! The CSV readers of `aiops-artifacts` on arbitrary bytes: the data CSV reader
//! (`series::parse_series`, in every order mode) and the table reader (`table::parse_table`)
//! return a value or an error naming the line, never panic; what they accept is consistent and
//! reads back the same when written (the invariants are shared with the seeded mutation test of
//! `crates/artifacts`).
#![no_main]

#[path = "../../crates/artifacts/tests/artifacts/invariants.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    invariants::check_csv(data);
});
