//! A small, fast, seedable generator (xoshiro256++ seeded through SplitMix64). Each tree gets its
//! own stream derived from the forest's seed and the tree's index, so a forest is the same
//! whatever the number of threads that build it.

/// SplitMix64's finaliser: a bijective 64-bit mix.
const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The golden-ratio increment of SplitMix64.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// xoshiro256++ state.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The generator of tree `tree` in a forest seeded with `seed`.
    pub(crate) fn for_tree(seed: u64, tree: usize) -> Self {
        let mut state = mix64(seed) ^ mix64((tree as u64).wrapping_add(1).wrapping_mul(GOLDEN));
        let mut next = || {
            state = state.wrapping_add(GOLDEN);
            mix64(state)
        };
        Self { s: [next(), next(), next(), next()] }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = &mut self.s;
        let result = s0.wrapping_add(*s3).rotate_left(23).wrapping_add(*s0);
        let t = *s1 << 17;
        *s2 ^= *s0;
        *s3 ^= *s1;
        *s1 ^= *s2;
        *s0 ^= *s3;
        *s2 ^= t;
        *s3 = s3.rotate_left(45);
        result
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `[0, n)` (`n >= 1`), by Lemire's multiply-shift with rejection, so
    /// without bias.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let threshold = n.wrapping_neg() % n;
        loop {
            let wide = u128::from(self.next_u64()) * u128::from(n);
            if (wide as u64) >= threshold {
                return (wide >> 64) as usize;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn streams_differ_between_trees_and_repeat_for_a_seed() {
        let first: Vec<u64> = (0..4).map(|_| Rng::for_tree(42, 0).next_u64()).collect();
        assert!(first.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::for_tree(42, 0).next_u64(), Rng::for_tree(42, 1).next_u64());
        assert_ne!(Rng::for_tree(42, 0).next_u64(), Rng::for_tree(43, 0).next_u64());
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::for_tree(7, 3);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = rng.below(5);
            seen[v] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert!((0..1000).all(|_| (0.0..1.0).contains(&rng.uniform())));
    }
}
