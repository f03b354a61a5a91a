//! [`Store`]: the fixed-memory, time-bucketed metrics store.
//!
//! Keys are endpoints (method + route pattern) and query fingerprints. Each
//! key owns a series (see `store/series.rs`); system readings and cache
//! counts live in one gauge ring; recent slow requests, slow queries and N+1
//! findings live in fixed rings. The key maps are read without locks
//! (`arc_swap`) and copied on the rare insert of a new key.

mod gauges;
mod n_plus_one;
mod ring;
mod series;
mod status;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use arc_swap::ArcSwap;
use foldhash::fast::FixedState;
use parking_lot::Mutex;

use self::{
    gauges::{Gauges, add_counts},
    n_plus_one::NPlusOneTable,
    ring::{Ring, set_truncated},
    series::{Acc, Collected, Geometry, Sample, Series},
    status::StatusTable,
};
use crate::{
    Aggregate, CacheCounts, CacheEvent, Clock, CoreError, EndpointStats, EndpointTotals, GaugePoint, KeyUsage, Method,
    MetricsSource, NPlusOneSample, OVERFLOW_FINGERPRINT, OVERFLOW_ROUTE, QueryKind, QuerySample, QueryStats,
    QueryTotals, Recorder, RequestHandle, RequestSample, SeriesKey, SeriesPoint, SeriesResolution, SharedThresholds,
    SlowQuery, SlowRequest, Snapshot, StoreConfig, SystemSample, SystemStats, ThresholdStore, Timestamp, Totals,
    TotalsSnapshot, UNMATCHED_ROUTE, Window, histogram::Dense,
};

/// Longest SQL text kept in the slow-query ring and as a fingerprint's example.
pub const MAX_SQL_BYTES: usize = 2_048;
/// Longest scope label kept with slow queries and N+1 findings.
pub const MAX_ROUTE_BYTES: usize = 256;

/// The store's key maps hash with foldhash's fast, fixed-seed hasher: not
/// DoS-resistant, which is fine because keys are route patterns and
/// fingerprints, not request text.
type KeyMap<K, V> = HashMap<K, V, FixedState>;
type EndpointMap = KeyMap<Arc<str>, [Option<Arc<Series>>; 8]>;
type QueryMap = KeyMap<Arc<str>, Arc<QuerySeries>>;

struct QuerySeries {
    series: Series,
    example_sql: Box<str>,
    kind: QueryKind,
}

/// Where a query ran: inside a request scope, or outside any (background).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Request = 0,
    Background = 1,
}

impl Origin {
    fn of(sample: &QuerySample<'_>) -> Origin {
        if sample.scope.is_some() { Origin::Request } else { Origin::Background }
    }
}

struct SlowRequestSlot {
    at: Timestamp,
    method: Method,
    route: Arc<str>,
    status: u16,
    nanos: u64,
}

struct SlowQuerySlot {
    at: Timestamp,
    fingerprint: Arc<str>,
    sql: String,
    nanos: u64,
    ok: bool,
    scope: String,
    has_scope: bool,
    kind: QueryKind,
}

/// Ids handed to stores, so a handle names the store that made it.
static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(0);

/// What a [`Store`]'s [`RequestHandle`] holds: the store's id and the series.
struct StoreEndpoint {
    store: u64,
    series: Arc<Series>,
}

