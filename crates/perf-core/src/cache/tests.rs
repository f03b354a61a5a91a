//! The cache vocabulary's wire names: generic in Rust, the names the API has
//! always used (`redis`, `available`) in JSON.

use std::collections::BTreeMap;

use super::*;
use crate::{CacheCounts, CacheTier, TierCounts};

fn remote_status() -> RemoteTierStatus {
    let cause =
        TierErrorCause { message: "OOM command not allowed".into(), at: Timestamp::from_unix_secs(1_700_000_000) };
    RemoteTierStatus {
        reachable: true,
        breaker: BreakerState::Closed,
        breaker_openings: 1,
        unreachable_errors: 2,
        last_unreachable: Some(cause.clone()),
        command_errors: BTreeMap::from([("OOM".to_owned(), CommandErrorStats { count: 3, last: cause })]),
        stats: TierStats::default(),
    }
}

#[test]
fn the_remote_tier_is_redis_on_the_wire() {
    let recent = RecentHits { window_secs: 10, memory: 1, remote: 4 };
    let stats = CacheStats {
        hits: 5,
        misses: 0,
        hit_rate: 1.0,
        total_operations: 5,
        serving_tier: recent.serving_tier(),
        recent_hits: Some(recent),
        memory: TierStats::default(),
        remote: Some(remote_status()),
    };
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["serving_tier"], "redis");
    assert_eq!(json["recent_hits"]["redis"], 4);
    assert_eq!(json["redis"]["available"], true);
    assert_eq!(json["redis"]["command_errors"]["OOM"]["count"], 3);
    assert!(json.get("remote").is_none() && json["redis"].get("reachable").is_none(), "{json}");
    let back: CacheStats = serde_json::from_value(json).unwrap();
    assert_eq!(back, stats);
}

#[test]
fn tier_names_in_events_and_counts_are_the_api_names() {
    assert_eq!(serde_json::to_value(CacheTier::Remote).unwrap(), "redis");
    assert_eq!(CacheTier::Remote.as_str(), "redis");
    assert_eq!(ServingTier::Remote.as_str(), "redis");
    let counts = CacheCounts { memory: TierCounts::default(), remote: TierCounts { hits: 2, ..TierCounts::default() } };
    let json = serde_json::to_value(counts).unwrap();
    assert_eq!(json["redis"]["hits"], 2);
    assert!(json.get("remote").is_none(), "{json}");
}
