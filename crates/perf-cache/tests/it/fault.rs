//! Fault injection: a redis-server of our own is killed, or frozen with
//! SIGSTOP, in the middle of a stream of operations.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use perf_cache::{TieredCache, TieredConfig};
use perf_core::{BreakerState, ServingTier};

use crate::{OwnRedis, unique_prefix, wait_for};

fn config(url: &str, prefix: &str) -> TieredConfig {
    let mut c = TieredConfig::new(url);
    c.redis = c.redis.prefix(prefix);
    c.probe_min = Duration::from_millis(50);
    c.probe_max = Duration::from_millis(400);
    c
}

fn v(i: usize) -> Arc<[u8]> {
    Arc::from(i.to_string().into_bytes())
}

/// Runs `n` rounds of store / fetch / delete / invalidate; returns how many
/// operations failed and how many fetches of a just-stored key missed.
async fn stream(cache: &TieredCache, from: usize, n: usize) -> (usize, usize) {
    let (mut failed, mut missed) = (0, 0);
    for i in from..from + n {
        let key = format!("items:{i}");
        failed += usize::from(cache.store(&key, v(i), Duration::from_secs(60)).await.is_err());
        match cache.fetch(&key).await {
            Ok(Some(got)) => assert_eq!(got, v(i)),
            Ok(None) => missed += 1,
            Err(_) => failed += 1,
        }
        if i % 10 == 0 {
            failed += usize::from(cache.remove(&format!("items:{}", i - 5.min(i))).await.is_err());
            failed += usize::from(cache.invalidate_namespace("other").await.is_err());
        }
    }
    (failed, missed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_redis_falls_back_to_memory_and_recovers() {
    let mut server = OwnRedis::start().await;
    let cache = TieredCache::new(config(&server.url(), &unique_prefix("kill")), None).unwrap();
    assert!(wait_for(|| async { cache.is_subscribed() }).await);

    let (failed, missed) = stream(&cache, 0, 100).await;
    assert_eq!((failed, missed), (0, 0));
    assert_eq!(cache.breaker_state(), BreakerState::Closed);

    server.kill();
    let errors_before = cache.redis().tier_stats().errors;
    let (failed, missed) = stream(&cache, 100, 300).await;
    assert_eq!(failed, 0, "no operation may fail because Redis did");
    assert_eq!(missed, 0, "memory keeps serving what was just stored");
    assert_ne!(cache.breaker_state(), BreakerState::Closed);
    assert_eq!(cache.breaker_openings(), 1);
    // One failed Redis call opened the breaker; the other ~900 operations
    // never went to Redis.
    assert!(cache.redis().tier_stats().errors - errors_before <= 2);
    assert!(cache.pending_invalidations() > 0);
    assert_eq!(cache.snapshot().serving_tier, ServingTier::Memory);

    server.restart().await;
    assert!(
        wait_for(|| async { cache.breaker_state() == BreakerState::Closed }).await,
        "probe never closed the breaker"
    );
    assert_eq!(cache.pending_invalidations(), 0);
    assert!(cache.resyncs() >= 1, "memory must be dropped after the subscription came back");
    let (failed, _) = stream(&cache, 400, 50).await;
    assert_eq!(failed, 0);
    // Redis is used again: a fresh instance sees values written now.
    let other = TieredCache::new(config(&server.url(), &cache.redis().config().prefix), None).unwrap();
    assert_eq!(other.fetch("items:449").await.unwrap(), Some(v(449)));
    assert!(cache.snapshot().remote.unwrap().reachable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_redis_costs_one_timeout_and_replays_invalidations() {
    let server = OwnRedis::start().await;
    let prefix = unique_prefix("freeze");
    let cache = TieredCache::new(config(&server.url(), &prefix), None).unwrap();
    assert!(wait_for(|| async { cache.is_subscribed() }).await);
    cache.store("users:1", v(1), Duration::from_secs(60)).await.unwrap();
    cache.store("plain", v(2), Duration::from_secs(60)).await.unwrap();

    server.freeze();
    let errors_before = cache.redis().tier_stats().errors;
    let (failed, missed) = stream(&cache, 0, 200).await;
    assert_eq!((failed, missed), (0, 0));
    assert_eq!(cache.breaker_openings(), 1);
    assert!(cache.redis().tier_stats().errors - errors_before <= 2, "each stalled call costs a timeout");
    // Invalidations made while Redis is frozen must reach it before its
    // values are trusted again.
    cache.invalidate_namespace("users").await.unwrap();
    cache.remove("plain").await.unwrap();
    assert_ne!(cache.breaker_state(), BreakerState::Closed);

    server.thaw();
    assert!(
        wait_for(|| async { cache.breaker_state() == BreakerState::Closed }).await,
        "probe never closed the breaker"
    );
    assert_eq!(cache.pending_invalidations(), 0);
    let fresh = TieredCache::new(config(&server.url(), &prefix), None).unwrap();
    assert_eq!(fresh.fetch("users:1").await.unwrap(), None, "namespace bump was replayed");
    assert_eq!(fresh.fetch("plain").await.unwrap(), None, "delete was replayed");
    assert_eq!(fresh.fetch("items:199").await.unwrap(), None, "values set during the outage are not in Redis");
    let (failed, missed) = stream(&cache, 200, 20).await;
    assert_eq!((failed, missed), (0, 0));
    assert_eq!(fresh.fetch("items:219").await.unwrap(), Some(v(219)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_pending_invalidations_collapse_into_namespace_bumps() {
    let server = OwnRedis::start().await;
    let prefix = unique_prefix("overflow");
    let mut cfg = config(&server.url(), &prefix);
    cfg.max_pending = 4;
    let cache = TieredCache::new(cfg.clone(), None).unwrap();
    assert!(wait_for(|| async { cache.is_subscribed() }).await);
    for i in 0..10 {
        cache.store(&format!("users:{i}"), v(i), Duration::from_secs(60)).await.unwrap();
    }
    cache.store("projects:1", v(1), Duration::from_secs(60)).await.unwrap();

    server.freeze();
    for i in 0..10 {
        assert!(cache.remove(&format!("users:{i}")).await.is_ok());
    }
    assert_eq!(cache.pending_invalidations(), 1, "ten deletes collapsed into one summary");

    server.thaw();
    assert!(wait_for(|| async { cache.breaker_state() == BreakerState::Closed }).await);
    let fresh = TieredCache::new(cfg, None).unwrap();
    for i in 0..10 {
        assert_eq!(fresh.fetch(&format!("users:{i}")).await.unwrap(), None, "users was bumped");
    }
    assert_eq!(fresh.fetch("projects:1").await.unwrap(), Some(v(1)), "other namespaces untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_subscription_drops_memory_copies() {
    let server = OwnRedis::start().await;
    let cache = TieredCache::new(config(&server.url(), &unique_prefix("resub")), None).unwrap();
    assert!(wait_for(|| async { cache.is_subscribed() }).await);
    cache.store("users:1", v(1), Duration::from_secs(60)).await.unwrap();
    assert_eq!(cache.memory().len(), 1);

    // Kill only the subscription connection; Redis itself stays up.
    let mut admin = crate::raw_connection(&server.url()).await;
    let killed: u64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut admin).await.unwrap();
    assert_eq!(killed, 1);

    assert!(wait_for(|| async { cache.resyncs() == 1 && cache.is_subscribed() }).await);
    assert!(cache.memory().is_empty(), "copies that could have missed a message are gone");
    // The value is still in Redis and comes back from there.
    assert_eq!(cache.fetch("users:1").await.unwrap(), Some(v(1)));
    assert_eq!(cache.breaker_state(), BreakerState::Closed);
}

/// Keys `items:0..n`, stored in both tiers; every later lookup of them is a
/// memory hit.
async fn warm(cache: &TieredCache, n: usize) {
    for i in 0..n {
        cache.store(&format!("items:{i}"), v(i), Duration::from_secs(60)).await.unwrap();
    }
}

// Issue 10: after Redis died, stats kept saying it was up for as long as
// memory answered every lookup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_10_killed_redis_shows_in_stats_while_memory_answers_every_lookup() {
    let mut server = OwnRedis::start().await;
    let cache = TieredCache::new(config(&server.url(), &unique_prefix("idle_kill")), None).unwrap();
    assert!(wait_for(|| async { cache.is_subscribed() }).await);
    warm(&cache, 20).await;
    let redis_lookups = |c: &TieredCache| {
        let s = c.redis().tier_stats();
        s.hits + s.misses + s.errors
    };
    let (memory_hits_before, redis_before) = (cache.memory().tier_stats().hits, redis_lookups(&cache));
    let up = cache.snapshot().remote.unwrap();
    assert!(up.reachable);
    assert_eq!((up.breaker, up.breaker_openings), (BreakerState::Closed, 0));

    server.kill();
    let deadline = Instant::now() + Duration::from_secs(2);
    let (mut lookups, mut failed) = (0u64, 0u64);
    let reported_down = loop {
        for i in 0..20 {
            lookups += 1;
            match cache.fetch(&format!("items:{i}")).await {
                Ok(Some(got)) if got == v(i) => {}
                _ => failed += 1,
            }
        }
        let redis = cache.snapshot().remote.unwrap();
        if !redis.reachable && redis.breaker != BreakerState::Closed {
            break true;
        }
        if Instant::now() >= deadline {
            break false;
        }
        // A poll interval, not an assertion on time.
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(reported_down, "2 s after the kill the stats still said {:?}", cache.snapshot().remote);
    assert_eq!(failed, 0, "no lookup may fail");
    assert_eq!(cache.memory().tier_stats().hits - memory_hits_before, lookups, "every lookup was a memory hit");
    assert_eq!(redis_lookups(&cache), redis_before, "no lookup went to Redis");
    let stats = cache.snapshot();
    let redis = stats.remote.unwrap();
    assert_eq!(redis.breaker_openings, 1);
    assert!(redis.last_unreachable.is_some(), "the cause is kept: {redis:?}");
    assert!(redis.command_errors.is_empty(), "{redis:?}");
    assert_eq!(stats.serving_tier, ServingTier::Memory);
}

/// Raw connection to `server`: fills it with `filler:*` values (outside any
/// cache prefix), then sets `noeviction` and a `maxmemory` below what it now
/// uses, so every write fails with OOM while reads and deletes still work.
async fn make_oom(server: &OwnRedis) -> redis::aio::MultiplexedConnection {
    let mut raw = crate::raw_connection(&server.url()).await;
    for i in 0..64 {
        let _: () =
            redis::cmd("SET").arg(format!("filler:{i}")).arg(vec![b'x'; 10_000]).query_async(&mut raw).await.unwrap();
    }
    let info: String = redis::cmd("INFO").arg("memory").query_async(&mut raw).await.unwrap();
    let used: u64 =
        info.lines().find_map(|l| l.strip_prefix("used_memory:")).and_then(|v| v.trim().parse().ok()).unwrap();
    for (k, val) in [("maxmemory-policy", "noeviction".to_owned()), ("maxmemory", (used - 256 * 1024).to_string())] {
        let _: () = redis::cmd("CONFIG").arg("SET").arg(k).arg(val).query_async(&mut raw).await.unwrap();
    }
    let refused = redis::cmd("SET").arg("filler:probe").arg("x").query_async::<()>(&mut raw).await.unwrap_err();
    assert_eq!(refused.code(), Some("OOM"), "{refused}");
    raw
}

// Issue 10: under Redis OOM the breaker opened and closed dozens of times a
// second, logging "redis unreachable" each time, and the cause was dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_10_refused_writes_are_counted_by_cause_and_never_open_the_breaker() {
    // The cache logs from the runtime's workers: a process-wide capture,
    // read by this test's unique key prefix.
    let logs = perf_core::testing::LogCapture::global().expect("no other global subscriber");
    let server = OwnRedis::start().await;
    let prefix = unique_prefix("oom");
    let cache = TieredCache::new(config(&server.url(), &prefix), None).unwrap();
    assert!(wait_for(|| async { cache.is_subscribed() }).await);
    cache.store("users:1", v(1), Duration::from_secs(60)).await.unwrap();
    cache.store("plain", v(1), Duration::from_secs(60)).await.unwrap();
    let mut raw = make_oom(&server).await;

    // Writes (namespaced ones go through a script, plain ones are PSETEX)
    // and reads for a while, spanning several liveness intervals.
    let until = Instant::now() + Duration::from_millis(1500);
    let (mut writes, mut round, mut not_closed) = (0u64, 0usize, 0u64);
    while Instant::now() < until {
        for key in [format!("items:{round}"), format!("plain{round}")] {
            cache.store(&key, v(round), Duration::from_secs(60)).await.unwrap();
            writes += 1;
            assert_eq!(cache.fetch(&key).await.unwrap(), Some(v(round)), "memory serves what Redis refused");
        }
        not_closed += u64::from(cache.breaker_state() != BreakerState::Closed);
        round += 1;
        // A pause between rounds, not an assertion on time.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // The values Redis refused must not leave its older copies readable.
    cache.store("users:1", v(2), Duration::from_secs(60)).await.unwrap();
    cache.store("plain", v(2), Duration::from_secs(60)).await.unwrap();
    writes += 2;
    assert!(wait_for(|| async { cache.pending_invalidations() == 0 }).await, "the stale copies were never removed");

    let stats = cache.snapshot();
    let redis = stats.remote.clone().unwrap();
    assert_eq!(not_closed, 0, "the breaker left closed during the run");
    assert_eq!(redis.breaker_openings, 0, "{redis:?}");
    assert_eq!(redis.breaker, BreakerState::Closed);
    assert!(redis.reachable, "Redis answered every call, if with an error");
    assert_eq!(redis.unreachable_errors, 0, "{redis:?}");
    assert_eq!(redis.command_errors.keys().collect::<Vec<_>>(), ["OOM"], "{redis:?}");
    let oom = &redis.command_errors["OOM"];
    assert_eq!(oom.count, writes, "one refused command per write");
    assert!(oom.last.message.contains("command not allowed when used memory"), "{}", oom.last.message);
    assert_eq!(redis.stats.errors, writes);

    let lines = logs.events_where("prefix", &prefix);
    let refused: Vec<_> = lines.iter().filter(|l| l.message == "redis refused a command").collect();
    assert_eq!(refused.len(), 1, "one line per cause per minute: {lines:?}");
    assert_eq!(refused[0].fields["cause"], "OOM");
    assert!(refused[0].fields["error"].contains("command not allowed when used memory"), "{:?}", refused[0]);
    assert!(!lines.iter().any(|l| l.message.contains("unreachable")), "{lines:?}");

    let fresh = TieredCache::new(config(&server.url(), &prefix), None).unwrap();
    assert_eq!(fresh.fetch("users:1").await.unwrap(), None, "Redis no longer holds the value overwritten here");
    assert_eq!(fresh.fetch("plain").await.unwrap(), None);

    // Once Redis takes writes again, they reach it and no more are refused.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(0).query_async(&mut raw).await.unwrap();
    cache.store("plain", v(3), Duration::from_secs(60)).await.unwrap();
    assert_eq!(fresh.fetch("plain").await.unwrap(), Some(v(3)));
    assert_eq!(cache.snapshot().remote.unwrap().command_errors["OOM"].count, writes);
}
