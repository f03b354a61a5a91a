//! [`ResponseCache`]: a response-caching middleware for GET endpoints, built
//! on any [`CacheStore`].
//!
//! Rules:
//! - only GET and HEAD requests, and only `200 OK` responses with a body of
//!   known size up to the configured limit, are stored;
//! - the key is `namespace:METHOD path?sorted-query` plus the values of the
//!   configured `Vary` request headers, so `CacheStore::invalidate(namespace)`
//!   or a clear of `namespace:*` drops them;
//! - responses that set cookies, are marked `private` or `no-store`, or vary
//!   on a header the middleware was not told about (or on `*`) are never stored;
//! - every cacheable GET/HEAD answer carries `X-Cache: HIT` or `MISS`, and
//!   stored ones an `ETag`; a matching `If-None-Match` gets `304 Not
//!   Modified` (bypassed requests and responses that cannot be stored carry
//!   no ETag);
//! - a request with `Cache-Control: no-cache` skips the lookup (the fresh
//!   response is stored), one with `no-store` skips the cache entirely;
//! - a failing cache is treated as a miss: requests never fail because of it.
//!
//! Stored format (version 1): `b'R'`, `1`, the ETag (u16 length + bytes), the
//! header count (u16), each header as name and value (u16 length + bytes),
//! then the body.

use std::{
    future::{Ready, ready},
    rc::Rc,
    sync::Arc,
    time::Duration,
};

use actix_web::{
    Error, HttpResponse,
    body::{BodySize, EitherBody, MessageBody},
    dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready},
    http::{
        Method, StatusCode,
        header::{self, HeaderMap, HeaderName, HeaderValue},
    },
    web::Bytes,
};
use futures_util::future::LocalBoxFuture;
use perf_core::{CacheStore, MAX_KEY_BYTES};

/// The response header saying whether the cache answered.
pub const X_CACHE: &str = "x-cache";

/// The response-caching middleware factory (an actix [`Transform`]).
///
/// # Examples
/// ```
/// use std::{sync::Arc, time::Duration};
/// use actix_web::{App, web};
/// use perf_core::NoopCache;
/// use perf_http::ResponseCache;
/// let cache = ResponseCache::new(Arc::new(NoopCache)).namespace("dashboard").ttl(Duration::from_secs(30));
/// let _app = App::new().service(web::scope("/dashboard").wrap(cache).route("", web::get().to(|| async { "hi" })));
/// ```
#[derive(Clone)]
pub struct ResponseCache {
    settings: Arc<Settings>,
}

#[derive(Clone)]
struct Settings {
    store: Arc<dyn CacheStore>,
    ttl: Duration,
    namespace: String,
    vary: Vec<HeaderName>,
    max_body: usize,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("ttl", &self.settings.ttl)
            .field("namespace", &self.settings.namespace)
            .field("vary", &self.settings.vary)
            .field("max_body", &self.settings.max_body)
            .finish_non_exhaustive()
    }
}

impl ResponseCache {
    /// Caches in `store` for 60 s under the namespace `http`, bodies up to 1 MiB.
    pub fn new(store: Arc<dyn CacheStore>) -> Self {
        ResponseCache {
            settings: Arc::new(Settings {
                store,
                ttl: Duration::from_secs(60),
                namespace: "http".to_owned(),
                vary: Vec::new(),
                max_body: 1024 * 1024,
            }),
        }
    }

    /// How long a response stays fresh.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        Arc::make_mut(&mut self.settings).ttl = ttl;
        self
    }

    /// The key prefix (namespace) of stored responses.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.settings).namespace = namespace.into();
        self
    }

    /// Request headers whose values are part of the key (responses whose
    /// `Vary` names other headers are not stored).
    pub fn vary(mut self, header: HeaderName) -> Self {
        Arc::make_mut(&mut self.settings).vary.push(header);
        self
    }

    /// The largest body stored, in bytes.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        Arc::make_mut(&mut self.settings).max_body = limit;
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for ResponseCache
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = ResponseCacheMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ResponseCacheMiddleware { service: Rc::new(service), settings: self.settings.clone() }))
    }
}

