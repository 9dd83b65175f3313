//! One module per subcommand: argument parsing and a call into the library crates, nothing more.

pub(crate) mod demo;
pub(crate) mod deploy;
pub(crate) mod eval;
pub(crate) mod features;
pub(crate) mod fetch;
pub(crate) mod pipeline;
pub(crate) mod score;
pub(crate) mod serve_mcp;
pub(crate) mod serve_model;
pub(crate) mod train;
pub(crate) mod watch;