/// The metrics store: a [`Recorder`] and a [`MetricsSource`].
///
/// # Guarantees
/// - Recording a request or query is O(1), takes only its series' write
///   shard lock (thread-affine, so threads rarely meet), and allocates
///   nothing once its key has been seen (a new key costs one series
///   allocation and a copy of the key map). Slow events also take the lock
///   of their ring, and cache events and system readings the one lock of
///   the gauge buckets: these are store-wide.
/// - Memory is fixed by [`StoreConfig`]; see the crate docs for the formula
///   and [`Store::accounted_bytes`] for the figure.
/// - Window queries cost O(keys × buckets), never O(requests).
pub struct Store {
    /// Tells this store's [`RequestHandle`]s from other stores'.
    id: u64,
    geometry: Geometry,
    config: StoreConfig,
    clock: Arc<dyn Clock>,
    thresholds: Arc<dyn ThresholdStore>,
    endpoints: ArcSwap<EndpointMap>,
    /// Query series by origin ([`Origin`] as index): request queries and
    /// background queries are kept apart.
    queries: [ArcSwap<QueryMap>; 2],
    /// Query series held over both maps, for the shared cap.
    query_count: AtomicUsize,
    insert_lock: Mutex<()>,
    /// Endpoint series held; checked before the insert lock so traffic past
    /// the cap goes to the overflow key without locking.
    endpoint_count: AtomicUsize,
    unmatched: Arc<Series>,
    endpoint_overflow: Arc<Series>,
    query_overflow: [Arc<QuerySeries>; 2],
    unmatched_route: Arc<str>,
    overflow_route: Arc<str>,
    overflowed_requests: AtomicU64,
    overflowed_queries: AtomicU64,
    gauges: Mutex<Gauges>,
    slow_requests: Mutex<Ring<SlowRequestSlot>>,
    slow_queries: Mutex<Ring<SlowQuerySlot>>,
    n_plus_one: Mutex<NPlusOneTable>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("config", &self.config).field("keys", &self.key_usage()).finish_non_exhaustive()
    }
}

impl Store {
    /// A store sized by `config`, reading time from `clock`. `thresholds`
    /// are the ones the store's producers judge samples by (a
    /// [`PerfContext`](crate::PerfContext) built from the store hands them
    /// on); the store itself never judges: it counts a sample slow by the
    /// verdict the sample carries.
    ///
    /// # Errors
    /// [`CoreError::InvalidConfig`] when `config` fails [`StoreConfig::validate`].
    pub fn new(
        config: StoreConfig,
        clock: Arc<dyn Clock>,
        thresholds: Arc<dyn ThresholdStore>,
    ) -> Result<Self, CoreError> {
        config.validate()?;
        let geometry = Geometry {
            fine_us: config.fine_resolution.as_micros() as u64,
            coarse_us: config.coarse_resolution.as_micros() as u64,
            fine_n: config.fine_buckets.get() as u64,
            coarse_n: config.coarse_buckets.get() as u64,
            arena: config.histogram_entries.get(),
            shards: config.shards.get().next_power_of_two(),
            le_nanos: {
                let mut le = [u64::MAX; series::LE_BUCKETS];
                for (slot, b) in le.iter_mut().zip(&config.histogram_buckets) {
                    *slot = nanos(*b);
                }
                le
            },
            le_n: config.histogram_buckets.len(),
            le_of_bin: [0; crate::histogram::BINS],
        };
        let geometry = Geometry { le_of_bin: Geometry::le_table(&geometry.le_nanos[..geometry.le_n]), ..geometry };
        let slow_route: Arc<str> = Arc::from("");
        Ok(Store {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            unmatched: Arc::new(Series::new_endpoint(&geometry)),
            endpoint_overflow: Arc::new(Series::new_endpoint(&geometry)),
            query_overflow: [(); 2].map(|()| {
                Arc::new(QuerySeries {
                    series: Series::new(&geometry),
                    example_sql: Box::from(""),
                    kind: QueryKind::Other,
                })
            }),
            unmatched_route: Arc::from(UNMATCHED_ROUTE),
            overflow_route: Arc::from(OVERFLOW_ROUTE),
            endpoints: ArcSwap::from_pointee(EndpointMap::default()),
            queries: [(); 2].map(|()| ArcSwap::from_pointee(QueryMap::default())),
            query_count: AtomicUsize::new(0),
            insert_lock: Mutex::new(()),
            endpoint_count: AtomicUsize::new(0),
            overflowed_requests: AtomicU64::new(0),
            overflowed_queries: AtomicU64::new(0),
            gauges: Mutex::new(Gauges::new(config.fine_buckets.get(), config.coarse_buckets.get())),
            slow_requests: Mutex::new(Ring::new(config.slow_requests.get(), || SlowRequestSlot {
                at: Timestamp::EPOCH,
                method: Method::Other,
                route: slow_route.clone(),
                status: 0,
                nanos: 0,
            })),
            slow_queries: Mutex::new(Ring::new(config.slow_queries.get(), || SlowQuerySlot {
                at: Timestamp::EPOCH,
                fingerprint: slow_route.clone(),
                sql: String::with_capacity(MAX_SQL_BYTES),
                nanos: 0,
                ok: true,
                scope: String::with_capacity(MAX_ROUTE_BYTES),
                has_scope: false,
                kind: QueryKind::Read,
            })),
            n_plus_one: Mutex::new(NPlusOneTable::new(config.n_plus_one.get(), config.max_endpoints.get())),
            geometry,
            config,
            clock,
            thresholds,
        })
    }

