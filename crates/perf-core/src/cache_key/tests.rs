//! Tests of key and namespace rules.

use super::*;

fn namespace_of(key: &str) -> Option<&str> {
    Namespace::of(key).map(|n| n.as_str())
}

#[test]
fn namespace_is_text_before_first_colon() {
    assert_eq!(namespace_of("users:42"), Some("users"));
    assert_eq!(namespace_of("users:42:x"), Some("users"));
    assert_eq!(namespace_of("plain"), None);
    assert_eq!(namespace_of(":x"), None);
}

#[test]
fn a_parsed_key_carries_its_namespace() {
    let ns = |key| CacheKey::parse(key).unwrap().namespace().map(|n| n.as_str());
    assert_eq!(ns("users:42"), Some("users"));
    assert_eq!(ns("plain"), None);
    assert_eq!(ns(&format!("{}:x", "n".repeat(MAX_NAMESPACE_BYTES + 1))), None);
    assert_eq!(CacheKey::parse("users:42").unwrap().as_str(), "users:42");
}

#[test]
fn bad_keys_and_namespaces_are_refused() {
    assert!(CacheKey::parse("").is_err());
    assert!(CacheKey::parse(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
    assert!(CacheKey::parse("ok").is_ok());
    assert!(Namespace::parse("").is_err());
    assert!(Namespace::parse("a:b").is_err());
    assert!(Namespace::parse(&"n".repeat(MAX_NAMESPACE_BYTES + 1)).is_err());
    assert!(Namespace::parse("users").is_ok());
}
