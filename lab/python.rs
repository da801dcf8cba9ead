//! The Python side of the lab, seen from Rust: find a `python3` ≥ 3.10, make
//! the virtual environment under `target/` from the pinned, hashed
//! `python/requirements.txt`, and build the command line of each Python
//! stack — uvicorn or gunicorn on `127.0.0.1:PORT`, started in `python/`
//! ([`uvicorn`] and [`gunicorn`] serve any app of `python/` that way;
//! [`in_python_dir`] runs any other program there);
//! and what the runners with Python rows (chapters 6 and 7) share: their
//! `--quick`/`--no-python` flags ([`RunnerArgs`]) and the venv or the reason
//! their Python rows are skipped ([`venv_or_skip`]).
//!
//! This module only says *what* to run. Starting, watching and stopping the
//! processes (uvicorn's and gunicorn's workers are grandchildren) is the
//! caller's job. A stack is ready when its port accepts a TCP connection
//! ([`wait_until_accepting`]); uvicorn also prints `Uvicorn running on` and
//! gunicorn `Listening at:` on stderr. Left out: Windows (gunicorn is
//! Unix-only), conda, a shared pip cache.

use std::ffi::OsStr;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The oldest Python the pinned requirements support.
pub const MIN_PYTHON: (u32, u32) = (3, 10);

/// A Python interpreter found on this machine.
#[derive(Debug, Clone)]
pub struct Python {
    pub program: PathBuf,
    /// `(major, minor, micro)`.
    pub version: (u32, u32, u32),
}

/// The folder with the Python apps and `requirements.txt`.
pub fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// Cargo's target folder: `$CARGO_TARGET_DIR`, else `target/` in the repo.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// The first Python ≥ 3.10 among `$WW_PYTHON`, `python3`, `python3.13` …
/// `python3.10`; the error says what was tried and found, for the "skipped"
/// line.
pub fn find_python() -> anyhow::Result<Python> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("WW_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.extend(
        [
            "python3",
            "python3.13",
            "python3.12",
            "python3.11",
            "python3.10",
        ]
        .map(PathBuf::from),
    );
    let mut seen = Vec::new();
    for program in candidates {
        let Some(version) = version_of(&program) else {
            continue;
        };
        if (version.0, version.1) >= MIN_PYTHON {
            return Ok(Python { program, version });
        }
        seen.push(format!(
            "{} is {}.{}.{}",
            program.display(),
            version.0,
            version.1,
            version.2
        ));
    }
    let found = if seen.is_empty() {
        "none found".to_string()
    } else {
        seen.join(", ")
    };
    bail!("no python3 ≥ 3.10 ({found})")
}

