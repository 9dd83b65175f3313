//! The largest (and smallest) value every numeric or duration flag accepts, in one place.
//!
//! Each is checked while the command line is parsed, before any file is read, any request is
//! sent or anything is allocated, and the error names the flag (`invalid value '1e12' for
//! '--hours <HOURS>': at most 8784 hours (366 days)`). The maxima are far above any sensible use
//! and far below what overflows time arithmetic, exhausts memory or starts a storm of requests.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::values::DurationLimit;

const SECOND: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// `--hours` of `fetch` and `pipeline run`, and the span of `--start`..`--end`: a year of
/// history (Prometheus rarely keeps more; at a 10 s step it is 290 requests).
pub(crate) const MAX_HOURS: f64 = 8784.0;

/// `--step` of every command that queries Prometheus or generates a trace: whole seconds.
pub(crate) const STEP: DurationLimit = DurationLimit { range: SECOND..=DAY, whole_seconds: true };

/// `--timeout` of one Prometheus request.
pub(crate) const REQUEST_TIMEOUT: DurationLimit =
    DurationLimit { range: Duration::from_millis(1)..=HOUR, whole_seconds: false };

/// `--retries` after a failed Prometheus request.
pub(crate) const RETRIES: RangeInclusive<u64> = 0..=10;

/// `deploy --timeout`: how long to wait for the InferenceService to become Ready.
pub(crate) const READY_TIMEOUT: DurationLimit = DurationLimit { range: SECOND..=DAY, whole_seconds: false };

/// `watch --interval`: time between two rounds.
pub(crate) const INTERVAL: DurationLimit = DurationLimit { range: SECOND..=DAY, whole_seconds: true };

/// `watch --lookback`: history scored at start-up.
pub(crate) const LOOKBACK: DurationLimit =
    DurationLimit { range: SECOND..=Duration::from_secs(7 * 86_400), whole_seconds: true };

/// `watch --grace`: how long a vanished instance stays watched.
pub(crate) const GRACE: DurationLimit =
    DurationLimit { range: SECOND..=Duration::from_secs(7 * 86_400), whole_seconds: true };

/// `watch --checkpoint-interval`: time between two state checkpoints.
pub(crate) const CHECKPOINT_INTERVAL: DurationLimit =
    DurationLimit { range: SECOND..=DAY, whole_seconds: false };

/// `watch --max-instances`: instances one replica watches (a million nodes of four metrics is
/// about 40 GiB of detector state: shard instead).
pub(crate) const MAX_INSTANCES: RangeInclusive<u64> = 1..=1_000_000;

/// `watch --replicas` (and `AIOPS_REPLICAS`): shards of a fleet.
pub(crate) const REPLICAS: RangeInclusive<u64> = 1..=1024;

/// `watch --delay`: how far behind now scoring stays.
pub(crate) const DELAY: DurationLimit = DurationLimit { range: Duration::ZERO..=HOUR, whole_seconds: false };

/// `--reload-interval` of the servers (`serve-model` also takes 0: never reload).
pub(crate) const RELOAD_INTERVAL: DurationLimit =
    DurationLimit { range: Duration::from_millis(10)..=DAY, whole_seconds: false };

/// `train --n-estimators` and `pipeline run --n-estimators`: trees per forest (scikit-learn's
/// default is 100; 10,000 trees of 256 samples is about 50 MB).
pub(crate) const N_ESTIMATORS: RangeInclusive<u64> = 1..=10_000;

/// `--threads` (training and scoring) and `serve-model --workers`: a thread per core of the
/// largest common machines; more only adds contention.
pub(crate) const THREADS: RangeInclusive<u64> = 1..=256;

/// The servers' `--header-timeout`, `--body-timeout`, `--idle-timeout` and `--shutdown-timeout`:
/// what `aiops_serve::Limits::check` accepts.
pub(crate) const SERVER_TIMEOUT: DurationLimit =
    DurationLimit { range: Duration::from_millis(1)..=DAY, whole_seconds: false };

/// The servers' `--max-connections` (each takes a file descriptor and a task).
pub(crate) const MAX_CONNECTIONS: RangeInclusive<u64> = 1..=1_000_000;

/// The servers' body limits in bytes: `serve-model --max-body-bytes` and every
/// `--max-inflight-body-bytes` (1 GiB, `aiops_serve::MAX_BODY_BUDGET`).
pub(crate) const BODY_BYTES: RangeInclusive<u64> = 1..=1 << 30;

/// `serve-mcp --max-request-bytes`: a tool call is a few hundred bytes.
pub(crate) const MCP_REQUEST_BYTES: RangeInclusive<u64> = 1024..=16 << 20;
