//! The only crate that speaks to Prometheus: a metric catalogue (cpu, memory, disk, network, custom),
//! instance validation and PromQL string escaping that make query injection impossible, chunked
//! range queries with retries, and discovery of the node-exporter instances Prometheus knows.
