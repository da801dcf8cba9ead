//! A static file server for the built book, on loopback only: `cargo xtask
//! serve` uses it on port 3000, the browser tests on an ephemeral port.
//! (tower-http's ServeDir sends `application/wasm`, which streaming
//! WebAssembly compilation needs.) A missing page gets the book's 404.html
//! with status 404, as a static host would serve it: under `/ko/`, the
//! Korean edition's.
//!
//! With `--watch` (xtask/src/watch.rs) it also tells open pages to reload:
//! every HTML page it sends gets a one-line script that listens on
//! `/__ww/reload` (server-sent events) and reloads on a message. The built
//! files in book/ are never changed; only the watch server adds the script.
//! Leaves out: TLS, caching headers, anything but GET of files.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderValue, Response, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use tokio::sync::watch;
use tower_http::services::{ServeDir, ServeFile};

/// Where open pages listen for "the book was rebuilt" (watch mode only).
const RELOAD_PATH: &str = "/__ww/reload";
/// Added before `</body>` of every HTML page in watch mode.
fn reload_script() -> String {
    format!(
        "<script>/* cargo xtask serve --watch: reload when the book is rebuilt */ \
         new EventSource(\"{RELOAD_PATH}\").onmessage = () => location.reload();</script>"
    )
}
/// A page larger than this is sent as it is, without the reload script.
const MAX_INJECTED_PAGE: usize = 64 << 20;

/// Serves `dir` on 127.0.0.1:`port` until Ctrl-C. With `rebuilt`, open pages
/// reload each time its value changes.
pub fn serve_forever(
    dir: &Path,
    port: u16,
    rebuilt: Option<watch::Receiver<u64>>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {e} (try --port)"))?;
        println!("\nServing the book at http://127.0.0.1:{port}/ (Ctrl-C stops)");
        // Ctrl-C also ends the open reload streams, which graceful shutdown
        // would otherwise wait for forever.
        let (stop_tx, stop_rx) = watch::channel(false);
        let app = match rebuilt {
            Some(rx) => with_live_reload(app(dir), rx, stop_rx),
            None => app(dir),
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = tokio::signal::ctrl_c().await;
                let _ = stop_tx.send(true);
            })
            .await?;
        anyhow::Ok(())
    })
}

/// A server on an ephemeral port, running on its own thread until dropped.
pub struct BackgroundServer {
    pub url: String,
    runtime: Option<tokio::runtime::Runtime>,
}

impl BackgroundServer {
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let url = format!("http://{}/", listener.local_addr()?);
        let app = app(dir);
        runtime.spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            url,
            runtime: Some(runtime),
        })
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The site: each translation under `/LANG/` with its own 404 page, English
/// at the root.
fn app(dir: &Path) -> axum::Router {
    let edition =
        |dir: &Path| ServeDir::new(dir).not_found_service(ServeFile::new(dir.join("404.html")));
    let mut router = axum::Router::new();
    for lang in crate::i18n::LANGUAGES {
        router = router.nest_service(&format!("/{lang}"), edition(&dir.join(lang)));
    }
    router.fallback_service(edition(dir))
}

/// Adds the reload endpoint and the reload script to `app`; each stream ends
/// when `stop` turns true.
fn with_live_reload(
    app: axum::Router,
    rebuilt: watch::Receiver<u64>,
    stop: watch::Receiver<bool>,
) -> axum::Router {
    let events = move || {
        let state = (rebuilt.clone(), stop.clone());
        async move {
            // One event per rebuild; a client that connects later waits for the next.
            let stream = futures_util::stream::unfold(state, |(mut rx, mut stop)| async move {
                // Mark the current build as seen, or a page loaded after a
                // rebuild would be told to reload at once, forever.
                rx.borrow_and_update();
                tokio::select! {
                    changed = rx.changed() => changed.ok()?,
                    _ = stop.wait_for(|&stopped| stopped) => return None,
                }
                let event = Ok::<_, Infallible>(Event::default().data("reload"));
                Some((event, (rx, stop)))
            });
            Sse::new(stream).keep_alive(KeepAlive::default())
        }
    };
    app.route(RELOAD_PATH, axum::routing::get(events))
        .layer(axum::middleware::map_response(inject_reload_script))
}

async fn inject_reload_script(response: Response<Body>) -> Response<Body> {
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html || response.status() != axum::http::StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_INJECTED_PAGE).await else {
        parts.status = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
        return Response::from_parts(parts, Body::from("page too large to inject reload script"));
    };
    let page = String::from_utf8_lossy(&bytes);
    let script = reload_script();
    let page = match page.rfind("</body>") {
        Some(at) => format!("{}{script}{}", &page[..at], &page[at..]),
        None => format!("{page}{script}"),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Response::from_parts(parts, Body::from(page))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Sends a GET on a fresh connection and returns what arrives until
    /// `until` is in it (or the connection closes).
    async fn get(addr: SocketAddr, path: &str, until: &str) -> String {
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        conn.write_all(request.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains(until) {
            let n = conn.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    #[tokio::test]
    async fn watch_mode_injects_the_script_and_signals_each_rebuild() {
        let dir = std::env::temp_dir().join(format!("ww-serve-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("index.html"),
            "<html><body><p>hi</p></body></html>",
        )
        .unwrap();
        std::fs::write(dir.join("404.html"), "<html><body>missing</body></html>").unwrap();
        std::fs::create_dir_all(dir.join("ko")).unwrap();
        std::fs::write(dir.join("ko/index.html"), "<html><body>안녕</body></html>").unwrap();
        std::fs::write(dir.join("ko/404.html"), "<html><body>없음</body></html>").unwrap();
        let (rebuilt, rx) = watch::channel(0u64);
        let (_stop_tx, stop) = watch::channel(false);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = with_live_reload(app(&dir), rx, stop);
        let server = tokio::spawn(async move { axum::serve(listener, app).await });

        let page = get(addr, "/index.html", "</html>").await;
        assert!(
            page.contains("<p>hi</p><script>"),
            "script before </body>: {page}"
        );
        assert!(page.contains(RELOAD_PATH));
        let missing = get(addr, "/nope.html", "</html>").await;
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        assert!(missing.contains("missing"), "{missing}");
        let korean = get(addr, "/ko/index.html", "</html>").await;
        assert!(korean.contains("안녕"), "{korean}");
        let missing = get(addr, "/ko/nope/deep.html", "</html>").await;
        assert!(
            missing.starts_with("HTTP/1.1 404") && missing.contains("없음"),
            "{missing}"
        );

        // A listener that connects after build 1 is not told about build 1.
        rebuilt.send(1).unwrap();
        let listener = tokio::spawn(get(addr, RELOAD_PATH, "data: reload"));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!listener.is_finished(), "a reload was sent with no rebuild");
        rebuilt.send(2).unwrap();
        let events = tokio::time::timeout(std::time::Duration::from_secs(5), listener)
            .await
            .expect("the rebuild reached the open page")
            .unwrap();
        assert!(events.contains("text/event-stream") && events.contains("data: reload"));
        server.abort();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
