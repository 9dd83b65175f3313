//! From per-point decisions to incidents: merging, blip suppression, alerting and severity.
//!
//! The batch function [`find_incidents`] is the streaming [`IncidentTracker`] run over a whole
//! series, so a live stream and an offline replay report exactly the same incidents and alerts.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How anomalous points become incidents. Validate with [`IncidentParams::check`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IncidentParams {
    /// Normal points allowed between two anomalous points of one incident (0: only consecutive
    /// anomalous points merge).
    pub max_gap: usize,
    /// Anomalous points an incident needs before it is confirmed and alerted (blip suppression;
    /// 1 reports every anomalous point). With `max_gap = g` this is a k-of-n rule: `min_points`
    /// anomalous points, no more than `g` normal points apart.
    pub min_points: usize,
    /// Points after an alert during which newly confirmed incidents are still reported but do not
    /// alert again (0: no cooldown).
    pub cooldown: usize,
    /// An incident spanning at least this many points is one severity level worse than its peak
    /// alone says (see [`Severity::of`]).
    pub long_incident: usize,
}

impl Default for IncidentParams {
    /// Every anomalous point is an incident of its own, no cooldown, long incidents from 12 points
    /// (an hour of 5-minute samples).
    fn default() -> Self {
        Self { max_gap: 0, min_points: 1, cooldown: 0, long_incident: 12 }
    }
}

/// [`IncidentParams`] that passed [`IncidentParams::check`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CheckedIncidentParams(IncidentParams);

impl CheckedIncidentParams {
    /// Parameters known valid (a constant of this crate, checked by a test).
    pub(crate) const fn new_unchecked(params: IncidentParams) -> Self {
        Self(params)
    }

    /// The validated parameters.
    pub fn params(&self) -> &IncidentParams {
        &self.0
    }
}

impl IncidentParams {
    /// Validates every field, naming the first bad one.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `min_points` or `long_incident` is 0.
    pub fn check(self) -> Result<CheckedIncidentParams> {
        let invalid = |field, reason: &str| Err(Error::InvalidParameter { field, reason: reason.to_owned() });
        if self.min_points == 0 {
            return invalid("min_points", "must be at least 1");
        }
        if self.long_incident == 0 {
            return invalid("long_incident", "must be at least 1");
        }
        Ok(CheckedIncidentParams(self))
    }
}

/// How bad an incident is, from its peak decision and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Barely past the threshold.
    Low,
    /// Clearly anomalous.
    Medium,
    /// Far past the threshold.
    High,
    /// Extreme, or severe and lasting.
    Critical,
}

impl Severity {
    /// Peak depths (how far the most anomalous decision lies below 0) at which `Medium`, `High`
    /// and `Critical` start. Decisions are Isolation Forest score differences, which live in
    /// roughly `[-0.5, 0.5]`; with scikit-learn's default offset a depth of 0.05 is already rare.
    pub const DEPTHS: [f64; 3] = [0.05, 0.10, 0.15];

    /// The rule: the peak depth `-peak_decision` picks a level by [`Severity::DEPTHS`] (below
    /// 0.05 `Low`, below 0.10 `Medium`, below 0.15 `High`, else `Critical`); an incident spanning
    /// at least `long_incident` points is raised one level (`Critical` stays `Critical`).
    ///
    /// ```
    /// use aiops_incidents::Severity;
    /// assert_eq!(Severity::of(-0.02, 1, 12), Severity::Low);
    /// assert_eq!(Severity::of(-0.12, 1, 12), Severity::High);
    /// assert_eq!(Severity::of(-0.12, 12, 12), Severity::Critical);
    /// ```
    pub fn of(peak_decision: f64, points: usize, long_incident: usize) -> Self {
        let depth = -peak_decision;
        let level = Self::DEPTHS.iter().filter(|&&d| depth >= d).count();
        let level = if points >= long_incident { level + 1 } else { level };
        match level {
            0 => Self::Low,
            1 => Self::Medium,
            2 => Self::High,
            _ => Self::Critical,
        }
    }
}

