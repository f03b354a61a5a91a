//! Configuration: [`PerfConfig`] from the environment or a builder, and the
//! store's sizing in [`StoreConfig`].

use std::{num::NonZeroUsize, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{CoreError, Thresholds, redact::REDACTED, redact_url};

/// Which recommended threshold set applies when no explicit variable overrides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// 1 s requests, 100 ms queries, 500 MiB, 10 % errors.
    #[default]
    Development,
    /// 500 ms requests, 50 ms queries, 200 MiB, 5 % errors.
    Production,
}

impl Profile {
    /// The profile's recommended thresholds.
    pub const fn thresholds(self) -> Thresholds {
        match self {
            Profile::Development => Thresholds::DEVELOPMENT,
            Profile::Production => Thresholds::PRODUCTION,
        }
    }
}

/// Upper bounds, in seconds, of the default `le` buckets of the request and
/// query histograms: 100 µs to 10 s.
pub const DEFAULT_HISTOGRAM_BUCKETS: [f64; 16] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Most `le` buckets a histogram may have (besides `+Inf`).
pub const MAX_HISTOGRAM_BUCKETS: usize = 32;
/// Smallest allowed `le` bound: 1 µs.
pub const MIN_HISTOGRAM_BOUND: Duration = Duration::from_micros(1);
/// Largest allowed `le` bound: one hour.
pub const MAX_HISTOGRAM_BOUND: Duration = Duration::from_secs(3_600);

/// Sizing of the metrics store. Memory is a function of these numbers alone;
/// see the crate docs for the formula.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Width of a fine bucket (default 10 s).
    pub fine_resolution: Duration,
    /// How many fine buckets are kept (default 360: one hour).
    pub fine_buckets: NonZeroUsize,
    /// Width of a roll-up bucket; a multiple of `fine_resolution` (default 60 s).
    pub coarse_resolution: Duration,
    /// How many roll-up buckets are kept (default 1,440: 24 hours).
    pub coarse_buckets: NonZeroUsize,
    /// 16-bit histogram entries kept per series (default 16,384: 32 KiB, at
    /// least 2,048). Each roll-up bucket's latency histogram takes one entry
    /// per non-empty bin (three for a bin with 64 or more events); when the
    /// ring is full the oldest histograms are dropped (their counts and sums
    /// stay) and percentiles report their coverage.
    pub histogram_entries: NonZeroUsize,
    /// Distinct endpoint keys before new ones go to the overflow key (default 1,000).
    pub max_endpoints: NonZeroUsize,
    /// Distinct query fingerprints before new ones go to the overflow key (default 1,000).
    pub max_queries: NonZeroUsize,
    /// Recent slow requests kept (default 500).
    pub slow_requests: NonZeroUsize,
    /// Recent slow queries kept (default 500).
    pub slow_queries: NonZeroUsize,
    /// Recent N+1 findings kept (default 200).
    pub n_plus_one: NonZeroUsize,
    /// Write shards per series, rounded up to a power of two (default: the
    /// machine's parallelism, at least 2 and at most 16).
    pub shards: NonZeroUsize,
    /// Upper bounds of the `le` buckets of the request and query histograms
    /// counted since start (default [`DEFAULT_HISTOGRAM_BUCKETS`]; 1 to
    /// [`MAX_HISTOGRAM_BUCKETS`] bounds, strictly ascending, each from
    /// [`MIN_HISTOGRAM_BOUND`] to [`MAX_HISTOGRAM_BOUND`]).
    pub histogram_buckets: Vec<Duration>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        let parallel = std::thread::available_parallelism().map_or(2, NonZeroUsize::get);
        StoreConfig {
            fine_resolution: Duration::from_secs(10),
            fine_buckets: nz(360),
            coarse_resolution: Duration::from_secs(60),
            coarse_buckets: nz(1_440),
            histogram_entries: nz(16_384),
            max_endpoints: nz(1_000),
            max_queries: nz(1_000),
            slow_requests: nz(500),
            slow_queries: nz(500),
            n_plus_one: nz(200),
            shards: nz(parallel.clamp(2, 16)),
            histogram_buckets: DEFAULT_HISTOGRAM_BUCKETS.iter().map(|&s| secs_to_duration(s)).collect(),
        }
    }
}

