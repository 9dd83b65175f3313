//! Inference requests: a v2 request body decoded and validated into a [`Batch`] ([`parse`], the
//! server's request decoder, public so that fuzzing and tests drive the real one), scoring, and
//! the response.

use aiops_kserve_client::{InferenceRequest, InferenceResponse, Output, Parameters, Tensor};
use ndarray::ArrayView2;

use aiops_artifacts::model::StoredModel;

/// Why a request could not be answered: the message of a KServe `{"error": ...}` body, by status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InferError {
    /// The request is invalid (400); the message names the problem.
    Invalid(String),
    /// The server failed (500).
    Internal(String),
}

impl std::fmt::Display for InferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(message) | Self::Internal(message) => f.write_str(message),
        }
    }
}

/// A validated request: a row-major matrix of finite values and the outputs to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    id: Option<String>,
    values: Vec<f64>,
    rows: usize,
    columns: usize,
    outputs: Vec<Output>,
}

impl Batch {
    /// The request id, echoed in the response.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The number of rows to score.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The number of columns (the model's feature count).
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// The values, row-major, `rows x columns`, all finite.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The outputs to compute, without repeats, in the order asked (`predict` when none was).
    pub fn outputs(&self) -> &[Output] {
        &self.outputs
    }
}

/// A computed response, with what the metrics count.
#[derive(Debug)]
pub(crate) struct Scored {
    pub(crate) response: InferenceResponse,
    pub(crate) rows: usize,
    /// Rows predicted -1, when `predict` was computed.
    pub(crate) anomalies: Option<usize>,
}

/// Parses and validates a request body against a model taking `features` columns.
///
/// ```
/// let body = br#"{"inputs": [{"name": "x", "shape": [2, 1], "datatype": "INT32", "data": [3, 4]}]}"#;
/// let batch = aiops_model_server::infer::parse(body, 1).unwrap();
/// assert_eq!((batch.rows(), batch.values()), (2, &[3.0, 4.0][..]));
/// assert!(aiops_model_server::infer::parse(body, 2).is_err());
/// ```
///
/// # Errors
/// [`InferError::Invalid`] naming the problem: not a v2 request, not one input tensor, a shape
/// other than `[rows, features]`, data that does not fit the shape or datatype, a value that is
/// not finite, an unknown output or a binary one.
pub fn parse(body: &[u8], features: usize) -> Result<Batch, InferError> {
    let request: InferenceRequest = serde_json::from_slice(body).map_err(|e| {
        // Python's json module writes NaN and Infinity, which are not JSON.
        let hint = if body.windows(3).any(|w| w == b"NaN") || body.windows(8).any(|w| w == b"Infinity") {
            " (NaN and Infinity are not valid JSON, and the model needs finite values)"
        } else {
            ""
        };
        InferError::Invalid(format!("invalid inference request: {e}{hint}"))
    })?;
    let outputs = requested_outputs(&request)?;
    let [input] = <[Tensor; 1]>::try_from(request.inputs).map_err(|inputs| {
        InferError::Invalid(format!("expected exactly one input tensor, got {}", inputs.len()))
    })?;
    let (rows, columns) = match input.shape[..] {
        [rows, columns] if rows >= 0 && columns >= 0 => (rows as usize, columns as usize),
        _ => {
            return Err(InferError::Invalid(format!(
                "input {:?}: shape {:?} must be [rows, {features}] (one row per sample)",
                input.name, input.shape
            )));
        }
    };
    if columns != features {
        return Err(InferError::Invalid(format!(
            "input {:?}: shape {:?} has {columns} features, the model expects {features}",
            input.name, input.shape
        )));
    }
    let values = input.to_f64().map_err(|e| InferError::Invalid(e.to_string()))?;
    if let Some(position) = values.iter().position(|v| !v.is_finite()) {
        return Err(InferError::Invalid(format!(
            "input {:?}: row {}, column {} is {}: values must be finite",
            input.name,
            position / columns.max(1),
            position % columns.max(1),
            values[position]
        )));
    }
    Ok(Batch { id: request.id, values, rows, columns, outputs })
}

/// The outputs asked for, `predict` when none is named.
fn requested_outputs(request: &InferenceRequest) -> Result<Vec<Output>, InferError> {
    let Some(requested) = &request.outputs else {
        return Ok(vec![Output::Predict]);
    };
    if request.parameters.get("binary_data_output").and_then(serde_json::Value::as_bool) == Some(true) {
        return Err(InferError::Invalid("binary_data_output is not supported: ask for JSON outputs".into()));
    }
    let mut outputs = Vec::with_capacity(requested.len());
    for output in requested {
        let known = Output::from_name(&output.name).ok_or_else(|| {
            let names: Vec<_> = Output::ALL.iter().map(|o| o.name()).collect();
            InferError::Invalid(format!(
                "unknown output {:?}: this model returns {}",
                output.name,
                names.join(", ")
            ))
        })?;
        if output.binary_data() {
            return Err(InferError::Invalid(format!(
                "output {:?}: binary_data is not supported, ask for JSON",
                output.name
            )));
        }
        if !outputs.contains(&known) {
            outputs.push(known);
        }
    }
    if outputs.is_empty() {
        outputs.push(Output::Predict);
    }
    Ok(outputs)
}

/// Scores a validated batch with `model`.
pub(crate) fn score(
    model: &StoredModel,
    batch: Batch,
    model_name: &str,
    model_version: &str,
) -> Result<Scored, InferError> {
    let _span =
        tracing::info_span!("model.score", rows = batch.rows, outputs = batch.outputs.len()).entered();
    let x = ArrayView2::from_shape((batch.rows, batch.columns), &batch.values)
        .map_err(|e| InferError::Internal(e.to_string()))?;
    let forest = &model.model.forest;
    // The forest is walked once: decision_function and predict derive from the scores exactly as
    // the library computes them (score - offset; -1 where that is negative).
    let scores = forest.score_samples(x).map_err(scoring_error)?.into_raw_vec_and_offset().0;
    let decision = || scores.iter().map(|score| score - forest.offset());
    let shape = vec![batch.rows as i64];
    let mut anomalies = None;
    let mut outputs = Vec::with_capacity(batch.outputs.len());
    for output in &batch.outputs {
        let name = output.name();
        let tensor = match output {
            Output::Predict => {
                let labels: Vec<i64> = decision().map(aiops_iforest::prediction).collect();
                anomalies = Some(labels.iter().filter(|&&l| l == -1).count());
                Tensor::int64(name, shape.clone(), labels)
            }
            Output::Score => Tensor::fp64(name, shape.clone(), scores.clone()),
            Output::Decision => Tensor::fp64(name, shape.clone(), decision().collect()),
        };
        outputs.push(tensor);
    }
    let response = InferenceResponse {
        model_name: model_name.to_owned(),
        model_version: Some(model_version.to_owned()),
        id: batch.id,
        parameters: Parameters::new(),
        outputs,
    };
    Ok(Scored { response, rows: batch.rows, anomalies })
}

/// Input errors the forest finds are the client's; anything else is ours.
fn scoring_error(error: aiops_iforest::Error) -> InferError {
    match error {
        aiops_iforest::Error::NonFinite { .. }
        | aiops_iforest::Error::FeatureCount { .. }
        | aiops_iforest::Error::EmptyInput { .. } => InferError::Invalid(error.to_string()),
        other => InferError::Internal(other.to_string()),
    }
}
