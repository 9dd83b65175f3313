//! The `aiops` command line's integration tests: one module per subcommand.

#[path = "aiops/features.rs"]
mod features;

#[path = "aiops/deploy.rs"]
mod deploy;

#[path = "aiops/fetch.rs"]
mod fetch;
