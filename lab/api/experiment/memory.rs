//! Memory probes: what `count` idle things cost — keep-alive connections on
//! a server in a child process, or parked threads in this one — as growth of
//! RSS, virtual size and the kernel's thread stacks.
//!
//! Left out: where inside the server the bytes go (the chapter explains it).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::child::serve_in_child;
use super::proc_counters::{kernel_stack_bytes, rss_bytes, thread_count, virtual_bytes};
use crate::api::Model;
use crate::report::Cell;

/// The memory cost of `count` idle things: RSS and virtual size growth.
#[derive(Debug, Clone)]
pub struct MemoryCost {
    pub count: usize,
    pub rss_delta: u64,
    pub virtual_delta: u64,
    /// Growth of the kernel's thread stacks (`KernelStack` in /proc/meminfo,
    /// machine-wide): memory a thread costs that no process's RSS shows.
    pub kernel_stack_delta: Option<u64>,
    /// Threads the process gained: none on an event loop, one per
    /// connection where each connection holds a thread.
    pub threads_delta: u64,
    /// For a child server: how long it took to exit after SIGTERM.
    pub stop_took: Option<Duration>,
}

impl MemoryCost {
    pub fn rss_per_item(&self) -> f64 {
        self.rss_delta as f64 / self.count.max(1) as f64
    }

    /// The header matching [`MemoryCost::row`].
    pub const HEADER: [&'static str; 7] = [
        "what",
        "count",
        "threads added",
        "RSS delta",
        "RSS per item",
        "virtual per item",
        "kernel stack per item",
    ];

    /// A table row: what, count, threads added, RSS delta, RSS per item, virtual per item,
    /// kernel stack per item.
    /// Byte columns hold KiB or MiB as their value, as their text reads.
    pub fn row(&self, what: &str) -> [Cell; 7] {
        let per = |b: u64| {
            let kib = b as f64 / 1024.0 / self.count.max(1) as f64;
            Cell::measured(format!("{kib:.1} KiB"), kib)
        };
        let mib = self.rss_delta as f64 / (1024.0 * 1024.0);
        [
            Cell::from(what),
            Cell::from(self.count),
            Cell::from(self.threads_delta),
            Cell::measured(format!("{mib:.1} MiB"), mib),
            per(self.rss_delta),
            per(self.virtual_delta),
            self.kernel_stack_delta.map_or("-".into(), per),
        ]
    }
}

// ANCHOR: idle_connections
/// Starts `exe serve --model MODEL` as a child process, opens
/// `count` keep-alive connections that each send one `GET /hello` and then
/// stay idle, and reports how much the server's RSS and threads grew (and
/// the machine's kernel stacks: a thread per connection shows there). The
/// clients live in this process, so only the server's memory is counted.
pub fn idle_connection_cost(exe: &Path, model: Model, count: usize) -> anyhow::Result<MemoryCost> {
    connection_cost(exe, model, count, Idle::AfterOneRequest)
}

/// What an idle connection has been through before it is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idle {
    /// Connected, and nothing sent: the server holds the socket and its
    /// task, but has not read a request into its buffers yet.
    NeverAsked,
    /// One `GET /hello` answered, then idle: what keep-alive holds.
    AfterOneRequest,
}

/// Where an idle connection's bytes go, in two steps: the same count of
/// connections that never sent a request (socket and task), against
/// [`idle_connection_cost`] (plus the buffers a request touched).
pub fn connection_cost(
    exe: &Path,
    model: Model,
    count: usize,
    idle: Idle,
) -> anyhow::Result<MemoryCost> {
    let mut child = serve_in_child(exe, model)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let addr = child.addr();
    let pid = child.pid();
    let result = runtime.block_on(async move {
        let at_once = opened_at_once(model);
        // First allocations are not per connection.
        let _warm = open_idle(addr, 100, Idle::AfterOneRequest, at_once).await?;
        tokio::time::sleep(SETTLE).await;
        let reading = || (rss_bytes(pid), virtual_bytes(pid), kernel_stack_bytes());
        let ((rss0, virt0, kstack0), threads0) = (reading(), thread_count(pid));
        let connections = open_idle(addr, count, idle, at_once).await?;
        tokio::time::sleep(SETTLE).await;
        let ((rss1, virt1, kstack1), threads1) = (reading(), thread_count(pid));
        drop(connections);
        let delta = |a: Option<u64>, b: Option<u64>| b.unwrap_or(0).saturating_sub(a.unwrap_or(0));
        anyhow::Ok(MemoryCost {
            count,
            rss_delta: delta(rss0, rss1),
            virtual_delta: delta(virt0, virt1),
            kernel_stack_delta: Some(delta(kstack0, kstack1)),
            threads_delta: delta(threads0, threads1),
            stop_took: None,
        })
    });
    let stopped = child.stop()?;
    let mut cost = result?;
    cost.stop_took = (!stopped.killed).then_some(stopped.took);
    Ok(cost)
}

