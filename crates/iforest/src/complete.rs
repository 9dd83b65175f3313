//! The AVX-512 batch-scoring layout: trees padded to one depth and stored as complete binary trees
//! of 4-byte split keys, walked sixteen rows per instruction. It exists only where the CPU has
//! AVX-512 (and [`KERNEL_VARIABLE`] does not say `portable`); elsewhere the forest is scored on its
//! real trees.
//!
//! **Complete trees.** The root is slot 1 and slot `i`'s children are `2i` (`x <= threshold`)
//! and `2i + 1`, so level `l` fills slots `2^l..2^(l+1)`; after exactly `depth` steps a row sits on
//! slot `2^depth + leaf`. A leaf higher up in the real tree is padded with splits that send every
//! row left down to the bottom, and every bottom slot under it carries its path length.
//!
//! **Ranks instead of thresholds.** Each feature's distinct thresholds, sorted, are its cuts; a
//! value's rank is the number of cuts below it. For the `k`-th cut `t`, `x <= t` exactly when
//! `rank(x) <= k`, so comparing ranks decides every split as comparing floats would. A split
//! becomes one `u32` key, `rank << 8 | feature`, half the bytes of a float threshold and one load
//! instead of two; a row's ranks are computed once per row, not once per tree.
//!
//! The walk thus reaches, tree after tree, a leaf with exactly the value the real tree charges,
//! and sums them in the same order: batch scores are bit-identical to walking the real trees.
//!
//! `unsafe` is allowed here and nowhere else in the workspace: the intrinsics take raw pointers.
//! Every index they use is bounded by this layout's construction, checked once per call.

/// Deepest forest stored this way: past it the padding grows too large (2^depth slots per tree,
/// 12 bytes each); deeper forests are scored on their real trees.
pub(crate) const MAX_DEPTH: u32 = 12;

/// Widest input stored this way: the feature must fit the key's low byte.
pub(crate) const MAX_FEATURES: usize = 1 << FEATURE_BITS;

const FEATURE_BITS: u32 = 8;
const FEATURE_MASK: u32 = (1 << FEATURE_BITS) - 1;

/// Most cuts per feature: ranks must fit the key's upper 24 bits.
const MAX_CUTS: usize = (1 << (32 - FEATURE_BITS)) - 1;

/// Rows in one AVX-512 register of 32-bit lanes; ranks are stored in groups of this many rows.
const GROUP: usize = 16;

/// Groups walked together through one tree: independent walks that hide each other's latency.
const CHAINS: usize = 8;

/// A block is padded to a whole number of chained groups.
const PAD_ROWS: usize = GROUP * CHAINS;

/// Split slots in one pair of AVX-512 registers: levels 0-4 share one such table, level 5 has its
/// own (a tree stores at least 32 slots); levels 6 and 7 take two and four pairs.
const TABLE: usize = 32;

/// Rows per block: their ranks (20 bytes a row at five features) and sums stay in L1 while
/// every tree walks the block.
const BLOCK_ROWS: usize = 512;

/// One real tree node as the padding sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Slot {
    /// A split: `x[feature] <= threshold` goes to `left`, else `left + 1` (tree-local indices).
    Split {
        /// Column tested.
        feature: u32,
        /// Threshold.
        threshold: f64,
        /// Tree-local index of the left child.
        left: usize,
    },
    /// A leaf, with the path length charged to rows that end there.
    Leaf(f64),
}

/// All trees of a forest in the complete, ranked layout.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CompleteTrees {
    depth: u32,
    /// Per feature: its distinct thresholds.
    cuts: Vec<Cuts>,
    /// Per tree, `stride` split keys `rank << 8 | feature` by slot (slot 0 and slots from
    /// `2^depth` on are unused).
    keys: Vec<u32>,
    /// `max(2^depth, TABLE)`.
    stride: usize,
    /// Per tree, `2^depth` path lengths by leaf.
    leaf_values: Vec<f64>,
}

/// Bytes the complete layout may always take, whatever the forest's size.
const BUDGET_FLOOR: usize = 64 << 20;

/// Bytes of the complete layout allowed per byte of the real trees: padding a forest of mostly
/// shallow trees to its deepest one would otherwise turn a small file into gigabytes (a 12-deep
/// chain beside 100,000 one-leaf trees: 4.8 GB from 2.2 MB).
const BUDGET_RATIO: usize = 4;

/// Bytes a real node takes in the forest (node, size, leaf value).
const REAL_NODE_BYTES: usize = 16 + 4 + 8;

