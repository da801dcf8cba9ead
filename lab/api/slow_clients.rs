//! Slow clients ("slowloris"): connections that send a request head one
//! header line at a time and never finish it. A sync worker that reads the
//! head is stuck with it — k of them stop a k-thread pool, which is why
//! gunicorn's sync workers are deployed behind a buffering proxy (nginx
//! reads the whole request before it passes it on). An event loop parks them
//! for the price of a socket and serves everyone else; its head timeout
//! ([`super::head_timeout`]) closes them in the end, while idle keep-alive
//! connections stay open.
//!
//! [`run`] is the experiment: idle keep-alive clients, then `slow` slow
//! clients, then ordinary requests on fresh connections while the slow ones
//! trickle; it counts who got an answer in time, who was cut off, and
//! whether the idle connections were kept. Left out: slow *bodies* and slow
//! *readers* of responses (the same lesson, other timeouts).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::loadgen::http::{Client, Exchange, RequestTemplate};

/// How a slow client's connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trickled {
    /// The server closed it (or answered, e.g. 408) this long after connecting.
    ClosedByServer(Duration),
    /// Still open when the client gave up.
    StillOpen,
    /// The connection could not be made.
    NotConnected,
}

// ANCHOR: trickle
/// One slow client: a request line, then one header line every `every`,
/// never the blank line that ends the head — until the server closes the
/// connection or `give_up` has passed.
pub async fn trickle(addr: SocketAddr, every: Duration, give_up: Duration) -> Trickled {
    let started = Instant::now();
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return Trickled::NotConnected;
    };
    let head = format!("GET /hello HTTP/1.1\r\nHost: {addr}\r\n");
    let mut line = 0_u64;
    let mut next = head.into_bytes();
    let mut buf = [0_u8; 512];
    loop {
        if stream.write_all(&next).await.is_err() {
            return Trickled::ClosedByServer(started.elapsed());
        }
        line += 1;
        next = format!("X-Slow-{line}: {line}\r\n").into_bytes();
        let pause = every.min(give_up.saturating_sub(started.elapsed()));
        tokio::select! {
            // Any answer (408) or end of stream means the server gave up on us.
            _ = stream.read(&mut buf) => return Trickled::ClosedByServer(started.elapsed()),
            _ = tokio::time::sleep(pause) => {}
        }
        if started.elapsed() >= give_up {
            return Trickled::StillOpen;
        }
    }
}
// ANCHOR_END: trickle

/// The experiment's sizes.
#[derive(Debug, Clone)]
pub struct SlowSpec {
    /// Slow clients, each sending a header line per `every`.
    pub slow: usize,
    pub every: Duration,
    /// How long the slow clients keep trickling before they give up.
    pub hold: Duration,
    /// Ordinary `GET /hello` requests, each on a fresh connection, sent
    /// once the slow clients are connected.
    pub others: usize,
    /// An ordinary request not answered within this long counts as stuck.
    pub patience: Duration,
    /// Keep-alive connections that answer one request, sit idle for the
    /// whole `hold`, then must answer another on the same connection.
    pub idle: usize,
}

impl SlowSpec {
    /// `slow` clients at one line per second, held long enough for the head
    /// timeout to fire with room to spare; 20 ordinary requests that must be
    /// answered within 2 s; 5 idle keep-alive connections.
    pub fn new(slow: usize) -> Self {
        Self {
            slow,
            every: Duration::from_secs(1),
            hold: super::head_timeout::HEAD_TIMEOUT * 3 / 2 + Duration::from_secs(1),
            others: 20,
            patience: Duration::from_secs(2),
            idle: 5,
        }
    }
}

/// What the experiment saw.
#[derive(Debug, Clone, Default)]
pub struct SlowReport {
    pub slow: usize,
    /// Slow clients the server closed, and after how long (sorted).
    pub slow_closed_after: Vec<Duration>,
    pub slow_not_connected: usize,
    pub others: usize,
    /// Ordinary requests answered 200 within `patience`, and their latencies (sorted).
    pub others_answered: Vec<Duration>,
    pub idle: usize,
    /// Idle keep-alive connections that answered again on the same socket.
    pub idle_kept: usize,
}

// ANCHOR: run
/// Idle keep-alive clients first, then the slow clients, then ordinary
/// requests while the slow ones trickle; at the end, the idle clients ask
/// again on their old connections.
pub async fn run(addr: SocketAddr, spec: &SlowSpec) -> anyhow::Result<SlowReport> {
    let hello = RequestTemplate::new(addr, "/hello", None)?;
    let far = || Instant::now() + Duration::from_secs(3_600);
    let mut idle = Vec::with_capacity(spec.idle);
    for _ in 0..spec.idle {
        let mut client = Client::new(addr);
        let first = client.exchange(&hello, Instant::now() + spec.patience, far());
        anyhow::ensure!(
            matches!(first.await, Exchange::Answered(200)),
            "idle client's first request failed"
        );
        idle.push(client);
    }
    let slow: Vec<_> = (0..spec.slow)
        .map(|_| tokio::spawn(trickle(addr, spec.every, spec.hold)))
        .collect();
    tokio::time::sleep(spec.every + spec.every / 2).await; // all connected, some lines sent
    let others: Vec<_> = (0..spec.others)
        .map(|_| {
            let (hello, patience) = (hello.clone(), spec.patience);
            tokio::spawn(async move {
                let started = Instant::now();
                let mut client = Client::new(addr);
                let answer = client.exchange(&hello, started + patience, far()).await;
                matches!(answer, Exchange::Answered(200)).then(|| started.elapsed())
            })
        })
        .collect();
    let mut report = SlowReport {
        slow: spec.slow,
        others: spec.others,
        idle: spec.idle,
        ..SlowReport::default()
    };
    for other in others {
        report.others_answered.extend(other.await?);
    }
    for client in slow {
        match client.await? {
            Trickled::ClosedByServer(after) => report.slow_closed_after.push(after),
            Trickled::NotConnected => report.slow_not_connected += 1,
            Trickled::StillOpen => {}
        }
    }
    for mut client in idle {
        let again = client.exchange(&hello, Instant::now() + spec.patience, far());
        if matches!(again.await, Exchange::Answered(200)) && client.connects() == 1 {
            report.idle_kept += 1;
        }
    }
    report.others_answered.sort();
    report.slow_closed_after.sort();
    Ok(report)
}
// ANCHOR_END: run
