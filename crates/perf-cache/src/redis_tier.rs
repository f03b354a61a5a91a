//! [`RedisCache`]: the Redis tier on a redis-rs `ConnectionManager`.
//!
//! # Layout in Redis
//!
//! Everything lives under the configured prefix (default `perfkit:`):
//! entries at `<prefix>k:<key>`, namespace generations at `<prefix>n:<ns>`.
//! Clears only ever SCAN (never `KEYS`) for `<prefix>k:<pattern>` and
//! UNLINK what they find, so keys outside the prefix are never touched.
//!
//! # Value format
//!
//! A stored value is an envelope around the caller's bytes: a tag byte
//! (`1` for a key without namespace, `2` with one), for tag `2` the
//! namespace generation in ASCII followed by `|`, then the absolute expiry
//! (Unix milliseconds, 8 bytes little endian) and the payload. The typed API
//! ([`crate::TypedCache`]) encodes payloads with postcard, a compact,
//! non-self-describing serde format. A namespaced value is written by a
//! short Lua script that reads the namespace's current generation
//! atomically; a read fetches the value and the generation with one `MGET`
//! and treats an older generation as a miss. Invalidating a namespace is one
//! `INCR`.
//!
//! # Timeouts
//!
//! Every operation is bounded by `op_timeout` (default 50 ms). The
//! connection is made lazily, so building a `RedisCache` with Redis down
//! succeeds and operations fail fast until it is back.
//!
//! # Failures
//!
//! A failed call is either *unreachable* (I/O error, refused or dropped
//! connection, timeout) or a *command error* (Redis answered with an error
//! reply such as `OOM`, `READONLY`, `NOAUTH` or `WRONGTYPE`; see
//! [`CacheError::is_unreachable`] and [`CacheError::command_error_kind`]).
//! Both are counted in the stats; command errors per cause with their latest
//! message, and each cause is logged (`WARN`, "redis refused a command") at
//! most once a minute, with the number of failures not logged since.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use perf_core::{
    BoxFuture, BreakerState, CacheAdmin, CacheEvent, CacheEventKind, CacheKey, CacheStats, CacheStore, CacheStoreError,
    CacheTier, Clock, Invalidator, KeyPattern, Namespace, Recorder, RemoteTierStatus, RequestScope, ServingTier,
    SystemClock, TierStats, Timestamp, escape_glob,
};
use redis::{
    AsyncCommands, Client, RedisResult,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

use crate::{
    CacheError,
    counters::TierCounters,
    error::chain,
    failures::{FailureLog, FailureSnapshot},
    memory::hit_rate,
    ttl::ttl_ms,
};

const TAG_PLAIN: u8 = 1;
const TAG_NAMESPACED: u8 = 2;
const SCAN_BATCH: usize = 500;
const SET_NAMESPACED: &str = "local g = redis.call('GET', KEYS[2]) or '0' \
     return redis.call('SET', KEYS[1], ARGV[1] .. g .. '|' .. ARGV[2], 'PX', ARGV[3])";

/// Settings of a [`RedisCache`]. Its `Debug` output shows the URL through
/// [`perf_core::redact_url`], so no password is printed.
#[derive(Clone)]
pub struct RedisConfig {
    /// The server, e.g. `redis://127.0.0.1:6379/`.
    pub url: String,
    /// Prefix of every key this cache reads or writes (default `perfkit:`).
    pub prefix: String,
    /// Upper bound on each operation, connection included (default 50 ms).
    pub op_timeout: Duration,
    /// Pub/sub channel for cross-instance invalidations (default
    /// `<prefix>invalidations`); used by [`crate::TieredCache`].
    pub channel: Option<String>,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let RedisConfig { url, prefix, op_timeout, channel } = self;
        f.debug_struct("RedisConfig")
            .field("url", &perf_core::redact_url(url))
            .field("prefix", prefix)
            .field("op_timeout", op_timeout)
            .field("channel", channel)
            .finish()
    }
}

impl RedisConfig {
    /// The defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig { url: url.into(), prefix: "perfkit:".into(), op_timeout: Duration::from_millis(50), channel: None }
    }

    /// Sets the key prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the per-operation timeout.
    pub fn op_timeout(mut self, timeout: Duration) -> Self {
        self.op_timeout = timeout;
        self
    }

    /// The invalidation channel's name.
    pub fn channel_name(&self) -> String {
        self.channel.clone().unwrap_or_else(|| format!("{}invalidations", self.prefix))
    }
}

