//! Chapter 7 — readers' questions, each settled by a measurement.
//!
//! One module per question (`questions/qNN_*.rs`), each with a `run` that
//! prints its figure: the Python stacks of chapter 6 where the question is
//! about Python (started through [`crate::stacks`] and [`crate::python`]),
//! and a Rust twin always. `examples/ch07_questions.rs` runs them in order
//! (`--only N` runs one, which is how `cargo xtask figures` records each
//! question as its own figure, `src/figures/ch07_qNN.txt`).
//!
//! Leaves out: anything not asked by readers; the chapters' own experiments
//! are reused, not repeated.

pub mod common;
pub mod q01_blocking_call;
pub mod q02_def_or_async;
pub mod q03_threadpool_cap;
pub mod q04_sync_session;
pub mod q05_uvicorn_workers;
pub mod q06_gunicorn_workers;
pub mod q07_yield_cleanup;
pub mod q08_lifespan_tests;
pub mod q09_shutdown;
pub mod q10_switch_interval;
pub mod q11_free_threading;
pub mod q12_django_async;
pub mod q13_django_lifespan;
pub mod q14_disconnect;
pub mod q15_gunicorn_flags;
pub mod script;
pub mod shared;

use crate::python::Venv;

/// What every question's run may use.
pub struct Ctx {
    /// Short runs (the whole chapter in under 60 s once the venv exists).
    pub quick: bool,
    /// The Python venv, or why the Python rows are skipped.
    pub python: Result<Venv, String>,
    /// What the questions of this run share (a PostgreSQL cluster, Python
    /// servers), started on first use, stopped when the run ends.
    pub shared: shared::Shared,
}

impl Ctx {
    pub fn new(quick: bool, python: Result<Venv, String>) -> Ctx {
        Ctx {
            quick,
            python,
            shared: shared::Shared::default(),
        }
    }

    /// The venv, or a line saying why the Python rows are skipped.
    pub fn venv(&self) -> Result<&Venv, &str> {
        self.python.as_ref().map_err(String::as_str)
    }
}

/// One reader's question: its number and page (`src/ch07/SLUG.md`), and the
/// measurement that settles it.
pub struct Question {
    pub number: u8,
    pub slug: &'static str,
    pub title: &'static str,
    /// Whether the figure has Python rows (when `python3` is present).
    pub about_python: bool,
    pub run: fn(&Ctx) -> anyhow::Result<()>,
    /// Starts the servers its run will ask `ctx.shared` for, so that they
    /// can start before it, beside other questions' ([`start_together`]);
    /// a start that fails is left for the run to meet (and report).
    pub prepare: Option<fn(&Ctx)>,
}

/// With `--quick`, the questions whose servers start all at once. A server
/// start is seconds of CPU in one process (uvicorn's and gunicorn's
/// workers import FastAPI or Django); side by side, two cores do two at a
/// time. A server that waits for its question idles: it takes nothing from
/// the questions measured before it. The full run starts each server when
/// its question asks.
pub struct StartGroup {
    pub questions: &'static [u8],
    /// `Some((from, until))`: the group starts in the background when
    /// question `from` begins, beside questions whose loads wait (the cores
    /// are mostly idle meanwhile), and has started before question `until`
    /// (the first CPU-bound one, or the group's first) begins. `None`: it
    /// starts just before the first of the group, nothing measured
    /// meanwhile.
    pub beside: Option<(u8, u8)>,
}

pub const START_TOGETHER: [StartGroup; 4] = [
    StartGroup {
        questions: &[1],
        beside: None,
    },
    // Beside 1: its loads wait (sleeps; its probe reads latencies of a
    // millisecond against a blocked loop's second).
    StartGroup {
        questions: &[2, 3, 4],
        beside: Some((1, 2)),
    },
    // Not beside 3 or 4: ten processes importing FastAPI and Django take
    // both cores for seconds, and starved the loops those two measure.
    StartGroup {
        questions: &[5, 6],
        beside: None,
    },
    // Beside 7 and 8: demonstrations, which wait; question 9's first
    // servers among them (it restarts them on their ports).
    StartGroup {
        questions: &[9, 12, 13, 15],
        beside: Some((7, 10)),
    },
];

/// Servers to start before a question runs ([`start_together`]).
pub struct Start<'q> {
    /// The questions whose servers start, all at once.
    pub questions: Vec<&'q Question>,
    /// `None`: now, before the question runs. `Some(n)`: in the background,
    /// waited for before question `n` (or any later one) begins.
    pub until: Option<u8>,
}

impl Start<'_> {
    /// Starts the servers (each question's [`Question::prepare`]) at once.
    pub fn run(&self, ctx: &Ctx) {
        shared::at_once(
            self.questions
                .iter()
                .filter_map(|q| q.prepare)
                .map(|p| move || p(ctx)),
        );
    }

    /// "question 1" or "questions 2, 3": the questions, for a progress line.
    pub fn named(&self) -> String {
        let numbers: Vec<String> = self
            .questions
            .iter()
            .map(|q| q.number.to_string())
            .collect();
        let s = if numbers.len() == 1 { "" } else { "s" };
        format!("question{s} {}", numbers.join(", "))
    }
}

