//! The engine's set of idle lanes (workers, threads, loop threads): a two-level
//! bitset, so "the lowest idle lane" is two `trailing_zeros` however many lanes
//! there are (up to [`IdleLanes::CAPACITY`]).
//!
//! Why the lowest: a run is a pure function of its inputs, so which idle lane
//! takes a request must not depend on anything but the set; the lowest is what
//! the engine always picked (it was one `u64` while pools stopped at 64).
//!
//! Leaves out: anything but set, clear and find-lowest (in all lanes, or in a
//! range: one process's threads).

use std::ops::Range;

/// Bit `i` of `words[i / 64]` set = lane `i` is idle; bit `w` of `summary` set =
/// `words[w]` has an idle lane.
#[derive(Clone, Debug)]
pub struct IdleLanes {
    summary: u64,
    words: Vec<u64>,
}

impl IdleLanes {
    /// Most lanes the set can hold (64 words of 64).
    pub const CAPACITY: u32 = 64 * 64;

    /// `lanes` lanes (at most [`IdleLanes::CAPACITY`]), all idle.
    pub fn all_idle(lanes: u32) -> IdleLanes {
        let lanes = lanes.min(Self::CAPACITY);
        let mut set = IdleLanes {
            summary: 0,
            words: vec![0; lanes.div_ceil(64) as usize],
        };
        for lane in 0..lanes {
            set.release(lane);
        }
        set
    }

    /// The lowest idle lane, if any.
    #[inline(always)]
    pub fn lowest(&self) -> Option<u32> {
        if self.summary == 0 {
            return None;
        }
        let w = self.summary.trailing_zeros();
        Some(w * 64 + self.words[w as usize].trailing_zeros())
    }

    /// The lowest idle lane in `lanes` (a process's threads), if any: at most
    /// the range's end words are looked at bit by bit, the rest through `summary`.
    #[inline]
    pub fn lowest_in(&self, lanes: Range<u32>) -> Option<u32> {
        let end = lanes.end.min(self.words.len() as u32 * 64);
        if lanes.start >= end {
            return None;
        }
        let (first, last) = (lanes.start / 64, (end - 1) / 64);
        // The words of the range that have an idle lane.
        let mut words = self.summary & (u64::MAX << first) & (u64::MAX >> (63 - last));
        while words != 0 {
            let w = words.trailing_zeros();
            let mut bits = self.words[w as usize];
            if w == first {
                bits &= u64::MAX << (lanes.start % 64);
            }
            if w == last {
                bits &= u64::MAX >> (63 - (end - 1) % 64);
            }
            if bits != 0 {
                return Some(w * 64 + bits.trailing_zeros());
            }
            words &= words - 1;
        }
        None
    }

    #[inline(always)]
    pub fn is_idle(&self, lane: u32) -> bool {
        self.words
            .get((lane / 64) as usize)
            .is_some_and(|w| w & (1 << (lane % 64)) != 0)
    }

    /// Mark `lane` busy.
    #[inline(always)]
    pub fn take(&mut self, lane: u32) {
        let w = (lane / 64) as usize;
        self.words[w] &= !(1 << (lane % 64));
        if self.words[w] == 0 {
            self.summary &= !(1 << w);
        }
    }

    /// Mark `lane` idle.
    #[inline(always)]
    pub fn release(&mut self, lane: u32) {
        let w = (lane / 64) as usize;
        self.words[w] |= 1 << (lane % 64);
        self.summary |= 1 << w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_idle_lane_across_words() {
        let mut set = IdleLanes::all_idle(1_000);
        for lane in 0..1_000 {
            assert_eq!(set.lowest(), Some(lane));
            set.take(lane);
        }
        assert_eq!(set.lowest(), None);
        set.release(700);
        set.release(65);
        assert_eq!(set.lowest(), Some(65));
        assert!(set.is_idle(700) && !set.is_idle(64) && !set.is_idle(5_000));
        set.take(65);
        assert_eq!(set.lowest(), Some(700));
    }

    #[test]
    fn lowest_idle_lane_in_a_range() {
        let mut set = IdleLanes::all_idle(1_000);
        assert_eq!(set.lowest_in(0..1_000), Some(0));
        assert_eq!(set.lowest_in(130..140), Some(130));
        assert_eq!(set.lowest_in(5..5), None);
        assert_eq!(set.lowest_in(999..5_000), Some(999));
        assert_eq!(set.lowest_in(1_000..5_000), None);
        for lane in 0..1_000 {
            set.take(lane);
        }
        for lane in [3, 63, 64, 127, 128, 700, 999] {
            set.release(lane);
        }
        // Idle lanes just outside the range are not picked, inside they are.
        assert_eq!(set.lowest_in(4..63), None);
        assert_eq!(set.lowest_in(4..64), Some(63));
        assert_eq!(set.lowest_in(65..127), None);
        assert_eq!(set.lowest_in(65..128), Some(127));
        assert_eq!(set.lowest_in(129..700), None);
        assert_eq!(set.lowest_in(129..701), Some(700));
        assert_eq!(set.lowest_in(64..65), Some(64));
        assert_eq!(set.lowest_in(701..1_000), Some(999));
        // Against a plain scan, for many ranges.
        for start in (0..1_000).step_by(7) {
            for end in (start..1_010).step_by(13) {
                let scan = (start..end.min(1_000)).find(|&l| set.is_idle(l));
                assert_eq!(set.lowest_in(start..end), scan, "{start}..{end}");
            }
        }
    }
}