impl CompleteTrees {
    /// Whether a forest of `n_trees` trees (`n_nodes` nodes in all) at most `depth` deep on
    /// `width` features gets this layout: the CPU has AVX-512, the forest is at most
    /// [`MAX_DEPTH`] deep and [`MAX_FEATURES`] wide, and the padded trees stay within the
    /// memory budget (the larger of 64 MiB and four times the real trees' bytes). Checked before
    /// any of the layout is built.
    pub(crate) fn fits(depth: u32, width: usize, n_trees: usize, n_nodes: usize) -> bool {
        *AVAILABLE
            && depth <= MAX_DEPTH
            && (1..=MAX_FEATURES).contains(&width)
            && within_budget(depth, n_trees, n_nodes)
    }

    /// Lays out `trees` (each a tree-local node list, root first, whose depth is at most `depth`)
    /// on `width` features, or `None` when the forest is too deep, too wide or has too many
    /// distinct thresholds for this layout.
    pub(crate) fn new(depth: u32, width: usize, trees: &[Vec<Slot>]) -> Option<Self> {
        if !*AVAILABLE {
            return None;
        }
        let splits_in_range = trees.iter().flatten().all(|slot| match *slot {
            Slot::Split { feature, .. } => (feature as usize) < width,
            Slot::Leaf(_) => true,
        });
        if depth > MAX_DEPTH || width == 0 || width > MAX_FEATURES || !splits_in_range {
            return None;
        }
        let cuts = sorted_cuts(width, trees);
        if cuts.iter().any(|c| c.len > MAX_CUTS) {
            return None;
        }
        let depth = depth.max(1);
        let stride = (1usize << depth).max(TABLE);
        let mut layout = Self {
            depth,
            cuts,
            keys: Vec::with_capacity(trees.len() * stride),
            stride,
            leaf_values: Vec::with_capacity(trees.len() << depth),
        };
        for tree in trees {
            layout.push_tree(tree);
        }
        Some(layout)
    }

    /// Breadth-first: level by level, each slot holds the real node a row would be at.
    fn push_tree(&mut self, tree: &[Slot]) {
        // Padding splits compare feature 0 against a rank above every value's rank.
        let send_left = (self.cuts[0].len as u32) << FEATURE_BITS;
        let start = self.keys.len();
        self.keys.push(send_left);
        let mut level = vec![0usize];
        for _ in 0..self.depth {
            let mut next = Vec::with_capacity(level.len() * 2);
            for &node in &level {
                match tree[node] {
                    Slot::Split { feature, threshold, left } => {
                        let rank = self.cuts[feature as usize].rank(threshold);
                        self.keys.push(rank << FEATURE_BITS | feature);
                        next.extend([left, left + 1]);
                    }
                    Slot::Leaf(_) => {
                        self.keys.push(send_left);
                        next.extend([node, node]);
                    }
                }
            }
            level = next;
        }
        self.keys.resize(start + self.stride, send_left);
        self.leaf_values.extend(level.iter().map(|&node| match tree[node] {
            Slot::Leaf(value) => value,
            // Unreachable for trees within `depth`; NaN would make any such mistake visible.
            Slot::Split { .. } => f64::NAN,
        }));
    }

    /// Adds each row's path length, summed over trees in tree order, to `sums`. `rows` holds
    /// `sums.len()` rows of the forest's width, row-major, all finite.
    pub(crate) fn add_path_sums(&self, rows: &[f64], sums: &mut [f64]) {
        let width = self.cuts.len();
        let mut ranks = Vec::with_capacity(BLOCK_ROWS.next_multiple_of(PAD_ROWS) * width);
        let mut block_sums = [0.0; BLOCK_ROWS.next_multiple_of(PAD_ROWS)];
        for (block, sums) in rows.chunks(BLOCK_ROWS * width).zip(sums.chunks_mut(BLOCK_ROWS)) {
            rank_block(&self.cuts, block, width, &mut ranks);
            let block_sums = &mut block_sums[..ranks.len() / width];
            block_sums.fill(0.0);
            let leaves = 1 << self.depth;
            for (keys, leaf_values) in
                self.keys.chunks_exact(self.stride).zip(self.leaf_values.chunks_exact(leaves))
            {
                let tree = Tree { depth: self.depth, width, keys, leaf_values };
                walk(&tree, &ranks, block_sums);
            }
            sums.iter_mut().zip(block_sums.iter()).for_each(|(sum, add)| *sum += add);
        }
    }
}

/// Whether `n_trees` trees padded to `depth` (at most [`MAX_DEPTH`]) take at most the larger of
/// [`BUDGET_FLOOR`] and [`BUDGET_RATIO`] times the bytes of their `n_nodes` real nodes.
fn within_budget(depth: u32, n_trees: usize, n_nodes: usize) -> bool {
    let leaves = 1usize << depth.clamp(1, MAX_DEPTH);
    let padded = n_trees.saturating_mul(leaves.max(TABLE) * 4 + leaves * 8);
    padded <= BUDGET_FLOOR.max(n_nodes.saturating_mul(REAL_NODE_BYTES * BUDGET_RATIO))
}

