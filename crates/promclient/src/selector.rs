//! Fleet range queries: a strictly parsed label selector (`--job`, `--selector`), the discovery query
//! of the instances it matches, and range queries of one metric for many instances at once.
//!
//! A selector given by a user is parsed into label matchers and rendered again from them, every
//! value escaped by PromQL's string rules: its text never reaches a query as it was typed.
//! Instances go into an `instance=~"a|b"` matcher regex-escaped, then string-escaped; the
//! alternation is split so that no regex exceeds [`MAX_INSTANCE_REGEX_BYTES`].

use crate::promql::{Instance, escape_promql_string};
use crate::{Error, Result};

/// Longest selector text accepted.
pub const MAX_SELECTOR_BYTES: usize = 4096;

/// Most label matchers in one selector.
pub const MAX_MATCHERS: usize = 32;

/// Longest `instance=~` regex of one fleet query (before string escaping); more instances are
/// split into several queries. About 3,500 instances of the form `10.0.0.1:9100` fit in one
/// (Prometheus matches an alternation of literals as a set); the form-encoded POST body stays
/// near 200 KB, below common proxies' 1 MB limits.
pub const MAX_INSTANCE_REGEX_BYTES: usize = 64 * 1024;

/// How a label matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (fully anchored RE2)
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::NotEqual => "!=",
            Self::Regex => "=~",
            Self::NotRegex => "!~",
        }
    }
}

/// One `name op "value"` matcher, its value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMatcher {
    /// The label name (`[a-zA-Z_][a-zA-Z0-9_]*`, not `__name__`).
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value, as Prometheus compares it (escapes decoded).
    pub value: String,
}

/// The series a fleet is made of: label matchers such as `{job="node",env="prod"}`, applied to
/// every metric of the catalogue (so no metric name).
///
/// ```
/// use aiops_promclient::LabelSelector;
/// let selector = LabelSelector::parse(r#"{job="node", env=~"prod|staging"}"#)?;
/// assert_eq!(selector.to_string(), r#"{job="node",env=~"prod|staging"}"#);
/// assert_eq!(LabelSelector::job("node")?, LabelSelector::parse(r#"{job="node"}"#)?);
/// assert!(LabelSelector::parse(r#"{job="node"} or vector(1)"#).is_err());
/// # Ok::<(), aiops_promclient::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    matchers: Vec<LabelMatcher>,
}

impl LabelSelector {
    /// `{job="<job>"}`: the instances of one scrape job.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`job`) when it is empty or longer than [`MAX_SELECTOR_BYTES`].
    pub fn job(job: &str) -> Result<Self> {
        if job.is_empty() || job.len() > MAX_SELECTOR_BYTES {
            return Err(Error::InvalidParameter {
                field: "job",
                reason: format!("must have 1 to {MAX_SELECTOR_BYTES} bytes"),
            });
        }
        Ok(Self {
            matchers: vec![LabelMatcher { name: "job".into(), op: MatchOp::Equal, value: job.into() }],
        })
    }

    /// Parses `{name op "value", ...}`: 1 to [`MAX_MATCHERS`] matchers with the operators `=`,
    /// `!=`, `=~`, `!~`, double- or single-quoted values with the escapes `\\ \" \' \n \r \t`,
    /// and no metric name (`__name__` is refused too).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`selector`) saying what is wrong and where.
    pub fn parse(text: &str) -> Result<Self> {
        if text.len() > MAX_SELECTOR_BYTES {
            return Err(invalid(format!("longer than {MAX_SELECTOR_BYTES} bytes")));
        }
        let inner = text
            .trim()
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
            .ok_or_else(|| invalid(r#"expected label matchers in braces, e.g. {job="node"}"#.into()))?;
        let mut parser = Parser { rest: inner };
        let mut matchers = Vec::new();
        loop {
            parser.skip_spaces();
            if parser.rest.is_empty() {
                break;
            }
            if matchers.len() == MAX_MATCHERS {
                return Err(invalid(format!("more than {MAX_MATCHERS} matchers")));
            }
            matchers.push(parser.matcher()?);
            parser.skip_spaces();
            if !parser.eat(",") && !parser.rest.is_empty() {
                return Err(invalid(format!("expected `,` or `}}` before `{}`", parser.shown())));
            }
        }
        if matchers.is_empty() {
            return Err(invalid("has no label matcher".into()));
        }
        Ok(Self { matchers })
    }

    /// The matchers.
    pub fn matchers(&self) -> &[LabelMatcher] {
        &self.matchers
    }

    /// The matchers as PromQL, without braces, every value escaped: `job="node",env="prod"`.
    pub fn promql_matchers(&self) -> String {
        let rendered: Vec<String> = self
            .matchers
            .iter()
            .map(|m| format!("{}{}\"{}\"", m.name, m.op.as_str(), escape_promql_string(&m.value)))
            .collect();
        rendered.join(",")
    }

    /// The instant query whose result has one series per instance the selector matches:
    /// `group by (instance) (up{<matchers>})` (every scrape target has `up`, also while down).
    pub fn discovery_query(&self) -> String {
        format!("group by (instance) (up{{{}}})", self.promql_matchers())
    }
}

impl std::fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{{}}}", self.promql_matchers())
    }
}

