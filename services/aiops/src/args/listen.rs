//! `--listen ADDR:PORT`, the one bind flag of every server, loopback by default.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Where a server listens; `PORT` is its default port on 127.0.0.1.
///
/// The `--host`, `--port` and `--http-port` of older releases still work (hidden): each
/// replaces its part of the default address.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ListenArgs<const PORT: u16> {
    /// Address and port to bind, e.g. `0.0.0.0:8080` in a container [default: 127.0.0.1:PORT].
    #[arg(long, value_name = "ADDR:PORT", conflicts_with_all = ["host", "port"])]
    listen: Option<SocketAddr>,
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
        self.listen.unwrap_or_else(|| {
            SocketAddr::new(
                self.host.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                self.port.unwrap_or(PORT),
            )
        })
    }
}
