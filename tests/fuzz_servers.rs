//! The server fuzzer's smoke: 5,000 generated bad requests for every server
//! model and both lifespan apps, in this process over loopback (see
//! `lab::fuzz` for what counts as a clean answer). Also: the fuzzer fails on
//! a server that answers 500, hangs, or answers only after its deadline (slow,
//! told apart from a hang), rouille survives the request that
//! used to abort it, and actix refuses the header name that used to panic.
//!
//! The full run (100,000 per endpoint family per server) is a command:
//! `cargo run --release --example fuzz_servers -- --full`.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use lab::fuzz::{self, Plan, Server};
use lab::report::Table;

/// Inputs per server: 1,000 per family for the API's five families, 1,250
/// per family for the lifespan app's four.
const PER_SERVER: u64 = 5_000;

#[test]
fn every_server_answers_5000_bad_requests_cleanly() {
    let mut summary = Table::new(fuzz::SUMMARY_HEADER);
    let mut unclean = Vec::new();
    let started = Instant::now();
    for server in Server::all() {
        let families = server.families().len() as u64;
        let plan = Plan::new(PER_SERVER.div_ceil(families));
        let report = fuzz::run_in_process(server, &plan).expect("server starts");
        summary.row(fuzz::summary_row(&server.label(), &report));
        println!("{}\n{}", server.label(), report.class_table().render());
        assert!(
            report.inputs() >= PER_SERVER,
            "{}: {}",
            server.label(),
            report.inputs()
        );
        if !report.clean() {
            unclean.push(format!(
                "{}: {} failed, {} panics ({:?}), probes failed {:?}, after {:?}, examples {:#?}",
                server.label(),
                report.failures,
                report.panics,
                fuzz::first_panic(),
                report.probes_failed,
                report.after,
                report.examples
            ));
        }
    }
    println!("{}", summary.render());
    println!("smoke took {:.1?}", started.elapsed());
    assert!(unclean.is_empty(), "{unclean:#?}");
}

/// The API fuzz families against a toy server, with nothing to check after.
fn fuzz_api(server: std::net::SocketAddr, plan: &Plan) -> fuzz::Report {
    fuzz::run(
        server,
        fuzz::probe::Kind::Api,
        &fuzz::API_FAMILIES,
        plan,
        &|| Ok(()),
    )
}

/// A stand-in server for proving the fuzzer can fail: answers every
/// connection with `answer` (or nothing at all, holding it open, if empty).
fn toy_server(answer: &'static [u8]) -> std::net::SocketAddr {
    toy_server_after(Duration::ZERO, answer)
}

/// [`toy_server`], answering each connection only after `delay`.
fn toy_server_after(delay: Duration, answer: &'static [u8]) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                let _ = stream.read(&mut buf);
                if answer.is_empty() {
                    std::thread::sleep(Duration::from_secs(2)); // a hang
                } else {
                    std::thread::sleep(delay);
                    let _ = stream.write_all(answer);
                }
            });
        }
    });
    addr
}

