//! One module per subcommand: argument parsing and a call into the library crates, nothing more.

pub(crate) mod deploy;
pub(crate) mod features;
pub(crate) mod fetch;
pub(crate) mod pipeline;