impl std::str::FromStr for LabelSelector {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

fn invalid(reason: String) -> Error {
    Error::InvalidParameter { field: "selector", reason }
}

/// A cursor over the text between the braces.
struct Parser<'a> {
    rest: &'a str,
}

impl Parser<'_> {
    fn skip_spaces(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, token: &str) -> bool {
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// The start of the remaining text, bounded and escaped, for errors.
    fn shown(&self) -> String {
        aiops_text::bounded(&self.rest.chars().take(40).collect::<String>())
    }

    fn matcher(&mut self) -> Result<LabelMatcher> {
        let end =
            self.rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(self.rest.len());
        let name = &self.rest[..end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(invalid(format!("expected a label name at `{}`", self.shown())));
        }
        if name == "__name__" {
            return Err(invalid("`__name__` is not allowed: the metric names come from --metric".into()));
        }
        self.rest = &self.rest[end..];
        self.skip_spaces();
        let op = [
            ("=~", MatchOp::Regex),
            ("!~", MatchOp::NotRegex),
            ("!=", MatchOp::NotEqual),
            ("=", MatchOp::Equal),
        ]
        .into_iter()
        .find_map(|(token, op)| self.eat(token).then_some(op))
        .ok_or_else(|| invalid(format!("expected =, !=, =~ or !~ after `{name}`")))?;
        self.skip_spaces();
        let value = self.string()?;
        Ok(LabelMatcher { name: name.to_owned(), op, value })
    }

    /// A quoted string with the simple escapes, decoded.
    fn string(&mut self) -> Result<String> {
        let mut chars = self.rest.char_indices();
        let quote = match chars.next() {
            Some((_, q @ ('"' | '\''))) => q,
            _ => return Err(invalid(format!("expected a quoted value at `{}`", self.shown()))),
        };
        let mut value = String::new();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.rest = &self.rest[i + c.len_utf8()..];
                    return Ok(value);
                }
                '\\' => value.push(match chars.next().map(|(_, e)| e) {
                    Some(e @ ('\\' | '"' | '\'')) => e,
                    Some('n') => '\n',
                    Some('r') => '\r',
                    Some('t') => '\t',
                    other => {
                        let shown = other.map_or_else(String::new, |e| aiops_text::bounded(&e.to_string()));
                        return Err(invalid(format!(
                            "unsupported escape `\\{shown}` (use \\\\ \\\" \\' \\n \\r \\t)"
                        )));
                    }
                }),
                c if c.is_control() => return Err(invalid("control characters must be escaped".into())),
                c => value.push(c),
            }
        }
        Err(invalid("a quoted value is not terminated".into()))
    }
}

/// `text` with every RE2 metacharacter backslash-escaped, so that it matches only itself.
///
/// ```
/// assert_eq!(aiops_promclient::escape_regex("10.0.0.1:9100"), r"10\.0\.0\.1:9100");
/// assert_eq!(aiops_promclient::escape_regex("[::1]:9100"), r"\[::1\]:9100");
/// ```
pub fn escape_regex(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// One range query of a metric for some of a fleet's instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstancesQuery<'a> {
    /// The PromQL, one result series per instance (labelled `instance`).
    pub query: String,
    /// The instances it asks for.
    pub instances: &'a [Instance],
}

