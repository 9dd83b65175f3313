//! A fitted forest with what is needed to use it safely elsewhere, and its file format.
//!
//! # File format (version 1)
//!
//! All integers little-endian.
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `AIOPSIF\0` |
//! | 4 | format version (u32) |
//! | 4 | header length `h` (u32) |
//! | 8 | total file length (u64) |
//! | `h` | header: UTF-8 JSON with the metadata (feature names, feature schema, parameters, training summary), the forest's shape (`n_features`, `max_samples`, `offset`, nodes per tree) and the node layout |
//! | 20 per node | nodes, tree after tree: `feature` u32 (`u32::MAX` for a leaf), `left` u32 (tree-local index of the left child, the right one follows), `size` u32 (training rows in the node), `threshold` f64 |
//! | 32 | SHA-256 of every byte before it |
//!
//! Loading checks, in order: magic, version (a newer version is refused, naming both), length
//! (truncated or trailing bytes), checksum, header, then the structure of every tree (children
//! after their parent and inside the tree, each node reached once, sizes adding up, known
//! columns, finite thresholds) and the consistency of metadata and forest. Nothing in a file is
//! ever executed. SHA-256 rather than a CRC: it detects accidental corruption just as well, costs
//! about a millisecond per megabyte, and its digest ([`Model::digest`]) doubles as the model's
//! content identifier.

// ndarray's views are cheap handles; the public API takes them by value as ndarray's own does.
#![allow(clippy::needless_pass_by_value)]

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::forest::IsolationForest;
use crate::math::percentiles;
use crate::params::IsolationForestParams;
use crate::tree::RawNode;
use crate::{Error, Result};

/// File name `aiops train` writes into a folder and `aiops serve-model` looks for.
pub const MODEL_FILE_NAME: &str = "model.iforest";
/// First bytes of every model file.
pub const MAGIC: &[u8; 8] = b"AIOPSIF\0";
/// The format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

const PREFIX_LEN: usize = 24;
const NODE_LEN: usize = 20;
const CHECKSUM_LEN: usize = 32;
const NODE_LAYOUT: &str = "feature:u32le,left:u32le,size:u32le,threshold:f64le";
/// Percentiles of the training scores recorded in [`TrainingSummary::score_percentiles`].
const SUMMARY_PERCENTILES: [f64; 9] = [0.0, 1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0, 100.0];

/// A fitted forest and its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// What the model was trained on and how.
    pub metadata: ModelMetadata,
    /// The forest.
    pub forest: IsolationForest,
}

/// What a model records about its training.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelMetadata {
    /// Input column names, in the order the forest expects them.
    pub feature_names: Vec<String>,
    /// How the columns were computed, when they are standard features (`aiops_features`'
    /// `FeatureSchema` as JSON: family, version, columns, window), so inference can refuse
    /// features computed differently. Plain data to this crate, which neither reads nor checks
    /// it: the loader one layer up does (`aiops_artifacts::model`).
    pub feature_schema: Option<serde_json::Value>,
    /// The parameters the forest was fitted with.
    pub params: IsolationForestParams,
    /// Summary of the training data's scores.
    pub training: TrainingSummary,
    /// When the model was built, unix seconds.
    pub created_at_unix: i64,
    /// Version of `aiops-iforest` that built it.
    pub library_version: String,
}

/// The reference platform's training metrics, plus the score distribution.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainingSummary {
    /// Training rows.
    pub training_samples: usize,
    /// Training rows predicted normal (1).
    pub normal_samples: usize,
    /// Training rows predicted anomalous (-1).
    pub anomalies_detected: usize,
    /// `100 * normal_samples / training_samples`.
    pub normal_percentage: f64,
    /// `100 * anomalies_detected / training_samples`.
    pub anomalies_percentage: f64,
    /// The decision threshold on scores (scikit-learn's `offset_`).
    pub offset: f64,
    /// Mean training score.
    pub score_mean: f64,
    /// Training score percentiles (numpy's linear rule).
    pub score_percentiles: Vec<ScorePercentile>,
}

