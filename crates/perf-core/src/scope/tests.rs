//! Tests of request scopes: interleaving on one thread, binding into other threads.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, Waker},
};

use super::*;

/// Yields once, so two futures interleave on one thread.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

async fn handler(queries: u32) -> u32 {
    for _ in 0..queries {
        RequestScope::with_current(|s| {
            s.expect("a scope is current during polls").record_query(7, Duration::from_micros(5))
        });
        YieldNow(false).await;
    }
    RequestScope::with_current(|s| s.map_or(0, RequestScope::query_count))
}

#[test]
fn two_interleaved_requests_on_one_thread_keep_their_own_counts() {
    let a = RequestScope::new("GET /a");
    let b = RequestScope::new("GET /b");
    let mut fa = std::pin::pin!(a.instrument(handler(3)));
    let mut fb = std::pin::pin!(b.instrument(handler(5)));
    let mut cx = Context::from_waker(Waker::noop());
    let (mut ra, mut rb) = (None, None);
    while ra.is_none() || rb.is_none() {
        if ra.is_none()
            && let Poll::Ready(v) = fa.as_mut().poll(&mut cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = fb.as_mut().poll(&mut cx)
        {
            rb = Some(v);
        }
        assert!(RequestScope::current().is_none(), "no scope leaks between polls");
    }
    assert_eq!((ra, rb), (Some(3), Some(5)));
    assert_eq!(a.query_count(), 3);
    assert_eq!(b.query_count(), 5);
    assert_eq!(a.fingerprint_stats(7).map(|s| s.0), Some(3));
}

#[test]
fn bind_current_carries_the_scope_to_another_thread() {
    let scope = RequestScope::new("GET /x");
    let task = {
        let _g = scope.enter();
        bind_current(|| RequestScope::with_current(|s| s.map(|s| s.record_query(1, Duration::from_millis(1)))))
    };
    let n = std::thread::spawn(task).join().unwrap();
    assert_eq!(n, Some(1));
    assert_eq!(scope.query_count(), 1);
    assert_eq!(scope.query_time(), Duration::from_millis(1));
}

#[test]
fn bind_current_without_a_scope_runs_without_one() {
    let task = bind_current(|| RequestScope::current().is_none());
    assert!(std::thread::spawn(task).join().unwrap());
}

#[test]
fn nested_enter_restores_the_outer_scope() {
    let outer = RequestScope::new("outer");
    let inner = RequestScope::new("inner");
    let _g = outer.enter();
    {
        let _h = inner.enter();
        assert_eq!(RequestScope::current().unwrap().label(), "inner");
    }
    assert_eq!(RequestScope::current().unwrap().label(), "outer");
}

#[test]
fn fingerprint_table_is_bounded() {
    let scope = RequestScope::new("GET /many");
    for fp in 0..(MAX_FINGERPRINTS_PER_SCOPE as u64 + 10) {
        scope.record_query(fp, Duration::ZERO);
    }
    assert_eq!(scope.query_count(), MAX_FINGERPRINTS_PER_SCOPE as u32 + 10);
    assert_eq!(scope.record_query(10_000, Duration::ZERO), 0);
    assert_eq!(scope.record_query(0, Duration::ZERO), 2);
}

#[test]
fn cache_lookups_are_counted() {
    let scope = RequestScope::new("GET /c");
    scope.record_cache(true);
    scope.record_cache(false);
    scope.record_cache(true);
    assert_eq!((scope.cache_hits(), scope.cache_misses()), (2, 1));
}

#[test]
fn n_plus_one_findings_report_the_final_count_once() {
    let scope = RequestScope::new("GET /r");
    let text: Arc<str> = Arc::from("SELECT * FROM plants WHERE id = ?");
    for i in 1..=12u32 {
        let n = scope.record_query(7, Duration::from_millis(2));
        assert_eq!(n, i);
        if n == 5 {
            scope.flag_n_plus_one(7, &text);
        }
        // A second flag keeps the one finding.
        if n == 6 {
            scope.flag_n_plus_one(7, &text);
        }
    }
    scope.record_query(8, Duration::from_millis(1));
    let mut seen = Vec::new();
    scope.take_n_plus_one_findings(|fp, count, time| seen.push((fp.to_owned(), count, time)));
    assert_eq!(seen, [(text.to_string(), 12, Duration::from_millis(24))]);
    let mut again = 0;
    scope.take_n_plus_one_findings(|_, _, _| again += 1);
    assert_eq!(again, 0);
}
