//! Behaviour of the book's load generator (`lab::loadgen`) against the local
//! slow upstream: closed-loop latency and Little's law, the open loop making
//! coordinated omission visible, and the bounds (loopback only, request
//! budget, dead ports, timeouts). Sleep-bound claims use wide margins; speed
//! against `wrk` is a benchmark (`benches/loadgen_vs_wrk.rs`), not a test.

use std::time::{Duration, Instant};

use lab::loadgen::{self, LoadSpec, Pace};
use lab::upstream::SlowUpstream;

const DELAY: Duration = Duration::from_millis(50);

/// The tests that measure time take turns, so they do not slow each other
/// down on a small CI machine (the others run alongside).
static TIMING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn timing_turn() -> std::sync::MutexGuard<'static, ()> {
    TIMING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn upstream() -> SlowUpstream {
    SlowUpstream::start(DELAY, 2).expect("the slow upstream starts")
}

#[test]
fn closed_loop_latency_is_the_server_delay() {
    let _turn = timing_turn();
    let server = upstream();
    let spec = LoadSpec::closed(&server.url("/slow"), 4, Duration::from_millis(800))
        .unwrap()
        .with_warmup(Duration::from_millis(100));
    let report = loadgen::run_blocking(&spec, 1).unwrap();
    let p50 = report.latency(0.50);
    assert_eq!(report.errors, 0, "{report:?}");
    assert!(report.requests > 20, "{} requests", report.requests);
    assert!(
        p50 >= DELAY && p50 <= DELAY * 5 / 4,
        "p50 {p50:?} should be within 25% above the {DELAY:?} delay"
    );
}

#[test]
fn closed_loop_obeys_littles_law() {
    let _turn = timing_turn();
    // Little's law: requests in flight = throughput x time per request. A
    // closed loop keeps `connections` requests in flight, so its throughput
    // is connections / latency, and at most connections / delay.
    let server = upstream();
    let connections = 8;
    let spec = LoadSpec::closed(&server.url("/slow"), connections, Duration::from_secs(1))
        .unwrap()
        .with_warmup(Duration::from_millis(100));
    let report = loadgen::run_blocking(&spec, 2).unwrap();
    let measured = report.requests_per_sec();
    let mean_latency = report.latency_us.mean() / 1e6;
    let in_flight = measured * mean_latency;
    assert!(
        (in_flight / connections as f64 - 1.0).abs() < 0.15,
        "{measured:.1} req/s x {mean_latency:.4} s = {in_flight:.2} in flight, not {connections}"
    );
    // The same L counted by the load generator itself: the time requests
    // were outstanding inside the window. Never more than the connections
    // (one request each at a time), and here every connection is busy.
    let counted = report.mean_in_flight();
    assert!(
        counted <= connections as f64 && counted >= connections as f64 * 0.85,
        "{counted:.3} in flight counted, with {connections} connections"
    );
    // Against the server's fixed delay: within 15% on a quiet machine; the
    // lower bound is wider because a busy CI box only ever adds latency.
    let ideal = connections as f64 / DELAY.as_secs_f64();
    assert!(
        measured <= ideal * 1.05 && measured >= ideal * 0.5,
        "{measured:.1} req/s, connections / delay = {ideal:.1}"
    );
    // The window is a whole number of delays, so answers counted by when
    // they finished may pass the bound a little; each connection's in-window
    // rate cannot (every interval between its answers holds a whole request),
    // and it measures the same throughput.
    let cycles = report.cycle_rate;
    assert!(
        cycles <= ideal && cycles >= ideal * 0.5,
        "cycle rate {cycles:.1} req/s, connections / delay = {ideal:.1}"
    );
    assert!(
        (cycles / measured - 1.0).abs() < 0.15,
        "cycle rate {cycles:.1} req/s against {measured:.1} counted"
    );
}

