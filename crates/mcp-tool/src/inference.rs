//! Scoring feature rows: in-process with the shared forest (default), or remotely through the
//! Open Inference Protocol (`aiops serve-model`, KServe). Both return the forest's own outputs,
//! so both paths give identical predictions.

use aiops_iforest::Model;
use aiops_kserve_client::{Client, Output};
use ndarray::{Array2, Axis};
use tracing::Instrument;

use crate::{Error, Result};

/// Per-row outputs of the forest.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// `-1` anomalous, `1` normal.
    pub predict: Vec<i64>,
    /// scikit-learn's `decision_function`: below 0 is anomalous.
    pub decision: Vec<f64>,
}

/// Where rows are scored.
#[derive(Debug, Clone)]
pub enum Inference {
    /// With the loaded model, in this process.
    InProcess,
    /// By a v2 inference server.
    Remote {
        /// The server's client.
        client: Client,
        /// The model's name on the server.
        model_name: String,
    },
}

impl Inference {
    /// `in-process`, or the remote base URL and model name.
    pub fn describe(&self) -> String {
        match self {
            Self::InProcess => "in-process".to_owned(),
            Self::Remote { client, model_name } => {
                format!("{} (model {model_name})", aiops_text::redact_urls(client.base_url().as_str()))
            }
        }
    }

    /// Scores `features` (columns named `columns`, rearranged into the order `model` expects).
    /// A remote server holds its own copy of the model.
    ///
    /// # Errors
    /// [`Error::Scoring`], [`Error::Inference`] or [`Error::MissingOutput`].
    pub async fn score(&self, model: &Model, columns: &[String], features: Array2<f64>) -> Result<Scores> {
        let rows = model_order(model, columns, features)?;
        let span = tracing::info_span!("model.score", rows = rows.nrows(), inference = %self.describe());
        async move {
            match self {
                Self::InProcess => score_in_process(model, &rows),
                Self::Remote { client, model_name } => {
                    let predictions = client
                        .infer_matrix(model_name, rows.view(), &[Output::Decision])
                        .await
                        .map_err(|e| Error::Inference(Box::new(e)))?;
                    let decision = predictions
                        .decision
                        .ok_or(Error::MissingOutput { output: Output::Decision.name() })?;
                    Ok(Scores { predict: predictions.predict, decision })
                }
            }
        }
        .instrument(span)
        .await
    }
}

/// Scores `rows` (already in the model's column order) with the forest.
///
/// # Errors
/// [`Error::Scoring`] for rows the forest refuses (wrong width, non-finite values).
pub fn score_in_process(model: &Model, rows: &Array2<f64>) -> Result<Scores> {
    let decision = model.forest.decision_function(rows.view()).map_err(Error::Scoring)?.to_vec();
    let predict = decision.iter().copied().map(aiops_iforest::prediction).collect();
    Ok(Scores { predict, decision })
}

/// `features` with its `columns` rearranged into the order the model was trained with.
fn model_order(model: &Model, columns: &[String], features: Array2<f64>) -> Result<Array2<f64>> {
    let positions = model.column_positions(columns).map_err(Error::Scoring)?;
    if positions.iter().enumerate().all(|(i, &p)| i == p) && positions.len() == features.ncols() {
        Ok(features)
    } else {
        Ok(features.select(Axis(1), &positions))
    }
}
