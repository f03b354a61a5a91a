//! W3C Trace Context: the trace a request belongs to, read from an incoming
//! `traceparent` header or started here, and written back for the next hop.
//!
//! Only the `traceparent` header is handled (version `00` and the forward
//! compatible reading of later versions that the specification asks for);
//! `tracestate` is the application's to forward. Ids are made by a per
//! thread SplitMix64 generator seeded from the standard library's random
//! hasher keys: unpredictable enough to be unique across instances, not a
//! secret and not for anything that needs cryptographic randomness.

use std::{
    cell::Cell,
    collections::hash_map::RandomState,
    fmt,
    hash::{BuildHasher, Hasher},
    str::FromStr,
};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// The length of a `traceparent` value of version `00`:
/// `00-<32 hex>-<16 hex>-<2 hex>`.
pub const TRACEPARENT_LEN: usize = 55;

/// The trace flag that says the caller records this trace (`sampled`).
const SAMPLED: u8 = 0x01;
/// The flags version `00` defines: `sampled` and `random`.
const KNOWN_FLAGS: u8 = 0x03;

/// A 16-byte trace id, never all zeros; shown as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId([u8; 16]);

/// An 8-byte span id, never all zeros; shown as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId([u8; 8]);

macro_rules! hex_id {
    ($ty:ident, $n:literal, $what:literal) => {
        impl $ty {
            /// The id from its bytes; `None` for all zeros, which the
            /// specification reserves as invalid.
            pub fn from_bytes(bytes: [u8; $n]) -> Option<Self> {
                (bytes != [0; $n]).then_some($ty(bytes))
            }

            /// The id's bytes.
            pub const fn to_bytes(self) -> [u8; $n] {
                self.0
            }

            /// A new random id.
            pub fn random() -> Self {
                loop {
                    let mut bytes = [0; $n];
                    for chunk in bytes.chunks_mut(8) {
                        chunk.copy_from_slice(&next_random().to_be_bytes()[..chunk.len()]);
                    }
                    if let Some(id) = Self::from_bytes(bytes) {
                        return id;
                    }
                }
            }

            /// Reads exactly `2 * N` lowercase hex digits.
            fn parse_hex(text: &[u8]) -> Option<Self> {
                if text.len() != 2 * $n {
                    return None;
                }
                let mut bytes = [0; $n];
                for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
                    *byte = hex_value(pair[0])? << 4 | hex_value(pair[1])?;
                }
                Self::from_bytes(bytes)
            }

            /// Writes the id as lowercase hex into `out`, which is `2 * N` bytes.
            fn write_hex(&self, out: &mut [u8]) {
                for (pair, byte) in out.chunks_exact_mut(2).zip(self.0) {
                    pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut out = [0; 2 * $n];
                self.write_hex(&mut out);
                // Hex digits are ASCII.
                f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($ty), "({})"), self)
            }
        }

        impl FromStr for $ty {
            type Err = InvalidId;

            /// Reads the id from its lowercase hex form, as `traceparent` writes it.
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Self::parse_hex(s.as_bytes()).ok_or(InvalidId { what: $what, len: 2 * $n })
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(de::Error::custom)
            }
        }
    };
}

hex_id!(TraceId, 16, "trace id");
hex_id!(SpanId, 8, "span id");

/// Text that is not a valid trace or span id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {what} is {len} lowercase hex digits, not all zero")]
pub struct InvalidId {
    what: &'static str,
    len: usize,
}

/// The trace context of one request: the trace it belongs to, the span
/// perfkit opens for it, and the caller's span when the trace came in with
/// the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: TraceId,
    span_id: SpanId,
    parent: Option<SpanId>,
    flags: u8,
}

impl TraceContext {
    /// A new trace, marked sampled (perfkit records every request).
    pub fn start() -> Self {
        // One visit to the thread's generator for all three words.
        let (hi, lo, span) = RANDOM.with(|state| (step(state), step(state), step(state)));
        let mut trace = [0; 16];
        trace[..8].copy_from_slice(&hi.to_be_bytes());
        trace[8..].copy_from_slice(&lo.to_be_bytes());
        match (TraceId::from_bytes(trace), SpanId::from_bytes(span.to_be_bytes())) {
            (Some(trace_id), Some(span_id)) => TraceContext { trace_id, span_id, parent: None, flags: SAMPLED },
            // All zeros, once in 2^64 starts: draw again.
            _ => TraceContext { trace_id: TraceId::random(), span_id: SpanId::random(), parent: None, flags: SAMPLED },
        }
    }

