//! A real Prometheus (Debian's `prometheus` 2.42) filled with generated node-exporter metrics.
//!
//! [`Scenario`] describes node-exporter instances with a CPU-usage profile each (base usage, a
//! daily pattern, deterministic noise, an optional incident window and an optional end) and
//! generates an OpenMetrics file with `up`, `node_cpu_seconds_total` counters plus memory,
//! filesystem and network series, so that every metric of the promclient catalogue has data. [`TestPrometheus::start`]
//! backfills it with `promtool tsdb create-blocks-from openmetrics` into a temporary folder,
//! starts Prometheus on a free loopback port with a long retention (backfilled blocks older than
//! the retention would be deleted at start-up) and waits until it is ready.
//!
//! Samples end a couple of minutes before "now", so relative queries (`--hours 2`) see data.
//! The scenario is the ground truth: [`Scenario::expected_cpu`] is exactly what
//! `100 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m])) * 100` evaluates to at a sample time.
//!
//! Prometheus runs under a small shell supervisor that kills it (and deletes the data folder)
//! when our end of its standard input closes: when the guard is dropped, and also when the test
//! process exits without dropping it (a `static` shared instance), so no Prometheus outlives
//! its test.

use std::fmt::Write as _;
use std::io::{BufWriter, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Seconds of the rate window of the reference CPU query (`[5m]`).
pub const RATE_WINDOW_SECONDS: u64 = 300;

/// How long before "now" the generated samples end (Prometheus rejects nothing, and relative
/// queries ending at "now" still find samples within the 5 minute lookback).
pub const END_BEFORE_NOW_SECONDS: u64 = 120;

/// A window of unusually high CPU usage on one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// First second (unix) of the incident; intervals ending after it are affected.
    pub start: u64,
    /// Last second (unix) of the incident; intervals ending at or before it are affected.
    pub end: u64,
    /// CPU usage in percent during the incident (before noise).
    pub usage: f64,
}

/// How busy one instance's CPUs are over time, in percent.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuProfile {
    /// Mean usage in percent.
    pub base: f64,
    /// Amplitude in percent of a daily sine wave (peaking at 06:00 UTC).
    pub daily_amplitude: f64,
    /// Amplitude in percent of deterministic uniform noise.
    pub noise: f64,
    /// An optional incident window with high usage.
    pub incident: Option<Incident>,
}

/// One generated node-exporter target.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceSpec {
    /// The `instance` label, e.g. `10.0.0.1:9100`.
    pub instance: String,
    /// Number of CPUs (`cpu="0"`, `cpu="1"`, ...), all with the same usage.
    pub cpus: usize,
    /// The CPU usage profile.
    pub profile: CpuProfile,
    /// Seed of the noise.
    pub seed: u64,
    /// Last sample time of the instance when it stops being scraped before the scenario ends
    /// (its series, `up` included, end there); `None` for the whole scenario.
    pub until: Option<u64>,
}

/// Generated metrics: instances sampled every `step` seconds from `start` to `end` inclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The instances (all with `job="node"`).
    pub instances: Vec<InstanceSpec>,
    /// First sample time (unix seconds, a multiple of `step`).
    pub start: u64,
    /// Last sample time (unix seconds, a multiple of `step`).
    pub end: u64,
    /// Seconds between samples.
    pub step: u64,
    /// Series of the fleet metrics `aiops watch` exports (`aiops_anomaly_score`, ...), if any.
    pub fleet: Vec<FleetSpec>,
}

/// One series of the fleet metrics `aiops watch` exports (issue 18), constant over the
/// scenario: `aiops_anomaly_score`, `aiops_incident_open` and
/// `aiops_incident_start_timestamp_seconds` (0 while no incident is open), labelled
/// `job="aiops-watch"`, `pod`, `instance` and `metric`.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSpec {
    /// The `instance` label.
    pub instance: String,
    /// The `metric` label (`cpu`, `memory`, ...).
    pub metric: String,
    /// The replica that exports it (`pod` label): the same series from two pods is a rebalance.
    pub pod: String,
    /// The anomaly score (0 normal, >= 1 anomalous).
    pub score: f64,
    /// Whether an incident is open.
    pub incident_open: bool,
    /// The onset of the last incident (unix seconds): the open one, or one that closed.
    pub incident_start: Option<u64>,
}

