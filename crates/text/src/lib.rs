//! Text that reaches a log, a terminal or an error message from outside (a remote error body, a
//! label value, a field of a file, a URL given on the command line) goes through here first:
//!
//! - [`escape_controls`] / [`Escaped`]: control characters (newlines, ESC, ...) and bidirectional
//!   overrides become visible escapes, so a value cannot forge a log line or drive the terminal;
//! - [`bounded`]: the first [`ECHO_BYTES`] bytes of bad input, then `... (N bytes)`, escaped;
//! - [`redact_urls`]: the user information and secret query parameters of every URL in a text
//!   become `***`.
//!
//! ```
//! assert_eq!(aiops_text::escape_controls("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
//! assert_eq!(
//!     aiops_text::redact_urls("cannot connect to http://bob:hunter2@prom:9090/api"),
//!     "cannot connect to http://bob:***@prom:9090/api"
//! );
//! ```

use std::borrow::Cow;
use std::fmt::{self, Display, Write as _};

/// How much of a bad input is echoed back.
pub const ECHO_BYTES: usize = 200;

/// What replaces a secret.
pub const REDACTED: &str = "***";

/// Whether `c` must not reach a terminal or a log line as is.
fn is_unsafe(c: char) -> bool {
    // Bidirectional overrides and isolates reorder what the reader sees (CVE-2021-42574).
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control character and bidirectional override written as an escape (`\n`,
/// `\r`, `\t`, `\\u{1b}`); borrowed when there is none.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        // Writing to a String cannot fail.
        let _ = push_escaped(&mut escaped, c);
    }
    Cow::Owned(escaped)
}

fn push_escaped(out: &mut impl fmt::Write, c: char) -> fmt::Result {
    match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if is_unsafe(c) => write!(out, "\\u{{{:x}}}", u32::from(c)),
        c => out.write_char(c),
    }
}

/// Displays its value with [`escape_controls`] applied, e.g. as a log field:
/// `tracing::warn!(instance = %Escaped(&instance), ...)`.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<T>(pub T);

impl<T: Display> Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Escaper<'a, 'b>(&'a mut fmt::Formatter<'b>);
        impl fmt::Write for Escaper<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                s.chars().try_for_each(|c| push_escaped(&mut *self.0, c))
            }
        }
        write!(Escaper(f), "{}", self.0)
    }
}

/// `input` for an error message: whole when at most [`ECHO_BYTES`] long, else its first
/// [`ECHO_BYTES`] bytes (cut at a character boundary) and `... (N bytes)`; escaped either way.
///
/// ```
/// let echoed = aiops_text::bounded(&"x".repeat(10_000_000));
/// assert_eq!(echoed, format!("{}... (10000000 bytes)", "x".repeat(200)));
/// ```
pub fn bounded(input: &str) -> String {
    if input.len() <= ECHO_BYTES {
        return escape_controls(input).into_owned();
    }
    let mut cut = ECHO_BYTES;
    while !input.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}... ({} bytes)", escape_controls(&input[..cut]), input.len())
}

/// Query parameters whose values are secrets, matched without case on any part of the name.
const SECRET_PARAMETERS: [&str; 8] =
    ["token", "password", "passwd", "secret", "signature", "credential", "api_key", "apikey"];

/// `text` with the user information (`user:password@`, or a lone `token@`) and the values of
/// secret query parameters (`token`, `password`, `X-Amz-Signature`, ...) of every URL in it
/// replaced by [`REDACTED`]; a user name followed by a password is kept. Borrowed when there is
/// nothing to redact.
pub fn redact_urls(text: &str) -> Cow<'_, str> {
    let mut redacted = String::new();
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find("://") {
        let authority_start = search + found + 3;
        let url_end = text[authority_start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ')' | ']'))
            .map_or(text.len(), |end| authority_start + end);
        let authority_end =
            text[authority_start..url_end].find(['/', '?', '#']).map_or(url_end, |end| authority_start + end);
        for (start, end) in secrets(text, authority_start, authority_end, url_end) {
            redacted.push_str(&text[copied..start]);
            redacted.push_str(REDACTED);
            copied = end;
        }
        search = url_end.max(authority_start);
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    redacted.push_str(&text[copied..]);
    Cow::Owned(redacted)
}

