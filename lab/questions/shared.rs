//! What the questions of one run share: one throwaway PostgreSQL cluster
//! (questions 4 and 13) and the Python servers that several questions run
//! with the same app and settings — chapter 6's FastAPI app under uvicorn
//! with one or two workers (questions 5, 6, 12, 13) and Django's ASGI app
//! (questions 12, 13). Each is started on first use and stopped when the
//! run ends (when the [`Ctx`](super::Ctx) is dropped), so `--only N` starts
//! only what question N needs and a run of all fifteen starts each once.
//! [`at_once`] and [`both`] start a question's servers side by side.
//! A question's own servers (an app of `python/questions/`, 6's gunicorns,
//! 13's Django settings, 15's gunicorn flags) are kept here too, so that
//! with `--quick` they can start together with other questions'
//! ([`start_together`](super::start_together)); the question hands each
//! back ([`Shared::release`]) when it is done with it.
//!
//! Why: a start costs seconds of CPU on two cores — uvicorn's workers
//! import FastAPI and Pydantic, gunicorn's import Django, `initdb` writes a
//! cluster — and the `--quick` run of all fifteen questions has 60 s. A
//! shared server may have served an earlier question's requests; the
//! recorded figures are each made by `--only N`, where every server is
//! fresh.
//!
//! Servers a question stops on purpose (question 9's) are kept only until
//! it takes them ([`Shared::take`]).

use std::sync::{Arc, Mutex, OnceLock};

use super::common::{PythonServer, python_app, wait_until_serving};
use super::q12_django_async::{DB_LATENCY, start_django_asgi};
use crate::postgres::Postgres;
use crate::process::{ChildServer, Ready};
use crate::python::{Stack, StackOptions, Venv, target_dir};
use crate::stacks;

type Slot = Arc<Mutex<Option<Arc<ChildServer>>>>;

/// The run's shared cluster and servers (see the module's comment).
#[derive(Default)]
pub struct Shared {
    postgres: OnceLock<Result<Postgres, String>>,
    /// One slot per server, by key: empty until its first start succeeds.
    servers: Mutex<Vec<(String, Slot)>>,
}

impl Shared {
    /// The run's PostgreSQL cluster (made on first use, under `target/`),
    /// or why there is none.
    pub fn postgres(&self) -> Result<&Postgres, String> {
        self.postgres
            .get_or_init(|| {
                Postgres::start(&target_dir().join("ch07-postgres")).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Chapter 6's FastAPI app (`async def`) under uvicorn with `workers`
    /// workers, as questions 5, 6, 12 and 13 run it: a fresh SQLite file of
    /// its own, and question 12's 20 ms injected before every `/users`
    /// query (the other questions never ask `/users`). Ready when every
    /// worker has started and one `GET /hello` is answered.
    pub fn fastapi(&self, venv: &Venv, workers: usize) -> anyhow::Result<Arc<ChildServer>> {
        self.server(&format!("fastapi-async --workers {workers}"), || {
            let options = StackOptions {
                workers,
                threads: 1,
                database: fresh_sqlite(&format!("ch07-fastapi-{workers}")),
                db_latency: DB_LATENCY,
            };
            let port = stacks::free_port()?;
            let mut command = Stack::FastapiAsync.command(venv, port, &options);
            // uvicorn's supervisor kills a worker that has not answered its
            // health check within 5 s: on a busy machine, one still
            // importing FastAPI, again and again.
            command.args(["--timeout-worker-healthcheck", "60"]);
            let ready = Ready::Accepts(([127, 0, 0, 1], port).into());
            let server = ChildServer::start(command, ready, stacks::READY_WITHIN)?;
            wait_until_serving(&server, "/hello", Some(workers))?;
            Ok(server)
        })
    }

    /// Django's ASGI app (`python/questions/djasync/`) under uvicorn, one
    /// worker, as questions 12 and 13 run it: a fresh SQLite file and the
    /// same 20 ms before every `/users` query.
    pub fn django_asgi(&self, venv: &Venv) -> anyhow::Result<Arc<ChildServer>> {
        self.server("django-asgi", || {
            let server = start_django_asgi(venv, &fresh_sqlite("ch07-django-asgi"), DB_LATENCY)?;
            stacks::drain(&server, "/hello", stacks::READY_WITHIN)?;
            Ok(server)
        })
    }

    /// A small app of `python/questions/` ([`python_app`]) kept like the
    /// others, by its name, server and environment: with `--quick` it may
    /// start before its question, beside others. Handed back with
    /// [`Shared::release`] when the question is done with it.
    pub fn app(
        &self,
        venv: &Venv,
        app: &str,
        server_kind: &PythonServer,
        env: &[(&str, String)],
    ) -> anyhow::Result<Arc<ChildServer>> {
        let key = format!("{app} {server_kind:?} {env:?}");
        self.server(&key, || python_app(venv, app, server_kind, env))
    }

    /// Forgets `server` and stops it (its process group is killed, as when
    /// any [`ChildServer`] is dropped) unless another holder still has it:
    /// a question's own server does not run on through the questions after
    /// it. Its measurements are over: nothing is lost by not waiting for a
    /// graceful exit.
    pub fn release(&self, server: Arc<ChildServer>) {
        self.servers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(_, slot)| {
                // A slot locked by another thread is a server still
                // starting, not this one (waiting for it could deadlock).
                let Ok(slot) = slot.try_lock() else {
                    return true;
                };
                !slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, &server))
            });
        drop(server);
    }

