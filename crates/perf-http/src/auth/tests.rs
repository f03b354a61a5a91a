//! Unit tests of token parsing and comparison.

use super::{bearer_token, constant_time_eq};

#[test]
fn equal_tokens_match_and_others_do_not() {
    assert!(constant_time_eq(b"secret-token", b"secret-token"));
    assert!(!constant_time_eq(b"secret-tokeN", b"secret-token"));
    assert!(!constant_time_eq(b"secret", b"secret-token"));
    assert!(!constant_time_eq(b"secret-token-longer", b"secret-token"));
    assert!(!constant_time_eq(b"", b"secret-token"));
    // A presented token that repeats the expected one must not match.
    assert!(!constant_time_eq(b"abab", b"ab"));
}

#[test]
fn bearer_scheme_is_case_insensitive() {
    assert_eq!(bearer_token("Bearer abc"), Some("abc"));
    assert_eq!(bearer_token("bearer  abc "), Some("abc"));
    assert_eq!(bearer_token("Basic abc"), None);
    assert_eq!(bearer_token("Bearer"), None);
}
