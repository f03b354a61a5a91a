//! Invalidations made while Redis was unreachable, kept (bounded) so they
//! reach Redis before its values are trusted again.
//!
//! Up to `max` operations are kept in order. Past that, the queue collapses
//! into an overflow summary: the namespaces to bump (up to 256), or, when an
//! operation cannot be expressed as a namespace (a key without namespace, a
//! pattern clear) or too many namespaces piled up, a clear of every entry.

use std::collections::{BTreeSet, VecDeque};

use perf_core::{CacheKey, KeyPattern, Namespace};

const MAX_OVERFLOW_NAMESPACES: usize = 256;

/// One invalidation to apply to Redis and publish to other instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// Remove one key.
    Delete(String),
    /// Remove the entries matching a pattern, or all with `None`.
    Clear(Option<KeyPattern>),
    /// Bump a namespace's generation.
    Invalidate(String),
}

impl Op {
    /// The pub/sub message telling other instances to apply this operation
    /// to their memory tier: `sender|kind|argument`, kind `d` (delete a
    /// key), `c` (clear a pattern), `a` (clear all) or `n` (bump a
    /// namespace). The sender is an instance id without `|`; the argument
    /// is last, so it may hold `|` itself.
    pub(crate) fn message(&self, sender: &str) -> String {
        let (kind, arg) = match self {
            Op::Delete(key) => ('d', key.as_str()),
            Op::Clear(Some(pattern)) => ('c', pattern.as_str()),
            Op::Clear(None) => ('a', ""),
            Op::Invalidate(namespace) => ('n', namespace.as_str()),
        };
        format!("{sender}|{kind}|{arg}")
    }

    /// The sender and operation of a message written by [`Op::message`];
    /// `None` for anything else (a pattern that does not parse included).
    pub(crate) fn from_message(payload: &[u8]) -> Option<(&str, Op)> {
        let text = std::str::from_utf8(payload).ok()?;
        let mut parts = text.splitn(3, '|');
        let (sender, kind, arg) = (parts.next()?, parts.next()?, parts.next()?);
        let op = match kind {
            "d" => Op::Delete(arg.to_owned()),
            "c" => Op::Clear(Some(KeyPattern::parse(arg).ok()?)),
            "a" if arg.is_empty() => Op::Clear(None),
            "n" => Op::Invalidate(arg.to_owned()),
            _ => return None,
        };
        Some((sender, op))
    }
}

/// The queue of pending operations.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    ops: VecDeque<Op>,
    overflow: Option<Overflow>,
}

/// What is left to do once individual operations were dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Overflow {
    pub(crate) namespaces: BTreeSet<String>,
    pub(crate) clear_all: bool,
}

impl Overflow {
    fn fold(&mut self, op: Op) {
        if self.clear_all {
            return;
        }
        let ns = match op {
            Op::Delete(key) => Namespace::of(&key).map(|ns| ns.as_str().to_owned()),
            Op::Invalidate(ns) => Some(ns),
            Op::Clear(_) => None,
        };
        match ns {
            Some(ns) if self.namespaces.len() < MAX_OVERFLOW_NAMESPACES || self.namespaces.contains(&ns) => {
                self.namespaces.insert(ns);
            }
            _ => {
                self.clear_all = true;
                self.namespaces.clear();
            }
        }
    }
}

impl Pending {
    /// Queues `op`, collapsing into the overflow summary past `max` ops.
    pub(crate) fn push(&mut self, op: Op, max: usize) {
        if let Some(overflow) = &mut self.overflow {
            overflow.fold(op);
            return;
        }
        if self.ops.len() < max {
            self.ops.push_back(op);
            return;
        }
        let mut overflow = Overflow::default();
        for queued in self.ops.drain(..) {
            overflow.fold(queued);
        }
        overflow.fold(op);
        self.overflow = Some(overflow);
    }

    /// Takes everything queued.
    pub(crate) fn take(&mut self) -> (Vec<Op>, Option<Overflow>) {
        (self.ops.drain(..).collect(), self.overflow.take())
    }

    /// Puts back what a failed replay did not apply, ahead of anything
    /// queued since.
    pub(crate) fn restore(&mut self, ops: Vec<Op>, overflow: Option<Overflow>, max: usize) {
        let newer = std::mem::take(self);
        if let Some(o) = overflow {
            self.overflow = Some(o);
        }
        for op in ops.into_iter().chain(newer.ops) {
            self.push(op, max);
        }
        if let Some(newer_overflow) = newer.overflow {
            let mine = self.overflow.get_or_insert_with(Overflow::default);
            mine.clear_all |= newer_overflow.clear_all;
            for ns in newer_overflow.namespaces {
                mine.fold(Op::Invalidate(ns));
            }
            for op in self.ops.drain(..) {
                mine.fold(op);
            }
        }
    }

    /// Whether a queued operation would remove or hide `key` in Redis, i.e.
    /// whether Redis's copy of `key` may be one this instance removed.
    pub(crate) fn affects(&self, key: CacheKey<'_>) -> bool {
        let ns = key.namespace().map(|ns| ns.as_str());
        let key = key.as_str();
        if let Some(o) = &self.overflow
            && (o.clear_all || ns.is_some_and(|ns| o.namespaces.contains(ns)))
        {
            return true;
        }
        self.ops.iter().any(|op| match op {
            Op::Delete(k) => k == key,
            Op::Invalidate(n) => ns == Some(n.as_str()),
            Op::Clear(None) => true,
            Op::Clear(Some(p)) => p.matches(key),
        })
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.overflow.is_none()
    }

    /// Queued operations (an overflow summary counts as one).
    pub(crate) fn len(&self) -> usize {
        self.ops.len() + usize::from(self.overflow.is_some())
    }
}

#[cfg(test)]
mod tests;
