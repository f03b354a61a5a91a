//! The store's write side: [`Recorder`] for [`Store`]. A sample is recorded
//! into its series' write shard (through the key map or a resolved handle),
//! and slow or failed ones also into their fixed ring.

use std::sync::{Arc, atomic::Ordering};

use super::{
    MAX_ROUTE_BYTES, MAX_SQL_BYTES, Origin, Store, StoreEndpoint, nanos,
    ring::set_truncated,
    series::{Sample, Series},
};
use crate::{
    CacheEvent, Method, NPlusOneSample, QueryPlanSample, QuerySample, Recorder, RequestHandle, RequestSample,
    SystemSample,
};

impl Store {
    #[inline]
    pub(super) fn record_request_into(&self, series: &Series, sample: &RequestSample<'_>) {
        let nanos = nanos(sample.duration);
        let slow = sample.slow;
        let s = Sample {
            error: sample.is_server_error(),
            client_error: sample.is_client_error(),
            slow,
            aux_count: sample.queries,
            aux_ns: self::nanos(sample.query_time),
            ..Sample::new(sample.at.as_unix_micros(), nanos, &self.geometry)
        };
        series.record(&s, &self.geometry);
        if let Some(statuses) = series.statuses() {
            let at_us = sample.at.as_unix_micros();
            statuses.record(sample.status, nanos, s.le, sample.trace.as_ref(), at_us, &self.geometry);
        }
        if slow {
            self.push_slow_request(sample, nanos);
        }
    }

    /// A sample whose handle names another store, recorded through the key
    /// map; kept out of line so the handle paths stay small.
    #[cold]
    #[inline(never)]
    pub(super) fn record_request_by_key(&self, sample: &RequestSample<'_>) {
        self.record_request(sample);
    }

    #[cold]
    fn push_slow_request(&self, sample: &RequestSample<'_>, nanos: u64) {
        let route = match sample.route {
            None => self.unmatched_route.clone(),
            Some(r) => {
                self.endpoints.load().get_key_value(r).map_or_else(|| self.overflow_route.clone(), |(k, _)| k.clone())
            }
        };
        let mut ring = self.slow_requests.lock();
        let slot = ring.push_slot();
        slot.at = sample.at;
        slot.method = sample.method;
        slot.route = route;
        slot.status = sample.status;
        slot.nanos = nanos;
        slot.trace_id = sample.trace.map(|t| t.trace_id());
    }
}

impl Recorder for Store {
    #[inline]
    fn record_request(&self, sample: &RequestSample<'_>) {
        // Fast path: record through the map guard, without touching the
        // series' reference count (which two threads would fight over).
        let Some(route) = sample.route else {
            self.record_request_into(&self.unmatched, sample);
            return;
        };
        let map = self.endpoints.load();
        if let Some(series) = map.get(route).and_then(|slots| slots[sample.method.index()].as_ref()) {
            self.record_request_into(series, sample);
            return;
        }
        drop(map);
        let series = self.endpoint_series(sample.method, sample.route);
        self.record_request_into(&series, sample);
    }

    /// The endpoint's series; `None` past the endpoint cap, so every request
    /// to an overflowing route still counts as overflowed.
    fn request_handle(&self, method: Method, route: Option<&str>) -> Option<RequestHandle> {
        let series = match route {
            None => self.unmatched.clone(),
            Some(r) => match self.endpoints.load().get(r).and_then(|slots| slots[method.index()].as_ref()) {
                Some(s) => s.clone(),
                None => self.try_insert_endpoint(method, r)?,
            },
        };
        Some(RequestHandle::new(Arc::new(StoreEndpoint { store: self.id, series })))
    }

    #[inline]
    fn record_request_with(&self, handle: &RequestHandle, sample: &RequestSample<'_>) {
        match handle.downcast_ref::<StoreEndpoint>() {
            Some(e) if e.store == self.id => self.record_request_into(&e.series, sample),
            _ => self.record_request_by_key(sample),
        }
    }

    fn record_query(&self, sample: &QuerySample<'_>) {
        let origin = Origin::of(sample);
        let (q, overflowed) = self.query_series(origin, sample);
        if overflowed {
            self.overflowed_queries.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = nanos(sample.duration);
        let slow = sample.slow;
        q.series.record(
            &Sample { error: !sample.ok, slow, ..Sample::new(sample.at.as_unix_micros(), nanos, &self.geometry) },
            &self.geometry,
        );
        if slow || !sample.ok {
            let fingerprint = if overflowed {
                self.overflow_route.clone()
            } else {
                self.queries[origin as usize]
                    .load()
                    .get_key_value(sample.fingerprint)
                    .map_or_else(|| self.overflow_route.clone(), |(k, _)| k.clone())
            };
            let mut ring = self.slow_queries.lock();
            let slot = ring.push_slot();
            slot.at = sample.at;
            slot.fingerprint = fingerprint;
            set_truncated(&mut slot.sql, sample.sql, MAX_SQL_BYTES);
            slot.nanos = nanos;
            slot.ok = sample.ok;
            slot.has_scope = sample.scope.is_some();
            set_truncated(&mut slot.scope, sample.scope.unwrap_or(""), MAX_ROUTE_BYTES);
            slot.kind = sample.kind;
            slot.trace_id = sample.trace.map(|t| t.trace_id());
        }
    }

    fn record_system(&self, sample: &SystemSample) {
        self.gauges.lock().record_system(sample, self.geometry.fine_us, self.geometry.coarse_us);
    }

    fn record_cache(&self, event: &CacheEvent) {
        self.gauges.lock().record_cache(event, self.geometry.fine_us, self.geometry.coarse_us);
    }

    fn record_n_plus_one(&self, finding: &NPlusOneSample<'_>) {
        self.n_plus_one.lock().record(finding);
    }

    fn record_query_plan(&self, sample: &QueryPlanSample<'_>) {
        self.plans.lock().record(sample);
    }
}