impl StoreConfig {
    /// Checks that resolutions are whole seconds, the roll-up width is a
    /// multiple of the fine width, and the roll-up tier reaches further back.
    ///
    /// # Errors
    /// [`CoreError::InvalidConfig`] describing the first problem.
    pub fn validate(&self) -> Result<(), CoreError> {
        let fine = self.fine_resolution.as_micros();
        let coarse = self.coarse_resolution.as_micros();
        if fine < 1_000_000 || !fine.is_multiple_of(1_000_000) {
            return Err(CoreError::InvalidConfig(format!(
                "fine resolution must be a whole number of seconds, got {:?}",
                self.fine_resolution
            )));
        }
        if coarse < fine || !coarse.is_multiple_of(fine) {
            return Err(CoreError::InvalidConfig(format!(
                "roll-up resolution must be a multiple of the fine resolution {:?}, got {:?}",
                self.fine_resolution, self.coarse_resolution
            )));
        }
        if self.histogram_entries.get() < 2_048 {
            return Err(CoreError::InvalidConfig(format!(
                "histogram entries must be at least 2048, got {}",
                self.histogram_entries
            )));
        }
        validate_buckets(&self.histogram_buckets).map_err(CoreError::InvalidConfig)?;
        if self.coarse_span() < self.fine_span() {
            return Err(CoreError::InvalidConfig(format!(
                "roll-up tier ({:?}) must cover at least the fine tier ({:?})",
                self.coarse_span(),
                self.fine_span()
            )));
        }
        Ok(())
    }

    /// How far back the fine tier reaches.
    pub fn fine_span(&self) -> Duration {
        self.fine_resolution * self.fine_buckets.get() as u32
    }

    /// How far back the roll-up tier reaches.
    pub fn coarse_span(&self) -> Duration {
        self.coarse_resolution * self.coarse_buckets.get() as u32
    }
}

/// Seconds to a duration rounded to the nanosecond, so that decimal bounds
/// such as `0.00025` keep their exact value (`from_secs_f64` truncates).
fn secs_to_duration(secs: f64) -> Duration {
    Duration::from_nanos((secs * 1e9).round() as u64)
}

fn validate_buckets(bounds: &[Duration]) -> Result<(), String> {
    if bounds.is_empty() || bounds.len() > MAX_HISTOGRAM_BUCKETS {
        return Err(format!("histogram buckets must number 1 to {MAX_HISTOGRAM_BUCKETS}, got {}", bounds.len()));
    }
    if let Some(b) = bounds.iter().find(|b| **b < MIN_HISTOGRAM_BOUND || **b > MAX_HISTOGRAM_BOUND) {
        return Err(format!("histogram bucket bounds must be from 1µs to 3600s, got {b:?}"));
    }
    if let Some(w) = bounds.windows(2).find(|w| w[0] >= w[1]) {
        return Err(format!("histogram bucket bounds must be strictly ascending, got {:?} then {:?}", w[0], w[1]));
    }
    Ok(())
}

/// Parses `PERFORMANCE_HISTOGRAM_BUCKETS`: comma-separated seconds.
fn parse_buckets(name: &'static str, v: &str) -> Result<Vec<Duration>, CoreError> {
    let mut out = Vec::new();
    for part in v.split(',') {
        let secs: f64 = part.trim().parse().map_err(|_| invalid(name, v, "expected comma-separated seconds"))?;
        if !secs.is_finite() || secs <= 0.0 {
            return Err(invalid(name, v, "bounds must be finite and positive"));
        }
        if secs > MAX_HISTOGRAM_BOUND.as_secs_f64() {
            return Err(invalid(name, v, "bounds must be at most 3600 seconds"));
        }
        out.push(secs_to_duration(secs));
    }
    validate_buckets(&out).map_err(|reason| invalid(name, v, &reason))?;
    Ok(out)
}