    /// The server kept under `key` (started by `start` if it is not),
    /// handed over for good: the run forgets it, and the caller may stop
    /// it on purpose (question 9 sends SIGTERM to its servers).
    pub fn take(
        &self,
        key: &str,
        start: impl FnOnce() -> anyhow::Result<ChildServer>,
    ) -> anyhow::Result<ChildServer> {
        let server = self.server(key, start)?;
        self.servers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(k, _)| k != key);
        Arc::try_unwrap(server).map_err(|_| anyhow::anyhow!("the server {key} is still shared"))
    }

    /// The server kept under `key`, started by `start` the first time. A
    /// caller that asks while another thread is starting the same server
    /// (questions whose servers start together, see
    /// [`start_together`](super::start_together)) waits for that one rather
    /// than starting a second. A start that fails is not kept: the next
    /// caller tries again (and reports its own error).
    pub fn server(
        &self,
        key: &str,
        start: impl FnOnce() -> anyhow::Result<ChildServer>,
    ) -> anyhow::Result<Arc<ChildServer>> {
        let slot = {
            let mut servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
            match servers.iter().find(|(k, _)| k == key) {
                Some((_, slot)) => slot.clone(),
                None => {
                    let slot = Arc::new(Mutex::new(None));
                    servers.push((key.to_string(), slot.clone()));
                    slot
                }
            }
        };
        // Held while starting: the run's other servers start meanwhile
        // (each has a slot of its own), a second caller for this one waits.
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(server) = slot.as_ref() {
            return Ok(server.clone());
        }
        let server = Arc::new(start()?);
        *slot = Some(server.clone());
        Ok(server)
    }
}

/// A SQLite path under `target/` with nothing at it yet (the apps create
/// their tables), so one run's users never meet the last run's.
fn fresh_sqlite(name: &str) -> String {
    let path = target_dir().join(format!("{name}.sqlite"));
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path.display().to_string()
}

/// Runs every job at once, each on its own thread (servers starting side
/// by side: their imports share the cores instead of waiting in turn), and
/// returns their results in order. A job that panics panics here.
pub fn at_once<T: Send, F: FnOnce() -> T + Send>(jobs: impl IntoIterator<Item = F>) -> Vec<T> {
    std::thread::scope(|scope| {
        let running: Vec<_> = jobs.into_iter().map(|job| scope.spawn(job)).collect();
        running
            .into_iter()
            .map(|r| r.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Runs `a` and `b` at once, `a` on a thread of its own: [`at_once`] for
/// two jobs of different kinds.
pub fn both<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|scope| {
        let a = scope.spawn(a);
        let b = b();
        (a.join().unwrap_or_else(|e| std::panic::resume_unwind(e)), b)
    })
}
