//! The MCP tools' argument checks on arbitrary bytes: when they are a JSON object,
//! `aiops_mcp_tool::tools::check_arguments` checks them for every tool, never panics, and what
//! it accepts is in bounds and checks the same when written back (the invariants are shared with
//! the seeded mutation test of `crates/mcp-tool`).
#![no_main]

#[path = "../../crates/mcp-tool/tests/mcp_tool/invariants.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    invariants::check_json(data);
});
