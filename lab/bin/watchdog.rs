//! `ww-watchdog GROUP`: stops process group GROUP once its standard input
//! closes. [`lab::process::ChildServer`] starts one beside every child
//! server, holding the other end of the pipe, so the server goes even when
//! the program that started it is killed. The work is in
//! [`lab::process::watch`]; this file only reads the argument.

fn main() -> anyhow::Result<()> {
    let group = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("usage: ww-watchdog PROCESS-GROUP-ID"))?;
    lab::process::watch(group)
}
