//! The [`Recorder`] trait: where instrumented code hands its measurements.

use std::{any::Any, sync::Arc};

use crate::{CacheEvent, Method, NPlusOneSample, QueryPlanSample, QuerySample, RequestSample, SystemSample};

/// Takes measurements from instrumented code. Implemented by
/// [`Store`](crate::Store); called by perf-http, perf-db, perf-cache and the
/// system sampler.
///
/// # Guarantees
/// Implementations are O(1) per call, allocate nothing once a key has been
/// seen, and are safe to call from any thread.
pub trait Recorder: Send + Sync {
    /// Records one finished HTTP request.
    fn record_request(&self, sample: &RequestSample<'_>);
    /// Records one finished database query.
    fn record_query(&self, sample: &QuerySample<'_>);
    /// Records one system reading. Optional: the default does nothing.
    fn record_system(&self, _sample: &SystemSample) {}
    /// Records one cache operation. Optional: the default does nothing.
    fn record_cache(&self, _event: &CacheEvent) {}
    /// Records an N+1 finding. Optional: the default does nothing.
    fn record_n_plus_one(&self, _finding: &NPlusOneSample<'_>) {}
    /// Records the plan captured for a slow query's fingerprint (rare: at
    /// most once per fingerprint and capture interval, off the request
    /// path). Optional: the default does nothing.
    fn record_query_plan(&self, _sample: &QueryPlanSample<'_>) {}
    /// Resolves the key of one endpoint (`route` `None`: the unmatched key)
    /// once, for a caller that records many requests for it and keeps the
    /// handle. `None` when this recorder has no cheaper path, or the key
    /// cannot be held (e.g. past a key cap): the caller then goes on with
    /// [`Recorder::record_request`]. Resolving records nothing. Optional: the
    /// default returns `None`.
    fn request_handle(&self, _method: Method, _route: Option<&str>) -> Option<RequestHandle> {
        None
    }
    /// Records a request through a handle this recorder returned from
    /// [`Recorder::request_handle`] for the sample's method and route. A
    /// handle from another recorder is not an error: the sample then goes
    /// through [`Recorder::record_request`]. Optional: the default does that.
    fn record_request_with(&self, _handle: &RequestHandle, sample: &RequestSample<'_>) {
        self.record_request(sample);
    }
}

/// A recorder's resolved endpoint key, made by [`Recorder::request_handle`]
/// and meaningful only to the recorder that made it. Cloning it is one
/// reference-count increment; recording through it touches no count.
#[derive(Clone)]
pub struct RequestHandle(Arc<dyn Any + Send + Sync>);

impl RequestHandle {
    /// Wraps a recorder's own resolved key.
    pub fn new<T: Any + Send + Sync>(key: Arc<T>) -> Self {
        RequestHandle(key)
    }

    /// The key, if it is a `T` (what the recorder that made it checks).
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }
}

impl std::fmt::Debug for RequestHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestHandle").finish_non_exhaustive()
    }
}

/// A recorder that drops everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopRecorder;

impl Recorder for NoopRecorder {
    fn record_request(&self, _sample: &RequestSample<'_>) {}
    fn record_query(&self, _sample: &QuerySample<'_>) {}
}

macro_rules! forward_recorder {
    ($($ty:ty),*) => {$(
        impl<T: Recorder + ?Sized> Recorder for $ty {
            fn record_request(&self, sample: &RequestSample<'_>) { (**self).record_request(sample) }
            fn record_query(&self, sample: &QuerySample<'_>) { (**self).record_query(sample) }
            fn record_system(&self, sample: &SystemSample) { (**self).record_system(sample) }
            fn record_cache(&self, event: &CacheEvent) { (**self).record_cache(event) }
            fn record_n_plus_one(&self, finding: &NPlusOneSample<'_>) { (**self).record_n_plus_one(finding) }
            fn record_query_plan(&self, sample: &QueryPlanSample<'_>) { (**self).record_query_plan(sample) }
            fn request_handle(&self, method: Method, route: Option<&str>) -> Option<RequestHandle> {
                (**self).request_handle(method, route)
            }
            fn record_request_with(&self, handle: &RequestHandle, sample: &RequestSample<'_>) {
                (**self).record_request_with(handle, sample)
            }
        }
    )*};
}
forward_recorder!(&T, Box<T>, std::sync::Arc<T>);