/// The Redis cache tier. Cloning is cheap; clones share one connection.
///
/// Used alone it returns Redis failures as errors; wrapped in a
/// [`crate::TieredCache`] failures fall back to memory instead.
#[derive(Clone)]
pub struct RedisCache {
    inner: Arc<RedisInner>,
}

struct RedisInner {
    client: Client,
    conn: ConnectionManager,
    config: RedisConfig,
    counters: TierCounters,
    recorder: Option<Arc<dyn Recorder>>,
    clock: Arc<dyn Clock>,
    failures: FailureLog,
    /// When Redis last answered anything (a reply or an error reply), Unix
    /// microseconds.
    last_answer_us: AtomicU64,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// A value read from Redis, with its absolute expiry.
pub(crate) struct Fetched {
    pub(crate) value: Arc<[u8]>,
    pub(crate) expires_ms: u64,
}

impl RedisCache {
    /// A cache on `config.url`; connects on first use.
    ///
    /// # Errors
    /// [`CacheError::Redis`] for a malformed URL, [`CacheError::InvalidConfig`]
    /// for a zero timeout.
    pub fn new(config: RedisConfig) -> Result<RedisCache, CacheError> {
        RedisCache::with_recorder(config, None)
    }

    /// Like [`new`](Self::new), reporting lookups to `recorder`.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_recorder(config: RedisConfig, recorder: Option<Arc<dyn Recorder>>) -> Result<RedisCache, CacheError> {
        if config.op_timeout.is_zero() {
            return Err(CacheError::InvalidConfig("op_timeout must be positive".into()));
        }
        let client = Client::open(config.url.as_str()).map_err(|source| CacheError::Redis { op: "open", source })?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.op_timeout.max(Duration::from_millis(200))))
            .set_response_timeout(Some(config.op_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(500));
        let conn = client
            .get_connection_manager_lazy(manager_config)
            .map_err(|source| CacheError::Redis { op: "connect", source })?;
        Ok(RedisCache {
            inner: Arc::new(RedisInner {
                client,
                conn,
                config,
                counters: TierCounters::default(),
                recorder,
                clock: Arc::new(SystemClock),
                failures: FailureLog::default(),
                last_answer_us: AtomicU64::new(0),
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }

    fn entry_key(&self, key: &str) -> String {
        format!("{}k:{key}", self.inner.config.prefix)
    }

    fn ns_key(&self, ns: Namespace<'_>) -> String {
        format!("{}n:{}", self.inner.config.prefix, ns.as_str())
    }

    async fn run<T>(&self, op: &'static str, fut: impl Future<Output = RedisResult<T>>) -> Result<T, CacheError> {
        let after = self.inner.config.op_timeout;
        let e = match tokio::time::timeout(after, fut).await {
            Ok(Ok(v)) => {
                self.answered();
                return Ok(v);
            }
            Ok(Err(source)) => CacheError::Redis { op, source },
            Err(_) => CacheError::Timeout { op, after },
        };
        self.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
        self.note_failure(op, &e, true);
        Err(e)
    }

    /// Sends `PING`. A health check rather than a cache operation: an
    /// unreachable Redis is noted as the latest cause but not counted as a
    /// failed operation; an error reply (e.g. `NOAUTH`) is counted like any
    /// command error.
    ///
    /// # Errors
    /// [`CacheError::Redis`] or [`CacheError::Timeout`].
    pub async fn ping(&self) -> Result<(), CacheError> {
        let mut conn = self.inner.conn.clone();
        let after = self.inner.config.op_timeout;
        let e = match tokio::time::timeout(after, redis::cmd("PING").query_async::<String>(&mut conn)).await {
            Ok(Ok(_)) => {
                self.answered();
                return Ok(());
            }
            Ok(Err(source)) => CacheError::Redis { op: "ping", source },
            Err(_) => CacheError::Timeout { op: "ping", after },
        };
        self.note_failure("ping", &e, false);
        Err(e)
    }

    fn answered(&self) {
        self.inner.last_answer_us.fetch_max(self.inner.clock.now().as_unix_micros(), Ordering::Relaxed);
    }

    /// When Redis last answered (a reply or an error reply); the epoch if
    /// it never did.
    pub(crate) fn last_answer(&self) -> Timestamp {
        Timestamp::from_unix_micros(self.inner.last_answer_us.load(Ordering::Relaxed))
    }

    /// The tier's clock.
    pub(crate) fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Classifies and records a failure; warns about a command error when
    /// its cause's rate limit allows. `counted`: an operation, not a probe.
    fn note_failure(&self, op: &'static str, e: &CacheError, counted: bool) {
        let now = self.inner.clock.now();
        let message = chain(e);
        match e.command_error_kind() {
            Some(kind) => {
                // Redis answered, so it is reachable.
                self.answered();
                if let Some(suppressed) = self.inner.failures.command(kind, message.clone(), now) {
                    tracing::warn!(
                        prefix = %self.inner.config.prefix,
                        op,
                        cause = kind,
                        suppressed,
                        error = %message,
                        "redis refused a command"
                    );
                }
            }
            None => {
                tracing::debug!(prefix = %self.inner.config.prefix, op, error = %message, "redis unreachable");
                self.inner.failures.unreachable(message, now, counted);
            }
        }
    }

    pub(crate) fn failures(&self) -> FailureSnapshot {
        self.inner.failures.snapshot()
    }

    /// This tier's status as a [`RemoteTierStatus`], with the breaker's view
    /// supplied by the caller.
    pub(crate) fn status(&self, reachable: bool, breaker: BreakerState, breaker_openings: u64) -> RemoteTierStatus {
        let failures = self.failures();
        RemoteTierStatus {
            reachable,
            breaker,
            breaker_openings,
            unreachable_errors: failures.unreachable,
            last_unreachable: failures.last_unreachable,
            command_errors: failures.command_errors,
            stats: self.tier_stats(),
        }
    }

    /// The value under `key`, if present and not invalidated; counts and
    /// reports the lookup.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`], [`CacheError::Redis`], [`CacheError::Timeout`].
    pub async fn fetch(&self, key: &str) -> Result<Option<Arc<[u8]>>, CacheError> {
        let result = match CacheKey::parse(key) {
            Ok(key) => self.fetch_raw(key).await,
            Err(e) => Err(e.into()),
        };
        let kind = match &result {
            Ok(Some(_)) => CacheEventKind::Hit,
            Ok(None) => CacheEventKind::Miss,
            Err(_) => CacheEventKind::Error,
        };
        if kind != CacheEventKind::Error {
            RequestScope::with_current(|s| s.map(|s| s.record_cache(kind == CacheEventKind::Hit)));
        }
        self.report(kind);
        Ok(result?.map(|f| f.value))
    }

    pub(crate) async fn fetch_raw(&self, key: CacheKey<'_>) -> Result<Option<Fetched>, CacheError> {
        let mut conn = self.inner.conn.clone();
        let entry_key = self.entry_key(key.as_str());
        let found = match key.namespace() {
            Some(ns) => {
                let ns_key = self.ns_key(ns);
                let (raw, generation): (Option<Vec<u8>>, Option<u64>) =
                    self.run("get", redis::cmd("MGET").arg(&entry_key).arg(&ns_key).query_async(&mut conn)).await?;
                raw.map(|raw| decode(&raw, Some(generation.unwrap_or(0)))).transpose()?.flatten()
            }
            None => {
                let raw: Option<Vec<u8>> = self.run("get", conn.get(&entry_key)).await?;
                raw.map(|raw| decode(&raw, None)).transpose()?.flatten()
            }
        };
        let counter = if found.is_some() { &self.inner.counters.hits } else { &self.inner.counters.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(found)
    }

    /// Stores `value` under `key` with expiry `ttl` (at least 1 ms).
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`], [`CacheError::Redis`], [`CacheError::Timeout`].
    pub async fn store(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
        let result = match CacheKey::parse(key) {
            Ok(key) => self.store_raw(key, value, ttl).await,
            Err(e) => Err(e.into()),
        };
        self.report(if result.is_ok() { CacheEventKind::Set } else { CacheEventKind::Error });
        result
    }

    pub(crate) async fn store_raw(&self, key: CacheKey<'_>, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
        let ttl_ms = ttl_ms(ttl);
        let expires_ms = (self.inner.clock.now().as_unix_micros() / 1000).saturating_add(ttl_ms);
        let mut conn = self.inner.conn.clone();
        let entry_key = self.entry_key(key.as_str());
        let mut body = Vec::with_capacity(value.len() + 8);
        body.extend_from_slice(&expires_ms.to_le_bytes());
        body.extend_from_slice(value);
        match key.namespace() {
            Some(ns) => {
                let cmd = redis::cmd("EVAL")
                    .arg(SET_NAMESPACED)
                    .arg(2)
                    .arg(&entry_key)
                    .arg(self.ns_key(ns))
                    .arg(&[TAG_NAMESPACED][..])
                    .arg(body)
                    .arg(ttl_ms)
                    .to_owned();
                let _: () = self.run("set", cmd.query_async(&mut conn)).await?;
            }
            None => {
                let mut plain = Vec::with_capacity(body.len() + 1);
                plain.push(TAG_PLAIN);
                plain.extend_from_slice(&body);
                let _: () = self.run("set", conn.pset_ex(&entry_key, plain, ttl_ms)).await?;
            }
        }
        self.inner.counters.sets.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Removes `key`; true if it existed.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`], [`CacheError::Redis`], [`CacheError::Timeout`].
    pub async fn remove(&self, key: &str) -> Result<bool, CacheError> {
        CacheKey::parse(key)?;
        let mut conn = self.inner.conn.clone();
        let n: u64 = self.run("delete", conn.unlink(self.entry_key(key))).await?;
        self.inner.counters.deletes.fetch_add(1, Ordering::Relaxed);
        self.report(CacheEventKind::Delete);
        Ok(n > 0)
    }

    /// Bumps the generation of `namespace` (one `INCR`).
    ///
    /// # Errors
    /// [`CacheError::InvalidNamespace`], [`CacheError::Redis`], [`CacheError::Timeout`].
    pub async fn bump_namespace(&self, namespace: &str) -> Result<(), CacheError> {
        self.bump_parsed(Namespace::parse(namespace)?).await
    }

    /// Like [`bump_namespace`](Self::bump_namespace) with a name parsed by
    /// the caller.
    pub(crate) async fn bump_parsed(&self, namespace: Namespace<'_>) -> Result<(), CacheError> {
        self.incr_generation(self.ns_key(namespace)).await
    }

    /// Increments the generation stored under `ns_key` (a [`Self::ns_key`]).
    async fn incr_generation(&self, ns_key: String) -> Result<(), CacheError> {
        let mut conn = self.inner.conn.clone();
        let _: u64 = self.run("invalidate", conn.incr(ns_key, 1u64)).await?;
        Ok(())
    }

    /// Removes entries matching the glob `pattern` (all entries when `None`)
    /// with SCAN + UNLINK; returns how many keys were removed (each counted
    /// once, even if SCAN returned it twice).
    ///
    /// Not counted apart: an entry hidden by a namespace invalidation whose
    /// key is still in Redis is removed and counted like a live one.
    ///
    /// # Errors
    /// [`CacheError::InvalidPattern`] before anything is removed, then
    /// [`CacheError::Redis`] or [`CacheError::Timeout`].
    pub async fn clear_matching(&self, pattern: Option<&str>) -> Result<u64, CacheError> {
        let pattern = pattern.map(KeyPattern::parse).transpose()?;
        self.clear_parsed(pattern.as_ref(), |_| {}).await
    }

    /// Like [`clear_matching`](Self::clear_matching) for a parsed pattern,
    /// calling `removed` with the cache key (prefix stripped, raw bytes) of
    /// every key this call unlinked, also when it fails part way.
    pub(crate) async fn clear_parsed(
        &self,
        pattern: Option<&KeyPattern>,
        mut removed: impl FnMut(&[u8]),
    ) -> Result<u64, CacheError> {
        let entry_prefix = self.entry_key("").len();
        let matcher = format!(
            "{}k:{}",
            escape_glob(&self.inner.config.prefix),
            pattern.map_or_else(|| "*".to_owned(), KeyPattern::to_redis_match)
        );
        let mut conn = self.inner.conn.clone();
        let mut cursor: u64 = 0;
        let mut count = 0u64;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = self
                .run(
                    "scan",
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&matcher)
                        .arg("COUNT")
                        .arg(SCAN_BATCH)
                        .query_async(&mut conn),
                )
                .await?;
            if !keys.is_empty() {
                // One UNLINK per key (pipelined) says which keys this call
                // removed, so the caller can tell them apart.
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.cmd("UNLINK").arg(key);
                }
                let unlinked: Result<Vec<u64>, _> = self.run("unlink", pipe.query_async(&mut conn)).await;
                let unlinked = match unlinked {
                    Ok(unlinked) => unlinked,
                    Err(e) => {
                        self.inner.counters.deletes.fetch_add(count, Ordering::Relaxed);
                        return Err(e);
                    }
                };
                for (key, n) in keys.iter().zip(unlinked) {
                    if n > 0 {
                        count += 1;
                        removed(key.get(entry_prefix..).unwrap_or_default());
                    }
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        self.inner.counters.deletes.fetch_add(count, Ordering::Relaxed);
        Ok(count)
    }

    /// Publishes `message` on the invalidation channel.
    pub(crate) async fn publish(&self, message: &str) -> Result<(), CacheError> {
        let mut conn = self.inner.conn.clone();
        let _: u64 = self.run("publish", conn.publish(self.inner.config.channel_name(), message)).await?;
        Ok(())
    }

    /// This tier's counters (entries and bytes are not tracked).
    pub fn tier_stats(&self) -> TierStats {
        self.inner.counters.stats(None, None)
    }

    fn report(&self, kind: CacheEventKind) {
        if let Some(r) = &self.inner.recorder {
            r.record_cache(&CacheEvent { kind, tier: CacheTier::Remote, at: self.inner.clock.now() });
        }
    }
}

/// Unwraps an envelope; `None` when the namespace generation moved on
/// (expiry itself is left to Redis, which drops the key at its `PX`).
fn decode(raw: &[u8], generation: Option<u64>) -> Result<Option<Fetched>, CacheError> {
    let (&tag, rest) = raw.split_first().ok_or(CacheError::BadEnvelope)?;
    let rest = match (tag, generation) {
        (TAG_PLAIN, None) => rest,
        (TAG_NAMESPACED, Some(current)) => {
            let bar = rest.iter().position(|&b| b == b'|').ok_or(CacheError::BadEnvelope)?;
            let stored: u64 =
                std::str::from_utf8(&rest[..bar]).ok().and_then(|s| s.parse().ok()).ok_or(CacheError::BadEnvelope)?;
            if stored != current {
                return Ok(None);
            }
            &rest[bar + 1..]
        }
        _ => return Err(CacheError::BadEnvelope),
    };
    if rest.len() < 8 {
        return Err(CacheError::BadEnvelope);
    }
    let (expiry, payload) = rest.split_at(8);
    let expires_ms = u64::from_le_bytes(expiry.try_into().map_err(|_| CacheError::BadEnvelope)?);
    Ok(Some(Fetched { value: Arc::from(payload), expires_ms }))
}

impl CacheAdmin for RedisCache {
    fn stats(&self) -> BoxFuture<'_, Result<CacheStats, CacheStoreError>> {
        Box::pin(async move {
            // Used alone there is no breaker: the status is this ping's.
            let available = match self.ping().await {
                Ok(()) => true,
                Err(e) => !e.is_unreachable(),
            };
            let status = self.status(available, BreakerState::Closed, 0);
            let stats = &status.stats;
            Ok(CacheStats {
                hits: stats.hits,
                misses: stats.misses,
                hit_rate: hit_rate(stats.hits, stats.misses),
                total_operations: stats.hits + stats.misses + stats.sets + stats.deletes,
                serving_tier: ServingTier::Remote,
                recent_hits: None,
                memory: TierStats::default(),
                remote: Some(status),
            })
        })
    }

    fn clear<'a>(&'a self, pattern: Option<&'a KeyPattern>) -> BoxFuture<'a, Result<u64, CacheStoreError>> {
        Box::pin(async move { Ok(self.clear_parsed(pattern, |_| {}).await?) })
    }
}

impl CacheStore for RedisCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Arc<[u8]>>, CacheStoreError>> {
        Box::pin(async move { Ok(self.fetch(key).await?) })
    }

    fn set<'a>(&'a self, key: &'a str, value: Arc<[u8]>, ttl: Duration) -> BoxFuture<'a, Result<(), CacheStoreError>> {
        Box::pin(async move { Ok(self.store(key, &value, ttl).await?) })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheStoreError>> {
        Box::pin(async move { Ok(self.remove(key).await?) })
    }

    fn invalidate<'a>(&'a self, namespace: &'a str) -> BoxFuture<'a, Result<(), CacheStoreError>> {
        Box::pin(async move { Ok(self.bump_namespace(namespace).await?) })
    }
}

impl Invalidator for RedisCache {
    /// Bumps the namespace on the current tokio runtime in the background.
    fn invalidate_now(&self, namespace: &str) -> Result<(), CacheStoreError> {
        let ns_key = self.ns_key(Namespace::parse(namespace).map_err(CacheStoreError::from)?);
        let handle = tokio::runtime::Handle::try_current().map_err(|_| CacheStoreError::from(CacheError::NoRuntime))?;
        let this = self.clone();
        let namespace = namespace.to_owned();
        handle.spawn(async move {
            if let Err(e) = this.incr_generation(ns_key).await {
                tracing::warn!(error = %e, namespace, "redis namespace invalidation failed");
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
