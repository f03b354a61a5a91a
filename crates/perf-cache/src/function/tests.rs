//! Tests of function keys (the default cache is exercised by the
//! integration tests, which own their process).

use super::*;

#[test]
fn keys_are_prefix_namespaced_and_deterministic() {
    let a = function_key("user_data", &(7u64, "x"));
    assert_eq!(a, function_key("user_data", &(7u64, "x")));
    assert_ne!(a, function_key("user_data", &(8u64, "x")));
    let a = a.as_str().unwrap();
    assert!(a.starts_with("user_data:"));
    assert_eq!(perf_core::Namespace::of(a).map(|ns| ns.as_str()), Some("user_data"));
}

#[test]
fn long_arguments_are_hashed() {
    let long = "y".repeat(1000);
    let k = function_key("p", &(long.as_str(),));
    assert!(k.as_str().unwrap().len() < 64, "{k:?}");
    assert_ne!(k, function_key("p", &(&long[1..],)));
}

/// An argument whose `Serialize` fails.
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("not encodable"))
    }
}

#[test]
fn unencodable_arguments_give_no_key() {
    assert_eq!(function_key("p", &(1u8, Unencodable)).as_str(), None);
    assert_eq!(FunctionKey::from("p:01").as_str(), Some("p:01"));
}
