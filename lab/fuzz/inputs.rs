//! The fuzzer's inputs: proptest strategies that start from a good request
//! of one endpoint family and break it in one way per [`InputClass`].
//!
//! Every input stays cheap for the server: the waits and CPU bursts a good
//! request asks for are tiny (`/wait?ms=0..=2`, `/cpu?us=0..=500`), so the
//! fuzzer measures how a server handles bad bytes, not how long it sleeps.
//! Emails come from a pool of 64, so most writes are duplicates (409) and
//! the database stays small. Left out: HEAD (its answers have no body, which
//! the answer parser would need to know), TLS, HTTP/2 frames.

use proptest::prelude::*;
use proptest::sample::select;

use super::wire::Ending;

type S<T> = BoxedStrategy<T>;

/// The ways an input is broken; the fuzzer reports its counts by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InputClass {
    /// Malformed request lines and methods, odd versions and line endings.
    RequestLine,
    /// Missing, duplicate, malformed, huge and too many headers.
    Headers,
    /// Bad, huge, negative, duplicate or lying `Content-Length`.
    ContentLength,
    /// Bad `Transfer-Encoding: chunked` bodies.
    Chunking,
    /// Truncated, oversized, deeply nested and wrongly typed JSON.
    Json,
    /// Bytes that are not UTF-8 in the path, query, headers or body.
    NonUtf8,
    /// Bad query strings and path parameters.
    Query,
    /// A request followed by more requests or garbage on one connection.
    Pipelined,
    /// The client goes away mid-request or before reading the answer.
    EarlyDisconnect,
}

impl InputClass {
    pub const ALL: [InputClass; 9] = [
        InputClass::RequestLine,
        InputClass::Headers,
        InputClass::ContentLength,
        InputClass::Chunking,
        InputClass::Json,
        InputClass::NonUtf8,
        InputClass::Query,
        InputClass::Pipelined,
        InputClass::EarlyDisconnect,
    ];

    pub fn name(self) -> &'static str {
        match self {
            InputClass::RequestLine => "request line",
            InputClass::Headers => "headers",
            InputClass::ContentLength => "content-length",
            InputClass::Chunking => "chunking",
            InputClass::Json => "json",
            InputClass::NonUtf8 => "non-utf-8",
            InputClass::Query => "query/params",
            InputClass::Pipelined => "pipelined",
            InputClass::EarlyDisconnect => "early disconnect",
        }
    }
}

/// What a good request of a family carries in its target and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `GET path`, nothing else.
    Plain,
    /// `GET path?name=N` with N in `0..=max_good` (kept tiny: a wait or a burst).
    Param { name: &'static str, max_good: u64 },
    /// `GET /users/{id}`.
    UserId,
    /// `GET path?name=TEXT` with a short word.
    Text { name: &'static str },
    /// `GET path?hold=true|false`.
    Hold,
    /// `POST path` with `{"email": ...}`.
    Email,
    /// `POST path` with `{"emails": [...]}`.
    Batch,
}

/// An endpoint family: the routes of one handler, by method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub shape: Shape,
}

/// The chapter 3–4 API (`lab::api`): five families.
pub const API_FAMILIES: [Family; 5] = [
    Family {
        name: "GET /hello",
        method: "GET",
        path: "/hello",
        shape: Shape::Plain,
    },
    Family {
        name: "GET /wait",
        method: "GET",
        path: "/wait",
        shape: Shape::Param {
            name: "ms",
            max_good: 2,
        },
    },
    Family {
        name: "GET /cpu",
        method: "GET",
        path: "/cpu",
        shape: Shape::Param {
            name: "us",
            max_good: 500,
        },
    },
    Family {
        name: "GET /users/{id}",
        method: "GET",
        path: "/users/",
        shape: Shape::UserId,
    },
    Family {
        name: "POST /users",
        method: "POST",
        path: "/users",
        shape: Shape::Email,
    },
];

/// The chapter 5 lifespan app (`lab::lifespan`): four families.
pub static LIFESPAN_FAMILIES: [Family; 4] = [
    Family {
        name: "POST /users",
        method: "POST",
        path: "/users",
        shape: Shape::Email,
    },
    Family {
        name: "POST /users/batch",
        method: "POST",
        path: "/users/batch",
        shape: Shape::Batch,
    },
    Family {
        name: "GET /users/export",
        method: "GET",
        path: "/users/export",
        shape: Shape::Hold,
    },
    Family {
        name: "GET /model",
        method: "GET",
        path: "/model",
        shape: Shape::Text { name: "text" },
    },
];