    /// A store with default sizing, the system clock and development thresholds.
    pub fn with_defaults() -> Self {
        Store::new(StoreConfig::default(), Arc::new(crate::SystemClock), Arc::new(SharedThresholds::default()))
            .expect("the default store configuration is valid")
    }

    /// The clock the store reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The thresholds the store's producers judge samples by (read at every
    /// sample, so updates apply at once).
    pub fn thresholds(&self) -> &Arc<dyn ThresholdStore> {
        &self.thresholds
    }

    /// The sizing in force.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Resolves an endpoint's series once, for callers that record many
    /// samples for it (the handle skips the key lookup).
    pub fn endpoint(&self, method: Method, route: Option<&str>) -> EndpointHandle {
        EndpointHandle { store: self.id, series: self.endpoint_series(method, route) }
    }

    /// Bytes held by the store's structures, computed from their sizes and
    /// capacities. It grows when a new key is first seen and as a series'
    /// history is first written, up to a bound fixed by the configuration;
    /// never with the number of samples.
    pub fn accounted_bytes(&self) -> usize {
        use std::mem::size_of;
        let endpoints = self.endpoints.load();
        let queries: Vec<_> = self.queries.iter().map(ArcSwap::load).collect();
        let endpoint_series: usize = endpoints.values().map(|slots| slots.iter().flatten().count()).sum();
        let endpoint_keys: usize =
            endpoints.keys().map(|k| k.len() + size_of::<(Arc<str>, [Option<Arc<Series>>; 8])>()).sum();
        let query_keys: usize = queries
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, q)| k.len() + q.example_sql.len() + size_of::<(Arc<str>, Arc<QuerySeries>)>())
            .sum();
        // Two endpoint keys of their own (unmatched, overflow) and two query overflow keys.
        let own = [&self.unmatched, &self.endpoint_overflow].into_iter().map(|s| s.accounted_bytes()).sum::<usize>()
            + self.query_overflow.iter().map(|q| q.series.accounted_bytes()).sum::<usize>();
        let series = own
            + endpoints.values().flat_map(|slots| slots.iter().flatten()).map(|s| s.accounted_bytes()).sum::<usize>()
            + queries.iter().flat_map(|m| m.values()).map(|q| q.series.accounted_bytes()).sum::<usize>()
            + (endpoint_series + 2) * StatusTable::accounted_bytes(&self.geometry);
        let rings = std::mem::size_of_val(self.slow_requests.lock().slots())
            + self
                .slow_queries
                .lock()
                .slots()
                .iter()
                .map(|s| size_of::<SlowQuerySlot>() + s.sql.capacity() + s.scope.capacity())
                .sum::<usize>()
            + {
                let table = self.n_plus_one.lock();
                table
                    .slots()
                    .iter()
                    .map(|s| size_of_val(s) + s.scope.capacity() + s.fingerprint.capacity())
                    .sum::<usize>()
                    + table.counter_bytes()
            };
        let gauges = {
            let g = self.gauges.lock();
            (g.fine.len() + g.coarse.len()) * size_of::<gauges::GaugeSlot>()
        };
        size_of::<Store>() + series + endpoint_keys + query_keys + rings + gauges
    }

    /// The aggregate of one endpoint over `window`; `None` for an endpoint
    /// never seen. Costs O(buckets in the window).
    pub fn endpoint_aggregate(&self, method: Method, route: Option<&str>, window: Window) -> Option<Aggregate> {
        let series = match route {
            None => self.unmatched.clone(),
            Some(r) => self.endpoints.load().get(r).and_then(|slots| slots[method.index()].clone())?,
        };
        // Windows are aligned to roll-up buckets, and every sample reaches the
        // roll-up scalars together with the fine ones, so aggregates read the
        // roll-up tier: a sixth of the buckets for the same answer.
        let (start, end, _) = self.window_bounds(window, self.clock.now());
        let mut out = Collected::new();
        series.collect_into(start, end, &self.geometry, &mut out);
        Some(aggregate(&out))
    }

    /// How many keys are held and how many samples overflowed.
    pub fn key_usage(&self) -> KeyUsage {
        let endpoints = self.endpoints.load();
        KeyUsage {
            endpoints: endpoints.values().map(|slots| slots.iter().flatten().count()).sum::<usize>() + 2,
            queries: self.query_count.load(Ordering::Relaxed) + 2,
            overflowed_requests: self.overflowed_requests.load(Ordering::Relaxed),
            overflowed_queries: self.overflowed_queries.load(Ordering::Relaxed),
        }
    }

    fn endpoint_series(&self, method: Method, route: Option<&str>) -> Arc<Series> {
        let Some(route) = route else { return self.unmatched.clone() };
        if let Some(s) = self.endpoints.load().get(route).and_then(|slots| slots[method.index()].as_ref()) {
            return s.clone();
        }
        self.insert_endpoint(method, route)
    }

    #[cold]
    fn insert_endpoint(&self, method: Method, route: &str) -> Arc<Series> {
        self.try_insert_endpoint(method, route).unwrap_or_else(|| {
            self.overflowed_requests.fetch_add(1, Ordering::Relaxed);
            self.endpoint_overflow.clone()
        })
    }

    /// The series of a route not yet in the map, inserted; `None` (nothing
    /// counted) once the endpoint cap is reached.
    fn try_insert_endpoint(&self, method: Method, route: &str) -> Option<Arc<Series>> {
        if self.endpoint_count.load(Ordering::Relaxed) >= self.config.max_endpoints.get() {
            return None;
        }
        let _guard = self.insert_lock.lock();
        let current = self.endpoints.load_full();
        if let Some(s) = current.get(route).and_then(|slots| slots[method.index()].as_ref()) {
            return Some(s.clone());
        }
        if self.endpoint_count.load(Ordering::Relaxed) >= self.config.max_endpoints.get() {
            return None;
        }
        let series = Arc::new(Series::new_endpoint(&self.geometry));
        let mut next = EndpointMap::clone(&current);
        next.entry(Arc::from(route)).or_default()[method.index()] = Some(series.clone());
        self.endpoints.store(Arc::new(next));
        self.endpoint_count.fetch_add(1, Ordering::Relaxed);
        Some(series)
    }

    fn query_series(&self, origin: Origin, sample: &QuerySample<'_>) -> (Arc<QuerySeries>, bool) {
        let map = self.queries[origin as usize].load();
        if let Some(q) = map.get(sample.fingerprint) {
            return (q.clone(), false);
        }
        // Past the cap, new fingerprints go to the overflow key without locking.
        if self.query_count.load(Ordering::Relaxed) >= self.config.max_queries.get() {
            return (self.query_overflow[origin as usize].clone(), true);
        }
        drop(map);
        self.insert_query(origin, sample)
    }

    #[cold]
    fn insert_query(&self, origin: Origin, sample: &QuerySample<'_>) -> (Arc<QuerySeries>, bool) {
        let _guard = self.insert_lock.lock();
        let slot = &self.queries[origin as usize];
        let current = slot.load_full();
        if let Some(q) = current.get(sample.fingerprint) {
            return (q.clone(), false);
        }
        if self.query_count.load(Ordering::Relaxed) >= self.config.max_queries.get() {
            return (self.query_overflow[origin as usize].clone(), true);
        }
        let mut example = String::new();
        set_truncated(&mut example, sample.sql, MAX_SQL_BYTES);
        let q = Arc::new(QuerySeries {
            series: Series::new(&self.geometry),
            example_sql: example.into_boxed_str(),
            kind: sample.kind,
        });
        let mut next = QueryMap::clone(&current);
        next.insert(Arc::from(sample.fingerprint), q.clone());
        slot.store(Arc::new(next));
        self.query_count.fetch_add(1, Ordering::Relaxed);
        (q, false)
    }

    #[inline]
    fn record_request_into(&self, series: &Series, sample: &RequestSample<'_>) {
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
            statuses.record(sample.status, nanos, s.le, &self.geometry);
        }
        if slow {
            self.push_slow_request(sample, nanos);
        }
    }

    /// A sample whose handle names another store, recorded through the key
    /// map; kept out of line so the handle paths stay small.
    #[cold]
    #[inline(never)]
    fn record_request_by_key(&self, sample: &RequestSample<'_>) {
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
    }

    /// Start (inclusive) and end (exclusive) of a window in microseconds,
    /// aligned to roll-up buckets, and whether the fine tier covers it.
    fn window_bounds(&self, window: Window, now: Timestamp) -> (u64, u64, bool) {
        let g = &self.geometry;
        let now_us = now.as_unix_micros();
        let buckets = (window.as_duration().as_micros() as u64).div_ceil(g.coarse_us).max(1);
        let end = (now_us / g.coarse_us + 1) * g.coarse_us;
        let start = end.saturating_sub(buckets * g.coarse_us);
        let oldest_fine = (now_us / g.fine_us + 1).saturating_sub(g.fine_n) * g.fine_us;
        (start, end, start >= oldest_fine)
    }

    fn each_endpoint(&self, mut f: impl FnMut(Method, &str, &Series)) {
        let map = self.endpoints.load();
        for (route, slots) in map.iter() {
            for (i, s) in slots.iter().enumerate() {
                if let Some(s) = s {
                    f(Method::ALL[i], route, s);
                }
            }
        }
        f(Method::Other, UNMATCHED_ROUTE, &self.unmatched);
        f(Method::Other, OVERFLOW_ROUTE, &self.endpoint_overflow);
    }

    fn each_query(&self, origin: Origin, mut f: impl FnMut(&str, &QuerySeries)) {
        let map = self.queries[origin as usize].load();
        for (fp, q) in map.iter() {
            f(fp, q);
        }
        f(OVERFLOW_FINGERPRINT, &self.query_overflow[origin as usize]);
    }

    /// The aggregate and per-fingerprint statistics of one origin's queries
    /// over `[start, end)`; `all` and `one` are scratch accumulators.
    fn query_aggregates(
        &self,
        origin: Origin,
        start: u64,
        end: u64,
        all: &mut Collected,
        one: &mut Collected,
    ) -> (Aggregate, Vec<QueryStats>) {
        all.reset();
        let mut stats = Vec::new();
        self.each_query(origin, |fp, q| {
            one.reset();
            q.series.collect_into(start, end, &self.geometry, one);
            if one.acc.count == 0 {
                return;
            }
            all.merge(one);
            stats.push(QueryStats {
                fingerprint: fp.to_owned(),
                example_sql: q.example_sql.to_string(),
                kind: q.kind,
                stats: aggregate(one),
            });
        });
        stats.sort_by(|a, b| {
            b.stats.total_time.total_cmp(&a.stats.total_time).then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        (aggregate(all), stats)
    }

    fn system_stats(&self, start: u64, end: u64, fine: bool) -> (SystemStats, CacheCounts) {
        let g = self.gauges.lock();
        let (slots, width) = if fine { (&g.fine, self.geometry.fine_us) } else { (&g.coarse, self.geometry.coarse_us) };
        let mut stats = SystemStats { current: g.last, ..SystemStats::default() };
        let mut cache = CacheCounts::default();
        let (mut rss_sum, mut cpu_sum) = (0.0, 0.0);
        for s in slots.iter().filter(|s| s.is_live()) {
            let t = s.epoch * width;
            if t < start || t >= end {
                continue;
            }
            stats.samples += s.samples;
            rss_sum += s.rss_sum;
            cpu_sum += s.cpu_sum;
            stats.max_rss_mb = stats.max_rss_mb.max(s.rss_max);
            stats.max_cpu_percent = stats.max_cpu_percent.max(s.cpu_max);
            add_counts(&mut cache, &s.cache);
        }
        if stats.samples > 0 {
            stats.avg_rss_mb = rss_sum / stats.samples as f64;
            stats.avg_cpu_percent = cpu_sum / stats.samples as f64;
        }
        (stats, cache)
    }
}

/// A resolved endpoint series: records without a key lookup.
#[derive(Clone)]
pub struct EndpointHandle {
    /// The id of the store that made the handle.
    store: u64,
    series: Arc<Series>,
}

impl std::fmt::Debug for EndpointHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointHandle").finish_non_exhaustive()
    }
}

