//! The state file (`--state-file`): every series' detector state, newest point and score, so
//! that a restarted watcher (after a crash, `kill -9`, a rescheduled pod) continues exactly
//! where the last checkpoint left it: it fetches the points after the checkpoint and its
//! detectors make the decisions an uninterrupted watcher makes.
//!
//! The file is JSON (`format`, `version`, the detector parameters, the step and the series),
//! written atomically (`aiops_artifacts::write_atomically_keeping_signals`: SIGTERM must reach
//! the watcher's own shutdown, which writes the last checkpoint), at most [`MAX_STATE_BYTES`]. Floats are
//! written in their shortest round-trip form and read back exactly. The forest's rolling
//! features are not saved: after a restart the forest's window refills from the new points.
//!
//! A file that cannot be used (unreadable, too large, not JSON, another format or version,
//! other detector parameters or step) is an [`Error::State`]: `run` then logs a warning and
//! starts fresh, and the next checkpoint replaces the file. Inside a usable file each saved
//! instance and series is checked on its own: one that cannot be used (a forged or
//! inconsistent detector state, an unparsable instance, one saved twice; of duplicates the
//! first is kept) starts fresh and is named in the [`Restored`] report, and every other series
//! continues where it was; one bad series must not cost a fleet's worth of learnt detectors.

use std::path::Path;

use aiops_incidents::{DetectorParams, StreamingDetector};
use aiops_promclient::Instance;
use serde::{Deserialize, Serialize};

use crate::watcher::{Targets, WatchedInstance, Watcher, publish};
use crate::{Error, Result};

/// The `format` field of a state file.
pub const STATE_FORMAT: &str = "aiops-watch-state";

/// The `version` of the state files this build writes and reads.
pub const STATE_VERSION: u32 = 1;

/// Largest state file read: about 100,000 series (25,000 nodes of 4 metrics) at 1-minute or finer
/// points, where a series takes about 4.8 KiB of JSON (3.1 KiB before the detector's hour gate
/// added 24 distributions, when 256 MiB held the default 20,000 nodes).
pub const MAX_STATE_BYTES: u64 = 512 << 20;

/// What [`Watcher::restore_state`] took from a usable state file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// Series that continue from their saved state.
    pub series: usize,
    /// Saved instances and series that could not be used and start fresh, each with why
    /// (e.g. "the cpu state of 10.0.0.1:9100 is inconsistent").
    pub refused: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    format: String,
    version: u32,
    detector: DetectorParams,
    step_seconds: u64,
    instances: Vec<SavedInstance>,
}

#[derive(Serialize, Deserialize)]
struct SavedInstance {
    instance: String,
    /// When discovery last found it; `None` for a fixed instance.
    last_seen: Option<f64>,
    series: Vec<SavedSeries>,
}

#[derive(Serialize, Deserialize)]
struct SavedSeries {
    metric: String,
    last_timestamp: Option<f64>,
    score: f64,
    detector: StreamingDetector,
}

impl Watcher {
    /// Writes the state of every series to `path`, atomically.
    ///
    /// # Errors
    /// [`Error::StateWrite`] when the file cannot be written.
    pub fn save_state(&self, path: &Path) -> Result<()> {
        let file = StateFile {
            format: STATE_FORMAT.into(),
            version: STATE_VERSION,
            detector: *self.detector.params(),
            step_seconds: self.config.step.as_secs(),
            instances: self
                .instances
                .values()
                .map(|w| SavedInstance {
                    instance: w.instance.to_string(),
                    last_seen: w.last_seen.is_finite().then_some(w.last_seen),
                    series: w
                        .series
                        .iter()
                        .map(|s| SavedSeries {
                            metric: s.labels.metric.clone(),
                            last_timestamp: s.last_timestamp,
                            score: s.score,
                            detector: s.detector.clone(),
                        })
                        .collect(),
                })
                .collect(),
        };
        aiops_artifacts::write_atomically_keeping_signals(path, |out| {
            serde_json::to_writer(out, &file).map_err(std::io::Error::other)
        })
        .map_err(Error::StateWrite)
    }

