//! Installing what the checks need on a fresh machine, saying what it does:
//! the wasm32 target (rustup), Debian's chromium and chromium-driver (apt),
//! Debian's postgresql (apt, for tests/python_contract.rs and chapter 6),
//! and the browser tests' npm packages (`npm ci`, from the lockfile).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run, step};

pub fn ensure_wasm_target() -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("wasm32-unknown-unknown"))
        .unwrap_or(false);
    if !installed {
        step("installing the wasm32-unknown-unknown target (rustup target add)");
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    Ok(())
}

/// The browser: `$CHROMIUM`, else Debian's `/usr/bin/chromium`.
pub fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), Into::into)
}

/// Its WebDriver: `$CHROMEDRIVER`, else Debian's `/usr/bin/chromedriver`.
pub fn chromedriver() -> PathBuf {
    std::env::var_os("CHROMEDRIVER").map_or_else(|| "/usr/bin/chromedriver".into(), Into::into)
}

/// Chromium and its driver; Debian's are installed when missing (never a
/// browser download). Paths given in `$CHROMIUM`/`$CHROMEDRIVER` must exist.
pub fn ensure_chromium() -> anyhow::Result<()> {
    if chromium().exists() && chromedriver().exists() {
        return Ok(());
    }
    for var in ["CHROMIUM", "CHROMEDRIVER"] {
        if let Some(path) = std::env::var_os(var) {
            anyhow::ensure!(
                Path::new(&path).exists(),
                "${var} is {path:?}, which does not exist"
            );
        }
    }
    step("installing Debian's chromium and chromium-driver (apt-get)");
    apt_install(&["chromium", "chromium-driver"])
}

/// Debian's PostgreSQL server binaries (`/usr/lib/postgresql/N/bin/initdb`),
/// which `lab::postgres` starts a throwaway cluster from.
pub fn ensure_postgres() -> anyhow::Result<()> {
    let installed = std::fs::read_dir("/usr/lib/postgresql")
        .map(|versions| {
            versions
                .flatten()
                .any(|v| v.path().join("bin").join("initdb").exists())
        })
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    step("installing Debian's postgresql (apt-get)");
    apt_install(&["postgresql"])
}

pub fn ensure_node() -> anyhow::Result<()> {
    if Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Ok(());
    }
    step("installing Node.js and npm (apt-get)");
    apt_install(&["nodejs", "npm"])
}

fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    let sudo = !is_root();
    let apt = |args: &[&str]| {
        let mut cmd = if sudo {
            Command::new("sudo")
        } else {
            Command::new("apt-get")
        };
        if sudo {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run(&mut apt(&["update", "-qq"]))?;
    let mut args = vec!["install", "-y", "-qq"];
    args.extend_from_slice(packages);
    run(&mut apt(&args)).map_err(|e| {
        anyhow::anyhow!(
            "{e}\nInstall them by hand: apt-get install {}",
            packages.join(" ")
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `npm ci` in the browser tests' folder when node_modules is missing or older
/// than the lockfile.
pub fn ensure_e2e_packages(dir: &Path) -> anyhow::Result<()> {
    ensure_node()?;
    let lock = dir.join("package-lock.json");
    let stamp = dir.join("node_modules/.package-lock.json");
    let fresh = match (lock.metadata(), stamp.metadata()) {
        (Ok(l), Ok(s)) => s.modified()? >= l.modified()?,
        _ => false,
    };
    if !fresh {
        step("installing the browser tests' npm packages (npm ci)");
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dir))?;
    }
    Ok(())
}
