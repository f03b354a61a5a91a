//! The landscape demo: a project manager for a landscape-architecture firm
//! (projects, sites, a plant catalogue, tasks), wired with the perfkit
//! facade the way we recommend wiring your own actix-web + diesel service.
//!
//! One [`perfkit::Perfkit`], built in [`Landscape::new`], makes the store,
//! thresholds and clock and wires every part to them:
//!
//! - its [`perfkit::QueryMonitor`] instruments every pooled connection;
//! - its cache (memory, or tiered Redis + memory when `REDIS_URL` is set)
//!   caches plant pages and dashboard responses;
//! - its analytics and alert evaluator serve the health score, alerts,
//!   trends and the report, and its system sampler records memory and CPU;
//! - its [`perf_http::PerfState`] monitors every request and serves
//!   `/api/performance/*`, `/metrics` and the dashboard at `/performance`.
//!
//! `main.rs` is [`Settings::from_env`] then [`run`]; tests build the same
//! app in-process with [`Landscape::new`] and [`build_app`]:
//!
//! ```
//! use actix_web::test;
//! use landscape::{Landscape, Settings, build_app};
//! use perf_core::MetricsSource as _;
//!
//! # actix_web::rt::System::new().block_on(async {
//! let data_dir = std::env::temp_dir().join(format!("landscape-doc-{}", std::process::id()));
//! let settings = Settings {
//!     bind: "127.0.0.1:0".into(),
//!     data_dir: data_dir.clone(),
//!     database_url: None,
//!     cache_prefix: "landscape:".into(),
//!     http: landscape::HttpTimeouts::default(),
//!     perf: perf_core::PerfConfig::default(),
//! };
//! let service = Landscape::new(&settings)?; // migrates and seeds ./landscape.db in data_dir
//! let app = test::init_service(build_app(&service)).await;
//! let req = test::TestRequest::get().uri("/api/projects/1/report?naive=true").to_request();
//! let report: serde_json::Value = test::call_and_read_body_json(&app, req).await;
//! assert_eq!(report["project"]["id"], 1);
//! let findings = service.store().snapshot(perf_core::Window::DEFAULT).n_plus_one;
//! assert_eq!(findings[0].scope, "GET /api/projects/{id}/report");
//! # drop(app);
//! # drop(service);
//! # std::fs::remove_dir_all(data_dir)?;
//! # Ok::<(), anyhow::Error>(())
//! # }).unwrap();
//! ```
mod db;
mod error;
mod handlers;
mod models;
mod outage;
mod repo;
mod schema;

use std::{
    cell::{Cell, RefCell},
    net::SocketAddr,
    path::PathBuf,
    pin::Pin,
    rc::Rc,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use actix_web::{
    App, HttpMessage as _, HttpServer,
    body::{BodySize, BoxBody, MessageBody},
    dev::{Payload, ServiceFactory, ServiceRequest, ServiceResponse},
    error::PayloadError,
    http::{KeepAlive, header},
    middleware::{Next, from_fn},
    web::{self, Bytes},
};
use futures_util::Stream;
use perf_core::{PerfConfig, Store};
use perf_http::{PerfState, ResponseCache};
use perfkit::Perfkit;

pub use crate::{
    db::{
        Db, OUTAGE_PROBE_INTERVAL, OUTAGE_PROBE_TIMEOUT, PLANTINGS_PER_SITE, POOL_CONNECTION_TIMEOUT, SEEDED_PLANTS,
        SEEDED_PROJECTS, SITES_PER_PROJECT, TASKS_PER_SITE, plant_catalogue,
    },
    error::{AppError, RETRY_AFTER_SECS},
    models::{Dashboard, Plant, PlantPage, Planting, PlantingLine, Project, ProjectReport, Site, SiteReport, Task},
    outage::{CheckoutError, OutageLatch},
};

/// Where and how the service runs, read from the environment.
///
/// Its `Debug` output shows `DATABASE_URL` through [`perf_core::redact_url`]
/// and the perf-core part through [`PerfConfig`]'s redacting `Debug`.
#[derive(Clone)]
pub struct Settings {
    /// `BIND`: the listen address (default `127.0.0.1:8080`; port 0 picks a free one).
    pub bind: String,
    /// `DATA_DIR`: where the SQLite file lives (default `./data`).
    pub data_dir: PathBuf,
    /// `DATABASE_URL`: a `postgres://` URL to use PostgreSQL instead of SQLite.
    pub database_url: Option<String>,
    /// `CACHE_PREFIX`: the prefix of this service's keys in Redis (default
    /// `landscape:`), so several services can share one Redis.
    pub cache_prefix: String,
    /// The slow-client timeouts of the HTTP server.
    pub http: HttpTimeouts,
    /// Every perf-core variable (`REDIS_URL`, `PERFORMANCE_API_TOKEN`, `PERFORMANCE_READ_TOKEN`,
    /// `ALERT_EVALUATION_INTERVAL`, thresholds, ...).
    pub perf: PerfConfig,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Settings { bind, data_dir, database_url, cache_prefix, http, perf } = self;
        f.debug_struct("Settings")
            .field("bind", bind)
            .field("data_dir", data_dir)
            .field("database_url", &database_url.as_deref().map(perf_core::redact_url))
            .field("cache_prefix", cache_prefix)
            .field("http", http)
            .field("perf", perf)
            .finish()
    }
}