const fn nz(n: usize) -> NonZeroUsize {
    match NonZeroUsize::new(n) {
        Some(n) => n,
        None => NonZeroUsize::MIN,
    }
}

/// Everything perfkit reads from its environment.
///
/// Its `Debug` output shows the API token as `"***"` and the Redis URL
/// through [`redact_url`], so printing a configuration reveals no secret.
#[derive(Clone, PartialEq)]
pub struct PerfConfig {
    /// `PERFORMANCE_MONITORING_ENABLED` (default true): with false the
    /// middleware is a pass-through.
    pub enabled: bool,
    /// `MEMORY_MONITORING_ENABLED` (default true): run the system sampler.
    pub memory_monitoring: bool,
    /// `PERFORMANCE_PROFILE` (default development).
    pub profile: Profile,
    /// The profile's thresholds overridden by `SLOW_REQUEST_THRESHOLD`,
    /// `SLOW_QUERY_THRESHOLD`, `HIGH_MEMORY_THRESHOLD`, `ERROR_RATE_THRESHOLD`.
    pub thresholds: Thresholds,
    /// `CACHE_DEFAULT_TIMEOUT` in seconds (default 300).
    pub cache_default_timeout: Duration,
    /// `REDIS_URL` (default none: memory cache only).
    pub redis_url: Option<String>,
    /// `PERFORMANCE_API_TOKEN`: the admin token, granting every endpoint
    /// (default none). With neither token set, the development profile
    /// serves reads openly and refuses mutations; the production profile
    /// refuses the API and `/metrics` altogether.
    pub api_token: Option<String>,
    /// `PERFORMANCE_READ_TOKEN`: a token granting only reads (GET on
    /// `/api/performance/*` and `/metrics`, so the dashboard's data), for
    /// scrapers and viewers; mutations with it are refused (default none).
    /// Must differ from the API token.
    pub read_token: Option<String>,
    /// `ALERT_EVALUATION_INTERVAL` in seconds (default 10).
    pub alert_evaluation_interval: Duration,
    /// `SYSTEM_SAMPLE_INTERVAL` in seconds (default 5).
    pub system_sample_interval: Duration,
    /// `PERFORMANCE_SERVER_TIMING` (default true): add a `Server-Timing` header.
    pub server_timing: bool,
    /// `PERFORMANCE_CAPTURE_BINDS` (default false): keep diesel's bind
    /// values in recorded and logged SQL text. They are user data (search
    /// terms, emails, tokens); turn this on only in development.
    pub capture_binds: bool,
    /// `PERFORMANCE_QUERY_PLANS` (default: on in the development profile,
    /// off in production): capture the plan of slow SELECTs, once per
    /// fingerprint and interval, on a connection of their own. `None`
    /// follows the profile; read it through [`PerfConfig::query_plans`].
    pub query_plans: Option<bool>,
    /// `PERFORMANCE_METRICS_NAMING` (`perfkit`, the default, or
    /// `actix-web-prom`) and `PERFORMANCE_METRICS_NAMESPACE` (a prefix for
    /// the actix-web-prom names, default none): how `/metrics` names the
    /// request counter and histogram.
    pub metrics_naming: MetricsNaming,
    /// Store sizing; from the environment only `PERFORMANCE_HISTOGRAM_BUCKETS`
    /// (comma-separated seconds) sets [`StoreConfig::histogram_buckets`].
    pub store: StoreConfig,
}

