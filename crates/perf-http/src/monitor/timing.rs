//! The `Server-Timing` header value of [`PerfMonitor`](super::PerfMonitor),
//! written on the stack and split off a per-worker buffer.

use std::time::Duration;

use actix_web::{http::header::HeaderValue, web::BytesMut};
use perf_core::{RequestScope, TraceContext};

/// `total;dur=12.345, db;dur=1.200;desc="3 queries", cache;desc="2 hits 1 misses"`,
/// written on the stack with integer arithmetic (no `core::fmt`), then
/// split off `buf` as the header value's bytes (no allocation while `buf`
/// has room or can reclaim the room of values already dropped).
pub(super) fn server_timing_value(total: Duration, scope: &RequestScope, buf: &mut BytesMut) -> Option<HeaderValue> {
    let mut out = StackText::new();
    out.push("total;dur=");
    out.push_millis(total);
    let queries = scope.query_count();
    if queries > 0 {
        out.push(", db;dur=");
        out.push_millis(scope.query_time());
        out.push(";desc=\"");
        out.push_u64(u64::from(queries));
        out.push(" queries\"");
    }
    let (hits, misses) = (scope.cache_hits(), scope.cache_misses());
    if hits + misses > 0 {
        out.push(", cache;desc=\"");
        out.push_u64(u64::from(hits));
        out.push(" hits ");
        out.push_u64(u64::from(misses));
        out.push(" misses\"");
    }
    let text = out.as_bytes()?;
    // Reclaims the buffer when every earlier value is gone, else allocates
    // another of the buffer's first capacity.
    buf.reserve(text.len());
    buf.extend_from_slice(text);
    HeaderValue::from_maybe_shared(buf.split().freeze()).ok()
}

/// The `traceparent` value naming this request's span, for the response
/// (written with `Server-Timing`), split off `buf` like it.
pub(super) fn traceparent_value(trace: &TraceContext, buf: &mut BytesMut) -> Option<HeaderValue> {
    let text = trace.traceparent();
    buf.reserve(text.len());
    buf.extend_from_slice(&text);
    HeaderValue::from_maybe_shared(buf.split().freeze()).ok()
}

/// Bytes of a worker's `Server-Timing` buffer.
pub(super) const TIMING_BUFFER: usize = 4_096;

/// A fixed buffer for the `Server-Timing` value. Writing past its end marks
/// it overflowed (the value is then dropped, never cut short).
pub(super) struct StackText {
    buf: [u8; 160],
    len: usize,
    overflowed: bool,
}

impl StackText {
    pub(super) fn new() -> Self {
        StackText { buf: [0; 160], len: 0, overflowed: false }
    }

    pub(super) fn push_bytes(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.overflowed = true,
        }
    }

    pub(super) fn push(&mut self, text: &str) {
        self.push_bytes(text.as_bytes());
    }

    /// `n` in decimal.
    pub(super) fn push_u64(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            // `n % 10` is below 10, so the cast keeps its value.
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push_bytes(&digits[at..]);
    }

    /// `d` in milliseconds with three decimals (`12.345`), truncated to the microsecond.
    pub(super) fn push_millis(&mut self, d: Duration) {
        let micros = d.subsec_micros();
        self.push_u64(d.as_secs().saturating_mul(1_000).saturating_add(u64::from(micros / 1_000)));
        let frac = micros % 1_000;
        // Each digit is below 10, so the casts keep their values.
        self.push_bytes(&[b'.', b'0' + (frac / 100) as u8, b'0' + (frac / 10 % 10) as u8, b'0' + (frac % 10) as u8]);
    }

    pub(super) fn as_bytes(&self) -> Option<&[u8]> {
        (!self.overflowed).then(|| &self.buf[..self.len])
    }
}
