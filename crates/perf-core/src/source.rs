//! The [`MetricsSource`] trait: read access to recorded metrics.

use crate::{GaugePoint, SeriesKey, SeriesPoint, Snapshot, Timestamp, Window};

/// Answers questions about recorded metrics. Implemented by
/// [`Store`](crate::Store); read by perf-analytics and perf-http.
///
/// # Guarantees
/// Every method costs O(keys × buckets in the window), never O(requests).
pub trait MetricsSource: Send + Sync {
    /// Totals, per-endpoint and per-query aggregates, system and cache
    /// statistics and the recent slow lists over `window`.
    fn snapshot(&self, window: Window) -> Snapshot;

    /// The bucketed series of one key over `window`, oldest first. Buckets
    /// are the fine ones for windows the fine tier covers, roll-ups beyond.
    /// An unknown key gives empty buckets.
    fn series(&self, key: &SeriesKey, window: Window) -> Vec<SeriesPoint>;

    /// The bucketed system and cache series over `window`, oldest first.
    fn gauges(&self, window: Window) -> Vec<GaugePoint>;

    /// The source's notion of now (its clock).
    fn now(&self) -> Timestamp;
}

macro_rules! forward_source {
    ($($ty:ty),*) => {$(
        impl<T: MetricsSource + ?Sized> MetricsSource for $ty {
            fn snapshot(&self, window: Window) -> Snapshot { (**self).snapshot(window) }
            fn series(&self, key: &SeriesKey, window: Window) -> Vec<SeriesPoint> { (**self).series(key, window) }
            fn gauges(&self, window: Window) -> Vec<GaugePoint> { (**self).gauges(window) }
            fn now(&self) -> Timestamp { (**self).now() }
        }
    )*};
}
forward_source!(&T, Box<T>, std::sync::Arc<T>);
