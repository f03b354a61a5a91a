//! Tests of function keys (the default cache is exercised by the
//! integration tests, which own their process).

use super::*;

#[test]
fn keys_are_prefix_namespaced_and_deterministic() {
    let a = function_key("user_data", &(7u64, "x"));
    assert_eq!(a, function_key("user_data", &(7u64, "x")));
    assert_ne!(a, function_key("user_data", &(8u64, "x")));
    assert!(a.starts_with("user_data:"));
    assert_eq!(crate::key::namespace_of(&a), Some("user_data"));
}

#[test]
fn long_arguments_are_hashed() {
    let long = "y".repeat(1000);
    let k = function_key("p", &(long.as_str(),));
    assert!(k.len() < 64, "{k}");
    assert_ne!(k, function_key("p", &(&long[1..],)));
}
