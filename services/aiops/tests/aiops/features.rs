//! `aiops features`: real NAB files, bad input refused without touching the output, exact round
//! trips of every float, and `--sort`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aiops_artifacts::series::{Order, read_series};
use aiops_features::FeatureSchema;

const HEADER_TAIL: &str = "rolling_mean,rolling_std,rate_of_change,hour";

fn aiops(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiops")).args(args).output().expect("aiops runs")
}

fn features(input: &Path, output: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> =
        vec!["features".as_ref(), "--input".as_ref(), input.as_ref(), "--output".as_ref(), output.as_ref()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    aiops(&args)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A features CSV split into the timestamp texts and the five numeric columns.
struct FeaturesCsv {
    header: String,
    timestamps: Vec<String>,
    rows: Vec<[f64; 5]>,
}

fn read_features_csv(path: &Path) -> FeaturesCsv {
    let text = std::fs::read_to_string(path).expect("features CSV is UTF-8");
    let mut lines = text.lines();
    let header = lines.next().expect("a header").to_owned();
    let (mut timestamps, mut rows) = (Vec::new(), Vec::new());
    for (i, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 6, "line {}: `{line}`", i + 2);
        timestamps.push(fields[0].to_owned());
        let mut row = [0.0; 5];
        for (slot, field) in row.iter_mut().zip(&fields[1..]) {
            *slot = field.parse().unwrap_or_else(|e| panic!("line {}: `{field}`: {e}", i + 2));
        }
        rows.push(row);
    }
    FeaturesCsv { header, timestamps, rows }
}

/// Asserts that `output` holds, to the bit, what the library computes for `input`.
fn assert_output_is_the_library_result(input: &Path, output: &Path, order: Order) {
    let series = read_series(input, order).expect("input parses");
    let expected = FeatureSchema::reference().compute(&series.timestamps, &series.values).expect("computes");
    let written = read_features_csv(output);
    assert_eq!(written.header, format!("{},{},{HEADER_TAIL}", series.timestamp_column, series.value_column));
    let read: Vec<&str> = series.timestamp_text.iter().collect();
    assert_eq!(written.timestamps, read, "timestamps are written as they came in");
    assert_eq!(written.rows.len(), expected.nrows());
    for (row, (got, want)) in written.rows.iter().zip(expected.rows()).enumerate() {
        let got: Vec<u64> = got.iter().map(|v| v.to_bits()).collect();
        let want: Vec<u64> = want.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want, "{}: row {row}", output.display());
    }
}

#[test]
fn every_nab_file_goes_through_aiops_features_and_parses_back_to_the_library_bits() {
    let shared = aiops_testkit::require_shared_dir();
    let folder = shared.join("data/nab/realAWSCloudwatch");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&folder)
        .expect("NAB folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "expected the NAB AWS files in {}", folder.display());
    let dir = tempfile::tempdir().expect("temp dir");
    for input in &inputs {
        let output = dir.path().join(input.file_name().expect("file name"));
        let run = features(input, &output, &[]);
        assert!(run.status.success(), "{}: {}", input.display(), stderr(&run));
        assert_output_is_the_library_result(input, &output, Order::Strict);
    }
}

#[test]
fn special_values_and_timestamp_forms_round_trip_exactly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("data.csv");
    let output = dir.path().join("features.csv");
    let rows = [
        ("1700000000", "0.1"),
        ("1700000000.5", ""),
        ("2023-11-14 22:14:21", "-0.0"),
        ("2023-11-14 22:14:22.25", "inf"),
        ("2023-11-14T23:20:00+01:00", "-inf"),
        ("2023-11-14T22:30:00Z", "1e-300"),
        ("1700003599.9999999999", "1e300"),
        ("1700003600.5", "NaN"),
        ("1700003601", "12.3"),
        ("1700003602", "12.3"),
    ];
    let text: String = rows.iter().map(|(t, v)| format!("{t},{v}\n")).collect();
    std::fs::write(&input, format!("time,memory_usage\n{text}")).expect("write input");
    let run = features(&input, &output, &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_output_is_the_library_result(&input, &output, Order::Strict);
    let written = read_features_csv(&output);
    assert_eq!(written.header, format!("time,memory_usage,{HEADER_TAIL}"));
    let timestamps: Vec<&str> = rows.iter().map(|(t, _)| *t).collect();
    assert_eq!(written.timestamps, timestamps);
    assert!(written.rows[1][0].is_nan(), "an empty value is missing");
    assert_eq!(written.rows[2][0].to_bits(), (-0.0f64).to_bits(), "-0.0 survives");
    assert_eq!(written.rows[4][0], f64::NEG_INFINITY);
}

