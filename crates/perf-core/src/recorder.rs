//! The [`Recorder`] trait: where instrumented code hands its measurements.

use crate::{CacheEvent, NPlusOneSample, QuerySample, RequestSample, SystemSample};

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
        }
    )*};
}
forward_recorder!(&T, Box<T>, std::sync::Arc<T>);
