//! A seeded random stream whose draws have fixed places, so a draw whose value
//! would not be used can be skipped without shifting the ones after it.
//!
//! Why: the engine reserves the same draws for every request in every model (the
//! models are compared on the same requests), but most runs use few of them: with
//! fixed phase lengths, or a model that ignores the blocking and pinning draws,
//! generating them was the largest single cost of a run in the browser (ChaCha has
//! no SIMD there). Skipped draws cost nothing; the next used draw seeks past them,
//! and the values of the used draws are exactly those of drawing every one.
//!
//! Leaves out: anything but uniform `f64`s (all the engine needs).

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One `f64` draw takes one `u64`, two of ChaCha's 32-bit words.
const WORDS_PER_DRAW: u64 = 2;
/// ChaCha8Rng computes 4 blocks of 16 words at a time: seeking costs one such
/// refill, so a shorter gap is cheaper to read through than to seek over.
const SEEK_AFTER_WORDS: u64 = 64;

pub struct Stream {
    rng: ChaCha8Rng,
    /// Words the stream has logically used (drawn or skipped).
    pos: u64,
    /// Words `rng` has actually produced.
    produced: u64,
}

impl Stream {
    /// Stream number `stream` of `seed`.
    pub fn new(seed: u64, stream: u64) -> Stream {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Stream {
            rng,
            pos: 0,
            produced: 0,
        }
    }

    /// Uniform in [0, 1), the same value `rng.gen::<f64>()` gives at this place.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        let gap = self.pos - self.produced;
        if gap >= SEEK_AFTER_WORDS {
            self.rng.set_word_pos(self.pos as u128);
        } else {
            for _ in 0..gap {
                self.rng.next_u32();
            }
        }
        self.pos += WORDS_PER_DRAW;
        self.produced = self.pos;
        self.rng.r#gen()
    }

    /// Pass over one draw whose value is not needed.
    #[inline]
    pub fn skip(&mut self) {
        self.pos += WORDS_PER_DRAW;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Skipping any pattern of draws leaves the others unchanged.
    #[test]
    fn skipped_draws_do_not_shift_the_others() {
        let mut plain = ChaCha8Rng::seed_from_u64(7);
        plain.set_stream(1);
        let all: Vec<f64> = (0..2_000).map(|_| plain.r#gen()).collect();
        let mut s = Stream::new(7, 1);
        let mut state = 99u64;
        for (i, &want) in all.iter().enumerate() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Runs of skips of every length, including ones longer than a refill.
            if (state >> 60) < 11 || (i / 100) % 3 == 1 {
                s.skip();
            } else {
                assert_eq!(s.uniform(), want, "draw {i}");
            }
        }
    }
}
