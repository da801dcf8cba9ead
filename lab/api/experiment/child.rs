//! A chapter's server in a child process: the example runs itself again in
//! `serve` mode, so the server's sockets and memory are its own (10,000
//! connections need 20,000 descriptors in one process; RSS read from /proc
//! counts only the server).
//!
//! Left out: spawning and stopping a process group (`crate::process`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::api::Model;
use crate::process::{ChildServer, Ready};

/// Starts `exe serve --model M --workers K --port 0` (an example running
/// itself again, in `serve` mode) and waits for its address.
pub fn serve_in_child(exe: &Path, model: Model) -> anyhow::Result<ChildServer> {
    serve_in_child_limited(exe, model, None)
}

/// [`serve_in_child`], adding `--limit-concurrency N` when `limit` is set.
pub fn serve_in_child_limited(
    exe: &Path,
    model: Model,
    limit: Option<usize>,
) -> anyhow::Result<ChildServer> {
    let mut command = Command::new(exe);
    command.args([
        "serve",
        "--model",
        &model.kind().name(),
        "--port",
        "0",
        "--workers",
    ]);
    command.arg(model.workers().to_string());
    if let Some(limit) = limit {
        command.arg("--limit-concurrency").arg(limit.to_string());
    }
    ChildServer::start(command, Ready::Announces("listening on"), SERVE_READY)
}

/// How long a child server may take to print its address.
pub const SERVE_READY: Duration = Duration::from_secs(10);