    /// Restores the series of this shard and these metrics from the state file at `path` and
    /// publishes them; reports how many series were restored and which saved ones could not
    /// be (they start fresh). A file that cannot be used changes nothing. Series of other
    /// metrics or instances of other shards are left out (a rebalanced instance starts fresh
    /// on its new shard); with fixed instances, only those still listed are restored.
    ///
    /// What it made of the file is also exported (`aiops_watch_restored_series`,
    /// `aiops_watch_refused_series`, `aiops_watch_state_file_refused`), so that an alert can say
    /// a replica restarted without its state.
    ///
    /// # Errors
    /// [`Error::State`] saying why the file cannot be used.
    pub fn restore_state(&mut self, path: &Path) -> Result<Restored> {
        let restored = self.restore_usable_state(path);
        self.metrics().record_restore(restored.as_ref().ok());
        restored
    }

    fn restore_usable_state(&mut self, path: &Path) -> Result<Restored> {
        let invalid = |reason: String| Error::State { path: path.to_owned(), reason };
        let file = aiops_bounded::read_file(path, MAX_STATE_BYTES).map_err(|e| invalid(e.to_string()))?;
        let file: StateFile =
            serde_json::from_slice(&file).map_err(|e| invalid(format!("not a state file: {e}")))?;
        if file.format != STATE_FORMAT || file.version != STATE_VERSION {
            return Err(invalid(format!(
                "format `{}` version {}, expected `{STATE_FORMAT}` version {STATE_VERSION}",
                aiops_text::bounded(&file.format),
                file.version
            )));
        }
        if file.detector != *self.detector.params() {
            return Err(invalid("written with other detector parameters".into()));
        }
        if file.step_seconds != self.config.step.as_secs() {
            return Err(invalid(format!("written at a step of {} s", file.step_seconds)));
        }
        let mut report = Restored::default();
        let mut seen = std::collections::HashSet::new();
        for saved in file.instances {
            if !seen.insert(saved.instance.clone()) {
                let twice = format!("instance `{}` is saved twice", aiops_text::bounded(&saved.instance));
                report.refused.push(twice);
                continue;
            }
            let Some(watched) = self.restored_instance(saved, &mut report) else { continue };
            for series in &watched.series {
                publish(series, &self.metrics(), 0, 0);
            }
            self.instances.insert(watched.instance.to_string(), watched);
        }
        self.metrics().record_fleet(self.instances.len(), self.instances.len() * self.config.metrics.len());
        Ok(report)
    }

    /// The watched instance a saved one becomes (`None` when it is not this watcher's or
    /// cannot be used), each series restored or, when its saved state cannot be used, fresh;
    /// what was refused is added to `report`.
    fn restored_instance(&self, saved: SavedInstance, report: &mut Restored) -> Option<WatchedInstance> {
        let instance = match Instance::parse(&saved.instance) {
            Ok(instance) => instance,
            Err(error) => {
                report.refused.push(format!("instance `{}`: {error}", aiops_text::bounded(&saved.instance)));
                return None;
            }
        };
        let fixed = matches!(&self.config.targets, Targets::Instances(_));
        if !self.config.shard.owns(instance.as_str())
            || (fixed && !self.instances.contains_key(&saved.instance))
        {
            return None;
        }
        let last_seen = match (fixed, saved.last_seen) {
            (true, _) => f64::INFINITY,
            (false, Some(t)) if t.is_finite() => t,
            (false, _) => {
                report.refused.push(format!("{instance} has no time it was last seen"));
                return None;
            }
        };
        let mut watched = self.fresh_instance(instance, last_seen);
        let mut seen = std::collections::HashSet::new();
        for series in saved.series {
            let Some(target) = watched.series.iter_mut().find(|s| s.labels.metric == series.metric) else {
                continue;
            };
            if !seen.insert(series.metric.clone()) {
                let labels = &target.labels;
                report
                    .refused
                    .push(format!("the {} state of {} is saved twice", labels.metric, labels.instance));
                continue;
            }
            if !self.is_usable(&series) {
                report.refused.push(format!(
                    "the {} state of {} is inconsistent",
                    target.labels.metric, target.labels.instance
                ));
                continue;
            }
            target.detector = series.detector;
            target.last_timestamp = series.last_timestamp;
            target.score = series.score;
            report.series += 1;
        }
        Some(watched)
    }

    /// Whether a saved series can continue here: this watcher's detector parameters, a state
    /// its inputs could have made, a finite last timestamp and a score in range.
    fn is_usable(&self, series: &SavedSeries) -> bool {
        series.detector.params() == self.detector.params()
            && series.detector.is_consistent()
            && series.last_timestamp.is_none_or(f64::is_finite)
            && series.score.is_finite()
            && series.score >= 0.0
    }
}
