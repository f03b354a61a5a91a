//! The failure log's counting and its once-per-minute warning limit.

use super::*;

fn at(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(1_700_000_000 + secs)
}

#[test]
fn a_cause_is_logged_once_per_minute_with_what_was_suppressed() {
    let log = FailureLog::default();
    assert_eq!(log.command("OOM", "oom 1".into(), at(0)), Some(0));
    assert_eq!(log.command("OOM", "oom 2".into(), at(1)), None);
    assert_eq!(log.command("OOM", "oom 3".into(), at(59)), None);
    // Another cause has its own limit.
    assert_eq!(log.command("READONLY", "ro".into(), at(30)), Some(0));
    assert_eq!(log.command("OOM", "oom 4".into(), at(60)), Some(2));
    assert_eq!(log.command("OOM", "oom 5".into(), at(61)), None);
    assert_eq!(log.command("OOM", "oom 6".into(), at(200)), Some(1));

    let snap = log.snapshot();
    assert_eq!(snap.unreachable, 0);
    assert_eq!(snap.command_errors["OOM"].count, 6);
    assert_eq!(snap.command_errors["OOM"].last, TierErrorCause { message: "oom 6".into(), at: at(200) });
    assert_eq!(snap.command_errors["READONLY"].count, 1);
}

#[test]
fn unreachable_probes_keep_the_cause_but_only_operations_count() {
    let log = FailureLog::default();
    log.unreachable("refused".into(), at(1), true);
    log.unreachable("timed out".into(), at(2), false);
    let snap = log.snapshot();
    assert_eq!(snap.unreachable, 1);
    assert_eq!(snap.last_unreachable, Some(TierErrorCause { message: "timed out".into(), at: at(2) }));
    assert!(snap.command_errors.is_empty());
}

#[test]
fn causes_past_the_cap_fold_into_other() {
    let log = FailureLog::default();
    for i in 0..MAX_CAUSES + 5 {
        log.command(&format!("E{i}"), "x".into(), at(0));
    }
    let snap = log.snapshot();
    assert_eq!(snap.command_errors.len(), MAX_CAUSES + 1);
    assert_eq!(snap.command_errors["OTHER"].count, 5);
    // A cause already kept is still counted under its own name.
    log.command("E0", "x".into(), at(0));
    assert_eq!(log.snapshot().command_errors["E0"].count, 2);
}