/// How `/metrics` names the request counter and duration histogram.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MetricsNaming {
    /// perfkit's own names: `perfkit_http_requests_total{method,route,status}`
    /// and `perfkit_http_request_duration_seconds`.
    #[default]
    Perfkit,
    /// actix-web-prom's names and labels, so dashboards built for it work:
    /// `[<namespace>_]http_requests_total{endpoint,method,status}` and
    /// `[<namespace>_]http_requests_duration_seconds`. Every other family
    /// keeps its perfkit name.
    ActixWebProm {
        /// The prefix actix-web-prom calls the namespace (`None` or empty: no prefix).
        namespace: Option<String>,
    },
}

impl MetricsNaming {
    /// actix-web-prom compatible naming with `namespace` as prefix (empty: none).
    ///
    /// # Errors
    /// [`CoreError::InvalidConfig`] when `namespace` is not a Prometheus
    /// metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    pub fn actix_web_prom(namespace: &str) -> Result<Self, CoreError> {
        if namespace.is_empty() {
            return Ok(MetricsNaming::ActixWebProm { namespace: None });
        }
        if !is_metric_name(namespace) {
            return Err(CoreError::InvalidConfig(format!(
                "a metrics namespace must match [a-zA-Z_:][a-zA-Z0-9_:]*, got {namespace:?}"
            )));
        }
        Ok(MetricsNaming::ActixWebProm { namespace: Some(namespace.to_owned()) })
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

impl std::fmt::Debug for PerfConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let PerfConfig {
            enabled,
            memory_monitoring,
            profile,
            thresholds,
            cache_default_timeout,
            redis_url,
            api_token,
            read_token,
            alert_evaluation_interval,
            system_sample_interval,
            server_timing,
            capture_binds,
            query_plans,
            metrics_naming,
            store,
        } = self;
        f.debug_struct("PerfConfig")
            .field("enabled", enabled)
            .field("memory_monitoring", memory_monitoring)
            .field("profile", profile)
            .field("thresholds", thresholds)
            .field("cache_default_timeout", cache_default_timeout)
            .field("redis_url", &redis_url.as_deref().map(redact_url))
            .field("api_token", &api_token.as_ref().map(|_| REDACTED))
            .field("read_token", &read_token.as_ref().map(|_| REDACTED))
            .field("alert_evaluation_interval", alert_evaluation_interval)
            .field("system_sample_interval", system_sample_interval)
            .field("server_timing", server_timing)
            .field("capture_binds", capture_binds)
            .field("query_plans", query_plans)
            .field("metrics_naming", metrics_naming)
            .field("store", store)
            .finish()
    }
}

impl Default for PerfConfig {
    fn default() -> Self {
        PerfConfig {
            enabled: true,
            memory_monitoring: true,
            profile: Profile::Development,
            thresholds: Thresholds::DEVELOPMENT,
            cache_default_timeout: Duration::from_secs(300),
            redis_url: None,
            api_token: None,
            read_token: None,
            alert_evaluation_interval: Duration::from_secs(10),
            system_sample_interval: Duration::from_secs(5),
            server_timing: true,
            capture_binds: false,
            query_plans: None,
            metrics_naming: MetricsNaming::Perfkit,
            store: StoreConfig::default(),
        }
    }
}

impl PerfConfig {
    /// Whether slow SELECTs get their plan captured: `PERFORMANCE_QUERY_PLANS`
    /// when set, else on in the development profile and off in production.
    pub fn query_plans(&self) -> bool {
        self.query_plans.unwrap_or(self.profile == Profile::Development)
    }

    /// A builder starting from the defaults.
    pub fn builder() -> PerfConfigBuilder {
        PerfConfigBuilder { config: PerfConfig::default() }
    }

