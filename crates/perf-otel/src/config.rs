//! [`OtelConfig`]: the exporter's settings, read from the standard `OTEL_*`
//! variables through a lookup function so tests need not touch the
//! process environment.

use std::{fmt, time::Duration};

use crate::OtelError;

/// The protocol the exporter speaks; the only value the protocol variables accept.
pub const PROTOCOL_HTTP_PROTOBUF: &str = "http/protobuf";

/// The longest [`OtelConfig::timeout`] and [`OtelConfig::interval`]: a day.
/// The variables refuse more; a longer value set in code is shortened to it.
pub const MAX_DURATION: Duration = Duration::from_secs(86_400);

/// The path appended to `OTEL_EXPORTER_OTLP_ENDPOINT` (never to the
/// metrics-specific endpoint, which is used as given).
pub const METRICS_PATH: &str = "/v1/metrics";

/// The path appended to `OTEL_EXPORTER_OTLP_ENDPOINT` for spans (never to
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, which is used as given).
pub const TRACES_PATH: &str = "/v1/traces";

/// The most spans [`OtelConfig::span_queue`] and [`OtelConfig::span_batch`]
/// accept (`OTEL_BSP_MAX_QUEUE_SIZE` refuses more; a larger value set in
/// code is lowered to it).
pub const MAX_SPAN_QUEUE: usize = 1 << 20;

/// How the exporter sends perfkit's totals to an OTLP receiver.
///
/// Built by [`OtelConfig::from_env`] / [`OtelConfig::from_lookup`] or from
/// [`OtelConfig::default`] by setting fields. [`OtelConfig::is_enabled`]
/// says whether an exporter should run at all.
///
/// `Debug` shows the endpoint through [`perf_core::redact_url`] and header
/// names without their values (they often carry API keys).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct OtelConfig {
    /// `OTEL_SDK_DISABLED=true`: no export, whatever else is set.
    pub disabled: bool,
    /// The full URL metrics are posted to (`…/v1/metrics`); `None` when
    /// neither endpoint variable is set, which leaves the exporter off.
    pub endpoint: Option<String>,
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`, then
    /// `OTEL_EXPORTER_OTLP_METRICS_HEADERS` overriding the same names).
    pub headers: Vec<(String, String)>,
    /// The limit of one export request, connect to response
    /// (`OTEL_EXPORTER_OTLP_TIMEOUT`, ms; default 10 s). Shutdown is bounded by it too.
    /// The exporter keeps it (like `interval`) between 1 ms and [`MAX_DURATION`].
    pub timeout: Duration,
    /// Time between exports (`OTEL_METRIC_EXPORT_INTERVAL`, ms; default 60 s).
    pub interval: Duration,
    /// Resource attributes: `OTEL_RESOURCE_ATTRIBUTES`, with `service.name`
    /// from `OTEL_SERVICE_NAME` when set (default `unknown_service:<executable>`).
    /// The `telemetry.sdk.*` attributes are added at export and name perfkit.
    pub resource: Vec<(String, String)>,
    /// The `db.system.name` of the exported queries (`"postgresql"`,
    /// `"sqlite"`); no variable sets it, since perfkit's totals do not say
    /// which backend ran a query. `None` leaves the attribute out.
    pub db_system_name: Option<String>,
    /// The full URL spans are posted to (`…/v1/traces`):
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` with [`TRACES_PATH`]; `None` when
    /// neither is set or `OTEL_TRACES_EXPORTER` is `none`, which leaves the
    /// span pipeline off.
    pub traces_endpoint: Option<String>,
    /// Headers of span exports: `OTEL_EXPORTER_OTLP_HEADERS`, then
    /// `OTEL_EXPORTER_OTLP_TRACES_HEADERS` overriding the same names.
    pub traces_headers: Vec<(String, String)>,
    /// The most spans waiting for export (`OTEL_BSP_MAX_QUEUE_SIZE`, default
    /// 2048); a span past it is dropped and counted, never waited for.
    pub span_queue: usize,
    /// The most spans in one export request (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`,
    /// default 512, at most the queue size).
    pub span_batch: usize,
    /// The longest a span waits before its batch is sent
    /// (`OTEL_BSP_SCHEDULE_DELAY`, ms; default 5 s); a full batch goes at once.
    pub span_delay: Duration,
}

impl Default for OtelConfig {
    fn default() -> Self {
        OtelConfig {
            disabled: false,
            endpoint: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            interval: Duration::from_secs(60),
            resource: vec![("service.name".to_owned(), default_service_name())],
            db_system_name: None,
            traces_endpoint: None,
            traces_headers: Vec::new(),
            span_queue: 2048,
            span_batch: 512,
            span_delay: Duration::from_secs(5),
        }
    }
}

