//! Tests of glob parsing and matching.

use super::*;

fn check(pattern: &str, text: &str, expected: bool) {
    let p = Pattern::parse(pattern).unwrap();
    assert_eq!(p.matches(text), expected, "{pattern:?} against {text:?}");
}

fn refused(pattern: &str) {
    assert!(matches!(Pattern::parse(pattern), Err(CacheError::InvalidPattern { .. })), "{pattern:?} should be refused");
}

#[test]
fn star_matches_any_run() {
    check("dashboard:*", "dashboard:summary", true);
    check("dashboard:*", "dashboard:", true);
    check("dashboard:*", "dash:x", false);
    check("*:42", "users:42", true);
    check("*:42", "users:421", false);
    check("a*b*c", "aXXbYYbZc", true);
    check("a*b*c", "aXXbYY", false);
    check("*", "", true);
}

#[test]
fn question_mark_matches_one_char() {
    check("user?", "users", true);
    check("user?", "user", false);
    check("user?", "userss", false);
}

#[test]
fn classes_and_ranges() {
    check("v[12]", "v1", true);
    check("v[12]", "v3", false);
    check("v[a-c]x", "vbx", true);
    check("v[^a-c]x", "vbx", false);
    check("v[!a-c]x", "vdx", true);
    check("v[a-]", "v-", true);
    // Reversed ranges match as if written in order (Redis does the same).
    check("v[c-a]x", "vbx", true);
    check("v[c-a]x", "vdx", false);
}

#[test]
fn escapes_are_literal() {
    check("a\\*b", "a*b", true);
    check("a\\*b", "aXb", false);
}

#[test]
fn malformed_patterns_are_refused() {
    refused("");
    refused("[abc");
    refused("[]");
    refused("abc\\");
    refused(&"a".repeat(MAX_PATTERN_BYTES + 1));
    refused(&"*x".repeat(MAX_STARS + 1));
    refused("a\nb");
}

#[cfg(feature = "redis")]
#[test]
fn redis_form_escapes_literals() {
    assert_eq!(Pattern::parse("users:*").unwrap().to_redis(), "users:*");
    assert_eq!(Pattern::parse("a\\*[^x-z]?").unwrap().to_redis(), "a\\*[^x-z]?");
    assert_eq!(escape_redis_glob("pk[1]:"), "pk\\[1\\]:");
}