    /// Reads the process environment.
    ///
    /// # Errors
    /// [`CoreError::InvalidEnv`] naming the variable and its value when one
    /// cannot be parsed or is out of range; never a silent default. A bad
    /// `REDIS_URL` is shown through [`redact_url`], a bad token not at all.
    pub fn from_env() -> Result<Self, CoreError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (a variable name to its value),
    /// so tests need not touch the process environment.
    ///
    /// # Errors
    /// As [`PerfConfig::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, CoreError> {
        let mut c = PerfConfig::default();
        let get = |name: &'static str| lookup(name).map(|v| (name, v));
        if let Some((n, v)) = get("PERFORMANCE_PROFILE") {
            c.profile = match v.trim().to_ascii_lowercase().as_str() {
                "development" | "dev" => Profile::Development,
                "production" | "prod" => Profile::Production,
                _ => return Err(invalid(n, &v, "expected development or production")),
            };
            c.thresholds = c.profile.thresholds();
        }
        if let Some((n, v)) = get("PERFORMANCE_MONITORING_ENABLED") {
            c.enabled = parse_bool(n, &v)?;
        }
        if let Some((n, v)) = get("MEMORY_MONITORING_ENABLED") {
            c.memory_monitoring = parse_bool(n, &v)?;
        }
        if let Some((n, v)) = get("PERFORMANCE_SERVER_TIMING") {
            c.server_timing = parse_bool(n, &v)?;
        }
        if let Some((n, v)) = get("PERFORMANCE_CAPTURE_BINDS") {
            c.capture_binds = parse_bool(n, &v)?;
        }
        if let Some((n, v)) = get("PERFORMANCE_QUERY_PLANS") {
            c.query_plans = Some(parse_bool(n, &v)?);
        }
        let mut t = c.thresholds;
        threshold_var(&get, "SLOW_REQUEST_THRESHOLD", &mut t.slow_request_threshold)?;
        threshold_var(&get, "SLOW_QUERY_THRESHOLD", &mut t.slow_query_threshold)?;
        threshold_var(&get, "HIGH_MEMORY_THRESHOLD", &mut t.high_memory_threshold)?;
        threshold_var(&get, "ERROR_RATE_THRESHOLD", &mut t.error_rate_threshold)?;
        c.thresholds = t;
        if let Some((n, v)) = get("CACHE_DEFAULT_TIMEOUT") {
            c.cache_default_timeout = parse_secs(n, &v, 1, 30 * 24 * 3600)?;
        }
        if let Some((n, v)) = get("ALERT_EVALUATION_INTERVAL") {
            c.alert_evaluation_interval = parse_secs(n, &v, 1, 3600)?;
        }
        if let Some((n, v)) = get("SYSTEM_SAMPLE_INTERVAL") {
            c.system_sample_interval = parse_secs(n, &v, 1, 3600)?;
        }
        if let Some((n, v)) = get("REDIS_URL") {
            let trimmed = v.trim();
            if !trimmed.is_empty() {
                if !(trimmed.starts_with("redis://")
                    || trimmed.starts_with("rediss://")
                    || trimmed.starts_with("unix://"))
                {
                    return Err(invalid(n, &redact_url(&v), "expected a redis://, rediss:// or unix:// URL"));
                }
                c.redis_url = Some(trimmed.to_owned());
            }
        }
        if let Some((n, v)) = get("PERFORMANCE_HISTOGRAM_BUCKETS") {
            c.store.histogram_buckets = parse_buckets(n, &v)?;
        }
        let namespace = get("PERFORMANCE_METRICS_NAMESPACE");
        if let Some((n, v)) = &namespace
            && !v.trim().is_empty()
            && !is_metric_name(v.trim())
        {
            return Err(invalid(n, v, "expected a metric name prefix matching [a-zA-Z_:][a-zA-Z0-9_:]*"));
        }
        if let Some((n, v)) = get("PERFORMANCE_METRICS_NAMING") {
            c.metrics_naming = match v.trim().to_ascii_lowercase().as_str() {
                "perfkit" | "" => MetricsNaming::Perfkit,
                "actix-web-prom" | "actix_web_prom" => MetricsNaming::ActixWebProm {
                    namespace: namespace.map(|(_, ns)| ns.trim().to_owned()).filter(|ns| !ns.is_empty()),
                },
                _ => return Err(invalid(n, &v, "expected perfkit or actix-web-prom")),
            };
        }
        c.api_token = token_var(&get, "PERFORMANCE_API_TOKEN")?;
        c.read_token = token_var(&get, "PERFORMANCE_READ_TOKEN")?;
        if c.read_token.is_some() && c.read_token == c.api_token {
            return Err(invalid(
                "PERFORMANCE_READ_TOKEN",
                "<redacted>",
                "must differ from PERFORMANCE_API_TOKEN, or the read token would grant everything",
            ));
        }
        Ok(c)
    }
}

