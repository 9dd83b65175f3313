//! `synthetic-prometheus [--instances 10000]`
//!
//! Starts the SYNTHETIC Prometheus-API stand-in of `aiops_testkit::synthetic` (not Prometheus:
//! it evaluates no PromQL) with N node-exporter instances of deterministic data, prints one line
//! `READY <url>` and stays up until its standard input closes. For scale benchmarks
//! (benches/fleet_synthetic.sh).

use std::io::Read;

use aiops_testkit::synthetic::SyntheticPrometheus;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let instances = match args.as_slice() {
        [] => Ok(10_000),
        [flag, n] if flag == "--instances" => n
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or(format!("--instances: `{n}` is not a positive count")),
        _ => Err("usage: synthetic-prometheus [--instances N]".to_owned()),
    };
    let server =
        match instances.and_then(|n| SyntheticPrometheus::start(n).map_err(|e| format!("binding: {e}"))) {
            Ok(server) => server,
            Err(problem) => {
                eprintln!("error: {problem}");
                return std::process::ExitCode::from(2);
            }
        };
    println!("READY {}", server.url());
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(server);
    std::process::ExitCode::SUCCESS
}
