//! The model loader on arbitrary bytes: `Model::from_bytes` returns an error or a model, never
//! panics, aborts or allocates without bound; a model that loads scores, explains and round-trips.
//!
//! Most random bytes fail the checksum, so the target also re-signs the input: when the input
//! starts with the model magic, its last 32 bytes are replaced by the SHA-256 of the rest, so the
//! fuzzer explores the header and tree checks behind the checksum.
#![no_main]

use aiops_iforest::{MAGIC, Model};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.starts_with(MAGIC) && data.len() > 32 {
        let mut signed = data.to_vec();
        let body = signed.len() - 32;
        let digest = Sha256::digest(&signed[..body]);
        signed[body..].copy_from_slice(&digest);
        check(&signed);
    }
});

fn check(bytes: &[u8]) {
    let Ok(model) = Model::from_bytes(bytes) else { return };
    let width = model.forest.n_features();
    let row = vec![0.5; width];
    model.forest.score_row(&row).expect("a loaded model scores a finite row");
    model.forest.explain_row(&row).expect("a loaded model explains a finite row");
    let batch = ndarray::Array2::from_elem((33, width), -0.25);
    model.forest.score_samples(batch.view()).expect("a loaded model scores a batch");
    assert_eq!(Model::from_bytes(&model.to_bytes()).expect("a saved model loads"), model);
}
