//! The latest captured plan of each query fingerprint, in a table of fixed
//! capacity: a new fingerprint past it replaces the plan captured longest ago.

use std::collections::HashMap;

use crate::{CapturedPlan, QueryPlan, QueryPlanSample, Timestamp, query_id, text::truncated};

/// Fingerprints whose plan the store keeps at most.
pub const MAX_PLANS: usize = 128;

/// The longest fingerprint a plan is kept under, bytes (longer ones are cut
/// at a character boundary, as the store cuts SQL text).
const MAX_FINGERPRINT: usize = crate::MAX_SQL_BYTES;

struct Entry {
    plan: QueryPlan,
    at: Timestamp,
}

#[derive(Default)]
pub(crate) struct PlanTable {
    entries: HashMap<Box<str>, Entry>,
}

impl PlanTable {
    /// Keeps `sample`'s plan as its fingerprint's latest.
    pub(crate) fn record(&mut self, sample: &QueryPlanSample<'_>) {
        let fingerprint = truncated(sample.fingerprint, MAX_FINGERPRINT);
        if let Some(entry) = self.entries.get_mut(fingerprint) {
            *entry = Entry { plan: sample.plan.clone(), at: sample.at };
            return;
        }
        if self.entries.len() >= MAX_PLANS {
            let oldest = self.entries.iter().min_by_key(|(_, e)| e.at).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(fingerprint.into(), Entry { plan: sample.plan.clone(), at: sample.at });
    }

    /// The plan of `fingerprint`, if one was captured.
    pub(crate) fn get(&self, fingerprint: &str) -> Option<CapturedPlan> {
        self.entries.get(truncated(fingerprint, MAX_FINGERPRINT)).map(|e| CapturedPlan {
            fingerprint: fingerprint.to_owned(),
            query_id: query_id(fingerprint),
            captured_at: e.at.to_datetime(),
            plan: e.plan.clone(),
        })
    }

    /// Fingerprints with a plan.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes held, from the structures' sizes and capacities.
    pub(crate) fn accounted_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(Box<str>, Entry)>()
            + self.entries.iter().map(|(k, e)| k.len() + e.plan.heap_bytes()).sum::<usize>()
    }

    /// The most a full table can hold: every plan at its bounds.
    #[cfg(test)]
    pub(crate) fn max_bytes() -> usize {
        let node = std::mem::size_of::<crate::PlanNode>() + 3 * crate::MAX_PLAN_NAME;
        // The map's capacity is at most twice its length.
        2 * MAX_PLANS * std::mem::size_of::<(Box<str>, Entry)>()
            + MAX_PLANS * (MAX_FINGERPRINT + crate::MAX_PLAN_TEXT + crate::MAX_PLAN_NODES * node)
    }
}
