//! PNG charts of one metric series over time, with flagged points as red markers, shaded time
//! windows (labelled anomaly windows or detected incident periods) and vertical alert lines.
//!
//! One renderer serves `aiops demo`, the MCP server's chart tool and the NAB evaluation, so
//! every chart the project shows looks the same. Rendering happens in memory (no I/O, no system
//! fonts: an embedded DejaVu Sans draws the text), so a caller decides where the bytes go.
//!
//! ```
//! use aiops_charts::{SeriesChart, render_png};
//! let timestamps: Vec<f64> = (0..120).map(|i| 1_700_000_000.0 + 60.0 * f64::from(i)).collect();
//! let values: Vec<f64> = (0..120).map(|i| if i == 90 { 95.0 } else { 20.0 }).collect();
//! let chart = SeriesChart {
//!     title: "node CPU",
//!     value_label: "cpu_usage (%)",
//!     timestamps: &timestamps,
//!     values: &values,
//!     anomalies: &[90],
//!     shaded: &[(timestamps[85], timestamps[95])],
//!     alerts: &[timestamps[92]],
//! };
//! let png = render_png(&chart, 640, 360)?;
//! assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
//! # Ok::<(), aiops_charts::Error>(())
//! ```

use std::sync::OnceLock;

use plotters::prelude::*;

/// The family name under which the embedded font is registered with plotters.
const FONT_FAMILY: &str = "aiops-sans";

/// Largest accepted image side in pixels: bounds memory (3 bytes a pixel) for requests that
/// come from the network (the MCP chart tool).
pub const MAX_SIDE: u32 = 4096;

/// Smallest accepted image side in pixels: below this, axes and labels cannot fit.
pub const MIN_SIDE: u32 = 200;

/// Everything rendering a chart can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The chart description is inconsistent; `field` names the offending part.
    #[error("invalid chart: {field}: {reason}")]
    InvalidParameter {
        /// The field at fault, e.g. `anomalies` or `width`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Drawing failed inside plotters (e.g. the font could not be loaded).
    #[error("drawing the chart: {0}")]
    Draw(String),
    /// Encoding the pixels as PNG failed.
    #[error("encoding the chart as PNG")]
    Encode(#[source] png::EncodingError),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One series to draw, with what to highlight on it. All times are unix seconds (UTC).
#[derive(Debug, Clone, Copy)]
pub struct SeriesChart<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// Label of the value (y) axis, e.g. `cpu_usage (%)`.
    pub value_label: &'a str,
    /// Point times, unix seconds, non-decreasing.
    pub timestamps: &'a [f64],
    /// Point values, one per timestamp; NaN is a gap in the line.
    pub values: &'a [f64],
    /// Indices of flagged points, drawn as red markers.
    pub anomalies: &'a [usize],
    /// Time windows `(start, end)` to shade: labelled windows or incident periods.
    pub shaded: &'a [(f64, f64)],
    /// Alert times, drawn as vertical lines.
    pub alerts: &'a [f64],
}

impl SeriesChart<'_> {
    /// Checks that the parts fit together, naming the first field that does not.
    fn check(&self) -> Result<()> {
        let invalid = |field, reason: String| Err(Error::InvalidParameter { field, reason });
        if self.timestamps.is_empty() {
            return invalid("timestamps", "the series has no points".into());
        }
        if self.timestamps.len() != self.values.len() {
            return invalid(
                "values",
                format!("{} values for {} timestamps", self.values.len(), self.timestamps.len()),
            );
        }
        if let Some(i) = self.timestamps.iter().position(|t| !t.is_finite()) {
            return invalid("timestamps", format!("timestamp {i} is not finite"));
        }
        if let Some(i) = self.timestamps.windows(2).position(|w| w[1] < w[0]) {
            return invalid("timestamps", format!("timestamp {} is earlier than the one before", i + 1));
        }
        if let Some(&i) = self.anomalies.iter().find(|&&i| i >= self.values.len()) {
            return invalid(
                "anomalies",
                format!("index {i} is past the last point ({})", self.values.len() - 1),
            );
        }
        if let Some((start, end)) =
            self.shaded.iter().find(|(s, e)| !(s.is_finite() && e.is_finite() && s <= e))
        {
            return invalid("shaded", format!("window ({start}, {end}) is not a finite, ordered pair"));
        }
        if let Some(t) = self.alerts.iter().find(|t| !t.is_finite()) {
            return invalid("alerts", format!("alert time {t} is not finite"));
        }
        Ok(())
    }
}

/// Renders `chart` as a PNG image of `width` x `height` pixels and returns the file's bytes.
///
/// # Errors
/// [`Error::InvalidParameter`] when the sizes are outside [`MIN_SIDE`]..=[`MAX_SIDE`] or the chart's
/// parts do not fit together (lengths, out-of-range anomaly indices, non-finite times);
/// [`Error::Draw`] or [`Error::Encode`] when plotters or the PNG encoder fail.
pub fn render_png(chart: &SeriesChart<'_>, width: u32, height: u32) -> Result<Vec<u8>> {
    for (field, side) in [("width", width), ("height", height)] {
        if !(MIN_SIDE..=MAX_SIDE).contains(&side) {
            return Err(Error::InvalidParameter {
                field,
                reason: format!("{side} px is outside {MIN_SIDE}..={MAX_SIDE}"),
            });
        }
    }
    chart.check()?;
    register_font()?;
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    draw(chart, &mut pixels, width, height).map_err(|e| Error::Draw(e.to_string()))?;
    encode_png(&pixels, width, height)
}