impl Settings {
    /// Reads `BIND`, `DATA_DIR`, `DATABASE_URL`, `CACHE_PREFIX`,
    /// [`HttpTimeouts::from_env`] and [`PerfConfig::from_env`].
    ///
    /// # Errors
    /// When a timeout or a perf-core variable is invalid.
    pub fn from_env() -> anyhow::Result<Settings> {
        let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Ok(Settings {
            bind: var("BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned()),
            data_dir: var("DATA_DIR").map_or_else(|| PathBuf::from("data"), PathBuf::from),
            database_url: var("DATABASE_URL"),
            cache_prefix: var("CACHE_PREFIX").unwrap_or_else(|| "landscape:".to_owned()),
            http: HttpTimeouts::from_env()?,
            perf: PerfConfig::from_env()?,
        })
    }
}

/// How long the server waits for slow or silent clients. Each is a whole
/// number of seconds, at least 1, read from the variable named on the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpTimeouts {
    /// `CLIENT_REQUEST_TIMEOUT` (default 5 s): the time to receive the
    /// request head (request line and headers) of a request; a client that
    /// is slower gets `408` and the connection is closed.
    pub client_request: Duration,
    /// `BODY_READ_TIMEOUT` (default 10 s): the time, from the end of the
    /// head, to receive a JSON body; a slower client gets `408
    /// request_timeout` and the connection is closed.
    pub body_read: Duration,
    /// `KEEP_ALIVE` (default 5 s): how long an idle keep-alive connection
    /// is kept open for a next request.
    pub keep_alive: Duration,
    /// `CLIENT_DISCONNECT_TIMEOUT` (default 1 s): how long the server waits
    /// for the client to acknowledge the close of a connection before it
    /// drops it.
    pub client_disconnect: Duration,
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        HttpTimeouts {
            client_request: Duration::from_secs(5),
            body_read: Duration::from_secs(10),
            keep_alive: Duration::from_secs(5),
            client_disconnect: Duration::from_secs(1),
        }
    }
}

impl HttpTimeouts {
    /// The defaults, overridden by `CLIENT_REQUEST_TIMEOUT`,
    /// `BODY_READ_TIMEOUT`, `KEEP_ALIVE` and `CLIENT_DISCONNECT_TIMEOUT`
    /// (whole seconds).
    ///
    /// # Errors
    /// When a variable is set but not a whole number of seconds from 1 to 3600.
    pub fn from_env() -> anyhow::Result<HttpTimeouts> {
        let d = HttpTimeouts::default();
        let secs = |name: &str, default: Duration| -> anyhow::Result<Duration> {
            match std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(raw) => match raw.parse::<u64>() {
                    Ok(s) if (1..=3600).contains(&s) => Ok(Duration::from_secs(s)),
                    _ => anyhow::bail!("{name}: expected whole seconds between 1 and 3600, got {raw:?}"),
                },
            }
        };
        Ok(HttpTimeouts {
            client_request: secs("CLIENT_REQUEST_TIMEOUT", d.client_request)?,
            body_read: secs("BODY_READ_TIMEOUT", d.body_read)?,
            keep_alive: secs("KEEP_ALIVE", d.keep_alive)?,
            client_disconnect: secs("CLIENT_DISCONNECT_TIMEOUT", d.client_disconnect)?,
        })
    }
}

/// The body read timeout, as app data for the JSON error handler.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyTimeout(pub(crate) Duration);

/// The request body, shared between the handler's stream and the
/// middleware that may hold it past the handler.
type SharedPayload = Rc<RefCell<Payload>>;

/// A request body that fails with a `TimedOut` I/O error once `deadline`
/// passes before the body has been read to its end.
struct DeadlineBody {
    inner: SharedPayload,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: bool,
    /// Set once the body has been read to its end.
    finished: Rc<Cell<bool>>,
}

impl Stream for DeadlineBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired {
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut *self.inner.borrow_mut()).poll_next(cx);
        match polled {
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.expired = true;
                    let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "request body not received in time");
                    Poll::Ready(Some(Err(PayloadError::Io(e))))
                }
                Poll::Pending => Poll::Pending,
            },
            Poll::Ready(None) => {
                self.finished.set(true);
                Poll::Ready(None)
            }
            ready => ready,
        }
    }
}

/// A response body that keeps an unread request body alive until the
/// response is sent. actix-http drains the rest of a chunked request body
/// whose reader was dropped (with no time limit) to reuse the connection;
/// a request body still held when the response goes out makes it close the
/// connection instead, so a client that never finishes its body cannot keep
/// the connection.
struct HoldingBody {
    body: BoxBody,
    _unread: Option<SharedPayload>,
}

