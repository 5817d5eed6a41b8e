//! Free loopback ports for child services.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use crate::{Error, Result};

/// A loopback address with a port no one listens on right now.
///
/// The port is released before returning, so another process could take it in
/// between; child services bind it within milliseconds, which makes that rare.
pub fn free_loopback_addr() -> Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|source| Error::io("binding a free loopback port", source))?;
    listener
        .local_addr()
        .map_err(|source| Error::io("reading the bound loopback port", source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_address_is_on_loopback_and_can_be_bound() {
        let addr = free_loopback_addr().expect("loopback is available in tests");
        assert!(addr.ip().is_loopback());
        assert_ne!(addr.port(), 0);
        TcpListener::bind(addr).expect("the port was free a moment ago");
    }
}
