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