/// The response-caching service, made by [`ResponseCache`].
pub struct ResponseCacheMiddleware<S> {
    service: Rc<S>,
    settings: Arc<Settings>,
}

impl<S> std::fmt::Debug for ResponseCacheMiddleware<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCacheMiddleware").finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for ResponseCacheMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let method = req.method().clone();
        let directives = request_directives(req.headers());
        if !(method == Method::GET || method == Method::HEAD) || directives.no_store {
            let fut = self.service.call(req);
            return Box::pin(async move { Ok(fut.await?.map_into_left_body()) });
        }
        let Some(key) = cache_key(&self.settings, &req) else {
            let fut = self.service.call(req);
            return Box::pin(async move { Ok(fut.await?.map_into_left_body()) });
        };
        let if_none_match = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let service = self.service.clone();
        let settings = self.settings.clone();
        Box::pin(async move {
            if !directives.no_cache
                && let Ok(Some(raw)) = settings.store.get(&key).await
                && let Some(entry) = Entry::decode(&raw)
            {
                let res = entry.respond(if_none_match.as_deref());
                return Ok(req.into_response(res).map_into_right_body());
            }
            let res = service.call(req).await?;
            if res.status() != StatusCode::OK || !storable(&settings, res.headers()) {
                let mut res = res;
                res.headers_mut().insert(HeaderName::from_static(X_CACHE), HeaderValue::from_static("MISS"));
                return Ok(res.map_into_left_body());
            }
            let fits = matches!(res.response().body().size(), BodySize::Sized(n) if n <= settings.max_body as u64);
            if !fits {
                let mut res = res;
                res.headers_mut().insert(HeaderName::from_static(X_CACHE), HeaderValue::from_static("MISS"));
                return Ok(res.map_into_left_body());
            }
            let (http_req, response) = res.into_parts();
            let (head, body) = response.into_parts();
            let body = actix_web::body::to_bytes(body).await.map_err(|e| {
                let e: Box<dyn std::error::Error> = e.into();
                actix_web::error::ErrorInternalServerError(e.to_string())
            })?;
            let entry = Entry::from_response(head.headers(), body);
            if let Err(e) = settings.store.set(&key, entry.encode().into(), settings.ttl).await {
                tracing::debug!(error = %e, key, "response cache write failed");
            }
            let mut res = entry.respond(if_none_match.as_deref());
            res.headers_mut().insert(HeaderName::from_static(X_CACHE), HeaderValue::from_static("MISS"));
            Ok(ServiceResponse::new(http_req, res).map_into_right_body())
        })
    }
}

struct RequestDirectives {
    no_cache: bool,
    no_store: bool,
}

fn request_directives(headers: &HeaderMap) -> RequestDirectives {
    let mut d = RequestDirectives { no_cache: false, no_store: false };
    for v in headers.get_all(header::CACHE_CONTROL).filter_map(|v| v.to_str().ok()) {
        for token in v.split(',').map(|t| t.trim().to_ascii_lowercase()) {
            match token.as_str() {
                "no-cache" => d.no_cache = true,
                "no-store" => d.no_store = true,
                _ => {}
            }
        }
    }
    if headers.get(header::PRAGMA).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("no-cache")) {
        d.no_cache = true;
    }
    d
}

/// `namespace:METHOD path?sorted-query` plus `|name=<len>:value` per Vary
/// header; `None` when the key would be too long. Query pairs are sorted by
/// name with a stable sort, so repeated names keep their order (`a=1&a=2`
/// and `a=2&a=1` stay different keys); header values are length-prefixed so
/// no value can imitate the next header.
fn cache_key(settings: &Settings, req: &ServiceRequest) -> Option<String> {
    let mut pairs: Vec<&str> = req.query_string().split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort_by(|a, b| a.split('=').next().cmp(&b.split('=').next()));
    let mut key = format!("{}:{} {}", settings.namespace, req.method().as_str(), req.path());
    if !pairs.is_empty() {
        key.push('?');
        key.push_str(&pairs.join("&"));
    }
    for name in &settings.vary {
        key.push('|');
        key.push_str(name.as_str());
        key.push('=');
        let values: Vec<&[u8]> = req.headers().get_all(name).map(HeaderValue::as_bytes).collect();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                key.push(',');
            }
            let v = String::from_utf8_lossy(v);
            key.push_str(&v.len().to_string());
            key.push(':');
            key.push_str(&v);
        }
    }
    // A key longer than the caches take is not cached.
    (key.len() <= MAX_KEY_BYTES).then_some(key)
}

