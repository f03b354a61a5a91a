//! [`Store`]: the fixed-memory, time-bucketed metrics store.
//!
//! Keys are endpoints (method + route pattern) and query fingerprints. Each
//! key owns a series (see `store/series.rs`); system readings and cache
//! counts live in one gauge ring; recent slow requests, slow queries and N+1
//! findings live in fixed rings. The key maps are read without locks
//! (`arc_swap`) and copied on the rare insert of a new key.
//!
//! This file holds the store's shape and its keys; `store/record.rs` is the
//! write side ([`Recorder`](crate::Recorder)), `store/read.rs` the read side
//! ([`MetricsSource`](crate::MetricsSource)).

mod gauges;
mod n_plus_one;
mod plans;
mod read;
mod record;
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
    gauges::Gauges,
    n_plus_one::NPlusOneTable,
    plans::PlanTable,
    ring::{Ring, set_truncated},
    series::{Geometry, Series},
    status::StatusTable,
};
use crate::{
    Clock, CoreError, KeyUsage, Method, OVERFLOW_ROUTE, QueryKind, QuerySample, RequestSample, SharedThresholds,
    StoreConfig, ThresholdStore, Timestamp, UNMATCHED_ROUTE,
};

/// Longest SQL text kept in the slow-query ring and as a fingerprint's example.
pub const MAX_SQL_BYTES: usize = 2_048;
/// Longest scope label kept with slow queries and N+1 findings.
pub const MAX_ROUTE_BYTES: usize = 256;

pub use self::plans::MAX_PLANS;

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
    trace_id: Option<crate::TraceId>,
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
    trace_id: Option<crate::TraceId>,
}

/// Ids handed to stores, so a handle names the store that made it.
static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(0);

/// What a [`Store`]'s [`RequestHandle`] holds: the store's id and the series.
struct StoreEndpoint {
    store: u64,
    series: Arc<Series>,
}

/// The metrics store: a [`Recorder`](crate::Recorder) and a [`MetricsSource`](crate::MetricsSource).
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
    plans: Mutex<PlanTable>,
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
                trace_id: None,
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
                trace_id: None,
            })),
            n_plus_one: Mutex::new(NPlusOneTable::new(config.n_plus_one.get(), config.max_endpoints.get())),
            plans: Mutex::new(PlanTable::default()),
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
        let plans = self.plans.lock().accounted_bytes();
        size_of::<Store>() + series + endpoint_keys + query_keys + rings + gauges + plans
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

    #[inline]
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

    #[inline]
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

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