impl fmt::Debug for OtelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<String> = self.headers.iter().map(|(name, _)| format!("{name}: ***")).collect();
        let traces_headers: Vec<String> = self.traces_headers.iter().map(|(name, _)| format!("{name}: ***")).collect();
        f.debug_struct("OtelConfig")
            .field("disabled", &self.disabled)
            .field("endpoint", &self.endpoint.as_deref().map(perf_core::redact_url))
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("interval", &self.interval)
            .field("resource", &self.resource)
            .field("db_system_name", &self.db_system_name)
            .field("traces_endpoint", &self.traces_endpoint.as_deref().map(perf_core::redact_url))
            .field("traces_headers", &traces_headers)
            .field("span_queue", &self.span_queue)
            .field("span_batch", &self.span_batch)
            .field("span_delay", &self.span_delay)
            .finish()
    }
}

impl OtelConfig {
    /// Reads the process environment; see [`OtelConfig::from_lookup`].
    ///
    /// # Errors
    /// As [`OtelConfig::from_lookup`].
    pub fn from_env() -> Result<OtelConfig, OtelError> {
        OtelConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the standard variables through `lookup` (a name to its value).
    /// Empty values count as unset.
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `OTEL_SDK_DISABLED` | `true` turns export off (any other value leaves it on, as the specification says) |
    /// | `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` | the metrics URL, used as given |
    /// | `OTEL_EXPORTER_OTLP_ENDPOINT` | the base URL; [`METRICS_PATH`] is appended |
    /// | `OTEL_EXPORTER_OTLP_PROTOCOL`, `…_METRICS_PROTOCOL` | must be `http/protobuf` |
    /// | `OTEL_EXPORTER_OTLP_HEADERS`, `…_METRICS_HEADERS` | `name=value,…`, values percent-decoded |
    /// | `OTEL_EXPORTER_OTLP_TIMEOUT`, `…_METRICS_TIMEOUT` | milliseconds, 1 to [`MAX_DURATION`] |
    /// | `OTEL_METRIC_EXPORT_INTERVAL` | milliseconds, 1 to [`MAX_DURATION`] |
    /// | `OTEL_TRACES_EXPORTER` | `none` turns span export off (`otlp`, the default, leaves it on) |
    /// | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | the spans URL, used as given |
    /// | `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` | must be `http/protobuf` |
    /// | `OTEL_EXPORTER_OTLP_TRACES_HEADERS` | as the metrics headers, for span exports |
    /// | `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` | spans, 1 to [`MAX_SPAN_QUEUE`] |
    /// | `OTEL_BSP_SCHEDULE_DELAY` | milliseconds, 1 to [`MAX_DURATION`] |
    /// | `OTEL_SERVICE_NAME` | the `service.name` resource attribute |
    /// | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,…`, values percent-decoded |
    ///
    /// Without an endpoint the configuration is valid and
    /// [`is_enabled`](OtelConfig::is_enabled) is false: perfkit sends
    /// nothing until told where (the specification's `localhost:4318`
    /// default would have every service with the feature compiled in post
    /// to a port nobody listens on).
    ///
    /// # Errors
    /// [`OtelError::UnsupportedProtocol`] for any protocol but
    /// `http/protobuf` (no silent fall-back), [`OtelError::UnsupportedEndpoint`]
    /// for an `https://` endpoint, [`OtelError::InvalidVariable`] for a
    /// malformed URL, header list, attribute list or number.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<OtelConfig, OtelError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut c = OtelConfig {
            disabled: get("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            ..OtelConfig::default()
        };

        for name in
            ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"]
        {
            if let Some(v) = get(name)
                && v.trim() != PROTOCOL_HTTP_PROTOBUF
            {
                return Err(OtelError::UnsupportedProtocol(v));
            }
        }

        c.endpoint = match (get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"), get("OTEL_EXPORTER_OTLP_ENDPOINT")) {
            (Some(url), _) => Some(check_endpoint("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", url.trim())?),
            (None, Some(base)) => {
                let base = check_endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", base.trim())?;
                Some(format!("{}{METRICS_PATH}", base.trim_end_matches('/')))
            }
            (None, None) => None,
        };
        let traces_off = get("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim().eq_ignore_ascii_case("none"));
        c.traces_endpoint = match (get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), get("OTEL_EXPORTER_OTLP_ENDPOINT")) {
            _ if traces_off => None,
            (Some(url), _) => Some(check_endpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url.trim())?),
            (None, Some(base)) => {
                let base = check_endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", base.trim())?;
                Some(format!("{}{TRACES_PATH}", base.trim_end_matches('/')))
            }
            (None, None) => None,
        };

