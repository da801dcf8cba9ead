//! Calling a slow upstream several times, three ways: one after another on
//! one thread (blocking, like `requests.get` in a loop), on one thread per
//! call (blocking, like a thread pool), and all at once on one thread
//! (async, like `asyncio.gather` over `httpx.AsyncClient`).
//!
//! Left out: retries, TLS, connection limits. The URLs must be loopback.

use std::time::Duration;

// ANCHOR: sequential
/// One call after another: total time is the sum of the waits.
pub fn fetch_sequential_blocking(urls: &[String]) -> reqwest::Result<Vec<String>> {
    let client = reqwest::blocking::Client::new();
    urls.iter()
        .map(|url| client.get(url).send()?.error_for_status()?.text())
        .collect()
}
// ANCHOR_END: sequential

/// One thread per call: the waits overlap, at the cost of a thread each.
pub fn fetch_with_threads(urls: &[String]) -> reqwest::Result<Vec<String>> {
    let client = reqwest::blocking::Client::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = urls
            .iter()
            .map(|url| {
                let client = client.clone();
                scope.spawn(move || client.get(url).send()?.error_for_status()?.text())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a fetch thread panicked"))
            .collect()
    })
}

// ANCHOR: concurrent
/// All calls at once on one thread: total time is about the longest wait.
pub async fn fetch_concurrent(urls: &[String]) -> reqwest::Result<Vec<String>> {
    let client = reqwest::Client::new();
    let client = &client;
    let calls = urls.iter().map(|url| async move {
        client
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await
    });
    futures::future::try_join_all(calls).await
}
// ANCHOR_END: concurrent

/// Builds `n` URLs for the same path, e.g. `/slow` on an upstream.
pub fn repeat_url(url: &str, n: usize) -> Vec<String> {
    vec![url.to_string(); n]
}

/// How many times longer `total` is than one `wait`: the "waits' worth".
pub fn waits_worth(total: Duration, wait: Duration) -> f64 {
    total.as_secs_f64() / wait.as_secs_f64()
}