/// One percentile of the training scores.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScorePercentile {
    /// In `[0, 100]`.
    pub percentile: f64,
    /// The score at that percentile.
    pub score: f64,
}

impl TrainingSummary {
    /// Scores `x` with `forest` and summarises.
    ///
    /// # Errors
    /// As [`IsolationForest::score_samples`]; [`Error::EmptyInput`] for no rows.
    pub fn compute(forest: &IsolationForest, x: ArrayView2<'_, f64>) -> Result<Self> {
        if x.nrows() == 0 {
            return Err(Error::EmptyInput { rows: 0, columns: x.ncols() });
        }
        Self::from_scores(forest, &forest.score_samples(x)?.to_vec())
    }

    /// Summarises `forest`'s scores of its training rows (from [`IsolationForest::fit_scored`]).
    ///
    /// # Errors
    /// [`Error::EmptyInput`] for no scores.
    pub fn from_scores(forest: &IsolationForest, scores: &[f64]) -> Result<Self> {
        let n = scores.len();
        if n == 0 {
            return Err(Error::EmptyInput { rows: 0, columns: forest.n_features() });
        }
        let anomalies = scores.iter().filter(|&&s| s - forest.offset() < 0.0).count();
        Ok(Self {
            training_samples: n,
            normal_samples: n - anomalies,
            anomalies_detected: anomalies,
            normal_percentage: 100.0 * (n - anomalies) as f64 / n as f64,
            anomalies_percentage: 100.0 * anomalies as f64 / n as f64,
            offset: forest.offset(),
            score_mean: scores.iter().sum::<f64>() / n as f64,
            score_percentiles: SUMMARY_PERCENTILES
                .iter()
                .zip(percentiles(scores, &SUMMARY_PERCENTILES))
                .map(|(&percentile, score)| ScorePercentile { percentile, score: score.unwrap_or(f64::NAN) })
                .collect(),
        })
    }
}

/// The JSON header of a model file.
#[derive(Serialize, Deserialize)]
struct Header {
    node_layout: String,
    n_features: usize,
    max_samples: usize,
    offset: f64,
    tree_sizes: Vec<u32>,
    metadata: ModelMetadata,
}

impl Model {
    /// Wraps `forest` with its metadata, summarising its scores on the training data `training_x`.
    ///
    /// # Errors
    /// [`Error::FeatureNames`] when the names are not distinct, non-empty and one per column;
    /// scoring errors from [`TrainingSummary::compute`].
    pub fn new(
        forest: IsolationForest,
        feature_names: Vec<String>,
        feature_schema: Option<serde_json::Value>,
        training_x: ArrayView2<'_, f64>,
    ) -> Result<Self> {
        let training = TrainingSummary::compute(&forest, training_x)?;
        Self::with_summary(forest, feature_names, feature_schema, training)
    }

    /// [`Model::new`] from the training rows' scores (as [`IsolationForest::fit_scored`] returns
    /// them) instead of the rows: the training data is not scored again.
    ///
    /// # Errors
    /// As [`Model::new`].
    pub fn from_training_scores(
        forest: IsolationForest,
        feature_names: Vec<String>,
        feature_schema: Option<serde_json::Value>,
        training_scores: &[f64],
    ) -> Result<Self> {
        let training = TrainingSummary::from_scores(&forest, training_scores)?;
        Self::with_summary(forest, feature_names, feature_schema, training)
    }

