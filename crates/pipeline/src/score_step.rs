//! The score step: model file and features CSV in, scores CSV out
//! (`[timestamp,]score,decision,prediction`, one row per input row).

use std::io::Write;
use std::path::Path;

use aiops_iforest::Model;

use crate::train_step::model_file;
use aiops_artifacts::series::format_float;
use aiops_artifacts::table::{TIMESTAMP_COLUMN, Table, read_table};
use aiops_artifacts::write_atomically;

use crate::{Error, Result};

/// Reads a model file (`path`, or `path/model.iforest` for a folder), refusing anything but an
/// intact model.
///
/// # Errors
/// [`Error::Artifact`] naming the file, or [`Error::Model`] saying why it was refused.
pub fn read_model(path: &Path) -> Result<Model> {
    let path = model_file(path);
    let bytes =
        std::fs::read(&path).map_err(|source| aiops_artifacts::Error::Io { path: path.clone(), source })?;
    Model::from_bytes(&bytes).map_err(|source| Error::ModelFile { path, source })
}

/// Scores: per row `(score, decision, prediction)`.
pub struct Scores {
    /// `score_samples`.
    pub score: Vec<f64>,
    /// `score - offset`.
    pub decision: Vec<f64>,
    /// -1 anomaly, 1 normal.
    pub prediction: Vec<i64>,
}

/// Scores `table` (whose columns must be the model's, in order).
///
/// # Errors
/// [`Error::Model`] when the forest refuses the data.
pub fn score(model: &Model, table: &Table) -> Result<Scores> {
    let score = model.forest.score_samples(table.values.view())?;
    let offset = model.forest.offset();
    let decision: Vec<f64> = score.iter().map(|s| s - offset).collect();
    let prediction = decision.iter().copied().map(aiops_iforest::prediction).collect();
    Ok(Scores { score: score.to_vec(), decision, prediction })
}

/// Reads the model and `input`, scores every row and writes `output` atomically. Returns the
/// number of rows and of anomalies.
///
/// # Errors
/// A refused model, input lacking the model's columns (all named), a bad value (line named), or
/// I/O errors.
pub fn run(model: &Path, input: &Path, output: &Path) -> Result<(usize, usize)> {
    let model = read_model(model)?;
    let table = read_table(input, Some(&model.metadata.feature_names))?;
    let scores = score(&model, &table)?;
    write_atomically(output, |out| write_scores(out, table.timestamps.as_deref(), &scores))?;
    let anomalies = scores.prediction.iter().filter(|&&p| p == -1).count();
    Ok((scores.prediction.len(), anomalies))
}

/// Writes the scores CSV.
///
/// # Errors
/// Whatever `out` returns.
pub fn write_scores(
    out: &mut dyn Write,
    timestamps: Option<&[String]>,
    scores: &Scores,
) -> std::io::Result<()> {
    let rows = scores.score.len();
    if timestamps.is_some() {
        write!(out, "{TIMESTAMP_COLUMN},")?;
    }
    writeln!(out, "score,decision,prediction")?;
    for i in 0..rows {
        if let Some(t) = timestamps.and_then(|t| t.get(i)) {
            write!(out, "{},", csv_text(t))?;
        }
        writeln!(
            out,
            "{},{},{}",
            format_float(scores.score[i]),
            format_float(scores.decision[i]),
            scores.prediction[i]
        )?;
    }
    Ok(())
}

fn csv_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}