/// Registers the embedded font once per process; later calls return the first outcome.
fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok { Ok(()) } else { Err(Error::Draw("the embedded DejaVu Sans font is not a valid font".into())) }
}

/// The value axis range: the finite values' span with a margin, never empty.
fn value_range(values: &[f64]) -> (f64, f64) {
    let (low, high) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if low > high {
        return (0.0, 1.0);
    }
    let margin = ((high - low) * 0.05).max(high.abs().max(1.0) * 1e-3);
    (low - margin, high + margin)
}

/// The time axis range; a single point gets a one-minute window around it.
fn time_range(timestamps: &[f64]) -> (f64, f64) {
    let (first, last) = (timestamps[0], timestamps[timestamps.len() - 1]);
    if last > first { (first, last) } else { (first - 30.0, last + 30.0) }
}

/// Formats a time axis tick in UTC, with the date when the chart spans more than a day.
fn time_label(seconds: f64, span: f64) -> String {
    let Some(time) = chrono::DateTime::from_timestamp(seconds.round() as i64, 0) else {
        return format!("{seconds}");
    };
    if span > 86_400.0 { time.format("%m-%d %H:%M").to_string() } else { time.format("%H:%M").to_string() }
}

/// The runs of consecutive finite values, so that a NaN leaves a gap in the line.
fn finite_runs<'a>(timestamps: &'a [f64], values: &'a [f64]) -> impl Iterator<Item = Vec<(f64, f64)>> + 'a {
    values
        .split(|v| !v.is_finite())
        .scan(0usize, move |offset, run| {
            let start = *offset;
            *offset += run.len() + 1;
            Some((start, run))
        })
        .filter(|(_, run)| !run.is_empty())
        .map(move |(start, run)| {
            timestamps[start..start + run.len()].iter().copied().zip(run.iter().copied()).collect()
        })
}

/// Draws the chart into an RGB pixel buffer.
fn draw(
    chart: &SeriesChart<'_>,
    pixels: &mut [u8],
    width: u32,
    height: u32,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(pixels, (width, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (t0, t1) = time_range(chart.timestamps);
    let (y0, y1) = value_range(chart.values);
    let span = t1 - t0;
    let mut plot = ChartBuilder::on(&root)
        .caption(chart.title, (FONT_FAMILY, 20))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(t0..t1, y0..y1)?;
    plot.configure_mesh()
        .light_line_style(WHITE)
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|t| time_label(*t, span))
        .x_desc("time (UTC)")
        .y_desc(chart.value_label)
        .label_style((FONT_FAMILY, 13))
        .axis_desc_style((FONT_FAMILY, 14))
        .draw()?;

    let shade = RGBColor(255, 140, 0).mix(0.22).filled();
    plot.draw_series(
        chart
            .shaded
            .iter()
            .map(|&(start, end)| Rectangle::new([(start.max(t0), y0), (end.min(t1), y1)], shade)),
    )?;
    let alert_style = RGBColor(148, 0, 211).stroke_width(2);
    plot.draw_series(chart.alerts.iter().map(|&t| PathElement::new(vec![(t, y0), (t, y1)], alert_style)))?;
    for run in finite_runs(chart.timestamps, chart.values) {
        plot.draw_series(LineSeries::new(run, RGBColor(31, 119, 180).stroke_width(1)))?;
    }
    let marker = RED.filled();
    plot.draw_series(
        chart
            .anomalies
            .iter()
            .map(|&i| (chart.timestamps[i], chart.values[i]))
            .filter(|(_, v)| v.is_finite())
            .map(|point| Circle::new(point, 3, marker)),
    )?;
    root.present()?;
    Ok(())
}

/// Encodes an RGB buffer as an 8-bit PNG.
fn encode_png(pixels: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(Error::Encode)?;
    writer.write_image_data(pixels).map_err(Error::Encode)?;
    writer.finish().map_err(Error::Encode)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finite_runs_split_at_nan() {
        let t = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let v = [1.0, f64::NAN, 2.0, 3.0, f64::NAN, f64::NAN];
        let runs: Vec<_> = finite_runs(&t, &v).collect();
        assert_eq!(runs, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
    }

    #[test]
    fn time_labels_show_the_date_only_for_multi_day_spans() {
        assert_eq!(time_label(1_392_388_200.0, 3600.0), "14:30");
        assert_eq!(time_label(1_392_388_200.0, 3.0 * 86_400.0), "02-14 14:30");
    }

    #[test]
    fn flat_series_gets_a_non_empty_value_range() {
        let (lo, hi) = value_range(&[5.0, 5.0, f64::NAN]);
        assert!(lo < 5.0 && hi > 5.0);
        assert_eq!(value_range(&[f64::NAN]), (0.0, 1.0));
    }
}
