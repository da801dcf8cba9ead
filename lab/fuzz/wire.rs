//! One fuzz input on the wire: connect over loopback, send the bytes, close
//! our sending half, read every answer until the server closes, and judge
//! what came back.
//!
//! Every request says `Connection: close`, so a server that answers closes.
//! A request cut short (a `Content-Length` larger than the body, a header
//! with no blank line after it) would leave the server waiting for bytes that
//! never come, and the fuzzer would measure its own patience: after [`QUIET`]
//! of silence the client closes its sending half, every server then sees the
//! end of the stream, and must answer or close.
//!
//! Left out: TLS, HTTP/2, timing attacks (slow clients are another test).

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The most answer bytes kept per input; the rest is read and dropped.
const KEEP_BYTES: usize = 1 << 20;

/// Past its deadline an exchange keeps reading this many deadlines more, so
/// that an answer that is only slow (a server starved of cores, a queue
/// behind a blocked loop) is told from a hang: the first is reported late,
/// the second is what never answered within the whole wait.
pub const GRACE_DEADLINES: u32 = 2;

/// How long a server may stay silent before the client closes its sending
/// half (it is waiting for bytes the input never sends, or keeping an
/// answered connection alive).
pub const QUIET: Duration = Duration::from_millis(100);

/// How a generated input ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Send everything and read answers until the server closes; if it goes
    /// quiet for [`QUIET`] first, close our sending half and keep reading.
    HalfClose,
    /// Send (maybe part of) a request and close at once, reading nothing:
    /// the early disconnect.
    Abort,
}

/// What the connection did after the input was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The server closed cleanly (EOF).
    Closed,
    /// The server reset the connection (or refused it outright).
    Reset,
    /// Neither an answer's end nor a close within the deadline and the
    /// grace after it ([`GRACE_DEADLINES`]): a hang.
    TimedOut,
    /// We closed first (an [`Ending::Abort`] input).
    Aborted,
    /// Could not connect at all: the server is gone.
    NoServer(String),
}

/// The raw bytes a server sent back, and how the connection ended.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub bytes: Vec<u8>,
    pub end: End,
    /// Set when the connection ended (answered and closed, or reset) only
    /// after the deadline, in its grace: how long it took.
    pub late: Option<Duration>,
}

/// Sends `input` to `addr` and collects the answer bytes, within `deadline`.
/// `quiet` is how long the server may be silent before the half-close
/// ([`QUIET`] for fuzz inputs; a probe of a complete request waits it out).
pub fn exchange(
    addr: SocketAddr,
    input: &[u8],
    ending: Ending,
    quiet: Duration,
    deadline: Duration,
) -> Exchange {
    let started = Instant::now();
    let mut stream = match TcpStream::connect_timeout(&addr, deadline) {
        Ok(stream) => stream,
        Err(e) => {
            return Exchange {
                bytes: Vec::new(),
                end: End::NoServer(e.to_string()),
                late: None,
            };
        }
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(deadline));
    // A server may answer and close before reading everything (a 400 for a
    // bad first line, a 413): the write then fails, and the answer is still
    // there to read.
    let _ = stream.write_all(input);
    if ending == Ending::Abort {
        return Exchange {
            bytes: Vec::new(),
            end: End::Aborted,
            late: None,
        };
    }
    // Not half-closed at once: hyper (by default) drops a connection whose
    // client half-closed before the answer was written.
    let mut half_closed = false;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let hang = deadline * (1 + GRACE_DEADLINES);
    let end = loop {
        let left = hang.saturating_sub(started.elapsed());
        if left.is_zero() {
            break End::TimedOut;
        }
        let wait = if half_closed { left } else { left.min(quiet) };
        let _ = stream.set_read_timeout(Some(wait));
        match stream.read(&mut buf) {
            Ok(0) => break End::Closed,
            Ok(n) => {
                let room = KEEP_BYTES.saturating_sub(bytes.len());
                bytes.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if half_closed {
                    break End::TimedOut;
                }
                let _ = stream.shutdown(Shutdown::Write);
                half_closed = true;
            }
            Err(_) => break End::Reset,
        }
    };
    let took = started.elapsed();
    let late = (end != End::TimedOut && took > deadline).then_some(took);
    Exchange { bytes, end, late }
}

