//! The oracle: real pandas 2.3.3 runs the reference code on 10,000 generated series and every
//! element we compute, batch and streaming, must have the same bits.
//!
//! Data crosses the process boundary as raw little-endian f64 bytes, so no text rounding can hide
//! or invent a difference.

use aiops_features::FeatureSchema;

use crate::generator::{Case, case};

const SEED: u64 = 0x5EED_2025_0002;
const SERIES: u64 = 10_000;

/// The reference code, per series, with the window as a parameter. `Series` operations are
/// exactly what the reference's `df[...]` column expressions run.
const PANDAS_REFERENCE: &str = r#"
import struct, sys
import numpy as np
import pandas as pd
assert pd.__version__ == "2.3.3", f"the oracle must be pandas 2.3.3, found {pd.__version__}"

data = sys.stdin.buffer.read()
(count,) = struct.unpack_from("<I", data, 0)
pos = 4
out = []
for _ in range(count):
    n, window = struct.unpack_from("<II", data, pos)
    pos += 8
    ts = np.frombuffer(data, "<f8", n, pos).copy()
    pos += 8 * n
    values = np.frombuffer(data, "<f8", n, pos).copy()
    pos += 8 * n
    df = pd.DataFrame({"timestamp": ts, "cpu_usage": values})
    df["timestamp"] = pd.to_datetime(df["timestamp"], unit="s")
    df["rolling_mean"] = df["cpu_usage"].rolling(window=window, min_periods=1).mean()
    df["rolling_std"] = df["cpu_usage"].rolling(window=window, min_periods=1).std().fillna(0)
    df["rate_of_change"] = df["cpu_usage"].diff().fillna(0)
    df["hour"] = df["timestamp"].dt.hour
    columns = ["cpu_usage", "rolling_mean", "rolling_std", "rate_of_change", "hour"]
    out.append(df[columns].to_numpy(dtype="<f8").tobytes())
sys.stdout.buffer.write(b"".join(out))
"#;

const COLUMNS: [&str; 5] = ["cpu_usage", "rolling_mean", "rolling_std", "rate_of_change", "hour"];

