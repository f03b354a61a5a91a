//! [`CacheKey`] and [`Namespace`]: the one rule for cache keys and their
//! namespaces, parsed once where a key or name enters a cache (perf-cache's
//! tiers, the `perf_core::testing` fake) and passed on parsed.
//!
//! A key is 1 to [`MAX_KEY_BYTES`] bytes. Its namespace is the text before
//! its first `:` when that is 1 to [`MAX_NAMESPACE_BYTES`] bytes: `users:42`
//! belongs to `users`, `dashboard:summary` to `dashboard`; a key without `:`
//! (or starting with `:`) belongs to no namespace.
//!
//! ```
//! use perf_core::{CacheKey, Namespace};
//! let key = CacheKey::parse("users:42")?;
//! assert_eq!(key.namespace(), Some(Namespace::parse("users")?));
//! assert!(CacheKey::parse("").is_err());
//! assert!(Namespace::parse("a:b").is_err());
//! # Ok::<(), perf_core::KeyError>(())
//! ```

use crate::pattern::clip;

/// The longest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// The longest namespace accepted, in bytes.
pub const MAX_NAMESPACE_BYTES: usize = 128;

/// A key or namespace refused by [`CacheKey::parse`] or [`Namespace::parse`].
///
/// Not `#[non_exhaustive]`: a key and a namespace are the only things these
/// rules check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A key that is empty or too long.
    #[error("invalid cache key {key:?}: {reason}")]
    Key {
        /// The key refused, cut to 64 bytes.
        key: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A namespace name that is empty, too long or contains `:`.
    #[error("invalid cache namespace {namespace:?}: {reason}")]
    Namespace {
        /// The namespace refused, cut to 64 bytes.
        namespace: String,
        /// Why it was refused.
        reason: &'static str,
    },
}

/// A key that passed the rules, with its namespace found once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheKey<'a> {
    text: &'a str,
    namespace: Option<Namespace<'a>>,
}

/// A namespace name that passed the rules: 1 to [`MAX_NAMESPACE_BYTES`]
/// bytes, no `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Namespace<'a>(&'a str);

impl<'a> CacheKey<'a> {
    /// Checks `text` against the key rules.
    ///
    /// # Errors
    /// [`KeyError::Key`] for an empty or over-long key.
    // `#[inline]` here and on `Namespace::of`: every cache write parses its
    // key, and the call crosses a crate boundary.
    #[inline]
    pub fn parse(text: &'a str) -> Result<CacheKey<'a>, KeyError> {
        let refuse = |reason| Err(KeyError::Key { key: clip(text).to_owned(), reason });
        if text.is_empty() {
            return refuse("key is empty");
        }
        if text.len() > MAX_KEY_BYTES {
            return refuse("key is longer than 1024 bytes");
        }
        Ok(CacheKey { text, namespace: Namespace::of(text) })
    }

    /// The key as given.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The key's namespace, if it has one.
    pub fn namespace(&self) -> Option<Namespace<'a>> {
        self.namespace
    }
}

impl<'a> Namespace<'a> {
    /// Checks `text` against the namespace rules.
    ///
    /// # Errors
    /// [`KeyError::Namespace`] for an empty or over-long name or one
    /// containing `:`.
    pub fn parse(text: &'a str) -> Result<Namespace<'a>, KeyError> {
        let reason = if text.is_empty() {
            "namespace is empty"
        } else if text.len() > MAX_NAMESPACE_BYTES {
            "namespace is longer than 128 bytes"
        } else if text.contains(':') {
            "namespace contains ':'"
        } else {
            return Ok(Namespace(text));
        };
        Err(KeyError::Namespace { namespace: clip(text).to_owned(), reason })
    }

    /// The namespace of `key`, if it has one (see the module docs). `key`
    /// itself is not checked.
    #[inline]
    pub fn of(key: &'a str) -> Option<Namespace<'a>> {
        match key.split_once(':') {
            Some((ns, _)) if !ns.is_empty() && ns.len() <= MAX_NAMESPACE_BYTES => Some(Namespace(ns)),
            _ => None,
        }
    }

    /// The name as given.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

#[cfg(test)]
mod tests;
