//! Tests of the pending-invalidation queue.

use super::*;

/// Whether `p` affects `key`, parsed as the tiered cache parses it.
fn affects(p: &Pending, key: &str) -> bool {
    p.affects(CacheKey::parse(key).unwrap())
}

#[test]
fn keeps_ops_in_order_up_to_max() {
    let mut p = Pending::default();
    p.push(Op::Delete("users:1".into()), 3);
    p.push(Op::Invalidate("projects".into()), 3);
    assert_eq!(p.len(), 2);
    let (ops, overflow) = p.take();
    assert_eq!(ops, vec![Op::Delete("users:1".into()), Op::Invalidate("projects".into())]);
    assert_eq!(overflow, None);
    assert_eq!(p.len(), 0);
}

#[test]
fn overflow_collapses_to_namespaces() {
    let mut p = Pending::default();
    for i in 0..10 {
        p.push(Op::Delete(format!("users:{i}")), 4);
    }
    p.push(Op::Invalidate("projects".into()), 4);
    assert_eq!(p.len(), 1);
    let (ops, overflow) = p.take();
    assert!(ops.is_empty());
    let overflow = overflow.unwrap();
    assert!(!overflow.clear_all);
    assert_eq!(overflow.namespaces.into_iter().collect::<Vec<_>>(), vec!["projects".to_owned(), "users".to_owned()]);
}

#[test]
fn overflow_with_plain_key_or_clear_means_clear_all() {
    let mut p = Pending::default();
    for i in 0..5 {
        p.push(Op::Delete(format!("plain{i}")), 2);
    }
    let (_, overflow) = p.take();
    assert!(overflow.unwrap().clear_all);
    let mut p = Pending::default();
    p.push(Op::Clear(Some(KeyPattern::parse("users:*").unwrap())), 0);
    assert!(p.take().1.unwrap().clear_all);
}

#[test]
fn restore_puts_failed_ops_before_newer_ones() {
    let mut p = Pending::default();
    p.push(Op::Delete("a:1".into()), 10);
    let (ops, overflow) = p.take();
    p.push(Op::Delete("b:1".into()), 10);
    p.restore(ops, overflow, 10);
    let (ops, _) = p.take();
    assert_eq!(ops, vec![Op::Delete("a:1".into()), Op::Delete("b:1".into())]);
}

#[test]
fn affects_names_the_keys_a_queued_op_removes() {
    let mut p = Pending::default();
    assert!(!affects(&p, "users:1"));
    p.push(Op::Delete("plain".into()), 8);
    p.push(Op::Invalidate("users".into()), 8);
    p.push(Op::Clear(Some(KeyPattern::parse("dash*").unwrap())), 8);
    for (key, affected) in [
        ("plain", true),
        ("plain2", false),
        ("users:9", true),
        ("usersx:1", false),
        ("dashboard:a", true),
        ("x:1", false),
    ] {
        assert_eq!(affects(&p, key), affected, "{key}");
    }
    p.push(Op::Clear(None), 8);
    assert!(affects(&p, "x:1"));
}

#[test]
fn affects_follows_the_overflow_summary() {
    let mut p = Pending::default();
    for i in 0..3 {
        p.push(Op::Delete(format!("users:{i}")), 2);
    }
    assert!(affects(&p, "users:77"), "the summary bumps the whole namespace");
    assert!(!affects(&p, "projects:1"));
    p.push(Op::Delete("plain".into()), 2);
    assert!(affects(&p, "projects:1"), "a key without namespace collapses into a clear of everything");
}

#[test]
fn messages_round_trip_every_op() {
    let ops = [
        Op::Delete("users:7".into()),
        Op::Delete("a|b".into()),
        Op::Clear(Some(KeyPattern::parse("users:*").unwrap())),
        Op::Clear(None),
        Op::Invalidate("users".into()),
        Op::Delete(String::new()),
    ];
    for op in ops {
        let message = op.message("inst-1");
        assert_eq!(Op::from_message(message.as_bytes()), Some(("inst-1", op)), "{message}");
    }
    assert_eq!(Op::Clear(None).message("i"), "i|a|");
    assert_eq!(Op::Delete("k".into()).message("i"), "i|d|k");
}

#[test]
fn foreign_messages_are_refused() {
    for bad in [&b"i|x|k"[..], b"i|d", b"i", b"", b"i|a|stray", &[0xff, b'|', b'd', b'|', b'k']] {
        assert_eq!(Op::from_message(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
}
