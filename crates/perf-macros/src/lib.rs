//! Attribute macros for perfkit: `#[cached]` and `#[invalidate_on_change]`
//! (re-exported by perf-cache) and `#[monitored]` (re-exported by perf-db).
//!
//! The macros only generate calls into perf-cache's hidden
//! `perf_cache::__private` module (`function_key`, `cached_call`,
//! `invalidate_after_ok`, …, plumbing that changes with the macros) and
//! perf-db's public functions (`perf_db::monitored`,
//! `perf_db::monitored_async`). By hand, the same caching is
//! `TypedCache::get_or_compute` on `perf_cache::default_cache()`.
//!
//! ```
//! use perf_cache::{TypedCache, MemoryCache, cached, install_default};
//! # use std::sync::Arc;
//!
//! #[cached(ttl = 600, prefix = "user_data")]
//! async fn user_name(id: u64) -> Result<String, std::io::Error> {
//!     Ok(format!("user {id}"))
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! install_default(TypedCache::new(Arc::new(MemoryCache::new()?)))?;
//! assert_eq!(user_name(7).await?, "user 7"); // computed
//! assert_eq!(user_name(7).await?, "user 7"); // served from the cache
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
mod expand;

use proc_macro::TokenStream;

/// Caches an async fn's result in the default cache (`perf_cache::install_default`).
///
/// `#[cached(ttl = 600, prefix = "user_data")]`: `ttl` in seconds (default
/// 300), `prefix` (default: the fn's name) is the key's namespace, so
/// `#[invalidate_on_change("user_data")]` drops every cached call. The key
/// is the prefix plus the postcard encoding of all arguments, which must
/// therefore implement `serde::Serialize`; the output must implement
/// `Serialize + DeserializeOwned`. For a fn returning `Result`, only `Ok`
/// is cached. Concurrent calls with the same arguments run the body once.
/// Methods (`self`) are refused: the key could not tell receivers apart.
///
/// Arguments that say how to compute the result rather than which result
/// it is (a database pool, a client, a logger) are left out of the key with
/// `skip`: `#[cached(skip(pool))] async fn plant(pool: DbPool, id: i32)`
/// keys on `id` alone, and `pool` need not implement `Serialize`. Or give
/// the key outright with `key = <expr>`, any `Serialize` value computed from
/// the arguments: `#[cached(key = (user.id, page))]`. `skip` and `key` do
/// not mix; skipping a name that is not an argument is a compile error.
#[proc_macro_attribute]
pub fn cached(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::cached(attr.into(), item.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Invalidates namespaces of the default cache after the fn ran successfully.
///
/// `#[invalidate_on_change("users", "projects")]` on a sync or async fn:
/// after the body returns (with `Ok`, when it returns a `Result`), every
/// listed namespace is invalidated in the default cache.
#[proc_macro_attribute]
pub fn invalidate_on_change(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::invalidate_on_change(attr.into(), item.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Times a fn as a named unit of work through perf-db.
///
/// `#[monitored]` or `#[monitored(name = "x")]` (default: the fn's name).
/// A sync fn's body becomes `::perf_db::monitored("<name>", || { <body> })`;
/// an async fn's body `::perf_db::monitored_async("<name>", async move { <body> }).await`.
#[proc_macro_attribute]
pub fn monitored(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::monitored(attr.into(), item.into()).unwrap_or_else(syn::Error::into_compile_error).into()
}
