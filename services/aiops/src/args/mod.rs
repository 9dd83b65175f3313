//! The flags several commands share, defined once so that they are spelled, defaulted, limited
//! and documented the same everywhere: the Prometheus connection, the forest's parameters, the
//! table format, the servers' bind address and serving limits, where a model is (local or
//! `s3://`), and the value parsers and limits of durations and counts.

pub(crate) mod forest;
pub(crate) mod format;
pub(crate) mod limits;
pub(crate) mod listen;
pub(crate) mod model;
pub(crate) mod prometheus;
pub(crate) mod serve;
pub(crate) mod values;

pub(crate) use forest::ForestArgs;
pub(crate) use format::FormatArgs;
pub(crate) use listen::ListenArgs;
pub(crate) use model::{S3Args, load_model};
pub(crate) use prometheus::PrometheusArgs;
pub(crate) use serve::ServeLimitsArgs;
