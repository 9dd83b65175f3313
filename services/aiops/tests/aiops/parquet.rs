//! Parquet tables (issue 16): pandas 2.3.3 with pyarrow writes, `aiops` reads, and back; the
//! features bit-identical to pandas' either way, every column typed as pandas types it.

use std::path::Path;

use aiops_testkit::{require_python, run_python};

use super::train::aiops;

/// Writes, in the folder given on standard input, the reference's data and features as pandas
/// writes them: `data.parquet`/`data.csv` (integer unix seconds and a float value with missing
/// values) and `pandas-features.parquet`; and a training table
/// without missing values, `train.parquet`/`train.csv`.
const PANDAS_WRITES: &str = r#"
import sys
from pathlib import Path
import numpy as np
import pandas as pd
assert pd.__version__ == "2.3.3", f"the oracle must be pandas 2.3.3, found {pd.__version__}"
folder = Path(sys.stdin.read())
n = 3000
i = np.arange(n)
values = ((i * 2654435761) % 1001) / 10.0
values[i % 97 == 0] = np.nan
timestamps = 1_700_000_000 + 15 * i
data = pd.DataFrame({"timestamp": timestamps, "cpu_usage": values})
data.to_parquet(folder / "data.parquet")
data.to_csv(folder / "data.csv", index=False)
features = data.copy()
features["timestamp"] = pd.to_datetime(features["timestamp"], unit="s")
features["rolling_mean"] = features["cpu_usage"].rolling(window=5, min_periods=1).mean()
features["rolling_std"] = features["cpu_usage"].rolling(window=5, min_periods=1).std().fillna(0)
features["rate_of_change"] = features["cpu_usage"].diff().fillna(0)
features["hour"] = features["timestamp"].dt.hour
features.to_parquet(folder / "pandas-features.parquet")
train = features.dropna().reset_index(drop=True)
train.to_parquet(folder / "train.parquet")
train.to_csv(folder / "train.csv", index=False)
"#;

/// Compares, in the folder given on standard input, each `*.parquet` aiops wrote with pandas'
/// file: the same schema types and the same bits (NaN read back as NaN).
const PANDAS_READS_FEATURES: &str = r#"
import sys
from pathlib import Path
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
folder = Path(sys.stdin.read())
expected = pd.read_parquet(folder / "pandas-features.parquet")
types = [(f.name, str(f.type)) for f in pq.read_schema(folder / "pandas-features.parquet")]
for name in ["from-parquet.parquet", "from-csv.parquet", "forced"]:
    ours = pd.read_parquet(folder / name, engine="pyarrow")
    got = [(f.name, str(f.type)) for f in pq.read_schema(folder / name)]
    assert got == types, f"{name}: {got} != {types}"
    assert list(ours.dtypes) == list(expected.dtypes), f"{name}: {ours.dtypes} != {expected.dtypes}"
    assert (ours["timestamp"] == expected["timestamp"]).all(), f"{name}: timestamps differ"
    for column in ["cpu_usage", "rolling_mean", "rolling_std", "rate_of_change", "hour"]:
        a = expected[column].to_numpy(dtype="<f8")
        b = ours[column].to_numpy(dtype="<f8")
        same = (a.view("<u8") == b.view("<u8")) | (np.isnan(a) & np.isnan(b))
        assert same.all(), f"{name} {column}: {int((~same).sum())} rows differ from pandas"
print("ok")
"#;

/// Compares the scores aiops wrote as Parquet with those it wrote as CSV (pandas reads both).
const PANDAS_READS_SCORES: &str = r#"
import sys
from pathlib import Path
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
folder = Path(sys.stdin.read())
csv = pd.read_csv(folder / "scores.csv", float_precision="round_trip")
parquet = pd.read_parquet(folder / "scores.parquet")
types = [(f.name, str(f.type)) for f in pq.read_schema(folder / "scores.parquet")]
assert types == [("timestamp", "timestamp[ns]"), ("score", "double"), ("decision", "double"),
                 ("prediction", "int64")], types
assert (pd.to_datetime(csv["timestamp"]) == parquet["timestamp"]).all()
for column in ["score", "decision"]:
    assert (csv[column].to_numpy().view("<u8") == parquet[column].to_numpy().view("<u8")).all(), column
