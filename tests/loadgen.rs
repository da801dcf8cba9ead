//! Behaviour of the book's load generator (`lab::loadgen`) against the local
//! slow upstream: closed-loop latency and Little's law, the open loop making
//! coordinated omission visible, and the bounds (loopback only, request
//! budget, dead ports, timeouts). Sleep-bound claims use wide margins; speed
//! against `wrk` is a benchmark (`benches/loadgen_vs_wrk.rs`), not a test.

use std::time::{Duration, Instant};

use lab::loadgen::{self, LoadSpec, Pace};
use lab::upstream::SlowUpstream;

const DELAY: Duration = Duration::from_millis(50);

fn upstream() -> SlowUpstream {
    SlowUpstream::start(DELAY, 2).expect("the slow upstream starts")
}

#[test]
fn closed_loop_latency_is_the_server_delay() {
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
    // Throughput = connections in flight / time per request.
    let server = upstream();
    let connections = 8;
    let spec = LoadSpec::closed(&server.url("/slow"), connections, Duration::from_secs(1))
        .unwrap()
        .with_warmup(Duration::from_millis(100));
    let report = loadgen::run_blocking(&spec, 2).unwrap();
    let expected = connections as f64 / DELAY.as_secs_f64();
    let measured = report.requests_per_sec();
    assert!(
        (measured / expected - 1.0).abs() < 0.15,
        "{measured:.1} req/s, Little's law says {expected:.1}"
    );
}

#[test]
fn open_loop_shows_the_queue_a_closed_loop_hides() {
    // One connection can do 20 req/s against a 50 ms server; ask for 100.
    let server = upstream();
    let duration = Duration::from_secs(1);
    let open = LoadSpec::open(&server.url("/slow"), 1, 100.0, duration).unwrap();
    let closed = LoadSpec::closed(&server.url("/slow"), 1, duration).unwrap();
    let (open, closed) = std::thread::scope(|s| {
        let o = s.spawn(|| loadgen::run_blocking(&open, 1).unwrap());
        let c = s.spawn(|| loadgen::run_blocking(&closed, 1).unwrap());
        (o.join().unwrap(), c.join().unwrap())
    });
    // Same server, about the same number of answers...
    assert!(open.requests >= 10 && closed.requests >= 10);
    // ...but the closed loop only sees the service time,
    assert!(
        closed.latency(0.99) < DELAY * 2,
        "closed p99 {:?}",
        closed.latency(0.99)
    );
    // while the open loop counts the time requests waited for their turn.
    assert!(
        open.latency(0.99) > DELAY * 6,
        "open p99 {:?} should be far above {DELAY:?}",
        open.latency(0.99)
    );
}

#[test]
fn open_loop_below_capacity_keeps_its_rate() {
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

#[test]
fn only_loopback_and_sane_specs_are_accepted() {
    let d = Duration::from_secs(1);
    for url in [
        "http://10.0.0.1:80/",
        "http://192.168.1.1:3000/hello",
        "http://example.com:80/",
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