impl Scenario {
    /// `instances` node-exporter targets `10.0.0.<i>:9100` (2 CPUs each, base usage 20 + 5 i
    /// percent, daily amplitude 10, noise 3) over the last `hours` hours at `step` seconds,
    /// ending [`END_BEFORE_NOW_SECONDS`] before now. No incident: see [`Scenario::with_incident`].
    pub fn recent(instances: usize, hours: f64, step: u64) -> Self {
        let step = step.max(1);
        let end = (now_unix() - END_BEFORE_NOW_SECONDS) / step * step;
        let span = ((hours * 3600.0) as u64) / step * step;
        let instances = (1..=instances)
            .map(|i| InstanceSpec {
                instance: format!("10.0.0.{i}:9100"),
                cpus: 2,
                profile: CpuProfile {
                    base: 20.0 + 5.0 * i as f64,
                    daily_amplitude: 10.0,
                    noise: 3.0,
                    incident: None,
                },
                seed: 42 + i as u64,
                until: None,
            })
            .collect();
        Self { instances, start: end - span, end, step, fleet: Vec::new() }
    }

    /// The issue's scenario: two instances over the last 24 h at 10 s, with a 30 minute
    /// incident at 95 % on the first instance that ended 4 hours before the data ends.
    pub fn two_nodes_24h() -> Self {
        Self::recent(2, 24.0, 10).with_incident(0, 4.5, 30, 95.0)
    }

    /// Adds an incident on instance `index`: `minutes` long at `usage` percent, starting
    /// `hours_before_end` hours before the last sample (aligned to the step).
    pub fn with_incident(mut self, index: usize, hours_before_end: f64, minutes: u64, usage: f64) -> Self {
        let start = (self.end.saturating_sub((hours_before_end * 3600.0) as u64) / self.step * self.step)
            .max(self.start);
        self.instances[index].profile.incident = Some(Incident { start, end: start + minutes * 60, usage });
        self
    }

    /// Adds the fleet verdicts of [`Scenario::example_fleet`] (needs 3 instances or more).
    #[must_use]
    pub fn with_example_fleet(mut self) -> Self {
        self.fleet = self.example_fleet();
        self
    }

    /// A fleet of verdicts over the first three instances, the ground truth of the fleet tests:
    /// instance 1 anomalous on cpu (score 3.5, incident open since 30 minutes before the end,
    /// exported by two pods as during a rebalance) and memory (1.25, no incident); instance 2
    /// anomalous on disk (2, incident open since an hour before the end); instance 3 normal
    /// (0.4 on cpu, an incident start left over from a closed incident).
    ///
    /// # Panics
    /// When the scenario has fewer than three instances.
    pub fn example_fleet(&self) -> Vec<FleetSpec> {
        let name = |i: usize| self.instances[i].instance.clone();
        let spec = |i, metric: &str, pod: &str, score, incident_open, incident_start| FleetSpec {
            instance: name(i),
            metric: metric.into(),
            pod: pod.into(),
            score,
            incident_open,
            incident_start,
        };
        vec![
            spec(0, "cpu", "aiops-watch-0", 3.5, true, Some(self.end - 1800)),
            spec(0, "cpu", "aiops-watch-1", 3.5, true, Some(self.end - 1800)),
            spec(0, "memory", "aiops-watch-0", 1.25, false, None),
            spec(1, "disk", "aiops-watch-1", 2.0, true, Some(self.end - 3600)),
            spec(2, "cpu", "aiops-watch-2", 0.4, false, Some(self.end - 7200)),
        ]
    }

    /// Makes instance `index` vanish: its last sample is `hours_before_end` hours before the
    /// scenario's end (aligned to the step).
    pub fn with_vanished(mut self, index: usize, hours_before_end: f64) -> Self {
        let until = self.end.saturating_sub((hours_before_end * 3600.0) as u64) / self.step * self.step;
        self.instances[index].until = Some(until.max(self.start));
        self
    }

    /// The sample times of `spec`: the scenario's, up to the instance's `until`.
    fn spec_timestamps<'a>(&'a self, spec: &'a InstanceSpec) -> impl Iterator<Item = u64> + 'a {
        self.timestamps().filter(move |&t| spec.until.is_none_or(|until| t <= until))
    }

