//! Which replica watches which instance: rendezvous (highest-random-weight) hashing.
//!
//! Every replica computes, for each instance, a weight per shard from a stable hash of the
//! instance's text and the shard's index (FNV-1a 64 then SplitMix64's finaliser: the same in every
//! process, build and version, unlike std's randomly seeded hasher); the shard with the highest
//! weight owns the instance. Replicas need no coordination, every instance has exactly one owner,
//! and going from `N` to `N - 1` or `N + 1` shards moves only the instances of the shard that
//! left or about `1 / (N + 1)` of them to the new one.

use crate::{Error, Result};

/// Most replicas a fleet may be split across.
pub const MAX_REPLICAS: u32 = 1024;

/// This replica's part of the fleet: shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Default for Shard {
    /// The whole fleet: `0/1`.
    fn default() -> Self {
        Self { index: 0, count: 1 }
    }
}

impl Shard {
    /// Shard `index` (0-based) of `count`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`shard`) unless `index < count <= MAX_REPLICAS`.
    pub fn new(index: u32, count: u32) -> Result<Self> {
        if count == 0 || count > MAX_REPLICAS || index >= count {
            return Err(Error::InvalidParameter {
                field: "shard",
                reason: format!(
                    "{index}/{count}: the index must be below the count, which must be 1 to {MAX_REPLICAS}"
                ),
            });
        }
        Ok(Self { index, count })
    }

    /// Parses `i/N`.
    ///
    /// ```
    /// use aiops_watch::Shard;
    /// assert_eq!(Shard::parse("2/3")?, Shard::new(2, 3)?);
    /// assert!(Shard::parse("3/3").is_err());
    /// # Ok::<(), aiops_watch::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`shard`) for anything else.
    pub fn parse(text: &str) -> Result<Self> {
        let number =
            |part: &str| part.parse::<u32>().ok().filter(|_| part.bytes().all(|b| b.is_ascii_digit()));
        match text.split_once('/').map(|(i, n)| (number(i), number(n))) {
            Some((Some(index), Some(count))) => Self::new(index, count),
            _ => Err(Error::InvalidParameter {
                field: "shard",
                reason: format!("`{}` is not `i/N` (e.g. 0/3) nor `auto`", aiops_text::bounded(text)),
            }),
        }
    }

    /// The shard of a StatefulSet pod: the index is the ordinal that ends the pod's name
    /// (`aiops-watch-2` -> 2), the count is `replicas`.
    ///
    /// ```
    /// use aiops_watch::Shard;
    /// assert_eq!(Shard::from_pod_name("aiops-watch-2", 3)?, Shard::new(2, 3)?);
    /// assert!(Shard::from_pod_name("aiops-watch", 3).is_err());
    /// # Ok::<(), aiops_watch::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`shard`) when the name does not end with `-<ordinal>` or the
    /// ordinal is not below `replicas`.
    pub fn from_pod_name(pod: &str, replicas: u32) -> Result<Self> {
        let ordinal = pod
            .rsplit_once('-')
            .map(|(_, ordinal)| ordinal)
            .filter(|o| !o.is_empty() && o.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|o| o.parse::<u32>().ok())
            .ok_or_else(|| Error::InvalidParameter {
                field: "shard",
                reason: format!(
                    "`auto` needs a StatefulSet pod name ending with `-<ordinal>` in HOSTNAME, not `{}`",
                    aiops_text::bounded(pod)
                ),
            })?;
        Self::new(ordinal, replicas)
    }

    /// This shard's index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The number of shards.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether this shard owns `instance`.
    pub fn owns(&self, instance: &str) -> bool {
        owner(instance, self.count) == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard of `count` that owns `instance`: the one of highest weight (lowest index on ties).
pub fn owner(instance: &str, count: u32) -> u32 {
    let key = fnv1a(instance.as_bytes());
    (0..count.max(1)).max_by_key(|&shard| (weight(key, shard), std::cmp::Reverse(shard))).unwrap_or(0)
}

fn weight(key: u64, shard: u32) -> u64 {
    splitmix(key ^ splitmix(u64::from(shard).wrapping_add(1)))
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// SplitMix64's finaliser: every input bit moves every output bit.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instances() -> Vec<String> {
        (0..3000).map(|i| format!("10.{}.{}.{}:9100", i / 65_536, (i / 256) % 256, i % 256)).collect()
    }

    #[test]
    fn the_hash_is_stable_across_processes_and_versions() {
        // Pinned values: a change here reshuffles every deployed fleet.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let owners: Vec<u32> = ["10.0.0.1:9100", "10.0.0.2:9100", "node-7.example.com:9100"]
            .iter()
            .map(|i| owner(i, 3))
            .collect();
        assert_eq!(owners, PINNED_OWNERS);
    }

    /// The owners of the three instances above among 3 shards, as computed once.
    const PINNED_OWNERS: [u32; 3] = [2, 1, 1];

    #[test]
    fn shards_are_balanced_and_a_change_of_count_moves_few_instances() {
        let instances = instances();
        let mut sizes = [0usize; 5];
        for instance in &instances {
            sizes[owner(instance, 5) as usize] += 1;
        }
        assert!(sizes.iter().all(|&n| (480..=720).contains(&n)), "{sizes:?}");
        // 5 -> 4: only the instances of the shard that left move.
        let moved = instances.iter().filter(|i| owner(i, 5) != owner(i, 4)).count();
        assert_eq!(moved, sizes[4]);
        // 4 -> 5: only instances that go to the new shard move (about a fifth).
        assert!(instances.iter().all(|i| owner(i, 5) == owner(i, 4) || owner(i, 5) == 4));
    }

    #[test]
    fn bad_shards_are_refused() {
        for text in ["1", "a/3", "3/3", "0/0", "-1/3", "+1/3", "0/1025", ""] {
            assert!(
                matches!(Shard::parse(text), Err(Error::InvalidParameter { field: "shard", .. })),
                "{text}"
            );
        }
        for pod in ["watch", "watch-", "watch-x", "watch-3"] {
            assert!(Shard::from_pod_name(pod, 3).is_err(), "{pod}");
        }
        assert_eq!(Shard::default().to_string(), "0/1");
    }
}
