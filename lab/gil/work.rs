//! The work a "Python thread" does under the [`Gil`](super::Gil): CPU work as
//! a loop of "bytecodes" (small fixed units of work the optimiser cannot
//! remove) with the eval-breaker check at every boundary, and I/O as a wait
//! that either releases the lock (right) or holds it (the classic bug).
//!
//! What it leaves out: real bytecode. A CPython instruction does far more
//! than mix a few integers, and CPython polls the eval breaker only at some
//! instructions (calls, backward jumps), not after every one.

use std::hint::black_box;
use std::time::Duration;

use super::GilGuard;

/// Mixing rounds per "bytecode": a few tens of nanoseconds of dependent
/// integer work, the same order as one CPython instruction.
const ROUNDS: u32 = 16;

// ANCHOR: bytecode
/// One "bytecode": a small fixed unit of CPU work.
#[inline(never)]
pub fn bytecode(x: u64) -> u64 {
    let mut x = black_box(x);
    for _ in 0..ROUNDS {
        x = x.wrapping_mul(0x5851_F42D_4C95_7F2D).wrapping_add(1);
        x ^= x >> 29;
    }
    x
}

/// The interpreter loop: run `n` bytecodes, checking the eval breaker at
/// every boundary, as CPython's `ceval.c` does.
pub fn run_bytecodes(py: &mut GilGuard, n: u64) -> u64 {
    let mut x = 1;
    for _ in 0..n {
        x = bytecode(x);
        py.check();
    }
    black_box(x)
}
// ANCHOR_END: bytecode

// ANCHOR: io_bad_good
/// Bug: a blocking call that keeps the GIL while it waits, as a C extension
/// does if it forgets `Py_BEGIN_ALLOW_THREADS`. Every other thread stalls.
pub fn blocking_call_holding(py: &mut GilGuard, wait: Duration) {
    py.check();
    std::thread::sleep(wait); // BAD: holds the GIL for the whole wait
}

/// Right: the same call, releasing the GIL while it waits, as `time.sleep`,
/// `socket.recv` and file reads do.
pub fn blocking_call_releasing(py: &mut GilGuard, wait: Duration) {
    py.check();
    py.allow_threads(|| std::thread::sleep(wait)); // GOOD: others run meanwhile
}
// ANCHOR_END: io_bad_good

// ANCHOR: exercise_solution
/// Exercise solution: CPU work done "in C", the way `hashlib` or `zlib` do
/// it for large inputs: the GIL is released for the whole computation, so
/// it runs in parallel with other threads. Only code that does not touch
/// Python objects may do this, hence no `check()` inside.
pub fn cpu_work_releasing(py: &mut GilGuard, n: u64) -> u64 {
    py.allow_threads(|| {
        let mut x = 1;
        for _ in 0..n {
            x = bytecode(x);
        }
        black_box(x)
    })
}
// ANCHOR_END: exercise_solution