fn invalid(name: &'static str, value: &str, reason: &str) -> CoreError {
    CoreError::InvalidEnv { name, value: value.to_owned(), reason: reason.to_owned() }
}

fn parse_bool(name: &'static str, v: &str) -> Result<bool, CoreError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(name, v, "expected true or false")),
    }
}

fn parse_secs(name: &'static str, v: &str, min: u64, max: u64) -> Result<Duration, CoreError> {
    match v.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Duration::from_secs(n)),
        Ok(_) => Err(invalid(name, v, &format!("expected whole seconds in {min}..={max}"))),
        Err(_) => Err(invalid(name, v, "expected a whole number of seconds")),
    }
}

/// A token variable: unset or empty is no token; anything else must be at
/// least 8 characters without whitespace. The value never appears in errors.
fn token_var(
    get: &impl Fn(&'static str) -> Option<(&'static str, String)>,
    name: &'static str,
) -> Result<Option<String>, CoreError> {
    let Some((n, v)) = get(name) else { return Ok(None) };
    if v.is_empty() {
        return Ok(None);
    }
    if v.len() < 8 || v.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
        return Err(invalid(n, "<redacted>", "expected at least 8 characters without whitespace"));
    }
    Ok(Some(v))
}

fn threshold_var(
    get: &impl Fn(&'static str) -> Option<(&'static str, String)>,
    name: &'static str,
    slot: &mut f64,
) -> Result<(), CoreError> {
    let Some((n, v)) = get(name) else { return Ok(()) };
    let parsed: f64 = v.trim().parse().map_err(|_| invalid(n, &v, "expected a number"))?;
    let mut probe = Thresholds::DEVELOPMENT;
    match name {
        "SLOW_REQUEST_THRESHOLD" => probe.slow_request_threshold = parsed,
        "SLOW_QUERY_THRESHOLD" => probe.slow_query_threshold = parsed,
        "HIGH_MEMORY_THRESHOLD" => probe.high_memory_threshold = parsed,
        _ => probe.error_rate_threshold = parsed,
    }
    probe.validate().map_err(|e| invalid(n, &v, &e.to_string()))?;
    *slot = parsed;
    Ok(())
}

/// Builds a [`PerfConfig`] in code.
///
/// # Examples
/// ```
/// use perf_core::{PerfConfig, Profile};
/// let config = PerfConfig::builder()
///     .profile(Profile::Production)
///     .slow_request_threshold(0.25)
///     .build()
///     .unwrap();
/// assert_eq!(config.thresholds.slow_request_threshold, 0.25);
/// assert_eq!(config.thresholds.slow_query_threshold, 0.05);
/// ```
#[derive(Debug, Clone)]
pub struct PerfConfigBuilder {
    config: PerfConfig,
}

