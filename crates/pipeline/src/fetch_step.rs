//! The fetch step: one metric of one node from Prometheus into a data table, CSV or Parquet
//! (`timestamp,<value column>`, timestamps as `YYYY-MM-DD HH:MM:SS` in UTC like the reference's
//! pandas output), written atomically. All PromQL goes through `aiops-promclient`.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use aiops_promclient::{Instance, Metric, Progress, PromClient, Series, TimeWindow};

use aiops_artifacts::series::format_float;
use aiops_artifacts::table::{Column, Kind, TIMESTAMP_COLUMN, TableWriter, TextColumn};
use aiops_artifacts::{Format, write_atomically};
use ndarray::ArrayView1;

use crate::{Error, Result};

/// What to fetch: checked values only (see [`RawFetchRequest::check`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FetchRequest {
    /// The node-exporter instance.
    pub instance: Instance,
    /// The metric.
    pub metric: Metric,
    /// The time range.
    pub window: TimeWindow,
    /// Seconds between points (a whole number of seconds).
    pub step: Duration,
}

/// Unchecked fetch parameters as a command line or pipeline spec gives them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawFetchRequest {
    /// `ip:port` or `host:port`.
    pub instance: String,
    /// `cpu`, `memory`, `disk` or `network` (ignored when `query` is set).
    pub metric: String,
    /// Mount point for `disk` (default `/`).
    pub mountpoint: Option<String>,
    /// A custom PromQL template with `{instance}` placeholders, and its value column.
    pub query: Option<(String, String)>,
    /// Hours before `end` (or now) to start at; used when `start` is absent.
    pub hours: Option<f64>,
    /// Start, unix seconds or a timestamp `parse_timestamp` accepts.
    pub start: Option<String>,
    /// End, unix seconds or a timestamp; default now.
    pub end: Option<String>,
    /// Step like `10s`, `1m`, `1h` or plain seconds.
    pub step: String,
}

impl RawFetchRequest {
    /// Validates every field; errors name the field.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the field, or the promclient's validation error
    /// ([`Error::Fetch`]) for an instance or template.
    pub fn check(&self) -> Result<FetchRequest> {
        let instance = Instance::parse(&self.instance)?;
        let metric = match (&self.query, self.metric.as_str()) {
            (Some((template, column)), _) => Metric::custom(template, column)?,
            (None, "disk") => {
                Metric::Disk { mountpoint: self.mountpoint.clone().unwrap_or_else(|| "/".into()) }
            }
            (None, name) => Metric::parse(name)?,
        };
        let end = match &self.end {
            Some(text) => parse_time("end", text)?,
            None => now(),
        };
        let start = match (&self.start, self.hours) {
            (Some(text), _) => parse_time("start", text)?,
            (None, Some(hours)) if hours.is_finite() && hours > 0.0 => end - hours * 3600.0,
            (None, Some(hours)) => return Err(invalid("hours", format!("{hours} is not a positive number"))),
            (None, None) => return Err(invalid("start", "give --hours or --start".into())),
        };
        let window = TimeWindow::new(start, end)
            .map_err(|_| invalid("start", format!("the start ({start}) must be before the end ({end})")))?;
        Ok(FetchRequest { instance, metric, window, step: parse_step(&self.step)? })
    }
}

fn invalid(field: &'static str, problem: String) -> Error {
    Error::InvalidParameter { field, reason: problem }
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64()
}

fn parse_time(field: &'static str, text: &str) -> Result<f64> {
    aiops_artifacts::series::parse_timestamp(text).ok_or_else(|| {
        invalid(field, format!("`{text}` is not unix seconds, `YYYY-MM-DD HH:MM:SS` (UTC) or RFC 3339"))
    })
}

/// Parses a step: `10s`, `5m`, `1h`, `1d` or plain seconds; a positive whole number of seconds.
///
/// ```
/// use aiops_pipeline::fetch_step::parse_step;
/// assert_eq!(parse_step("10s")?, std::time::Duration::from_secs(10));
/// assert_eq!(parse_step("2m")?, std::time::Duration::from_secs(120));
/// assert_eq!(parse_step("30")?, std::time::Duration::from_secs(30));
/// assert!(parse_step("0s").is_err() && parse_step("1.5s").is_err() && parse_step("ten").is_err());
/// # Ok::<(), aiops_pipeline::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] (`step`).
pub fn parse_step(text: &str) -> Result<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 && seconds_per_unit > 0 => Ok(Duration::from_secs(n * seconds_per_unit)),
        _ => Err(invalid(
            "step",
            format!("`{text}` is not a positive whole duration like `10s`, `1m` or `1h`"),
        )),
    }
}