    /// The sample times, `start..=end` every `step`.
    pub fn timestamps(&self) -> impl Iterator<Item = u64> + '_ {
        (self.start..=self.end).step_by(self.step as usize)
    }

    /// The instance spec named `instance`.
    pub fn instance(&self, instance: &str) -> Option<&InstanceSpec> {
        self.instances.iter().find(|spec| spec.instance == instance)
    }

    /// The instance with an incident, and the incident.
    pub fn incident(&self) -> Option<(&InstanceSpec, &Incident)> {
        self.instances.iter().find_map(|spec| spec.profile.incident.as_ref().map(|i| (spec, i)))
    }

    /// What the reference CPU query returns at sample time `t` for `instance`: the mean usage
    /// (percent) of the intervals in the 5 minute window ending at `t`. `None` when `t` is not
    /// a sample time or the window reaches before the first sample.
    pub fn expected_cpu(&self, instance: &str, t: u64) -> Option<f64> {
        let spec = self.instance(instance)?;
        let end = spec.until.unwrap_or(self.end).min(self.end);
        if !t.is_multiple_of(self.step) || t > end || t < self.start + RATE_WINDOW_SECONDS {
            return None;
        }
        let intervals = RATE_WINDOW_SECONDS / self.step;
        let sum: f64 = (0..intervals).map(|k| spec.interval_usage(t - k * self.step)).sum();
        Some(sum / intervals as f64)
    }

    /// Writes the OpenMetrics text (ending with `# EOF`) that `promtool` backfills.
    ///
    /// # Errors
    /// Whatever `out` returns.
    pub fn write_openmetrics(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut line = String::with_capacity(160);
        for spec in &self.instances {
            let labels = format!("instance=\"{}\",job=\"node\"", spec.instance);
            for t in self.spec_timestamps(spec) {
                line.clear();
                let _ = writeln!(line, "up{{{labels}}} 1 {t}");
                out.write_all(line.as_bytes())?;
            }
            for cpu in 0..spec.cpus {
                for (mode, share) in CPU_MODES {
                    let mut counter = 1000.0 * (cpu + 1) as f64;
                    for t in self.spec_timestamps(spec) {
                        if t > self.start {
                            let busy = spec.interval_usage(t) / 100.0;
                            let fraction = if mode == "idle" { 1.0 - busy } else { busy * share };
                            counter += fraction * self.step as f64;
                        }
                        line.clear();
                        let _ = writeln!(
                            line,
                            "node_cpu_seconds_total{{cpu=\"{cpu}\",{labels},mode=\"{mode}\"}} {counter:?} {t}"
                        );
                        out.write_all(line.as_bytes())?;
                    }
                }
            }
            let gauges: [Gauge; 4] = [
                ("node_memory_MemTotal_bytes", "", |_| MEMORY_TOTAL_BYTES),
                ("node_memory_MemAvailable_bytes", "", |t| {
                    MEMORY_TOTAL_BYTES * (1.0 - memory_usage(t) / 100.0)
                }),
                ("node_filesystem_size_bytes", FILESYSTEM_LABELS, |_| FILESYSTEM_SIZE_BYTES),
                ("node_filesystem_avail_bytes", FILESYSTEM_LABELS, |t| {
                    FILESYSTEM_SIZE_BYTES * (1.0 - disk_usage(t) / 100.0)
                }),
            ];
            for (name, extra, value) in gauges {
                for t in self.spec_timestamps(spec) {
                    line.clear();
                    let _ = writeln!(line, "{name}{{{extra}{labels}}} {:?} {t}", value(t));
                    out.write_all(line.as_bytes())?;
                }
            }
            let mut received = 0.0;
            for t in self.spec_timestamps(spec) {
                if t > self.start {
                    received += network_rx_rate(t) * self.step as f64;
                }
                line.clear();
                let _ = writeln!(
                    line,
                    "node_network_receive_bytes_total{{device=\"eth0\",{labels}}} {received:?} {t}"
                );
                out.write_all(line.as_bytes())?;
            }
        }
        self.write_fleet(out)?;
        out.write_all(b"# EOF\n")
    }

    /// The fleet metrics' lines.
    fn write_fleet(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut line = String::with_capacity(160);
        for spec in &self.fleet {
            let labels = format!(
                "instance=\"{}\",job=\"aiops-watch\",metric=\"{}\",pod=\"{}\"",
                spec.instance, spec.metric, spec.pod
            );
            let open = spec.incident_open;
            let start = spec.incident_start.map_or(0.0, |s| s as f64);
            let values = [
                ("aiops_anomaly_score", spec.score),
                ("aiops_incident_open", if open { 1.0 } else { 0.0 }),
                ("aiops_incident_start_timestamp_seconds", start),
            ];
            for (name, value) in values {
                for t in self.timestamps() {
                    line.clear();
                    let _ = writeln!(line, "{name}{{{labels}}} {value:?} {t}");
                    out.write_all(line.as_bytes())?;
                }
            }
        }
        Ok(())
    }

    /// A JSON summary of the ground truth (one line), for [`TestPrometheus`]' binary.
    pub fn summary_json(&self) -> String {
        let instances: Vec<String> = self
            .instances
            .iter()
            .map(|spec| {
                let p = &spec.profile;
                let incident = p.incident.as_ref().map_or_else(
                    || "null".to_owned(),
                    |i| format!(r#"{{"start":{},"end":{},"usage":{:?}}}"#, i.start, i.end, i.usage),
                );
                format!(
                    r#"{{"instance":"{}","cpus":{},"base":{:?},"daily_amplitude":{:?},"noise":{:?},"incident":{incident}}}"#,
                    spec.instance, spec.cpus, p.base, p.daily_amplitude, p.noise
                )
            })
            .collect();
        let fleet: Vec<String> = self
            .fleet
            .iter()
            .map(|f| {
                let start = f.incident_start.map_or_else(|| "null".to_owned(), |s| s.to_string());
                format!(
                    r#"{{"instance":"{}","metric":"{}","pod":"{}","score":{:?},"incident_open":{},"incident_start":{start}}}"#,
                    f.instance, f.metric, f.pod, f.score, f.incident_open
                )
            })
            .collect();
        format!(
            r#"{{"start":{},"end":{},"step":{},"job":"node","instances":[{}],"fleet":[{}]}}"#,
            self.start,
            self.end,
            self.step,
            instances.join(","),
            fleet.join(",")
        )
    }
}

