//! Unit tests of label escaping and value formatting.

use super::{escape_label, write_value};

fn escaped(v: &str) -> String {
    let mut s = String::new();
    escape_label(&mut s, v);
    s
}

#[test]
fn label_values_escape_backslash_quote_and_newline() {
    assert_eq!(escaped("plain /a/{id}"), "plain /a/{id}");
    assert_eq!(escaped(r#"a"b"#), r#"a\"b"#);
    assert_eq!(escaped(r"a\b"), r"a\\b");
    assert_eq!(escaped("a\nb"), r"a\nb");
}

#[test]
fn special_values_use_prometheus_spelling() {
    let mut s = String::new();
    write_value(&mut s, f64::NAN);
    s.push(' ');
    write_value(&mut s, f64::INFINITY);
    s.push(' ');
    write_value(&mut s, 0.25);
    assert_eq!(s, "NaN +Inf 0.25");
}

#[test]
fn openmetrics_is_chosen_by_the_accept_header_and_its_q_values() {
    use super::wants_openmetrics as om;
    // Prometheus 2.42's scrape header.
    assert!(om(
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    ));
    assert!(om("application/openmetrics-text"));
    assert!(om("application/openmetrics-text; version=0.0.1"));
    assert!(om("APPLICATION/OPENMETRICS-TEXT;VERSION=1.0.0"));
    assert!(om("text/plain;q=0.5, application/openmetrics-text;q=0.6"));
    assert!(om("text/plain, application/openmetrics-text"), "a tie goes to the format named");
    assert!(om("*/*;q=0.1, application/openmetrics-text;q=0.2"));
    for plain in [
        "",
        "*/*",
        "text/plain",
        "text/plain;version=0.0.4",
        "application/json",
        "application/openmetrics-text;q=0",
        "application/openmetrics-text;q=bad",
        "application/openmetrics-text;q=0.4, text/plain;q=0.5",
        "application/openmetrics-text;q=0.4, text/*",
        "application/*",
        "*/*, application/openmetrics-text;q=0.2",
    ] {
        assert!(!om(plain), "{plain:?}");
    }
}