/// How long the server gets to finish its work on new connections before
/// its memory is read.
const SETTLE: Duration = Duration::from_millis(300);

/// How long opening the idle connections may take in all.
const OPEN_DEADLINE: Duration = Duration::from_secs(60);

/// How many connections [`open_idle`] opens at once: 64 on an event loop,
/// one at a time on rouille. Its HTTP layer (tiny_http 0.12) hands each new
/// connection to a thread pool that grows only when it counts no idle
/// thread, and a thread it has just woken still counts as idle: a burst of
/// connects puts the surplus in a queue behind keep-alive connections that
/// never end, unanswered for good (the race the rouille appendix shows).
/// One at a time, each connection has its thread before the next arrives.
fn opened_at_once(model: Model) -> usize {
    match model {
        Model::Rouille { .. } => 1,
        _ => 64,
    }
}

/// Opens `count` connections, `at_once` at a time, sends one request on
/// each and reads the answer (unless `idle` is [`Idle::NeverAsked`]), then
/// returns them still open (idle keep-alive).
async fn open_idle(
    addr: SocketAddr,
    count: usize,
    idle: Idle,
    at_once: usize,
) -> anyhow::Result<Vec<tokio::net::TcpStream>> {
    use futures::StreamExt as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let ready = std::cell::Cell::new(0); // for the error: how far it got
    let ready = &ready;
    let one = |_| async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        if idle == Idle::NeverAsked {
            ready.set(ready.get() + 1);
            return anyhow::Ok(stream);
        }
        stream
            .write_all(b"GET /hello HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            .await?;
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await?;
        anyhow::ensure!(buf[..n].starts_with(b"HTTP/1.1 200"), "unexpected answer");
        ready.set(ready.get() + 1);
        anyhow::Ok(stream)
    };
    let opened = futures::stream::iter(0..count)
        .map(one)
        .buffer_unordered(at_once.max(1))
        .collect::<Vec<_>>();
    // A server that leaves connections unanswered is an error, never a hang.
    match tokio::time::timeout(OPEN_DEADLINE, opened).await {
        Ok(opened) => opened.into_iter().collect(),
        Err(_) => anyhow::bail!(
            "only {} of {count} idle connections ready in {OPEN_DEADLINE:?}",
            ready.get()
        ),
    }
}
// ANCHOR_END: idle_connections

/// Spawns `count` threads that park until released, and reports how this
/// process's RSS and virtual size grew: a thread-per-connection server pays
/// this for every connection, idle or not.
pub fn parked_thread_cost(count: usize) -> anyhow::Result<MemoryCost> {
    let pid = std::process::id();
    let (rss0, virt0, kstack0) = (rss_bytes(pid), virtual_bytes(pid), kernel_stack_bytes());
    let release = std::sync::Arc::new(std::sync::Barrier::new(count + 1));
    let mut threads = Vec::with_capacity(count);
    for _ in 0..count {
        let release = release.clone();
        threads.push(std::thread::spawn(move || {
            release.wait();
        }));
    }
    std::thread::sleep(Duration::from_millis(300));
    let (rss1, virt1, kstack1) = (rss_bytes(pid), virtual_bytes(pid), kernel_stack_bytes());
    release.wait();
    for thread in threads {
        let _ = thread.join();
    }
    let delta = |a: Option<u64>, b: Option<u64>| b.unwrap_or(0).saturating_sub(a.unwrap_or(0));
    Ok(MemoryCost {
        count,
        rss_delta: delta(rss0, rss1),
        virtual_delta: delta(virt0, virt1),
        kernel_stack_delta: Some(delta(kstack0, kstack1)),
        threads_delta: count as u64,
        stop_took: None,
    })
}
