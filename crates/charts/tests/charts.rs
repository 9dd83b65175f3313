//! Rendering charts end to end: the bytes decode as a PNG of the requested size, the marks
//! land in the image, and bad descriptions are refused with the field named.

use aiops_charts::{Error, SeriesChart, render_png};

/// A day of a daily-cycle CPU series at 5 minutes, with a spike at point 200.
fn day() -> (Vec<f64>, Vec<f64>) {
    let timestamps: Vec<f64> = (0..288).map(|i| 1_700_000_000.0 + 300.0 * f64::from(i)).collect();
    let values =
        (0..288)
            .map(|i| {
                if i == 200 {
                    97.0
                } else {
                    40.0 + 20.0 * (f64::from(i) / 288.0 * std::f64::consts::TAU).sin()
                }
            })
            .collect();
    (timestamps, values)
}

/// Decodes PNG bytes into (width, height, RGB pixels).
fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a bounded image")];
    let info = reader.next_frame(&mut pixels).expect("a PNG frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    pixels.truncate(info.buffer_size());
    (info.width, info.height, pixels)
}

fn count_pixels(pixels: &[u8], predicate: impl Fn(&[u8]) -> bool) -> usize {
    pixels.chunks_exact(3).filter(|p| predicate(p)).count()
}

fn is_marker_red(p: &[u8]) -> bool {
    p[0] > 200 && p[1] < 60 && p[2] < 60
}

#[test]
fn renders_a_valid_png_of_the_requested_size() {
    let (timestamps, values) = day();
    let chart = SeriesChart {
        title: "node CPU",
        value_label: "cpu_usage (%)",
        timestamps: &timestamps,
        values: &values,
        anomalies: &[200],
        shaded: &[(timestamps[190], timestamps[210])],
        alerts: &[timestamps[205]],
    };
    for (width, height) in [(800, 400), (1200, 500), (200, 200)] {
        let bytes = render_png(&chart, width, height).expect("a chart");
        let (w, h, pixels) = decode(&bytes);
        assert_eq!((w, h), (width, height));
        assert!(count_pixels(&pixels, |p| p != [255, 255, 255]) > 100, "the chart is not blank");
    }
}

#[test]
fn anomaly_markers_are_drawn_red_and_only_when_asked() {
    let (timestamps, values) = day();
    let mut chart = SeriesChart {
        title: "markers",
        value_label: "cpu",
        timestamps: &timestamps,
        values: &values,
        anomalies: &[],
        shaded: &[],
        alerts: &[],
    };
    let (_, _, plain) = decode(&render_png(&chart, 600, 300).unwrap());
    chart.anomalies = &[50, 200];
    let (_, _, marked) = decode(&render_png(&chart, 600, 300).unwrap());
    assert_eq!(count_pixels(&plain, is_marker_red), 0);
    assert!(count_pixels(&marked, is_marker_red) >= 20, "two filled markers of radius 3");
}

#[test]
fn text_is_drawn_with_the_embedded_font() {
    // Same series, different titles: only the text differs, so pixels must differ.
    let (timestamps, values) = day();
    let chart = |title| SeriesChart {
        title,
        value_label: "cpu",
        timestamps: &timestamps,
        values: &values,
        anomalies: &[],
        shaded: &[],
        alerts: &[],
    };
    let a = decode(&render_png(&chart("A"), 400, 300).unwrap()).2;
    let b = decode(&render_png(&chart("WWWWWWWW"), 400, 300).unwrap()).2;
    assert_ne!(a, b);
}

#[test]
fn gaps_and_single_points_render() {
    let timestamps = [1_700_000_000.0];
    let values = [f64::NAN];
    let chart = SeriesChart {
        title: "gap",
        value_label: "cpu",
        timestamps: &timestamps,
        values: &values,
        anomalies: &[0],
        shaded: &[],
        alerts: &[],
    };
    let (w, h, _) = decode(&render_png(&chart, 300, 200).unwrap());
    assert_eq!((w, h), (300, 200));
}

#[test]
fn bad_charts_are_refused_naming_the_field() {
    let (timestamps, values) = day();
    let good = SeriesChart {
        title: "t",
        value_label: "v",
        timestamps: &timestamps,
        values: &values,
        anomalies: &[],
        shaded: &[],
        alerts: &[],
    };
    let unordered = [2.0, 1.0];
    let cases: Vec<(SeriesChart<'_>, u32, &str)> = vec![
        (SeriesChart { values: &values[1..], ..good }, 400, "values"),
        (SeriesChart { timestamps: &[], values: &[], ..good }, 400, "timestamps"),
        (SeriesChart { timestamps: &unordered, values: &values[..2], ..good }, 400, "timestamps"),
        (SeriesChart { anomalies: &[288], ..good }, 400, "anomalies"),
        (SeriesChart { shaded: &[(5.0, 1.0)], ..good }, 400, "shaded"),
        (SeriesChart { alerts: &[f64::NAN], ..good }, 400, "alerts"),
        (good, 10, "width"),
        (good, 100_000, "width"),
    ];
    for (chart, width, field) in cases {
        match render_png(&chart, width, 300) {
            Err(Error::InvalidParameter { field: got, .. }) => assert_eq!(got, field),
            other => panic!("expected an invalid {field}, got {other:?}"),
        }
    }
}
