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
