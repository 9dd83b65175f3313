//! Server settings: raw options as given on the command line, checked once into [`Settings`].

use std::net::{IpAddr, SocketAddr};

use aiops_serve::{CheckedLimits, HostAllowList, LimitOverrides, Limits, MAX_BODY_BUDGET};

use crate::http::bearer_token;
use crate::{Error, Result};

/// The default upper bound of every `hours` argument (one week).
pub const DEFAULT_MAX_HOURS: u32 = 168;
/// The largest JSON-RPC request body accepted, in bytes (a tool call is a few hundred bytes).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Default points per Prometheus request. Prometheus evaluates one range query on one core, so
/// a tool call splits its window into step-aligned chunks that run concurrently: a day at 10 s
/// (8,640 points) becomes 6 requests and the fetch takes about half as long as one request.
pub const DEFAULT_POINTS_PER_QUERY: usize = 1_500;
/// Request bodies in flight at once, in units of the largest request: tool calls are small, and
/// this bounds the memory a flood of slow bodies can hold.
const INFLIGHT_REQUESTS: usize = 256;

/// Raw transport and security options, as parsed from flags; [`ServerOptions::check`] validates them.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Address to bind (127.0.0.1 unless told otherwise).
    pub host: IpAddr,
    /// Port to bind (0 picks a free one).
    pub port: u16,
    /// Extra `Host` header values accepted besides loopback, e.g. the Service's DNS names
    /// (`aiops-mcp`, `aiops-mcp.aiops.svc.cluster.local`), optionally with `:port`.
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed to call the server (`scheme://host[:port|:*]`); requests carrying
    /// any other `Origin` header are refused with 403. Requests without `Origin` pass.
    pub allowed_origins: Vec<String>,
    /// The bearer token every `/mcp` request must carry, when set: the token itself or the
    /// whole header value `Bearer <token>` (so one Secret key can serve the server and the
    /// clients that send it as their `Authorization` header).
    pub auth_token: Option<String>,
    /// Upper bound of every `hours` argument.
    pub max_hours: u32,
    /// Largest request body accepted, in bytes.
    pub max_request_bytes: usize,
    /// Timeouts, connection cap and in-flight body budget when not the serving loop's defaults
    /// (the budget defaults to 256 maximal requests, at most 1 GiB).
    pub limits: LimitOverrides,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            auth_token: None,
            max_hours: DEFAULT_MAX_HOURS,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            limits: LimitOverrides::default(),
        }
    }
}

/// Checked settings: every field valid, loopback names always allowed.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The socket address to bind.
    pub bind: SocketAddr,
    /// Every accepted `Host` header value (loopback names first).
    pub allowed_hosts: HostAllowList,
    /// Accepted browser origins (empty: every request carrying an `Origin` is refused).
    pub allowed_origins: Vec<String>,
    /// The bearer token, when authentication is on.
    pub auth_token: Option<String>,
    /// Upper bound of every `hours` argument.
    pub max_hours: u32,
    /// Largest request body accepted, in bytes.
    pub max_request_bytes: usize,
    /// Timeouts, connection cap and body limits of the serving loop.
    pub limits: CheckedLimits,
}

impl ServerOptions {
    /// Validates every option, naming the first bad one.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `allowed_host`, `allowed_origin`, `auth_token`,
    /// `max_hours`, `max_request_bytes` or one of the serving loop's limits.
    pub fn check(self) -> Result<Settings> {
        let allowed_hosts = HostAllowList::loopback_and(self.allowed_hosts).map_err(Error::from_serve)?;
        for origin in &self.allowed_origins {
            check_allowed_origin(origin)?;
        }
        let auth_token = self.auth_token.map(|t| bearer_token(&t).unwrap_or(t.trim()).to_owned());
        if let Some(token) = &auth_token
            && (token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(invalid(
                "auth_token",
                "must be at least 16 printable ASCII characters without spaces",
            ));
        }
        if !(1..=24 * 366).contains(&self.max_hours) {
            return Err(invalid("max_hours", &format!("is {}, must be within 1..=8784", self.max_hours)));
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.max_request_bytes) {
            return Err(invalid(
                "max_request_bytes",
                &format!("is {}, must be within 1 KiB..=16 MiB", self.max_request_bytes),
            ));
        }
        let limits = self
            .limits
            .apply(Limits::with_body_limit(
                self.max_request_bytes,
                (self.max_request_bytes * INFLIGHT_REQUESTS).min(MAX_BODY_BUDGET),
            ))
            .check()
            .map_err(Error::from_serve)?;
        Ok(Settings {
            bind: SocketAddr::new(self.host, self.port),
            allowed_hosts,
            allowed_origins: self.allowed_origins,
            auth_token,
            max_hours: self.max_hours,
            max_request_bytes: self.max_request_bytes,
            limits,
        })
    }
}

