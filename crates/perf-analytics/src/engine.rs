//! [`AlertEngine`]: turns each evaluation's detections into a de-duplicated,
//! escalating and self-resolving set of alerts with a bounded history.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    num::NonZeroUsize,
    time::Duration,
};

use parking_lot::Mutex;
use perf_core::{Alert, AlertError, AlertFilter, AlertType, Resolution, Timestamp};

use crate::alerts::Detection;

/// How the engine keeps alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSettings {
    /// How long a condition must stay unseen before its alert resolves itself (default 60 s).
    pub hold_down: Duration,
    /// Alerts kept, open and resolved (default 1,000). When full, the oldest
    /// resolved alert is dropped; open alerts are never dropped (their
    /// number is bounded by the store's key caps).
    pub history: NonZeroUsize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            hold_down: Duration::from_secs(60),
            history: NonZeroUsize::new(1_000).unwrap_or(NonZeroUsize::MIN),
        }
    }
}

/// What one evaluation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Alerts opened (re-opened ones included).
    pub opened: usize,
    /// Of the opened, those that re-open a resolved alert of the same type and key.
    pub reopened: usize,
    /// Open alerts whose severity rose.
    pub escalated: usize,
    /// Open alerts whose severity fell.
    pub eased: usize,
    /// Open alerts still firing at the same severity.
    pub unchanged: usize,
    /// Alerts resolved after the hold-down.
    pub resolved: usize,
}

/// The alert state: one open alert per (type, key), escalating or easing
/// with each evaluation and resolving itself after a hold-down.
///
/// # Guarantees
/// - At most one open alert per (type, key).
/// - Ids are unique and increase; a condition that returns after its alert
///   was resolved gets a new alert with a new id, marked `reopened` and
///   linked to the latest resolved alert of the same (type, key) still kept
///   (`reopens`). Once history has dropped every resolved alert of that
///   (type, key), a new alert is a first one again.
/// - At most `history` alerts are kept when no more than that are open.
/// - Opening, escalating, easing and resolving emit `tracing` events
///   (target `perf_analytics::alerts`).
/// - Safe to share between threads; every method takes one short lock.
#[derive(Debug)]
pub struct AlertEngine {
    settings: EngineSettings,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    /// Newest first.
    alerts: VecDeque<Alert>,
    open: HashMap<(AlertType, String), u64>,
}

impl AlertEngine {
    /// An empty engine.
    pub fn new(settings: EngineSettings) -> Self {
        AlertEngine { settings, state: Mutex::new(State { next_id: 1, ..State::default() }) }
    }

    /// The settings in force.
    pub fn settings(&self) -> EngineSettings {
        self.settings
    }

