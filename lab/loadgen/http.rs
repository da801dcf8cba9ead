//! One keep-alive HTTP/1.1 connection, as the load generator uses it: hyper's
//! low-level client (`hyper::client::conn::http1`) over a tokio `TcpStream`.
//!
//! Everything here is about doing one request/answer exchange cheaply and
//! safely: the connection is driven in the caller's own task (no extra task
//! and no cross-thread wake-up per request), the request is cloned from a
//! template, the body is read and dropped frame by frame, and one reusable
//! timer bounds each exchange. Left out: pipelining, HTTP/2, TLS.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// The one request a run sends over and over, built once.
#[derive(Debug, Clone)]
pub(crate) struct RequestTemplate {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl RequestTemplate {
    pub(crate) fn new(addr: SocketAddr, path: &str, body: Option<&str>) -> anyhow::Result<Self> {
        anyhow::ensure!(
            path.starts_with('/'),
            "the path must start with '/', got {path:?}"
        );
        let uri: Uri = path
            .parse()
            .map_err(|e| anyhow::anyhow!("not a valid request path {path:?}: {e}"))?;
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_str(&addr.to_string())?);
        let (method, body) = match body {
            None => (Method::GET, Bytes::new()),
            Some(text) => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                (Method::POST, Bytes::from(text.to_owned()))
            }
        };
        Ok(Self {
            method,
            uri,
            headers,
            body,
        })
    }

    fn build(&self) -> Request<Full<Bytes>> {
        // Cloning `Bytes`, `Uri` and a two-entry `HeaderMap` is a few
        // reference-count bumps and two small allocations: cheaper than
        // parsing the request again each time.
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// Why an exchange produced no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The TCP connection (or the HTTP handshake) could not be made.
    Connect,
    /// No complete answer before the per-request timeout.
    Timeout,
    /// The connection broke in the middle of the exchange.
    Broken,
}

/// How an exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exchange {
    /// A full answer with this status code (the body was read to the end).
    Answered(u16),
    Failed(Failure),
    /// The run ended first: nothing to count.
    Cut,
}

type Conn = Connection<TokioIo<TcpStream>, Full<Bytes>>;

struct Live {
    sender: SendRequest<Full<Bytes>>,
    connection: Pin<Box<Conn>>,
    /// The connection future has completed (the server closed the socket);
    /// it must not be polled again.
    finished: bool,
}

/// A lazily (re)connected keep-alive connection to one address.
pub(crate) struct Client {
    addr: SocketAddr,
    live: Option<Live>,
    timer: Pin<Box<Sleep>>,
    /// TCP connections opened so far (1 if keep-alive held all run).
    pub(crate) connects: u64,
}

impl Client {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            live: None,
            timer: Box::pin(tokio::time::sleep_until(Instant::now())),
            connects: 0,
        }
    }

    /// Sends one request and reads the whole answer. `timeout_at` fails the
    /// request (and drops the connection, whose state is then unknown);
    /// `end` cuts it without counting.
    pub(crate) async fn exchange(
        &mut self,
        template: &RequestTemplate,
        timeout_at: Instant,
        end: Instant,
    ) -> Exchange {
        let limit = timeout_at.min(end);
        let on_limit = |at: Instant| {
            if at >= end {
                Exchange::Cut
            } else {
                Exchange::Failed(Failure::Timeout)
            }
        };
        // A server may close a keep-alive connection between requests (an
        // idle timeout, `Connection: close`): that is not a failed request,
        // so reconnect quietly, once.
        for _attempt in 0..2 {
            if Instant::now() >= limit {
                return on_limit(limit);
            }
            if self
                .live
                .as_ref()
                .is_some_and(|l| l.finished || l.sender.is_closed())
            {
                self.live = None;
            }
            if self.live.is_none() {
                match tokio::time::timeout_at(limit, connect(self.addr)).await {
                    Ok(Ok(live)) => {
                        self.connects += 1;
                        self.live = Some(live);
                    }
                    Ok(Err(_)) => return Exchange::Failed(Failure::Connect),
                    Err(_) => return on_limit(limit),
                }
            }
            let Some(live) = self.live.as_mut() else {
                return Exchange::Failed(Failure::Connect);
            };
            if self.timer.deadline() != limit {
                // Usually `limit` is the run's end, the same as last time.
                self.timer.as_mut().reset(limit);
            }
            let outcome = drive(live, &mut self.timer, template.build()).await;
            match outcome {
                Driven::Answered(status) => return Exchange::Answered(status),
                Driven::ClosedWhileIdle => continue,
                Driven::Broken => {
                    self.live = None;
                    return Exchange::Failed(Failure::Broken);
                }
                Driven::TimedOut => {
                    self.live = None;
                    return on_limit(limit);
                }
            }
        }
        self.live = None;
        Exchange::Failed(Failure::Broken)
    }
}

async fn connect(addr: SocketAddr) -> anyhow::Result<Live> {
    let stream = TcpStream::connect(addr).await?;
    // Small requests must leave at once, not wait for Nagle's algorithm.
    stream.set_nodelay(true)?;
    // `writev(false)`: hyper copies the small request into one buffer and
    // sends it with one `write`, a little cheaper than a vectored write.
    let (sender, connection) = hyper::client::conn::http1::Builder::new()
        .writev(false)
        .handshake(TokioIo::new(stream))
        .await?;
    Ok(Live {
        sender,
        connection: Box::pin(connection),
        finished: false,
    })
}

enum Driven {
    Answered(u16),
    /// The server had closed the connection before this request was handed
    /// to it: nothing was sent.
    ClosedWhileIdle,
    Broken,
    TimedOut,
}

/// Polls the connection, the request and the timer together in one task.
async fn drive(
    live: &mut Live,
    timer: &mut Pin<Box<Sleep>>,
    request: Request<Full<Bytes>>,
) -> Driven {
    let Live {
        sender,
        connection,
        finished,
    } = live;
    let send = async move {
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            frame?;
        }
        Ok::<u16, hyper::Error>(status)
    };
    let mut send = std::pin::pin!(send);
    let mut first_poll = true;
    std::future::poll_fn(|cx| {
        // The connection does the socket I/O and hands the answer to `send`,
        // so poll it first; if it finished, `send` gets one last chance to
        // pick up what it delivered.
        if !*finished && connection.as_mut().poll(cx).is_ready() {
            *finished = true;
            if first_poll {
                return Poll::Ready(Driven::ClosedWhileIdle);
            }
        }
        first_poll = false;
        match send.as_mut().poll(cx) {
            Poll::Ready(Ok(status)) => return Poll::Ready(Driven::Answered(status)),
            Poll::Ready(Err(_)) => return Poll::Ready(Driven::Broken),
            Poll::Pending if *finished => return Poll::Ready(Driven::Broken),
            Poll::Pending => {}
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Driven::TimedOut);
        }
        Poll::Pending
    })
    .await
}
