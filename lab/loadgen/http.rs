//! One keep-alive HTTP/1.1 connection, as the load generator uses it: a
//! minimal client on a tokio `TcpStream`, in the spirit of `wrk`.
//!
//! A general client (hyper, reqwest) builds a request object, a header map
//! and channels for every exchange; here the one request a run sends is
//! serialized to bytes once and written with a single `write`, and answers
//! are parsed with `httparse` (the parser hyper itself uses) straight from a
//! read buffer the connection keeps, so a steady run allocates nothing per
//! request. Bodies are framed by `Content-Length`, by
//! `Transfer-Encoding: chunked` (size lines and trailers parsed by
//! `httparse`, data skipped) or by the server closing the connection; they
//! are counted past, never kept.
//! `Connection: close` makes the next exchange reconnect.
//!
//! Left out: pipelining, HTTP/2, TLS, 1xx interim answers (an answer we
//! cannot frame counts as a broken connection), keeping bodies.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::Poll;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// Headers beyond this many make an answer malformed (axum sends 3).
const MAX_HEADERS: usize = 64;
/// An answer's status line and headers must fit in this many bytes.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The read buffer's starting size: any small answer fits in one read.
const READ_BUFFER: usize = 16 * 1024;
/// Grow the buffer before a read when less than this is free.
const MIN_READ: usize = 1024;

/// The one request a run sends over and over, serialized once.
#[derive(Debug, Clone)]
pub(crate) struct RequestTemplate {
    bytes: Box<[u8]>,
}

impl RequestTemplate {
    /// `GET path`, or `POST path` with a JSON `body`, to `addr`.
    pub(crate) fn new(addr: SocketAddr, path: &str, body: Option<&str>) -> anyhow::Result<Self> {
        anyhow::ensure!(
            path.starts_with('/'),
            "the path must start with '/', got {path:?}"
        );
        // Spaces or control characters would break the request line.
        anyhow::ensure!(
            path.bytes().all(|b| b.is_ascii_graphic()),
            "the path must be printable ASCII without spaces (percent-encode the rest), got {path:?}"
        );
        // `SocketAddr` prints IPv6 as `[::1]:3000`, the form `Host` wants.
        let text = match body {
            None => format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
            Some(json) => format!(
                "POST {path} HTTP/1.1\r\nHost: {addr}\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\n\r\n{json}",
                json.len()
            ),
        };
        Ok(Self {
            bytes: text.into_bytes().into_boxed_slice(),
        })
    }
}

/// Why an exchange produced no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The TCP connection could not be made.
    Connect,
    /// No complete answer before the per-request timeout.
    Timeout,
    /// The connection broke in the middle of the exchange, or the answer
    /// was not HTTP/1.x we can frame.
    Broken,
}

/// How an exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exchange {
    /// A full answer with this status code (the body was read to the end).
    Answered(u16),
    Failed(Failure),
    /// The run ended first: the request was still in flight.
    Cut,
}

/// A lazily (re)connected keep-alive connection to one address.
pub(crate) struct Client {
    wire: Wire,
    /// Bounds each exchange; reset only when its deadline changes (usually
    /// it is the run's end, the same every time).
    timer: Pin<Box<Sleep>>,
}

/// The socket side of a [`Client`], apart from its timer so both can be
/// borrowed at once.
struct Wire {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    /// `stream` has answered before (so an idle close is possible).
    reused: bool,
    /// Kept across exchanges so that reading allocates nothing.
    buffer: Vec<u8>,
    connects: u64,
}

impl Client {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Self {
            wire: Wire {
                addr,
                stream: None,
                reused: false,
                buffer: Vec::with_capacity(READ_BUFFER),
                connects: 0,
            },
            timer: Box::pin(tokio::time::sleep_until(Instant::now())),
        }
    }

    /// TCP connections opened so far (1 if keep-alive held all run).
    pub(crate) fn connects(&self) -> u64 {
        self.wire.connects
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
        // Moving a timer is a trip into tokio's timer wheel, so it is only
        // moved earlier here; if it fires before `limit` (it was set for an
        // earlier request), `within` moves it on then.
        if self.timer.deadline() > limit || self.timer.is_elapsed() {
            self.timer.as_mut().reset(limit);
        }
        // A server may close a keep-alive connection between requests (an
        // idle timeout): that is not a failed request, so reconnect quietly,
        // once.
        for _attempt in 0..2 {
            let attempt = self.wire.attempt(&template.bytes);
            match within(&mut self.timer, limit, attempt).await {
                Some(Attempt::Answered(status)) => return Exchange::Answered(status),
                Some(Attempt::ConnectFailed) => return Exchange::Failed(Failure::Connect),
                Some(Attempt::ClosedWhileIdle) => continue,
                Some(Attempt::Broken) => return Exchange::Failed(Failure::Broken),
                None => {
                    self.wire.stream = None;
                    return if limit >= end {
                        Exchange::Cut
                    } else {
                        Exchange::Failed(Failure::Timeout)
                    };
                }
            }
        }
        Exchange::Failed(Failure::Broken)
    }
}