/// A gauge: metric name, extra labels (ending with a comma) and its value at a time.
type Gauge = (&'static str, &'static str, fn(u64) -> f64);

/// CPU modes and their share of the busy time (idle takes the rest).
const CPU_MODES: [(&str, f64); 4] = [("idle", 0.0), ("user", 0.6), ("system", 0.3), ("iowait", 0.1)];

/// Total memory of every generated instance (8 GiB).
pub const MEMORY_TOTAL_BYTES: f64 = 8.0 * 1024.0 * 1024.0 * 1024.0;
/// Size of every generated root filesystem (100 GB).
pub const FILESYSTEM_SIZE_BYTES: f64 = 100e9;
const FILESYSTEM_LABELS: &str = "device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\",";

/// Generated memory usage in percent at `t` (same for every instance).
pub fn memory_usage(t: u64) -> f64 {
    50.0 + 10.0 * daily_wave(t)
}

/// Generated root filesystem usage in percent at `t` (same for every instance).
pub fn disk_usage(t: u64) -> f64 {
    60.0 + 5.0 * daily_wave(t)
}

/// Generated network receive rate in bytes per second during the interval ending at `t`.
pub fn network_rx_rate(t: u64) -> f64 {
    1e6 * (1.5 + daily_wave(t))
}

/// A sine over the UTC day, in [-1, 1], peaking at 06:00.
fn daily_wave(t: u64) -> f64 {
    (std::f64::consts::TAU * (t % 86_400) as f64 / 86_400.0).sin()
}

impl InstanceSpec {
    /// CPU usage in percent during the step interval that ends at sample time `t`.
    pub fn interval_usage(&self, t: u64) -> f64 {
        let p = &self.profile;
        let noise = p.noise * (2.0 * unit_noise(self.seed, t) - 1.0);
        let level = match &p.incident {
            Some(incident) if t > incident.start && t <= incident.end => incident.usage,
            _ => p.base + p.daily_amplitude * daily_wave(t),
        };
        (level + noise).clamp(0.0, 100.0)
    }
}

