//! `--listen ADDR:PORT`, the one bind flag of every server, loopback by default.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Where a server listens; `PORT` is its default port on 127.0.0.1.
///
/// The `--host`, `--port` and `--http-port` of older releases still work (hidden): each
/// replaces its part of the default address (they cannot be combined with `--listen`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ListenArgs<const PORT: u16> {
    /// Address and port to bind, e.g. `0.0.0.0:8080` in a container.
    #[arg(
        long,
        value_name = "ADDR:PORT",
        default_value_t = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), PORT),
        conflicts_with_all = ["host", "port"]
    )]
    listen: SocketAddr,
    /// Old spelling: the address of --listen.
    #[arg(long, hide = true)]
    host: Option<IpAddr>,
    /// Old spelling: the port of --listen.
    #[arg(long, alias = "http-port", hide = true)]
    port: Option<u16>,
}

impl<const PORT: u16> ListenArgs<PORT> {
    /// The address to bind.
    pub(crate) fn address(&self) -> SocketAddr {
        let mut address = self.listen;
        if let Some(host) = self.host {
            address.set_ip(host);
        }
        if let Some(port) = self.port {
            address.set_port(port);
        }
        address
    }
}
