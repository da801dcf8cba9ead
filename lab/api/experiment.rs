//! The measurement behind chapters 3 and 4, one job per module:
//!
//! | module          | its one job                                                      |
//! |-----------------|------------------------------------------------------------------|
//! | `trial`         | run a model under closed-loop load, beside Little's law's bound  |
//! | `table`         | print trial outcomes, marking latencies the window cut short     |
//! | `proc_counters` | read a process's CPU, run-queue wait and memory from /proc       |
//! | `fd_limit`      | raise the open-file limit (`rlimit`)                             |
//! | `memory`        | probe what idle connections and parked threads cost             |
//! | `overload`      | open-loop overload against a limit: shed, bounded, recovered     |
//! | `child`         | start an example again in `serve` mode, as a child process       |
//! | `cli`           | the examples' flags and their `serve` subcommand                 |
//!
//! Everything is re-exported here, so callers write
//! `lab::api::experiment::run_trial` whichever module holds it.
//!
//! Left out: anything but `GET /wait?ms=N` and `GET /hello` (the chapters'
//! experiments).

pub mod child;
pub mod cli;
pub mod fd_limit;
pub mod memory;
pub mod overload;
pub mod proc_counters;
pub mod table;
pub mod trial;

pub use child::{serve_in_child, serve_in_child_limited};
pub use cli::{ChapterArgs, ChapterCommand, ServeArgs, serve_with};
pub use fd_limit::raise_fd_limit;
pub use memory::{Idle, MemoryCost, connection_cost, idle_connection_cost, parked_thread_cost};
pub use overload::{OverloadPlan, overload_table, recovered_after, run_overload};
pub use proc_counters::{CpuUse, kernel_stack_bytes, peak_rss_bytes, rss_bytes, virtual_bytes};
pub use table::{CUT_SHORT, cut_short_note, latency_cell, outcome_table};
pub use trial::{
    Outcome, REQUEST_TIMEOUT, Schedule, Trial, load_threads, run_trial, run_trial_in_child,
};
