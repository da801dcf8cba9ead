//! A static file server for the built book, on loopback only: `cargo xtask
//! serve` uses it on port 3000, the browser tests on an ephemeral port.
//! (tower-http's ServeDir sends `application/wasm`, which streaming
//! WebAssembly compilation needs.) A missing page gets the book's 404.html
//! with status 404, as a static host would serve it.

use std::net::SocketAddr;
use std::path::Path;

use tower_http::services::{ServeDir, ServeFile};

/// Serves `dir` on 127.0.0.1:`port` until Ctrl-C.
pub fn serve_forever(dir: &Path, port: u16) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {e} (try --port)"))?;
        println!("\nServing the book at http://127.0.0.1:{port}/ (Ctrl-C stops)");
        axum::serve(listener, app(dir))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
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

fn app(dir: &Path) -> axum::Router {
    let files = ServeDir::new(dir).not_found_service(ServeFile::new(dir.join("404.html")));
    axum::Router::new().fallback_service(files)
}
