//! HTTP answers read with a size bound (feature `http`, on by default).

/// Why an answer was not read: one of these two, always (callers match them exhaustively).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The answer is, or announced to be, larger than the bound.
    #[error("the answer is larger than {limit} bytes")]
    TooLarge {
        /// The bound, in bytes.
        limit: usize,
    },
    /// Reading the answer failed (the connection broke, a timeout, a malformed stream).
    #[error("reading the answer failed")]
    Read(#[source] reqwest::Error),
}

/// This crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Most room a body takes before its bytes arrive (it grows as they do).
pub const RESERVED_BYTES: usize = 64 << 20;

/// A body being read, never longer than its bound.
///
/// ```
/// use aiops_bounded::{BoundedBody, Error};
///
/// let mut body = BoundedBody::new(None, 8)?;
/// body.extend(b"12345")?;
/// assert!(matches!(body.extend(b"6789"), Err(Error::TooLarge { limit: 8 })));
/// assert!(BoundedBody::new(Some(9), 8).is_err(), "announced too large: refused before reading");
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BoundedBody {
    bytes: Vec<u8>,
    limit: usize,
}

impl BoundedBody {
    /// An empty body bounded by `limit` bytes, with room for the `announced` length (up to
    /// [`RESERVED_BYTES`]).
    ///
    /// # Errors
    /// [`Error::TooLarge`] when `announced` is already beyond `limit`.
    pub fn new(announced: Option<u64>, limit: usize) -> Result<Self> {
        let announced = announced.unwrap_or(0);
        if announced > limit as u64 {
            return Err(Error::TooLarge { limit });
        }
        // Room for what is announced, but not more than `RESERVED_BYTES` before it arrives: an
        // announcement within a large bound must not allocate that much for nothing.
        let room = announced.min(RESERVED_BYTES as u64) as usize;
        Ok(Self { bytes: Vec::with_capacity(room), limit })
    }

    /// Appends `chunk`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when the body would pass the bound; nothing is appended then.
    pub fn extend(&mut self, chunk: &[u8]) -> Result<()> {
        if chunk.len() > self.limit - self.bytes.len() {
            return Err(Error::TooLarge { limit: self.limit });
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The bytes read.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The body of `response`, refused as soon as it is known to pass `limit` bytes (by its
/// `Content-Length`, or while it streams in).
///
/// # Errors
/// [`Error::TooLarge`], or [`Error::Read`] when the connection fails.
pub async fn read_answer(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>> {
    let mut body = BoundedBody::new(response.content_length(), limit)?;
    while let Some(chunk) = response.chunk().await.map_err(Error::Read)? {
        body.extend(&chunk)?;
    }
    Ok(body.into_bytes())
}

/// The first `limit` bytes of `response`'s body (all of it when shorter); the rest is never
/// read. For a text only shown in part, e.g. an error's reason.
///
/// # Errors
/// [`Error::Read`] when the connection fails before `limit` bytes or the end.
pub async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>> {
    let mut prefix = Vec::new();
    while prefix.len() < limit {
        let Some(chunk) = response.chunk().await.map_err(Error::Read)? else { break };
        prefix.extend_from_slice(&chunk[..chunk.len().min(limit - prefix.len())]);
    }
    Ok(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_refused_exactly_when_it_passes_the_bound_and_keeps_what_it_had() {
        // (announced length, chunk lengths, bound, the length read or None when refused)
        type Case = (Option<u64>, &'static [usize], usize, Option<usize>);
        let cases: [Case; 7] = [
            (None, &[], 0, Some(0)),
            (None, &[0, 0], 0, Some(0)),
            (None, &[4, 4], 8, Some(8)),
            (None, &[4, 5], 8, None),
            (Some(8), &[8], 8, Some(8)),
            (Some(9), &[], 8, None),
            // A huge announcement within a huge bound reserves no more than RESERVED_BYTES.
            (Some(u64::MAX), &[], usize::MAX, Some(0)),
        ];
        for (announced, chunks, limit, read) in cases {
            let case = format!("announced {announced:?}, chunks {chunks:?}, bound {limit}");
            let mut body = match BoundedBody::new(announced, limit) {
                Ok(body) => body,
                Err(Error::TooLarge { limit: said }) => {
                    assert_eq!((read, said), (None, limit), "{case}");
                    continue;
                }
                Err(other) => panic!("{case}: {other}"),
            };
            let mut refused = false;
            for &length in chunks {
                let before = body.bytes.len();
                match body.extend(&vec![7u8; length]) {
                    Ok(()) => {}
                    Err(Error::TooLarge { limit: said }) => {
                        assert_eq!(said, limit, "{case}");
                        assert_eq!(body.bytes.len(), before, "{case}: nothing appended");
                        refused = true;
                        break;
                    }
                    Err(other) => panic!("{case}: {other}"),
                }
            }
            let length = body.into_bytes().len();
            assert_eq!((!refused).then_some(length), read, "{case}");
        }
    }
}
