//! Tests of key and namespace rules.

use super::*;

#[test]
fn namespace_is_text_before_first_colon() {
    assert_eq!(namespace_of("users:42"), Some("users"));
    assert_eq!(namespace_of("users:42:x"), Some("users"));
    assert_eq!(namespace_of("plain"), None);
    assert_eq!(namespace_of(":x"), None);
}

#[test]
fn bad_keys_and_namespaces_are_refused() {
    assert!(check_key("").is_err());
    assert!(check_key(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
    assert!(check_key("ok").is_ok());
    assert!(check_namespace("").is_err());
    assert!(check_namespace("a:b").is_err());
    assert!(check_namespace(&"n".repeat(MAX_NAMESPACE_BYTES + 1)).is_err());
    assert!(check_namespace("users").is_ok());
}
