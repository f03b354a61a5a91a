//! `ttl_ms`: the one TTL → milliseconds conversion of the memory and Redis
//! tiers.

use std::time::Duration;

/// `ttl` in whole milliseconds, at least 1 (a shorter TTL would mean "no
/// expiry" to Redis and "already expired" to the memory tier).
pub(crate) fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests;
