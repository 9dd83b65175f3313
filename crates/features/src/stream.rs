//! Point-at-a-time features for live streams.

use crate::Result;
use crate::hour::hour_of_unix_seconds;
use crate::rolling::{KahanMean, WelfordVar, rate_of_change, rolling_input};

/// Computes the feature row of each new point in O(1), bit-identical to the batch API run on the
/// whole series so far. Create it with [`crate::FeatureSchema::streaming`].
#[derive(Debug, Clone)]
pub struct StreamingFeatures {
    window: usize,
    /// The last `window` rolling inputs, oldest first once full (a ring indexed by `pushed`).
    ring: Vec<f64>,
    pushed: usize,
    accumulators: Option<(KahanMean, WelfordVar)>,
    previous_raw: Option<f64>,
}

impl StreamingFeatures {
    pub(crate) fn new(window: usize) -> Self {
        Self {
            window,
            ring: vec![f64::NAN; window.max(1)],
            pushed: 0,
            accumulators: None,
            previous_raw: None,
        }
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
    /// [`crate::Error::InvalidTimestamp`]; the state is left unchanged then.
    pub fn push(&mut self, timestamp: f64, value: f64) -> Result<[f64; 5]> {
        let hour = hour_of_unix_seconds(timestamp, self.pushed)?;
        let input = rolling_input(value);
        let (mean, var) =
            self.accumulators.get_or_insert_with(|| (KahanMean::new(input), WelfordVar::new(input)));
        let slot = self.pushed % self.window;
        if self.pushed >= self.window {
            let leaving = self.ring[slot];
            mean.remove(leaving);
            var.remove(leaving);
        }
        mean.add(input);
        var.add(input);
        self.ring[slot] = input;
        let row =
            [value, mean.mean(), var.std_filled(), rate_of_change(self.previous_raw, value), f64::from(hour)];
        self.previous_raw = Some(value);
        self.pushed += 1;
        Ok(row)
    }
}
