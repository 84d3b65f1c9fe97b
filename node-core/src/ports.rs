//! Which ports of the node's range are free.
//!
//! A port is taken while a registry row holds it or a provision is using it.
//! Before handing one out, the pool also checks that nothing else on the
//! machine is listening there, so a port taken by another program is skipped
//! instead of making the new server fail.

use crate::config::PortRange;
use std::collections::BTreeSet;
use std::net::TcpListener;

pub struct PortPool {
    range: PortRange,
    host: String,
    taken: BTreeSet<u16>,
}

impl PortPool {
    pub fn new(range: PortRange, host: &str) -> Self {
        PortPool {
            range,
            host: host.to_string(),
            taken: BTreeSet::new(),
        }
    }

    /// Marks a port as held (a registry row's port, at start-up).
    pub fn hold(&mut self, port: u16) {
        self.taken.insert(port);
    }

    pub fn release(&mut self, port: u16) {
        self.taken.remove(&port);
    }

    /// Takes the lowest port that is neither held nor in use on the host.
    pub fn take(&mut self) -> Option<u16> {
        for port in self.range.first..=self.range.last {
            if self.taken.contains(&port) {
                continue;
            }
            if TcpListener::bind((self.host.as_str(), port)).is_err() {
                continue;
            }
            self.taken.insert(port);
            return Some(port);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free_port_block(n: u16) -> u16 {
        // Find n consecutive free ports, starting from an ephemeral one.
        'outer: for _ in 0..50 {
            let start = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if start > u16::MAX - n {
                continue;
            }
            for p in start..start + n {
                if TcpListener::bind(("127.0.0.1", p)).is_err() {
                    continue 'outer;
                }
            }
            return start;
        }
        panic!("no free block of ports");
    }

    #[test]
    fn takes_lowest_free_and_skips_held_and_busy_ports() {
        let first = free_port_block(4);
        let range = PortRange {
            first,
            last: first + 3,
        };
        let mut pool = PortPool::new(range, "127.0.0.1");
        pool.hold(first);
        let busy = TcpListener::bind(("127.0.0.1", first + 1)).unwrap();
        assert_eq!(pool.take(), Some(first + 2));
        assert_eq!(pool.take(), Some(first + 3));
        assert_eq!(pool.take(), None);
        drop(busy);
        assert_eq!(pool.take(), Some(first + 1));
        pool.release(first + 2);
        assert_eq!(pool.take(), Some(first + 2));
    }
}
