//! The [`MetricsSource`] trait: read access to recorded metrics.

use serde::{Deserialize, Serialize};

use crate::{GaugePoint, SeriesKey, SeriesPoint, Snapshot, Timestamp, TotalsSnapshot, Window};

/// Which buckets a series query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesResolution {
    /// Fine buckets (10 s by default) when the fine tier covers the window,
    /// roll-up buckets otherwise. Fine buckets carry no percentiles.
    #[default]
    Auto,
    /// Roll-up buckets (1 min by default), which carry percentiles.
    Rollup,
}

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

    /// Like [`MetricsSource::series`], at a chosen resolution. The default
    /// ignores `resolution`; [`Store`](crate::Store) honours it.
    fn series_at(&self, key: &SeriesKey, window: Window, resolution: SeriesResolution) -> Vec<SeriesPoint> {
        let _ = resolution;
        self.series(key, window)
    }

    /// The bucketed system and cache series over `window`, oldest first.
    fn gauges(&self, window: Window) -> Vec<GaugePoint>;

    /// Counts since start of every key (never decreasing). Optional: the
    /// default has no keys.
    fn totals(&self) -> TotalsSnapshot {
        TotalsSnapshot::default()
    }

    /// The source's notion of now (its clock).
    fn now(&self) -> Timestamp;
}

macro_rules! forward_source {
    ($($ty:ty),*) => {$(
        impl<T: MetricsSource + ?Sized> MetricsSource for $ty {
            fn snapshot(&self, window: Window) -> Snapshot { (**self).snapshot(window) }
            fn series(&self, key: &SeriesKey, window: Window) -> Vec<SeriesPoint> { (**self).series(key, window) }
            fn series_at(&self, key: &SeriesKey, window: Window, resolution: SeriesResolution) -> Vec<SeriesPoint> {
                (**self).series_at(key, window, resolution)
            }
            fn gauges(&self, window: Window) -> Vec<GaugePoint> { (**self).gauges(window) }
            fn totals(&self) -> TotalsSnapshot { (**self).totals() }
            fn now(&self) -> Timestamp { (**self).now() }
        }
    )*};
}
forward_source!(&T, Box<T>, std::sync::Arc<T>);