impl EndpointHandle {
    /// Records a request for this endpoint into `store`. Given another store
    /// than the one that made the handle, the sample goes through that
    /// store's key map instead (its series may be sized differently).
    pub fn record(&self, store: &Store, sample: &RequestSample<'_>) {
        if self.store == store.id {
            store.record_request_into(&self.series, sample);
        } else {
            store.record_request_by_key(sample);
        }
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
}

impl MetricsSource for Store {
    fn snapshot(&self, window: Window) -> Snapshot {
        let now = self.clock.now();
        // Aggregates read the roll-up tier (see `endpoint_aggregate`).
        let (start, end, _) = self.window_bounds(window, now);
        let g = &self.geometry;

        let mut all = Collected::new();
        let mut one = Collected::new();
        let mut endpoints = Vec::new();
        self.each_endpoint(|method, route, series| {
            one.reset();
            series.collect_into(start, end, g, &mut one);
            if one.acc.count == 0 {
                return;
            }
            all.merge(&one);
            endpoints.push(EndpointStats {
                method,
                route: route.to_owned(),
                queries_per_request: f64::from(one.acc.aux_count) / f64::from(one.acc.count),
                query_time_per_request: one.acc.aux_ns as f64 / 1e9 / f64::from(one.acc.count),
                stats: aggregate(&one),
            });
        });
        endpoints.sort_by(|a, b| b.stats.count.cmp(&a.stats.count).then_with(|| a.route.cmp(&b.route)));
        let requests = aggregate(&all);

        let (queries, query_stats) = self.query_aggregates(Origin::Request, start, end, &mut all, &mut one);
        let (background_queries, background_query_stats) =
            self.query_aggregates(Origin::Background, start, end, &mut all, &mut one);

        let (system, cache) = self.system_stats(start, end, false);
        let since = Timestamp::from_unix_micros(start);
        let slow_requests = self
            .slow_requests
            .lock()
            .iter_newest_first()
            .filter(|s| s.at >= since)
            .map(|s| SlowRequest {
                timestamp: s.at.to_datetime(),
                method: s.method,
                route: s.route.to_string(),
                status: s.status,
                duration: s.nanos as f64 / 1e9,
            })
            .collect();
        let slow_queries = self
            .slow_queries
            .lock()
            .iter_newest_first()
            .filter(|s| s.at >= since)
            .map(|s| SlowQuery {
                timestamp: s.at.to_datetime(),
                fingerprint: s.fingerprint.to_string(),
                sql: s.sql.clone(),
                duration: s.nanos as f64 / 1e9,
                ok: s.ok,
                scope: s.has_scope.then(|| s.scope.clone()),
                kind: s.kind,
            })
            .collect();
        let n_plus_one = self.n_plus_one.lock().findings(since);
        Snapshot {
            timestamp: now.to_datetime(),
            window,
            requests,
            endpoints,
            queries,
            query_stats,
            background_queries,
            background_query_stats,
            system,
            cache,
            slow_requests,
            slow_queries,
            n_plus_one,
            keys: self.key_usage(),
        }
    }