assert (csv["prediction"] == parquet["prediction"]).all()
assert len(parquet) > 2000 and 0 < (parquet["prediction"] == -1).mean() < 0.1
print("ok")
"#;

fn check(args: &[&str]) {
    let out = aiops(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

#[test]
fn pandas_parquet_data_gives_features_with_pandas_bits_and_types() {
    let python = require_python();
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    run_python(&python, PANDAS_WRITES, path_str(dir.path()).as_bytes());
    check(&[
        "features",
        "--input",
        path_str(&at("data.parquet")),
        "--output",
        path_str(&at("from-parquet.parquet")),
    ]);
    check(&["features", "--input", path_str(&at("data.csv")), "--output", path_str(&at("from-csv.parquet"))]);
    // A name that does not say (a Kubeflow artifact path): --format decides, for input and output.
    std::fs::copy(at("data.parquet"), at("data")).unwrap();
    check(&[
        "features",
        "--input",
        path_str(&at("data")),
        "--output",
        path_str(&at("forced")),
        "--format",
        "parquet",
    ]);
    let said = run_python(&python, PANDAS_READS_FEATURES, path_str(dir.path()).as_bytes());
    assert_eq!(String::from_utf8_lossy(&said).trim(), "ok");
    // Parquet in, CSV out: the same text as from the CSV input.
    check(&["features", "--input", path_str(&at("data.parquet")), "--output", path_str(&at("a.csv"))]);
    check(&["features", "--input", path_str(&at("data.csv")), "--output", path_str(&at("b.csv"))]);
    assert_eq!(std::fs::read(at("a.csv")).unwrap(), std::fs::read(at("b.csv")).unwrap());
}

#[test]
fn pandas_parquet_features_train_and_score_as_their_csv_does() {
    let python = require_python();
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| path_str(dir.path()).to_owned() + "/" + name;
    run_python(&python, PANDAS_WRITES, path_str(dir.path()).as_bytes());
    for (input, model) in [("train.parquet", "p.iforest"), ("train.csv", "c.iforest")] {
        check(&[
            "train",
            "--features",
            &at(input),
            "--model-out",
            &at(model),
            "--metrics-out",
            &at("m.json"),
        ]);
    }
    // The same model but for its creation time (the two trainings may straddle a second).
    let load = |name: &str| aiops_artifacts::model::load(Path::new(&at(name))).unwrap().model;
    let (from_parquet, mut from_csv) = (load("p.iforest"), load("c.iforest"));
    from_csv.metadata.created_at_unix = from_parquet.metadata.created_at_unix;
    assert_eq!(from_parquet, from_csv);
    check(&[
        "score",
        "--model",
        &at("p.iforest"),
        "--input",
        &at("train.parquet"),
        "--output",
        &at("scores.parquet"),
    ]);
    check(&[
        "score",
        "--model",
        &at("p.iforest"),
        "--input",
        &at("train.csv"),
        "--output",
        &at("scores.csv"),
    ]);
    let said = run_python(&python, PANDAS_READS_SCORES, path_str(dir.path()).as_bytes());
    assert_eq!(String::from_utf8_lossy(&said).trim(), "ok");
}

#[test]
fn bad_parquet_is_refused_naming_the_file_row_and_column() {
    let python = require_python();
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| path_str(dir.path()).to_owned() + "/" + name;
    run_python(&python, PANDAS_WRITES, path_str(dir.path()).as_bytes());
    // pandas-features.parquet has missing values: a model input must be a finite number.
    let out = aiops(&[
        "train",
        "--features",
        &at("pandas-features.parquet"),
        "--model-out",
        &at("m"),
        "--metrics-out",
        &at("m.json"),
    ]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("row 1: column `cpu_usage` is missing, not a finite number"),
        "{text}"
    );
    assert!(!dir.path().join("m").exists(), "no model from bad input");
    std::fs::write(at("fake.parquet"), "timestamp,cpu_usage\n1,2\n").unwrap();
    let out = aiops(&["features", "--input", &at("fake.parquet"), "--output", &at("f.parquet")]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("fake.parquet: not a readable Parquet table"), "{text}");
    assert!(!dir.path().join("f.parquet").exists(), "no output from bad input");
}
