//! `cargo xtask test`: every check, in the order that fails fastest. This is
//! README command 2 and what `.ci/run` calls.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{book, cargo, figures, i18n, links, run, serve, sources, step, tools};

pub fn run_all(skip_examples: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    step("cargo fmt --check");
    run(cargo().args(["fmt", "--all", "--check"]))?;
    sources::check(Path::new("src"))?;
    i18n::check()?;

    step("cargo clippy (native, all targets) -D warnings");
    run(cargo().args([
        "clippy",
        "--locked",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    tools::ensure_wasm_target()?;
    step("cargo clippy (the visualizer, wasm32) -D warnings");
    run(cargo().args([
        "clippy",
        "--locked",
        "--package",
        "waiting-well-viz",
        "--target",
        "wasm32-unknown-unknown",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;

    step("cargo test --workspace");
    tools::ensure_postgres()?; // tests/python_contract.rs also runs the apps on it
    run(cargo().args(["test", "--locked", "--workspace"]))?;

    step("wasm tests in headless Chromium");
    tools::ensure_chromium()?;
    let runner = format!("{} wasm-test-runner", std::env::current_exe()?.display());
    run(cargo()
        .args([
            "test",
            "--locked",
            "--package",
            "waiting-well-viz",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", runner)
        .env("CHROMEDRIVER", tools::chromedriver())
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120"))?;

    let site = book::build_all()?;
    figures::check_recorded()?;
    step("internal link check");
    links::check_site(&site)?;

    browser_tests(&site)?;

    if !skip_examples {
        smoke_examples()?;
    }
    println!("\nall checks passed in {:.0?}", started.elapsed());
    Ok(())
}

/// Serves the built site on an ephemeral loopback port and runs the Node
/// browser tests (tests/e2e) against it in headless Debian Chromium, once
/// per edition (English, then each translation).
pub fn browser_tests(site: &Path) -> anyhow::Result<()> {
    step("end-to-end browser tests of the built book");
    tools::ensure_chromium()?;
    let e2e = Path::new("tests/e2e");
    tools::ensure_e2e_packages(e2e)?;
    let server = serve::BackgroundServer::start(site)?;
    println!("book served at {}", server.url);
    // Every test file once per edition: English at the root, each translation
    // under its folder (tests/e2e/browser.mjs reads BOOK_URL and WW_LANG).
    let editions = std::iter::once(("en".to_string(), server.url.clone())).chain(
        i18n::LANGUAGES
            .iter()
            .map(|lang| (lang.to_string(), format!("{}{lang}/", server.url))),
    );
    for (lang, url) in editions {
        step(&format!("browser tests, edition {lang} ({url})"));
        run(Command::new("node")
            .args(["--test", "--test-concurrency=1"])
            .current_dir(e2e)
            .env("BOOK_URL", &url)
            .env("WW_LANG", &lang)
            .env("CHROMIUM_PATH", tools::chromium()))?;
    }
    Ok(())
}

/// Every chapter example with `--quick`, in release mode as the README tells
/// readers to run it: it must exit 0. Its time is printed against its goal and
/// bounded (a hang fails the run rather than stalling CI).
fn smoke_examples() -> anyhow::Result<()> {
    step("chapter examples, --quick, release");
    // --bins: the examples' child servers are watched by ww-watchdog.
    run(cargo().args(["build", "--locked", "--release", "--examples", "--bins"]))?;
    for (example, goal) in figures::CHAPTER_EXAMPLES {
        let path = crate::target_dir().join("release/examples").join(example);
        let started = Instant::now();
        let mut child = Command::new(&path)
            .arg("--quick")
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", path.display()))?;
        let limit = Duration::from_secs(goal * 4);
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                anyhow::bail!("{example} --quick still running after {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let took = started.elapsed();
        println!("{example} --quick: {status} in {took:.1?} (goal {goal} s)");
        anyhow::ensure!(status.success(), "{example} --quick failed: {status}");
    }
    Ok(())
}