/// A run of anomalous points merged into one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Row of the first anomalous point.
    pub onset_index: usize,
    /// Row of the last anomalous point (so far, for an incident still open).
    pub end_index: usize,
    /// Row at which the incident was confirmed (its `min_points`-th anomalous point): the earliest
    /// row at which a causal observer can raise the alert.
    pub alert_index: usize,
    /// Timestamp of the onset row (unix seconds).
    pub onset: f64,
    /// Timestamp of the end row (unix seconds).
    pub end: f64,
    /// Timestamp of the alert row (unix seconds).
    pub alert_time: f64,
    /// Row of the most anomalous point (lowest decision; the first one on ties).
    pub peak_index: usize,
    /// Timestamp of the peak row (unix seconds).
    pub peak_time: f64,
    /// Metric value at the peak.
    pub peak_value: f64,
    /// Decision at the peak (below 0; lower is more anomalous).
    pub peak_decision: f64,
    /// Rows spanned, onset to end inclusive (normal points inside gaps included).
    pub points: usize,
    /// Anomalous rows among them.
    pub anomalous_points: usize,
    /// From the peak decision and the span, see [`Severity::of`].
    pub severity: Severity,
    /// Whether the incident raised an alert (false when it was confirmed inside the cooldown of
    /// an earlier alert).
    pub alerted: bool,
    /// Why the peak is anomalous, largest share first; empty until attached (by
    /// [`crate::explain_incidents`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub explanation: Vec<crate::FeatureShare>,
}

/// What one pushed point did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackerEvents {
    /// An incident that has just been confirmed and alerts (a snapshot as of this point; its end,
    /// peak and severity may still grow).
    pub alert: Option<Incident>,
    /// A confirmed incident that this point has closed (its gap ran out), in its final state.
    pub closed: Option<Incident>,
}

/// Merges a stream of per-point decisions into incidents, one point at a time, in O(1) per point.
///
/// A decision below 0 is anomalous; NaN (an unscored point, e.g. during training) counts as
/// normal. Incidents that never reach `min_points` anomalous points are dropped silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentTracker {
    params: IncidentParams,
    next_index: usize,
    open: Option<Incident>,
    last_alert: Option<usize>,
}

impl IncidentTracker {
    /// A tracker that has seen no point yet.
    pub fn new(params: &CheckedIncidentParams) -> Self {
        Self { params: params.0, next_index: 0, open: None, last_alert: None }
    }

    /// Number of points pushed so far (the row index the next point gets).
    pub fn len(&self) -> usize {
        self.next_index
    }

    /// Whether no point has been pushed yet.
    pub fn is_empty(&self) -> bool {
        self.next_index == 0
    }

    /// The parameters.
    pub fn params(&self) -> &IncidentParams {
        &self.params
    }

    /// Whether the indices are those of a tracker that has seen [`IncidentTracker::len`] points:
    /// the open incident's onset, peak, alert and end rows and the last alert come before the
    /// next row, in order (a state read from a file must pass this before use).
    pub fn is_consistent(&self) -> bool {
        let next = self.next_index;
        let open_ok = self.open.as_ref().is_none_or(|i| {
            i.onset_index <= i.peak_index
                && i.peak_index <= i.end_index
                && i.onset_index <= i.alert_index
                && i.alert_index <= i.end_index
                && i.end_index < next
                && i.points == i.end_index - i.onset_index + 1
                && i.anomalous_points <= i.points
        });
        // rows are counted to `usize::MAX / 2`: no stream gets there, and counting on never overflows
        next <= usize::MAX / 2
            && open_ok
            && self.last_alert.is_none_or(|last| last < next)
            && self.params.check().is_ok()
    }

    /// The incident being built, confirmed or not, if any.
    pub fn open_incident(&self) -> Option<&Incident> {
        self.open.as_ref()
    }

    /// Adds the next point: its timestamp (unix seconds), metric value and decision.
    pub fn push(&mut self, timestamp: f64, value: f64, decision: f64) -> TrackerEvents {
        self.push_with_cooldown(timestamp, value, decision, self.params.cooldown)
    }

