//! The `aiops` command line's integration tests: one module per subcommand.

#[path = "aiops/features.rs"]
mod features;

#[path = "aiops/demo.rs"]
mod demo;

#[path = "aiops/deploy.rs"]
mod deploy;

#[path = "aiops/eval.rs"]
mod eval;

#[path = "aiops/watch.rs"]
mod watch;

#[path = "aiops/fetch.rs"]
mod fetch;

#[path = "aiops/train.rs"]
mod train;

#[path = "aiops/score.rs"]
mod score;

#[path = "aiops/parquet.rs"]
mod parquet;

#[path = "aiops/pipeline.rs"]
mod pipeline;

#[path = "aiops/serve.rs"]
mod serve;

#[path = "aiops/flags.rs"]
mod flags;
