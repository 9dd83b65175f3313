//! `--format csv|parquet`: the format of the tables a command reads and writes.

use aiops_artifacts::Format;

/// The table format flag of `features`, `train` and `score`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FormatArgs {
    /// Format of every table read and written (data, features, scores) [default: as the file
    /// name says: `.parquet` is Parquet, anything else CSV].
    #[arg(long, value_enum)]
    format: Option<TableFormat>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TableFormat {
    Csv,
    Parquet,
}

impl FormatArgs {
    /// The forced format, if any.
    pub(crate) fn format(&self) -> Option<Format> {
        self.format.map(|format| match format {
            TableFormat::Csv => Format::Csv,
            TableFormat::Parquet => Format::Parquet,
        })
    }
}