    fn series(&self, key: &SeriesKey, window: Window) -> Vec<SeriesPoint> {
        self.series_at(key, window, SeriesResolution::Auto)
    }

    fn series_at(&self, key: &SeriesKey, window: Window, resolution: SeriesResolution) -> Vec<SeriesPoint> {
        let now = self.clock.now();
        let (start, end, fine) = self.window_bounds(window, now);
        let fine = fine && resolution == SeriesResolution::Auto;
        let g = &self.geometry;
        let width = if fine { g.fine_us } else { g.coarse_us };
        let first = start / width;
        let last = (end - 1).min(now.as_unix_micros()) / width;
        let mut points: Vec<series::PointAcc> = (first..=last)
            .map(|e| series::PointAcc { start_us: e * width, acc: Acc::EMPTY, hist: (!fine).then(Dense::new) })
            .collect();
        let mut add = |series: &Series| series.points_into(start, end, fine, g, &mut points);
        match key {
            SeriesKey::Requests => self.each_endpoint(|_, _, s| add(s)),
            SeriesKey::Queries => self.each_query(Origin::Request, |_, q| add(&q.series)),
            SeriesKey::Endpoint { method, route } => {
                let found = match route.as_str() {
                    UNMATCHED_ROUTE => Some(self.unmatched.clone()),
                    OVERFLOW_ROUTE => Some(self.endpoint_overflow.clone()),
                    r => self.endpoints.load().get(r).and_then(|slots| slots[method.index()].clone()),
                };
                if let Some(s) = found {
                    add(&s);
                }
            }
            SeriesKey::Query { fingerprint } => {
                // A fingerprint run both inside and outside requests has
                // two series; its series over time is their sum.
                for origin in [Origin::Request, Origin::Background] {
                    let found = self.queries[origin as usize].load().get(fingerprint.as_str()).cloned();
                    if let Some(q) = found {
                        add(&q.series);
                    } else if fingerprint == OVERFLOW_FINGERPRINT {
                        add(&self.query_overflow[origin as usize].series);
                    }
                }
            }
        }
        points
            .into_iter()
            .map(|p| {
                let (p50, p95, p99) = match &p.hist {
                    Some(h) if p.acc.count > 0 => {
                        let [a, b, c] = h.percentiles([0.5, 0.95, 0.99], p.acc.min_ns, p.acc.max_ns);
                        (a / 1e9, b / 1e9, c / 1e9)
                    }
                    _ => (0.0, 0.0, 0.0),
                };
                SeriesPoint {
                    start: Timestamp::from_unix_micros(p.start_us).to_datetime(),
                    width: width as f64 / 1e6,
                    count: u64::from(p.acc.count),
                    errors: u64::from(p.acc.errors),
                    slow: u64::from(p.acc.slow),
                    avg: if p.acc.count == 0 { 0.0 } else { p.acc.sum_ns as f64 / 1e9 / f64::from(p.acc.count) },
                    p50,
                    p95,
                    p99,
                    max: if p.acc.count == 0 { 0.0 } else { p.acc.max_ns as f64 / 1e9 },
                    has_percentiles: p.hist.is_some() && p.acc.count > 0,
                }
            })
            .collect()
    }