#[test]
fn the_fuzzer_fails_a_server_that_answers_500_hangs_or_answers_late() {
    let plan = Plan {
        clients: 2,
        deadline: Duration::from_millis(500),
        probe_every: Duration::from_secs(1),
        ..Plan::new(10)
    };
    let five_hundred =
        toy_server(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n");
    let report = fuzz_api(five_hundred, &plan);
    assert!(report.failures > 0 && !report.clean(), "{report:?}");
    assert!(
        report.examples.iter().any(|e| e.why.contains("500")),
        "{:?}",
        report.examples
    );
    assert!(report.after.is_err());

    let plan = Plan {
        clients: 2,
        deadline: Duration::from_millis(300),
        probe_every: Duration::from_secs(1),
        ..Plan::new(2)
    };
    let silent = toy_server(b"");
    let report = fuzz_api(silent, &plan);
    assert!(
        report.examples.iter().any(|e| e.why.contains("hang")),
        "{:?}",
        report.examples
    );
    assert_eq!(report.failure_kinds.get("slow"), None, "{report:?}");

    // A right answer (a bare 400), but only after the deadline: slow, and
    // told apart from a hang.
    let slow = toy_server_after(
        plan.deadline + plan.deadline / 2,
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
    );
    let report = fuzz_api(slow, &plan);
    assert!(report.failures > 0 && !report.clean(), "{report:?}");
    assert_eq!(report.failure_kinds.get("hang"), None, "{report:?}");
    assert!(
        report.examples.iter().any(|e| e.why.contains("slow")),
        "{:?}",
        report.examples
    );
}

/// Sends `request` on a fresh connection, half-closes, returns the answer.
fn send(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(request);
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

// ANCHOR: rouille_huge_content_length
/// tiny_http 0.12 drained an unread body into `vec![0; Content-Length - read]`
/// when the request was dropped: 99999999999999 aborted the whole process
/// (vendor/tiny_http/PATCHED.md). Now: a JSON 4xx, and the next request works.
#[test]
fn rouille_survives_a_huge_content_length() {
    let server = lab::api::start(
        lab::api::Model::Rouille { threads: 2 },
        "127.0.0.1:0".parse().unwrap(),
        &lab::api::Options::default(),
    )
    .unwrap();
    let small_body = b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n{}";
    let answer = send(server.addr(), small_body);
    assert!(answer.starts_with("HTTP/1.1 422"), "{answer}");
    let mut big_body =
        b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n".to_vec();
    big_body.extend(std::iter::repeat_n(b'x', 20_000));
    let answer = send(server.addr(), &big_body);
    assert!(
        answer.starts_with("HTTP/1.1 413") && answer.contains("\"detail\""),
        "{answer}"
    );
    let hello = send(
        server.addr(),
        b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        hello.starts_with("HTTP/1.1 200") && hello.contains("Hello, World!"),
        "{hello}"
    );
    server.stop();
}
// ANCHOR_END: rouille_huge_content_length

/// tiny_http 0.12 wrote its 505 for an HTTP/2.0 request line to the next
/// response's writer, which waits for this one: the connection hung forever
/// (vendor/tiny_http/PATCHED.md). Now: a 505, then the connection closes.
#[test]
fn rouille_answers_http2_request_lines() {
    let server = lab::api::start(
        lab::api::Model::Rouille { threads: 2 },
        "127.0.0.1:0".parse().unwrap(),
        &lab::api::Options::default(),
    )
    .unwrap();
    for version in ["HTTP/2.0", "HTTP/3.0"] {
        let request = format!("GET /hello {version}\r\nHost: x\r\n\r\n");
        let started = Instant::now();
        let answer = send(server.addr(), request.as_bytes());
        assert!(answer.starts_with("HTTP/1.1 505"), "{version}: {answer:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{version}: {:?}",
            started.elapsed()
        );
    }
    server.stop();
}

/// actix-http 3.19 unwrapped `HeaderName::from_bytes` on every header name
/// httparse accepted, and the `http` crate refuses a name of 64 KiB or more:
/// the worker panicked and the connection closed without an answer; the
/// full fuzz run met it on both actix servers (vendor/actix-http/PATCHED.md).
/// Now: the HTTP layer's bare 400 like any other bad header, no panic, and
/// the next good request is answered.
#[test]
fn actix_refuses_a_64_kib_header_name_without_a_panic() {
    fuzz::count_panics();
    for server in [
        Server::Api(lab::api::Model::LoopPerWorker { workers: 2 }),
        Server::Lifespan(lab::lifespan::Framework::Actix),
    ] {
        let started = fuzz::Started::start(server).unwrap();
        // 64 KiB is the first length `http` refuses; 100 KiB is still under
        // actix-http's 128 KiB head buffer (past it, a 431).
        for name_len in [64 * 1024, 100 * 1024] {
            let panics_before = fuzz::panic_count();
            let mut request = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
            request.extend(std::iter::repeat_n(b'x', name_len));
            request.extend_from_slice(b": 1\r\n\r\n");
            let answer = send(started.addr, &request);
            assert_eq!(
                fuzz::panic_count() - panics_before,
                0,
                "{} panicked on a {name_len}-byte header name ({:?}) and answered {answer:?}",
                server.label(),
                fuzz::first_panic()
            );
            assert!(
                answer.starts_with("HTTP/1.1 400"),
                "{}, {name_len}-byte header name: {answer:?}",
                server.label()
            );
        }
        let good = fuzz::probe::check(started.addr, server.probe_kind(), 1);
        assert!(good.is_ok(), "{}: {good:?}", server.label());
    }
}

/// Chapter 6's Python stacks get the same smoke, for the book's comparison:
/// what they answer is a table, not a failure (see `lab::fuzz::stacks`).
/// It fails only if the harness breaks: a stack that will not start or
/// answer one good request, or fewer inputs sent than planned.
#[test]
fn python_stacks_get_the_same_smoke_reported_not_judged() {
    use lab::fuzz::stacks::{python_launch, python_stacks, python_table, run_stack};
    let scratch = lab::db::TempDbs::new().unwrap();
    let launch = match python_launch(scratch.dir(), |step| println!("{step}")).unwrap() {
        Ok(launch) => launch,
        Err(why) => {
            println!("skipped: the Python stacks' fuzz smoke needs python3 >= 3.10: {why}");
            return;
        }
    };
    let started = Instant::now();
    let plan = Plan::new(PER_SERVER.div_ceil(fuzz::API_FAMILIES.len() as u64));
    let mut runs = Vec::new();
    for stack in python_stacks() {
        let run = run_stack(stack, &launch, &plan).expect("the harness runs");
        assert!(
            run.report.inputs() >= PER_SERVER,
            "{}: {}",
            stack.name(),
            run.report.inputs()
        );
        println!(
            "{}: took {:.1?}, examples {:#?}",
            stack.name(),
            run.report.took,
            run.report.examples
        );
        runs.push(run);
    }
    println!("{}", python_table(&runs).render());
    println!("python smoke took {:.1?}", started.elapsed());
}

/// What the fuzzer found in the lifespan app on actix-web: a request with
/// `Upgrade: websocket` got a streamed body written unframed under a
/// `transfer-encoding: chunked` header (actix-http's codec; see
/// `reads_as_raw_stream` in lab/lifespan/actix_app.rs). Now the headers say
/// what the body is, and the body is every row.
#[test]
fn a_streamed_answer_to_an_upgrade_request_is_framed_as_it_says() {
    let started = fuzz::Started::start(Server::Lifespan(lab::lifespan::Framework::Actix)).unwrap();
    let user = br#"{"email":"ws@example.com"}"#;
    let mut post = format!(
        "POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        user.len()
    )
    .into_bytes();
    post.extend_from_slice(user);
    assert!(send(started.addr, &post).starts_with("HTTP/1.1 201"));
    let answer = send(
        started.addr,
        b"GET /users/export?hold=true HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    let answers = fuzz::wire::parse_answers(answer.as_bytes());
    assert!(answers.is_ok(), "{answers:?} in {answer:?}");
    assert!(answer.contains("ws@example.com"), "{answer:?}");
}

/// The same codec flag, set by a request decoded *ahead*: a streamed
/// `GET /users/export` followed on its connection by a pipelined request
/// with `Upgrade: websocket` (or a body-less CONNECT) got its body unframed
/// under `transfer-encoding: chunked` (the full fuzz run, class
/// "pipelined"). Now a streamed answer goes out unchunked and ends the
/// connection, so every answer read is framed as its headers say.
#[test]
fn a_streamed_answer_is_framed_whatever_is_pipelined_behind_it() {
    let started = fuzz::Started::start(Server::Lifespan(lab::lifespan::Framework::Actix)).unwrap();
    for i in 0..20 {
        let user = format!(r#"{{"email":"pipe{i}@example.com"}}"#);
        let post = format!(
            "POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{user}",
            user.len()
        );
        assert!(send(started.addr, post.as_bytes()).starts_with("HTTP/1.1 201"));
    }
    for second in [
        &b"PUT /users/export HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\n\r\n"[..],
        b"CONNECT /users HTTP/1.0\r\nHost: x\r\n\r\n",
        b"CONNECT x:1 HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let mut pipelined = b"GET /users/export HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        pipelined.extend_from_slice(second);
        let answer = send(started.addr, &pipelined);
        let answers = fuzz::wire::parse_answers(answer.as_bytes());
        assert!(answers.is_ok(), "{answers:?} in {answer:?}");
    }
}
