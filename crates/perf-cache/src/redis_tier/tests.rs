//! Tests of the Redis envelope format and of the configuration's `Debug` (no server needed).

use super::*;

fn envelope(tag: u8, generation: Option<u64>, expires_ms: u64, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    if let Some(g) = generation {
        v.extend_from_slice(g.to_string().as_bytes());
        v.push(b'|');
    }
    v.extend_from_slice(&expires_ms.to_le_bytes());
    v.extend_from_slice(payload);
    v
}

#[test]
fn plain_envelope_round_trips() {
    let f = decode(&envelope(TAG_PLAIN, None, 42, b"abc"), None).unwrap().unwrap();
    assert_eq!((&*f.value, f.expires_ms), (&b"abc"[..], 42));
}

#[test]
fn older_generation_is_a_miss() {
    let raw = envelope(TAG_NAMESPACED, Some(3), 42, b"abc");
    assert!(decode(&raw, Some(3)).unwrap().is_some());
    assert!(decode(&raw, Some(4)).unwrap().is_none());
}

#[test]
fn foreign_values_are_refused() {
    assert!(matches!(decode(b"", None), Err(CacheError::BadEnvelope)));
    assert!(matches!(decode(b"hello", None), Err(CacheError::BadEnvelope)));
    assert!(matches!(decode(&envelope(TAG_NAMESPACED, None, 1, b""), Some(0)), Err(CacheError::BadEnvelope)));
}

#[test]
fn debug_of_the_configuration_hides_the_password() {
    let url = "redis://default:hunter2@cache.internal:6379/0";
    let redis = RedisConfig::new(url).prefix("svc:");
    let tiered = crate::TieredConfig::new(url);
    for text in [format!("{redis:?}"), format!("{tiered:?}"), format!("{tiered:#?}")] {
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("redis://***@cache.internal:6379/0"), "{text}");
    }
    assert!(format!("{redis:?}").contains("svc:"));
    assert_eq!(redis.url, url, "the URL itself is kept for the client");
}