/// Runs `work` until it finishes (`Some`) or `limit` passes (`None`), in
/// the caller's task: no spawn, no channel. `timer` is due at or before
/// `limit`.
async fn within<F: Future>(
    timer: &mut Pin<Box<Sleep>>,
    limit: Instant,
    work: F,
) -> Option<F::Output> {
    let mut work = pin!(work);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(done) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(done));
        }
        while timer.as_mut().poll(cx).is_ready() {
            if timer.deadline() >= limit {
                return Poll::Ready(None);
            }
            // Set for an earlier request: wait on for this one's limit.
            timer.as_mut().reset(limit);
        }
        Poll::Pending
    })
    .await
}

enum Attempt {
    Answered(u16),
    ConnectFailed,
    /// The server had closed the reused connection before we sent: nothing
    /// reached it, so trying again on a new connection is safe.
    ClosedWhileIdle,
    Broken,
}

impl Wire {
    /// One try: (re)connect if needed, write the request, read the answer.
    async fn attempt(&mut self, request: &[u8]) -> Attempt {
        if self.stream.is_none() {
            match connect(self.addr).await {
                Ok(stream) => {
                    self.connects += 1;
                    self.stream = Some(stream);
                    self.reused = false;
                }
                Err(_) => return Attempt::ConnectFailed,
            }
        }
        let Some(stream) = self.stream.as_mut() else {
            return Attempt::ConnectFailed;
        };
        if self.reused && closed_while_idle(stream).await {
            self.stream = None;
            return Attempt::ClosedWhileIdle;
        }
        if stream.write_all(request).await.is_err() {
            self.stream = None;
            return if self.reused {
                Attempt::ClosedWhileIdle
            } else {
                Attempt::Broken
            };
        }
        match read_answer(stream, &mut self.buffer).await {
            Ok(answer) => {
                if answer.keep_alive {
                    self.reused = true;
                } else {
                    self.stream = None;
                }
                Attempt::Answered(answer.status)
            }
            Err(_) => {
                self.stream = None;
                Attempt::Broken
            }
        }
    }
}

