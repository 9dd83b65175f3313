//! One module per subcommand: argument parsing and a call into the library crates, nothing more.

pub(crate) mod features;
