//! Starting and stopping the app, whichever framework serves it: build the
//! resources, *then* bind the port (so no request can arrive before they
//! exist), serve, and on a stop signal drain, close the pool, drop the model.
//!
//! Left out: hot restarts and socket hand-over (systemd socket activation),
//! readiness probes separate from "the port is open".

use std::net::SocketAddr;
use std::sync::Weak;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::events::{Recorder, Step};
use super::resources::{AppResources, Config, Model};
use crate::net;

/// Which framework serves the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Framework {
    Axum,
    Actix,
}

impl Framework {
    pub const ALL: [Framework; 2] = [Framework::Axum, Framework::Actix];

    pub fn name(self) -> &'static str {
        match self {
            Framework::Axum => "axum",
            Framework::Actix => "actix-web",
        }
    }
}

/// What shutdown achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Requests in flight when shutdown began.
    pub in_flight: usize,
    /// Every in-flight request finished before the deadline.
    pub drained: bool,
    /// Pool closed and model dropped within the deadline.
    pub released: bool,
    pub took: Duration,
}

impl ShutdownReport {
    /// The process's exit status: 0 only for a clean shutdown.
    pub fn exit_code(&self) -> i32 {
        if self.drained && self.released { 0 } else { 1 }
    }
}

/// A running app: its address, a way to stop it, a way to watch its model.
pub struct Running {
    pub addr: SocketAddr,
    pub framework: Framework,
    pub recorder: Recorder,
    pub pool: sqlx::SqlitePool,
    model: Weak<Model>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<ShutdownReport>>,
}

// ANCHOR: start
/// Reserve the port, run startup, *then* listen and serve in a background
/// task.
pub async fn start(
    framework: Framework,
    config: Config,
    recorder: Recorder,
    addr: SocketAddr,
) -> anyhow::Result<Running> {
    let socket = net::reserve(addr).map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
    let app = AppResources::start(config, recorder.clone()).await?;
    let listener = net::listen(socket)?; // only now can a client connect
    let addr = listener.local_addr()?;
    recorder.app(Step::Listening(addr));
    let (stop, stopped) = oneshot::channel();
    let (model, pool) = (std::sync::Arc::downgrade(&app.model), app.pool.clone());
    let task = match framework {
        Framework::Axum => {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            tokio::spawn(super::axum_app::serve(listener, app, stopped))
        }
        Framework::Actix => tokio::spawn(super::actix_app::serve(listener, app, stopped)),
    };
    Ok(Running {
        addr,
        framework,
        recorder,
        pool,
        model,
        stop: Some(stop),
        task,
    })
}
// ANCHOR_END: start

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The expensive resource, if it is still alive.
    pub fn model(&self) -> Weak<Model> {
        self.model.clone()
    }

    /// Triggers graceful shutdown and waits for it to finish.
    pub async fn shutdown(mut self) -> anyhow::Result<ShutdownReport> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await?
    }

    /// Serves until the process gets SIGTERM or SIGINT (Ctrl-C), then
    /// shuts down gracefully.
    pub async fn serve_until_signal(self) -> anyhow::Result<ShutdownReport> {
        let name = wait_for_signal().await?;
        eprintln!("got {name}: shutting down gracefully");
        self.shutdown().await
    }
}

// ANCHOR: signal
/// Waits for SIGTERM (what `kill`, Docker and Kubernetes send) or SIGINT.
pub async fn wait_for_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => Ok("SIGTERM"),
            _ = int.recv() => Ok("SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await?;
        Ok("Ctrl-C")
    }
}
// ANCHOR_END: signal

/// The common tail of both frameworks' shutdown: log how draining went,
/// then release the app-wide resources within what is left of the deadline.
pub(super) async fn finish(
    app: AppResources,
    began: Instant,
    in_flight: usize,
    drained: bool,
) -> anyhow::Result<ShutdownReport> {
    let recorder = app.recorder.clone();
    let deadline = app.config.shutdown_deadline;
    if drained {
        recorder.app(Step::Drained {
            took: began.elapsed(),
        });
    } else {
        recorder.app(Step::DeadlineHit {
            in_flight: recorder.in_flight(),
        });
    }
    let left = deadline
        .saturating_sub(began.elapsed())
        .max(Duration::from_secs(1));
    let released = app.close(left).await;
    Ok(ShutdownReport {
        in_flight,
        drained,
        released,
        took: began.elapsed(),
    })
}
