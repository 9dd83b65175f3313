#!/usr/bin/env python3
"""The local training pipeline from the data CSV onward: aiops against the reference's Python steps.

Workload: 24 h of node CPU at 10 s (8,640 points: daily cycle, noise, a 30 minute incident at
95 %) as a data CSV (`timestamp,cpu_usage`, timestamps `YYYY-MM-DD HH:MM:SS` as `aiops fetch`
writes them). Times are the best of --repeats runs, wall clock.
- ours: the release binary, three processes as the pipeline runs them (start-up included):
  `aiops features`, `aiops train` (100 trees, 256 samples, contamination 0.05, seed 42; writes the
  model file and metrics JSON), `aiops score` (scores CSV);
- Python (in one interpreter, imports done before timing): pandas 2.3.3 read_csv + the
  reference's feature lines + to_csv; read_csv of the features + scikit-learn
  IsolationForest(n_estimators=100, max_samples=256, contamination=0.05, random_state=42) fit +
  predict + joblib dump + metrics JSON; score_samples + decision + to_csv of the scores.
Checks that both feature CSVs agree exactly and both flag about 5 % of the points, then prints
the times and the ratio (Python / ours).

Usage (from the workspace root, after `cargo build --release -p aiops`):
    .venv/main/bin/python benches/pipeline_vs_python.py [--repeats 5]
"""

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

ROOT = Path(__file__).resolve().parent.parent
AIOPS = ROOT / "target" / "release" / "aiops"
POINTS, STEP = 8_640, 10
START = 1_764_115_200  # 2025-11-26 00:00:00 UTC
FEATURES = ["cpu_usage", "rolling_mean", "rolling_std", "rate_of_change", "hour"]


def write_data_csv(path):
    rng = np.random.default_rng(42)
    t = START + STEP * np.arange(POINTS)
    cpu = 30 + 10 * np.sin(2 * np.pi * (t % 86_400) / 86_400) + rng.uniform(-3, 3, POINTS)
    incident = slice(POINTS * 3 // 4, POINTS * 3 // 4 + 180)
    cpu[incident] = 95 + rng.uniform(-2, 2, 180)
    stamps = pd.to_datetime(t, unit="s").strftime("%Y-%m-%d %H:%M:%S")
    pd.DataFrame({"timestamp": stamps, "cpu_usage": np.round(cpu, 3)}).to_csv(path, index=False)


def python_pipeline(data_csv, out):
    # features: the reference's feature code
    df = pd.read_csv(data_csv)
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df["rolling_mean"] = df["cpu_usage"].rolling(window=5, min_periods=1).mean()
    df["rolling_std"] = df["cpu_usage"].rolling(window=5, min_periods=1).std().fillna(0)
    df["rate_of_change"] = df["cpu_usage"].diff().fillna(0)
    df["hour"] = df["timestamp"].dt.hour
    df.to_csv(out / "features.csv", index=False)
    # train
    features = pd.read_csv(out / "features.csv")
    x = features[FEATURES].values
    model = IsolationForest(n_estimators=100, max_samples=256, contamination=0.05, random_state=42)
    model.fit(x)
    predictions = model.predict(x)
    anomalies = int((predictions == -1).sum())
    metrics = {
        "training_samples": len(x),
        "anomalies_detected": anomalies,
        "anomalies_percentage": 100 * anomalies / len(x),
    }
    joblib.dump(model, out / "model.joblib")
    (out / "metrics.json").write_text(json.dumps(metrics))
    # score
    score = model.score_samples(x)
    pd.DataFrame(
        {"timestamp": features["timestamp"], "score": score, "decision": score - model.offset_,
         "prediction": predictions}
    ).to_csv(out / "scores.csv", index=False)
    return anomalies


def ours(data_csv, out):
    p = lambda name: str(out / name)  # noqa: E731
    for args in (
        ["features", "--input", str(data_csv), "--output", p("features.csv")],
        ["train", "--features", p("features.csv"), "--model-out", p("model.iforest"),
         "--metrics-out", p("metrics.json")],
        ["score", "--model", p("model.iforest"), "--input", p("features.csv"), "--output", p("scores.csv")],
    ):
        subprocess.run([str(AIOPS), *args], check=True, capture_output=True)
    return int((pd.read_csv(out / "scores.csv")["prediction"] == -1).sum())


def best_of(repeats, run):
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not AIOPS.exists():
        raise SystemExit(f"{AIOPS} is missing: run `cargo build --release -p aiops` first")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "ours").mkdir()
        (tmp / "python").mkdir()
        data_csv = tmp / "data.csv"
        write_data_csv(data_csv)
        ours_time, ours_anomalies = best_of(args.repeats, lambda: ours(data_csv, tmp / "ours"))
        py_time, py_anomalies = best_of(args.repeats, lambda: python_pipeline(data_csv, tmp / "python"))
        a = pd.read_csv(tmp / "ours" / "features.csv", float_precision="round_trip")
        b = pd.read_csv(tmp / "python" / "features.csv", float_precision="round_trip")
        for column in FEATURES:
            assert np.array_equal(a[column].values, b[column].values), f"{column} differs from pandas"
        for name, n in (("ours", ours_anomalies), ("Python", py_anomalies)):
            assert abs(n / POINTS - 0.05) < 0.005, f"{name} flagged {n} of {POINTS} points"
    print(f"data: {POINTS} points (24 h at {STEP} s); best of {args.repeats}")
    print(f"ours   (aiops features + train + score, release binary): {ours_time * 1000:8.1f} ms, "
          f"{ours_anomalies} anomalies")
    print(f"Python (pandas + scikit-learn, in-process):              {py_time * 1000:8.1f} ms, "
          f"{py_anomalies} anomalies")
    print(f"ratio Python / ours: {py_time / ours_time:.1f}x")


if __name__ == "__main__":
    main()
