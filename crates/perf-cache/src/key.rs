//! Key and namespace rules shared by every tier.
//!
//! A key's namespace is the text before its first `:`: `users:42` belongs
//! to `users`, `dashboard:summary` to `dashboard`. A key without `:` (or
//! starting with `:`) belongs to no namespace.

use crate::{CacheError, error::truncate};

/// The longest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// The longest namespace accepted, in bytes.
pub const MAX_NAMESPACE_BYTES: usize = 128;

/// Checks a key against the rules above.
pub(crate) fn check_key(key: &str) -> Result<(), CacheError> {
    if key.is_empty() {
        return Err(CacheError::InvalidKey { key: String::new(), reason: "key is empty" });
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(CacheError::InvalidKey { key: truncate(key), reason: "key is longer than 1024 bytes" });
    }
    Ok(())
}

/// Checks a namespace name: non-empty, at most 128 bytes, no `:`.
pub(crate) fn check_namespace(ns: &str) -> Result<(), CacheError> {
    let reason = if ns.is_empty() {
        "namespace is empty"
    } else if ns.len() > MAX_NAMESPACE_BYTES {
        "namespace is longer than 128 bytes"
    } else if ns.contains(':') {
        "namespace contains ':'"
    } else {
        return Ok(());
    };
    Err(CacheError::InvalidNamespace { namespace: truncate(ns), reason })
}

/// The namespace of `key`, if it has one.
pub(crate) fn namespace_of(key: &str) -> Option<&str> {
    match key.split_once(':') {
        Some((ns, _)) if !ns.is_empty() && ns.len() <= MAX_NAMESPACE_BYTES => Some(ns),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
