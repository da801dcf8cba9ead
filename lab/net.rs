//! Listening sockets, made one way for every server in the lab: bind first
//! (a port conflict shows up at once, while clients still get "connection
//! refused"), listen later with one backlog.
//!
//! Left out: IPv6-only options, `SO_REUSEPORT` and socket activation.

use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Socket, Type};

/// The listen backlog of every server here: 2048, gunicorn's and uvicorn's
/// default. (std's `bind` asks for 128; when 10,000 clients connect at once,
/// a short queue overflows and the kernel drops their SYNs, which the client
/// resends only after 1 s, then 3 s.)
pub const BACKLOG: i32 = 2048;

/// A TCP socket bound to `addr` (port 0: any free one) but not listening
/// yet: nobody can connect until [`listen`].
pub fn reserve(addr: SocketAddr) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?; // as std's bind does: restart without waiting out TIME_WAIT
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// Starts listening on a [`reserve`]d socket with [`BACKLOG`]; the listener
/// is non-blocking, ready for an async runtime.
pub fn listen(socket: Socket) -> std::io::Result<TcpListener> {
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// [`reserve`] and [`listen`] in one step.
pub fn bind_and_listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    listen(reserve(addr)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserved_port_refuses_until_it_listens() {
        let socket = reserve("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap().as_socket().unwrap();
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "refused before listen"
        );
        let listener = listen(socket).unwrap();
        assert_eq!(listener.local_addr().unwrap(), addr);
        assert!(std::net::TcpStream::connect(addr).is_ok());
    }
}