/// The byte ranges of the secrets of the URL whose authority is `text[start..authority_end]`
/// and which ends at `url_end`, in order.
fn secrets(text: &str, start: usize, authority_end: usize, url_end: usize) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    if let Some(at) = text[start..authority_end].rfind('@') {
        let userinfo = &text[start..start + at];
        match userinfo.find(':') {
            Some(colon) => ranges.push((start + colon + 1, start + at)),
            None => ranges.push((start, start + at)),
        }
    }
    if let Some(query) = text[authority_end..url_end].find('?').map(|q| authority_end + q + 1) {
        let query_end = text[query..url_end].find('#').map_or(url_end, |f| query + f);
        let mut offset = query;
        for pair in text[query..query_end].split('&') {
            if let Some((name, _)) = pair.split_once('=') {
                let name = name.to_ascii_lowercase();
                if SECRET_PARAMETERS.iter().any(|secret| name.contains(secret)) {
                    ranges.push((offset + name.len() + 1, offset + pair.len()));
                }
            }
            offset += pair.len() + 1;
        }
    }
    ranges.retain(|(from, to)| from < to);
    ranges
}

/// An error and its sources on one line, `error: cause: cause`, the way logs and the binary
/// print them (each level's Display shows that level only, so nothing prints twice).
///
/// ```
/// let error = std::io::Error::other("disk full");
/// assert_eq!(aiops_text::error_chain(&error), "disk full");
/// ```
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newline_cannot_forge_a_log_line() {
        let forged = "10.0.0.1\n2026-12-05T06:00:00Z INFO admin logged in";
        assert_eq!(escape_controls(forged), "10.0.0.1\\n2026-12-05T06:00:00Z INFO admin logged in");
        assert_eq!(Escaped(forged).to_string(), escape_controls(forged));
        assert!(matches!(escape_controls("plain, ünïcode"), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_escapes_and_bidi_overrides_are_made_visible() {
        assert_eq!(escape_controls("\u{1b}]0;pwned\u{7}\r\t"), "\\u{1b}]0;pwned\\u{7}\\r\\t");
        assert_eq!(escape_controls("a\u{202e}b\u{2066}c\u{9b}"), "a\\u{202e}b\\u{2066}c\\u{9b}");
    }

    #[test]
    fn bounded_echo_cuts_at_a_character_boundary() {
        assert_eq!(bounded("short\n"), "short\\n");
        let long = format!("{}é{}", "a".repeat(199), "b".repeat(100));
        assert_eq!(bounded(&long), format!("{}... (301 bytes)", "a".repeat(199)));
        assert_eq!(bounded(&"x".repeat(200)), "x".repeat(200));
    }

    #[test]
    fn credentials_in_urls_never_survive() {
        let cases = [
            ("http://bob:PASSWORD@host:9090/api", "http://bob:***@host:9090/api"),
            ("see https://TOKEN@host and http://other", "see https://***@host and http://other"),
            (
                "(url http://u:p@h/x?query=up&token=abc&b=1#f)",
                "(url http://u:***@h/x?query=up&token=***&b=1#f)",
            ),
            (
                "s3 https://b.s3/k?X-Amz-Signature=ff&X-Amz-Credential=AK",
                "s3 https://b.s3/k?X-Amz-Signature=***&X-Amz-Credential=***",
            ),
            ("http://host/a@b", "http://host/a@b"),
            ("no url: a@b", "no url: a@b"),
            ("http://:@h", "http://:@h"),
        ];
        for (given, expected) in cases {
            assert_eq!(redact_urls(given), expected, "{given}");
        }
        assert!(matches!(redact_urls("http://host:9090/api?query=up"), Cow::Borrowed(_)));
    }
}