    fn gauges(&self, window: Window) -> Vec<GaugePoint> {
        let now = self.clock.now();
        let (start, end, fine) = self.window_bounds(window, now);
        let width = if fine { self.geometry.fine_us } else { self.geometry.coarse_us };
        let g = self.gauges.lock();
        let slots = if fine { &g.fine } else { &g.coarse };
        let first = start / width;
        let last = (end - 1).min(now.as_unix_micros()) / width;
        (first..=last)
            .map(|epoch| {
                let slot = slots[(epoch % slots.len() as u64) as usize];
                let live = slot.is_live() && slot.epoch == epoch;
                let samples = if live { slot.samples } else { 0 };
                let mean = |sum: f64| if samples == 0 { 0.0 } else { sum / samples as f64 };
                GaugePoint {
                    start: Timestamp::from_unix_micros(epoch * width).to_datetime(),
                    width: width as f64 / 1e6,
                    samples,
                    rss_mb: mean(if live { slot.rss_sum } else { 0.0 }),
                    cpu_percent: mean(if live { slot.cpu_sum } else { 0.0 }),
                    cache_hits: if live { slot.cache.hits() } else { 0 },
                    cache_misses: if live { slot.cache.misses() } else { 0 },
                }
            })
            .collect()
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn totals(&self) -> TotalsSnapshot {
        let g = &self.geometry;
        let mut out = TotalsSnapshot {
            bucket_bounds: g.le_nanos[..g.le_n].iter().map(|&n| n as f64 / 1e9).collect(),
            ..TotalsSnapshot::default()
        };
        self.each_endpoint(|method, route, series| {
            let t = series.totals(g);
            if t.count > 0 {
                out.endpoints.push(EndpointTotals {
                    method,
                    route: route.to_owned(),
                    totals: totals(&t, g),
                    statuses: series.statuses().map(|s| s.totals(g)).unwrap_or_default(),
                });
            }
        });
        for origin in [Origin::Request, Origin::Background] {
            self.each_query(origin, |fp, q| {
                let t = q.series.totals(g);
                if t.count > 0 {
                    out.queries.push(QueryTotals {
                        fingerprint: fp.to_owned(),
                        background: origin == Origin::Background,
                        totals: totals(&t, g),
                    });
                }
            });
        }
        out.endpoints.sort_by(|a, b| (a.route.as_str(), a.method).cmp(&(b.route.as_str(), b.method)));
        out.queries.sort_by(|a, b| (a.background, a.fingerprint.as_str()).cmp(&(b.background, b.fingerprint.as_str())));
        out.cache = self.gauges.lock().cache_totals;
        out.n_plus_one = self.n_plus_one.lock().scope_totals();
        out
    }
}

fn totals(c: &series::Cumulative, g: &Geometry) -> Totals {
    let mut running = 0;
    let buckets = c.buckets[..g.le_n]
        .iter()
        .map(|n| {
            running += n;
            running
        })
        .collect();
    Totals {
        count: c.count,
        errors: c.errors,
        client_errors: c.client_errors,
        slow: c.slow,
        sum: c.sum_ns as f64 / 1e9,
        buckets,
    }
}

fn aggregate(c: &Collected) -> Aggregate {
    let a = &c.acc;
    if a.count == 0 {
        return Aggregate { histogram_coverage: 1.0, ..Aggregate::default() };
    }
    let [p50, p90, p95, p99] = c.hist.percentiles([0.5, 0.9, 0.95, 0.99], a.min_ns, a.max_ns);
    let held = c.hist.total();
    let count = u64::from(a.count);
    Aggregate {
        count,
        errors: u64::from(a.errors),
        client_errors: u64::from(a.client_errors),
        slow: u64::from(a.slow),
        total_time: a.sum_ns as f64 / 1e9,
        avg: a.sum_ns as f64 / 1e9 / count as f64,
        min: a.min_ns as f64 / 1e9,
        max: a.max_ns as f64 / 1e9,
        p50: p50 / 1e9,
        p90: p90 / 1e9,
        p95: p95 / 1e9,
        p99: p99 / 1e9,
        histogram_coverage: (held as f64 / count as f64).min(1.0),
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
