#!/usr/bin/env python3
"""Isolation Forest: aiops-iforest against scikit-learn 1.9.1 and isotree, in one run.

Workload: 1,000,000 x 5 standard-normal float64 rows, 100 trees, 256 samples per tree,
contamination "auto" (so fit does not score the training set). Times are the best of 5.
- ours: `cargo bench -p aiops-iforest --bench fit_score` (release build, rayon on every core),
  with the fastest batch kernel the CPU has (AVX-512 where present) and again with
  AIOPS_IFOREST_KERNEL=portable (the real trees, what CPUs without AVX-512 run);
- scikit-learn: fit (single-threaded tree building is what it does), score_samples with
  n_jobs=2 through joblib's threading backend;
- isotree: IsolationForest(ndim=1, sample_size=256, ntrees=100, nthreads=2), the same model.
Prints the times and the ratios (theirs / ours).

Usage (from the workspace root): .venv/main/bin/python benches/iforest_vs_sklearn.py
"""

import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
from joblib import parallel_backend
from sklearn.ensemble import IsolationForest

ROOT = Path(__file__).resolve().parent.parent
ROWS, COLUMNS, REPEATS = 1_000_000, 5, 5


def best_of(run):
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def ours(kernel=None):
    env = dict(os.environ, **({"AIOPS_IFOREST_KERNEL": kernel} if kernel else {}))
    out = subprocess.run(
        ["cargo", "bench", "-q", "-p", "aiops-iforest", "--bench", "fit_score"],
        cwd=ROOT, check=True, capture_output=True, text=True, env=env,
    ).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def sklearn(x):
    model = IsolationForest(n_estimators=100, max_samples=256, random_state=42)
    fit = best_of(lambda: model.fit(x))
    model.set_params(n_jobs=2)
    with parallel_backend("threading", n_jobs=2):
        score = best_of(lambda: model.score_samples(x))
    return fit, score


def isotree(x):
    from isotree import IsolationForest as IsoTree

    model = IsoTree(ndim=1, sample_size=256, ntrees=100, nthreads=2, random_seed=42)
    fit = best_of(lambda: model.fit(x))
    score = best_of(lambda: model.predict(x))
    return fit, score


def main():
    x = np.random.default_rng(42).standard_normal((ROWS, COLUMNS))
    rust = ours()
    portable = ours("portable") if rust["kernel"] != "portable" else rust
    sk_fit, sk_score = sklearn(x)
    iso_fit, iso_score = isotree(x)
    print(f"workload: {ROWS:,} x {COLUMNS} standard normal, 100 trees, 256 samples, best of {REPEATS}")
    for run in [rust] + ([portable] if portable is not rust else []):
        print(f"aiops-iforest ({run['threads']} threads, {run['kernel']} kernel): fit {run['fit_s']:.4f} s, "
              f"score {run['score_s']:.4f} s, score_row {run['score_row_s'] * 1e6:.2f} us")
    print(f"scikit-learn:  fit {sk_fit:.4f} s, score (2 threads) {sk_score:.4f} s")
    print(f"isotree:       fit {iso_fit:.4f} s, score (2 threads) {iso_score:.4f} s")
    print(f"fit:   {sk_fit / rust['fit_s']:.1f}x faster than scikit-learn, {iso_fit / rust['fit_s']:.1f}x faster than isotree")
    for run in [rust] + ([portable] if portable is not rust else []):
        print(f"score ({run['kernel']}): {sk_score / run['score_s']:.1f}x faster than scikit-learn, "
              f"{iso_score / run['score_s']:.1f}x faster than isotree")


if __name__ == "__main__":
    main()