/// Splits `instances` into runs whose escaped alternation `a|b|...` stays within
/// [`MAX_INSTANCE_REGEX_BYTES`] (an instance is at most 260 bytes, so every run has one at least).
pub(crate) fn instance_runs(instances: &[Instance]) -> Vec<(&[Instance], String)> {
    let mut runs = Vec::new();
    let (mut first, mut regex) = (0, String::new());
    for (i, instance) in instances.iter().enumerate() {
        let escaped = escape_regex(instance.as_str());
        if !regex.is_empty() && regex.len() + 1 + escaped.len() > MAX_INSTANCE_REGEX_BYTES {
            runs.push((&instances[first..i], std::mem::take(&mut regex)));
            first = i;
        }
        if !regex.is_empty() {
            regex.push('|');
        }
        regex.push_str(&escaped);
    }
    if !regex.is_empty() {
        runs.push((&instances[first..], regex));
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> String {
        match LabelSelector::parse(text) {
            Err(Error::InvalidParameter { field: "selector", reason }) => reason,
            other => panic!("`{text}` must be refused, got {other:?}"),
        }
    }

    #[test]
    fn injection_attempts_and_malformed_selectors_are_refused_by_name() {
        for text in [
            r#"{job="node"} or vector(1)"#,
            r#"up{job="node"}"#,
            r#"{job="node"}}"#,
            "{}",
            r#"{job="node" env="prod"}"#,
            r#"{job=node}"#,
            r#"{job="node}"#,
            r#"{job~"node"}"#,
            r#"{__name__="up"}"#,
            r#"{9job="x"}"#,
            r#"{job="\x41"}"#,
            "{job=`node`}",
            "{job=\"a\nb\"}",
        ] {
            assert!(!reason(text).is_empty(), "{text}");
        }
        assert!(reason(&format!("{{job=\"{}\"}}", "x".repeat(MAX_SELECTOR_BYTES))).contains("longer"));
        let many = (0..=MAX_MATCHERS).map(|i| format!("l{i}=\"v\"")).collect::<Vec<_>>().join(",");
        assert!(reason(&format!("{{{many}}}")).contains("more than"));
    }

    #[test]
    fn values_are_decoded_then_escaped_again() {
        let selector = LabelSelector::parse(r#" { env = 'a"b' , re=~"10\\.0\\..*", x!~"", } "#).unwrap();
        let values: Vec<&str> = selector.matchers().iter().map(|m| m.value.as_str()).collect();
        assert_eq!(values, [r#"a"b"#, r"10\.0\..*", ""]);
        assert_eq!(selector.to_string(), r#"{env="a\"b",re=~"10\\.0\\..*",x!~""}"#);
        assert_eq!(LabelSelector::parse(&selector.to_string()).unwrap(), selector, "rendering round-trips");
        let job = LabelSelector::job(r#"x"} or vector(1) or {a=""#).unwrap();
        assert_eq!(job.discovery_query(), r#"group by (instance) (up{job="x\"} or vector(1) or {a=\""})"#);
    }

    #[test]
    fn instance_runs_stay_within_the_regex_bound_and_cover_every_instance_once() {
        let instances: Vec<Instance> = (0..10_000)
            .map(|i| {
                Instance::parse(&format!("10.{}.{}.{}:9100", i / 65_536, i / 256 % 256, i % 256)).unwrap()
            })
            .collect();
        let runs = instance_runs(&instances);
        let sizes: Vec<usize> = runs.iter().map(|(run, _)| run.len()).collect();
        assert!(sizes.len() > 1 && sizes[..sizes.len() - 1].iter().all(|&n| n > 3_000), "{sizes:?}");
        assert!(runs.iter().all(|(_, regex)| regex.len() <= MAX_INSTANCE_REGEX_BYTES));
        let covered: Vec<&Instance> = runs.iter().flat_map(|(run, _)| run.iter()).collect();
        assert_eq!(covered, instances.iter().collect::<Vec<_>>());
        for (run, regex) in &runs {
            assert_eq!(regex.split('|').count(), run.len());
        }
        assert!(instance_runs(&[]).is_empty());
    }
}
