//! Test doubles for code that uses the core traits (feature `testing`).

mod map_cache;

use std::time::Duration;

use parking_lot::Mutex;

pub use self::map_cache::MapCache;
use crate::{
    CacheEvent, NPlusOneSample, QueryPlan, QueryPlanSample, QuerySample, Recorder, RequestSample, SystemSample,
    Timestamp,
};

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
    /// The producer's slow verdict.
    pub slow: bool,
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
    /// The issuing request scope's label, when attributed.
    pub scope: Option<String>,
    /// Statement kind.
    pub kind: crate::QueryKind,
    /// The producer's slow verdict.
    pub slow: bool,
}

/// An owned copy of an [`NPlusOneSample`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedNPlusOne {
    /// The request scope's label.
    pub scope: String,
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
    /// Captured plans: (fingerprint, plan).
    pub plans: Mutex<Vec<(String, QueryPlan)>>,
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
            slow: s.slow,
        });
    }
    fn record_query(&self, s: &QuerySample<'_>) {
        self.queries.lock().push(RecordedQuery {
            fingerprint: s.fingerprint.to_owned(),
            sql: s.sql.to_owned(),
            duration: s.duration,
            ok: s.ok,
            scope: s.scope.map(str::to_owned),
            kind: s.kind,
            slow: s.slow,
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
            scope: f.scope.to_owned(),
            fingerprint: f.fingerprint.to_owned(),
            count: f.count,
        });
    }
    fn record_query_plan(&self, p: &QueryPlanSample<'_>) {
        self.plans.lock().push((p.fingerprint.to_owned(), p.plan.clone()));
    }
}

/// One `tracing` event kept by a [`LogCapture`], as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// The event's target, e.g. `perf_db::slow_query`.
    pub target: String,
    /// The event's level.
    pub level: tracing::Level,
    /// The `message` field (the format string's text), empty without one.
    pub message: String,
    /// Every other field by name: string values as they are, the rest in
    /// their `Debug` form.
    pub fields: std::collections::BTreeMap<String, String>,
    /// `target name=value …` with every field (the message too) in its
    /// `Debug` form, in the order the event gave them.
    pub line: String,
    /// The thread that emitted the event.
    pub thread: std::thread::ThreadId,
}

impl LoggedEvent {
    /// The value of field `name`, if the event has it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// A `tracing` subscriber that keeps every event, for tests that check what
/// a crate logs. Clones share the events.
///
/// Two ways to use it:
/// - [`LogCapture::capture`] runs a closure with the capture as the thread's
///   subscriber (for code that logs on the calling thread);
/// - [`LogCapture::global`] installs one process-wide capture (for code that
///   logs on other threads, e.g. a runtime's workers); tests then pick their
///   own events by a field ([`LogCapture::events_where`]) or by thread
///   ([`LogCapture::this_thread`]).
///
/// ```
/// use perf_core::testing::LogCapture;
/// let logs = LogCapture::new();
/// logs.capture(|| tracing::warn!(target: "demo", route = "/x", "slow request"));
/// let events = logs.events();
/// assert_eq!((events[0].message.as_str(), events[0].field("route")), ("slow request", Some("/x")));
/// ```
#[derive(Debug, Clone, Default)]
pub struct LogCapture {
    events: std::sync::Arc<Mutex<Vec<LoggedEvent>>>,
}

impl LogCapture {
    /// An empty capture.
    pub fn new() -> Self {
        LogCapture::default()
    }

    /// The process-wide capture, installed as the global default subscriber
    /// on first use. `None` when another global subscriber was installed
    /// first.
    pub fn global() -> Option<&'static LogCapture> {
        static GLOBAL: std::sync::OnceLock<Option<LogCapture>> = std::sync::OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let capture = LogCapture::new();
                tracing::subscriber::set_global_default(capture.clone()).ok().map(|()| capture)
            })
            .as_ref()
    }

    /// Runs `f` with this capture as the calling thread's subscriber.
    ///
    /// Call sites cache whether any subscriber is interested in them; a
    /// test running first on another thread may have cached "no". The cache
    /// is rebuilt first, so every event `f` emits reaches the capture.
    pub fn capture<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::subscriber::with_default(self.clone(), || {
            tracing::callsite::rebuild_interest_cache();
            f()
        })
    }

    /// Every event kept so far, oldest first.
    pub fn events(&self) -> Vec<LoggedEvent> {
        self.events.lock().clone()
    }

    /// The events whose field `name` has the value `value`.
    pub fn events_where(&self, name: &str, value: &str) -> Vec<LoggedEvent> {
        self.events.lock().iter().filter(|e| e.field(name) == Some(value)).cloned().collect()
    }

    /// The events emitted by the calling thread.
    pub fn this_thread(&self) -> Vec<LoggedEvent> {
        let me = std::thread::current().id();
        self.events.lock().iter().filter(|e| e.thread == me).cloned().collect()
    }

    /// Forgets every event kept so far.
    pub fn clear(&self) {
        self.events.lock().clear();
    }
}

/// Collects an event's fields for [`LoggedEvent`].
struct Fields<'a> {
    message: String,
    fields: std::collections::BTreeMap<String, String>,
    line: &'a mut String,
}

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.line.push_str(&format!(" {}={value:?}", field.name()));
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.fields.insert(field.name().to_owned(), value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        self.line.push_str(&format!(" {}={text}", field.name()));
        if field.name() == "message" {
            self.message = text;
        } else {
            self.fields.insert(field.name().to_owned(), text);
        }
    }
}

impl tracing::Subscriber for LogCapture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let meta = event.metadata();
        let mut line = meta.target().to_owned();
        let mut fields = Fields { message: String::new(), fields: std::collections::BTreeMap::new(), line: &mut line };
        event.record(&mut fields);
        let (message, fields) = (fields.message, fields.fields);
        self.events.lock().push(LoggedEvent {
            target: meta.target().to_owned(),
            level: *meta.level(),
            message,
            fields,
            line,
            thread: std::thread::current().id(),
        });
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
