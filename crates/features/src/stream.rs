//! Point-at-a-time features for live streams.

use crate::Result;
use crate::hour::hour_of_unix_seconds;
use crate::rolling::RollingFeatures;
use crate::schema::check_window;

/// Computes the feature row of each new point in O(1), bit-identical to the batch API run on the
/// whole series so far. Create it with [`crate::FeatureSchema::streaming`].
#[derive(Debug, Clone)]
pub struct StreamingFeatures {
    window: usize,
    /// The last `window` raw values (a ring indexed by `pushed`).
    ring: Vec<f64>,
    pushed: usize,
    /// Created by the first push, which seeds pandas' same-value detection.
    rolling: Option<RollingFeatures>,
}

impl StreamingFeatures {
    pub(crate) fn new(window: usize) -> Self {
        Self { window, ring: vec![f64::NAN; window.clamp(1, crate::MAX_WINDOW)], pushed: 0, rolling: None }
    }

    /// Number of points pushed so far.
    pub fn len(&self) -> usize {
        self.pushed
    }

    /// Whether no point has been pushed yet.
    pub fn is_empty(&self) -> bool {
        self.pushed == 0
    }

    /// Adds the point (`timestamp` in unix seconds, raw `value`) and returns its feature row:
    /// `[value, rolling_mean, rolling_std, rate_of_change, hour]`.
    ///
    /// # Errors
    /// [`crate::Error::InvalidTimestamp`] (the state is left unchanged then), or
    /// [`crate::Error::InvalidParameter`] for a window of 0 or above [`crate::MAX_WINDOW`].
    pub fn push(&mut self, timestamp: f64, value: f64) -> Result<[f64; 5]> {
        check_window(self.window)?;
        let hour = hour_of_unix_seconds(timestamp, self.pushed)?;
        let slot = self.pushed % self.window;
        let leaving = (self.pushed >= self.window).then(|| self.ring[slot]);
        let row = self.rolling.get_or_insert_with(|| RollingFeatures::new(value)).row(leaving, value, hour);
        self.ring[slot] = value;
        self.pushed += 1;
        Ok(row)
    }
}
