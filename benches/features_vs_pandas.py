#!/usr/bin/env python3
"""Features: aiops against pandas 2.3.3 on the same 1,000,000-point series, in one run.

Prints two ratios:
- in memory: the reference code (to_datetime + rolling mean/std + diff + dt.hour) on a DataFrame
  as read_csv returns it, against the criterion estimates of `FeatureSchema::compute` (fresh
  output array) and `compute_into` (reused buffer), from `cargo bench -p aiops-features`;
- end to end: pandas read_csv + the reference code + to_csv, against `aiops features` (release
  build) on the same CSV file.
It also checks that `aiops features` wrote exactly pandas' bits for all 1,000,000 rows, which
proves both sides saw the same series.

Usage (from the workspace root): .venv/main/bin/python benches/features_vs_pandas.py [--repeats 5]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
POINTS = 1_000_000  # fixed: crates/features/benches/features.rs generates the same series
FEATURE_COLUMNS = ["cpu_usage", "rolling_mean", "rolling_std", "rate_of_change", "hour"]


def series(points=POINTS):
    """The shared series (keep in sync with crates/features/benches/features.rs)."""
    i = np.arange(points, dtype=np.uint64)
    hashed = (i * np.uint64(2_654_435_761)) % np.uint64(1 << 32)
    values = (hashed % np.uint64(1001)).astype(np.float64) / 10.0
    values[i % 997 == 0] = np.nan
    timestamps = (1_700_000_000 + 15 * i).astype(np.int64)
    return timestamps, values


def reference(df):
    """The reference platform's code, verbatim."""
    df["timestamp"] = pd.to_datetime(df["timestamp"], unit="s")
    df["rolling_mean"] = df["cpu_usage"].rolling(window=5, min_periods=1).mean()
    df["rolling_std"] = df["cpu_usage"].rolling(window=5, min_periods=1).std().fillna(0)
    df["rate_of_change"] = df["cpu_usage"].diff().fillna(0)
    df["hour"] = df["timestamp"].dt.hour
    return df


def assert_same_bits(expected, written):
    """Every feature column of `written` holds `expected`'s bits (NaN matching NaN)."""
    for column in FEATURE_COLUMNS:
        a = expected[column].to_numpy(dtype="<f8")
        b = written[column].to_numpy(dtype="<f8")
        same = (a.view("<u8") == b.view("<u8")) | (np.isnan(a) & np.isnan(b))
        assert same.all(), f"{column}: {int((~same).sum())} rows differ from pandas"


def best_of(repeats, run, prepare=lambda: None):
    best = float("inf")
    for _ in range(repeats):
        state = prepare()
        start = time.perf_counter()
        run(state)
        best = min(best, time.perf_counter() - start)
    return best


def target_dir():
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    return Path(json.loads(meta.stdout)["target_directory"])


def criterion_seconds(target, name):
    estimates = target / "criterion" / "features_1m" / name / "new" / "estimates.json"
    estimates = json.loads(estimates.read_text())
    # The figure criterion prints: the slope for linear sampling, else the mean.
    return (estimates.get("slope") or estimates["mean"])["point_estimate"] / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement (best is kept)")
    args = parser.parse_args()
    assert pd.__version__ == "2.3.3", f"pandas 2.3.3 required, found {pd.__version__}"

    timestamps, values = series()
    with tempfile.TemporaryDirectory() as tmp:
        data_csv = Path(tmp) / "data.csv"
        text = np.where(np.isnan(values), "", np.char.mod("%.1f", values))
        lines = np.char.add(np.char.add(timestamps.astype(str), ","), text)
        data_csv.write_text("timestamp,cpu_usage\n" + "\n".join(lines) + "\n")

        # pandas, in memory: from the DataFrame read_csv returns (int64 timestamps).
        loaded = pd.read_csv(data_csv)
        assert loaded["timestamp"].dtype == np.int64 and np.array_equal(loaded["cpu_usage"], values, equal_nan=True)
        pandas_memory = best_of(args.repeats, reference, prepare=loaded.copy)

        # pandas, end to end.
        pandas_csv = Path(tmp) / "pandas.csv"

        def pandas_end_to_end(_):
            reference(pd.read_csv(data_csv)).to_csv(pandas_csv, index=False)

        pandas_file = best_of(args.repeats, pandas_end_to_end)

        # aiops, in memory: criterion.
        subprocess.run(
            ["cargo", "bench", "-p", "aiops-features", "--bench", "features"], cwd=ROOT, check=True,
        )
        target = target_dir()
        ours_memory = criterion_seconds(target, "batch")
        ours_memory_reused = criterion_seconds(target, "batch_into_reused_buffer")
        ours_streaming = criterion_seconds(target, "streaming")
        print(f"\nfeatures of {POINTS:,} points (best of {args.repeats} for pandas; criterion means for Rust)")
        print(f"  in memory   pandas 2.3.3 {pandas_memory * 1e3:9.1f} ms")
        print(f"              aiops compute {ours_memory * 1e3:8.1f} ms   {pandas_memory / ours_memory:6.1f}x")
        print(
            f"              aiops compute_into (reused buffer) {ours_memory_reused * 1e3:.1f} ms"
            f"   {pandas_memory / ours_memory_reused:6.1f}x"
        )
        print(
            f"              aiops streaming {ours_streaming * 1e3:6.1f} ms   {pandas_memory / ours_streaming:6.1f}x",
            flush=True,
        )

        # aiops, end to end.
        subprocess.run(["cargo", "build", "--release", "-p", "aiops", "--bin", "aiops"], cwd=ROOT, check=True)
        binary = target / "release" / "aiops"
        ours_csv = Path(tmp) / "aiops.csv"
        command = [str(binary), "features", "--input", str(data_csv), "--output", str(ours_csv)]
        ours_file = best_of(args.repeats, lambda _: subprocess.run(command, check=True, capture_output=True))

        # Same series, same bits: compare aiops' file with pandas' in-memory result.
        expected = reference(loaded.copy())
        assert_same_bits(expected, pd.read_csv(ours_csv, float_precision="round_trip"))

    print(f"  CSV to CSV  pandas 2.3.3 {pandas_file * 1e3:9.1f} ms")
    print(f"              aiops features {ours_file * 1e3:7.1f} ms   {pandas_file / ours_file:6.1f}x")
    print("  aiops features output is bit-identical to pandas on all rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