fn version_of(program: &Path) -> Option<(u32, u32, u32)> {
    let out = Command::new(program)
        .args(["-c", "import sys; print(*sys.version_info[:3])"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let mut parts = text.split_whitespace().map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// A virtual environment with the pinned requirements installed.
#[derive(Debug, Clone)]
pub struct Venv {
    pub dir: PathBuf,
}

impl Venv {
    /// Reuses or makes `target/python-venv/py3.X-HASH`, keyed by the Python
    /// version and the bytes of `requirements.txt`, so a changed pin makes a
    /// new one. Installing takes about a minute the first time (it downloads
    /// wheels); `progress` hears what is happening. The `.installed` marker
    /// is written last, so an interrupted install is redone next time.
    pub fn ensure(python: &Python, mut progress: impl FnMut(&str)) -> anyhow::Result<Venv> {
        let requirements = python_dir().join("requirements.txt");
        let pins = std::fs::read(&requirements)
            .with_context(|| format!("reading {}", requirements.display()))?;
        let (major, minor, _) = python.version;
        let dir = target_dir()
            .join("python-venv")
            .join(format!("py{major}.{minor}-{:016x}", fnv1a(&pins)));
        let venv = Venv { dir };
        let marker = venv.dir.join(".installed");
        if marker.exists() {
            return Ok(venv);
        }
        progress(&format!(
            "creating a Python {major}.{minor} virtual environment in {}",
            venv.dir.display()
        ));
        if venv.dir.exists() {
            std::fs::remove_dir_all(&venv.dir)?; // a half-made one
        }
        run(Command::new(&python.program)
            .args(["-m", "venv"])
            .arg(&venv.dir))?;
        progress("installing the pinned requirements (pip --require-hashes; a one-off minute)");
        run(Command::new(venv.bin("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--require-hashes", "--only-binary=:all:", "-r"])
            .arg(&requirements))?;
        std::fs::write(&marker, b"")?;
        Ok(venv)
    }

    /// A program in the venv's `bin/`.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }
}

/// The flags of a runner with Python rows, flattened into its command line
/// (`#[command(flatten)]`).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct RunnerArgs {
    /// Short runs (under 60 s once the venv exists) instead of the full ones.
    #[arg(long)]
    pub quick: bool,
    /// Skip the Python stacks on purpose (the Rust twins still run).
    #[arg(long)]
    pub no_python: bool,
}

/// The venv for a runner's Python rows, made on first use (its steps on
/// stderr), or why the rows are skipped — `--no-python`, no python3 ≥ 3.10,
/// or a venv that could not be made — for the runner to print.
pub fn venv_or_skip(no_python: bool) -> Result<Venv, String> {
    if no_python {
        return Err("--no-python".to_string());
    }
    let python = find_python().map_err(|why| why.to_string())?;
    Venv::ensure(&python, |step| eprintln!("python: {step}"))
        .map_err(|why| format!("the venv could not be made: {why:#}"))
}

/// Runs `command` to completion; a failure carries its output.
fn run(command: &mut Command) -> anyhow::Result<()> {
    let out = command
        .output()
        .with_context(|| format!("starting {command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// FNV-1a, 64 bits: a stable fingerprint of the requirements file.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The Python stacks of chapter 6. clap derives their command-line names
/// (`fastapi-async`, …) from the variants, and their help from these comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stack {
    /// uvicorn + FastAPI, `async def` endpoints.
    FastapiAsync,
    /// uvicorn + FastAPI, `def` endpoints (its 40-thread pool).
    FastapiDef,
    /// uvicorn + FastAPI, `async def` calling `time.sleep` (the bug).
    FastapiBlocked,
    /// gunicorn `sync` workers + Django REST framework.
    DjangoSync,
    /// gunicorn `gthread` workers + Django REST framework.
    DjangoGthread,
}

/// How to run a stack: processes, threads and the database.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// uvicorn `--workers` or gunicorn `--workers`.
    pub workers: usize,
    /// gunicorn `--threads` (gthread only).
    pub threads: usize,
    /// A SQLite file path or a PostgreSQL DSN (`WW_DATABASE`).
    pub database: String,
    /// The injected round trip before every `/users` query (`WW_DB_LATENCY_MS`).
    pub db_latency: Duration,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            workers: 1,
            threads: 4,
            database: std::env::temp_dir()
                .join("waiting-well.sqlite")
                .display()
                .to_string(),
            db_latency: Duration::ZERO,
        }
    }
}

/// Chapter 6's per-request-CPU knobs: documented switches of the real
/// servers, each measured once against the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Knobs {
    /// uvicorn `--loop asyncio --http h11` (pure-Python HTTP parsing on
    /// the standard event loop) instead of uvloop + httptools.
    pub plain_asyncio: bool,
    /// FastAPI answers written by orjson (`WW_JSON=orjson`) instead of the
    /// standard library's json.
    pub orjson: bool,
}

impl Knobs {
    /// The uvicorn `--loop` and `--http` values.
    pub fn loop_and_http(&self) -> [&'static str; 2] {
        if self.plain_asyncio {
            ["asyncio", "h11"]
        } else {
            ["uvloop", "httptools"]
        }
    }

    /// The `WW_JSON` value.
    pub fn json(&self) -> &'static str {
        if self.orjson { "orjson" } else { "json" }
    }
}