#[test]
fn open_loop_shows_the_queue_a_closed_loop_hides() {
    let _turn = timing_turn();
    // One connection can do 20 req/s against a 50 ms server; ask for 100.
    let server = upstream();
    let duration = Duration::from_secs(1);
    let open = LoadSpec::open(&server.url("/slow"), 1, 100.0, duration).unwrap();
    // (The warm-up keeps the TCP connect out of the closed loop's few samples.)
    let closed = LoadSpec::closed(&server.url("/slow"), 1, duration)
        .unwrap()
        .with_warmup(Duration::from_millis(100));
    let (open, closed) = std::thread::scope(|s| {
        let o = s.spawn(|| loadgen::run_blocking(&open, 1).unwrap());
        let c = s.spawn(|| loadgen::run_blocking(&closed, 1).unwrap());
        (o.join().unwrap(), c.join().unwrap())
    });
    // Same server, about the same number of answers...
    assert!(open.requests >= 10 && closed.requests >= 10);
    // ...but the closed loop only sees the service time (p99 of ~20
    // samples is their max: the margin is for a busy machine),
    assert!(
        closed.latency(0.99) < DELAY * 4,
        "closed p99 {:?}",
        closed.latency(0.99)
    );
    // while the open loop counts the time requests waited for their turn,
    assert!(
        open.latency(0.99) > DELAY * 8,
        "open p99 {:?} should be far above {DELAY:?}",
        open.latency(0.99)
    );
    // and reports the requests that never got their turn at all
    // (while keeping its one keep-alive connection throughout).
    assert_eq!(open.connects, 1);
    assert!(
        open.unfinished > open.requests,
        "{} unfinished",
        open.unfinished
    );
}

#[test]
fn open_loop_below_capacity_keeps_its_rate() {
    let _turn = timing_turn();
    let server = upstream();
    let spec = LoadSpec::open(&server.url("/hello"), 4, 100.0, Duration::from_secs(1)).unwrap();
    let report = loadgen::run_blocking(&spec, 1).unwrap();
    let rate = report.requests_per_sec();
    assert!(
        (80.0..=120.0).contains(&rate),
        "{rate:.1} req/s, asked for 100"
    );
    assert_eq!(report.errors, 0);
    assert!(report.latency(0.50) < DELAY, "hello should be fast");
}

