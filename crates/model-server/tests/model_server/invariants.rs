//! What the v2 request decoder guarantees on any bytes, checked by the seeded mutation test in
//! `model_server.rs` and by the cargo-fuzz target `fuzz/fuzz_targets/v2_request.rs` (which
//! includes this file): [`aiops_model_server::infer::parse`] returns a batch or an error, never
//! panics; a batch holds exactly `rows x features` finite values and at least one output; and
//! the batch written back as a request decodes to the same batch.

use aiops_kserve_client::{InferenceRequest, Parameters, RequestedOutput, Tensor};
use aiops_model_server::infer::parse;

/// Model widths each body is decoded for: one column, a few, the reference features.
pub const WIDTHS: [usize; 3] = [1, 2, 5];

/// Decodes `body` for a model of each of [`WIDTHS`], checks what an accepted batch must be, and
/// returns for how many widths it was accepted.
pub fn check_request(body: &[u8]) -> usize {
    let mut accepted = 0;
    for features in WIDTHS {
        let Ok(batch) = parse(body, features) else { continue };
        accepted += 1;
        assert_eq!(batch.columns(), features);
        assert_eq!(batch.values().len(), batch.rows() * features);
        assert!(batch.values().iter().all(|v| v.is_finite()), "a non-finite value was accepted");
        assert!(!batch.outputs().is_empty(), "a batch without outputs");
        let again = InferenceRequest {
            id: batch.id().map(str::to_owned),
            parameters: Parameters::new(),
            inputs: vec![Tensor::fp64(
                "input-0",
                vec![batch.rows() as i64, features as i64],
                batch.values().to_vec(),
            )],
            outputs: Some(batch.outputs().iter().map(|o| RequestedOutput::new(o.name())).collect()),
        };
        let bytes = serde_json::to_vec(&again).expect("a request serializes");
        assert_eq!(
            parse(&bytes, features).as_ref(),
            Ok(&batch),
            "the re-encoded request decodes differently"
        );
    }
    accepted
}