/// Bad inputs: each must exit non-zero, name the line and the problem, and write nothing.
const BAD_INPUTS: &[(&str, &str, &[&str])] = &[
    ("empty file", "", &["line 1", "empty"]),
    ("no header", "1700000000,1.0\n1700000060,2.0\n", &["line 1", "header"]),
    ("header with one column", "timestamp\n1700000000\n", &["line 1", "header"]),
    (
        "wrong column count",
        "timestamp,cpu_usage\n1700000000,1.0\n1700000060,2.0,3.0\n",
        &["line 3", "expected 2 fields, found 3"],
    ),
    (
        "missing column",
        "timestamp,cpu_usage\n1700000000,1.0\n1700000060\n",
        &["line 3", "expected 2 fields, found 1"],
    ),
    ("decimal comma", "timestamp,cpu_usage\n1700000000,1.0\n1700000060,12,5\n", &["line 3", "found 3"]),
    (
        "unparsable number",
        "timestamp,cpu_usage\n1700000000,1.0\n1700000060,abc\n",
        &["line 3", "cannot parse value `abc`"],
    ),
    (
        "unparsable timestamp",
        "timestamp,cpu_usage\n1700000000,1.0\nyesterday,2.0\n",
        &["line 3", "cannot parse timestamp `yesterday`"],
    ),
    (
        "timestamp beyond pandas' range",
        "timestamp,cpu_usage\n1e12,1.0\n",
        &["line 2", "outside the range pandas can represent"],
    ),
    (
        "unsorted",
        "timestamp,cpu_usage\n1700000060,1.0\n1700000000,2.0\n",
        &["line 3", "out-of-order", "--sort"],
    ),
    (
        "duplicate",
        "timestamp,cpu_usage\n1700000000,1.0\n1700000060,2.0\n1700000060,3.0\n",
        &["line 4", "duplicate"],
    ),
    (
        "duplicate in another form",
        "timestamp,cpu_usage\n1700000000,1.0\n2023-11-14 22:13:20,2.0\n",
        &["line 3", "duplicate"],
    ),
];

#[test]
fn bad_input_is_refused_naming_the_line_and_no_output_is_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, content, expected) in BAD_INPUTS {
        let input = dir.path().join("bad.csv");
        std::fs::write(&input, content).expect("write input");
        let fresh = dir.path().join("fresh.csv");
        let run = features(&input, &fresh, &[]);
        let message = stderr(&run);
        assert!(!run.status.success(), "{name}: accepted");
        for needle in *expected {
            assert!(message.contains(needle), "{name}: `{needle}` missing from: {message}");
        }
        assert!(!fresh.exists(), "{name}: output created");

        let existing = dir.path().join("existing.csv");
        std::fs::write(&existing, "previous content\n").expect("write existing");
        assert!(!features(&input, &existing, &[]).status.success(), "{name}: accepted");
        assert_eq!(std::fs::read_to_string(&existing).expect("still there"), "previous content\n", "{name}");
        let leftovers: Vec<_> =
            std::fs::read_dir(dir.path()).expect("dir").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(leftovers.len(), 2, "{name}: temporary files left behind: {leftovers:?}");
    }
}

#[test]
fn a_missing_input_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("absent.csv");
    let output = dir.path().join("out.csv");
    let run = features(&input, &output, &[]);
    assert!(!run.status.success());
    assert!(stderr(&run).contains("absent.csv"), "{}", stderr(&run));
    assert!(!output.exists());
}

#[test]
fn sort_flag_sorts_unsorted_input_and_still_refuses_duplicates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sorted = dir.path().join("sorted.csv");
    let shuffled = dir.path().join("shuffled.csv");
    let points = [(0, "1.5"), (60, "2.5"), (120, ""), (180, "-4.0"), (240, "8.25"), (300, "0.1"), (360, "7")];
    let csv = |order: &[usize]| -> String {
        let body: String =
            order.iter().map(|&i| format!("{},{}\n", 1_700_000_000 + points[i].0, points[i].1)).collect();
        format!("timestamp,cpu_usage\n{body}")
    };
    std::fs::write(&sorted, csv(&[0, 1, 2, 3, 4, 5, 6])).expect("write");
    std::fs::write(&shuffled, csv(&[4, 0, 6, 2, 1, 5, 3])).expect("write");

    let (from_sorted, from_shuffled) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    assert!(features(&sorted, &from_sorted, &[]).status.success());
    let run = features(&shuffled, &from_shuffled, &["--sort"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(std::fs::read(&from_sorted).expect("a"), std::fs::read(&from_shuffled).expect("b"));
    assert!(!features(&shuffled, &dir.path().join("c.csv"), &[]).status.success(), "unsorted without --sort");

    let duplicated = dir.path().join("duplicated.csv");
    std::fs::write(&duplicated, "timestamp,cpu_usage\n1700000060,1\n1700000000,2\n1700000060,3\n")
        .expect("write");
    let run = features(&duplicated, &dir.path().join("d.csv"), &["--sort"]);
    assert!(!run.status.success());
    assert!(stderr(&run).contains("line 4") && stderr(&run).contains("line 2"), "{}", stderr(&run));
}

#[test]
fn window_flag_changes_the_window_and_zero_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("data.csv");
    std::fs::write(&input, "timestamp,cpu_usage\n0,1\n60,2\n120,3\n180,4\n").expect("write");
    let output = dir.path().join("out.csv");
    assert!(features(&input, &output, &["--window", "2"]).status.success());
    let written = read_features_csv(&output);
    assert_eq!(written.rows[3][1], 3.5, "mean of the last two points");
    let run = features(&input, &dir.path().join("zero.csv"), &["--window", "0"]);
    assert!(!run.status.success());
    assert!(stderr(&run).contains("window"), "{}", stderr(&run));
}

#[test]
fn output_into_a_folder_that_does_not_exist_yet_is_created_like_the_quick_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("data.csv");
    std::fs::write(&input, "timestamp,cpu_usage\n1700000000,20.22\n1700000300,21.83\n").expect("write");
    let output = dir.path().join("out/nested/features.csv");
    let run = features(&input, &output, &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_output_is_the_library_result(&input, &output, Order::Strict);
}