/// One HTTP answer as the fuzzer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The body is a JSON document (an object or array): the app answered.
    pub json: bool,
    /// The status line named an HTTP version other than 1.x (tiny_http
    /// answers `HTTP/0.9 200 OK` to an HTTP/0.9 request line).
    pub other_version: bool,
}

/// Splits the bytes of an exchange into answers. `Err` if they are not
/// HTTP/1.x responses, or one is cut short. Interim `1xx` answers (`100
/// Continue`) are skipped.
pub fn parse_answers(bytes: &[u8]) -> Result<Vec<Answer>, String> {
    let mut owned = bytes.to_vec();
    let mut pos = 0;
    let mut answers = Vec::new();
    while pos < owned.len() {
        // httparse reads only HTTP/1.x status lines: read another version
        // (`HTTP/X.Y`) as 1.1 and remember it.
        let other_version = owned.len() >= pos + 8
            && owned[pos..].starts_with(b"HTTP/")
            && !matches!(&owned[pos + 5..pos + 8], b"1.1" | b"1.0");
        if other_version {
            owned[pos + 5..pos + 8].copy_from_slice(b"1.1");
        }
        let bytes = &owned[pos..];
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let head = match response.parse(bytes) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Err("an answer's head is cut short".into()),
            Err(e) => return Err(format!("not an HTTP answer: {e}")),
        };
        let status = response.code.unwrap_or(0);
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
        };
        let rest = &bytes[head..];
        if (100..200).contains(&status) {
            pos += head;
            continue;
        }
        let (body, used) = if header("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
            dechunk(rest)?
        } else if let Some(length) = header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| format!("bad content-length {length:?} in an answer"))?;
            if rest.len() < length {
                return Err(format!(
                    "answer body cut short: {} of {length} bytes",
                    rest.len()
                ));
            }
            (rest[..length].to_vec(), length)
        } else {
            (rest.to_vec(), rest.len()) // the body runs to the close
        };
        let json = serde_json::from_slice::<serde_json::Value>(&body)
            .is_ok_and(|v| v.is_object() || v.is_array());
        answers.push(Answer {
            status,
            json,
            other_version,
        });
        pos += head + used;
    }
    Ok(answers)
}

/// Decodes a chunked body; returns it and how many bytes it took.
fn dechunk(mut bytes: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let total = bytes.len();
    let mut body = Vec::new();
    loop {
        let line_end = find_crlf(bytes).ok_or("chunk size line cut short")?;
        let size_text = String::from_utf8_lossy(&bytes[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            // Trailers (none expected), then the blank line.
            let end = find_crlf(bytes).ok_or("chunked body's end cut short")?;
            bytes = &bytes[end + 2..];
            return Ok((body, total - bytes.len()));
        }
        if bytes.len() < size + 2 {
            return Err("chunk cut short".into());
        }
        body.extend_from_slice(&bytes[..size]);
        bytes = &bytes[size + 2..];
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_split_and_judged() {
        let bytes = b"HTTP/1.1 100 Continue\r\n\r\n\
            HTTP/1.1 404 Not Found\r\ncontent-length: 13\r\n\r\n{\"error\":\"x\"}\
            HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n\
            HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        let answers = parse_answers(bytes).unwrap();
        let got: Vec<(u16, bool)> = answers.iter().map(|a| (a.status, a.json)).collect();
        assert_eq!(got, [(404, true), (400, false), (200, true)]);
        let old = parse_answers(b"HTTP/0.9 200 OK\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert!(old[0].other_version && old[0].status == 200);
        assert!(parse_answers(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n{}").is_err());
        assert!(parse_answers(b"garbage\r\n\r\n").is_err());
    }
}
