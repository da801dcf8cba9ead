//! `cargo xtask`: the book's build, serve and test commands, in Rust so that a
//! fresh machine needs nothing but a Rust toolchain (mdBook and wasm-bindgen
//! are libraries pinned in Cargo.lock, not `cargo install`ed tools).
//!
//! - `cargo xtask book`    build the visualizer to wasm and the book into `book/`
//! - `cargo xtask serve`   the same, then serve it on http://127.0.0.1:3000
//!   (`--watch`: rebuild on a change and reload the open page)
//! - `cargo xtask test`    every check CI runs (README command 2)
//! - `cargo xtask figures` rerun the examples that produce the book's figures (text, JSON record, SVG charts)
//! - `cargo xtask e2e`     only the browser tests; `cargo xtask links` only the link check
//! - `cargo xtask check`   only the checks of the Markdown sources (seconds)
//! - `cargo xtask i18n extract | update | check`  the translations' gettext
//!   workflow (po/messages.pot, po/ko.po; xtask/src/i18n.rs)

mod book;
mod captions;
mod charts;
mod charts_ko;
mod figures;
mod i18n;
mod links;
mod quiz;
mod search;
mod serve;
mod sources;
mod test;
mod tools;
mod watch;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Build, serve and test the Waiting Well book"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum I18nAction {
    /// Write po/messages.pot from the book's sources.
    Extract,
    /// Extract, then merge the messages into po/ko.po (translations kept,
    /// new messages untranslated, changed ones fuzzy).
    Update,
    /// Check po/ko.po: complete, no fuzzy, in step with the sources, quizzes
    /// shaped as in English, glossary terms used.
    Check,
}

#[derive(Subcommand)]
enum Command {
    /// Build the wasm visualizer and the book into book/ (English) and book/ko/ (Korean).
    Book {
        /// Reuse the last visualizer build in src/pkg/ (fast, for editing prose).
        #[arg(long)]
        skip_wasm: bool,
    },
    /// Build the book and serve it on 127.0.0.1 (Ctrl-C stops).
    Serve {
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Rebuild on a change to src/, theme/, po/, book.toml or playground/ and
        /// reload the open page (the visualizer with the fast wasm-dev profile).
        #[arg(long)]
        watch: bool,
    },
    /// Run every check: fmt, clippy, tests, wasm tests in Chromium, book, links, browser tests.
    Test {
        /// Skip the `--quick` smoke runs of every chapter example (release build).
        #[arg(long)]
        skip_examples: bool,
    },
    /// Check the links of the last built book (book/).
    Links,
    /// Build the book and run only the end-to-end browser tests.
    E2e,
    /// Check the book's Markdown sources: headings match SUMMARY.md, Rust
    /// listings are includes, no home or registry paths, quizzes parse whole.
    Check {
        /// The book source folder to check.
        #[arg(long, default_value = "src")]
        src: PathBuf,
    },
    /// The Korean edition's gettext workflow.
    I18n {
        #[command(subcommand)]
        action: I18nAction,
    },
    /// Rerun the examples whose output the book shows, rewriting src/figures/.
    Figures {
        /// Only the figures whose file name contains this text (e.g. ch01).
        filter: Option<String>,
        /// Pass --quick to every example (faster, noisier numbers).
        #[arg(long)]
        quick: bool,
        /// Check the pipeline only: a dev-profile build, written to
        /// figures-dev/ in cargo's target folder (never the book's figures) and checked there.
        #[arg(long)]
        dev: bool,
        /// Only redraw the charts from the recorded runs (NAME.json) already
        /// there, without rerunning the examples (after a change of design).
        #[arg(long)]
        charts_only: bool,
    },
    /// Internal: the cargo runner for wasm32 tests (wraps wasm-bindgen-test-runner).
    #[command(hide = true)]
    WasmTestRunner {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    started();
    let cli = Cli::parse();
    std::env::set_current_dir(workspace_root())?;
    match cli.command {
        Command::Book { skip_wasm: true } => book::build_book().map(|_| ()),
        Command::Book { skip_wasm: false } => book::build_all().map(|_| ()),
        Command::Serve { port, watch: true } => watch::serve_and_watch(port),
        Command::Serve { port, watch: false } => {
            let dir = book::build_all()?;
            serve::serve_forever(&dir, port, None)
        }
        Command::Test { skip_examples } => test::run_all(skip_examples),
        Command::I18n { action } => match action {
            I18nAction::Extract => i18n::extract(),
            I18nAction::Update => i18n::update(),
            I18nAction::Check => i18n::check(),
        },
        Command::Links => links::check_site(std::path::Path::new("book")),
        Command::E2e => test::browser_tests(&book::build_all()?),
        Command::Check { src } => sources::check(&src),
        Command::Figures {
            filter,
            quick,
            dev,
            charts_only,
        } => figures::regenerate(filter.as_deref(), quick, dev, charts_only),
        Command::WasmTestRunner { args } => {
            let argv = std::iter::once("wasm-bindgen-test-runner".to_string()).chain(args);
            wasm_bindgen_cli::wasm_bindgen_test_runner::run_cli_with_args(argv)
        }
    }
}

/// The repository root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

/// Prints a step heading, so a long `cargo xtask test` log reads as a list,
/// with the time since the command started: a CI log then says which step
/// took its minutes (CI's budget is 45 of them).
pub fn step(what: &str) {
    println!("\n==> [{:>4} s] {what}", started().elapsed().as_secs());
}

/// When this command started (the first call, made first thing in `main`).
fn started() -> std::time::Instant {
    static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *STARTED.get_or_init(std::time::Instant::now)
}

/// Runs a command, failing with its name if it does not exit 0.
pub fn run(cmd: &mut std::process::Command) -> anyhow::Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| anyhow::anyhow!("could not start {shown}: {e}"))?;
    anyhow::ensure!(status.success(), "{shown} failed ({status})");
    Ok(())
}

/// Cargo's output folder: `$CARGO_TARGET_DIR`, else `target` (xtask runs
/// from the workspace root).
pub fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), Into::into)
}

/// `cargo` as the one running xtask (honours the rustup toolchain).
pub fn cargo() -> std::process::Command {
    std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}