/// Each feature's distinct thresholds over all trees, ascending.
fn sorted_cuts(width: usize, trees: &[Vec<Slot>]) -> Vec<Cuts> {
    let mut cuts = vec![Vec::new(); width];
    for slot in trees.iter().flatten() {
        if let Slot::Split { feature, threshold, .. } = *slot {
            cuts[feature as usize].push(threshold);
        }
    }
    cuts.into_iter().map(Cuts::new).collect()
}

/// One feature's distinct thresholds, ascending, with a bucket index that finds a value's rank
/// in a few steps.
///
/// The bucket of `x` is `floor((x - lo) * scale)`, clamped: a non-decreasing function of `x`
/// under IEEE rounding. So every cut in a lower bucket than `x`'s is below `x`, every cut in a
/// higher bucket is above it, and `rank(x)` is the cuts before `x`'s bucket plus those in it below
/// `x` — exact, however the rounding falls.
#[derive(Clone, Debug, PartialEq)]
struct Cuts {
    /// The cuts, then `window` copies of +inf so that a window never reads past the end.
    values: Vec<f64>,
    /// Number of cuts.
    len: usize,
    lo: f64,
    scale: f64,
    /// Per bucket, the index of its first cut; one more entry closes the last bucket.
    starts: Vec<u32>,
    /// The most cuts in one bucket: a window this wide from a bucket's start covers the bucket.
    window: usize,
}

impl Cuts {
    /// Buckets per cut: enough that most buckets hold at most a cut or two.
    const BUCKETS_PER_CUT: usize = 2;
    /// Windows up to this wide are compared in one AVX-512 register (the batch kernel's ranks).
    const SHORT_WINDOW: usize = 8;
    /// Widest window scanned; crowded buckets (skewed cuts) are binary-searched instead.
    const MAX_WINDOW: usize = 16;

    fn new(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        // -0.0 and 0.0 split alike: one cut.
        values.dedup_by(|a, b| a == b);
        let len = values.len();
        let (lo, hi) = (values.first().copied().unwrap_or(0.0), values.last().copied().unwrap_or(0.0));
        let buckets = (len * Self::BUCKETS_PER_CUT).max(1);
        let scale = buckets as f64 / (hi - lo);
        // A single cut, or a spread too wide for f64: one bucket.
        let scale = if scale.is_finite() { scale } else { 0.0 };
        let mut cuts = Self { values, len, lo, scale, starts: vec![0; buckets + 1], window: 0 };
        for &value in &cuts.values {
            let bucket = cuts.bucket(value);
            cuts.starts[bucket + 1] += 1;
        }
        cuts.window = cuts.starts.iter().copied().max().unwrap_or(0) as usize;
        for b in 1..cuts.starts.len() {
            cuts.starts[b] += cuts.starts[b - 1];
        }
        cuts.values.resize(len + cuts.window.clamp(Self::SHORT_WINDOW, Self::MAX_WINDOW), f64::INFINITY);
        cuts
    }

    fn bucket(&self, value: f64) -> usize {
        // `as` saturates: below `lo` is bucket 0, NaN (from inf * 0) is bucket 0 too.
        (((value - self.lo) * self.scale) as usize).min(self.starts.len() - 2)
    }

    /// When every bucket holds at most [`Cuts::SHORT_WINDOW`] cuts: the start of `value`'s bucket
    /// and that many cuts from it, among which those below `value` are the bucket's (as in
    /// [`Cuts::rank`]).
    #[cfg(target_arch = "x86_64")]
    fn short_window(&self, value: f64) -> Option<(u32, &[f64; Self::SHORT_WINDOW])> {
        if self.window > Self::SHORT_WINDOW {
            return None;
        }
        let start = self.starts[self.bucket(value)];
        let window = self.values[start as usize..][..Self::SHORT_WINDOW].try_into().expect("padded cuts");
        Some((start, window))
    }

    /// The number of cuts below `value`: those before its bucket, plus those in it below `value`,
    /// counted over a fixed window from the bucket's start when buckets are small (cuts past the
    /// bucket are above `value`), else binary-searched.
    fn rank(&self, value: f64) -> u32 {
        let bucket = self.bucket(value);
        let start = self.starts[bucket];
        if self.window <= Self::MAX_WINDOW {
            let window = &self.values[start as usize..start as usize + self.window];
            start + window.iter().map(|&t| u32::from(t < value)).sum::<u32>()
        } else {
            let inside = &self.values[start as usize..self.starts[bucket + 1] as usize];
            start + inside.partition_point(|&t| t < value) as u32
        }
    }
}

