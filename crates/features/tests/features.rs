//! Integration tests of `aiops-features`: the pandas 2.3.3 oracle, properties, and table tests
//! that read like the spec.

#[path = "features/generator.rs"]
mod generator;
#[path = "features/oracle.rs"]
mod oracle;
#[path = "features/properties.rs"]
mod properties;

use aiops_features::{FeatureSchema, REFERENCE_COLUMNS};

#[test]
fn reference_schema_has_the_reference_columns_and_window() {
    let schema = FeatureSchema::reference();
    assert_eq!(schema.columns, REFERENCE_COLUMNS);
    assert_eq!(schema.window, 5);
}

#[test]
fn a_zero_window_set_by_hand_is_refused_not_a_panic() {
    let schema = FeatureSchema { window: 0, ..FeatureSchema::reference() };
    let refused = |e: &aiops_features::Error| {
        matches!(e, aiops_features::Error::InvalidParameter { field: "window", .. })
    };
    assert!(schema.compute(&[0.0], &[1.0]).as_ref().is_err_and(refused));
    assert!(schema.streaming().push(0.0, 1.0).as_ref().is_err_and(refused));
}

#[test]
fn a_window_of_2_pow_45_is_refused_without_allocating_it() {
    let refused = |e: &aiops_features::Error| {
        matches!(e, aiops_features::Error::InvalidParameter { field: "window", .. })
    };
    assert!(FeatureSchema::with_window(1 << 45).as_ref().is_err_and(refused));
    assert!(FeatureSchema::with_window(aiops_features::MAX_WINDOW).is_ok());
    // Set by hand (the fields are public): a streaming computer is made and refuses to push.
    let schema = FeatureSchema { window: 1 << 45, ..FeatureSchema::reference() };
    assert!(schema.streaming().push(0.0, 1.0).as_ref().is_err_and(refused));
    assert!(schema.compute(&[0.0], &[1.0]).as_ref().is_err_and(refused));
}

#[test]
fn compute_into_fills_a_reused_buffer_like_compute_and_refuses_a_wrong_shape() {
    let schema = FeatureSchema::reference();
    let (timestamps, values) = ([0.0, 60.0, 3600.0], [1.0, f64::NAN, -0.0]);
    let mut out = ndarray::Array2::from_elem((3, 5), 7.0);
    schema.compute_into(&timestamps, &values, out.view_mut()).unwrap();
    let fresh = schema.compute(&timestamps, &values).unwrap();
    let bits = |a: &ndarray::Array2<f64>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&out), bits(&fresh));
    let mut wrong = ndarray::Array2::zeros((2, 5));
    assert_eq!(
        schema.compute_into(&timestamps, &values, wrong.view_mut()),
        Err(aiops_features::Error::OutputShape { expected: (3, 5), actual: (2, 5) })
    );
}
