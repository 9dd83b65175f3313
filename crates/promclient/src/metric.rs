//! The metric catalogue: what `--metric cpu|memory|disk|network` queries, and custom templates.

use prometheus_http_query::Selector;

use crate::promql::{Instance, escape_promql_string, fill_template};
use crate::selector::{InstancesQuery, LabelSelector, instance_runs};
use crate::{Error, Result};

/// A metric of one node, as a PromQL query returning one series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    /// CPU usage in percent (the reference query), column `cpu_usage`.
    Cpu,
    /// Memory usage in percent, column `memory_usage`.
    Memory,
    /// Used space of a filesystem in percent, column `disk_usage`.
    Disk {
        /// The filesystem's mount point, e.g. `/`.
        mountpoint: String,
    },
    /// Received bytes per second over all devices but loopback, column `network_rx_bytes`.
    Network,
    /// A PromQL template whose `{instance}` placeholders (inside double-quoted strings) receive
    /// the escaped instance.
    Custom {
        /// The template, e.g. `up{instance="{instance}"}`.
        template: String,
        /// The CSV value column, e.g. `up`.
        value_column: String,
    },
}

/// The catalogue names accepted by [`Metric::parse`].
pub const METRIC_NAMES: [&str; 4] = ["cpu", "memory", "disk", "network"];