/// One generated input: the bytes to send and how the client ends.
#[derive(Debug, Clone)]
pub struct Input {
    pub bytes: Vec<u8>,
    pub ending: Ending,
    /// The request line names an HTTP version other than 1.0 and 1.1, so a
    /// `505 HTTP Version Not Supported` is a correct answer.
    pub odd_version: bool,
}

/// A request as parts, so each class can break one part.
#[derive(Debug, Clone)]
struct Request {
    method: Vec<u8>,
    target: Vec<u8>,
    version: String,
    separator: &'static str,
    eol: &'static str,
    /// Header lines without their line ending.
    headers: Vec<Vec<u8>>,
    body: Vec<u8>,
}

impl Request {
    fn new(method: &str, target: String, body: Vec<u8>) -> Request {
        // `Connection: close`: the server closes once it has answered, so
        // the client knows at once that nothing more is coming.
        let mut headers = vec![b"Host: 127.0.0.1".to_vec(), b"Connection: close".to_vec()];
        if !body.is_empty() {
            headers.push(b"Content-Type: application/json".to_vec());
            headers.push(format!("Content-Length: {}", body.len()).into_bytes());
        }
        Request {
            method: method.as_bytes().to_vec(),
            target: target.into_bytes(),
            version: "HTTP/1.1".into(),
            separator: " ",
            eol: "\r\n",
            headers,
            body,
        }
    }

    /// Replaces every header called `name` by one line `name: value`.
    fn set_header(&mut self, name: &str, value: &[u8]) {
        self.remove_header(name);
        let mut line = format!("{name}: ").into_bytes();
        line.extend_from_slice(value);
        self.headers.push(line);
    }

    fn remove_header(&mut self, name: &str) {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.headers
            .retain(|h| !h.to_ascii_lowercase().starts_with(prefix.as_bytes()));
    }

