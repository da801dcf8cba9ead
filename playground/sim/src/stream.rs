//! The run's randomness: one seeded stream per kind of draw, so a run that makes no
//! draw of some kind (fixed phase lengths, a model that neither blocks nor pins)
//! draws nothing for it, and the draws it does make are the same in every model.
//!
//! Why one stream per kind rather than one shared stream: with a shared stream,
//! every request had to reserve a place for each kind of draw, and a model had to
//! skip the places it did not use. Generating ChaCha words nobody used was most of
//! the blocking model's cost in the browser (ChaCha has no SIMD there).
//!
//! Leaves out: anything but uniform `f64`s (all the engine needs).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a stream is drawn for; its number in the seed's ChaCha streams.
#[derive(Clone, Copy, Debug)]
pub enum Draw {
    /// Each request's CPU and wait lengths, in arrival order (exponential lengths only).
    Phases = 0,
    /// Open-loop arrival gaps; closed-loop think times (exponential only).
    Arrivals = 1,
    /// Blocking-loop model: whether each request's wait blocks the loop.
    Blocking = 2,
    /// Pinned-loops model (and gil-threads with several processes): the loop
    /// or process each new connection is pinned to.
    Pinning = 3,
    /// The clients' own CPU per request on shared cores (exponential only).
    Shared = 4,
}

/// One stream of uniform draws from the run's seed.
pub struct Stream(ChaCha8Rng);

impl Stream {
    pub fn new(seed: u64, draw: Draw) -> Stream {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(draw as u64);
        Stream(rng)
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        self.0.r#gen()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streams of one seed are independent sequences, and a seed replays exactly.
    #[test]
    fn streams_differ_and_replay() {
        let draws = |seed, draw| {
            let mut s = Stream::new(seed, draw);
            (0..8).map(|_| s.uniform()).collect::<Vec<f64>>()
        };
        assert_eq!(draws(7, Draw::Phases), draws(7, Draw::Phases));
        assert_ne!(draws(7, Draw::Phases), draws(7, Draw::Blocking));
        assert_ne!(draws(7, Draw::Phases), draws(8, Draw::Phases));
        assert!(
            draws(7, Draw::Pinning)
                .iter()
                .all(|u| (0.0..1.0).contains(u))
        );
    }
}
