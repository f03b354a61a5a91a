//! Tests of the TTL conversion.

use super::*;

#[test]
fn ttls_are_whole_milliseconds_and_never_zero() {
    assert_eq!(ttl_ms(Duration::from_micros(10)), 1);
    assert_eq!(ttl_ms(Duration::from_millis(1500)), 1500);
    assert_eq!(ttl_ms(Duration::MAX), u64::MAX);
}
