//! The values every tier is handed, checked once where they enter
//! perf-cache: [`CacheKey`], [`Namespace`] and the TTL in milliseconds.
//!
//! A key's namespace is the text before its first `:`: `users:42` belongs
//! to `users`, `dashboard:summary` to `dashboard`. A key without `:` (or
//! starting with `:`) belongs to no namespace.
//!
//! Each public method that takes a key or namespace as text (`MemoryCache`,
//! `RedisCache`, `TieredCache` and their trait impls) parses it once and
//! hands the parsed value to the tiers below, which do not check it again.

use std::time::Duration;

use crate::{CacheError, error::truncate};

/// The longest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// The longest namespace accepted, in bytes.
pub const MAX_NAMESPACE_BYTES: usize = 128;

/// A key that passed the rules (1 to [`MAX_KEY_BYTES`] bytes), with its
/// namespace found once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CacheKey<'a> {
    text: &'a str,
    namespace: Option<Namespace<'a>>,
}

/// A namespace name that passed the rules: 1 to [`MAX_NAMESPACE_BYTES`]
/// bytes, no `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Namespace<'a>(&'a str);

impl<'a> CacheKey<'a> {
    /// Checks `text` against the key rules.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`] for an empty or over-long key.
    pub(crate) fn parse(text: &'a str) -> Result<CacheKey<'a>, CacheError> {
        if text.is_empty() {
            return Err(CacheError::InvalidKey { key: String::new(), reason: "key is empty" });
        }
        if text.len() > MAX_KEY_BYTES {
            return Err(CacheError::InvalidKey { key: truncate(text), reason: "key is longer than 1024 bytes" });
        }
        Ok(CacheKey { text, namespace: namespace_of(text).map(Namespace) })
    }

    /// The key as given.
    pub(crate) fn as_str(&self) -> &'a str {
        self.text
    }

    /// The key's namespace, if it has one.
    pub(crate) fn namespace(&self) -> Option<Namespace<'a>> {
        self.namespace
    }
}

impl<'a> Namespace<'a> {
    /// Checks `text` against the namespace rules.
    ///
    /// # Errors
    /// [`CacheError::InvalidNamespace`] for an empty or over-long name or
    /// one containing `:`.
    pub(crate) fn parse(text: &'a str) -> Result<Namespace<'a>, CacheError> {
        let reason = if text.is_empty() {
            "namespace is empty"
        } else if text.len() > MAX_NAMESPACE_BYTES {
            "namespace is longer than 128 bytes"
        } else if text.contains(':') {
            "namespace contains ':'"
        } else {
            return Ok(Namespace(text));
        };
        Err(CacheError::InvalidNamespace { namespace: truncate(text), reason })
    }

    /// The name as given.
    pub(crate) fn as_str(&self) -> &'a str {
        self.0
    }
}

/// The namespace of `key`, if it has one: the text before its first `:`,
/// when that is 1 to [`MAX_NAMESPACE_BYTES`] bytes (so always a valid
/// [`Namespace`]).
pub(crate) fn namespace_of(key: &str) -> Option<&str> {
    match key.split_once(':') {
        Some((ns, _)) if !ns.is_empty() && ns.len() <= MAX_NAMESPACE_BYTES => Some(ns),
        _ => None,
    }
}

/// `ttl` in whole milliseconds, at least 1 (a shorter TTL would mean "no
/// expiry" to Redis and "already expired" to the memory tier).
pub(crate) fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests;
