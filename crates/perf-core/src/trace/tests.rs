//! `traceparent` reading and writing against the W3C Trace Context rules.

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

const SPEC_EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn parse(s: &str) -> Option<TraceContext> {
    TraceContext::continue_from(s.as_bytes())
}

#[test]
fn the_specification_example_continues_its_trace_under_a_new_span() {
    let ctx = parse(SPEC_EXAMPLE).unwrap();
    assert_eq!(ctx.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(ctx.parent().unwrap().to_string(), "00f067aa0ba902b7");
    assert_ne!(ctx.span_id(), ctx.parent().unwrap());
    assert!(ctx.is_sampled());
    let next = ctx.to_string();
    assert_eq!(next.len(), TRACEPARENT_LEN);
    assert!(next.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert!(next.ends_with("-01"));
    assert_eq!(&next[36..52], ctx.span_id().to_string());
    assert_eq!(parse(&next).unwrap().trace_id(), ctx.trace_id());
}

#[test]
fn flags_pass_through_and_the_unsampled_flag_is_kept() {
    let ctx = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
    assert!(!ctx.is_sampled());
    assert!(ctx.to_string().ends_with("-00"));
}

#[test]
fn invalid_values_are_refused() {
    let refused = [
        "",
        "00",
        // all-zero ids
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        // upper case hex
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        // version ff, bad version, bad flags
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
        // wrong delimiters and lengths
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        // version 00 allows nothing after the flags
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-010",
        // a later version needs a dash after the flags if anything follows
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01extra",
    ];
    for value in refused {
        assert_eq!(parse(value), None, "{value:?} must be refused");
    }
}

#[test]
fn later_versions_are_read_by_their_version_00_prefix() {
    let ctx = parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff-what-the-future-adds").unwrap();
    assert_eq!(ctx.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    // Only the sampled bit of a later version is read, and passed on under 00.
    assert_eq!(ctx.flags(), 0x01);
    assert!(ctx.to_string().starts_with("00-"));
    assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_some());
}

#[test]
fn optional_white_space_around_the_value_is_ignored() {
    let padded = format!(" \t{SPEC_EXAMPLE}\t ");
    assert_eq!(parse(&padded).unwrap().trace_id(), parse(SPEC_EXAMPLE).unwrap().trace_id());
}

#[test]
fn a_missing_or_invalid_header_starts_a_new_sampled_trace() {
    let started = TraceContext::continue_or_start(None);
    assert_eq!(started.parent(), None);
    assert!(started.is_sampled());
    let refused = TraceContext::continue_or_start(Some(b"00-zz"));
    assert_eq!(refused.parent(), None);
    let continued = TraceContext::continue_or_start(Some(SPEC_EXAMPLE.as_bytes()));
    assert_eq!(continued.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    // What a started trace writes is read back as the same trace.
    let read = parse(&started.to_string()).unwrap();
    assert_eq!((read.trace_id(), read.parent()), (started.trace_id(), Some(started.span_id())));
}

#[test]
fn new_ids_do_not_repeat_within_or_across_threads() {
    let mut seen: HashSet<TraceId> = (0..10_000).map(|_| TraceId::random()).collect();
    assert_eq!(seen.len(), 10_000);
    let other: Vec<TraceId> = std::thread::spawn(|| (0..10_000).map(|_| TraceId::random()).collect()).join().unwrap();
    seen.extend(other);
    assert_eq!(seen.len(), 20_000);
    let spans: HashSet<SpanId> = (0..10_000).map(|_| SpanId::random()).collect();
    assert_eq!(spans.len(), 10_000);
}

#[test]
fn ids_read_and_write_as_lowercase_hex_in_json() {
    let id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
    let json = serde_json::to_string(&id).unwrap();
    assert_eq!(json, "\"4bf92f3577b34da6a3ce929d0e0e4736\"");
    assert_eq!(serde_json::from_str::<TraceId>(&json).unwrap(), id);
    assert!(serde_json::from_str::<TraceId>("\"00000000000000000000000000000000\"").is_err());
    assert!("4BF92F3577B34DA6A3CE929D0E0E4736".parse::<TraceId>().is_err());
    assert!("00f067aa0ba902b7".parse::<SpanId>().is_ok());
    assert_eq!(format!("{id:?}"), "TraceId(4bf92f3577b34da6a3ce929d0e0e4736)");
}

proptest! {
    #[test]
    fn any_bytes_are_refused_or_read_consistently(value in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Some(ctx) = TraceContext::continue_from(&value) {
            let written = ctx.traceparent();
            let again = TraceContext::continue_from(&written).unwrap();
            prop_assert_eq!(again.trace_id(), ctx.trace_id());
            prop_assert_eq!(again.parent(), Some(ctx.span_id()));
            prop_assert_eq!(again.flags(), ctx.flags());
        }
    }

    #[test]
    fn every_valid_version_00_value_is_read(trace in any::<[u8; 16]>(), parent in any::<[u8; 8]>(), flags in any::<u8>()) {
        prop_assume!(trace != [0; 16] && parent != [0; 8]);
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let value = format!("00-{}-{}-{flags:02x}", hex(&trace), hex(&parent));
        let ctx = TraceContext::continue_from(value.as_bytes()).unwrap();
        prop_assert_eq!(ctx.trace_id().to_bytes(), trace);
        prop_assert_eq!(ctx.parent().unwrap().to_bytes(), parent);
        prop_assert_eq!(ctx.flags(), flags & 0x03, "reserved flags are sent on as zero");
    }
}
