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

/// Redis's own glob matcher (`stringmatchlen` in util.c, case-sensitive),
/// ported line by line, to check what `to_redis_match` hands to `SCAN MATCH`.
fn redis_glob(mut p: &[u8], mut s: &[u8]) -> bool {
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                return (0..s.len()).any(|i| redis_glob(&p[1..], &s[i..]));
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    if p.is_empty() {
                        break;
                    } else if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        matched |= p[0] == s[0];
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (lo, hi) = (p[0].min(p[2]), p[0].max(p[2]));
                        p = &p[2..];
                        matched |= (lo..=hi).contains(&s[0]);
                    } else {
                        matched |= p[0] == s[0];
                    }
                    p = &p[1..];
                }
                if matched == not {
                    return false;
                }
                s = &s[1..];
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if p[0] != s[0] {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if c != s[0] {
                    return false;
                }
                s = &s[1..];
            }
        }
        if !p.is_empty() {
            p = &p[1..];
        }
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

/// Redis matches exactly the keys `matches` does, for every pattern over a
/// small alphabet of Redis's special characters (up to 5 characters) and
/// every key over it (up to 2 characters). Redis sees both behind a fixed
/// prefix, as the Redis tier sends them (`<prefix>k:<pattern>`).
#[test]
fn redis_matches_the_keys_the_pattern_matches() {
    const ALPHABET: &[u8] = b"a*?[]\\^-!z";
    let strings = |max: usize| {
        let mut all = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..max {
            last = last
                .iter()
                .flat_map(|s: &Vec<u8>| ALPHABET.iter().map(move |&c| [s.as_slice(), &[c]].concat()))
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    };
    let keys: Vec<String> = strings(2).into_iter().map(|k| String::from_utf8(k).unwrap()).collect();
    let (mut checked, mut ranges) = (0, 0);
    for raw in strings(5) {
        let Ok(pattern) = KeyPattern::parse(std::str::from_utf8(&raw).unwrap()) else { continue };
        let redis = pattern.to_redis_match();
        ranges += usize::from(pattern.as_str().contains('-') && pattern.as_str().contains('['));
        for key in &keys {
            assert_eq!(
                redis_glob(format!("p:{redis}").as_bytes(), format!("p:{key}").as_bytes()),
                pattern.matches(key),
                "pattern {:?} (Redis form {redis:?}) on key {key:?}",
                pattern.as_str()
            );
        }
        checked += 1;
    }
    assert!(checked > 1_000 && ranges > 100, "{checked} patterns, {ranges} with ranges");
}