    fn with_summary(
        forest: IsolationForest,
        feature_names: Vec<String>,
        feature_schema: Option<serde_json::Value>,
        training: TrainingSummary,
    ) -> Result<Self> {
        let created_at_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let metadata = ModelMetadata {
            feature_names,
            feature_schema,
            params: forest.params().clone(),
            training,
            created_at_unix,
            library_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        check_metadata(&metadata, forest.n_features())?;
        Ok(Self { metadata, forest })
    }

    /// The model file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let trees: Vec<Vec<RawNode>> = self.forest.raw_trees().collect();
        let header = Header {
            node_layout: NODE_LAYOUT.to_owned(),
            n_features: self.forest.n_features(),
            max_samples: self.forest.max_samples(),
            offset: self.forest.offset(),
            tree_sizes: trees.iter().map(|t| t.len() as u32).collect(),
            metadata: self.metadata.clone(),
        };
        let header = serde_json::to_vec(&header).unwrap_or_default();
        let n_nodes: usize = trees.iter().map(Vec::len).sum();
        let total = PREFIX_LEN + header.len() + n_nodes * NODE_LEN + CHECKSUM_LEN;
        let mut bytes = Vec::with_capacity(total);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(total as u64).to_le_bytes());
        bytes.extend_from_slice(&header);
        for node in trees.iter().flatten() {
            bytes.extend_from_slice(&node.feature.to_le_bytes());
            bytes.extend_from_slice(&node.left.to_le_bytes());
            bytes.extend_from_slice(&node.size.to_le_bytes());
            bytes.extend_from_slice(&node.threshold.to_le_bytes());
        }
        let checksum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&checksum);
        bytes
    }

    /// Reads a model file's bytes, refusing anything that is not an intact model of a format this
    /// build knows.
    ///
    /// # Errors
    /// [`Error::NotAModel`], [`Error::UnsupportedVersion`], [`Error::Truncated`],
    /// [`Error::ChecksumMismatch`], [`Error::Header`], [`Error::Corrupt`] or
    /// [`Error::FeatureNames`], each saying what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(Error::NotAModel);
        }
        if bytes.len() < PREFIX_LEN {
            return Err(Error::Truncated { expected: PREFIX_LEN as u64, actual: bytes.len() });
        }
        let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
        }
        let header_len = u32_at(12) as usize;
        let mut total = [0u8; 8];
        total.copy_from_slice(&bytes[16..24]);
        let total = u64::from_le_bytes(total);
        if (bytes.len() as u64) < total {
            return Err(Error::Truncated { expected: total, actual: bytes.len() });
        }
        if bytes.len() as u64 > total {
            return Err(Error::Corrupt(format!(
                "{} bytes after the end of the model",
                bytes.len() as u64 - total
            )));
        }
        if bytes.len() < PREFIX_LEN + CHECKSUM_LEN + header_len {
            return Err(Error::Corrupt(format!("header length {header_len} exceeds the file")));
        }
        let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if Sha256::digest(body).as_slice() != checksum {
            return Err(Error::ChecksumMismatch);
        }
        let (header, nodes) = body[PREFIX_LEN..].split_at(header_len);
        let header: Header = serde_json::from_slice(header).map_err(Error::Header)?;
        Self::from_parts(header, nodes)
    }

    /// Builds the model from a checksum-valid header and node bytes, checking every limit the
    /// header states before anything is allocated from it.
    fn from_parts(mut header: Header, nodes: &[u8]) -> Result<Self> {
        check_shape(&header, nodes.len())?;
        // The file's thread count is ignored: it belongs to the machine that trained the model.
        header.metadata.params.threads = None;
        let params = header.metadata.params.check()?.get().clone();
        check_metadata(&header.metadata, header.n_features)?;
        let mut records = nodes.chunks_exact(NODE_LEN).map(decode_node);
        let trees: Vec<Vec<RawNode>> =
            header.tree_sizes.iter().map(|&size| records.by_ref().take(size as usize).collect()).collect();
        let forest = IsolationForest::from_trees(
            params,
            header.n_features,
            header.max_samples,
            header.offset,
            &trees,
        )?;
        Ok(Self { metadata: header.metadata, forest })
    }

    /// SHA-256 of the model file, in hex: the model's content identifier.
    pub fn digest(&self) -> String {
        let bytes = self.to_bytes();
        bytes[bytes.len() - CHECKSUM_LEN..].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// For each of the model's columns, its position in `columns` (e.g. a CSV header), so input
    /// can be fed in the model's order.
    ///
    /// # Errors
    /// [`Error::MissingColumns`] listing every model column absent from `columns`.
    pub fn column_positions<S: AsRef<str>>(&self, columns: &[S]) -> Result<Vec<usize>> {
        let mut missing = Vec::new();
        let positions = self
            .metadata
            .feature_names
            .iter()
            .filter_map(|name| {
                let found = columns.iter().position(|c| c.as_ref() == name);
                if found.is_none() {
                    missing.push(name.clone());
                }
                found
            })
            .collect();
        if missing.is_empty() {
            Ok(positions)
        } else {
            Err(Error::MissingColumns {
                missing,
                available: columns.iter().map(|c| c.as_ref().to_owned()).collect(),
            })
        }
    }
}