    /// [`IncidentTracker::push`] with another cooldown (rows) than the parameters' (the
    /// detector scales it to the series' sampling interval).
    pub(crate) fn push_with_cooldown(
        &mut self,
        timestamp: f64,
        value: f64,
        decision: f64,
        cooldown: usize,
    ) -> TrackerEvents {
        let index = self.next_index;
        self.next_index += 1;
        let mut events = TrackerEvents::default();
        let anomalous = decision < 0.0;
        // normal points since the open incident's last anomalous one, this point included
        let gap = self.open.as_ref().map_or(0, |open| index - open.end_index - usize::from(anomalous));
        if gap > self.params.max_gap {
            events.closed = self.close();
        }
        if !anomalous {
            return events;
        }
        let params = self.params;
        let incident = self.open.get_or_insert_with(|| Incident {
            onset_index: index,
            end_index: index,
            alert_index: index,
            onset: timestamp,
            end: timestamp,
            alert_time: timestamp,
            peak_index: index,
            peak_time: timestamp,
            peak_value: value,
            peak_decision: decision,
            points: 0,
            anomalous_points: 0,
            severity: Severity::Low,
            alerted: false,
            explanation: Vec::new(),
        });
        incident.end_index = index;
        incident.end = timestamp;
        incident.points = index - incident.onset_index + 1;
        incident.anomalous_points += 1;
        if decision < incident.peak_decision {
            incident.peak_index = index;
            incident.peak_time = timestamp;
            incident.peak_value = value;
            incident.peak_decision = decision;
        }
        incident.severity = Severity::of(incident.peak_decision, incident.points, params.long_incident);
        if incident.anomalous_points == params.min_points {
            incident.alert_index = index;
            incident.alert_time = timestamp;
            incident.alerted = self.last_alert.is_none_or(|last| index - last >= cooldown);
            if incident.alerted {
                self.last_alert = Some(index);
                events.alert = Some(incident.clone());
            }
        }
        events
    }

    /// Ends the stream: returns the open incident if it was confirmed.
    pub fn finish(mut self) -> Option<Incident> {
        self.close()
    }

    fn close(&mut self) -> Option<Incident> {
        self.open.take().filter(|incident| incident.anomalous_points >= self.params.min_points)
    }
}

/// The incidents of a whole series: `timestamps` (unix seconds), `values` and per-point
/// `decisions` (a decision function: below 0 anomalous, NaN unscored) run through an
/// [`IncidentTracker`]. Incidents come in time order, including those that did not alert because
/// of the cooldown (`alerted == false`).
///
/// # Errors
/// [`Error::LengthMismatch`] when `values` or `decisions` differ in length from `timestamps`.
pub fn find_incidents(
    timestamps: &[f64],
    values: &[f64],
    decisions: &[f64],
    params: &CheckedIncidentParams,
) -> Result<Vec<Incident>> {
    check_same_length(timestamps.len(), &[("values", values.len()), ("decisions", decisions.len())])?;
    let mut tracker = IncidentTracker::new(params);
    let mut incidents = Vec::new();
    for ((&timestamp, &value), &decision) in timestamps.iter().zip(values).zip(decisions) {
        incidents.extend(tracker.push(timestamp, value, decision).closed);
    }
    incidents.extend(tracker.finish());
    Ok(incidents)
}