/// One tree in the complete layout.
#[derive(Debug)]
struct Tree<'a> {
    depth: u32,
    /// Features: every key's feature is below it.
    width: usize,
    /// `max(2^depth, TABLE)` keys by slot.
    keys: &'a [u32],
    /// `2^depth` path lengths by leaf.
    leaf_values: &'a [f64],
}

/// Whether this layout can be used: the CPU has AVX-512 (and `popcnt`, which every AVX-512 CPU
/// has) and [`KERNEL_VARIABLE`] does not say `portable`.
static AVAILABLE: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
    let portable = std::env::var(KERNEL_VARIABLE).is_ok_and(|v| v == "portable");
    #[cfg(target_arch = "x86_64")]
    let simd =
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("popcnt");
    #[cfg(not(target_arch = "x86_64"))]
    let simd = false;
    simd && !portable
});

/// Set to `portable` to score every forest on its real trees, without CPU-specific instructions
/// (to compare speeds, or to rule the SIMD kernel out). Read once per process.
pub const KERNEL_VARIABLE: &str = "AIOPS_IFOREST_KERNEL";

/// The ranks of a block's rows on `cuts`, group by group, feature-major inside a group
/// (`ranks[group][feature][row]`), padded to a multiple of `PAD_ROWS` rows with copies of the
/// last row.
fn rank_block(cuts: &[Cuts], block: &[f64], width: usize, ranks: &mut Vec<u32>) {
    #[cfg(target_arch = "x86_64")]
    avx512::rank_block(cuts, block, width, ranks);
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("CompleteTrees::new gives no layout without AVX-512: {cuts:?} {block:?} {width} {ranks:?}");
}

