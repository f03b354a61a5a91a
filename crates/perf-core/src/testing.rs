//! Test doubles for code that uses the core traits (feature `testing`).

use std::time::Duration;

use parking_lot::Mutex;

use crate::{CacheEvent, NPlusOneSample, QuerySample, Recorder, RequestSample, SystemSample, Timestamp};

/// An owned copy of a [`RequestSample`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// Method name.
    pub method: crate::Method,
    /// Route pattern.
    pub route: Option<String>,
    /// Status.
    pub status: u16,
    /// Duration.
    pub duration: Duration,
    /// Finish time.
    pub at: Timestamp,
    /// Attributed queries.
    pub queries: u32,
    /// Attributed query time.
    pub query_time: Duration,
}

/// An owned copy of a [`QuerySample`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedQuery {
    /// Fingerprint.
    pub fingerprint: String,
    /// SQL text.
    pub sql: String,
    /// Duration.
    pub duration: Duration,
    /// Success.
    pub ok: bool,
    /// Route, when attributed.
    pub route: Option<String>,
    /// Statement kind.
    pub kind: crate::QueryKind,
}

/// An owned copy of an [`NPlusOneSample`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedNPlusOne {
    /// Route.
    pub route: String,
    /// Fingerprint.
    pub fingerprint: String,
    /// Count.
    pub count: u32,
}

/// A [`Recorder`] that keeps owned copies of everything, for assertions.
#[derive(Debug, Default)]
pub struct RecordingRecorder {
    /// Requests in arrival order.
    pub requests: Mutex<Vec<RecordedRequest>>,
    /// Queries in arrival order.
    pub queries: Mutex<Vec<RecordedQuery>>,
    /// System readings.
    pub system: Mutex<Vec<SystemSample>>,
    /// Cache events.
    pub cache: Mutex<Vec<CacheEvent>>,
    /// N+1 findings.
    pub n_plus_one: Mutex<Vec<RecordedNPlusOne>>,
}

impl Recorder for RecordingRecorder {
    fn record_request(&self, s: &RequestSample<'_>) {
        self.requests.lock().push(RecordedRequest {
            method: s.method,
            route: s.route.map(str::to_owned),
            status: s.status,
            duration: s.duration,
            at: s.at,
            queries: s.queries,
            query_time: s.query_time,
        });
    }
    fn record_query(&self, s: &QuerySample<'_>) {
        self.queries.lock().push(RecordedQuery {
            fingerprint: s.fingerprint.to_owned(),
            sql: s.sql.to_owned(),
            duration: s.duration,
            ok: s.ok,
            route: s.route.map(str::to_owned),
            kind: s.kind,
        });
    }
    fn record_system(&self, s: &SystemSample) {
        self.system.lock().push(*s);
    }
    fn record_cache(&self, e: &CacheEvent) {
        self.cache.lock().push(*e);
    }
    fn record_n_plus_one(&self, f: &NPlusOneSample<'_>) {
        self.n_plus_one.lock().push(RecordedNPlusOne {
            route: f.route.to_owned(),
            fingerprint: f.fingerprint.to_owned(),
            count: f.count,
        });
    }
}
