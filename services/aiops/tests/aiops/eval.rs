//! `aiops eval nab`: NAB's files are taken as shipped, the detector's cross-validated score on the
//! 24 dev series stays above its floor, the default detector clears the floor on the older
//! 12-series subset, the reference point detector reproduces its known score, plots are written
//! (of NAB as shipped too), and bad input is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The normalised standard score the default detector must reach on `shared/data/nab` (issue 9;
/// it scores 73.7 there).
const NAB_FLOOR: f64 = 60.0;

/// Leave-one-file-out cross-validated scores on `shared/data/nab-dev` (issue 13), measured 73.3
/// standard, 68.2 low FP, 77.5 low FN (with the hour gate; 71.1, 59.6, 75.9 before): floors a
/// little below, so that a change that loses generalisation fails.
const CROSS_VALIDATED_FLOORS: [(&str, f64); 3] = [("standard", 72.0), ("low_fp", 66.5), ("low_fn", 76.5)];

fn eval_nab(data_dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["eval", "nab", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .output()
        .expect("aiops runs")
}

fn evaluation(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "aiops eval nab failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

fn nab_dir() -> PathBuf {
    aiops_testkit::require_shared_dir().join("data/nab")
}

/// `shared/data/nab-dev`; these tests guard scores, so they fail rather than skip without it.
fn nab_dev_dir() -> PathBuf {
    let shared = aiops_testkit::require_shared_dir();
    let dir = shared.join("data/nab-dev");
    assert!(dir.join("combined_windows.json").is_file(), "{} has no combined_windows.json", dir.display());
    dir
}

#[test]
fn nab_as_shipped_is_scored_with_a_warning_for_repeated_and_backwards_timestamps() {
    let output = eval_nab(&nab_dev_dir(), &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("warning") && stderr.contains("4 file(s)"), "{stderr}");
    assert!(
        stderr.contains("machine_temperature_system_failure.csv (12 duplicated, 1 backwards)"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    for profile in ["standard", "low_fp", "low_fn"] {
        assert!(stdout.contains(&format!("normalised {profile} score = ")), "{stdout}");
    }
    assert!(stdout.contains("nyc_taxi.csv"), "the per-file table: {stdout}");
}

#[test]
fn the_cross_validated_nab_dev_score_stays_above_its_floor() {
    let result = evaluation(&eval_nab(&nab_dev_dir(), &["--json", "--cross-validate"]));
    let series = result["series"].as_array().expect("per-series results");
    assert_eq!(series.len(), 24);
    let windows: u64 = series.iter().map(|s| s["score"]["windows"].as_u64().expect("windows")).sum();
    assert_eq!(windows, 49, "every labelled window after the probation periods is scored");
    let runs = result["cross_validation"].as_array().expect("one cross-validation per profile");
    for (profile, floor) in CROSS_VALIDATED_FLOORS {
        let run = runs.iter().find(|r| r["profile"] == profile).expect("the profile's cross-validation");
        let score = run["cross_validated"].as_f64().expect("a cross-validated score");
        assert!(score >= floor, "cross-validated {profile} score {score:.1} fell below its floor {floor}");
        let in_sample = result["profiles"][profile].as_f64().expect("the profile's score");
        assert!(in_sample >= score, "{profile}: the default ({in_sample:.1}) is the in-sample best");
    }
}

#[test]
fn the_default_detector_clears_the_nab_floor_and_plots_every_series() {
    let nab = nab_dir();
    let plots = tempfile::tempdir().expect("temp dir");
    let result = evaluation(&eval_nab(&nab, &["--json", "--plots", plots.path().to_str().expect("utf-8")]));
    let score = result["normalised"].as_f64().expect("a normalised score");
    assert!(score >= NAB_FLOOR, "normalised standard score {score} is below the floor {NAB_FLOOR}");
    let series = result["series"].as_array().expect("per-series results");
    assert_eq!(series.len(), 12);
    let windows: u64 = series.iter().map(|s| s["score"]["windows"].as_u64().expect("windows")).sum();
    assert_eq!(windows, 21, "every labelled window of the shared NAB data is scored");
    assert_plotted(series, plots.path());
}

/// Regression: `--plots` refused NAB as shipped (a timestamp of
/// `machine_temperature_system_failure` goes backwards) and drew none of the files after it.
#[test]
fn every_nab_dev_series_is_plotted_the_one_whose_timestamps_go_backwards_too() {
    let plots = tempfile::tempdir().expect("temp dir");
    let result =
        evaluation(&eval_nab(&nab_dev_dir(), &["--json", "--plots", plots.path().to_str().expect("utf-8")]));
    let series = result["series"].as_array().expect("per-series results");
    assert_eq!(series.len(), 24);
    assert_plotted(series, plots.path());
}

/// Each of `series` (results of `--json`) has a PNG in `folder`.
fn assert_plotted(series: &[serde_json::Value], folder: &Path) {
    for s in series {
        let name = s["name"].as_str().expect("a name");
        let stem = Path::new(name).file_stem().expect("a file name").to_string_lossy();
        let png = std::fs::read(folder.join(format!("{stem}.png"))).expect("a plot per series");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{stem}.png is a PNG");
    }
}

#[test]
fn the_reference_point_detector_scores_about_minus_270() {
    let nab = nab_dir();
    let result = evaluation(&eval_nab(&nab, &["--json", "--detector", "reference"]));
    let score = result["normalised"].as_f64().expect("a normalised score");
    // the issue quotes about -269 for scikit-learn's forest; ours draws other random trees
    assert!((-280.0..=-260.0).contains(&score), "reference detector scored {score}");
    for s in result["series"].as_array().expect("series") {
        let (rows, alerts) =
            (s["rows"].as_u64().expect("rows"), s["alerts"].as_array().expect("alerts").len() as u64);
        assert!(
            (rows * 4 / 100..=rows * 6 / 100).contains(&alerts),
            "{}: contamination 0.05 flags ~5% of rows",
            s["name"]
        );
    }
}

#[test]
fn a_missing_series_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("combined_windows.json"), r#"{"absent.csv": []}"#).expect("writes");
    let output = eval_nab(dir.path(), &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("absent.csv"), "{stderr}");
}

/// A checkout of NAB's repository keeps the windows in `labels/`, beside `data/`: found there
/// when `--data-dir` has none of its own; with neither, both places are named.
#[test]
fn the_windows_of_a_nab_checkout_are_found_in_its_labels_folder() {
    let dev = nab_dev_dir();
    let checkout = tempfile::tempdir().expect("temp dir");
    let data = checkout.path().join("data");
    std::fs::create_dir_all(data.join("realKnownCause")).expect("creates");
    std::fs::create_dir_all(checkout.path().join("labels")).expect("creates");
    std::fs::copy(dev.join("realKnownCause/nyc_taxi.csv"), data.join("realKnownCause/nyc_taxi.csv"))
        .expect("copies");
    let all: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dev.join("combined_windows.json")).expect("reads"))
            .expect("JSON");
    let name = "realKnownCause/nyc_taxi.csv";
    let windows = serde_json::json!({ name: all[name] });
    std::fs::write(checkout.path().join("labels/combined_windows.json"), windows.to_string())
        .expect("writes");
    let result = evaluation(&eval_nab(&data, &["--json"]));
    assert_eq!(result["series"][0]["name"], name);
    assert_eq!(result["series"][0]["score"]["windows"], 5);

    std::fs::remove_file(checkout.path().join("labels/combined_windows.json")).expect("removes");
    let output = eval_nab(&data, &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("data/combined_windows.json") && stderr.contains("labels/combined_windows.json"),
        "{stderr}"
    );
}

#[test]
fn malformed_windows_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("combined_windows.json"), r#"{"a.csv": [["2014-01-01 00:00:00"]]}"#)
        .expect("writes");
    let output = eval_nab(dir.path(), &[]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("combined_windows.json"));
    // Regression: a windows file was read whole, whatever its size (`/dev/zero` took the memory).
    let output = eval_nab(dir.path(), &["--windows", "/dev/zero"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/dev/zero: larger than 64 MiB"));
}
