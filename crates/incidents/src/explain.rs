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

#[cfg(test)]
mod tests {
    use aiops_iforest::IsolationForestParams;

    use super::*;
    use crate::{IncidentParams, find_incidents};

    #[test]
    fn the_peak_of_a_batch_incident_is_explained_by_named_features() {
        let schema = FeatureSchema::reference();
        let n = 300;
        let timestamps: Vec<f64> = (0..n).map(|i| 1.4e9 + 300.0 * f64::from(i)).collect();
        let values: Vec<f64> = (0..n)
            .map(|i| if (200..204).contains(&i) { 90.0 } else { 10.0 + (f64::from(i) * 0.2).sin() })
            .collect();
        let features = schema.compute(&timestamps, &values).unwrap();
        let forest = IsolationForest::fit(&IsolationForestParams::reference(), features.view()).unwrap();
        let decisions = forest.decision_function(features.view()).unwrap().to_vec();
        let params = IncidentParams { min_points: 2, ..IncidentParams::default() }.check().unwrap();
        let mut incidents = find_incidents(&timestamps, &values, &decisions, &params).unwrap();
        let spike = incidents
            .iter()
            .position(|i| (200..204).contains(&i.peak_index))
            .expect("the spike is an incident");
        explain_incidents(&forest, &schema, &features.view(), &mut incidents).unwrap();
        let explanation = &incidents[spike].explanation;
        let names: Vec<&str> = explanation.iter().map(|s| s.feature.as_str()).collect();
        assert!(schema.columns.iter().all(|c| names.contains(&c.as_str())), "{names:?}");
        assert!(explanation.windows(2).all(|w| w[0].share >= w[1].share), "largest share first");
        assert!((explanation.iter().map(|s| s.share).sum::<f64>() - 1.0).abs() < 1e-9);
        let mut past_the_end = incidents[spike].clone();
        past_the_end.peak_index = n as usize;
        let error = explain_incidents(&forest, &schema, &features.view(), &mut [past_the_end]).unwrap_err();
        assert!(matches!(error, Error::InvalidParameter { field: "features", .. }), "{error}");
    }
}
