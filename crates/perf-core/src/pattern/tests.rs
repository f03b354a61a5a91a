//! Tests of the key pattern grammar and matching.

use super::*;

fn check(pattern: &str, text: &str, expected: bool) {
    let p = KeyPattern::parse(pattern).unwrap();
    assert_eq!(p.matches(text), expected, "{pattern:?} against {text:?}");
}

fn refused(pattern: &str) {
    assert!(matches!(KeyPattern::parse(pattern), Err(PatternError { .. })), "{pattern:?} should be refused");
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
    refused(&"*x".repeat(MAX_PATTERN_STARS + 1));
    refused("a\nb");
}

#[test]
fn redis_form_escapes_literals() {
    assert_eq!(KeyPattern::parse("users:*").unwrap().to_redis_match(), "users:*");
    assert_eq!(KeyPattern::parse("a\\*[^x-z]?").unwrap().to_redis_match(), "a\\*[^x-z]?");
    assert_eq!(escape_glob("pk[1]:"), "pk\\[1\\]:");
}

/// The rules the HTTP API documents (its OpenAPI regular expression) are
/// the rules the tiers match by: one grammar.
#[test]
fn the_documented_grammar() {
    let ok = |p: &str| assert!(KeyPattern::parse(p).is_ok(), "{p:?} should parse");
    ok("dashboard:*");
    ok("user_?:[abc]*");
    ok(&"x".repeat(MAX_PATTERN_BYTES));
    ok("[!a-c]x");
    ok("[\\]]");
    ok("[*]");
    ok(&"*".repeat(MAX_PATTERN_STARS));
    ok(&format!("{}\\*", "*".repeat(MAX_PATTERN_STARS)));
    ok("[*]".repeat(MAX_PATTERN_STARS + 1).as_str());
    for bad in ["a b", "abc]", "[a[b]]", "[^]]", "[!]", "é", "a\tb", "[a-[]", "[a\\"] {
        refused(bad);
    }
}

#[test]
fn errors_say_why_and_clip_the_pattern() {
    let e = KeyPattern::parse(&"é".repeat(200)).unwrap_err();
    assert_eq!(e.reason(), "pattern is longer than 256 bytes");
    assert!(e.pattern().len() <= 64 && "é".repeat(200).starts_with(e.pattern()));
    assert_eq!(KeyPattern::parse("a]").unwrap_err().reason(), "unmatched ']'");
    assert_eq!("users:*".parse::<KeyPattern>().unwrap().to_string(), "users:*");
}