fn encode(cases: &[Case]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&u32::try_from(cases.len()).expect("few cases").to_le_bytes());
    for case in cases {
        bytes.extend_from_slice(&u32::try_from(case.values.len()).expect("short series").to_le_bytes());
        bytes.extend_from_slice(&u32::try_from(case.window).expect("small window").to_le_bytes());
        for v in case.timestamps.iter().chain(&case.values) {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    bytes
}

fn decode(bytes: &[u8]) -> Vec<f64> {
    assert_eq!(bytes.len() % 8, 0, "pandas wrote a partial f64");
    bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
}

/// Same bits, except that any NaN equals any NaN (pandas does not promise NaN payloads).
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// The generator must actually produce what the oracle claims to cover.
fn assert_coverage(cases: &[Case]) {
    let values = || cases.iter().flat_map(|c| c.values.iter().copied());
    let times = || cases.iter().flat_map(|c| c.timestamps.iter().copied());
    let lengths: Vec<usize> = cases.iter().map(|c| c.values.len()).collect();
    assert!(lengths.contains(&1) && lengths.contains(&300), "lengths 1 and 300 are covered");
    assert!(values().any(f64::is_nan), "NaN");
    assert!(values().any(|v| v == f64::INFINITY) && values().any(|v| v == f64::NEG_INFINITY), "±inf");
    assert!(values().any(|v| v == 0.0 && v.is_sign_negative()), "-0.0");
    assert!(
        values().any(|v| v.abs() > 1e299) && values().any(|v| v != 0.0 && v.abs() < 1e-299),
        "magnitudes"
    );
    assert!(values().any(|v| v == 12.3), "one-decimal values");
    assert!(
        cases.iter().any(|c| c.values.windows(6).any(|w| w.iter().all(|&v| v == w[0]))),
        "constant runs longer than the window"
    );
    assert!(times().any(|t| t == 3599.9999999999), "the 3599.9999999999 edge");
    assert!(times().any(|t| t < 0.0 && t.fract() != 0.0), "negative fractional times");
    assert!(times().any(|t| t.abs() > 9e9), "times near pandas' nanosecond limit");
}

#[test]
fn batch_and_streaming_match_pandas_2_3_3_bit_for_bit_on_10000_generated_series() {
    let python = aiops_testkit::require_python();
    let cases: Vec<Case> = (0..SERIES).map(|i| case(SEED, i)).collect();
    assert_coverage(&cases);
    let expected = decode(&aiops_testkit::run_python(&python, PANDAS_REFERENCE, &encode(&cases)));
    let total: usize = cases.iter().map(|c| c.values.len() * 5).sum();
    assert_eq!(expected.len(), total, "pandas returned {} elements for {total}", expected.len());

    let mut mismatches = Vec::new();
    let mut offset = 0;
    for (index, case) in cases.iter().enumerate() {
        let schema = FeatureSchema::with_window(case.window).expect("generated windows are valid");
        let batch = schema.compute(&case.timestamps, &case.values).expect("generated timestamps are valid");
        let mut stream = schema.streaming();
        for (row, (&t, &v)) in case.timestamps.iter().zip(&case.values).enumerate() {
            let streamed = stream.push(t, v).expect("generated timestamps are valid");
            for column in 0..5 {
                let want = expected[offset + row * 5 + column];
                for (api, got) in [("batch", batch[[row, column]]), ("streaming", streamed[column])] {
                    if !same(got, want) {
                        mismatches.push(format!(
                            "series {index} (window {}) row {row} {}: {api} {got:e} ({:#018x}) vs pandas {want:e} \
                             ({:#018x}); timestamp {t:e}, value {v:e}",
                            case.window,
                            COLUMNS[column],
                            got.to_bits(),
                            want.to_bits(),
                        ));
                    }
                }
            }
        }
        offset += case.values.len() * 5;
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} elements differ from pandas (regenerate a series with generator::case({SEED:#x}, index)):\n{}",
        mismatches.len(),
        total * 2,
        mismatches.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Where pandas' float-seconds conversion rounds, and where its nanosecond range ends: each time
/// either gets pandas' hour or, where pandas raises, an error naming the row.
#[test]
fn hour_matches_pandas_on_rounding_edges_and_range_limits() {
    let python = aiops_testkit::require_python();
    let times = [
        3599.9999999999,
        3599.999999999,
        3599.9999999995,
        -1e-10,
        -0.5,
        -1.0,
        -3600.0000000001,
        86399.99999999995,
        1e-300,
        -0.0,
        9_223_372_036.0,
        9_223_372_036.85,
        9_223_372_036.86,
        -9_223_372_036.85,
        -9_223_372_036.86,
        1e10,
        -1e19,
        f64::MAX,
    ];
    let script = r#"
import sys
import numpy as np
import pandas as pd
for t in np.frombuffer(sys.stdin.buffer.read(), "<f8"):
    try:
        print(pd.to_datetime(pd.Series([t]), unit="s").dt.hour[0])
    except Exception as e:
        print("error", type(e).__name__)
"#;
    let bytes: Vec<u8> = times.iter().flat_map(|t| t.to_le_bytes()).collect();
    let answers = String::from_utf8(aiops_testkit::run_python(&python, script, &bytes)).expect("utf-8");
    let answers: Vec<&str> = answers.lines().collect();
    assert_eq!(answers.len(), times.len());
    for (row, (&t, pandas)) in times.iter().zip(answers).enumerate() {
        let ours = aiops_features::hour_of_unix_seconds(t, row);
        match (pandas.parse::<u8>(), ours) {
            (Ok(want), Ok(got)) => assert_eq!(got, want, "hour of {t:e}"),
            (Err(_), Err(aiops_features::Error::InvalidTimestamp { row: named, .. })) => {
                assert_eq!(named, row, "the error names the row");
            }
            (want, got) => panic!("{t:e}: pandas says {pandas} ({want:?}), we say {got:?}"),
        }
    }
}
