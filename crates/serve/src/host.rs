//! `Host` allow-lists against DNS rebinding: a page on another site that resolves its own name to
//! 127.0.0.1 reaches a loopback server with its own name in `Host`, which is refused.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::{Error, Result, json_error};

/// The loopback names always accepted by an allow-list.
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The accepted `Host` values: names (any port) or `name:port`, compared without case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAllowList {
    /// `None` accepts every host.
    entries: Option<Vec<String>>,
}

impl HostAllowList {
    /// Accepts every `Host` (for a server reached through a cluster's ingress under names it
    /// cannot know).
    pub fn any() -> Self {
        Self { entries: None }
    }

    /// The loopback names and `extra` (e.g. a Service's DNS names, optionally with `:port`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `allowed_host` when an entry is not a host name or
    /// `host:port`.
    pub fn loopback_and(extra: Vec<String>) -> Result<Self> {
        let mut entries: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| (*h).to_owned()).collect();
        for host in extra {
            check_allowed_host(&host)?;
            let host = host.to_ascii_lowercase();
            if !entries.contains(&host) {
                entries.push(host);
            }
        }
        Ok(Self { entries: Some(entries) })
    }

    /// The usual list for a server bound to `bind`: loopback names and `extra` when bound to a
    /// loopback address or when `extra` names hosts; any host otherwise (a server on a cluster
    /// network is reached under names it cannot know).
    ///
    /// # Errors
    /// As [`HostAllowList::loopback_and`].
    pub fn for_bind(bind: IpAddr, extra: Vec<String>) -> Result<Self> {
        if bind.is_loopback() || !extra.is_empty() { Self::loopback_and(extra) } else { Ok(Self::any()) }
    }

    /// The entries, loopback names first; `None` when every host is accepted.
    pub fn entries(&self) -> Option<&[String]> {
        self.entries.as_deref()
    }

    /// Checks the request's `Host`: exactly one header (or, in HTTP/2, the URI's authority),
    /// well-formed and in the list.
    ///
    /// # Errors
    /// The status (400 malformed, missing or repeated; 403 not allowed) and why.
    pub fn check(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), (StatusCode, String)> {
        let bad = |reason: &str| (StatusCode::BAD_REQUEST, reason.to_owned());
        let mut hosts = headers.get_all(header::HOST).iter();
        let authority = match (hosts.next(), hosts.next()) {
            (Some(_), Some(_)) => return Err(bad("more than one Host header")),
            (Some(host), None) => host
                .to_str()
                .ok()
                .and_then(|h| h.parse::<Authority>().ok())
                .ok_or_else(|| bad("malformed Host header"))?,
            (None, _) => uri.authority().cloned().ok_or_else(|| bad("missing Host header"))?,
        };
        if authority.as_str().contains('@') {
            return Err(bad("malformed Host header"));
        }
        if self.allows(&authority) {
            Ok(())
        } else {
            Err((StatusCode::FORBIDDEN, "the Host header is not allowed".to_owned()))
        }
    }

    fn allows(&self, authority: &Authority) -> bool {
        let Some(entries) = &self.entries else { return true };
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        entries.iter().any(|entry| {
            let (allowed_host, allowed_port) = split_entry(entry);
            allowed_host.eq_ignore_ascii_case(host)
                && allowed_port.is_none_or(|port| authority.port_u16() == Some(port))
        })
    }
}

/// The host (without brackets) and port of an entry; a bare IPv6 address (`::1`) has no port.
fn split_entry(entry: &str) -> (&str, Option<u16>) {
    if entry.matches(':').count() > 1 && !entry.starts_with('[') {
        return (entry, None);
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => {
            (host.trim_start_matches('[').trim_end_matches(']'), port.parse().ok())
        }
        _ => (entry.trim_start_matches('[').trim_end_matches(']'), None),
    }
}

/// A host name or `host:port` authority: DNS labels or an IP literal, nothing else.
fn check_allowed_host(host: &str) -> Result<()> {
    let authority: std::result::Result<Authority, _> = host.parse();
    let valid = authority.is_ok_and(|a| a.as_str() == host && !a.host().is_empty() && !host.contains('@'));
    if valid && host != "*" {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            field: "allowed_host",
            reason: format!("`{host}` is not a host name or host:port"),
        })
    }
}

/// Middleware refusing requests whose `Host` the list does not accept, with a JSON error (use
/// with `axum::middleware::from_fn_with_state`).
pub async fn host_guard(State(allowed): State<Arc<HostAllowList>>, request: Request, next: Next) -> Response {
    match allowed.check(request.uri(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err((status, reason)) => {
            tracing::warn!(path = %request.uri().path(), %reason, "refused a request for its Host header (possible DNS rebinding)");
            json_error(status, &reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(hosts: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for host in hosts {
            map.append(header::HOST, host.parse().unwrap());
        }
        map
    }

    #[test]
    fn every_host_header_is_checked() {
        let list = HostAllowList::loopback_and(vec!["svc.ns:8080".into(), "Model.Example".into()]).unwrap();
        let uri = Uri::from_static("/v2");
        let status = |hosts: &[&str]| list.check(&uri, &headers(hosts)).err().map(|(s, _)| s.as_u16());
        assert_eq!(status(&["localhost:8080"]), None);
        assert_eq!(status(&["[::1]:1"]), None);
        assert_eq!(status(&["svc.ns:8080"]), None);
        assert_eq!(status(&["model.example:443"]), None);
        assert_eq!(status(&["svc.ns:9090"]), Some(403));
        assert_eq!(status(&["evil.example"]), Some(403));
        assert_eq!(status(&["localhost", "evil.example"]), Some(400));
        assert_eq!(status(&["localhost", "localhost"]), Some(400));
        assert_eq!(status(&["user@localhost"]), Some(400));
        assert_eq!(status(&["a b"]), Some(400));
        assert_eq!(status(&[]), Some(400));
    }

    #[test]
    fn a_server_on_a_cluster_network_accepts_any_host_unless_told() {
        let any = HostAllowList::for_bind([0, 0, 0, 0].into(), Vec::new()).unwrap();
        assert_eq!(any.entries(), None);
        let loopback = HostAllowList::for_bind([127, 0, 0, 1].into(), Vec::new()).unwrap();
        assert_eq!(loopback.entries().unwrap(), LOOPBACK_HOSTS);
        let told = HostAllowList::for_bind([0, 0, 0, 0].into(), vec!["svc".into()]).unwrap();
        assert_eq!(told.entries().unwrap().last().unwrap(), "svc");
    }

    #[test]
    fn bad_allowed_hosts_are_named() {
        for host in ["a b", "user@host", "*", "", "host/path"] {
            let error = HostAllowList::loopback_and(vec![host.into()]).unwrap_err();
            assert!(
                matches!(error, Error::InvalidParameter { field: "allowed_host", .. }),
                "{host}: {error}"
            );
        }
    }
}
