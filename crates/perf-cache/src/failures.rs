//! [`FailureLog`]: what went wrong with Redis, by class and cause, and when
//! to warn about it.
//!
//! A failed Redis call is either *unreachable* (I/O error, refused or
//! dropped connection, timeout: the server could not be asked) or a
//! *command error* (the server answered with an error reply: `OOM`,
//! `READONLY`, `NOAUTH`, `WRONGTYPE`, ...). Both are counted. Command errors
//! are counted per cause and keep their latest message; a warning for a
//! cause is due at most once per [`LOG_EVERY`], and the warning says how many
//! failures of that cause were not logged since the previous one.
//!
//! # Guarantees
//! - Memory: at most [`MAX_CAUSES`] causes are kept; further ones are
//!   counted under `OTHER`.
//! - Costs nothing on success; a failure takes one short lock.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use parking_lot::Mutex;
use perf_core::{CommandErrorStats, TierErrorCause, Timestamp};

/// The shortest time between two warnings about the same cause.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(60);
/// The most distinct causes kept.
pub(crate) const MAX_CAUSES: usize = 32;
/// The cause name that takes failures past [`MAX_CAUSES`].
const OVERFLOW_CAUSE: &str = "OTHER";

/// Failure counts and the warning rate limit of one Redis tier.
#[derive(Debug, Default)]
pub(crate) struct FailureLog {
    unreachable: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last_unreachable: Option<TierErrorCause>,
    causes: BTreeMap<String, Cause>,
}

#[derive(Debug)]
struct Cause {
    count: u64,
    last: TierErrorCause,
    logged_at: Timestamp,
    suppressed: u64,
}

/// What [`FailureLog::snapshot`] returns.
pub(crate) struct FailureSnapshot {
    pub(crate) unreachable: u64,
    pub(crate) last_unreachable: Option<TierErrorCause>,
    pub(crate) command_errors: BTreeMap<String, CommandErrorStats>,
}

impl FailureLog {
    /// Notes that Redis could not be reached, counting it when `counted`
    /// (an operation failed, as opposed to a health check).
    pub(crate) fn unreachable(&self, message: String, now: Timestamp, counted: bool) {
        if counted {
            self.unreachable.fetch_add(1, Ordering::Relaxed);
        }
        self.state.lock().last_unreachable = Some(TierErrorCause { message, at: now });
    }

    /// Counts a command error of cause `kind`. Returns `Some(suppressed)`
    /// when a warning is due now, `suppressed` being the failures of this
    /// cause not logged since the previous warning.
    pub(crate) fn command(&self, kind: &str, message: String, now: Timestamp) -> Option<u64> {
        let mut state = self.state.lock();
        let key =
            if state.causes.contains_key(kind) || state.causes.len() < MAX_CAUSES { kind } else { OVERFLOW_CAUSE };
        let last = TierErrorCause { message, at: now };
        let Some(cause) = state.causes.get_mut(key) else {
            state.causes.insert(key.to_owned(), Cause { count: 1, last, logged_at: now, suppressed: 0 });
            return Some(0);
        };
        cause.count += 1;
        cause.last = last;
        let since = now.as_unix_micros().saturating_sub(cause.logged_at.as_unix_micros());
        if u128::from(since) >= LOG_EVERY.as_micros() {
            cause.logged_at = now;
            Some(std::mem::take(&mut cause.suppressed))
        } else {
            cause.suppressed += 1;
            None
        }
    }

    /// The counts and latest causes.
    pub(crate) fn snapshot(&self) -> FailureSnapshot {
        let state = self.state.lock();
        FailureSnapshot {
            unreachable: self.unreachable.load(Ordering::Relaxed),
            last_unreachable: state.last_unreachable.clone(),
            command_errors: state
                .causes
                .iter()
                .map(|(k, c)| (k.clone(), CommandErrorStats { count: c.count, last: c.last.clone() }))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
