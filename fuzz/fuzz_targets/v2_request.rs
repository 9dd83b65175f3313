//! The Open Inference Protocol v2 request decoder of `aiops serve-model` on arbitrary bytes:
//! `aiops_model_server::infer::parse` returns a batch or an error, never panics; an accepted batch
//! has `rows x features` finite values and round-trips (the invariants are shared with the
//! seeded mutation test of `crates/model-server`).
#![no_main]

#[path = "../../crates/model-server/tests/model_server/invariants.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    invariants::check_request(data);
});