/// Whether a 200 response may be stored.
fn storable(settings: &Settings, headers: &HeaderMap) -> bool {
    if headers.contains_key(header::SET_COOKIE) {
        return false;
    }
    for v in headers.get_all(header::CACHE_CONTROL) {
        let Ok(v) = v.to_str() else { return false };
        for token in v.split(',').map(|t| t.trim().to_ascii_lowercase()) {
            if token == "private" || token == "no-store" || token.starts_with("private=") {
                return false;
            }
        }
    }
    for v in headers.get_all(header::VARY) {
        let Ok(v) = v.to_str() else { return false };
        for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "*" || !settings.vary.iter().any(|h| h.as_str().eq_ignore_ascii_case(name)) {
                return false;
            }
        }
    }
    true
}

/// Headers never replayed from the cache.
fn replayable(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "set-cookie"
            | "date"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "content-length"
            | "etag"
            | "server-timing"
            | "x-cache"
            | "age"
    )
}

/// A stored response.
struct Entry {
    etag: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl Entry {
    fn from_response(headers: &HeaderMap, body: Bytes) -> Self {
        let etag = headers
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| format!("\"{:016x}\"", fnv1a(&body)), str::to_owned);
        let headers = headers.iter().filter(|(n, _)| replayable(n)).map(|(n, v)| (n.clone(), v.clone())).collect();
        Entry { etag, headers, body }
    }

    fn respond(&self, if_none_match: Option<&str>) -> HttpResponse {
        let fresh = if_none_match.is_some_and(|inm| etag_matches(inm, &self.etag));
        let mut res = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
        for (n, v) in &self.headers {
            res.append_header((n.clone(), v.clone()));
        }
        res.insert_header((header::ETAG, self.etag.as_str()));
        res.insert_header((HeaderName::from_static(X_CACHE), "HIT"));
        if fresh { res.finish() } else { res.body(self.body.clone()) }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.body.len());
        out.extend_from_slice(&[b'R', 1]);
        put(&mut out, self.etag.as_bytes());
        out.extend_from_slice(&(self.headers.len().min(usize::from(u16::MAX)) as u16).to_le_bytes());
        for (n, v) in self.headers.iter().take(usize::from(u16::MAX)) {
            put(&mut out, n.as_str().as_bytes());
            put(&mut out, v.as_bytes());
        }
        out.extend_from_slice(&self.body);
        out
    }

    fn decode(raw: &[u8]) -> Option<Entry> {
        let rest = raw.strip_prefix(&[b'R', 1])?;
        let (etag, mut rest) = take(rest)?;
        let etag = std::str::from_utf8(etag).ok()?.to_owned();
        let (count, tail) = rest.split_first_chunk::<2>()?;
        rest = tail;
        let mut headers = Vec::with_capacity(usize::from(u16::from_le_bytes(*count)));
        for _ in 0..u16::from_le_bytes(*count) {
            let (name, tail) = take(rest)?;
            let (value, tail) = take(tail)?;
            rest = tail;
            headers.push((HeaderName::from_bytes(name).ok()?, HeaderValue::from_bytes(value).ok()?));
        }
        Some(Entry { etag, headers, body: Bytes::copy_from_slice(rest) })
    }
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&bytes[..len]);
}

fn take(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = raw.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_le_bytes(*len));
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// Weak comparison of an `If-None-Match` list with an entity tag.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let etag = bare(etag);
    if_none_match.split(',').any(|t| t.trim() == "*" || bare(t) == etag)
}

/// FNV-1a, 64 bit: a stable hash of the body for the ETag.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests;