/// What starts before `current` runs, of the questions `selected`: with
/// `--quick`, each group of [`START_TOGETHER`] starts once — in the
/// background at its `from` question when that one runs before the group,
/// otherwise just before the first of the group. Nothing without
/// `--quick`.
pub fn start_together<'q>(
    ctx: &Ctx,
    current: &Question,
    selected: &[&'q Question],
) -> Vec<Start<'q>> {
    let mut starts = Vec::new();
    for group in START_TOGETHER.iter().filter(|_| ctx.quick) {
        let in_group: Vec<&Question> = selected
            .iter()
            .copied()
            .filter(|q| group.questions.contains(&q.number))
            .collect();
        let Some(first) = in_group.first().map(|q| q.number) else {
            continue;
        };
        let questions: Vec<&Question> = in_group
            .into_iter()
            .filter(|q| q.prepare.is_some())
            .collect();
        let early = group
            .beside
            .filter(|&(from, _)| from < first && selected.iter().any(|q| q.number == from));
        let until = match early {
            Some((from, until)) if from == current.number => Some(until.min(first)),
            None if first == current.number => None,
            _ => continue,
        };
        if !questions.is_empty() {
            starts.push(Start { questions, until });
        }
    }
    starts
}

/// The chapter's questions, in the book's order.
pub const QUESTIONS: [Question; 15] = [
    Question {
        number: 1,
        slug: "q01-blocking-call",
        title: "One blocking call and the whole server freezes",
        about_python: true,
        run: q01_blocking_call::run,
        prepare: Some(q01_blocking_call::prepare),
    },
    Question {
        number: 2,
        slug: "q02-def-or-async",
        title: "`def` or `async def` for an endpoint without I/O?",
        about_python: true,
        run: q02_def_or_async::run,
        prepare: Some(q02_def_or_async::prepare),
    },
    Question {
        number: 3,
        slug: "q03-threadpool-cap",
        title: "Do sync endpoints scale with threads?",
        about_python: true,
        run: q03_threadpool_cap::run,
        prepare: Some(q03_threadpool_cap::prepare),
    },
    Question {
        number: 4,
        slug: "q04-sync-session",
        title: "A sync database session inside `async def`, and an exhausted pool",
        about_python: true,
        run: q04_sync_session::run,
        prepare: Some(q04_sync_session::prepare),
    },
    Question {
        number: 5,
        slug: "q05-uvicorn-workers",
        title: "How many uvicorn workers?",
        about_python: true,
        run: q05_uvicorn_workers::run,
        prepare: Some(q05_uvicorn_workers::prepare),
    },
    Question {
        number: 6,
        slug: "q06-gunicorn-workers",
        title: "gunicorn `sync`, `gthread` or uvicorn workers?",
        about_python: true,
        run: q06_gunicorn_workers::run,
        prepare: Some(q06_gunicorn_workers::prepare),
    },
    Question {
        number: 7,
        slug: "q07-yield-cleanup",
        title: "When does my `yield` dependency's cleanup run?",
        about_python: true,
        run: q07_yield_cleanup::run,
        prepare: None,
    },
    Question {
        number: 8,
        slug: "q08-lifespan-tests",
        title: "Why doesn't lifespan run in my tests?",
        about_python: false,
        run: q08_lifespan_tests::run,
        prepare: None,
    },
    Question {
        number: 9,
        slug: "q09-shutdown",
        title: "Shutdown hangs or loses requests",
        about_python: true,
        run: q09_shutdown::run,
        prepare: Some(q09_shutdown::prepare),
    },
    Question {
        number: 10,
        slug: "q10-switch-interval",
        title: "Should I tune `sys.setswitchinterval`?",
        about_python: true,
        run: q10_switch_interval::run,
        prepare: None,
    },
    Question {
        number: 11,
        slug: "q11-free-threading",
        title: "Does free-threaded Python make async pointless?",
        about_python: false,
        run: q11_free_threading::run,
        prepare: None,
    },
    Question {
        number: 12,
        slug: "q12-django-async",
        title: "Are Django async views as fast as FastAPI?",
        about_python: true,
        run: q12_django_async::run,
        prepare: Some(q12_django_async::prepare),
    },
    Question {
        number: 13,
        slug: "q13-django-lifespan",
        title: "Where is Django's lifespan?",
        about_python: true,
        run: q13_django_lifespan::run,
        prepare: Some(q13_django_lifespan::prepare),
    },
    Question {
        number: 14,
        slug: "q14-disconnect",
        title: "What happens to my handler when the client disconnects?",
        about_python: true,
        run: q14_disconnect::run,
        prepare: None,
    },
    Question {
        number: 15,
        slug: "q15-gunicorn-flags",
        title: "gunicorn `--timeout`, `--preload`, `--max-requests`",
        about_python: true,
        run: q15_gunicorn_flags::run,
        prepare: Some(q15_gunicorn_flags::prepare),
    },
];