    /// Sets the body and a matching `Content-Length`.
    fn with_body(mut self, body: Vec<u8>) -> Request {
        self.set_header("Content-Length", body.len().to_string().as_bytes());
        self.body = body;
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.target.len() + self.body.len());
        out.extend_from_slice(&self.method);
        out.extend_from_slice(self.separator.as_bytes());
        out.extend_from_slice(&self.target);
        if !self.version.is_empty() {
            out.extend_from_slice(self.separator.as_bytes());
            out.extend_from_slice(self.version.as_bytes());
        }
        out.extend_from_slice(self.eol.as_bytes());
        for header in &self.headers {
            out.extend_from_slice(header);
            out.extend_from_slice(self.eol.as_bytes());
        }
        out.extend_from_slice(self.eol.as_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    fn input(&self) -> Input {
        Input {
            bytes: self.bytes(),
            ending: Ending::HalfClose,
            odd_version: !matches!(self.version.as_str(), "HTTP/1.1" | "HTTP/1.0"),
        }
    }
}

fn pool_email() -> S<String> {
    (0u32..64)
        .prop_map(|n| format!("fuzz{n}@example.com"))
        .boxed()
}

fn json_body(shape: Shape) -> S<Vec<u8>> {
    match shape {
        Shape::Email => pool_email()
            .prop_map(|e| format!(r#"{{"email":"{e}"}}"#).into_bytes())
            .boxed(),
        Shape::Batch => prop::collection::vec(pool_email(), 1..4)
            .prop_map(|emails| {
                serde_json::json!({ "emails": emails })
                    .to_string()
                    .into_bytes()
            })
            .boxed(),
        _ => Just(Vec::new()).boxed(),
    }
}

/// A good request of `family`.
fn good(family: Family) -> S<Request> {
    let target: S<String> = match family.shape {
        Shape::Plain | Shape::Email | Shape::Batch => Just(family.path.to_string()).boxed(),
        Shape::Param { name, max_good } => (0..=max_good)
            .prop_map(move |v| format!("{}?{name}={v}", family.path))
            .boxed(),
        Shape::UserId => (1u32..=64)
            .prop_map(move |id| format!("{}{id}", family.path))
            .boxed(),
        Shape::Text { name } => "[a-z@.]{0,16}"
            .prop_map(move |t| format!("{}?{name}={t}", family.path))
            .boxed(),
        Shape::Hold => select(vec!["true", "false"])
            .prop_map(move |h| format!("{}?hold={h}", family.path))
            .boxed(),
    };
    (target, json_body(family.shape))
        .prop_map(move |(target, body)| Request::new(family.method, target, body))
        .boxed()
}

/// The strategy for `class` inputs to `family`.
pub fn strategy(family: Family, class: InputClass) -> S<Input> {
    match class {
        InputClass::RequestLine => request_line(family),
        InputClass::Headers => headers(family),
        InputClass::ContentLength => content_length(family),
        InputClass::Chunking => chunking(family),
        InputClass::Json => json(family),
        InputClass::NonUtf8 => non_utf8(family),
        InputClass::Query => query(family),
        InputClass::Pipelined => pipelined(family),
        InputClass::EarlyDisconnect => early_disconnect(family),
    }
}

fn long(c: char) -> S<String> {
    select(vec![100usize, 1_000, 8_192, 65_536, 100_000])
        .prop_map(move |n| c.to_string().repeat(n))
        .boxed()
}

fn request_line(family: Family) -> S<Input> {
    let method: S<Option<Vec<u8>>> = prop_oneof![
        Just(None),
        select(vec![
            "get", "GETT", "", "G ET", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PRI",
            "POST", "PUT", "GET\0", "\u{7f}",
        ])
        .prop_map(|m| Some(m.as_bytes().to_vec())),
        "[A-Za-z!#$%&'*+.^_`|~-]{1,24}".prop_map(|m| Some(m.into_bytes())),
        prop::collection::vec(any::<u8>(), 1..16).prop_map(Some),
        long('M').prop_map(|m| Some(m.into_bytes())),
    ]
    .boxed();
    let target: S<Option<String>> = prop_oneof![
        Just(None),
        select(vec![
            "*",
            "",
            "hello",
            "http://127.0.0.1/hello",
            "//hello",
            "/hello#frag",
            "/%",
            "/%zz",
            "/../../etc/passwd",
            "/he llo",
            "/\u{0}",
            "/%00",
        ])
        .prop_map(|t| Some(t.to_string())),
        long('a').prop_map(move |a| Some(format!("{}?x={a}", family.path))),
        long('b').prop_map(|b| Some(format!("/{b}"))),
    ]
    .boxed();
    let version: S<Option<&'static str>> = prop_oneof![
        Just(None),
        select(vec![
            "HTTP/1.0",
            "HTTP/1.2",
            "HTTP/2.0",
            "HTTP/3.0",
            "HTTP/0.9",
            "HTTP/1",
            "HTTP/11",
            "http/1.1",
            "HTTPS/1.1",
            "",
            "HTTP/1.1 extra",
            "HTTP/9.9",
        ])
        .prop_map(Some),
    ]
    .boxed();
    let separator = select(vec![" ", " ", "  ", "\t"]);
    let eol = select(vec!["\r\n", "\r\n", "\n", "\r", "\r\r\n"]);
    (good(family), method, target, version, separator, eol)
        .prop_map(|(mut r, method, target, version, separator, eol)| {
            if let Some(m) = method {
                r.method = m;
            }
            if let Some(t) = target {
                r.target = t.into_bytes();
            }
            if let Some(v) = version {
                r.version = v.to_string();
            }
            r.separator = separator;
            r.eol = eol;
            r.input()
        })
        .boxed()
}

/// One way to break the headers.
#[derive(Debug, Clone)]
enum HeaderChange {
    DropHost,
    Add(Vec<u8>),
    Many(usize),
    Huge { name: bool, len: usize },
}

fn header_change() -> S<HeaderChange> {
    prop_oneof![
        Just(HeaderChange::DropHost),
        select(vec![
            "Host: 127.0.0.1",
            "Host: other.example",
            "Host:",
            "NoColon",
            ": empty-name",
            "Bad Name: v",
            "X-A : space-before-colon",
            " folded continuation",
            "\tfolded continuation",
            "X-Ctl: a\u{7f}b",
            "X-Nul: a\0b",
            "Expect: 100-continue",
            "Expect: 100-continue",
            "Expect: something-else",
            "Connection: close",
            "Connection: keep-alive",
            "Connection: upgrade",
            "Upgrade: websocket",
            "Upgrade: h2c",
            "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA",
            "Content-Type: text/plain",
            "Content-Type: application/json; charset=latin1",
            "Content-Type:",
            "Accept: */*",
            "Cookie: a=b",
            "Transfer-Encoding: gzip",
            "Transfer-Encoding:",
            "X-Forwarded-For: 10.0.0.1",
        ])
        .prop_map(|h| HeaderChange::Add(h.as_bytes().to_vec())),
        "[!-~]{1,40}: [ -~]{0,80}".prop_map(|h| HeaderChange::Add(h.into_bytes())),
        select(vec![64usize, 100, 101, 1_000, 5_000]).prop_map(HeaderChange::Many),
        (
            any::<bool>(),
            select(vec![1_000usize, 8_193, 16_385, 65_536, 200_000, 1_000_000])
        )
            .prop_map(|(name, len)| HeaderChange::Huge { name, len }),
    ]
    .boxed()
}

fn headers(family: Family) -> S<Input> {
    (good(family), prop::collection::vec(header_change(), 1..4))
        .prop_map(|(mut r, changes)| {
            for change in changes {
                match change {
                    HeaderChange::DropHost => r.remove_header("Host"),
                    HeaderChange::Add(line) => r.headers.push(line),
                    HeaderChange::Many(n) => {
                        r.headers
                            .extend((0..n).map(|i| format!("X-Fuzz-{i}: {i}").into_bytes()));
                    }
                    HeaderChange::Huge { name: true, len } => {
                        r.headers
                            .push(format!("X-{}: v", "n".repeat(len)).into_bytes());
                    }
                    HeaderChange::Huge { name: false, len } => {
                        r.headers
                            .push(format!("X-Big: {}", "v".repeat(len)).into_bytes());
                    }
                }
            }
            r.input()
        })
        .boxed()
}

fn content_length(family: Family) -> S<Input> {
    let body = prop_oneof![
        json_body(Shape::Email),
        prop::collection::vec(any::<u8>(), 0..64),
    ];
    let declared: S<Vec<String>> = prop_oneof![
        select(vec![
            "-1",
            "abc",
            "",
            "99999999999999",
            "99999999999999",
            "18446744073709551615",
            "18446744073709551616",
            "4294967296",
            "+5",
            " 5",
            "0x10",
            "1e3",
            "5, 5",
            "5,6",
            "0",
            "1025",
            "16385",
            "1048576",
        ])
        .prop_map(|v| vec![v.to_string()]),
        (0usize..2_000).prop_map(|n| vec![n.to_string()]),
        (0usize..100, 0usize..100).prop_map(|(a, b)| vec![a.to_string(), b.to_string()]),
    ]
    .boxed();
    let with_te = prop::bool::weighted(0.1);
    (good(family), body, declared, with_te)
        .prop_map(|(r, body, declared, with_te)| {
            let mut r = r.with_body(body);
            r.remove_header("Content-Length");
            for value in declared {
                r.headers
                    .push(format!("Content-Length: {value}").into_bytes());
            }
            if with_te {
                r.headers.push(b"Transfer-Encoding: chunked".to_vec());
            }
            r.input()
        })
        .boxed()
}

/// A chunked body, correct or broken in one of several ways.
fn chunked_body() -> S<Vec<u8>> {
    let data = json_body(Shape::Email);
    prop_oneof![
        // Correct, in chunks of 1..8 bytes.
        (data.clone(), 1usize..8).prop_map(|(d, size)| {
            let mut out = Vec::new();
            for chunk in d.chunks(size) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            out
        }),
        // A bad size line.
        (
            data.clone(),
            select(vec![
                "zz",
                "-1",
                "FFFFFFFFFFFFFFFFF",
                "ffffffffffffffff",
                "7fffffff",
                "1;ext=1",
                "",
                " 5",
                "5 ",
                "0x5",
            ])
        )
            .prop_map(|(d, size)| {
                let mut out = format!("{size}\r\n").into_bytes();
                out.extend_from_slice(&d);
                out.extend_from_slice(b"\r\n0\r\n\r\n");
                out
            }),
        // Declares more (or less) than it carries; or no final chunk.
        (data.clone(), -5i64..50, any::<bool>()).prop_map(|(d, off, last)| {
            let declared = (d.len() as i64 + off).max(0);
            let mut out = format!("{declared:x}\r\n").into_bytes();
            out.extend_from_slice(&d);
            out.extend_from_slice(b"\r\n");
            if last {
                out.extend_from_slice(b"0\r\n\r\n");
            }
            out
        }),
        // Trailers, and a body of 20,000 one-byte chunks (past the limit).
        data.clone().prop_map(|d| {
            let mut out = format!("{:x}\r\n", d.len()).into_bytes();
            out.extend_from_slice(&d);
            out.extend_from_slice(b"\r\n0\r\nX-Trailer: t\r\nContent-Length: 5\r\n\r\n");
            out
        }),
        Just(
            b"1\r\na\r\n"
                .repeat(20_000)
                .into_iter()
                .chain(*b"0\r\n\r\n")
                .collect::<Vec<u8>>()
        ),
        prop::collection::vec(any::<u8>(), 0..200),
    ]
    .boxed()
}

fn chunking(family: Family) -> S<Input> {
    let te = select(vec![
        "chunked",
        "chunked",
        "Chunked",
        "chunked, chunked",
        "gzip, chunked",
        "chunked, gzip",
        "identity",
        "chunked\u{0}",
        " chunked",
    ]);
    (good(family), te, chunked_body(), any::<bool>())
        .prop_map(|(mut r, te, body, keep_length)| {
            if !keep_length {
                r.remove_header("Content-Length");
            }
            r.headers
                .push(format!("Transfer-Encoding: {te}").into_bytes());
            r.body = body;
            r.input()
        })
        .boxed()
}

fn bad_json(shape: Shape) -> S<Vec<u8>> {
    let valid = json_body(if shape == Shape::Batch {
        Shape::Batch
    } else {
        Shape::Email
    });
    let nested = |open: &'static str, close: &'static str| {
        select(vec![10usize, 127, 129, 1_000, 8_000])
            .prop_map(move |n| format!("{}{}", open.repeat(n), close.repeat(n)).into_bytes())
    };
    prop_oneof![
        // Truncated at any byte.
        (valid, any::<prop::sample::Index>()).prop_map(|(v, cut)| {
            let n = cut.index(v.len().max(1));
            v[..n].to_vec()
        }),
        // Oversized: past the 16 KiB body limit.
        select(vec![16_385usize, 20_000, 100_000, 1_000_000]).prop_map(|n| format!(
            r#"{{"email":"{}@example.com"}}"#,
            "a".repeat(n)
        )
        .into_bytes()),
        nested("[", "]"),
        nested(r#"{"a":"#, "}"),
        select(vec![
            r#"{"email":5}"#,
            r#"{"email":null}"#,
            r#"{"email":["a@b.c"]}"#,
            r#"{"email":"no-at-sign"}"#,
            r#"{"email":""}"#,
            r#"{"email":"a@b.c","email":"d@e.f"}"#,
            r#"{"email":"\ud800@example.com"}"#,
            r#"{"email":"a\u0000@example.com"}"#,
            r#"{"emails":[]}"#,
            r#"{"emails":"a@b.c"}"#,
            r#"{"emails":[1,2,3]}"#,
            r#"{}"#,
            "[]",
            "null",
            "true",
            "1e999",
            "\"str\"",
            "",
            "   ",
            "\u{feff}{\"email\":\"bom@example.com\"}",
            "{\"email\":\"x@example.com\"",
            "{'email':'x@example.com'}",
            "{\"email\":\"x@example.com\"} trailing",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        select(vec![255usize, 300, 5_000]).prop_map(|n| format!(
            r#"{{"email":"{}@example.com"}}"#,
            "x".repeat(n)
        )
        .into_bytes()),
        (1usize..=120).prop_map(|n| {
            let emails: Vec<String> = (0..n).map(|i| format!("b{i}@example.com")).collect();
            serde_json::json!({ "emails": emails })
                .to_string()
                .into_bytes()
        }),
        "[ -~]{0,200}".prop_map(String::into_bytes),
    ]
    .boxed()
}

fn json(family: Family) -> S<Input> {
    (good(family), bad_json(family.shape))
        .prop_map(|(r, body)| r.with_body(body).input())
        .boxed()
}

fn non_utf8(family: Family) -> S<Input> {
    let bad = prop::collection::vec(0x80u8..=0xff, 1..8);
    (good(family), bad, 0u8..5)
        .prop_map(|(mut r, bad, place)| {
            match place {
                0 => r.target.extend_from_slice(&bad),
                1 => {
                    r.target.extend_from_slice(if r.target.contains(&b'?') {
                        b"&x="
                    } else {
                        b"?x="
                    });
                    r.target.extend_from_slice(&bad);
                }
                2 => {
                    let mut line = b"X-Bytes: ".to_vec();
                    line.extend_from_slice(&bad);
                    r.headers.push(line);
                }
                3 => {
                    let mut line = bad.clone();
                    line.extend_from_slice(b": v");
                    r.headers.push(line);
                }
                _ => {
                    let mut body = br#"{"email":""#.to_vec();
                    body.extend_from_slice(&bad);
                    body.extend_from_slice(br#"@example.com"}"#);
                    r = r.with_body(body);
                }
            }
            r.input()
        })
        .boxed()
}

fn query(family: Family) -> S<Input> {
    let value = prop_oneof![
        select(vec![
            "",
            "-1",
            "abc",
            "1e3",
            "0x10",
            "99999999999999999999999",
            "18446744073709551616",
            "10001",
            "100001",
            "%30",
            "%",
            "%zz",
            "+1",
            " 1",
            "1 ",
            "1.5",
            "\u{ff11}",
            "00000000000000000002",
            "1/extra",
            "true",
            "false",
            "maybe",
            "1;2",
        ])
        .prop_map(str::to_string),
        (0u64..=2).prop_map(|v| v.to_string()),
        "[ -~&&[^#]]{0,30}".prop_map(|v| v.replace(' ', "+")),
    ]
    .boxed();
    let name = match family.shape {
        Shape::Param { name, .. } | Shape::Text { name } => name,
        Shape::Hold => "hold",
        _ => "x",
    };
    let names = select(vec![
        name.to_string(),
        name.to_uppercase(),
        format!("{name}x"),
        String::new(),
        format!("{name}[]"),
    ]);
    let pairs = prop::collection::vec((names, value.clone()), 0..6);
    let extra = select(vec!["", "&", "&&&", "=", "?", "#", "&=&"]);
    (good(family), pairs, extra, value, any::<bool>())
        .prop_map(move |(mut r, pairs, extra, id, long)| {
            let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let mut query = query.join("&");
            query.push_str(extra);
            if long {
                query.push_str(&format!("&pad={}", "p".repeat(10_000)));
            }
            let path = match family.shape {
                Shape::UserId => format!("{}{}", family.path, id.replace(' ', "%20")),
                _ => family.path.to_string(),
            };
            r.target = format!("{path}?{query}").into_bytes();
            r.input()
        })
        .boxed()
}

fn pipelined(family: Family) -> S<Input> {
    let garbage = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..2_000),
        "[ -~\r\n]{1,400}".prop_map(String::into_bytes),
        Just(b"\r\n\r\n\r\n".to_vec()),
    ]
    .boxed();
    let keep_alive = |mut r: Request| {
        r.remove_header("Connection");
        r.bytes()
    };
    let others = prop::collection::vec(
        prop_oneof![
            good(family).prop_map(keep_alive),
            request_line(family).prop_map(|i| i.bytes),
            headers(family).prop_map(|i| i.bytes),
            garbage,
        ],
        1..4,
    );
    (good(family), others, any::<bool>())
        .prop_map(move |(first, others, close_last)| {
            let mut bytes = keep_alive(first);
            for other in others {
                bytes.extend_from_slice(&other);
            }
            if close_last {
                bytes.extend_from_slice(
                    b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                );
            }
            Input {
                bytes,
                ending: Ending::HalfClose,
                odd_version: true, // a garbage tail can hold any version
            }
        })
        .boxed()
}

fn early_disconnect(family: Family) -> S<Input> {
    let request = prop_oneof![
        3 => good(family).prop_map(|r| r.input()),
        1 => content_length(family),
        1 => json(family),
    ];
    (request, any::<prop::sample::Index>(), 0u8..3)
        .prop_map(|(input, cut, how)| {
            let n = cut.index(input.bytes.len().max(1));
            match how {
                // Part of a request, then gone.
                0 => Input {
                    bytes: input.bytes[..n].to_vec(),
                    ending: Ending::Abort,
                    ..input
                },
                // A whole request, gone before the answer.
                1 => Input {
                    ending: Ending::Abort,
                    ..input
                },
                // Part of a request, then the sending half closed.
                _ => Input {
                    bytes: input.bytes[..n].to_vec(),
                    ending: Ending::HalfClose,
                    ..input
                },
            }
        })
        .boxed()
}
