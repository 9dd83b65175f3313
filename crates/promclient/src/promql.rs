//! Values that go into PromQL: validated instances, string escaping and template filling.
//!
//! Two independent layers keep a value from changing a query's meaning: the value must pass a
//! strict pattern ([`Instance::parse`]), and it is still escaped by PromQL's string rules
//! ([`escape_promql_string`]) and only ever placed inside a double-quoted string literal.

use std::net::{IpAddr, SocketAddr};

use crate::{Error, Result};

/// A node-exporter target: a canonical `ip:port` (`10.0.0.1:9100`, `[::1]:9100`) or a
/// `host:port` whose host is a DNS name (letters, digits, `-` inside labels, dots between).
///
/// ```
/// use aiops_promclient::Instance;
/// assert_eq!(Instance::parse("10.0.0.1:9100")?.as_str(), "10.0.0.1:9100");
/// assert!(Instance::parse("node-1.example.com:9100").is_ok());
/// assert!(Instance::parse(r#"x"} or vector(1337) or {a=""#).is_err());
/// assert!(Instance::parse("010.0.0.1:9100").is_err());
/// # Ok::<(), aiops_promclient::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Instance(String);

impl Instance {
    /// Validates `text` as an instance.
    ///
    /// # Errors
    /// [`Error::InvalidInstance`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid =
            |reason: &str| Error::InvalidInstance { input: text.to_owned(), reason: reason.to_owned() };
        if let Ok(address) = text.parse::<SocketAddr>() {
            return if address.to_string() == text && address.port() != 0 {
                Ok(Self(text.to_owned()))
            } else {
                Err(invalid(&format!("not in canonical form (expected `{address}` with a non-zero port)")))
            };
        }
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| invalid("expected `ip:port` or `host:port`, e.g. `10.0.0.1:9100`"))?;
        check_port(port).map_err(|reason| invalid(&reason))?;
        if host.parse::<IpAddr>().is_ok() {
            return Err(invalid("IPv6 addresses need brackets, e.g. `[::1]:9100`"));
        }
        check_host(host).map_err(|reason| invalid(&reason))?;
        Ok(Self(text.to_owned()))
    }

    /// The instance as Prometheus labels it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Instance {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

/// A port: decimal 1 to 65535 without leading zeros.
fn check_port(port: &str) -> Result<(), String> {
    let canonical = port.parse::<u16>().ok().filter(|&p| p != 0 && p.to_string() == port);
    canonical.map(|_| ()).ok_or_else(|| format!("port `{port}` is not a number from 1 to 65535"))
}

/// A DNS name: dot-separated labels of 1 to 63 letters, digits and inner hyphens, at most 253
/// characters, and not all-numeric (that would be a malformed IP address).
fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() || host.len() > 253 {
        return Err("the host must have 1 to 253 characters".into());
    }
    for label in host.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err(format!(
                "host `{host}` is not an IP address nor a DNS name (letters, digits, inner `-`, dots)"
            ));
        }
    }
    if host.split('.').all(|label| label.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("`{host}` is not a canonical IPv4 address"));
    }
    Ok(())
}

/// Escapes `text` for a double-quoted PromQL string literal (Go string syntax): backslash,
/// double quote and control characters are escaped, nothing else changes.
///
/// ```
/// use aiops_promclient::escape_promql_string;
/// assert_eq!(escape_promql_string(r#"x"} or vector(1)"#), r#"x\"} or vector(1)"#);
/// assert_eq!(escape_promql_string("a\\b\n"), r"a\\b\n");
/// ```
pub fn escape_promql_string(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str(r"\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str(r"\n"),
            '\r' => escaped.push_str(r"\r"),
            '\t' => escaped.push_str(r"\t"),
            c if c.is_control() => escaped.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The placeholder a custom template's instance goes in.
pub const INSTANCE_PLACEHOLDER: &str = "{instance}";

/// Fills a custom PromQL template: every `{instance}` placeholder, each of which must sit
/// inside a double-quoted string literal, becomes the escaped instance. Nothing else changes.
///
/// # Errors
/// [`Error::InvalidTemplate`] when there is no placeholder, a placeholder outside a
/// double-quoted string, or an unterminated string.
pub fn fill_template(template: &str, instance: &Instance) -> Result<String> {
    let invalid =
        |reason: &str| Error::InvalidTemplate { template: template.to_owned(), reason: reason.to_owned() };
    let value = escape_promql_string(instance.as_str());
    let mut filled = String::with_capacity(template.len() + value.len());
    let mut quote: Option<char> = None;
    let mut placeholders = 0;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with(INSTANCE_PLACEHOLDER) {
            if quote != Some('"') {
                return Err(invalid(
                    r#"`{instance}` must be inside a double-quoted string, e.g. instance="{instance}""#,
                ));
            }
            filled.push_str(&value);
            placeholders += 1;
            rest = &rest[INSTANCE_PLACEHOLDER.len()..];
            continue;
        }
        filled.push(c);
        rest = &rest[c.len_utf8()..];
        match (quote, c) {
            (None, '"' | '\'' | '`') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('"' | '\''), '\\') => {
                if let Some(escaped) = rest.chars().next() {
                    filled.push(escaped);
                    rest = &rest[escaped.len_utf8()..];
                }
            }
            _ => {}
        }
    }
    if quote.is_some() {
        return Err(invalid("a string literal is not terminated"));
    }
    if placeholders == 0 {
        return Err(invalid("it has no `{instance}` placeholder"));
    }
    Ok(filled)
}
