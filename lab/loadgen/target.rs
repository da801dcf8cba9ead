//! Where the load generator may send: this machine's loopback, nothing else.
//!
//! A load generator pointed at someone else's server is an attack, so the
//! check is strict and happens before any socket is opened:
//! - a literal address must be loopback: `127.0.0.0/8`, `::1`, or the
//!   IPv4-mapped form of a 127 address (`::ffff:127.0.0.1`, which a dual-stack
//!   socket delivers to 127.0.0.1). `0.0.0.0` and `::` are refused with their
//!   own message: they are what a *server* binds to ("every interface"), and
//!   Linux quietly sends a connection to them to this host, which is never
//!   what a reader meant;
//! - a name (`localhost`, a host name) is resolved, and *every* address it
//!   resolves to must pass the same check, so a name cannot smuggle a remote
//!   address in next to a loopback one.
//!
//! A URL is parsed by `http::Uri` (the type hyper and axum use), so what
//! counts as a URL here is what counts as one to them.
//!
//! Left out: resolving again later (the address chosen here is the one used),
//! `https://`, user info in URLs, default ports (say the port you mean).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs as _};

// ANCHOR: is_loopback
/// True for `127.0.0.0/8`, `::1` and `::ffff:127.x.y.z`. (`Ipv6Addr::is_loopback`
/// alone is only `::1`: the mapped form has to be turned back into IPv4 first.)
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}
// ANCHOR_END: is_loopback

/// Splits `http://127.0.0.1:PORT/path?query` into an address and the path
/// with its query, refusing anything that is not loopback (see
/// [`loopback_target`]: names are resolved and every address they resolve to
/// must be loopback).
pub fn parse_loopback_url(url: &str) -> anyhow::Result<(SocketAddr, String)> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| anyhow::anyhow!("{url:?} is not a URL: {e}"))?;
    anyhow::ensure!(
        uri.scheme_str() == Some("http"),
        "only http:// URLs are supported, got {url:?}"
    );
    let authority = uri
        .authority()
        .ok_or_else(|| anyhow::anyhow!("{url:?} names no host"))?;
    anyhow::ensure!(
        !authority.as_str().contains('@'),
        "user info in a URL is not supported, got {url:?}"
    );
    anyhow::ensure!(
        authority.port().is_some(),
        "the URL must name its port (the book's servers print theirs), got {url:?}"
    );
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    // `http::Uri` gives `?x=1` for `http://host:1?x=1`: a path starts with '/'.
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    Ok((loopback_target(authority.as_str())?, path))
}

/// Why `ip` may not be a target, or `None` if it may.
fn refusal(ip: IpAddr) -> Option<String> {
    let canonical = ip.to_canonical();
    if canonical.is_unspecified() {
        Some(format!(
            "{ip} means \"every interface\" to a server; it is not an address to send to \
             (use 127.0.0.1 or [::1])"
        ))
    } else if !canonical.is_loopback() {
        Some(format!(
            "the load generator only sends to loopback (127.0.0.1 or [::1]), not {ip}"
        ))
    } else {
        None
    }
}

/// Checks every address `target` resolved to and picks the one to use
/// (IPv4 first, since the book's servers listen on 127.0.0.1), with a mapped
/// address turned back into plain IPv4. Kept apart from the resolving so a
/// test can feed it any list without asking a resolver.
pub fn check_resolved(target: &str, resolved: &[SocketAddr]) -> anyhow::Result<SocketAddr> {
    anyhow::ensure!(!resolved.is_empty(), "{target} resolved to no address");
    for addr in resolved {
        if let Some(why) = refusal(addr.ip()) {
            anyhow::bail!("refusing {target} ({}): {why}", addr.ip());
        }
    }
    let chosen = resolved
        .iter()
        .find(|a| a.ip().to_canonical().is_ipv4())
        .unwrap_or(&resolved[0]);
    Ok(SocketAddr::new(chosen.ip().to_canonical(), chosen.port()))
}

/// `host:port` (e.g. `127.0.0.1:3000`, `[::1]:3000`, `localhost:3000`) as a
/// loopback socket address, or an error saying why not. A name is resolved
/// (by the system resolver) and all its addresses are checked.
pub fn loopback_target(host_port: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(addr) = host_port.parse::<SocketAddr>() {
        return check_resolved(host_port, &[addr]);
    }
    let bad = || anyhow::anyhow!("expected host:port such as 127.0.0.1:3000, got {host_port:?}");
    let (host, port) = host_port.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    // A bracketed or dotted literal that did not parse above is malformed,
    // not a name: do not hand it to the resolver.
    let name_like = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && host.chars().any(|c| c.is_ascii_alphabetic());
    anyhow::ensure!(name_like, bad());
    let resolved: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| anyhow::anyhow!("cannot resolve {host:?}: {e}"))?
        .collect();
    check_resolved(host_port, &resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_loopback_is_loopback_and_mapped_remote_is_not() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(is_loopback(ip("::ffff:127.0.0.1")));
        assert!(is_loopback(ip("::ffff:127.9.8.7")));
        assert!(!is_loopback(ip("::ffff:10.0.0.1")));
        assert!(!is_loopback(ip("::127.0.0.1"))); // IPv4-compatible: deprecated, not mapped
        assert!(!is_loopback(ip("0.0.0.0")));
        assert!(!is_loopback(ip("::")));
    }

    #[test]
    fn urls_are_split_into_address_and_path() {
        let parsed = |url: &str| parse_loopback_url(url).map(|(a, p)| (a.to_string(), p));
        for (url, addr, path) in [
            (
                "http://127.0.0.1:3000/wait?ms=50",
                "127.0.0.1:3000",
                "/wait?ms=50",
            ),
            ("http://127.0.0.1:3000", "127.0.0.1:3000", "/"),
            ("http://127.0.0.1:3000?x=1", "127.0.0.1:3000", "/?x=1"),
            ("http://[::1]:8080/a", "[::1]:8080", "/a"),
        ] {
            let (a, p) = parsed(url).unwrap_or_else(|e| panic!("{url:?}: {e}"));
            assert_eq!((a.as_str(), p.as_str()), (addr, path), "{url:?}");
        }
        for bad in [
            "http://user@127.0.0.1:3000/",
            "http://127.0.0.1/",
            "ftp://127.0.0.1:21/",
            "http://127.0.0.1:3000/a b",
            "/just/a/path",
        ] {
            assert!(parsed(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
