//! The anomaly-detection MCP server: tools that query Prometheus, compute the shared features,
//! score them with the shared forest and answer with citable facts (periods, peaks, severity,
//! explanations), served over MCP streamable HTTP for KAgent and any MCP client.