impl Stack {
    /// The name on the command line (`fastapi-async`, …), as clap derives it.
    pub fn name(&self) -> String {
        clap::ValueEnum::to_possible_value(self)
            .expect("no variant is skipped")
            .get_name()
            .to_string()
    }

    /// FastAPI (answers like the Rust servers) or DRF (its own answers).
    pub fn is_fastapi(&self) -> bool {
        matches!(
            self,
            Stack::FastapiAsync | Stack::FastapiDef | Stack::FastapiBlocked
        )
    }
}

/// A program run the way the lab runs every Python server and script: in
/// `python/` (so the apps import), with bytecode caches under `target/`,
/// not in `python/`.
///
/// The caches must be written: with a prefix set, Python reads `.pyc`
/// files only under it (not the venv's own `__pycache__`), so an inherited
/// `PYTHONDONTWRITEBYTECODE` (some containers set it) would make every
/// process compile FastAPI, Pydantic and Django from source again — about
/// 0.8 s of CPU per process here, on every server start.
pub fn in_python_dir(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(python_dir())
        .env("PYTHONPYCACHEPREFIX", target_dir().join("python-pycache"))
        .env_remove("PYTHONDONTWRITEBYTECODE");
    command
}

// ANCHOR: command
impl Stack {
    /// The command line that serves this stack on `127.0.0.1:port`, run in
    /// `python/` with the venv's programs. Access logs are off (gunicorn's
    /// default; uvicorn's costs CPU on every request).
    pub fn command(&self, venv: &Venv, port: u16, options: &StackOptions) -> Command {
        self.command_with(venv, port, options, Knobs::default())
    }

    /// [`Stack::command`] with chapter 6's knobs turned (the uvicorn loop and
    /// parser apply to the FastAPI stacks, orjson to FastAPI's answers).
    pub fn command_with(
        &self,
        venv: &Venv,
        port: u16,
        options: &StackOptions,
        knobs: Knobs,
    ) -> Command {
        let workers = options.workers;
        let fastapi = |app| uvicorn(venv, app, port, workers, knobs);
        let django = |class| gunicorn(venv, "django_app.wsgi", port, workers, class);
        let mut command = match self {
            Stack::FastapiAsync => fastapi("fastapi_app.async_app:app"),
            Stack::FastapiDef => fastapi("fastapi_app.def_app:app"),
            Stack::FastapiBlocked => fastapi("fastapi_app.blocked_app:app"),
            Stack::DjangoSync => django(WorkerClass::Sync),
            Stack::DjangoGthread => django(WorkerClass::Gthread(options.threads)),
        };
        command
            .env("WW_DATABASE", &options.database)
            .env(
                "WW_DB_LATENCY_MS",
                options.db_latency.as_millis().to_string(),
            )
            .env("WW_JSON", knobs.json());
        command
    }
}

/// `uvicorn APP --host 127.0.0.1 --port PORT --workers N`, on the knobs'
/// event loop and HTTP parser, without access log: an ASGI app of
/// `python/` (`MODULE:app`) as the book serves it.
pub fn uvicorn(venv: &Venv, app: &str, port: u16, workers: usize, knobs: Knobs) -> Command {
    let [event_loop, http] = knobs.loop_and_http();
    let mut command = in_python_dir(venv.bin("uvicorn"));
    command
        .args([app, "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--workers", &workers.to_string()])
        .args(["--loop", event_loop, "--http", http])
        .arg("--no-access-log");
    command
}

/// gunicorn's worker class (`-k`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerClass {
    /// `-k sync`: one request at a time per worker process.
    Sync,
    /// `-k gthread --threads N`: N requests at a time per worker process.
    Gthread(usize),
}

