//! A header-read timeout that times *partial request heads*, not idleness:
//! a client that takes longer than [`HEAD_TIMEOUT`] to send a request's
//! head (from the connection's accept, or from the first byte of a later
//! request) is disconnected; an idle keep-alive connection between two
//! requests is left alone, however long it sleeps. nginx calls this
//! `client_header_timeout` (and keeps `keepalive_timeout` separate).
//!
//! Why not hyper's own `http1::Builder::header_read_timeout`: hyper starts
//! that timer whenever it *waits* for a head, which includes the idle time
//! of a keep-alive connection, so it closes idle connections too. Here the
//! connection's [`HeadClock`] starts when bytes of a new head arrive and
//! stops when the service is called with the parsed request.
//!
//! Left out: a 408 answer (the connection is simply closed, as hyper's own
//! timeout does) and timeouts on slow *bodies* (the handler reads those).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// How long a client may take to send a request head. The event-loop
/// models use it (axum through [`HeadClock`], actix-web through its
/// `client_request_timeout`).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Clock {
    /// When the head being read began: accept, or its first byte.
    head_started: Option<Instant>,
    /// A request is being served (its head is complete).
    in_request: bool,
}

/// One connection's clock for the head it is reading, and a bell that rings
/// when a new head starts (so an idle connection costs no timer wake-ups).
#[derive(Debug, Clone)]
pub struct HeadClock(Arc<(Mutex<Clock>, Notify)>);

impl HeadClock {
    /// A clock for a connection just accepted: its first head starts now
    /// (a client that connects and sends nothing is timed too).
    pub fn accepted() -> Self {
        let clock = Clock {
            head_started: Some(Instant::now()),
            in_request: false,
        };
        Self(Arc::new((Mutex::new(clock), Notify::new())))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Clock) -> T) -> T {
        f(&mut self.0.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Bytes arrived: if no request is being served and no head is being
    /// timed, they begin a new head.
    fn bytes_arrived(&self) {
        let started = self.with(|c| {
            let starts = !c.in_request && c.head_started.is_none();
            if starts {
                c.head_started = Some(Instant::now());
            }
            starts
        });
        if started {
            self.0.1.notify_one(); // wakes `expired`, or leaves it a permit
        }
    }

    /// The head is complete: the service was called with the request.
    pub fn request_began(&self) {
        self.with(|c| {
            c.in_request = true;
            c.head_started = None;
        });
    }

    /// The response is ready; from now on the connection may sit idle.
    pub fn request_ended(&self) {
        self.with(|c| c.in_request = false);
    }

    /// How long the head being read has taken so far (`None`: idle or
    /// serving a request).
    pub fn head_age(&self) -> Option<Duration> {
        self.with(|c| c.head_started.map(|t| t.elapsed()))
    }

    /// Resolves once a head has taken longer than `timeout`. Sleeps until
    /// the current head's deadline, or, while no head is being read, until
    /// one starts.
    pub async fn expired(&self, timeout: Duration) {
        loop {
            match self.head_age() {
                Some(age) if age >= timeout => return,
                Some(age) => tokio::time::sleep(timeout - age).await,
                None => self.0.1.notified().await,
            }
        }
    }
}

/// A stream that tells its [`HeadClock`] when bytes arrive.
pub struct Timed<S> {
    inner: S,
    clock: HeadClock,
}

impl<S> Timed<S> {
    pub fn new(inner: S, clock: HeadClock) -> Self {
        Self { inner, clock }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Timed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.clock.bytes_arrived();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Timed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_times_heads_not_requests_or_idleness() {
        let clock = HeadClock::accepted();
        assert!(
            clock.head_age().is_some(),
            "a fresh connection's head is timed"
        );
        clock.request_began();
        assert_eq!(clock.head_age(), None);
        clock.bytes_arrived(); // a body, read while the request is served
        assert_eq!(clock.head_age(), None);
        clock.request_ended();
        assert_eq!(clock.head_age(), None, "idle keep-alive is not timed");
        clock.bytes_arrived(); // the next request's first byte
        assert!(clock.head_age().is_some());
    }

    #[tokio::test]
    async fn expiry_waits_for_a_head_then_for_its_deadline() {
        let timeout = Duration::from_millis(100);
        let clock = HeadClock::accepted();
        clock.request_began();
        clock.request_ended(); // idle from here
        let expired = tokio::spawn({
            let clock = clock.clone();
            async move { clock.expired(timeout).await }
        });
        tokio::time::sleep(timeout * 5).await;
        assert!(!expired.is_finished(), "an idle connection expired");
        clock.bytes_arrived();
        let fired = tokio::time::timeout(timeout * 20, expired).await;
        assert!(fired.is_ok(), "a head did not expire within 20 timeouts");
    }
}