    /// Continues the trace of an incoming `traceparent` header value: the
    /// caller's trace id and flags, the caller's span as parent and a new span
    /// id for this request. `None` when the value is not a valid
    /// `traceparent`, in which case the specification asks for a new trace
    /// ([`TraceContext::start`]).
    ///
    /// Version `00` must be exactly 55 characters. A later version is read
    /// by its first 55 characters, which must be followed by the end or a
    /// `-`; version `ff` is invalid. Upper-case hex is invalid. Surrounding
    /// spaces and tabs (HTTP's optional white space) are ignored.
    pub fn continue_from(traceparent: &[u8]) -> Option<Self> {
        let value = trim_ows(traceparent);
        if value.len() < TRACEPARENT_LEN {
            return None;
        }
        let version = hex_value(value[0])? << 4 | hex_value(value[1])?;
        let exact = match version {
            0xff => return None,
            0x00 => value.len() == TRACEPARENT_LEN,
            _ => value.len() == TRACEPARENT_LEN || value[TRACEPARENT_LEN] == b'-',
        };
        if !exact || value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
            return None;
        }
        let trace_id = TraceId::parse_hex(&value[3..35])?;
        let parent = SpanId::parse_hex(&value[36..52])?;
        let flags = hex_value(value[53])? << 4 | hex_value(value[54])?;
        // Version 00 defines `sampled` and (Trace Context level 2) `random`;
        // the other bits are reserved and sent on as zero. Of a later
        // version only the sampled bit is read, as the specification says.
        let flags = if version == 0 { flags & KNOWN_FLAGS } else { flags & SAMPLED };
        Some(TraceContext { trace_id, span_id: SpanId::random(), parent: Some(parent), flags })
    }

    /// [`TraceContext::continue_from`] when a header came, else a new trace.
    pub fn continue_or_start(traceparent: Option<&[u8]>) -> Self {
        traceparent.and_then(Self::continue_from).unwrap_or_else(Self::start)
    }

    /// The trace id.
    pub const fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span id of this request's span.
    pub const fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The caller's span, when the trace came in with the request.
    pub const fn parent(&self) -> Option<SpanId> {
        self.parent
    }

    /// The trace flags (bit 0: sampled).
    pub const fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the caller (or perfkit, for a trace it started) records the trace.
    pub const fn is_sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }

    /// The `traceparent` value naming this request's span as the parent of
    /// the next hop (version `00`).
    pub fn traceparent(&self) -> [u8; TRACEPARENT_LEN] {
        let mut out = [b'-'; TRACEPARENT_LEN];
        out[0] = b'0';
        out[1] = b'0';
        self.trace_id.write_hex(&mut out[3..35]);
        self.span_id.write_hex(&mut out[36..52]);
        out[53] = HEX[usize::from(self.flags >> 4)];
        out[54] = HEX[usize::from(self.flags & 0x0f)];
        out
    }
}

impl fmt::Display for TraceContext {
    /// The [`TraceContext::traceparent`] value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.traceparent()).map_err(|_| fmt::Error)?)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The two lowercase hex digits of every byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    let mut pairs = [[0; 2]; 256];
    let mut i = 0;
    while i < 256 {
        pairs[i] = [HEX[i >> 4], HEX[i & 0x0f]];
        i += 1;
    }
    pairs
};

/// The value of one lowercase hex digit.
const fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

thread_local! {
    /// This thread's SplitMix64 state, seeded once from the standard
    /// library's per-process random keys and the thread's own address.
    static RANDOM: Cell<u64> = Cell::new({
        let mut h = RandomState::new().build_hasher();
        h.write_usize(&h as *const _ as usize);
        h.finish()
    });
}

/// The next value of this thread's SplitMix64 sequence.
fn next_random() -> u64 {
    RANDOM.with(step)
}

/// One SplitMix64 step of `state`.
#[inline]
fn step(state: &Cell<u64>) -> u64 {
    let s = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
    state.set(s);
    let mut z = s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;