/// `gunicorn APP --bind 127.0.0.1:PORT --workers N -k CLASS`, without the
/// control socket (since 25.1 gunicorn opens one by default, at one path
/// per user): a WSGI app of `python/` (`MODULE` or `MODULE:app`) as the
/// book serves it. Other flags go after it (`.args([...])`).
pub fn gunicorn(venv: &Venv, app: &str, port: u16, workers: usize, class: WorkerClass) -> Command {
    let mut command = in_python_dir(venv.bin("gunicorn"));
    command
        .args([app, "--bind", &format!("127.0.0.1:{port}")])
        .args(["--workers", &workers.to_string()])
        .arg("--no-control-socket");
    match class {
        WorkerClass::Sync => command.args(["-k", "sync"]),
        WorkerClass::Gthread(threads) => {
            command.args(["-k", "gthread", "--threads", &threads.to_string()])
        }
    };
    command
}
// ANCHOR_END: command

/// Waits until `addr` accepts a TCP connection, or `timeout` passes.
pub fn wait_until_accepting(addr: SocketAddr, timeout: Duration) -> std::io::Result<()> {
    let start = Instant::now();
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(_) => return Ok(()),
            Err(e) if start.elapsed() >= timeout => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names_round_trip() {
        use clap::ValueEnum as _;
        for stack in Stack::value_variants() {
            assert_eq!(Stack::from_str(&stack.name(), false), Ok(*stack));
        }
        assert!(Stack::from_str("flask", false).is_err());
    }

    /// A command as the words it runs, and where and with what it runs.
    fn words(command: &Command) -> Vec<String> {
        std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|w| w.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn each_stack_has_its_command_line() {
        let venv = Venv {
            dir: PathBuf::from("/venv"),
        };
        let options = StackOptions {
            workers: 2,
            threads: 8,
            database: "postgresql://app@127.0.0.1:5432/db".into(),
            db_latency: Duration::from_millis(3),
        };
        let line = |stack: Stack| words(&stack.command(&venv, 8000, &options)).join(" ");
        let gunicorn = "/venv/bin/gunicorn django_app.wsgi --bind 127.0.0.1:8000 --workers 2 \
                        --no-control-socket -k";
        assert_eq!(line(Stack::DjangoSync), format!("{gunicorn} sync"));
        assert_eq!(
            line(Stack::DjangoGthread),
            format!("{gunicorn} gthread --threads 8")
        );
        for (stack, app) in [
            (Stack::FastapiAsync, "async_app"),
            (Stack::FastapiDef, "def_app"),
            (Stack::FastapiBlocked, "blocked_app"),
        ] {
            assert_eq!(
                line(stack),
                format!(
                    "/venv/bin/uvicorn fastapi_app.{app}:app --host 127.0.0.1 --port 8000 \
                     --workers 2 --loop uvloop --http httptools --no-access-log"
                )
            );
        }
        let knobs = Knobs {
            plain_asyncio: true,
            orjson: true,
        };
        let command = Stack::FastapiAsync.command_with(&venv, 8000, &options, knobs);
        assert!(
            words(&command)
                .join(" ")
                .contains("--loop asyncio --http h11")
        );
        assert_eq!(command.get_current_dir(), Some(python_dir().as_path()));
        let envs: Vec<(String, String)> = command
            .get_envs()
            .map(|(k, v)| {
                let text = |s: &OsStr| s.to_string_lossy().into_owned();
                (text(k), v.map(text).unwrap_or_default())
            })
            .collect();
        let pycache = target_dir().join("python-pycache").display().to_string();
        for (name, value) in [
            ("WW_DATABASE", "postgresql://app@127.0.0.1:5432/db"),
            ("WW_DB_LATENCY_MS", "3"),
            ("WW_JSON", "orjson"),
            ("PYTHONPYCACHEPREFIX", pycache.as_str()),
        ] {
            assert!(
                envs.contains(&(name.to_string(), value.to_string())),
                "{name}={value} not in {envs:?}"
            );
        }
        // The bytecode caches are written even where the environment says not to.
        assert!(
            command
                .get_envs()
                .any(|(k, v)| k == "PYTHONDONTWRITEBYTECODE" && v.is_none()),
            "PYTHONDONTWRITEBYTECODE is not removed: {envs:?}"
        );
    }

    #[test]
    fn the_venv_key_follows_the_pins() {
        assert_ne!(fnv1a(b"fastapi==1"), fnv1a(b"fastapi==2"));
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    }
}
