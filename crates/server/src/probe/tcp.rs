//! `tcp://host:port`: a TCP connection opens.

use super::{Probe, Target};
use std::time::Duration;

/// The TCP probe.
pub(super) struct Tcp;

impl Probe for Tcp {
    fn schemes(&self) -> &'static [&'static str] {
        &["tcp"]
    }

    fn probe(&self, t: &Target, timeout: Duration) -> Result<(), String> {
        let addr = t.url.trim_start_matches("tcp://").trim_end_matches('/');
        let addrs: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(addr)
            .map_err(|e| format!("cannot resolve {}: {e}", super::display_url(addr)))?
            .collect();
        let first = addrs.first().ok_or("no address")?;
        std::net::TcpStream::connect_timeout(first, timeout)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
