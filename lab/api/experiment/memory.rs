//! Memory probes: what `count` idle things cost — keep-alive connections on
//! a server in a child process, or parked threads in this one — as growth of
//! RSS, virtual size and the kernel's thread stacks.
//!
//! Left out: where inside the server the bytes go (the chapter explains it).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::child::serve_in_child;
use super::proc_counters::{kernel_stack_bytes, rss_bytes, thread_count, virtual_bytes};
use crate::api::Model;
use crate::report::Cell;
use futures::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

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
    Ok(idle_connection_steps(exe, model, count)?.after_one_request)
}

/// Where an idle connection's bytes go, in two steps on the same
/// connections: connected with nothing sent yet (the socket's task and the
/// buffers allocated for it), then after one request each (plus the pages
/// the request and its answer touched).
#[derive(Debug, Clone)]
pub struct IdleSteps {
    pub never_asked: MemoryCost,
    pub after_one_request: MemoryCost,
}

/// [`idle_connection_cost`], read at both steps of [`IdleSteps`].
pub fn idle_connection_steps(exe: &Path, model: Model, count: usize) -> anyhow::Result<IdleSteps> {
    let mut child = serve_in_child(exe, model)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (addr, pid) = (child.addr(), child.pid());
    let reading = move || Reading {
        rss: rss_bytes(pid),
        virtual_size: virtual_bytes(pid),
        kernel_stack: kernel_stack_bytes(),
        threads: thread_count(pid),
    };
    let result = runtime.block_on(async move {
        let mut warm = connect_all(addr, 100).await?; // first allocations are not per connection
        ask_all(&mut warm).await?;
        tokio::time::sleep(SETTLE).await;
        let before = reading();
        let mut connections = connect_all(addr, count).await?;
        tokio::time::sleep(SETTLE).await;
        let connected = reading();
        ask_all(&mut connections).await?;
        tokio::time::sleep(SETTLE).await;
        let asked = reading();
        anyhow::Ok(IdleSteps {
            never_asked: before.cost_until(&connected, count),
            after_one_request: before.cost_until(&asked, count),
        })
    });
    let stopped = child.stop()?;
    let mut steps = result?;
    steps.after_one_request.stop_took = (!stopped.killed).then_some(stopped.took);
    Ok(steps)
}

/// One reading of a server's memory and threads.
struct Reading {
    rss: Option<u64>,
    virtual_size: Option<u64>,
    kernel_stack: Option<u64>,
    threads: Option<u64>,
}

impl Reading {
    /// What `count` connections cost between this reading and `after`.
    fn cost_until(&self, after: &Reading, count: usize) -> MemoryCost {
        let delta = |a: Option<u64>, b: Option<u64>| b.unwrap_or(0).saturating_sub(a.unwrap_or(0));
        MemoryCost {
            count,
            rss_delta: delta(self.rss, after.rss),
            virtual_delta: delta(self.virtual_size, after.virtual_size),
            kernel_stack_delta: Some(delta(self.kernel_stack, after.kernel_stack)),
            threads_delta: delta(self.threads, after.threads),
            stop_took: None,
        }
    }
}

/// How long the server gets to finish its work on new connections before
/// its memory is read.
const SETTLE: Duration = Duration::from_millis(300);

/// How long opening (or asking on) the idle connections may take in all.
const OPEN_DEADLINE: Duration = Duration::from_secs(60);

/// Opens `count` connections and sends nothing on them yet. Each closes
/// with a reset (`SO_LINGER` 0) rather than leaving its port in TIME_WAIT
/// for a minute: 10,000 at a time, on a machine that runs other load
/// tests, would otherwise use up loopback's ephemeral ports.
async fn connect_all(addr: SocketAddr, count: usize) -> anyhow::Result<Vec<TcpStream>> {
    let connect = |_| async move {
        let stream = TcpStream::connect(addr).await?;
        socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
        anyhow::Ok(stream)
    };
    let opened = futures::stream::iter(0..count)
        .map(connect)
        .buffer_unordered(64)
        .collect::<Vec<_>>();
    within_deadline(count, opened).await?.into_iter().collect()
}

/// Sends one `GET /hello` on each connection and reads its answer, leaving
/// the connections open (idle keep-alive).
async fn ask_all(connections: &mut [TcpStream]) -> anyhow::Result<()> {
    let count = connections.len();
    let asked = futures::stream::iter(connections.iter_mut())
        .map(ask)
        .buffer_unordered(64)
        .collect::<Vec<_>>();
    within_deadline(count, asked).await?.into_iter().collect()
}

/// One `GET /hello` on `stream`, answered 200.
async fn ask(stream: &mut TcpStream) -> anyhow::Result<()> {
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await?;
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await?;
    anyhow::ensure!(buf[..n].starts_with(b"HTTP/1.1 200"), "unexpected answer");
    Ok(())
}

/// A server that cannot hold every connection (a thread pool smaller than
/// the connections) leaves the rest unanswered: an error, never a hang.
async fn within_deadline<T>(count: usize, work: impl Future<Output = T>) -> anyhow::Result<T> {
    tokio::time::timeout(OPEN_DEADLINE, work)
        .await
        .map_err(|_| {
            anyhow::anyhow!("{count} idle connections not all answered in {OPEN_DEADLINE:?}")
        })
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
