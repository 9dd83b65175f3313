#!/usr/bin/env python3
"""Tables end to end: `aiops` commands against pandas (+ scikit-learn) on the same files, in one run.

Prints, best of --repeats, wall clock, the release binary as separate processes (start-up
included) against Python in one interpreter (imports done before timing):
- `train` + `score` on a --rows x 5 features CSV (timestamp + five standard-normal columns at full
  precision, about 110 bytes a row): `aiops train` (100 trees, 256 samples, contamination 0.05;
  model file + metrics JSON, which scores the training rows) then `aiops score` (scores CSV),
  against pandas read_csv + scikit-learn IsolationForest (same parameters, n_jobs=-1) fit +
  predict + joblib dump + metrics JSON, then joblib load + read_csv + score_samples + decision +
  prediction + to_csv;
- the same train + score with the features table as Parquet (pandas' to_parquet; pandas reads it
  with read_parquet and writes the scores with to_parquet);
- `features` on a --rows data CSV (the series of benches/features_vs_pandas.py): `aiops features`
  against read_csv + the reference's feature lines + to_csv, checking that both wrote the same
  bits on every row;
- with --memory-rows N[,M...]: peak RSS (`/usr/bin/time -v`) of `aiops train` and `aiops score` on an
  N x 5 CSV, against the size of the N x 5 f64 matrix.

Usage (from the workspace root, after `cargo build --release -p aiops`):
    .venv/main/bin/python benches/tables_vs_pandas.py [--rows 1000000] [--repeats 3] [--memory-rows 1000000,10000000]
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from features_vs_pandas import assert_same_bits, reference, series  # noqa: E402
from pipeline_vs_python import best_of  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
AIOPS = ROOT / "target" / "release" / "aiops"
COLUMNS = [f"x{i}" for i in range(5)]


def write_matrix_csv(path, rows, seed=42):
    """timestamp + five standard-normal columns, written by pandas in blocks (bounded memory)."""
    rng = np.random.default_rng(seed)
    block = 1_000_000
    for start in range(0, rows, block):
        n = min(block, rows - start)
        frame = pd.DataFrame(rng.standard_normal((n, 5)), columns=COLUMNS)
        frame.insert(0, "timestamp", 1_700_000_000 + 10 * np.arange(start, start + n))
        frame.to_csv(path, index=False, header=start == 0, mode="w" if start == 0 else "a")


def aiops(*args):
    subprocess.run([str(AIOPS), *map(str, args)], check=True, capture_output=True)


def ours_train_score(features, out):
    aiops("train", "--features", features, "--model-out", out / "model.iforest", "--metrics-out", out / "m.json")
    aiops("score", "--model", out / "model.iforest", "--input", features, "--output",
          out / ("scores" + features.suffix))


def read(path):
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def python_train_score(features, out):
    frame = read(features)
    x = frame[COLUMNS].values
    model = IsolationForest(n_estimators=100, max_samples=256, contamination=0.05, random_state=42, n_jobs=-1)
    model.fit(x)
    anomalies = int((model.predict(x) == -1).sum())
    joblib.dump(model, out / "model.joblib")
    (out / "m.json").write_text(json.dumps({"training_samples": len(x), "anomalies_detected": anomalies}))
    model = joblib.load(out / "model.joblib")
    frame = read(features)
    score = model.score_samples(frame[COLUMNS].values)
    decision = score - model.offset_
    scores = pd.DataFrame(
        {"timestamp": frame["timestamp"], "score": score, "decision": decision,
         "prediction": np.where(decision < 0, -1, 1)}
    )
    if features.suffix == ".parquet":
        scores.to_parquet(out / "scores.parquet")
    else:
        scores.to_csv(out / "scores.csv", index=False)


def write_data_csv(path, rows):
    timestamps, values = series(rows)
    pd.DataFrame({"timestamp": timestamps, "cpu_usage": values}).to_csv(path, index=False)


def peak_rss_mb(*args):
    run = subprocess.run(["/usr/bin/time", "-v", str(AIOPS), *map(str, args)], check=True, capture_output=True,
                         text=True)
    kbytes = re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr)
    return int(kbytes.group(1)) / 1024


def memory(rows, tmp):
    features = tmp / "big.csv"
    print(f"writing a {rows:,} x 5 CSV for the memory run...", flush=True)
    write_matrix_csv(features, rows)
    matrix_mb = rows * 5 * 8 / 2**20
    train = peak_rss_mb("train", "--features", features, "--model-out", tmp / "big.iforest",
                        "--metrics-out", tmp / "big.json")
    score = peak_rss_mb("score", "--model", tmp / "big.iforest", "--input", features, "--output", tmp / "big-scores.csv")
    size_mb = features.stat().st_size / 2**20
    print(f"\npeak RSS on {rows:,} x 5 ({size_mb:,.0f} MB CSV; f64 matrix {matrix_mb:,.0f} MB)")
    print(f"  aiops train {train:8,.0f} MB   {train / matrix_mb:.2f}x the matrix")
    print(f"  aiops score {score:8,.0f} MB   {score / matrix_mb:.2f}x the matrix")


def train_score(features, tmp, args):
    """Times both sides' train + score on `features` (CSV or Parquet) and prints the ratio."""
    ours, _ = best_of(args.repeats, lambda: ours_train_score(features, tmp / "ours"))
    python, _ = best_of(args.repeats, lambda: python_train_score(features, tmp / "python"))
    a = read(tmp / "ours" / ("scores" + features.suffix))
    assert len(a) == args.rows and abs((a["prediction"] == -1).mean() - 0.05) < 0.005, "ours: 5 % anomalies"
    size_mb = features.stat().st_size / 2**20
    print(f"train + score on {args.rows:,} x 5 ({size_mb:.0f} MB {features.suffix[1:]}), best of {args.repeats}")
    print(f"  aiops train + score          {ours:8.3f} s")
    print(f"  pandas + scikit-learn         {python:8.3f} s   ratio {python / ours:5.1f}x", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-rows", type=lambda text: [int(n) for n in text.split(",")], default=[],
                        help="also measure peak RSS on these many rows (comma-separated)")
    args = parser.parse_args()
    assert pd.__version__ == "2.3.3", f"pandas 2.3.3 required, found {pd.__version__}"
    if not AIOPS.exists():
        raise SystemExit(f"{AIOPS} is missing: run `cargo build --release -p aiops` first")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for side in ("ours", "python"):
            (tmp / side).mkdir()
        features = tmp / "features.csv"
        write_matrix_csv(features, args.rows)
        train_score(features, tmp, args)
        parquet = tmp / "features.parquet"
        pd.read_csv(features).to_parquet(parquet)
        train_score(parquet, tmp, args)

        data = tmp / "data.csv"
        write_data_csv(data, args.rows)
        ours_features = tmp / "ours" / "features.csv"
        pandas_features = tmp / "python" / "features.csv"
        ours, _ = best_of(args.repeats, lambda: aiops("features", "--input", data, "--output", ours_features))
        python, _ = best_of(
            args.repeats, lambda: reference(pd.read_csv(data)).to_csv(pandas_features, index=False)
        )
        expected = reference(pd.read_csv(data))
        assert_same_bits(expected, pd.read_csv(ours_features, float_precision="round_trip"))
        print(f"features on {args.rows:,} rows ({data.stat().st_size / 2**20:.0f} MB CSV), best of {args.repeats}")
        print(f"  aiops features               {ours:8.3f} s")
        print(f"  pandas                        {python:8.3f} s   ratio {python / ours:5.1f}x")
        print("  aiops features wrote pandas' bits on every row")

        for rows in args.memory_rows:
            memory(rows, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
