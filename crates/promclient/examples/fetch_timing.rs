//! Times `PromClient::fetch` for `benches/promclient_vs_python.py`:
//! `fetch_timing URL INSTANCE START END STEP_SECONDS REPEATS` prints
//! `{"points": N, "best_seconds": S}` (the best of REPEATS fetches).

use std::time::{Duration, Instant};

use aiops_promclient::{ClientConfig, Instance, Metric, PromClient, TimeWindow};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, instance, start, end, step, repeats] = &args[..] else {
        return Err("usage: fetch_timing URL INSTANCE START END STEP_SECONDS REPEATS".into());
    };
    let client = PromClient::new(ClientConfig::from_url(url)?)?;
    let instance = Instance::parse(instance)?;
    let window = TimeWindow::new(start.parse()?, end.parse()?)?;
    let step = Duration::from_secs(step.parse()?);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let mut best = f64::INFINITY;
    let mut points = 0;
    for _ in 0..repeats.parse::<usize>()? {
        let started = Instant::now();
        let series = runtime.block_on(client.fetch(&instance, &Metric::Cpu, window, step, None))?;
        best = best.min(started.elapsed().as_secs_f64());
        points = series.values.len();
    }
    println!("{{\"points\": {points}, \"best_seconds\": {best}}}");
    Ok(())
}
