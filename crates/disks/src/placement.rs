//! Where a new partition goes when its start or size is 0 or unset, decided as `sgdisk --new`
//! decides it (gdisk 1.0.x), since Ignition's semantics are defined by that tool:
//!
//! * start 0: the first sector of the largest free block (the first such block on a tie), moved
//!   up to the 1 MiB alignment when the block still contains that aligned sector;
//! * size 0: up to the last sector of the *largest* free block, so a non-zero start outside that
//!   block cannot be filled to its end (sgdisk fails, and so does this).

use std::collections::BTreeMap;

/// The used sector ranges of a table while partitions are being placed.
#[derive(Debug, Clone)]
pub struct Layout {
    first_usable: u64,
    last_usable: u64,
    alignment: u64,
    /// number → (first, last), inclusive.
    used: BTreeMap<u32, (u64, u64)>,
}

impl Layout {
    pub fn new(first_usable: u64, last_usable: u64, sector_size: u64) -> Layout {
        Layout {
            first_usable,
            last_usable,
            alignment: ((1 << 20) / sector_size).max(1),
            used: BTreeMap::new(),
        }
    }

    pub fn insert(&mut self, number: u32, first: u64, last: u64) {
        self.used.insert(number, (first, last));
    }

    pub fn remove(&mut self, number: u32) {
        self.used.remove(&number);
    }

    /// Free blocks as (first, last), inclusive, in disk order.
    pub fn free_blocks(&self) -> Vec<(u64, u64)> {
        let mut ranges: Vec<(u64, u64)> = self.used.values().copied().collect();
        ranges.sort_unstable();
        let mut blocks = Vec::new();
        let mut next = self.first_usable;
        for (first, last) in ranges {
            if first > next {
                blocks.push((next, first - 1));
            }
            next = next.max(last.saturating_add(1));
        }
        if next <= self.last_usable {
            blocks.push((next, self.last_usable));
        }
        blocks
    }

    fn largest_free(&self) -> Option<(u64, u64)> {
        let mut best: Option<(u64, u64)> = None;
        for block in self.free_blocks() {
            if best.is_none_or(|b| block.1 - block.0 > b.1 - b.0) {
                best = Some(block);
            }
        }
        best
    }

    /// Place partition `number` with `start`/`size` in sectors, 0 meaning "default" as above,
    /// and record it. Returns (first, last) or why sgdisk would refuse.
    pub fn place(&mut self, number: u32, start: u64, size: u64) -> Result<(u64, u64), String> {
        let largest = self.largest_free();
        let first = if start == 0 {
            let (block_first, block_last) = largest.ok_or("no free space left on the disk")?;
            let aligned = block_first.div_ceil(self.alignment) * self.alignment;
            if aligned <= block_last {
                aligned
            } else {
                block_first
            }
        } else {
            start
        };
        let last = if size == 0 {
            largest
                .map(|b| b.1)
                .ok_or("no free space left on the disk")?
        } else {
            first + size - 1
        };
        let fits = self
            .free_blocks()
            .iter()
            .any(|&(f, l)| f <= first && last <= l && first <= last);
        if !fits {
            return Err(format!(
                "sectors {first} to {last} are not free (free blocks: {})",
                self.describe_free()
            ));
        }
        self.insert(number, first, last);
        Ok((first, last))
    }

    fn describe_free(&self) -> String {
        let blocks = self.free_blocks();
        if blocks.is_empty() {
            return "none".into();
        }
        blocks
            .iter()
            .map(|(f, l)| format!("{f}-{l}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Figures below were checked against `sgdisk --pretend --new=… --info=…` (gdisk 1.0.9) on a
    // 100 MiB image (first usable 34, last usable 204766).
    fn disk() -> Layout {
        Layout::new(34, 204766, 512)
    }

    #[test]
    fn start_and_size_zero_fill_the_disk_aligned() {
        let mut l = disk();
        assert_eq!(l.place(1, 0, 0), Ok((2048, 204766)));
    }

    #[test]
    fn zeros_take_the_largest_block_not_the_first() {
        let mut l = disk();
        l.insert(1, 2048, 22527);
        l.insert(2, 81920, 102399);
        assert_eq!(l.place(3, 0, 0), Ok((102400, 204766)));
        assert_eq!(l.place(4, 0, 2048), Ok((22528, 24575)));
    }

    #[test]
    fn sequential_zero_placements_see_earlier_ones() {
        let mut l = disk();
        l.insert(1, 100, 2099);
        assert_eq!(l.place(2, 0, 4096), Ok((4096, 8191)));
        assert_eq!(l.place(3, 0, 0), Ok((8192, 204766)));
    }

    #[test]
    fn size_zero_with_a_start_outside_the_largest_block_fails() {
        let mut l = disk();
        l.insert(1, 4096, 8191);
        let err = l.place(2, 2048, 0).unwrap_err();
        assert!(err.contains("not free"), "{err}");
        assert_eq!(l.place(2, 8192, 0), Ok((8192, 204766)));
    }

    #[test]
    fn overlap_and_no_space_are_refused() {
        let mut l = disk();
        l.insert(1, 34, 204766);
        assert!(l.place(2, 4096, 2048).is_err());
        assert_eq!(
            l.place(2, 0, 0).unwrap_err(),
            "no free space left on the disk"
        );
    }

    #[test]
    fn four_k_sectors_align_to_256() {
        let mut l = Layout::new(6, 25594, 4096);
        assert_eq!(l.place(1, 0, 256), Ok((256, 511)));
    }
}