impl MessageBody for HoldingBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// Middleware: bounds the time to read the request body (see
/// [`HttpTimeouts::body_read`]), and closes the connection after answering
/// a request whose body was not read to its end (see [`HoldingBody`]).
async fn body_deadline(
    timeout: Duration,
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<HoldingBody>, actix_web::Error> {
    let headers = req.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()) != Some(0));
    let inner: SharedPayload = Rc::new(RefCell::new(req.take_payload()));
    let finished = Rc::new(Cell::new(false));
    let body = DeadlineBody {
        inner: inner.clone(),
        deadline: Box::pin(tokio::time::sleep(timeout)),
        expired: false,
        finished: finished.clone(),
    };
    req.set_payload(Payload::from(Box::pin(body) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>));
    let res = next.call(req).await?;
    let unread = (has_body && !finished.get()).then_some(inner);
    Ok(res.map_body(move |_, body| HoldingBody { body: body.boxed(), _unread: unread }))
}

/// The running parts of the service: database pool, caches, store,
/// analytics and the background sampler and alert evaluator (stopped when
/// this is dropped). Build it once, outside `HttpServer::new`.
pub struct Landscape {
    perf: Perfkit,
    http: HttpTimeouts,
    state: web::Data<handlers::AppState>,
    response_cache: ResponseCache,
}

impl std::fmt::Debug for Landscape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Landscape")
            .field("database", &self.state.db.backend())
            .field("cache", &self.state.cache_tier)
            .finish_non_exhaustive()
    }
}

impl Landscape {
    /// Opens (and migrates and seeds) the database and starts the
    /// monitoring. Call it inside a tokio runtime when `REDIS_URL` is set.
    ///
    /// # Errors
    /// When the database cannot be opened or a setting is invalid.
    pub fn new(settings: &Settings) -> anyhow::Result<Landscape> {
        if settings.perf.memory_monitoring {
            // The sampler reports the disk holding the data.
            std::fs::create_dir_all(&settings.data_dir)?;
        }
        let perf = Perfkit::builder(settings.perf.clone())
            .data_dir(&settings.data_dir)
            .cache_prefix(settings.cache_prefix.clone())
            .build()?;
        let db = Db::open(settings.database_url.as_deref(), &settings.data_dir, &perf)?;
        // CACHE_DEFAULT_TIMEOUT (default 300 s) bounds cached pages; writes to
        // projects drop the dashboard sooner.
        let response_cache = perf.response_cache(handlers::DASHBOARD_NAMESPACE);
        let state = web::Data::new(handlers::AppState {
            db,
            cache: perf.cache().clone(),
            store: perf.cache_store().clone(),
            cache_tier: perf.cache_kind().as_str(),
            ttl: settings.perf.cache_default_timeout,
        });
        Ok(Landscape { perf, http: settings.http, state, response_cache })
    }

    /// The perfkit state (monitor, API, metrics, dashboard).
    pub fn perf(&self) -> &PerfState {
        self.perf.state()
    }

    /// Every perfkit part, as the facade wired them.
    pub fn perfkit(&self) -> &Perfkit {
        &self.perf
    }

    /// The metrics store.
    pub fn store(&self) -> &Arc<Store> {
        self.perf.store()
    }

    /// The database pool.
    pub fn db(&self) -> &Db {
        &self.state.db
    }
}

/// The whole application: the perfkit monitor around every route, the perf
/// API, `/metrics`, the dashboard and the demo's own routes. Request bodies
/// are read within [`HttpTimeouts::body_read`].
pub fn build_app(
    landscape: &Landscape,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody + use<>>,
        Error = actix_web::Error,
        InitError = (),
    > + use<>,
> {
    let perf = &landscape.perf;
    let response_cache = landscape.response_cache.clone();
    let body_read = landscape.http.body_read;
    App::new()
        .wrap(from_fn(move |req: ServiceRequest, next: Next<_>| body_deadline(body_read, req, next)))
        .wrap(perf.monitor())
        .app_data(landscape.state.clone())
        .app_data(BodyTimeout(body_read))
        .app_data(web::JsonConfig::default().limit(16 * 1024).error_handler(handlers::json_error))
        .service(perf.api())
        .service(perf.metrics())
        .service(perf.dashboard())
        .configure(move |cfg| handlers::routes(cfg, response_cache))
        .default_service(web::to(handlers::not_found))
}

/// Starts the service on `settings.bind` and serves until interrupted, with
/// the slow-client timeouts of `settings.http`. Logs the dashboard URL once
/// listening.
///
/// # Errors
/// When the service cannot start or the address cannot be bound.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let landscape = Arc::new(Landscape::new(&settings)?);
    let app_landscape = landscape.clone();
    let timeouts = settings.http;
    let server = HttpServer::new(move || build_app(&app_landscape))
        .client_request_timeout(timeouts.client_request)
        .client_disconnect_timeout(timeouts.client_disconnect)
        .keep_alive(KeepAlive::Timeout(timeouts.keep_alive))
        .bind(&settings.bind)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
    let addrs: Vec<SocketAddr> = server.addrs();
    for addr in &addrs {
        tracing::info!(
            database = landscape.db().backend(),
            cache = landscape.state.cache_tier,
            "landscape listening on http://{addr} - dashboard at http://{addr}/performance"
        );
    }
    server.run().await?;
    Ok(())
}