/// The header's shape against its own limits and the node bytes: the node layout, at least one
/// feature, `max_samples` in `1..=u32::MAX` (node sizes are u32), one tree per estimator, each
/// tree of at most `2 * max_samples - 1` nodes (a binary tree over that many rows), node bytes
/// for exactly the nodes named, a finite offset.
fn check_shape(header: &Header, node_bytes: usize) -> Result<()> {
    let corrupt = |message: String| Err(Error::Corrupt(message));
    if header.node_layout != NODE_LAYOUT {
        return corrupt(format!("unknown `node_layout` `{}`", header.node_layout));
    }
    if header.n_features == 0 {
        return corrupt("`n_features` is 0: a forest needs at least one column".into());
    }
    if header.max_samples == 0 || header.max_samples > u32::MAX as usize {
        return corrupt(format!("`max_samples` {} is not in 1..={}", header.max_samples, u32::MAX));
    }
    if header.tree_sizes.len() != header.metadata.params.n_estimators {
        return corrupt(format!(
            "`tree_sizes` lists {} trees, but `n_estimators` is {}",
            header.tree_sizes.len(),
            header.metadata.params.n_estimators
        ));
    }
    let most_nodes = 2 * header.max_samples as u64 - 1;
    if let Some((t, size)) =
        header.tree_sizes.iter().enumerate().find(|(_, s)| !(1..=most_nodes).contains(&u64::from(**s)))
    {
        return corrupt(format!(
            "`tree_sizes`: tree {t} has {size} nodes, not in 1..={most_nodes} for `max_samples` {}",
            header.max_samples
        ));
    }
    let n_nodes: u64 = header.tree_sizes.iter().map(|&s| u64::from(s)).sum();
    if n_nodes * NODE_LEN as u64 != node_bytes as u64 {
        return corrupt(format!("{node_bytes} node bytes for {n_nodes} nodes"));
    }
    if !header.offset.is_finite() {
        return corrupt(format!("`offset` {} is not finite", header.offset));
    }
    Ok(())
}

fn decode_node(record: &[u8]) -> RawNode {
    let u32_at = |at: usize| u32::from_le_bytes([record[at], record[at + 1], record[at + 2], record[at + 3]]);
    let mut threshold = [0u8; 8];
    threshold.copy_from_slice(&record[12..20]);
    RawNode { feature: u32_at(0), left: u32_at(4), size: u32_at(8), threshold: f64::from_le_bytes(threshold) }
}

/// Feature names: one per column, non-empty, distinct.
fn check_metadata(metadata: &ModelMetadata, n_features: usize) -> Result<()> {
    let names = &metadata.feature_names;
    let problem = if names.len() != n_features {
        Some(format!("{} names for {n_features} columns", names.len()))
    } else if let Some(empty) = names.iter().position(String::is_empty) {
        Some(format!("name {empty} is empty"))
    } else {
        names
            .iter()
            .enumerate()
            .find(|(i, n)| names[..*i].contains(n))
            .map(|(_, dup)| format!("`{dup}` appears twice"))
    };
    match problem {
        Some(problem) => Err(Error::FeatureNames(problem)),
        None => Ok(()),
    }
}
