//! Why the peak of an incident is anomalous: the forest's per-feature shares, named.

use aiops_features::FeatureSchema;
use aiops_iforest::IsolationForest;
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::{Error, Incident, Result};

/// One feature's share in isolating a point (shares of a point sum to 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureShare {
    /// The feature's column name in the schema.
    pub feature: String,
    /// Its share, in [0, 1].
    pub share: f64,
}

/// Explains one feature row with `forest` ([`IsolationForest::explain_row`]), naming the columns
/// by `schema`, largest share first.
///
/// # Errors
/// [`Error::Forest`] when the row's width or values are refused.
pub fn explain_row(
    forest: &IsolationForest,
    schema: &FeatureSchema,
    row: &[f64],
) -> Result<Vec<FeatureShare>> {
    let shares = forest.explain_row(row).map_err(Error::Forest)?;
    let mut named: Vec<FeatureShare> = schema
        .columns
        .iter()
        .zip(shares)
        .map(|(feature, share)| FeatureShare { feature: feature.clone(), share })
        .collect();
    named.sort_by(|a, b| b.share.total_cmp(&a.share));
    Ok(named)
}

/// Attaches to each incident the explanation of its peak row of `features` (the `n x width`
/// feature matrix the decisions were computed from, columns in `schema` order).
///
/// # Errors
/// [`Error::InvalidParameter`] naming `features` when an incident's peak lies outside it, or
/// [`Error::Forest`] when the forest refuses the row.
pub fn explain_incidents(
    forest: &IsolationForest,
    schema: &FeatureSchema,
    features: &ArrayView2<'_, f64>,
    incidents: &mut [Incident],
) -> Result<()> {
    for incident in incidents {
        if incident.peak_index >= features.nrows() {
            return Err(Error::InvalidParameter {
                field: "features",
                reason: format!(
                    "has {} rows, the incident peaks at row {}",
                    features.nrows(),
                    incident.peak_index
                ),
            });
        }
        let row = features.row(incident.peak_index).to_vec();
        incident.explanation = explain_row(forest, schema, &row)?;
    }
    Ok(())
}
