//! `test-prometheus [--hours 24] [--step 10] [--instances 2] [--incident HOURS_BEFORE_END,MINUTES,USAGE | --no-incident] [--fleet]`
//!
//! Starts a real Prometheus filled with generated node-exporter metrics (see
//! `aiops_testkit::prometheus`), prints one line `READY <url> <json ground truth summary>` and
//! stays up until its standard input closes. Python tests (MCP conformance) use it. `--fleet`
//! adds the fleet verdicts of `Scenario::example_fleet` (three instances at least).

use std::io::Read;

use aiops_testkit::prometheus::{Scenario, TestPrometheus};

/// Parsed command line.
struct Options {
    hours: f64,
    step: u64,
    instances: usize,
    incident: Option<(f64, u64, f64)>,
    fleet: bool,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options =
        Options { hours: 24.0, step: 10, instances: 2, incident: Some((4.5, 30, 95.0)), fleet: false };
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--hours" => options.hours = number(&flag, &value()?)?,
            "--step" => options.step = number(&flag, &value()?)?,
            "--instances" => options.instances = number(&flag, &value()?)?,
            "--no-incident" => options.incident = None,
            "--fleet" => options.fleet = true,
            "--incident" => {
                let text = value()?;
                let parts: Vec<&str> = text.split(',').collect();
                let [hours, minutes, usage] = parts[..] else {
                    return Err(format!("--incident expects HOURS_BEFORE_END,MINUTES,USAGE, got `{text}`"));
                };
                options.incident =
                    Some((number(&flag, hours)?, number(&flag, minutes)?, number(&flag, usage)?));
            }
            _ => return Err(format!("unknown argument `{flag}`")),
        }
    }
    if options.instances == 0 || options.step == 0 || options.hours <= 0.0 {
        return Err("--instances, --step and --hours must be positive".into());
    }
    if options.fleet && options.instances < 3 {
        return Err("--fleet needs --instances 3 or more".into());
    }
    Ok(options)
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.trim().parse().map_err(|_| format!("{flag}: `{text}` is not a valid number"))
}

fn main() -> std::process::ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(problem) => {
            eprintln!("error: {problem}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut scenario = Scenario::recent(options.instances, options.hours, options.step);
    if let Some((hours_before_end, minutes, usage)) = options.incident {
        scenario = scenario.with_incident(0, hours_before_end, minutes, usage);
    }
    if options.fleet {
        scenario = scenario.with_example_fleet();
    }
    let prometheus = match TestPrometheus::start(scenario) {
        Ok(prometheus) => prometheus,
        Err(problem) => {
            eprintln!("error: {problem}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("READY {} {}", prometheus.url(), prometheus.scenario().summary_json());
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(prometheus);
    std::process::ExitCode::SUCCESS
}