async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    // Small requests must leave at once, not wait for Nagle's algorithm.
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Did the server close this idle connection (or send something unasked)?
/// Costs no system call unless tokio already saw the socket turn readable,
/// which an idle keep-alive connection never does.
async fn closed_while_idle(stream: &TcpStream) -> bool {
    let readable = std::future::poll_fn(|cx| Poll::Ready(stream.poll_read_ready(cx))).await;
    match readable {
        Poll::Pending => false,
        Poll::Ready(Err(_)) => true,
        // Possibly a stale readiness flag: look without waiting.
        Poll::Ready(Ok(())) => !matches!(
            stream.try_read(&mut [0u8; 1]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
        ),
    }
}

/// What the exchange needs from an answer.
struct Answer {
    status: u16,
    /// The connection can carry the next request.
    keep_alive: bool,
}

/// How the body after the head is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// Why an answer could not be read.
#[derive(Debug)]
enum ReadError {
    Io,
    /// The server closed the connection before the answer was complete.
    Eof,
    Malformed,
}

impl From<std::io::Error> for ReadError {
    fn from(_: std::io::Error) -> Self {
        ReadError::Io
    }
}

/// Reads more bytes onto the end of `buffer`; EOF is an error here.
async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<usize, ReadError> {
    if buffer.capacity() - buffer.len() < MIN_READ {
        buffer.reserve(READ_BUFFER);
    }
    match stream.read_buf(buffer).await? {
        0 => Err(ReadError::Eof),
        n => Ok(n),
    }
}

/// Reads one whole answer: parses the head, then reads past the body.
async fn read_answer(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<Answer, ReadError> {
    buffer.clear();
    let (head_len, head) = loop {
        if let Some(parsed) = parse_head(buffer)? {
            break parsed;
        }
        if buffer.len() >= MAX_HEAD_BYTES {
            return Err(ReadError::Malformed);
        }
        read_more(stream, buffer).await?;
    };
    let mut keep_alive = head.keep_alive;
    let extra = match head.framing {
        Framing::Empty => buffer.len() > head_len,
        Framing::Length(length) => {
            let mut left = length;
            let mut have = (buffer.len() - head_len) as u64;
            while have < left {
                left -= have;
                buffer.clear();
                have = read_more(stream, buffer).await? as u64;
            }
            have > left
        }
        Framing::Chunked => {
            let mut body = ChunkedBody::Size;
            let mut at = head_len;
            loop {
                at += body.skip(&buffer[at..])?;
                if body.is_done() {
                    break at < buffer.len();
                }
                // Keep only the unused tail (part of a size or trailer
                // line) for the next read to complete.
                buffer.drain(..at);
                at = 0;
                if buffer.len() >= MAX_HEAD_BYTES {
                    return Err(ReadError::Malformed);
                }
                read_more(stream, buffer).await?;
            }
        }
        Framing::UntilClose => {
            keep_alive = false;
            loop {
                buffer.clear();
                match read_more(stream, buffer).await {
                    Ok(_) => {}
                    Err(ReadError::Eof) => break false,
                    Err(other) => return Err(other),
                }
            }
        }
    };
    // Bytes past the answer were never asked for (we do not pipeline):
    // the connection's state is unclear, so start a new one next time.
    Ok(Answer {
        status: head.status,
        keep_alive: keep_alive && !extra,
    })
}

/// The parts of a parsed head the exchange needs.
struct Head {
    status: u16,
    framing: Framing,
    keep_alive: bool,
}

/// Parses the status line and headers at the start of `bytes`: `None` while
/// they are incomplete, else their length and what they say.
fn parse_head(bytes: &[u8]) -> Result<Option<(usize, Head)>, ReadError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    // Left uninitialized: httparse fills what it uses (no 2 KiB memset).
    let mut headers = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    let head_len =
        match config.parse_response_with_uninit_headers(&mut response, bytes, &mut headers) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(ReadError::Malformed),
        };
    let status = response.code.ok_or(ReadError::Malformed)?;
    // HTTP/1.1 keeps the connection unless told otherwise; 1.0 the reverse.
    let mut keep_alive = response.version == Some(1);
    let mut length = None;
    let mut chunked = false;
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let value = parse_decimal(header.value).ok_or(ReadError::Malformed)?;
            if length.is_some_and(|earlier| earlier != value) {
                return Err(ReadError::Malformed);
            }
            length = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked must be the last coding applied.
            chunked = tokens(header.value)
                .last()
                .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
            if !chunked {
                return Err(ReadError::Malformed);
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for token in tokens(header.value) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && response.version == Some(0) {
                    keep_alive = true;
                }
            }
        }
    }
    // 1xx interim answers would need a second head; the book's servers
    // never send them.
    if status < 200 {
        return Err(ReadError::Malformed);
    }
    let framing = if status == 204 || status == 304 {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else {
        match length {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    };
    Ok(Some((
        head_len,
        Head {
            status,
            framing,
            keep_alive,
        },
    )))
}

/// The comma-separated, trimmed tokens of a header value.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// A non-negative decimal, as `Content-Length` carries it.
fn parse_decimal(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = (b as char).to_digit(10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Walks a `Transfer-Encoding: chunked` body without keeping it:
/// `SIZE[;ext]\r\n DATA \r\n` ... `0\r\n [trailers] \r\n`. Size lines are
/// parsed by `httparse::parse_chunk_size` and the trailer fields by
/// `httparse::parse_headers`; only the data is skipped here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkedBody {
    /// At a size line.
    Size,
    /// Skipping this many data bytes.
    Data(u64),
    /// Expecting the `\r\n` after a chunk's data.
    DataEnd,
    /// After the last (empty) chunk: trailer fields, then an empty line.
    Trailers,
    Done,
}

impl ChunkedBody {
    fn is_done(&self) -> bool {
        *self == ChunkedBody::Done
    }

    /// Consumes the body's bytes at the start of `bytes` and returns how
    /// many it used. Lines are consumed whole: a line cut short by the end
    /// of `bytes` is left for the caller to complete with the next read.
    fn skip(&mut self, bytes: &[u8]) -> Result<usize, ReadError> {
        use ChunkedBody::*;
        let mut at = 0;
        loop {
            let rest = &bytes[at..];
            match *self {
                Done => return Ok(at),
                Data(_) | Size | DataEnd | Trailers if rest.is_empty() => return Ok(at),
                Data(left) => {
                    // The bulk of the body: skip it without looking at it.
                    let step = left.min(rest.len() as u64);
                    at += step as usize;
                    *self = if step == left {
                        DataEnd
                    } else {
                        Data(left - step)
                    };
                }
                Size => {
                    // httparse reads an empty line as size 0: insist on a digit.
                    if !rest[0].is_ascii_hexdigit() {
                        return Err(ReadError::Malformed);
                    }
                    match httparse::parse_chunk_size(rest) {
                        Ok(httparse::Status::Complete((used, size))) => {
                            at += used;
                            *self = if size == 0 { Trailers } else { Data(size) };
                        }
                        Ok(httparse::Status::Partial) => return Ok(at),
                        Err(_) => return Err(ReadError::Malformed),
                    }
                }
                DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        at += 2;
                        *self = Size;
                    }
                    [b'\r'] => return Ok(at),
                    _ => return Err(ReadError::Malformed),
                },
                Trailers => {
                    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    match httparse::parse_headers(rest, &mut fields) {
                        Ok(httparse::Status::Complete((used, _))) => {
                            at += used;
                            *self = Done;
                        }
                        Ok(httparse::Status::Partial) => return Ok(at),
                        Err(_) => return Err(ReadError::Malformed),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `body` in pieces of `step` bytes, keeping what `skip` left
    /// unused for the next piece (as `read_answer` does); returns the bytes
    /// used.
    fn skip_in_steps(body: &[u8], step: usize) -> Result<usize, ReadError> {
        let mut chunks = ChunkedBody::Size;
        let mut pending = Vec::new();
        let mut used = 0;
        for piece in body.chunks(step) {
            pending.extend_from_slice(piece);
            let n = chunks.skip(&pending)?;
            pending.drain(..n);
            used += n;
            if chunks.is_done() {
                return Ok(used);
            }
        }
        Err(ReadError::Eof)
    }

    #[test]
    fn chunked_bodies_are_walked_in_any_split() {
        let body = b"5\r\nhello\r\n1a;name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nNEXT";
        let end = body.len() - 4;
        for step in 1..=body.len() {
            assert_eq!(skip_in_steps(body, step).unwrap(), end, "step {step}");
        }
        let trailers = b"3\r\nabc\r\n0\r\nx-check: 1\r\nx-more: 2\r\n\r\n";
        for step in 1..=trailers.len() {
            assert_eq!(skip_in_steps(trailers, step).unwrap(), trailers.len());
        }
    }

    #[test]
    fn malformed_chunked_bodies_are_refused() {
        for bad in [
            &b"zz\r\n"[..],
            b"\r\n",
            b"3\r\nabcX\r\n",
            b"1234567890abcdef0\r\n",
            b"3\nabc\n0\n\n",
        ] {
            assert!(skip_in_steps(bad, 1).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn heads_are_framed_by_length_chunks_or_close() {
        let framing = |head: &str| {
            parse_head(head.as_bytes())
                .ok()
                .flatten()
                .map(|(_, h)| (h.status, h.framing, h.keep_alive))
        };
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"),
            Some((200, Framing::Length(2), true))
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"),
            Some((200, Framing::Chunked, false))
        );
        assert_eq!(
            framing("HTTP/1.0 200 OK\r\n\r\n"),
            Some((200, Framing::UntilClose, false))
        );
        assert_eq!(
            framing("HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n"),
            Some((204, Framing::Empty, true))
        );
        assert_eq!(framing("HTTP/1.1 200 OK\r\ncontent-le"), None);
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 100 Continue\r\n\r\n").is_err());
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }

    #[test]
    fn the_request_is_serialized_once_and_checked() {
        let addr: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let get = RequestTemplate::new(addr, "/hello?x=1", None).unwrap();
        assert_eq!(
            &*get.bytes,
            b"GET /hello?x=1 HTTP/1.1\r\nHost: 127.0.0.1:3000\r\n\r\n"
        );
        let post = RequestTemplate::new(addr, "/items", Some("{\"a\":1}")).unwrap();
        assert!(post.bytes.ends_with(b"content-length: 7\r\n\r\n{\"a\":1}"));
        assert!(RequestTemplate::new(addr, "no-slash", None).is_err());
        assert!(RequestTemplate::new(addr, "/a b", None).is_err());
        assert!(RequestTemplate::new(addr, "/a\r\nX: y", None).is_err());
    }
}
