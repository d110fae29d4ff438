//! RTP ports bound once and reused across calls.
//!
//! Binding a fresh socket for every call (socket, bind to port 0, getsockname, non-blocking,
//! close: five system calls, and the kernel's search for a free port) was a sizeable share of
//! call set-up. The pool keeps the sockets of ended legs and hands them to new ones, oldest
//! first, so a port rests as long as possible before it carries another call. What arrived on
//! a port while it was idle (the previous peer's last packets) is read away before reuse, and a
//! connected leg only accepts RTP from its peer (see `Leg::on_datagram`).

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::ops::Deref;
use std::sync::{Arc, Mutex, Weak};

/// Most datagrams read away from a port taken from the pool (a flood beyond that is the new
/// call's source filter's business).
const MAX_STALE_READS: usize = 64;

/// Idle RTP sockets on one IP address.
#[derive(Debug)]
pub(super) struct PortPool {
    ip: IpAddr,
    idle: Mutex<VecDeque<(StdUdpSocket, SocketAddr)>>,
    /// Most idle sockets kept; beyond that an ended leg's socket is closed.
    max_idle: usize,
}

impl PortPool {
    pub(super) fn new(ip: IpAddr, max_idle: usize) -> Arc<PortPool> {
        Arc::new(PortPool {
            ip,
            idle: Mutex::new(VecDeque::new()),
            max_idle,
        })
    }

    /// A socket for a new leg: the longest-idle one of the pool, emptied of what arrived while
    /// it was idle, or a newly bound one (non-blocking) when the pool is empty.
    pub(super) fn take(self: &Arc<PortPool>) -> io::Result<PooledSocket> {
        let idle = super::lock(&self.idle).pop_front();
        let (socket, local) = match idle {
            Some((socket, local)) => {
                discard_waiting(&socket);
                (socket, local)
            }
            None => {
                let socket = StdUdpSocket::bind(SocketAddr::new(self.ip, 0))?;
                socket.set_nonblocking(true)?;
                let local = socket.local_addr()?;
                (socket, local)
            }
        };
        Ok(PooledSocket {
            socket: Some(socket),
            local,
            pool: Arc::downgrade(self),
        })
    }

    /// Sockets waiting for a leg.
    pub(super) fn idle_count(&self) -> usize {
        super::lock(&self.idle).len()
    }

    fn put(&self, socket: StdUdpSocket, local: SocketAddr) {
        let mut idle = super::lock(&self.idle);
        if idle.len() < self.max_idle {
            idle.push_back((socket, local));
        }
    }
}

/// Reads away every datagram waiting on `socket` (non-blocking); a one-byte buffer is enough,
/// the rest of each datagram is discarded by the kernel.
fn discard_waiting(socket: &StdUdpSocket) {
    let mut byte = [0u8; 1];
    for _ in 0..MAX_STALE_READS {
        match socket.recv_from(&mut byte) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            // An ICMP error queued by the previous call's last sends: consumed, read on.
            Err(_) => {}
        }
    }
}

/// A leg's socket; goes back to its pool when dropped (after the sender thread let go of it).
#[derive(Debug)]
pub(super) struct PooledSocket {
    /// Always `Some` until dropped.
    socket: Option<StdUdpSocket>,
    local: SocketAddr,
    pool: Weak<PortPool>,
}

impl PooledSocket {
    /// The bound address.
    pub(super) fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Deref for PooledSocket {
    type Target = StdUdpSocket;
    fn deref(&self) -> &StdUdpSocket {
        self.socket
            .as_ref()
            .expect("a pooled socket is present until dropped")
    }
}

impl Drop for PooledSocket {
    fn drop(&mut self) {
        if let (Some(socket), Some(pool)) = (self.socket.take(), self.pool.upgrade()) {
            pool.put(socket, self.local);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn an_ended_legs_port_is_reused_oldest_first() {
        let pool = PortPool::new(LOCAL, 16);
        let a = pool.take().unwrap();
        let b = pool.take().unwrap();
        let (port_a, port_b) = (a.local_addr(), b.local_addr());
        assert_ne!(port_a, port_b);
        assert_eq!(pool.idle_count(), 0);
        drop(a);
        drop(b);
        assert_eq!(pool.idle_count(), 2);
        // The longest-idle port first, so a port rests before it carries another call.
        assert_eq!(pool.take().unwrap().local_addr(), port_a);
        let again = pool.take().unwrap();
        assert_eq!(again.local_addr(), port_b);
        assert_eq!(again.local_addr(), again.deref().local_addr().unwrap());
    }

    #[test]
    fn what_arrived_while_idle_is_not_heard_by_the_next_call() {
        let pool = PortPool::new(LOCAL, 16);
        let leg = pool.take().unwrap();
        let port = leg.local_addr();
        drop(leg);
        let late = StdUdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        for _ in 0..3 {
            late.send_to(b"the previous call's last packet", port)
                .unwrap();
        }
        // Loopback delivers at once; give a loaded machine a moment all the same.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let next = pool.take().unwrap();
        assert_eq!(next.local_addr(), port);
        let mut buf = [0u8; 64];
        let read = next.recv_from(&mut buf);
        assert_eq!(
            read.map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::WouldBlock),
            "a stale datagram reached the next call"
        );
        late.send_to(b"new", port).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(
            next.recv_from(&mut buf).unwrap().0,
            3,
            "the socket still works"
        );
    }

    #[test]
    fn the_pool_keeps_at_most_its_limit_and_closes_the_rest() {
        let pool = PortPool::new(LOCAL, 2);
        let legs: Vec<_> = (0..4).map(|_| pool.take().unwrap()).collect();
        drop(legs);
        assert_eq!(pool.idle_count(), 2);
    }

    #[test]
    fn a_socket_outliving_its_pool_just_closes() {
        let pool = PortPool::new(LOCAL, 2);
        let leg = pool.take().unwrap();
        drop(pool);
        drop(leg); // no pool to go back to: no panic
    }
}
