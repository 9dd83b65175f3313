//! The score step: model and features table in, scores table out
//! (`[timestamp,]score,decision,prediction`, one row per input row).

use std::io::Write;
use std::path::Path;

use aiops_iforest::Model;

use aiops_artifacts::Format;
use aiops_artifacts::table::{Column, Kind, TIMESTAMP_COLUMN, Table, TableReader, TableWriter, TextColumn};
use aiops_artifacts::write_atomically_with;
use ndarray::ArrayView1;

use crate::Result;

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
/// [`crate::Error::Model`] when the forest refuses the data.
pub fn score(model: &Model, table: &Table) -> Result<Scores> {
    let score = model.forest.score_samples(table.values.view())?;
    let offset = model.forest.offset();
    let decision: Vec<f64> = score.iter().map(|s| s - offset).collect();
    let prediction = decision.iter().copied().map(aiops_iforest::prediction).collect();
    Ok(Scores { score: score.to_vec(), decision, prediction })
}

/// Reads `input` a block of rows at a time, scoring each block with `model` (read by the one
/// model loader, [`aiops_artifacts::model`]) and writing its rows to `output` as it goes (memory
/// stays constant whatever the input size); `output` appears atomically once every row is
/// written. Returns the number of rows and of anomalies.
///
/// # Errors
/// Input lacking the model's columns (all named), a bad value (line named), or I/O errors.
pub fn run(model: &Model, input: &Path, output: &Path, format: Option<Format>) -> Result<(usize, usize)> {
    let columns = Some(model.metadata.feature_names.as_slice());
    let mut reader = TableReader::open(input, Format::resolve(input, format), columns)?;
    let format = Format::resolve(output, format);
    let io_error = |source| aiops_artifacts::Error::Io { path: output.to_owned(), source };
    let mut counts = (0, 0);
    write_atomically_with(output, |out| {
        let mut writer = ScoresWriter::new(out, format, reader.has_timestamps()).map_err(io_error)?;
        // Each piece of a block is parsed and scored in one task; the pieces are then formatted
        // in parallel and written in order, on a second thread, while the next block is read
        // and scored (one block waits at most).
        let score_piece = |table: Table| score(model, &table).map(|scores| (table.timestamps, scores));
        std::thread::scope(|scope| {
            let (to_writer, blocks) = std::sync::mpsc::sync_channel::<Vec<(Option<TextColumn>, Scores)>>(0);
            let writing = scope.spawn(move || {
                let (mut rows, mut anomalies) = (0, 0);
                for pieces in blocks {
                    writer.write_pieces(&pieces)?;
                    for (_, scores) in &pieces {
                        rows += scores.prediction.len();
                        anomalies += scores.prediction.iter().filter(|&&p| p == -1).count();
                    }
                }
                writer.finish().map(|()| (rows, anomalies))
            });
            while let Some(pieces) = reader.next_block_pieces(score_piece)? {
                // Closed: the writer stopped on an error, which `join` returns.
                if to_writer.send(pieces.into_iter().collect::<Result<_>>()?).is_err() {
                    break;
                }
            }
            drop(to_writer);
            let written = writing.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            counts = written.map_err(io_error)?;
            Ok::<_, crate::Error>(())
        })
    })?;
    Ok(counts)
}

/// Writes a scores table (`[timestamp,]score,decision,prediction`; in Parquet `timestamp[ns]`,
/// `double`, `double`, `int64`) a block of rows at a time.
pub struct ScoresWriter<'w>(TableWriter<'w>);

impl<'w> ScoresWriter<'w> {
    /// Writes the header, with a `timestamp` column when `timestamps`.
    ///
    /// # Errors
    /// Whatever `out` returns.
    pub fn new(out: &'w mut (dyn Write + Send), format: Format, timestamps: bool) -> std::io::Result<Self> {
        let names = [
            (TIMESTAMP_COLUMN, Kind::Timestamp),
            ("score", Kind::Float),
            ("decision", Kind::Float),
            ("prediction", Kind::Int64),
        ];
        let names = if timestamps { &names[..] } else { &names[1..] };
        Ok(Self(TableWriter::new(out, format, names)?))
    }

    /// Writes the rows of `scores`, with their `timestamps` when the header has them.
    ///
    /// # Errors
    /// Whatever `out` returns.
    pub fn write(&mut self, timestamps: Option<&TextColumn>, scores: &Scores) -> std::io::Result<()> {
        self.0.write(&Self::columns(timestamps, scores))
    }

    /// Writes the rows of several pieces in order, each with its timestamps when the header
    /// has them (CSV formatted in parallel across pieces).
    ///
    /// # Errors
    /// Whatever `out` returns.
    pub fn write_pieces(&mut self, pieces: &[(Option<TextColumn>, Scores)]) -> std::io::Result<()> {
        let columns: Vec<_> =
            pieces.iter().map(|(timestamps, scores)| Self::columns(timestamps.as_ref(), scores)).collect();
        self.0.write_pieces(&columns)
    }

    fn columns<'a>(timestamps: Option<&'a TextColumn>, scores: &'a Scores) -> Vec<Column<'a>> {
        let mut columns: Vec<Column<'a>> = timestamps.map(Column::Text).into_iter().collect();
        columns.extend([
            Column::Float(ArrayView1::from(&scores.score)),
            Column::Float(ArrayView1::from(&scores.decision)),
            Column::Int(ArrayView1::from(&scores.prediction)),
        ]);
        columns
    }

    /// Ends the table.
    ///
    /// # Errors
    /// Whatever `out` returns.
    pub fn finish(self) -> std::io::Result<()> {
        self.0.finish()
    }
}

/// Writes a whole scores table.
///
/// # Errors
/// Whatever `out` returns.
pub fn write_scores(
    out: &mut (dyn Write + Send),
    format: Format,
    timestamps: Option<&TextColumn>,
    scores: &Scores,
) -> std::io::Result<()> {
    let mut writer = ScoresWriter::new(out, format, timestamps.is_some())?;
    writer.write(timestamps, scores)?;
    writer.finish()
}
