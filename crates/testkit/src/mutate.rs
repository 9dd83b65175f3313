//! Deterministic mutation of inputs, the part of fuzzing that runs with every `cargo test` (on
//! stable, without libFuzzer): a decoder is fed every variant and must return a value or an
//! error, never panic. The cargo-fuzz targets in `fuzz/` explore further; these variants are
//! the same for every run, so a failure reproduces.
//!
//! - [`json_variants`]: a valid JSON document with each scalar replaced by each of
//!   [`extremes`], and each object member removed: for decoders of JSON (model headers, v2
//!   inference requests, MCP tool arguments).
//! - [`Mutator`]: seeded byte-level edits of seed inputs (flips, inserted delimiters, deleted
//!   and duplicated ranges, splices): for text formats such as CSV.

use serde_json::{Value, json};

/// Values that break limits: zero, one, type edges, huge counts, non-integers, wrong types.
pub fn extremes() -> Vec<Value> {
    vec![
        json!(0),
        json!(1),
        json!(-1),
        json!(u32::MAX),
        json!(u64::from(u32::MAX) + 1),
        json!(1u64 << 45),
        json!(1u64 << 62),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(0.5),
        json!(-1e308),
        json!(1e308),
        json!(null),
        json!(""),
        json!("auto"),
        json!("\u{0}\n\u{1b}[31m"),
        json!(true),
        json!([]),
        json!({}),
    ]
}

/// Every scalar (and empty container) in `value`, as a JSON pointer.
pub fn scalar_pointers(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_scalars(value, "", &mut out);
    out
}

fn collect_scalars(value: &Value, at: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                collect_scalars(child, &format!("{at}/{}", escape_pointer(key)), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, child) in items.iter().enumerate() {
                collect_scalars(child, &format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at.to_owned()),
    }
}

/// `key` as a JSON pointer segment (RFC 6901: `~` is `~0`, `/` is `~1`).
fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Every object member of `value` (at any depth), as a JSON pointer to the object and the key.
fn members(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                out.push((at.to_owned(), key.clone()));
                members(child, &format!("{at}/{}", escape_pointer(key)), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                members(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The variants of `document`: each scalar set to each of [`extremes`], then each object
/// member removed (the document itself is not among them).
pub fn json_variants(document: &Value) -> Vec<Value> {
    let mut variants = Vec::new();
    for pointer in scalar_pointers(document) {
        for value in extremes() {
            let mut edited = document.clone();
            if let Some(slot) = edited.pointer_mut(&pointer) {
                *slot = value;
                variants.push(edited);
            }
        }
    }
    let mut found = Vec::new();
    members(document, "", &mut found);
    for (object, key) in found {
        let mut edited = document.clone();
        if let Some(Value::Object(map)) = edited.pointer_mut(&object) {
            map.remove(&key);
            variants.push(edited);
        }
    }
    variants
}

/// Bytes that mean something to text formats: delimiters, quotes, line ends, signs, digits,
/// exponent and special-value letters, NUL, a lone UTF-8 continuation byte, invalid UTF-8.
const INTERESTING: &[u8] = b",\"\n\r \t-+.0159eE:TZNaInf\x00\x80\xff";

/// Seeded byte-level mutations of seed inputs: the same seed gives the same variants.
#[derive(Debug, Clone)]
pub struct Mutator {
    state: u64,
}

impl Mutator {
    /// A mutator whose variants are determined by `seed`.
    pub fn new(seed: u64) -> Self {
        // splitmix64 of the seed, so that nearby seeds start far apart; never zero (xorshift).
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Self { state: (z ^ (z >> 31)) | 1 }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// One variant: one of `seeds` with one to four edits.
    ///
    /// # Panics
    /// When `seeds` is empty.
    pub fn mutate(&mut self, seeds: &[&[u8]]) -> Vec<u8> {
        assert!(!seeds.is_empty(), "mutate needs at least one seed input");
        let mut bytes = seeds[self.below(seeds.len())].to_vec();
        for _ in 0..=self.below(4) {
            self.edit(&mut bytes, seeds);
        }
        bytes
    }

    /// `count` variants of `seeds`.
    pub fn variants(&mut self, seeds: &[&[u8]], count: usize) -> Vec<Vec<u8>> {
        (0..count).map(|_| self.mutate(seeds)).collect()
    }

    fn edit(&mut self, bytes: &mut Vec<u8>, seeds: &[&[u8]]) {
        let at = self.below(bytes.len() + 1);
        let interesting = INTERESTING[self.below(INTERESTING.len())];
        match self.below(6) {
            0 if at < bytes.len() => bytes[at] ^= 1 << self.below(8),
            1 if at < bytes.len() => bytes[at] = interesting,
            2 => bytes.insert(at, interesting),
            3 => {
                let end = (at + 1 + self.below(16)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            4 => {
                let end = (at + 1 + self.below(32)).min(bytes.len());
                let copy = bytes[at.min(end)..end].to_vec();
                let to = self.below(bytes.len() + 1);
                bytes.splice(to..to, copy);
            }
            _ => {
                // The tail of another seed from a random point: crosses structures over.
                let other = seeds[self.below(seeds.len())];
                let from = self.below(other.len() + 1);
                bytes.truncate(at);
                bytes.extend_from_slice(&other[from..]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_variants_and_every_variant_differs_somewhere() {
        let seeds: [&[u8]; 2] = [b"timestamp,value\n1,2\n", b"a,b\n3,4\n"];
        let first = Mutator::new(7).variants(&seeds, 200);
        assert_eq!(first, Mutator::new(7).variants(&seeds, 200));
        assert_ne!(first, Mutator::new(8).variants(&seeds, 200));
        let changed = first.iter().filter(|v| !seeds.contains(&v.as_slice())).count();
        assert!(changed > 150, "only {changed} of 200 variants differ from their seed");
    }

    #[test]
    fn json_variants_replace_every_scalar_and_drop_every_member() {
        let document = json!({"a": 1, "b": {"c/d": [true, "x"]}});
        let variants = json_variants(&document);
        assert_eq!(scalar_pointers(&document), ["/a", "/b/c~1d/0", "/b/c~1d/1"]);
        // 3 scalars x the extremes, then the members a, b and b/c~1d removed.
        assert_eq!(variants.len(), 3 * extremes().len() + 3);
        assert!(variants.contains(&json!({"a": 1, "b": {"c/d": [null, "x"]}})));
        assert!(variants.contains(&json!({"b": {"c/d": [true, "x"]}})));
        assert!(variants.contains(&json!({"a": 1, "b": {}})));
    }
}
