//! Waiting and working: the two things a request's time is spent on.
//!
//! A *wait* (a database round trip, an upstream call) costs wall-clock time
//! but no CPU: the thread could do something else meanwhile. *Work* costs CPU
//! time, and nothing overlaps it on the same core. Chapter 1 measures both,
//! side by side, with these functions.
//!
//! Left out: real I/O (see `upstream` and `db` for that); here a wait is a
//! sleep, which is what real I/O looks like from the thread's point of view.

use std::hint::black_box;
use std::time::{Duration, Instant};

// ANCHOR: waits
/// Waits by blocking the calling thread: what `time.sleep` or a synchronous
/// driver call does. The thread can do nothing else meanwhile.
pub fn simulated_wait_blocking(duration: Duration) {
    std::thread::sleep(duration);
}

/// Waits by yielding to the runtime: what `await asyncio.sleep(...)` or an
/// async driver call does. The thread runs other tasks meanwhile.
pub async fn simulated_wait(duration: Duration) {
    async_io::Timer::after(duration).await; // tokio::time::sleep, to the µs
}
// ANCHOR_END: waits

// Why async-io's timer and not `tokio::time::sleep`: tokio's timer counts
// whole milliseconds (its docs say so), so its sleeps end up to a
// millisecond or two late, while a real database reply wakes the task as soon
// as its socket turns readable. Against a 50 ms wait that tick is a few
// percent of every event loop's Little's-law bound: an artefact of the
// simulation, not of the model. async-io keeps its timers on a thread of its
// own that sleeps to the exact deadline and then wakes the waiting task on
// whatever runtime it belongs to, much as the database's reply would.
// `timer_overshoot` measures both; chapter 4 prints it.

/// Which timer [`timer_overshoot`] measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// `tokio::time::sleep`.
    Tokio,
    /// `async_io::Timer`, what [`simulated_wait`] uses.
    AsyncIo,
}

/// Mean time past the deadline over `tasks` tasks that each wait
/// `duration` `rounds` times on one event loop (tokio's current-thread
/// runtime), starting at staggered moments.
pub fn timer_overshoot(
    timer: Timer,
    tasks: usize,
    rounds: usize,
    duration: Duration,
) -> std::io::Result<Duration> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let late = runtime.block_on(async move {
        let mut waiters = Vec::with_capacity(tasks);
        for _ in 0..tasks {
            // Spread the starts over a millisecond, as requests arrive: the
            // spawned task starts (and takes its first deadline) at the yield.
            std::thread::sleep(Duration::from_micros(1_000 / tasks.max(1) as u64));
            waiters.push(tokio::spawn(async move {
                let mut late = Duration::ZERO;
                for _ in 0..rounds {
                    let start = Instant::now();
                    match timer {
                        Timer::Tokio => tokio::time::sleep(duration).await,
                        Timer::AsyncIo => simulated_wait(duration).await,
                    }
                    late += start.elapsed().saturating_sub(duration);
                }
                late
            }));
            tokio::task::yield_now().await;
        }
        let mut total = Duration::ZERO;
        for waiter in waiters {
            total += waiter.await.unwrap_or_default();
        }
        total
    });
    Ok(late / (tasks * rounds).max(1) as u32)
}

/// A fixed amount of CPU-bound work, sized once to take about `target` on an
/// idle core. Fixed *work*, not fixed *time*: on a busy machine the same work
/// takes longer, which is exactly what the CPU-bound experiments show.
#[derive(Debug, Clone, Copy)]
pub struct CpuWork {
    iterations: u64,
}

impl CpuWork {
    /// Measures how many iterations take `target` of CPU time on this
    /// thread. (CPU time, not wall time: on a busy machine the thread is off
    /// its core part of the time, which would make the work look slower.)
    pub fn calibrated(target: Duration) -> Self {
        let mut probe = 10_000u64;
        loop {
            let started = cpu_time::ThreadTime::now();
            spin(probe);
            let took = started.elapsed();
            if took >= Duration::from_millis(20) || probe >= 1 << 40 {
                let per_iteration = took.as_secs_f64() / probe as f64;
                let iterations = (target.as_secs_f64() / per_iteration).max(1.0) as u64;
                return Self { iterations };
            }
            probe *= 4;
        }
    }

    /// Exactly `iterations` steps of work.
    pub fn iterations(iterations: u64) -> Self {
        Self { iterations }
    }

    pub fn run(self) -> u64 {
        spin(self.iterations)
    }
}

/// Busy CPU work until the calling thread has run for `d` of CPU time (the
/// API's `/cpu?us=N`): no waiting, nothing another request could overlap
/// with on the same thread. CPU time, not wall-clock time: on a shared core a
/// request preempted half-way still needs its whole `d` of work, as real
/// CPU-bound code does, so k threads on fewer cores cannot finish more than
/// cores / d requests a second. (Timed by the wall clock, a preempted request
/// would count its time off the core as work, and pass that bound.)
/// [`CpuWork`] is a fixed number of steps instead of a fixed CPU time.
pub fn burn_cpu(d: Duration) {
    let started = cpu_time::ThreadTime::now();
    // About 5 µs of work between reads of the thread's CPU clock (a system
    // call, unlike the wall clock's).
    while started.elapsed() < d {
        spin(4096);
    }
}

/// The unit of work: an xorshift step the optimiser cannot remove.
fn spin(iterations: u64) -> u64 {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..iterations {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = black_box(x);
    }
    x
}

/// Wall-clock time and the calling thread's CPU time spent in `f`.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let cpu = cpu_time::ThreadTime::now();
    let wall = Instant::now();
    let out = f();
    (out, wall.elapsed(), cpu.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocking_wait_costs_wall_time_but_almost_no_cpu() {
        let ((), wall, cpu) = measure(|| simulated_wait_blocking(Duration::from_millis(50)));
        assert!(wall >= Duration::from_millis(50));
        assert!(cpu < Duration::from_millis(10), "cpu {cpu:?}");
    }

    #[test]
    fn burning_costs_its_whole_cpu_time_even_on_shared_cores() {
        // More threads than cores: each is preempted, and must still do its
        // whole 20 ms of work (a wall-clock burn would count the time off
        // the core, and do less).
        let threads = 3 * std::thread::available_parallelism().map_or(2, usize::from);
        let d = Duration::from_millis(20);
        let cpu: Vec<Duration> = std::thread::scope(|s| {
            let all: Vec<_> = (0..threads)
                .map(|_| s.spawn(move || measure(|| burn_cpu(d)).2))
                .collect();
            all.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(cpu.iter().all(|&c| c >= d), "{cpu:?}");
    }

    #[test]
    fn work_costs_cpu_time() {
        let work = CpuWork::calibrated(Duration::from_millis(30));
        let (_, wall, cpu) = measure(|| work.run());
        // Wide margins: on a loaded machine the wall time grows, the CPU time stays.
        assert!(cpu >= Duration::from_millis(10), "cpu {cpu:?}");
        assert!(wall >= cpu.mul_f64(0.9), "wall {wall:?} cpu {cpu:?}");
    }
}