    /// Applies one evaluation made at `now`: opens, updates or escalates an
    /// alert for each detection, and resolves open alerts whose condition
    /// has not been seen for the hold-down.
    pub fn apply(&self, detections: &[Detection], now: Timestamp) -> Outcome {
        let mut out = Outcome::default();
        let at = now.to_datetime();
        let mut guard = self.state.lock();
        let st = &mut *guard;
        let mut seen: HashSet<(AlertType, &str)> = HashSet::with_capacity(detections.len());
        for d in detections {
            if !seen.insert((d.alert_type, d.key.as_str())) {
                continue;
            }
            let existing = st.open.get(&(d.alert_type, d.key.clone())).copied();
            match existing.and_then(|id| st.alerts.iter_mut().find(|a| a.id == id)) {
                Some(a) => {
                    let before = a.severity;
                    a.severity = d.severity;
                    a.value = d.value;
                    a.threshold = d.threshold;
                    a.message.clone_from(&d.message);
                    a.last_seen = at;
                    if d.severity > before {
                        out.escalated += 1;
                        tracing::warn!(target: "perf_analytics::alerts", id = a.id, alert_type = ?a.alert_type,
                            key = %a.key, from = %before, to = %a.severity, value = a.value, "alert escalated");
                    } else if d.severity < before {
                        out.eased += 1;
                        tracing::info!(target: "perf_analytics::alerts", id = a.id, alert_type = ?a.alert_type,
                            key = %a.key, from = %before, to = %a.severity, value = a.value, "alert eased");
                    } else {
                        out.unchanged += 1;
                    }
                }
                None => {
                    let id = st.next_id;
                    st.next_id += 1;
                    // Newest first, so the first match is the latest resolved one.
                    let reopens = st
                        .alerts
                        .iter()
                        .find(|a| a.resolved && a.alert_type == d.alert_type && a.key == d.key)
                        .map(|a| a.id);
                    let alert = Alert {
                        id,
                        alert_type: d.alert_type,
                        severity: d.severity,
                        message: d.message.clone(),
                        key: d.key.clone(),
                        value: d.value,
                        threshold: d.threshold,
                        created_at: at,
                        last_seen: at,
                        resolved: false,
                        resolved_at: None,
                        resolution: None,
                        reopened: reopens.is_some(),
                        reopens,
                    };
                    if let Some(previous) = reopens {
                        out.reopened += 1;
                        tracing::warn!(target: "perf_analytics::alerts", id, previous, alert_type = ?d.alert_type,
                            key = %d.key, severity = %d.severity, value = d.value, threshold = d.threshold,
                            "alert re-opened");
                    } else {
                        tracing::warn!(target: "perf_analytics::alerts", id, alert_type = ?d.alert_type, key = %d.key,
                            severity = %d.severity, value = d.value, threshold = d.threshold, "alert opened");
                    }
                    st.open.insert((d.alert_type, d.key.clone()), id);
                    st.alerts.push_front(alert);
                    out.opened += 1;
                }
            }
        }
        let hold = chrono::Duration::from_std(self.settings.hold_down).unwrap_or(chrono::Duration::MAX);
        let mut expired = Vec::new();
        for a in st.alerts.iter_mut().filter(|a| !a.resolved) {
            if seen.contains(&(a.alert_type, a.key.as_str())) {
                continue;
            }
            if at.signed_duration_since(a.last_seen) >= hold {
                resolve(a, Resolution::Auto, at);
                expired.push((a.alert_type, a.key.clone()));
                out.resolved += 1;
            }
        }
        for k in expired {
            st.open.remove(&k);
        }
        drop(seen);
        self.trim(st);
        out
    }

    /// Resolves an alert by id at `now` and returns it. Resolving a resolved
    /// alert returns it unchanged.
    ///
    /// # Errors
    /// [`AlertError::NotFound`] for an unknown (or no longer kept) id; nothing changes.
    pub fn resolve(&self, id: u64, now: Timestamp) -> Result<Alert, AlertError> {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        let alert = st.alerts.iter_mut().find(|a| a.id == id).ok_or(AlertError::NotFound(id))?;
        if alert.resolved {
            return Ok(alert.clone());
        }
        resolve(alert, Resolution::Manual, now.to_datetime());
        let done = alert.clone();
        st.open.remove(&(done.alert_type, done.key.clone()));
        Ok(done)
    }

    /// Alerts matching `filter`, newest first.
    pub fn list(&self, filter: AlertFilter) -> Vec<Alert> {
        let st = self.state.lock();
        st.alerts
            .iter()
            .filter(|a| match filter {
                AlertFilter::All => true,
                AlertFilter::Open => !a.resolved,
                AlertFilter::Resolved => a.resolved,
            })
            .cloned()
            .collect()
    }

    /// How many alerts are open.
    pub fn open_count(&self) -> usize {
        self.state.lock().open.len()
    }

    /// How many alerts are kept, open and resolved.
    pub fn len(&self) -> usize {
        self.state.lock().alerts.len()
    }

    /// Whether no alert is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn trim(&self, st: &mut State) {
        let cap = self.settings.history.get();
        while st.alerts.len() > cap {
            // Oldest resolved first; the deque is newest first, so search from the back.
            let Some(pos) = st.alerts.iter().rposition(|a| a.resolved) else { break };
            st.alerts.remove(pos);
        }
    }
}

impl Default for AlertEngine {
    fn default() -> Self {
        AlertEngine::new(EngineSettings::default())
    }
}

fn resolve(a: &mut Alert, how: Resolution, at: chrono::DateTime<chrono::Utc>) {
    a.resolved = true;
    a.resolved_at = Some(at);
    a.resolution = Some(how);
    tracing::info!(target: "perf_analytics::alerts", id = a.id, alert_type = ?a.alert_type, key = %a.key,
        resolution = ?how, "alert resolved");
}

#[cfg(test)]
mod tests;