/// Names and literals alike: every address a target stands for must be
/// loopback. Only the checks run here; nothing is resolved but `localhost`
/// (from /etc/hosts) and nothing is sent.
#[test]
fn every_target_address_must_be_loopback() {
    use lab::loadgen::{check_resolved, is_loopback, loopback_target};
    let addr = |s: &str| s.parse::<std::net::SocketAddr>().unwrap();
    for ok in [
        "127.0.0.1:3000",
        "127.1.2.3:3000",
        "[::1]:3000",
        "[::ffff:127.0.0.1]:3000",
    ] {
        let target = loopback_target(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert!(is_loopback(target.ip()), "{ok} -> {target}");
    }
    assert_eq!(
        loopback_target("[::ffff:127.0.0.1]:80").unwrap(),
        addr("127.0.0.1:80")
    );
    assert!(
        loopback_target("localhost:3000")
            .unwrap()
            .ip()
            .is_loopback()
    );
    for (refused, why) in [
        ("0.0.0.0:3000", "every interface"),
        ("[::]:3000", "every interface"),
        ("[::ffff:0.0.0.0]:3000", "every interface"),
        ("[::ffff:10.0.0.1]:3000", "only sends to loopback"),
        ("[::127.0.0.1]:3000", "only sends to loopback"),
        ("10.0.0.1:3000", "only sends to loopback"),
        ("[fe80::1]:3000", "only sends to loopback"),
        ("127.0.0.1", "host:port"),
        ("localhost", "host:port"),
        ("localhost:http", "host:port"),
        ("[127.0.0.1]:3000", "host:port"),
        (":3000", "host:port"),
    ] {
        let err = loopback_target(refused).unwrap_err().to_string();
        assert!(err.contains(why), "{refused}: {err}");
    }
    // What a name resolves to, fed in directly: one remote address among
    // loopback ones is enough to refuse the name.
    let both = [addr("[::1]:80"), addr("127.0.0.1:80")];
    assert_eq!(
        check_resolved("localhost:80", &both).unwrap(),
        addr("127.0.0.1:80")
    );
    let sneaky = [addr("127.0.0.1:80"), addr("93.184.215.14:80")];
    let err = check_resolved("example.com:80", &sneaky)
        .unwrap_err()
        .to_string();
    assert!(err.contains("93.184.215.14"), "{err}");
    assert!(check_resolved("nothing:80", &[]).is_err());
}

#[test]
fn only_loopback_and_sane_specs_are_accepted() {
    let d = Duration::from_secs(1);
    for url in [
        "http://10.0.0.1:80/",
        "http://192.168.1.1:3000/hello",
        "http://0.0.0.0:3000/",
        "http://[::]:3000/",
        "http://[::ffff:10.0.0.1]:80/",
        "https://127.0.0.1:3000/",
        "127.0.0.1:3000/hello",
        "http://127.0.0.1/hello",
        "http://127.0.0.1:99999/",
        "",
    ] {
        assert!(LoadSpec::closed(url, 1, d).is_err(), "{url:?} was accepted");
    }
    assert!(LoadSpec::closed("http://localhost:3000/hello", 1, d).is_ok());
    assert!(LoadSpec::closed("http://[::1]:3000/hello", 1, d).is_ok());
    // The IPv4-mapped form of a loopback address is loopback: used as 127.0.0.1.
    let mapped = LoadSpec::closed("http://[::ffff:127.0.0.1]:3000/", 1, d).unwrap();
    assert_eq!(mapped.addr, "127.0.0.1:3000".parse().unwrap());

    // A spec built by hand is checked too, before anything is sent.
    let good = LoadSpec::closed("http://127.0.0.1:9/", 1, d).unwrap();
    let mut remote = good.clone();
    remote.addr = "8.8.8.8:80".parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let err = runtime.block_on(loadgen::run(&remote)).unwrap_err();
    assert!(err.to_string().contains("loopback"), "{err}");
    let mut none = good.clone();
    none.connections = 0;
    assert!(loadgen::run_blocking(&none, 1).is_err());
    let mut forever = good.clone();
    forever.duration = Duration::from_secs(3600);
    assert!(loadgen::run_blocking(&forever, 1).is_err());
    let mut bad_path = good.clone();
    bad_path.path = "no-slash".into();
    assert!(loadgen::run_blocking(&bad_path, 1).is_err());
    let mut stalled = good;
    stalled.pace = Pace::Open { rate_per_sec: 0.0 };
    assert!(loadgen::run_blocking(&stalled, 1).is_err());
}

#[test]
fn max_requests_stops_the_run() {
    let server = upstream();
    let started = Instant::now();
    let spec = LoadSpec::closed(&server.url("/hello"), 3, Duration::from_secs(20))
        .unwrap()
        .with_max_requests(50);
    let report = loadgen::run_blocking(&spec, 2).unwrap();
    assert_eq!(report.requests + report.errors, 50, "{report:?}");
    assert!(
        report.elapsed < Duration::from_secs(5),
        "{:?}",
        report.elapsed
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Keep-alive: one TCP connection per client connection.
    assert_eq!(report.connects, 3);

    let open = LoadSpec::open(&server.url("/hello"), 2, 200.0, Duration::from_secs(20))
        .unwrap()
        .with_max_requests(20);
    let report = loadgen::run_blocking(&open, 1).unwrap();
    assert_eq!(report.requests + report.errors, 20);
    assert!(
        report.elapsed < Duration::from_secs(2),
        "{:?}",
        report.elapsed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_works_from_async_code() {
    let server = upstream();
    let spec = LoadSpec::closed(&server.url("/hello"), 4, Duration::from_secs(5))
        .unwrap()
        .with_max_requests(200);
    let report = loadgen::run(&spec).await.unwrap();
    assert_eq!(report.requests, 200, "{report:?}");
    assert_eq!(report.status.get(&200), Some(&200));
    assert_eq!(report.connects, 4);
}

/// `run` drives its own threads; giving up on its future must stop them,
/// or dropping the runtime (which waits for them) would hang for the whole
/// 20 s run.
#[test]
fn dropping_run_stops_its_threads() {
    let server = upstream();
    let spec = LoadSpec::closed(&server.url("/hello"), 4, Duration::from_secs(20)).unwrap();
    let started = Instant::now();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let gave_up = runtime.block_on(async {
        tokio::time::timeout(Duration::from_millis(300), loadgen::run(&spec)).await
    });
    assert!(gave_up.is_err(), "a 20 s run finished in 300 ms");
    drop(runtime);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the run went on for {:?} after its future was dropped",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_port_gives_errors_not_a_hang() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // dropped: nothing listens there now
    let started = Instant::now();
    let url = format!("http://127.0.0.1:{port}/hello");
    let spec = LoadSpec::closed(&url, 2, Duration::from_millis(300)).unwrap();
    let report = loadgen::run(&spec).await.unwrap();
    assert_eq!(report.requests, 0);
    assert!(report.errors > 0);
    assert_eq!(report.errors, report.failures.connect);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn slow_answers_past_the_timeout_are_errors() {
    let server = upstream();
    let spec = LoadSpec::closed(&server.url("/wait?ms=1000"), 2, Duration::from_millis(500))
        .unwrap()
        .with_request_timeout(Duration::from_millis(100));
    let started = Instant::now();
    let report = loadgen::run_blocking(&spec, 1).unwrap();
    assert_eq!(report.requests, 0);
    assert!(report.failures.timeout >= 4, "{report:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn client_errors_are_answers_and_are_counted_by_status() {
    let server = upstream();
    let spec = LoadSpec::closed(&server.url("/wait?ms=oops"), 1, Duration::from_secs(5))
        .unwrap()
        .with_max_requests(5);
    let report = loadgen::run_blocking(&spec, 1).unwrap();
    assert_eq!(report.requests, 5);
    assert_eq!(report.errors, 0);
    assert_eq!(report.status.get(&422), Some(&5));
}

/// A tiny raw HTTP server for the edge cases axum never produces. It serves
/// each connection with `answer` (given the connection's request count so
/// far) for `lifetime`, then stops.
fn raw_server(
    lifetime: Duration,
    answer: fn(usize) -> Option<&'static str>,
) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    raw_server_in_pieces(lifetime, usize::MAX, answer)
}

/// [`raw_server`], writing each answer `piece` bytes at a time (with a short
/// pause after each, so they leave as separate TCP segments).
fn raw_server_in_pieces(
    lifetime: Duration,
    piece: usize,
    answer: fn(usize) -> Option<&'static str>,
) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let until = Instant::now() + lifetime;
        std::thread::scope(|s| {
            while Instant::now() < until {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                };
                s.spawn(move || {
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_nodelay(true);
                    let _ = stream.set_read_timeout(Some(lifetime));
                    let mut buf = [0u8; 4096];
                    for served in 0.. {
                        // One small request per read is enough for this client.
                        match stream.read(&mut buf) {
                            Ok(n) if n > 0 && Instant::now() < until => {}
                            _ => return,
                        }
                        let Some(text) = answer(served) else {
                            return; // hang up without answering
                        };
                        for bytes in text.as_bytes().chunks(piece) {
                            if stream.write_all(bytes).is_err() {
                                return;
                            }
                            if piece < text.len() {
                                std::thread::sleep(Duration::from_micros(300));
                            }
                        }
                    }
                });
            }
        });
    });
    (addr, handle)
}

#[test]
fn connection_close_answers_reconnect_quietly() {
    // Every answer says `Connection: close`, as some sync servers do.
    let (addr, server) = raw_server(Duration::from_secs(2), |_| {
        Some("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
    });
    let spec = LoadSpec::closed(&format!("http://{addr}/"), 2, Duration::from_secs(5))
        .unwrap()
        .with_max_requests(40);
    let report = loadgen::run_blocking(&spec, 1).unwrap();
    assert_eq!(report.requests, 40, "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");
    assert!(report.connects >= 40, "{} connects", report.connects);
    server.join().unwrap();
}

#[test]
fn a_server_hanging_up_mid_request_gives_broken_errors() {
    // Answers the first request on each connection, then hangs up on the next.
    let (addr, server) = raw_server(Duration::from_secs(2), |served| {
        (served == 0).then_some("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    });
    let spec = LoadSpec::closed(&format!("http://{addr}/"), 2, Duration::from_secs(5))
        .unwrap()
        .with_max_requests(20);
    let report = loadgen::run_blocking(&spec, 1).unwrap();
    assert_eq!(report.requests + report.errors, 20, "{report:?}");
    assert!(report.requests >= 5, "{report:?}");
    assert!(report.failures.broken >= 5, "{report:?}");
    server.join().unwrap();
}

#[test]
fn answers_split_into_many_small_writes_are_read_whole() {
    // Every answer arrives a few bytes at a time: the head, a length-framed
    // body and a chunked body (with an extension and a trailer) all end up
    // split at every possible place.
    let (addr, server) = raw_server_in_pieces(Duration::from_secs(3), 3, |served| {
        Some(if served % 2 == 0 {
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 11\r\n\r\nhello world"
        } else {
            "HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n\
             5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: yes\r\n\r\n"
        })
    });
    let spec = LoadSpec::closed(&format!("http://{addr}/"), 2, Duration::from_secs(5))
        .unwrap()
        .with_max_requests(20);
    let report = loadgen::run_blocking(&spec, 1).unwrap();
    assert_eq!(report.requests, 20, "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");
    // Both framings were read to their exact end: keep-alive held.
    assert_eq!(report.connects, 2, "{report:?}");
    // Each connection alternates 200, 201, … from its first answer, and the
    // two share the 20 requests as the closed loop runs (10 + 10, or 11 + 9).
    let ok = report.status.get(&200).copied().unwrap_or(0);
    let created = report.status.get(&201).copied().unwrap_or(0);
    assert_eq!(ok + created, 20, "{report:?}");
    assert!((10..=11).contains(&ok), "{ok} answers 200: {report:?}");
    server.join().unwrap();
}

/// Serves `app` on an ephemeral loopback port from a 2-worker runtime of its
/// own; dropping the runtime stops it.
fn serve(app: axum::Router) -> (std::net::SocketAddr, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    (addr, runtime)
}

#[test]
fn chunked_streamed_answers_keep_the_connection() {
    use axum::body::Body;
    // A streamed body has no length: axum sends it chunked.
    let app = axum::Router::new().route(
        "/stream",
        axum::routing::get(|| async {
            let parts = (0..50).map(|i| Ok::<_, std::convert::Infallible>(format!("part {i}\n")));
            Body::from_stream(futures::stream::iter(parts))
        }),
    );
    let (addr, _server) = serve(app);
    let spec = LoadSpec::closed(&format!("http://{addr}/stream"), 2, Duration::from_secs(5))
        .unwrap()
        .with_max_requests(100);
    let report = loadgen::run_blocking(&spec, 1).unwrap();
    assert_eq!(report.requests, 100, "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");
    assert_eq!(report.connects, 2, "{report:?}");
}

#[test]
fn answers_are_counted_when_they_arrive_not_when_sent() {
    let _turn = timing_turn();
    // 20 connections, a server that works on 2 requests at a time for
    // 100 ms each: 20 req/s at most, and every request waits ~1 s in line.
    // Counting only requests *sent* after the warmup would miss the ones
    // already queued; counting answers as they arrive (like wrk) sees the
    // server's real throughput.
    let workers = std::sync::Arc::new(tokio::sync::Semaphore::new(2));
    let app = axum::Router::new().route(
        "/work",
        axum::routing::get(move || {
            let workers = std::sync::Arc::clone(&workers);
            async move {
                let _worker = workers.acquire().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                "done"
            }
        }),
    );
    let (addr, _server) = serve(app);
    let spec = LoadSpec::closed(&format!("http://{addr}/work"), 20, Duration::from_secs(2))
        .unwrap()
        .with_warmup(Duration::from_millis(500));
    let report = loadgen::run_blocking(&spec, 1).unwrap();
    let rate = report.requests_per_sec();
    assert_eq!(report.errors, 0, "{report:?}");
    assert!(
        (rate / 20.0 - 1.0).abs() <= 0.15,
        "{rate:.1} req/s, the server does 2 / 100 ms = 20 req/s"
    );
    // The ones still queued at the end are reported, not dropped.
    assert!(report.unfinished >= 15, "{} unfinished", report.unfinished);
    // Latency is from each request's own send: about 1 s in line.
    assert!(
        report.latency(0.5) >= Duration::from_millis(500),
        "{report:?}"
    );
}

#[test]
fn a_timeout_longer_than_each_answer_never_fires() {
    let _turn = timing_turn();
    // Each connection's timer is moved on lazily (it may still be due for
    // an earlier request): that must never fail a later, quick one.
    let server = upstream();
    let spec = LoadSpec::closed(&server.url("/slow"), 2, Duration::from_millis(1200))
        .unwrap()
        .with_request_timeout(Duration::from_millis(300));
    let report = loadgen::run_blocking(&spec, 1).unwrap();
    assert_eq!(report.errors, 0, "{report:?}");
    assert!(report.requests >= 20, "{report:?}");
}