/// Fetches `request` with `client` and writes the data table to `output` atomically, in
/// `format`. Returns the number of rows written.
///
/// # Errors
/// [`Error::Fetch`] (no data, with the instances that have data; Prometheus errors; timeouts),
/// or [`Error::Artifact`] when `output` cannot be written.
pub async fn run(
    client: &PromClient,
    request: &FetchRequest,
    output: &Path,
    format: Format,
    progress: Progress<'_>,
) -> Result<usize> {
    let series =
        client.fetch(&request.instance, &request.metric, request.window, request.step, progress).await?;
    write_atomically(output, |out| write_series(out, format, &series))?;
    Ok(series.values.len())
}

/// Writes a data table: `timestamp,<value column>`, then one row per point (in Parquet,
/// `timestamp[ns]` and `double`).
///
/// # Errors
/// Whatever `out` returns.
pub fn write_series(out: &mut (dyn Write + Send), format: Format, series: &Series) -> std::io::Result<()> {
    let mut timestamps = TextColumn::default();
    series.timestamps.iter().for_each(|&t| timestamps.push(&format_timestamp(t)));
    let columns = [(TIMESTAMP_COLUMN, Kind::Timestamp), (series.value_column.as_str(), Kind::Float)];
    let mut writer = TableWriter::new(out, format, &columns)?;
    writer.write(&[Column::Text(&timestamps), Column::Float(ArrayView1::from(&series.values))])?;
    writer.finish()
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), with milliseconds only when the time has them.
fn format_timestamp(timestamp: f64) -> String {
    let millis = (timestamp * 1000.0).round() as i64;
    match chrono::DateTime::from_timestamp_millis(millis) {
        Some(time) if millis % 1000 == 0 => time.format("%Y-%m-%d %H:%M:%S").to_string(),
        Some(time) => time.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        None => format_float(timestamp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiops_artifacts::series::{Order, parse_series};

    #[test]
    fn written_csv_reads_back_as_the_same_series() {
        let series = Series {
            timestamps: vec![1_700_000_000.0, 1_700_000_010.0, 1_700_000_020.5],
            values: vec![12.5, 0.1, 99.0],
            value_column: "cpu_usage".into(),
        };
        let mut csv = Vec::new();
        write_series(&mut csv, Format::Csv, &series).unwrap();
        let text = String::from_utf8(csv.clone()).unwrap();
        assert!(text.starts_with("timestamp,cpu_usage\n2023-11-14 22:13:20,12.5\n"), "{text}");
        let read = parse_series(csv.as_slice(), Path::new("test.csv"), Order::Strict).unwrap();
        assert_eq!((read.timestamps, read.values), (series.timestamps, series.values));
        assert_eq!(read.value_column, "cpu_usage");
    }

    #[test]
    fn raw_request_errors_name_the_field() {
        let raw = RawFetchRequest {
            instance: "10.0.0.1:9100".into(),
            metric: "cpu".into(),
            hours: Some(2.0),
            step: "10s".into(),
            ..RawFetchRequest::default()
        };
        let checked = raw.check().unwrap();
        assert!((checked.window.end - checked.window.start - 7200.0).abs() < 1e-6);
        let cases: [(&str, RawFetchRequest); 5] = [
            (
                "instance",
                RawFetchRequest { instance: r#"x"} or vector(1337) or {a=""#.into(), ..raw.clone() },
            ),
            ("metric", RawFetchRequest { metric: "gpu".into(), ..raw.clone() }),
            ("hours", RawFetchRequest { hours: Some(-1.0), ..raw.clone() }),
            ("step", RawFetchRequest { step: "0s".into(), ..raw.clone() }),
            (
                "start",
                RawFetchRequest {
                    start: Some("2030-01-01 00:00:00".into()),
                    end: Some("2029-01-01 00:00:00".into()),
                    ..raw.clone()
                },
            ),
        ];
        for (field, bad) in cases {
            let message = bad.check().unwrap_err().to_string();
            assert!(message.contains(field), "error for {field} should name it: {message}");
        }
    }
}