/// Walks a block's rows (`ranks[group][feature][row]`, a whole number of `PAD_ROWS`) through
/// `tree`, adding each leaf's path length to the row's sum.
fn walk(tree: &Tree<'_>, ranks: &[u32], sums: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    avx512::walk(tree, ranks, sums);
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("CompleteTrees::new gives no layout without AVX-512: {tree:?} {ranks:?} {sums:?}");
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512 {
    //! The walk with sixteen rows in the lanes of AVX-512 registers, [`CHAINS`] groups of them
    //! at a time through each tree. Keys of the top eight levels come from registers: the root's
    //! is one broadcast key, level 1's is one of two picked by a blend, levels 2-5 are permuted
    //! out of two 32-key tables, and levels 6 and 7 out of four and eight registers by two and
    //! four permutations and a blend tree on the slot's bits (gathers are slow on AMD Zen 4);
    //! deeper levels are gathered. A row's rank comes from a blend tree of its group's feature
    //! rows on the bits of the key's feature (up to eight features), or by gather.
    use std::arch::x86_64::{
        __m512i, _CMP_LT_OQ, _mm512_add_epi32, _mm512_add_pd, _mm512_and_si512, _mm512_castsi512_si256,
        _mm512_cmp_pd_mask, _mm512_extracti64x4_epi64, _mm512_i32gather_epi32, _mm512_i32gather_pd,
        _mm512_loadu_pd, _mm512_loadu_si512, _mm512_mask_blend_epi32, _mm512_permutex2var_epi32,
        _mm512_set1_epi32, _mm512_set1_pd, _mm512_setr_epi32, _mm512_slli_epi32, _mm512_srli_epi32,
        _mm512_storeu_pd, _mm512_sub_epi32, _mm512_test_epi32_mask,
    };

    use super::{CHAINS, Cuts, FEATURE_BITS, FEATURE_MASK, GROUP, PAD_ROWS, TABLE, Tree};

    /// Most features whose ranks are blended rather than gathered.
    const MAX_BLEND: usize = 8;

    pub(super) fn walk(tree: &Tree<'_>, ranks: &[u32], sums: &mut [f64]) {
        // The bounds every memory access below relies on: a walk from slot 1 is at level `l` on
        // slots `2^l..2^(l+1)`, within `keys` (at least `2^depth` and `TABLE` long) for `l < depth`
        // and within `leaf_values` (`2^depth`) after subtracting `2^depth`; a key's feature is
        // below `width` (`CompleteTrees::new` refuses trees where it is not) and indexes a row of
        // GROUP ranks inside its group; every chain of groups has its ranks and its sums.
        let leaves = 1usize << tree.depth;
        assert!(tree.keys.len() >= leaves.max(TABLE) && tree.leaf_values.len() == leaves);
        let chain = GROUP * CHAINS;
        assert!(ranks.len().is_multiple_of(tree.width * chain) && sums.len() == ranks.len() / tree.width);
        // SAFETY: a layout exists only after `is_x86_feature_detected!("avx512f")` (`AVAILABLE`),
        // and the bounds above hold for every access.
        unsafe {
            match tree.width {
                1 => walk_blocks::<1>(tree, ranks, sums),
                2 => walk_blocks::<2>(tree, ranks, sums),
                3 => walk_blocks::<3>(tree, ranks, sums),
                4 => walk_blocks::<4>(tree, ranks, sums),
                5 => walk_blocks::<5>(tree, ranks, sums),
                6 => walk_blocks::<6>(tree, ranks, sums),
                7 => walk_blocks::<7>(tree, ranks, sums),
                8 => walk_blocks::<8>(tree, ranks, sums),
                _ => walk_blocks::<0>(tree, ranks, sums),
            }
        }
    }

    /// [`super::rank_block`], each value's short window of cuts compared in one register.
    pub(super) fn rank_block(cuts: &[Cuts], block: &[f64], width: usize, ranks: &mut Vec<u32>) {
        // SAFETY: these cuts belong to a layout, which exists only after
        // `is_x86_feature_detected!` found "avx512f" and "popcnt" (`AVAILABLE`).
        unsafe { rank_block_avx512(cuts, block, width, ranks) }
    }

    #[target_feature(enable = "avx512f,popcnt")]
    fn rank_block_avx512(cuts: &[Cuts], block: &[f64], width: usize, ranks: &mut Vec<u32>) {
        ranks.clear();
        let rows = block.len() / width;
        for group_start in (0..rows.next_multiple_of(PAD_ROWS)).step_by(GROUP) {
            for (feature, cuts) in cuts.iter().enumerate() {
                ranks.extend((group_start..group_start + GROUP).map(|row| {
                    let value = block[row.min(rows - 1) * width + feature];
                    match cuts.short_window(value) {
                        Some((start, window)) => {
                            // SAFETY: `window` holds eight f64.
                            let window = unsafe { _mm512_loadu_pd(window.as_ptr()) };
                            start
                                + _mm512_cmp_pd_mask::<_CMP_LT_OQ>(window, _mm512_set1_pd(value)).count_ones()
                        }
                        None => cuts.rank(value),
                    }
                }));
            }
        }
    }

    /// The walk for `BLEND` features (1 to `MAX_BLEND`; 0: any width, ranks gathered).
    #[target_feature(enable = "avx512f")]
    unsafe fn walk_blocks<const BLEND: usize>(tree: &Tree<'_>, ranks: &[u32], sums: &mut [f64]) {
        debug_assert!(BLEND <= MAX_BLEND && (BLEND == 0 || BLEND == tree.width));
        let one = _mm512_set1_epi32(1);
        let keys = tree.keys;
        // SAFETY (loads): `keys` holds at least TABLE keys, and 2 * TABLE when the tree has a
        // level 5 (2^depth >= 64).
        let top = unsafe { [load(keys, 0), load(keys, 16)] };
        let fifth = if tree.depth > 5 { unsafe { [load(keys, TABLE), load(keys, TABLE + 16)] } } else { top };
        // SAFETY (loads): `keys` holds 2^depth keys: slots 64-127 when the tree has a level 6,
        // 128-255 when it has a level 7. Loaded once per tree and block, for all its groups.
        let sixth: [__m512i; 4] = std::array::from_fn(|i| match tree.depth {
            7.. => unsafe { load(keys, 64 + 16 * i) },
            _ => top[0],
        });
        let seventh: [__m512i; 8] = std::array::from_fn(|i| match tree.depth {
            8.. => unsafe { load(keys, 128 + 16 * i) },
            _ => top[0],
        });
        let group_len = tree.width * GROUP;
        let root_feature = (keys[1] & FEATURE_MASK) as usize;
        let root = _mm512_set1_epi32(keys[1] as i32);
        let children = [keys[2], keys[3]];
        let child_features = children.map(|key| (key & FEATURE_MASK) as usize * GROUP);
        let child_ranks = children.map(|key| _mm512_set1_epi32((key >> FEATURE_BITS) as i32));
        for (ranks, sums) in ranks.chunks_exact(group_len * CHAINS).zip(sums.chunks_exact_mut(GROUP * CHAINS))
        {
            // Level 0 (every tree has one): one key for all lanes, so every lane's rank is in
            // the row of the root's feature.
            // SAFETY: the chain's groups are within `ranks`, and the root's feature is below the
            // width.
            let mut at: [__m512i; CHAINS] = std::array::from_fn(|chain| {
                let rank = unsafe { load(ranks, chain * group_len + root_feature * GROUP) };
                descend(one, root, rank)
            });
            // Level 1: two keys, told apart by the slot's low bit, and each lane's rank in the
            // row of its key's feature.
            if tree.depth > 1 {
                for (chain, at) in at.iter_mut().enumerate() {
                    let right = _mm512_test_epi32_mask(*at, one);
                    let key_rank = _mm512_mask_blend_epi32(right, child_ranks[0], child_ranks[1]);
                    // SAFETY: the chain's groups are within `ranks`, and the children's features
                    // are below the width.
                    let rank = unsafe {
                        let group = chain * group_len;
                        let left = load(ranks, group + child_features[0]);
                        _mm512_mask_blend_epi32(right, left, load(ranks, group + child_features[1]))
                    };
                    *at = descend_ranked(*at, key_rank, rank);
                }
            }
            // SAFETY (steps): the chain's groups are within `ranks`, and every key's feature is
            // below the width.
            unsafe {
                for _ in 2..tree.depth.min(5) {
                    step::<BLEND>(&mut at, ranks, group_len, |at| {
                        _mm512_permutex2var_epi32(top[0], at, top[1])
                    });
                }
                if tree.depth > 5 {
                    step::<BLEND>(&mut at, ranks, group_len, |at| {
                        _mm512_permutex2var_epi32(fifth[0], at, fifth[1])
                    });
                }
                if tree.depth > 6 {
                    step::<BLEND>(&mut at, ranks, group_len, |at| lookup64(&sixth, at));
                }
                if tree.depth > 7 {
                    step::<BLEND>(&mut at, ranks, group_len, |at| lookup128(&seventh, at));
                }
                for _ in 8..tree.depth {
                    // SAFETY: slots of levels below `depth` are within `keys`.
                    step::<BLEND>(&mut at, ranks, group_len, |at| {
                        _mm512_i32gather_epi32::<4>(at, keys.as_ptr().cast())
                    });
                }
            }
            let leaves = _mm512_set1_epi32(1 << tree.depth);
            for (at, sums) in at.iter().zip(sums.chunks_exact_mut(GROUP)) {
                // SAFETY: leaves are within `leaf_values`; `sums` holds GROUP sums.
                unsafe { add_leaf_values(_mm512_sub_epi32(*at, leaves), tree.leaf_values, sums) };
            }
        }
    }

    /// One level down for every chain, each lane's key given by `key_of` its slot; `ranks` must
    /// hold CHAINS groups of `group_len` ranks, with a row for each feature a key names.
    #[target_feature(enable = "avx512f")]
    unsafe fn step<const BLEND: usize>(
        at: &mut [__m512i; CHAINS],
        ranks: &[u32],
        group_len: usize,
        key_of: impl Fn(__m512i) -> __m512i,
    ) {
        // Opaque to the optimiser, so that it reads each group's rank rows where they are rather
        // than hoisting them out of the level loop and copying them to the stack for every chunk
        // of groups (3 % of the score time on Zen 4).
        let ranks = std::hint::black_box(ranks);
        for (chain, at) in at.iter_mut().enumerate() {
            let key = key_of(*at);
            // SAFETY: as the caller promises.
            let rank = unsafe { rank_of::<BLEND>(key, ranks, chain * group_len) };
            *at = descend(*at, key, rank);
        }
    }

    /// Level 6's keys (slots 64-127, `at` on them) from its four registers: the low five bits
    /// of a slot pick a key from a pair of registers, bit 5 the pair.
    #[target_feature(enable = "avx512f")]
    fn lookup64(table: &[__m512i; 4], at: __m512i) -> __m512i {
        let low = _mm512_permutex2var_epi32(table[0], at, table[1]);
        let high = _mm512_permutex2var_epi32(table[2], at, table[3]);
        _mm512_mask_blend_epi32(_mm512_test_epi32_mask(at, _mm512_set1_epi32(32)), low, high)
    }

    /// Level 7's keys (slots 128-255, `at` on them) from its eight registers: bits 5 and 6 of a
    /// slot pick the pair.
    #[target_feature(enable = "avx512f")]
    fn lookup128(table: &[__m512i; 8], at: __m512i) -> __m512i {
        let bit5 = _mm512_test_epi32_mask(at, _mm512_set1_epi32(32));
        let pair = |i: usize| _mm512_permutex2var_epi32(table[i], at, table[i + 1]);
        let low = _mm512_mask_blend_epi32(bit5, pair(0), pair(2));
        let high = _mm512_mask_blend_epi32(bit5, pair(4), pair(6));
        _mm512_mask_blend_epi32(_mm512_test_epi32_mask(at, _mm512_set1_epi32(64)), low, high)
    }

    /// Sixteen keys or ranks from `keys[first..]`, which must hold them.
    #[target_feature(enable = "avx512f")]
    unsafe fn load(keys: &[u32], first: usize) -> __m512i {
        debug_assert!(first + 16 <= keys.len());
        // SAFETY: as the caller promises.
        unsafe { _mm512_loadu_si512(keys.as_ptr().add(first).cast()) }
    }

    /// Each lane's rank of the feature its key tests, from the group at `ranks[group..]`, which
    /// must hold one row of GROUP ranks for each feature a key names. Up to [`MAX_BLEND`]
    /// features, the rows are paired off by a blend on bit 0 of the feature, the pairs by a blend
    /// on bit 1, and so on: at most three tests and `BLEND - 1` blends.
    #[target_feature(enable = "avx512f")]
    unsafe fn rank_of<const BLEND: usize>(key: __m512i, ranks: &[u32], group: usize) -> __m512i {
        // SAFETY: as the caller promises.
        unsafe {
            let base = ranks.as_ptr().add(group);
            if BLEND == 0 {
                let feature = _mm512_and_si512(key, _mm512_set1_epi32(FEATURE_MASK as i32));
                let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
                let slot = _mm512_add_epi32(_mm512_slli_epi32::<4>(feature), lanes);
                _mm512_i32gather_epi32::<4>(slot, base.cast())
            } else {
                let mut rows: [__m512i; MAX_BLEND] = std::array::from_fn(|f| {
                    if f < BLEND {
                        _mm512_loadu_si512(base.add(f * GROUP).cast())
                    } else {
                        _mm512_set1_epi32(0)
                    }
                });
                // After the blends on bits below `bit`, `rows[i]` holds, in each lane whose
                // feature `f` has `f / bit == i`, the rank of `f`; an odd row out goes up as is.
                let mut len = BLEND;
                let mut bit = 1;
                while len > 1 {
                    let odd = _mm512_test_epi32_mask(key, _mm512_set1_epi32(bit));
                    for i in 0..len / 2 {
                        rows[i] = _mm512_mask_blend_epi32(odd, rows[2 * i], rows[2 * i + 1]);
                    }
                    if len % 2 == 1 {
                        rows[len / 2] = rows[len - 1];
                    }
                    len = len.div_ceil(2);
                    bit <<= 1;
                }
                rows[0]
            }
        }
    }

    /// One step down: `2 * at`, plus one where the rank is above the key's (the row goes right).
    #[target_feature(enable = "avx512f")]
    fn descend(at: __m512i, key: __m512i, rank: __m512i) -> __m512i {
        descend_ranked(at, _mm512_srli_epi32::<FEATURE_BITS>(key), rank)
    }

    /// [`descend`] given the key's rank (`key >> 8`) rather than the key.
    #[target_feature(enable = "avx512f")]
    fn descend_ranked(at: __m512i, key_rank: __m512i, rank: __m512i) -> __m512i {
        // Ranks are below 2^24, so `key_rank - rank` is negative, its top bit set, exactly when
        // the row's rank is above.
        let right = _mm512_srli_epi32::<31>(_mm512_sub_epi32(key_rank, rank));
        _mm512_add_epi32(_mm512_add_epi32(at, at), right)
    }

    /// Adds the path lengths of sixteen leaves to `sums`, which must hold sixteen sums.
    #[target_feature(enable = "avx512f")]
    unsafe fn add_leaf_values(leaf: __m512i, leaf_values: &[f64], sums: &mut [f64]) {
        debug_assert!(sums.len() == GROUP);
        let base = leaf_values.as_ptr();
        // SAFETY: as the caller promises.
        unsafe {
            let low = _mm512_i32gather_pd::<8>(_mm512_castsi512_si256(leaf), base);
            let high = _mm512_i32gather_pd::<8>(_mm512_extracti64x4_epi64::<1>(leaf), base);
            let sums = sums.as_mut_ptr();
            _mm512_storeu_pd(sums, _mm512_add_pd(_mm512_loadu_pd(sums), low));
            _mm512_storeu_pd(sums.add(8), _mm512_add_pd(_mm512_loadu_pd(sums.add(8)), high));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::{AVAILABLE, CompleteTrees, Cuts, MAX_DEPTH, Slot, within_budget};

    /// Values that make ties, signed zeros and extreme spreads common.
    const POOL: [f64; 10] = [-1e300, -2.5, -0.0, 0.0, 1.0, 1.5, 3.25, 1e-300, 7.0, 1e300];

    fn draw(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    fn value(state: &mut u64) -> f64 {
        match draw(state) % 3 {
            0 => POOL[(draw(state) % POOL.len() as u64) as usize],
            _ => (draw(state) % 2001) as f64 / 100.0 - 10.0,
        }
    }

    /// A random tree in the forest's storage order (children consecutive, after their parent).
    fn random_tree(state: &mut u64, width: usize, max_depth: u32) -> Vec<Slot> {
        let mut nodes = vec![Slot::Leaf(0.0)];
        let mut queue = VecDeque::from([(0, 0)]);
        while let Some((i, depth)) = queue.pop_front() {
            nodes[i] = if depth == max_depth || draw(state).is_multiple_of(5) {
                Slot::Leaf(f64::from(depth) + (draw(state) % 1000) as f64 / 997.0)
            } else {
                let left = nodes.len();
                nodes.extend([Slot::Leaf(0.0), Slot::Leaf(0.0)]);
                queue.extend([(left, depth + 1), (left + 1, depth + 1)]);
                let feature = (draw(state) % width as u64) as u32;
                Slot::Split { feature, threshold: value(state), left }
            };
        }
        nodes
    }

    /// The reference: each row down each real tree, path lengths summed in tree order.
    fn real_walk(trees: &[Vec<Slot>], row: &[f64]) -> f64 {
        trees.iter().fold(0.0, |sum, tree| {
            let mut i = 0;
            loop {
                match tree[i] {
                    Slot::Leaf(value) => break sum + value,
                    Slot::Split { feature, threshold, left } => {
                        i = if row[feature as usize] <= threshold { left } else { left + 1 };
                    }
                }
            }
        })
    }

    fn depth_of(tree: &[Slot]) -> u32 {
        fn below(tree: &[Slot], i: usize) -> u32 {
            match tree[i] {
                Slot::Leaf(_) => 0,
                Slot::Split { left, .. } => 1 + below(tree, left).max(below(tree, left + 1)),
            }
        }
        below(tree, 0)
    }

    #[test]
    fn padding_a_deep_chain_beside_many_one_leaf_trees_exceeds_the_budget() {
        // The crafted 2.2 MB file of issue 15: one 12-deep chain (25 nodes) and 99,999 one-leaf
        // trees would pad to 4.8 GB.
        assert!(!within_budget(12, 100_000, 25 + 99_999));
        // The reference forest (100 trees of 256 rows, 8 deep, ~500 nodes each) is far inside it,
        // and so is any forest of up to 64 MiB of padding.
        assert!(within_budget(8, 100, 100 * 500));
        assert!(within_budget(12, 1_000, 1_000));
        // A 12-deep forest of full trees needs less padding than its own nodes.
        assert!(within_budget(12, 100_000, 100_000 * 8_191));
    }

    proptest! {
        #[test]
        fn rank_counts_the_cuts_below_a_value(
            cuts in prop::collection::vec(prop::sample::select(POOL.to_vec()).boxed()
                .prop_union(any::<f64>().prop_filter("finite", |v| v.is_finite()).boxed()), 0..200),
            values in prop::collection::vec(any::<f64>().prop_filter("finite", |v| v.is_finite()), 1..50),
        ) {
            let table = Cuts::new(cuts.clone());
            for value in values.iter().chain(&cuts).chain(&POOL) {
                let mut distinct = cuts.clone();
                distinct.sort_by(f64::total_cmp);
                distinct.dedup_by(|a, b| a == b);
                let below = distinct.iter().filter(|&&t| t < *value).count() as u32;
                prop_assert_eq!(table.rank(*value), below, "value {}", value);
            }
        }

        #[test]
        fn the_layout_sums_exactly_what_the_real_trees_charge(
            seed in 1u64..,
            width in 1usize..12,
            max_depth in 0u32..=MAX_DEPTH,
            n_trees in 1usize..6,
            rows in 1usize..700,
        ) {
            let state = &mut seed.clone();
            let trees: Vec<Vec<Slot>> = (0..n_trees).map(|_| random_tree(state, width, max_depth)).collect();
            let depth = trees.iter().map(|tree| depth_of(tree)).max().unwrap_or(0);
            let Some(layout) = CompleteTrees::new(depth, width, &trees) else {
                prop_assert!(!*AVAILABLE, "no layout for depth {depth}, width {width}");
                return Ok(());
            };
            let x: Vec<f64> = (0..rows * width).map(|_| value(state)).collect();
            let mut sums = vec![0.0; rows];
            layout.add_path_sums(&x, &mut sums);
            for (row, sum) in x.chunks(width).zip(&sums) {
                prop_assert_eq!(sum.to_bits(), real_walk(&trees, row).to_bits(), "row {:?}", row);
            }
        }
    }
}