/// Checks that every named length equals `expected` (the number of timestamps).
pub(crate) fn check_same_length(expected: usize, others: &[(&'static str, usize)]) -> Result<()> {
    match others.iter().find(|(_, actual)| *actual != expected) {
        Some(&(name, actual)) => Err(Error::LengthMismatch { name, actual, expected }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `decisions` (timestamps 0, 60, ...; values 10 × row) and returns
    /// `(onset, end, alert, alerted)` of each incident.
    fn spans(decisions: &[f64], params: IncidentParams) -> Vec<(usize, usize, usize, bool)> {
        let timestamps: Vec<f64> = (0..decisions.len()).map(|i| 60.0 * i as f64).collect();
        let values: Vec<f64> = (0..decisions.len()).map(|i| 10.0 * i as f64).collect();
        find_incidents(&timestamps, &values, decisions, &params.check().unwrap())
            .unwrap()
            .iter()
            .map(|i| (i.onset_index, i.end_index, i.alert_index, i.alerted))
            .collect()
    }

    /// `(onset, end, alert, alerted)` of each incident found.
    type Spans = &'static [(usize, usize, usize, bool)];

    const A: f64 = -0.1; // anomalous
    const N: f64 = 0.1; // normal

    #[test]
    fn merging_and_suppression_table() {
        let base = IncidentParams::default();
        let cases: [(&str, &[f64], IncidentParams, Spans); 9] = [
            ("no points", &[], base, &[]),
            ("all normal", &[N, N, N], base, &[]),
            ("every anomalous point alone", &[A, N, A], base, &[(0, 0, 0, true), (2, 2, 2, true)]),
            ("consecutive points merge", &[N, A, A, A, N], base, &[(1, 3, 1, true)]),
            (
                "a gap of 1 merges with max_gap 1",
                &[A, N, A],
                IncidentParams { max_gap: 1, ..base },
                &[(0, 2, 0, true)],
            ),
            (
                "a gap of 2 splits with max_gap 1",
                &[A, N, N, A],
                IncidentParams { max_gap: 1, ..base },
                &[(0, 0, 0, true), (3, 3, 3, true)],
            ),
            (
                "a blip is suppressed",
                &[N, A, N, A, A, N],
                IncidentParams { min_points: 2, ..base },
                &[(3, 4, 4, true)],
            ),
            (
                "k of n: 2 anomalous points within a gap of 2",
                &[A, N, N, A, N, N, N, A],
                IncidentParams { min_points: 2, max_gap: 2, ..base },
                &[(0, 3, 3, true)],
            ),
            (
                "cooldown mutes the second alert, not the incident",
                &[A, N, A, N, N, N, A],
                IncidentParams { cooldown: 4, ..base },
                &[(0, 0, 0, true), (2, 2, 2, false), (6, 6, 6, true)],
            ),
        ];
        for (name, decisions, params, expected) in cases {
            assert_eq!(spans(decisions, params), expected, "{name}");
        }
    }

    #[test]
    fn nan_decisions_count_as_normal() {
        assert_eq!(
            spans(&[f64::NAN, A, f64::NAN, A], IncidentParams::default()),
            [(1, 1, 1, true), (3, 3, 3, true)]
        );
    }

    #[test]
    fn peak_severity_and_times_describe_the_incident() {
        let timestamps = [100.0, 200.0, 300.0, 400.0];
        let values = [1.0, 5.0, 9.0, 2.0];
        let decisions = [N, -0.06, -0.2, -0.01];
        let params = IncidentParams { long_incident: 3, ..IncidentParams::default() }.check().unwrap();
        let incident = &find_incidents(&timestamps, &values, &decisions, &params).unwrap()[0];
        assert_eq!((incident.onset, incident.end, incident.alert_time), (200.0, 400.0, 200.0));
        assert_eq!((incident.peak_index, incident.peak_time, incident.peak_value), (2, 300.0, 9.0));
        assert_eq!(incident.peak_decision, -0.2);
        assert_eq!((incident.points, incident.anomalous_points), (3, 3));
        // depth 0.2 is Critical already; 3 points reach long_incident, which cannot go higher
        assert_eq!(incident.severity, Severity::Critical);
    }

    #[test]
    fn severity_rule_table() {
        let cases = [
            (-0.0, 1, Severity::Low),
            (-0.049, 1, Severity::Low),
            (-0.05, 1, Severity::Medium),
            (-0.10, 1, Severity::High),
            (-0.15, 1, Severity::Critical),
            (-0.01, 12, Severity::Medium),
            (-0.07, 12, Severity::High),
            (-0.5, 100, Severity::Critical),
        ];
        for (peak, points, expected) in cases {
            assert_eq!(Severity::of(peak, points, 12), expected, "peak {peak}, {points} points");
        }
    }

    #[test]
    fn the_alert_event_comes_at_confirmation_and_the_closed_event_after_the_gap() {
        let params =
            IncidentParams { min_points: 2, max_gap: 1, ..IncidentParams::default() }.check().unwrap();
        let mut tracker = IncidentTracker::new(&params);
        let events: Vec<TrackerEvents> =
            [A, A, N, N, N].iter().enumerate().map(|(i, &d)| tracker.push(i as f64, 0.0, d)).collect();
        assert!(events[0].alert.is_none());
        assert_eq!(events[1].alert.as_ref().map(|i| i.alert_index), Some(1));
        assert!(events[2].closed.is_none(), "a gap of 1 may still be bridged");
        assert_eq!(events[3].closed.as_ref().map(|i| (i.onset_index, i.end_index)), Some((0, 1)));
        assert!(tracker.finish().is_none());
    }

    #[test]
    fn mismatched_lengths_name_the_input() {
        let params = IncidentParams::default().check().unwrap();
        let error = find_incidents(&[0.0, 1.0], &[0.0, 1.0], &[0.0], &params).unwrap_err();
        assert!(
            matches!(error, Error::LengthMismatch { name: "decisions", actual: 1, expected: 2 }),
            "{error}"
        );
    }

    #[test]
    fn zero_min_points_is_refused_by_name() {
        let error = IncidentParams { min_points: 0, ..IncidentParams::default() }.check().unwrap_err();
        assert!(matches!(error, Error::InvalidParameter { field: "min_points", .. }), "{error}");
    }
}
