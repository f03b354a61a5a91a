//! The process-wide default cache ([`install_default`], [`default_cache`],
//! [`invalidate_now`]) and the functions the `#[cached]` and
//! `#[invalidate_on_change]` expansions call. Those are re-exported only
//! under the hidden `perf_cache::__private` module: they are the macros'
//! plumbing, not an API of their own (code that wants caching without the
//! attribute calls [`TypedCache::get_or_compute`] on [`default_cache`]).

use std::{convert::Infallible, future::Future, hash::BuildHasher, sync::OnceLock, time::Duration};

use serde::{Serialize, de::DeserializeOwned};

use crate::{CacheError, TypedCache};

static DEFAULT: OnceLock<TypedCache> = OnceLock::new();

/// Keys longer than this (prefix included) are replaced by a hash.
const MAX_PLAIN_KEY: usize = 200;

/// Installs the process-wide default cache used by `#[cached]`,
/// `#[invalidate_on_change]` and the functions of this module.
///
/// # Errors
/// [`CacheError::AlreadyInstalled`] if one was installed before.
pub fn install_default(cache: TypedCache) -> Result<(), CacheError> {
    DEFAULT.set(cache).map_err(|_| CacheError::AlreadyInstalled)
}

/// The installed default cache, if any.
pub fn default_cache() -> Option<&'static TypedCache> {
    DEFAULT.get()
}

/// The cache key of one function call, made by [`function_key`] (or from
/// any string): `None` inside when the call's arguments could not be
/// encoded. Such a call is run, never cached, since different calls must
/// not share one result.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FunctionKey(Option<String>);

impl FunctionKey {
    /// The key, or `None` for a call that is not cached.
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl From<String> for FunctionKey {
    fn from(key: String) -> Self {
        FunctionKey(Some(key))
    }
}

impl From<&str> for FunctionKey {
    fn from(key: &str) -> Self {
        FunctionKey(Some(key.to_owned()))
    }
}

/// The key of a cached function call: `prefix:` followed by the hex of the
/// arguments' postcard encoding, or of two fixed-seed 64-bit hashes of it
/// when that would be long. The prefix is the key's namespace, so
/// invalidating `prefix` drops every cached call.
///
/// Arguments postcard cannot encode give a key that [`cached_call`] and
/// [`cached_result`] do not cache under.
pub fn function_key<A: Serialize + ?Sized>(prefix: &str, args: &A) -> FunctionKey {
    use std::fmt::Write;
    let bytes = match postcard::to_stdvec(args) {
        Ok(b) => b,
        Err(_) => return FunctionKey(None),
    };
    let mut key = String::with_capacity(prefix.len() + 1 + bytes.len() * 2);
    key.push_str(prefix);
    key.push(':');
    if prefix.len() + 1 + bytes.len() * 2 <= MAX_PLAIN_KEY {
        for b in &bytes {
            let _ = write!(key, "{b:02x}");
        }
    } else {
        let h1 = foldhash::quality::FixedState::with_seed(0x9e37_79b9_7f4a_7c15).hash_one(&bytes);
        let h2 = foldhash::quality::FixedState::with_seed(0xc2b2_ae3d_27d4_eb4f).hash_one(&bytes);
        let _ = write!(key, "#{h1:016x}{h2:016x}");
    }
    FunctionKey(Some(key))
}

/// Runs `fut` through the default cache: the cached value under `key` if
/// there is one, else `fut`'s output, stored for `ttl`. Without a default
/// cache, just runs `fut`.
pub async fn cached_call<R, F>(key: impl Into<FunctionKey>, ttl: Duration, fut: F) -> R
where
    R: Serialize + DeserializeOwned,
    F: Future<Output = R>,
{
    let key = key.into();
    let (Some(cache), Some(key)) = (default_cache(), key.as_str()) else { return fut.await };
    match cache.get_or_compute(key, ttl, || async move { Ok::<R, Infallible>(fut.await) }).await {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

/// A `Result` whose `Ok` values can be cached.
pub trait CacheableResult {
    /// The success type.
    type Ok: Serialize + DeserializeOwned;
    /// The error type.
    type Err;
    /// Into a plain `Result`.
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
    /// From a plain `Result`.
    fn from_result(r: Result<Self::Ok, Self::Err>) -> Self;
}

impl<T: Serialize + DeserializeOwned, E> CacheableResult for Result<T, E> {
    type Ok = T;
    type Err = E;
    fn into_result(self) -> Result<T, E> {
        self
    }
    fn from_result(r: Result<T, E>) -> Self {
        r
    }
}

/// Like [`cached_call`] for a fallible computation: only `Ok` is cached; an
/// `Err` is returned and the next call computes again.
pub async fn cached_result<R, F>(key: impl Into<FunctionKey>, ttl: Duration, fut: F) -> R
where
    R: CacheableResult,
    F: Future<Output = R>,
{
    let key = key.into();
    let (Some(cache), Some(key)) = (default_cache(), key.as_str()) else { return fut.await };
    R::from_result(cache.get_or_compute(key, ttl, || async move { fut.await.into_result() }).await)
}

/// Invalidates `namespaces` in the default cache now (memory at once,
/// Redis and other instances shortly after). Does nothing without a
/// default cache; an unusable namespace name is logged and skipped.
pub fn invalidate_now(namespaces: &[&str]) {
    let Some(cache) = default_cache() else { return };
    for ns in namespaces {
        if let Err(e) = cache.backend().invalidate_now(ns) {
            tracing::warn!(error = %e, namespace = ns, "cache invalidation failed");
        }
    }
}

/// Awaits `fut`, then invalidates `namespaces` (see [`invalidate_now`]).
pub async fn invalidate_after<R, F: Future<Output = R>>(namespaces: &[&str], fut: F) -> R {
    let out = fut.await;
    invalidate_now(namespaces);
    out
}

/// A return value that tells success from failure: `Result` (success is
/// `Ok`), so `#[invalidate_on_change]` invalidates only after a success.
pub trait Fallible {
    /// Whether the operation succeeded.
    fn succeeded(&self) -> bool;
}

impl<T, E> Fallible for Result<T, E> {
    fn succeeded(&self) -> bool {
        self.is_ok()
    }
}

/// Awaits `fut`, then invalidates `namespaces` if it succeeded.
pub async fn invalidate_after_ok<R: Fallible, F: Future<Output = R>>(namespaces: &[&str], fut: F) -> R {
    let out = fut.await;
    if out.succeeded() {
        invalidate_now(namespaces);
    }
    out
}

/// Runs `f`, then invalidates `namespaces`.
pub fn invalidate_after_sync<R, F: FnOnce() -> R>(namespaces: &[&str], f: F) -> R {
    let out = f();
    invalidate_now(namespaces);
    out
}

/// Runs `f`, then invalidates `namespaces` if it succeeded.
pub fn invalidate_after_ok_sync<R: Fallible, F: FnOnce() -> R>(namespaces: &[&str], f: F) -> R {
    let out = f();
    if out.succeeded() {
        invalidate_now(namespaces);
    }
    out
}

#[cfg(test)]
mod tests;
