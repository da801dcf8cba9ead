//! `cargo xtask serve --watch`: a writer's live preview. Serves the book as
//! `cargo xtask serve` does (every edition), watches `src/`, `theme/`, `po/`
//! (the translations), `book.toml` and `playground/`, rebuilds on a change and tells open pages to reload
//! (xtask/src/serve.rs adds the reload script, in watch mode only).
//!
//! - A change to the book's text or theme rebuilds the book only (mdBook as a
//!   library, well under a second for this book).
//! - A change under `playground/` first rebuilds the visualizer with the
//!   `wasm-dev` profile (no LTO, incremental), not the `wasm` profile the
//!   published book uses, so the loop stays seconds, not minutes.
//!
//! File events come from `notify` (inotify on Linux). Reads are not changes:
//! notify also reports files being opened, and the build itself opens every
//! chapter, so access events are dropped or each build would trigger the
//! next. Changes are debounced (rebuild once the files have been quiet for
//! `DEBOUNCE`), so one editor save, often several events, is one rebuild. A
//! failed build prints its error and keeps the last good site; the next save
//! tries again.
//! Leaves out: rebuilding only the changed chapter (mdBook has no such mode).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};

use crate::book::{self, PKG_DIR, WasmProfile};

/// Quiet time after the last file event before rebuilding.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// What a batch of changed paths needs rebuilt.
#[derive(Debug, PartialEq, Eq)]
enum Rebuild {
    Nothing,
    Book,
    VisualizerAndBook,
}

/// Classifies changed paths (relative to the repository root or absolute
/// under it). The visualizer's generated output in src/pkg/ is ignored, or a
/// wasm rebuild would trigger itself.
fn what_to_rebuild(root: &Path, paths: &[PathBuf]) -> Rebuild {
    let mut need = Rebuild::Nothing;
    for path in paths {
        let rel = path.strip_prefix(root).unwrap_or(path);
        if rel.starts_with(PKG_DIR) || rel.starts_with("playground/web/bench") {
            continue;
        }
        if rel.starts_with("playground") {
            if rel.components().any(|c| c.as_os_str() == "target") {
                continue;
            }
            return Rebuild::VisualizerAndBook;
        }
        if rel.starts_with("src")
            || rel.starts_with("theme")
            || rel.starts_with("po")
            || rel == Path::new("book.toml")
        {
            need = Rebuild::Book;
        }
    }
    need
}

/// Builds, serves on `port`, and rebuilds + reloads on every change until Ctrl-C.
pub fn serve_and_watch(port: u16) -> anyhow::Result<()> {
    let root = std::env::current_dir()?;
    if Path::new(PKG_DIR).join("waiting_well_viz_bg.wasm").exists() {
        println!("reusing the visualizer in {PKG_DIR}/ (a change under playground/ rebuilds it)");
    } else {
        book::build_visualizer(WasmProfile::Fast)?;
    }
    let site = book::build_book()?;

    let (rebuilt_tx, rebuilt_rx) = tokio::sync::watch::channel(0u64);
    let (changes_tx, changes) = mpsc::channel::<PathBuf>();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(e) if matches!(e.kind, EventKind::Access(_)) => {}
            Ok(e) => e.paths.into_iter().for_each(|p| {
                let _ = changes_tx.send(p);
            }),
            Err(e) => eprintln!("watch error: {e}"),
        })?;
    for dir in ["src", "theme", "po", "playground"] {
        watcher.watch(&root.join(dir), RecursiveMode::Recursive)?;
    }
    // The root itself, not book.toml: editors often save by replacing the
    // file, and a watch on the old file would go quiet.
    watcher.watch(&root, RecursiveMode::NonRecursive)?;
    println!("watching src/, theme/, po/, book.toml and playground/ for changes");

    // The rebuild loop runs beside the server; it ends when the server does.
    std::thread::spawn(move || {
        let mut builds = 0u64;
        while let Ok(first) = changes.recv() {
            // Debounce: collect until the files have been quiet for DEBOUNCE.
            let mut paths = vec![first];
            while let Ok(more) = changes.recv_timeout(DEBOUNCE) {
                paths.push(more);
            }
            paths.sort();
            paths.dedup();
            let need = what_to_rebuild(&root, &paths);
            if need == Rebuild::Nothing {
                continue;
            }
            let started = Instant::now();
            let result = match need {
                Rebuild::VisualizerAndBook => {
                    book::build_visualizer(WasmProfile::Fast).and_then(|()| book::build_book())
                }
                _ => book::build_book(),
            };
            match result {
                Ok(_) => {
                    builds += 1;
                    let _ = rebuilt_tx.send(builds);
                    println!(
                        "rebuilt in {:.2?} ({} paths changed); reloading open pages",
                        started.elapsed(),
                        paths.len()
                    );
                }
                Err(e) => eprintln!("build failed, keeping the last good site: {e:#}"),
            }
        }
    });

    crate::serve::serve_forever(&site, port, Some(rebuilt_rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(paths: &[&str]) -> Rebuild {
        let root = Path::new("/repo");
        let paths: Vec<PathBuf> = paths.iter().map(|p| root.join(p)).collect();
        what_to_rebuild(root, &paths)
    }

    #[test]
    fn chapter_and_theme_changes_rebuild_the_book_only() {
        assert_eq!(need(&["src/ch01-waiting.md"]), Rebuild::Book);
        assert_eq!(need(&["theme/quiz.js"]), Rebuild::Book);
        assert_eq!(need(&["book.toml"]), Rebuild::Book);
        assert_eq!(need(&["po/ko.po"]), Rebuild::Book);
    }

    #[test]
    fn playground_changes_rebuild_the_visualizer_too() {
        assert_eq!(
            need(&["src/ch01-waiting.md", "playground/sim/src/engine.rs"]),
            Rebuild::VisualizerAndBook
        );
    }

    #[test]
    fn generated_output_does_not_trigger_a_rebuild() {
        assert_eq!(
            need(&["src/pkg/waiting_well_viz_bg.wasm", "book/index.html"]),
            Rebuild::Nothing
        );
        assert_eq!(need(&["playground/web/bench/out.json"]), Rebuild::Nothing);
    }
}
