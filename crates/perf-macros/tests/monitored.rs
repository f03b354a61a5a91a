//! `#[monitored]` expansions compiled against a stand-in for perf-db's two
//! functions (this test crate plays `perf_db`).
#![allow(clippy::unwrap_used)]

extern crate self as perf_db;

use std::{
    future::Future,
    sync::Mutex,
    task::{Context, Poll, Waker},
};

use perf_macros::monitored;

static CALLS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Stand-in for `perf_db::monitored`.
pub fn monitored<R>(name: &str, f: impl FnOnce() -> R) -> R {
    CALLS.lock().unwrap().push(name.to_owned());
    f()
}

/// Stand-in for `perf_db::monitored_async`.
pub async fn monitored_async<F: Future>(name: &str, fut: F) -> F::Output {
    CALLS.lock().unwrap().push(name.to_owned());
    fut.await
}

fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[monitored]
fn add_one(x: u32) -> u32 {
    x + 1
}

#[monitored(name = "parse_job")]
fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    if n == 0 {
        return Ok(100);
    }
    Ok(n)
}

#[monitored]
async fn parse_async(s: String) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    if n == 0 {
        return Ok(100);
    }
    Ok(n * 2)
}

#[test]
fn sync_and_async_bodies_run_inside_the_named_unit() {
    assert_eq!(add_one(1), 2);
    assert_eq!(parse("0"), Ok(100));
    assert!(parse("x").is_err());
    assert_eq!(block_on(parse_async("4".into())), Ok(8));
    assert!(block_on(parse_async("y".into())).is_err());
    let calls = CALLS.lock().unwrap().clone();
    assert_eq!(calls, vec!["add_one", "parse_job", "parse_job", "parse_async", "parse_async"]);
}
