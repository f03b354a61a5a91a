//! Unit tests of the API's input checks.

use super::{MAX_PATTERN_BYTES, MAX_PATTERN_STARS, clip, validate_pattern};

fn check_pattern(pattern: &str, ok: bool) {
    assert_eq!(validate_pattern(pattern).is_ok(), ok, "{pattern:?}");
}

#[test]
fn patterns_accept_globs() {
    check_pattern("dashboard:*", true);
    check_pattern("user_?:[abc]*", true);
    check_pattern("a\\*b", true);
    check_pattern(&"x".repeat(MAX_PATTERN_BYTES), true);
}

#[test]
fn patterns_refuse_malformed_or_long() {
    check_pattern("", false);
    check_pattern(&"x".repeat(MAX_PATTERN_BYTES + 1), false);
    check_pattern("a b", false);
    check_pattern("a\nb", false);
    check_pattern("[abc", false);
    check_pattern("abc]", false);
    check_pattern("[a[b]]", false);
    check_pattern("abc\\", false);
}

#[test]
fn clip_respects_char_boundaries() {
    let s = "é".repeat(40);
    assert!(clip(&s).len() <= 64);
    assert!(s.starts_with(clip(&s)));
}

#[test]
fn patterns_follow_the_cache_grammar() {
    check_pattern("[!a-c]x", true);
    check_pattern("[^]]", false);
    check_pattern("[]", false);
    check_pattern("[!]", false);
    check_pattern("[\\]]", true);
    check_pattern("[*]", true);
    check_pattern("é", false);
    check_pattern("a\tb", false);
    check_pattern(&"*".repeat(MAX_PATTERN_STARS), true);
    check_pattern(&"*".repeat(MAX_PATTERN_STARS + 1), false);
    check_pattern(&format!("{}\\*", "*".repeat(MAX_PATTERN_STARS)), true);
}
