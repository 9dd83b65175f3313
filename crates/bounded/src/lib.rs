//! Input read with a size bound. A file or a peer's answer (Prometheus, an inference server) is
//! read into memory whole before it is decoded; without a bound, one input (a misconfigured
//! query, a hostile or broken peer, an endless chunked stream, `/dev/zero` given as a file) can
//! take all of it. Here an input is refused by its length before a byte of it is read, or as
//! soon as the bytes read pass the bound; an input within the bound is read exactly.
//!
//! - [`read_file`]: a whole file (its length may be unknown, or grow while it is read);
//! - [`read_answer`]: a `reqwest` answer, by its `Content-Length` or while it streams in;
//!   [`read_prefix`]: only the beginning of one that is shown in part (an error's reason);
//!   [`BoundedBody`]: the bound on its own, for bodies that arrive in chunks by other means
//!   (what `read_answer` is built on). These three need the default feature `http`.

mod file;
#[cfg(feature = "http")]
mod http;

pub use file::read_file;
#[cfg(feature = "http")]
pub use http::{BoundedBody, Error, RESERVED_BYTES, Result, read_answer, read_prefix};
