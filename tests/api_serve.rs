//! The `serve` mode stops cleanly: in-process through
//! `lab::api::serve_until_signal` with a shutdown future (every model, with a
//! long request still in flight), and once for real — the chapter 4 example
//! binary as a child process, stopped with SIGTERM, must exit within 2 s.
//!
//! Leaves out Ctrl-C on a terminal (SIGINT takes the same path as SIGTERM).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lab::api::{Model, ModelKind, Options, serve_until_signal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_model_stops_within_two_seconds_with_a_request_in_flight() {
    for kind in ModelKind::ALL {
        let model = Model::new(kind, 2);
        let name = kind.name();
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel::<SocketAddr>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let serving = tokio::spawn(async move {
            let options = Options::default();
            serve_until_signal(model, any_port, &options, |addr| async move {
                let _ = addr_tx.send(addr);
                let _ = stop_rx.await;
            })
            .await
        });
        let addr = addr_rx.await.expect("the server reports its address");
        let client = reqwest::Client::new();
        let hello = client
            .get(format!("http://{addr}/hello"))
            .send()
            .await
            .unwrap();
        assert_eq!(hello.status(), 200, "{name}");
        // A 5-second request is still running when the stop comes.
        let slow = tokio::spawn(client.get(format!("http://{addr}/wait?ms=5000")).send());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let start = Instant::now();
        stop_tx.send(()).unwrap();
        let took = serving.await.unwrap().expect("serve ends without error");
        assert!(
            start.elapsed() < Duration::from_millis(2_500),
            "{name}: {:?}",
            start.elapsed()
        );
        assert!(
            took < Duration::from_millis(2_100),
            "{name}: stop took {took:?}"
        );
        slow.abort();
    }
}

#[test]
fn the_example_binary_exits_within_two_seconds_of_sigterm() {
    let exe = lab::process::build_example("ch04_asgi", !cfg!(debug_assertions))
        .expect("building the example");
    let mut server =
        lab::api::experiment::serve_in_child(&exe, Model::EventLoop).expect("it starts");
    let hello = reqwest::blocking::get(server.url("/hello")).unwrap();
    assert_eq!(hello.status(), 200);
    let exit = server.stop().unwrap();
    assert!(!exit.killed, "it did not exit after SIGTERM");
    assert!(
        exit.took < Duration::from_secs(2),
        "exit took {:?}",
        exit.took
    );
}