/// Deterministic noise in [0, 1) from a seed and a time (splitmix64).
pub(crate) fn unit_noise(seed: u64, t: u64) -> f64 {
    let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(t);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A running Prometheus holding a [`Scenario`]'s data; stopped and deleted when dropped.
#[derive(Debug)]
pub struct TestPrometheus {
    supervisor: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    scenario: Scenario,
}

/// Kills Prometheus and deletes its folder when standard input closes (see the module docs).
const SUPERVISOR: &str = r#"dir="$1"; shift
"$@" >"$dir/prometheus.log" 2>&1 &
pid=$!
cat >/dev/null
kill "$pid" 2>/dev/null
wait "$pid"
rm -rf "$dir""#;

impl TestPrometheus {
    /// Backfills `scenario` and starts Prometheus; `Err` says what failed (a missing
    /// `promtool`/`prometheus`, a failed backfill with promtool's output, or a start-up that
    /// did not become ready within 30 s, with Prometheus' log).
    ///
    /// # Errors
    /// As above.
    pub fn start(scenario: Scenario) -> Result<Self, String> {
        Self::start_with_flags(scenario, &[])
    }

    /// [`TestPrometheus::start`] with extra command-line flags for Prometheus, e.g.
    /// `--web.enable-remote-write-receiver`.
    ///
    /// # Errors
    /// As [`TestPrometheus::start`].
    pub fn start_with_flags(scenario: Scenario, flags: &[&str]) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("aiops-prometheus-")
            .tempdir()
            .map_err(|e| format!("creating a temporary folder: {e}"))?
            .keep();
        let result = Self::start_in(&dir, scenario, flags);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        result
    }

    fn start_in(dir: &Path, scenario: Scenario, flags: &[&str]) -> Result<Self, String> {
        let input = dir.join("metrics.om");
        let data = dir.join("data");
        {
            let file = std::fs::File::create(&input).map_err(|e| format!("{}: {e}", input.display()))?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            scenario
                .write_openmetrics(&mut out)
                .and_then(|()| out.flush())
                .map_err(|e| format!("{}: {e}", input.display()))?;
        }
        let backfill = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
            .arg(&input)
            .arg(&data)
            .output()
            .map_err(|e| format!("cannot run promtool (Debian package `prometheus`): {e}"))?;
        if !backfill.status.success() {
            return Err(format!(
                "promtool tsdb create-blocks-from openmetrics failed:\n{}{}",
                String::from_utf8_lossy(&backfill.stdout),
                String::from_utf8_lossy(&backfill.stderr)
            ));
        }
        let _ = std::fs::remove_file(&input);
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1h\nscrape_configs: []\n")
            .map_err(|e| format!("{}: {e}", config.display()))?;
        let port = crate::free_port();
        let mut supervisor = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("aiops-test-prometheus")
            .arg(dir)
            .arg("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg("--storage.tsdb.retention.time=3650d")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start sh: {e}"))?;
        let stdin = supervisor.stdin.take();
        let prometheus = Self { supervisor, stdin, port, scenario };
        prometheus.wait_ready(dir, Duration::from_secs(30))?;
        Ok(prometheus)
    }

    /// Starts the issue's scenario ([`Scenario::two_nodes_24h`]) with [`TestPrometheus::require`].
    ///
    /// # Panics
    /// As [`TestPrometheus::require`].
    #[track_caller]
    pub fn two_nodes_24h() -> Self {
        Self::require(Scenario::two_nodes_24h())
    }

    /// [`TestPrometheus::start`] for a test that cannot run without it.
    ///
    /// # Panics
    /// Through [`crate::require`] when the `prometheus` and `promtool` programs are not
    /// installed, and when they are but Prometheus does not start (a bug to fix).
    #[track_caller]
    pub fn require(scenario: Scenario) -> Self {
        Self::require_with_flags(scenario, &[])
    }

    /// [`TestPrometheus::require`] with extra flags ([`TestPrometheus::start_with_flags`]).
    ///
    /// # Panics
    /// As [`TestPrometheus::require`].
    #[track_caller]
    pub fn require_with_flags(scenario: Scenario, flags: &[&str]) -> Self {
        if !installed() {
            crate::require("Prometheus (`prometheus` and `promtool`, Debian package `prometheus`)");
        }
        Self::start_with_flags(scenario, flags).unwrap_or_else(|e| panic!("test Prometheus: {e}"))
    }

    /// One Prometheus with [`Scenario::two_nodes_24h`] shared by all tests of a test binary
    /// (stopped when the binary exits).
    ///
    /// # Panics
    /// As [`TestPrometheus::require`], in every test that asks for it.
    #[track_caller]
    pub fn shared() -> &'static Self {
        static SHARED: OnceLock<TestPrometheus> = OnceLock::new();
        SHARED.get_or_init(Self::two_nodes_24h)
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The loopback port Prometheus listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The generated data: the ground truth to assert against.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Stops Prometheus now (as dropping does) and waits until it has exited.
    pub fn stop(&mut self) {
        drop(self.stdin.take());
        let _ = self.supervisor.wait();
    }

    fn wait_ready(&self, dir: &Path, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if http_get_status(self.port, "/-/ready") == Some(200) {
                return Ok(());
            }
            let log = || std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            if Instant::now() > deadline {
                return Err(format!("Prometheus was not ready within {timeout:?}; its log:\n{}", log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestPrometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `prometheus` and `promtool` can be run.
pub fn installed() -> bool {
    ["prometheus", "promtool"]
        .iter()
        .all(|program| Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success()))
}

/// The HTTP status of a GET on `127.0.0.1:port`, or `None` when nothing answers.
fn http_get_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