impl Metric {
    /// Parses a catalogue name (`cpu`, `memory`, `disk` for `/`, `network`).
    ///
    /// # Errors
    /// [`Error::InvalidMetric`] for any other name.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "cpu" => Ok(Self::Cpu),
            "memory" => Ok(Self::Memory),
            "disk" => Ok(Self::Disk { mountpoint: "/".to_owned() }),
            "network" => Ok(Self::Network),
            _ => Err(Error::InvalidMetric { name: name.to_owned() }),
        }
    }

    /// A custom metric, checked: the template must fill safely and the column must be a plain
    /// identifier (it becomes a CSV header).
    ///
    /// # Errors
    /// [`Error::InvalidTemplate`] or [`Error::InvalidParameter`] (`value_column`).
    pub fn custom(template: &str, value_column: &str) -> Result<Self> {
        let probe = Instance::parse("127.0.0.1:9100")?;
        fill_template(template, &probe)?;
        let identifier = value_column.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && value_column.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            return Err(Error::InvalidParameter {
                field: "value_column",
                reason: format!("`{value_column}` is not an identifier (letters, digits, `_`)"),
            });
        }
        Ok(Self::Custom { template: template.to_owned(), value_column: value_column.to_owned() })
    }

    /// The PromQL query for `instance`, every value escaped.
    ///
    /// ```
    /// use aiops_promclient::{Instance, Metric};
    /// let query = Metric::Cpu.query(&Instance::parse("10.0.0.1:9100")?)?;
    /// assert_eq!(query, r#"100 - (avg(rate(node_cpu_seconds_total{mode="idle",instance="10.0.0.1:9100"}[5m])) * 100)"#);
    /// # Ok::<(), aiops_promclient::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidTemplate`] for a custom template that cannot be filled safely.
    pub fn query(&self, instance: &Instance) -> Result<String> {
        let i = escape_promql_string(instance.as_str());
        Ok(match self {
            Self::Cpu => format!(
                r#"100 - (avg(rate(node_cpu_seconds_total{{mode="idle",instance="{i}"}}[5m])) * 100)"#
            ),
            Self::Memory => format!(
                r#"(1 - node_memory_MemAvailable_bytes{{instance="{i}"}} / node_memory_MemTotal_bytes{{instance="{i}"}}) * 100"#
            ),
            Self::Disk { mountpoint } => {
                let m = escape_promql_string(mountpoint);
                format!(
                    r#"max((1 - node_filesystem_avail_bytes{{instance="{i}",mountpoint="{m}"}} / node_filesystem_size_bytes{{instance="{i}",mountpoint="{m}"}}) * 100)"#
                )
            }
            Self::Network => {
                format!(r#"sum(rate(node_network_receive_bytes_total{{instance="{i}",device!="lo"}}[5m]))"#)
            }
            Self::Custom { template, .. } => fill_template(template, instance)?,
        })
    }

    /// The range queries of this metric for many `instances` at once, one result series per
    /// instance (grouped `by (instance)`): the catalogue query with the `selector`'s matchers and
    /// an `instance=~"a|b|..."` matcher, regex- and string-escaped. Usually one query; more only
    /// when the instances' regex would exceed [`crate::MAX_INSTANCE_REGEX_BYTES`]. Each value
    /// equals what [`Metric::query`] returns for the instance alone.
    ///
    /// ```
    /// use aiops_promclient::{Instance, LabelSelector, Metric};
    /// let instances = [Instance::parse("10.0.0.1:9100")?, Instance::parse("10.0.0.2:9100")?];
    /// let queries = Metric::Network.fleet_queries(Some(&LabelSelector::job("node")?), &instances)?;
    /// assert_eq!(queries.len(), 1);
    /// assert_eq!(
    ///     queries[0].query,
    ///     r#"sum by (instance) (rate(node_network_receive_bytes_total{job="node",instance=~"10\\.0\\.0\\.1:9100|10\\.0\\.0\\.2:9100",device!="lo"}[5m]))"#
    /// );
    /// # Ok::<(), aiops_promclient::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`metric`) for a custom template: it names one instance only.
    pub fn fleet_queries<'a>(
        &self,
        selector: Option<&LabelSelector>,
        instances: &'a [Instance],
    ) -> Result<Vec<InstancesQuery<'a>>> {
        let selector = selector.map(|s| format!("{},", s.promql_matchers())).unwrap_or_default();
        instance_runs(instances)
            .into_iter()
            .map(|(run, regex)| {
                let matchers = format!(r#"{selector}instance=~"{}""#, escape_promql_string(&regex));
                Ok(InstancesQuery { query: self.grouped_query(&matchers)?, instances: run })
            })
            .collect()
    }

    /// The range query of this metric for every instance `selector` matches, one result series
    /// per instance, with no instance matcher: for a watcher that takes the whole fleet.
    ///
    /// ```
    /// use aiops_promclient::{LabelSelector, Metric};
    /// assert_eq!(
    ///     Metric::Memory.selector_query(&LabelSelector::job("node")?)?,
    ///     r#"max by (instance) ((1 - node_memory_MemAvailable_bytes{job="node"} / node_memory_MemTotal_bytes{job="node"}) * 100)"#
    /// );
    /// # Ok::<(), aiops_promclient::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`metric`) for a custom template: it names one instance only.
    pub fn selector_query(&self, selector: &LabelSelector) -> Result<String> {
        self.grouped_query(&selector.promql_matchers())
    }

    /// The catalogue query grouped `by (instance)`, its series selected by `s` (label matchers,
    /// already escaped).
    fn grouped_query(&self, s: &str) -> Result<String> {
        Ok(match self {
            Self::Cpu => format!(
                r#"100 - (avg by (instance) (rate(node_cpu_seconds_total{{mode="idle",{s}}}[5m])) * 100)"#
            ),
            Self::Memory => format!(
                r#"max by (instance) ((1 - node_memory_MemAvailable_bytes{{{s}}} / node_memory_MemTotal_bytes{{{s}}}) * 100)"#
            ),
            Self::Disk { mountpoint } => {
                let m = escape_promql_string(mountpoint);
                format!(
                    r#"max by (instance) ((1 - node_filesystem_avail_bytes{{{s},mountpoint="{m}"}} / node_filesystem_size_bytes{{{s},mountpoint="{m}"}}) * 100)"#
                )
            }
            Self::Network => {
                format!(
                    r#"sum by (instance) (rate(node_network_receive_bytes_total{{{s},device!="lo"}}[5m]))"#
                )
            }
            Self::Custom { .. } => {
                return Err(Error::InvalidParameter {
                    field: "metric",
                    reason: "a custom template queries one instance; fleets use the catalogue's metrics"
                        .into(),
                });
            }
        })
    }

    /// The catalogue name ([`Metric::parse`]'s input: `cpu`, `memory`, `disk`, `network`), or
    /// a custom metric's value column.
    pub fn name(&self) -> &str {
        match self {
            Self::Cpu => "cpu",
            Self::Memory => "memory",
            Self::Disk { .. } => "disk",
            Self::Network => "network",
            Self::Custom { value_column, .. } => value_column,
        }
    }

    /// The CSV value column (`cpu_usage`, `memory_usage`, `disk_usage`, `network_rx_bytes`).
    pub fn value_column(&self) -> &str {
        match self {
            Self::Cpu => "cpu_usage",
            Self::Memory => "memory_usage",
            Self::Disk { .. } => "disk_usage",
            Self::Network => "network_rx_bytes",
            Self::Custom { value_column, .. } => value_column,
        }
    }

    /// A series selector whose `instance` label values are the instances that have this
    /// metric (used to list the instances with data when a fetch finds none).
    pub(crate) fn discovery_selector(&self) -> Selector<'static> {
        match self {
            Self::Cpu => Selector::new().metric("node_cpu_seconds_total").eq("mode", "idle"),
            Self::Memory => Selector::new().metric("node_memory_MemAvailable_bytes"),
            Self::Disk { .. } => Selector::new().metric("node_filesystem_avail_bytes"),
            Self::Network => Selector::new().metric("node_network_receive_bytes_total"),
            Self::Custom { .. } => Selector::new().regex_eq("instance", ".+"),
        }
    }
}
