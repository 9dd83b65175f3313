//! A column gathered from the parsed pieces of a table, block after block, copied in parallel.
//!
//! Appending a block's pieces one after another on one thread was a serial stretch between
//! parallel parses: a memory copy of every value and, worse, the page faults of freshly grown
//! memory, taken one at a time. Here the room is allocated zeroed (the allocator maps fresh
//! zero pages and the kernel faults them in only when first written), sized for the whole input
//! when its size is known, and each piece is copied into its place by its own task, so the
//! copies and the faults are spread across cores.

use rayon::prelude::*;

/// Values copied per task when moving a column to larger room.
const COPY_CHUNK: usize = 64 << 10;

/// Headroom on an estimated final length: rows vary in length from block to block.
const ESTIMATE_MARGIN: f64 = 1.05;

/// Most room made at once, as a multiple of the values held: an estimate from a small first
/// block of a huge input maps memory step by step rather than all at once.
const MAX_GROWTH: usize = 64;

/// How far reading has come: bytes read so far and the input's size, when known.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Progress {
    /// Input bytes whose rows are gathered (after the block being added).
    pub(crate) read: u64,
    /// The whole input's size (a file's length), when known.
    pub(crate) total: Option<u64>,
}

/// A column growing block by block: `room` is the allocated (zeroed) storage, `len` the values
/// gathered so far.
#[derive(Debug, Default)]
pub(crate) struct Gather<T> {
    room: Vec<T>,
    len: usize,
}

impl<T: Copy + Default + Send + Sync> Gather<T> {
    /// Appends `parts` in order, each copied by its own task; `progress` sizes new room (for
    /// the whole input when its size is known, else twice the present room).
    pub(crate) fn extend(&mut self, parts: &[&[T]], progress: Progress) {
        self.extend_with(parts, progress, |part, into| into.copy_from_slice(part), |part| part.len());
    }

    /// Values gathered so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// [`Gather::extend`] for parts of any kind: `copy(part, into)` writes a part's `len_of(part)`
    /// values (e.g. shifted).
    pub(crate) fn extend_with<P: Sync>(
        &mut self,
        parts: &[P],
        progress: Progress,
        copy: impl Fn(&P, &mut [T]) + Sync,
        len_of: impl Fn(&P) -> usize,
    ) {
        let added: usize = parts.iter().map(&len_of).sum();
        self.make_room(self.len + added, progress);
        let mut rest = &mut self.room[self.len..self.len + added];
        let mut jobs = Vec::with_capacity(parts.len());
        for part in parts {
            let (into, tail) = rest.split_at_mut(len_of(part));
            jobs.push((part, into));
            rest = tail;
        }
        jobs.into_par_iter().for_each(|(part, into)| copy(part, into));
        self.len += added;
    }

    /// The gathered values.
    pub(crate) fn into_vec(mut self) -> Vec<T> {
        self.room.truncate(self.len);
        // Returns the unused room; for memory the allocator mapped, without copying.
        self.room.shrink_to_fit();
        self.room
    }

    fn make_room(&mut self, needed: usize, progress: Progress) {
        if needed <= self.room.len() {
            return;
        }
        let estimate = match progress.total {
            Some(total) if progress.read > 0 && total > progress.read => {
                let per_byte = needed as f64 / progress.read as f64;
                (per_byte * total as f64 * ESTIMATE_MARGIN) as usize
            }
            _ => 2 * self.room.len(),
        };
        let room_len = estimate.min(needed.saturating_mul(MAX_GROWTH)).max(needed);
        // `vec![zero; n]` allocates zeroed memory, which large allocations get as fresh pages.
        let mut room = vec![T::default(); room_len];
        room[..self.len]
            .par_chunks_mut(COPY_CHUNK)
            .zip(self.room[..self.len].par_chunks(COPY_CHUNK))
            .for_each(|(into, from)| into.copy_from_slice(from));
        self.room = room;
    }
}

#[cfg(test)]
mod tests {
    use super::{Gather, Progress};

    #[test]
    fn blocks_gather_in_order_whatever_the_size_estimate() {
        let blocks: Vec<Vec<Vec<u32>>> = (0..5u32)
            .map(|b| (0..=b).map(|p| (0..(100_000 * p + 7)).map(|v| v ^ b).collect()).collect())
            .collect();
        let expected: Vec<u32> = blocks.iter().flatten().flatten().copied().collect();
        // Bytes per value: what the progress reports. The estimate from the first block is right,
        // too small (the later blocks have longer pieces) or missing (then the room doubles).
        for total in [None, Some(expected.len() as u64), Some(10), Some(1 << 40)] {
            let mut gather = Gather::default();
            let mut read = 0;
            for block in &blocks {
                read += block.iter().map(Vec::len).sum::<usize>() as u64;
                let parts: Vec<&[u32]> = block.iter().map(Vec::as_slice).collect();
                gather.extend(&parts, Progress { read, total });
                assert_eq!(gather.len() as u64, read);
            }
            assert_eq!(gather.into_vec(), expected, "total {total:?}");
        }
    }
}