fn invalid(field: &'static str, reason: &str) -> Error {
    Error::InvalidParameter { field, reason: reason.to_owned() }
}

/// An origin `scheme://host[:port|:*]` (or `null`), as rmcp matches it.
fn check_allowed_origin(origin: &str) -> Result<()> {
    if origin == "null" {
        return Ok(());
    }
    let (scheme, rest) = origin.split_once("://").unwrap_or(("", origin));
    let authority = rest.strip_suffix(":*").unwrap_or(rest);
    let valid = matches!(scheme, "http" | "https")
        && !authority.contains('/')
        && HostAllowList::loopback_and(vec![authority.to_owned()]).is_ok();
    if valid {
        Ok(())
    } else {
        Err(invalid(
            "allowed_origin",
            &format!(
                "`{origin}` is not an origin like https://host, https://host:8443 or http://localhost:*"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limited(limits: LimitOverrides) -> ServerOptions {
        ServerOptions { limits, ..Default::default() }
    }

    #[test]
    fn checked_options_keep_loopback_and_add_service_names() {
        let settings = ServerOptions {
            allowed_hosts: vec!["aiops-mcp.aiops.svc.cluster.local".into(), "aiops-mcp:8080".into()],
            ..ServerOptions::default()
        }
        .check()
        .unwrap();
        assert_eq!(
            settings.allowed_hosts.entries().unwrap(),
            ["localhost", "127.0.0.1", "::1", "aiops-mcp.aiops.svc.cluster.local", "aiops-mcp:8080"]
        );
        assert_eq!(settings.bind.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn bad_options_name_their_field() {
        let cases: [(ServerOptions, &str); 10] = [
            (ServerOptions { allowed_hosts: vec!["a b".into()], ..Default::default() }, "allowed_host"),
            (ServerOptions { allowed_hosts: vec!["user@host".into()], ..Default::default() }, "allowed_host"),
            (
                ServerOptions { allowed_origins: vec!["example.com".into()], ..Default::default() },
                "allowed_origin",
            ),
            (
                ServerOptions { allowed_origins: vec!["ftp://x".into()], ..Default::default() },
                "allowed_origin",
            ),
            (ServerOptions { auth_token: Some("short".into()), ..Default::default() }, "auth_token"),
            (ServerOptions { max_hours: 0, ..Default::default() }, "max_hours"),
            (ServerOptions { max_request_bytes: 10, ..Default::default() }, "max_request_bytes"),
            (limited(LimitOverrides { max_connections: Some(0), ..Default::default() }), "max_connections"),
            (
                limited(LimitOverrides { idle_timeout: Some(Duration::ZERO), ..Default::default() }),
                "idle_timeout",
            ),
            (
                limited(LimitOverrides { max_inflight_body_bytes: Some(1), ..Default::default() }),
                "max_inflight_body_bytes",
            ),
        ];
        for (options, field) in cases {
            let error = options.check().unwrap_err();
            assert!(
                matches!(error, Error::InvalidParameter { field: f, .. } if f == field),
                "{field}: {error}"
            );
        }
    }

    #[test]
    fn the_token_may_be_given_as_the_header_value() {
        for given in ["0123456789abcdef0123", "Bearer 0123456789abcdef0123\n", " bearer 0123456789abcdef0123"]
        {
            let settings =
                ServerOptions { auth_token: Some(given.into()), ..Default::default() }.check().unwrap();
            assert_eq!(settings.auth_token.as_deref(), Some("0123456789abcdef0123"), "{given:?}");
        }
    }

    #[test]
    fn origins_accept_ports_wildcards_and_null() {
        for origin in
            ["https://app.example.com", "https://app.example.com:8443", "http://localhost:*", "null"]
        {
            check_allowed_origin(origin).unwrap();
        }
    }
}
