//! A detector's saved state on arbitrary bytes (`aiops watch`'s state file holds one per
//! series): refused, or accepted and then it takes hostile points without a panic and saves to
//! JSON that loads back as the same state (the invariants are shared with the seeded mutation
//! test of `crates/incidents`).
#![no_main]

#[path = "../../crates/incidents/tests/incidents/invariants.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    invariants::check_json(data);
});