        for (name, signal) in [
            ("OTEL_EXPORTER_OTLP_HEADERS", None),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", Some(false)),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", Some(true)),
        ] {
            if let Some(v) = get(name) {
                for (key, value) in parse_pairs(name, &v, true)? {
                    check_header(name, &key, &value)?;
                    for (headers, traces) in [(&mut c.headers, false), (&mut c.traces_headers, true)] {
                        if signal.is_none_or(|s| s == traces) {
                            headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
                            headers.push((key.clone(), value.clone()));
                        }
                    }
                }
            }
        }

        if let Some(v) = get("OTEL_BSP_MAX_QUEUE_SIZE") {
            c.span_queue = spans("OTEL_BSP_MAX_QUEUE_SIZE", &v)?;
        }
        if let Some(v) = get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") {
            c.span_batch = spans("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &v)?;
        }
        c.span_batch = c.span_batch.min(c.span_queue);
        if let Some(v) = get("OTEL_BSP_SCHEDULE_DELAY") {
            c.span_delay = millis("OTEL_BSP_SCHEDULE_DELAY", &v)?;
        }

        for name in ["OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"] {
            if let Some(v) = get(name) {
                c.timeout = millis(name, &v)?;
            }
        }
        if let Some(v) = get("OTEL_METRIC_EXPORT_INTERVAL") {
            c.interval = millis("OTEL_METRIC_EXPORT_INTERVAL", &v)?;
        }

        if let Some(v) = get("OTEL_RESOURCE_ATTRIBUTES") {
            for (key, value) in parse_pairs("OTEL_RESOURCE_ATTRIBUTES", &v, false)? {
                set_attribute(&mut c.resource, key, value);
            }
        }
        if let Some(v) = get("OTEL_SERVICE_NAME") {
            set_attribute(&mut c.resource, "service.name".to_owned(), v.trim().to_owned());
        }
        Ok(c)
    }

    /// Whether an exporter should run: not disabled and an endpoint set.
    pub fn is_enabled(&self) -> bool {
        !self.disabled && self.endpoint.is_some()
    }

    /// Whether spans should be exported: not disabled and a traces endpoint
    /// set (which `OTEL_TRACES_EXPORTER=none` clears).
    pub fn traces_enabled(&self) -> bool {
        !self.disabled && self.traces_endpoint.is_some()
    }

    /// The `service.name` resource attribute.
    pub fn service_name(&self) -> &str {
        self.resource.iter().find(|(k, _)| k == "service.name").map_or("unknown_service", |(_, v)| v.as_str())
    }
}

/// `unknown_service:<executable name>`, as the specification suggests.
fn default_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map_or_else(|| "unknown_service".to_owned(), |exe| format!("unknown_service:{exe}"))
}

fn set_attribute(resource: &mut Vec<(String, String)>, key: String, value: String) {
    match resource.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => resource.push((key, value)),
    }
}

/// The endpoint if it is a plain `http://` URL with a host.
fn check_endpoint(name: &'static str, url: &str) -> Result<String, OtelError> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(OtelError::UnsupportedEndpoint(perf_core::redact_url(url)));
    }
    let Some(rest) = lower.strip_prefix("http://") else {
        return Err(invalid(name, perf_core::redact_url(url), "expected an http:// URL"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(invalid(name, perf_core::redact_url(url), "the URL has no host"));
    }
    if url.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
        return Err(invalid(name, perf_core::redact_url(url), "the URL holds whitespace"));
    }
    Ok(url.to_owned())
}

fn millis(name: &'static str, value: &str) -> Result<Duration, OtelError> {
    match value.trim().parse::<u64>() {
        Ok(0) => Err(invalid(name, value.to_owned(), "must be at least 1 ms")),
        Ok(ms) if Duration::from_millis(ms) > MAX_DURATION => {
            Err(invalid(name, value.to_owned(), "must be at most 86400000 ms (a day)"))
        }
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(_) => Err(invalid(name, value.to_owned(), "expected whole milliseconds")),
    }
}

fn spans(name: &'static str, value: &str) -> Result<usize, OtelError> {
    match value.trim().parse::<usize>() {
        Ok(n @ 1..=MAX_SPAN_QUEUE) => Ok(n),
        Ok(_) => Err(invalid(name, value.to_owned(), "must be 1 to 1048576 spans")),
        Err(_) => Err(invalid(name, value.to_owned(), "expected a whole number of spans")),
    }
}

/// `key=value` pairs separated by commas, keys trimmed, values trimmed and
/// percent-decoded. `secret` hides the value in errors.
fn parse_pairs(name: &'static str, list: &str, secret: bool) -> Result<Vec<(String, String)>, OtelError> {
    let shown = |s: &str| if secret { "***".to_owned() } else { s.to_owned() };
    let mut pairs = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(invalid(name, shown(item), "expected key=value"));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(invalid(name, shown(item), "empty key"));
        }
        let Some(value) = percent_decode(value.trim()) else {
            return Err(invalid(name, shown(item), "bad percent-encoding"));
        };
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

/// A header name must be an HTTP token and its value free of control characters.
fn check_header(name: &'static str, key: &str, value: &str) -> Result<(), OtelError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !key.bytes().all(token) {
        return Err(invalid(name, key.to_owned(), "header name is not an HTTP token"));
    }
    if value.chars().any(|ch| ch.is_control()) {
        return Err(invalid(name, format!("{key}=***"), "header value holds a control character"));
    }
    Ok(())
}

/// Decodes `%XX` escapes; `None` for a broken escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn invalid(name: &'static str, value: String, reason: &'static str) -> OtelError {
    OtelError::InvalidVariable { name, value, reason }
}

#[cfg(test)]
mod tests;