impl PerfConfigBuilder {
    /// Selects a profile and its thresholds (later threshold calls override them).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.config.profile = profile;
        self.config.thresholds = profile.thresholds();
        self
    }
    /// Turns monitoring on or off.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.config.enabled = enabled;
        self
    }
    /// Turns the system sampler on or off.
    pub fn memory_monitoring(mut self, on: bool) -> Self {
        self.config.memory_monitoring = on;
        self
    }
    /// Sets all thresholds.
    pub fn thresholds(mut self, thresholds: Thresholds) -> Self {
        self.config.thresholds = thresholds;
        self
    }
    /// Sets the slow-request threshold, seconds.
    pub fn slow_request_threshold(mut self, secs: f64) -> Self {
        self.config.thresholds.slow_request_threshold = secs;
        self
    }
    /// Sets the slow-query threshold, seconds.
    pub fn slow_query_threshold(mut self, secs: f64) -> Self {
        self.config.thresholds.slow_query_threshold = secs;
        self
    }
    /// Sets the memory threshold, MiB.
    pub fn high_memory_threshold(mut self, mb: f64) -> Self {
        self.config.thresholds.high_memory_threshold = mb;
        self
    }
    /// Sets the error-rate threshold, a fraction in (0, 1].
    pub fn error_rate_threshold(mut self, rate: f64) -> Self {
        self.config.thresholds.error_rate_threshold = rate;
        self
    }
    /// Sets the default cache TTL.
    pub fn cache_default_timeout(mut self, ttl: Duration) -> Self {
        self.config.cache_default_timeout = ttl;
        self
    }
    /// Sets the Redis URL.
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.config.redis_url = Some(url.into());
        self
    }
    /// Sets the API token.
    pub fn api_token(mut self, token: impl Into<String>) -> Self {
        self.config.api_token = Some(token.into());
        self
    }
    /// Sets the read-only token (`PERFORMANCE_READ_TOKEN`): reads only.
    pub fn read_token(mut self, token: impl Into<String>) -> Self {
        self.config.read_token = Some(token.into());
        self
    }
    /// Sets the alert evaluation interval.
    pub fn alert_evaluation_interval(mut self, every: Duration) -> Self {
        self.config.alert_evaluation_interval = every;
        self
    }
    /// Sets the system sampling interval.
    pub fn system_sample_interval(mut self, every: Duration) -> Self {
        self.config.system_sample_interval = every;
        self
    }
    /// Turns the `Server-Timing` header on or off.
    pub fn server_timing(mut self, on: bool) -> Self {
        self.config.server_timing = on;
        self
    }
    /// Keeps (or cuts, the default) bind values in recorded SQL text.
    pub fn capture_binds(mut self, on: bool) -> Self {
        self.config.capture_binds = on;
        self
    }
    /// Turns the capture of slow SELECTs' plans on or off (default: on in
    /// development, off in production).
    pub fn query_plans(mut self, on: bool) -> Self {
        self.config.query_plans = Some(on);
        self
    }
    /// Sets the `le` bounds of the request and query histograms (validated by
    /// [`PerfConfigBuilder::build`]).
    pub fn histogram_buckets(mut self, bounds: impl IntoIterator<Item = Duration>) -> Self {
        self.config.store.histogram_buckets = bounds.into_iter().collect();
        self
    }
    /// Sets how `/metrics` names the request families.
    pub fn metrics_naming(mut self, naming: MetricsNaming) -> Self {
        self.config.metrics_naming = naming;
        self
    }
    /// Sets the store sizing.
    pub fn store(mut self, store: StoreConfig) -> Self {
        self.config.store = store;
        self
    }

    /// Validates and returns the configuration.
    ///
    /// # Errors
    /// [`CoreError::InvalidThreshold`] or [`CoreError::InvalidConfig`]
    /// (also when the read token equals the API token).
    pub fn build(self) -> Result<PerfConfig, CoreError> {
        self.config.thresholds.validate()?;
        self.config.store.validate()?;
        if self.config.system_sample_interval.is_zero() || self.config.alert_evaluation_interval.is_zero() {
            return Err(CoreError::InvalidConfig("intervals must be positive".into()));
        }
        if self.config.read_token.is_some() && self.config.read_token == self.config.api_token {
            return Err(CoreError::InvalidConfig("the read token must differ from the API token".into()));
        }
        if let MetricsNaming::ActixWebProm { namespace: Some(ns) } = &self.config.metrics_naming {
            MetricsNaming::actix_web_prom(ns)?;
        }
        Ok(self.config)
    }
}
