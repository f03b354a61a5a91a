//! The N+1 table: one aggregate per (scope, fingerprint), in preallocated
//! slots, the least recently seen evicted when a new pattern needs room.

use std::hash::{Hash, Hasher};

use super::{KeyMap, MAX_ROUTE_BYTES, MAX_SQL_BYTES, ring::set_truncated};
use crate::{N_PLUS_ONE_RECENT, NPlusOneFinding, NPlusOneSample, NPlusOneTotals, OVERFLOW_ROUTE, Timestamp};

pub(super) struct NPlusOneTable {
    slots: Box<[Slot]>,
    /// Findings per scope since start, apart from the evicting slots so
    /// eviction never resets them; at most `max_scopes` scopes, the rest
    /// counted under [`OVERFLOW_ROUTE`].
    per_scope: KeyMap<Box<str>, u64>,
    max_scopes: usize,
    overflowed: u64,
}

pub(super) struct Slot {
    live: bool,
    hash: u64,
    pub(super) scope: String,
    pub(super) fingerprint: String,
    requests: u64,
    max_count: u32,
    last_count: u32,
    recent: [u32; N_PLUS_ONE_RECENT],
    recent_next: usize,
    total_nanos: u64,
    max_nanos: u64,
    first_at: Timestamp,
    last_at: Timestamp,
    /// The trace of the latest request that showed the pattern.
    last_trace: Option<crate::TraceId>,
}

impl NPlusOneTable {
    pub(super) fn new(capacity: usize, max_scopes: usize) -> NPlusOneTable {
        let slots = (0..capacity.max(1))
            .map(|_| Slot {
                live: false,
                hash: 0,
                scope: String::with_capacity(MAX_ROUTE_BYTES),
                fingerprint: String::with_capacity(MAX_SQL_BYTES),
                requests: 0,
                max_count: 0,
                last_count: 0,
                recent: [0; N_PLUS_ONE_RECENT],
                recent_next: 0,
                total_nanos: 0,
                max_nanos: 0,
                first_at: Timestamp::EPOCH,
                last_at: Timestamp::EPOCH,
                last_trace: None,
            })
            .collect();
        NPlusOneTable { slots, per_scope: KeyMap::default(), max_scopes, overflowed: 0 }
    }

    /// Bytes held by the per-scope counters: they grow only with new scopes, up to the cap.
    pub(super) fn counter_bytes(&self) -> usize {
        self.per_scope.keys().map(|k| k.len() + std::mem::size_of::<(Box<str>, u64)>()).sum()
    }

    /// Findings per scope since start, ordered by scope.
    pub(super) fn scope_totals(&self) -> Vec<NPlusOneTotals> {
        let mut out: Vec<NPlusOneTotals> =
            self.per_scope.iter().map(|(r, n)| NPlusOneTotals { scope: r.to_string(), findings: *n }).collect();
        if self.overflowed > 0 {
            out.push(NPlusOneTotals { scope: OVERFLOW_ROUTE.to_owned(), findings: self.overflowed });
        }
        out.sort_by(|a, b| a.scope.cmp(&b.scope));
        out
    }

    pub(super) fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Adds one request's finding to its (scope, fingerprint) aggregate.
    pub(super) fn record(&mut self, f: &NPlusOneSample<'_>) {
        let scope = crate::text::truncated(f.scope, MAX_ROUTE_BYTES);
        let fingerprint = crate::text::truncated(f.fingerprint, MAX_SQL_BYTES);
        let hash = key_hash(scope, fingerprint);
        let nanos = u64::try_from(f.total_time.as_nanos()).unwrap_or(u64::MAX);
        if let Some(n) = self.per_scope.get_mut(scope) {
            *n += 1;
        } else if self.per_scope.len() < self.max_scopes {
            self.per_scope.insert(Box::from(scope), 1);
        } else {
            self.overflowed += 1;
        }
        let found = self
            .slots
            .iter()
            .position(|s| s.live && s.hash == hash && s.scope == scope && s.fingerprint == fingerprint);
        let i = match found {
            Some(i) => i,
            None => {
                // A free slot, or else the least recently seen pattern.
                let i = self.slots.iter().enumerate().min_by_key(|(_, s)| (s.live, s.last_at)).map_or(0, |(i, _)| i);
                let s = &mut self.slots[i];
                s.live = true;
                s.hash = hash;
                set_truncated(&mut s.scope, scope, MAX_ROUTE_BYTES);
                set_truncated(&mut s.fingerprint, fingerprint, MAX_SQL_BYTES);
                s.requests = 0;
                s.max_count = 0;
                s.recent_next = 0;
                s.total_nanos = 0;
                s.max_nanos = 0;
                s.first_at = f.at;
                i
            }
        };
        let s = &mut self.slots[i];
        s.requests += 1;
        s.max_count = s.max_count.max(f.count);
        s.last_count = f.count;
        s.recent[s.recent_next % N_PLUS_ONE_RECENT] = f.count;
        s.recent_next += 1;
        s.total_nanos = s.total_nanos.saturating_add(nanos);
        s.max_nanos = s.max_nanos.max(nanos);
        s.first_at = s.first_at.min(f.at);
        if f.at >= s.last_at {
            s.last_trace = f.trace.map(|t| t.trace_id());
        }
        s.last_at = s.last_at.max(f.at);
    }

    /// The findings last seen at or after `since`, most time per request first.
    pub(super) fn findings(&self, since: Timestamp) -> Vec<NPlusOneFinding> {
        let mut out: Vec<NPlusOneFinding> = self
            .slots
            .iter()
            .filter(|s| s.live && s.last_at >= since)
            .map(|s| {
                let held = s.recent_next.min(N_PLUS_ONE_RECENT);
                let mut recent = s.recent;
                let recent = &mut recent[..held];
                recent.sort_unstable();
                NPlusOneFinding {
                    scope: s.scope.clone(),
                    fingerprint: s.fingerprint.clone(),
                    requests: s.requests,
                    max_count: s.max_count,
                    // The lower median, so the typical count is one a request really had.
                    typical_count: recent.get(held.saturating_sub(1) / 2).copied().unwrap_or(0),
                    last_count: s.last_count,
                    time_per_request: s.total_nanos as f64 / 1e9 / s.requests.max(1) as f64,
                    max_time_per_request: s.max_nanos as f64 / 1e9,
                    first_seen: s.first_at.to_datetime(),
                    last_seen: s.last_at.to_datetime(),
                    trace_id: s.last_trace,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.time_per_request.total_cmp(&a.time_per_request).then_with(|| {
                (a.scope.as_str(), a.fingerprint.as_str()).cmp(&(b.scope.as_str(), b.fingerprint.as_str()))
            })
        });
        out
    }
}

fn key_hash(scope: &str, fingerprint: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    (scope, fingerprint).hash(&mut h);
    h.finish()
}
