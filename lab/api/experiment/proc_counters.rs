//! A process's counters, read from `/proc` with `procfs`: CPU time, time its
//! threads waited for a core, resident and virtual memory, and the
//! machine's kernel stacks. Linux only, like the rest of the lab.
//!
//! Left out: what a trial does with them ([`super::trial`]).

use std::time::Duration;

/// Where the server's CPU went in a trial run against a child server: the
/// difference between two readings of its counters. `waited` is time its
/// threads spent runnable but waiting for a free core (the kernel's
/// `run_delay`): the share of the machine that was not there when the server
/// wanted it. On 2 cores shared with the load generator and other work this,
/// not the model, is what pulls a fraction down. (The load generator's own
/// threads have exited by the time the trial ends, and their counters with
/// them, so they are not counted.)
#[derive(Debug, Clone, Copy)]
pub struct CpuUse {
    /// CPU time in the server's own code.
    pub user: Duration,
    /// CPU time in the kernel on the server's behalf.
    pub system: Duration,
    /// Runnable time spent waiting for a core, summed over its threads.
    pub waited: Duration,
    /// How long the trial ran, warm-up included.
    pub over: Duration,
}

impl CpuUse {
    /// Reads the counters of process `pid` now (`over` is left at zero).
    /// None where /proc has no such process or no schedstat.
    pub fn read(pid: u32) -> Option<CpuUse> {
        let (user, system) = process_cpu_time(pid)?;
        let waited = run_queue_wait(pid)?;
        Some(CpuUse {
            user,
            system,
            waited,
            over: Duration::ZERO,
        })
    }

    /// What was used between the reading `before` and this one, `over` long.
    pub fn since(self, before: CpuUse, over: Duration) -> CpuUse {
        CpuUse {
            user: self.user.saturating_sub(before.user),
            system: self.system.saturating_sub(before.system),
            waited: self.waited.saturating_sub(before.waited),
            over,
        }
    }

    /// User plus system time.
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }

    /// Thread-seconds spent waiting for a core, per second of trial
    /// (0.5 = half a core's worth of waiting).
    pub fn waited_share(&self) -> f64 {
        self.waited.as_secs_f64() / self.over.as_secs_f64()
    }

    /// The share of the CPU time spent in the kernel.
    pub fn system_share(&self) -> f64 {
        self.system.as_secs_f64() / self.cpu().as_secs_f64().max(1e-9)
    }

    /// CPU time per answered request, given the throughput (warm-up
    /// included in both, so an estimate).
    pub fn cpu_per_request(&self, throughput: f64) -> Duration {
        let requests = throughput * self.over.as_secs_f64();
        Duration::from_secs_f64(self.cpu().as_secs_f64() / requests.max(1.0))
    }
}

/// CPU time a process has used, (user, system), from `/proc/PID/stat`.
pub fn process_cpu_time(pid: u32) -> Option<(Duration, Duration)> {
    let stat = proc_of(pid)?.stat().ok()?;
    let per_second = procfs::ticks_per_second().max(1) as f64;
    let seconds = |ticks: u64| Duration::from_secs_f64(ticks as f64 / per_second);
    Some((seconds(stat.utime), seconds(stat.stime)))
}

/// Sum of `run_delay` (from `/proc/PID/task/TID/schedstat`) over a
/// process's threads.
pub fn run_queue_wait(pid: u32) -> Option<Duration> {
    let mut total_ns = 0u64;
    for task in proc_of(pid)?.tasks().ok()? {
        total_ns += task.ok()?.schedstat().ok()?.run_delay;
    }
    Some(Duration::from_nanos(total_ns))
}

fn proc_of(pid: u32) -> Option<procfs::process::Process> {
    procfs::process::Process::new(i32::try_from(pid).ok()?).ok()
}

/// Resident memory (VmRSS) of process `pid` in bytes, from /proc (Linux).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    Some(proc_of(pid)?.status().ok()?.vmrss? * 1024)
}

/// Peak resident memory (VmHWM, the high-water mark since the process
/// started) of process `pid` in bytes.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    Some(proc_of(pid)?.status().ok()?.vmhwm? * 1024)
}

/// How many threads process `pid` has now.
pub fn thread_count(pid: u32) -> Option<u64> {
    u64::try_from(proc_of(pid)?.stat().ok()?.num_threads).ok()
}

/// Virtual memory (VmSize) of process `pid` in bytes, from /proc (Linux).
pub fn virtual_bytes(pid: u32) -> Option<u64> {
    Some(proc_of(pid)?.status().ok()?.vmsize? * 1024)
}

/// Machine-wide kernel stack memory (`KernelStack:` in /proc/meminfo), bytes.
pub fn kernel_stack_bytes() -> Option<u64> {
    use procfs::Current as _;
    procfs::Meminfo::current().ok()?.kernel_stack
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_readings_of_this_process() {
        let me = std::process::id();
        crate::wait::burn_cpu(Duration::from_millis(50));
        let cpu = CpuUse::read(me).expect("/proc/self is readable");
        assert!(cpu.cpu() > Duration::ZERO, "{cpu:?}");
        assert!(rss_bytes(me).unwrap() > 1024 * 1024);
        let rss = rss_bytes(me).unwrap(); // first: other tests' threads allocate too
        assert!(peak_rss_bytes(me).unwrap() >= rss);
        assert!(virtual_bytes(me).unwrap() >= rss_bytes(me).unwrap());
        assert!(kernel_stack_bytes().unwrap() > 0);
        assert!(thread_count(me).unwrap() >= 1);
    }
}
