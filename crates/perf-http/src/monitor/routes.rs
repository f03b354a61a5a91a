//! The per-worker route table of [`PerfMonitor`](super::PerfMonitor): the
//! endpoints a worker has seen (route, scope label, recorder handle, the
//! signature of the requests actix routed to them) behind a bounded memo of
//! path shapes whose guesses are checked against the routed request.

use std::{
    cell::{OnceCell, RefCell},
    collections::HashMap,
    hash::{BuildHasher, Hasher},
    rc::Rc,
    sync::Arc,
};

use actix_web::{
    HttpRequest,
    dev::{Path, Url},
};
use foldhash::fast::FixedState;
use perf_core::{EndpointKey, Method, Recorder, RequestHandle};

/// Most distinct route patterns whose scope labels a worker keeps ready.
pub(super) const MAX_CACHED_ROUTES: usize = 1_024;

/// One (method, route) a worker has seen: its route text, its ready-made
/// scope label (`"GET /api/projects/{id}"`), once its first request
/// ends the recorder's handle for it, and the [`Signature`] of the
/// requests actix routed to it.
pub(super) struct Endpoint {
    pub(super) route: Option<Rc<str>>,
    pub(super) label: Arc<str>,
    /// Whether the route table holds this endpoint: only held ones resolve
    /// (and keep) a recorder handle.
    held: bool,
    handle: OnceCell<Option<RequestHandle>>,
    /// Learnt from a routed request that `match_pattern()` placed here.
    signature: RefCell<Option<Signature>>,
}

impl Endpoint {
    pub(super) fn new(route: Option<Rc<str>>, label: Arc<str>, held: bool) -> Rc<Self> {
        Rc::new(Endpoint { route, label, held, handle: OnceCell::new(), signature: RefCell::new(None) })
    }

    /// The recorder's handle for this endpoint, resolved on first use;
    /// `None` for endpoints the table does not hold, or when the recorder
    /// offers none (the request then goes through the key map).
    #[inline]
    pub(super) fn handle(&self, recorder: &dyn Recorder, method: Method) -> Option<&RequestHandle> {
        if !self.held {
            return None;
        }
        self.handle.get_or_init(|| recorder.request_handle(method, self.route.as_deref())).as_ref()
    }

    /// Whether `info` (a routed request's match info) shows the route this
    /// endpoint learnt. Never true before one of its requests was placed by
    /// actix's own `match_pattern()`.
    #[inline]
    pub(super) fn routed_here(&self, info: &Path<Url>) -> bool {
        self.signature.borrow().as_ref().is_some_and(|s| s.matches(info))
    }

    /// Keeps the signature of `info`, a request actix routed to this
    /// endpoint, if it has none yet. Requests that matched no route teach
    /// nothing: a guard can send a path to the default service and the same
    /// path to a static resource, with the same match info.
    pub(super) fn learn(&self, info: &Path<Url>) {
        if self.route.is_none() {
            return;
        }
        let mut slot = self.signature.borrow_mut();
        if slot.is_none() {
            *slot = Signature::of(info);
        }
    }

    #[cfg(test)]
    pub(super) fn parts(&self) -> (Option<Rc<str>>, Arc<str>) {
        (self.route.clone(), self.label.clone())
    }
}

/// What a routed request's match info says about the resource that took
/// it: the names of its dynamic segments, by address, and the path text
/// around their values.
///
/// actix-router leaks each segment name of a `ResourceDef` once when the
/// definition is built and hands out that `&'static str` with every match,
/// so a name's address identifies the definition that captured it:
/// `/items/{id:\d{1,3}}` and `/items/{id}` have names at different
/// addresses. The path text around the values identifies static resources
/// and static scopes, whose text is the path itself. Two requests with equal
/// signatures were therefore routed through the same definitions, and
/// `match_pattern()` gives both the same pattern.
#[derive(Debug, PartialEq)]
pub(super) struct Signature {
    /// Address and length of each segment's name, in path order.
    names: Box<[(usize, usize)]>,
    /// The path text before each segment's value, then after the last.
    literals: Box<[Box<str>]>,
}

impl Signature {
    /// The signature of a fully matched request: `None` when part of the
    /// path is unprocessed (no resource took it) or a value is not a slice of
    /// the path, in order.
    pub(super) fn of(info: &Path<Url>) -> Option<Signature> {
        if !info.unprocessed().is_empty() {
            return None;
        }
        let path = info.as_str();
        let mut names = Vec::with_capacity(info.segment_count());
        let mut literals = Vec::with_capacity(info.segment_count() + 1);
        let mut at = 0;
        for (name, value) in info.iter() {
            let (start, end) = value_range(path, value, at)?;
            names.push((name.as_ptr() as usize, name.len()));
            literals.push(Box::from(&path[at..start]));
            at = end;
        }
        literals.push(Box::from(&path[at..]));
        Some(Signature { names: names.into(), literals: literals.into() })
    }

    /// Whether `info` has this signature (compared in place, no allocation).
    pub(super) fn matches(&self, info: &Path<Url>) -> bool {
        if info.segment_count() != self.names.len() || !info.unprocessed().is_empty() {
            return false;
        }
        let path = info.as_str();
        let mut at = 0;
        for ((name, value), (&(addr, len), literal)) in info.iter().zip(self.names.iter().zip(self.literals.iter())) {
            if name.as_ptr() as usize != addr || name.len() != len {
                return false;
            }
            let Some((start, end)) = value_range(path, value, at) else { return false };
            if path[at..start] != **literal {
                return false;
            }
            at = end;
        }
        self.literals.last().is_some_and(|last| path[at..] == **last)
    }
}

/// Where `value` lies in `path`, if it is a slice of it starting at or after `from`.
pub(super) fn value_range(path: &str, value: &str, from: usize) -> Option<(usize, usize)> {
    let start = (value.as_ptr() as usize).checked_sub(path.as_ptr() as usize)?;
    let end = start.checked_add(value.len())?;
    (start >= from && end <= path.len() && path.is_char_boundary(start)).then_some((start, end))
}

/// The route table's answer before routing: the endpoint whose label the
/// request's scope carries, and the shape slot it came from, if any.
pub(super) struct Guess {
    pub(super) endpoint: Rc<Endpoint>,
    /// (slot index, slot generation) of the shape memo entry used.
    slot: Option<(usize, u32)>,
}

/// Per-worker table of route patterns to their [`Endpoint`]s per method, so
/// a request costs no label allocation and no key lookup in the store once
/// its route has been seen.
///
/// In front of it sits a bounded, direct-mapped memo keyed by method and
/// path *shape*: the decoded path with every all-digit segment and every
/// UUID-looking segment replaced by a marker, so `/items/1` and
/// `/items/4095` share one entry. `match_pattern()` before routing walks the
/// app's routes (and runs actix's regex for every dynamic one); a shape the
/// memo knows skips that walk. The memo only guesses: when the response is
/// ready, [`RouteTable::routed`] checks the guess against the request as
/// actix routed it and records under the routed pattern; a shape whose
/// guess was wrong is poisoned and always walks from then on.
pub(super) struct RouteTable {
    /// Hashed with foldhash's fast, fixed-seed hasher: the keys are the
    /// app's own route patterns (`match_pattern` never returns request
    /// text), so flooding the table with chosen collisions is not possible.
    pub(super) routes: HashMap<String, RouteSlot, FixedState>,
    unmatched: [Option<Rc<Endpoint>>; 8],
    pub(super) shapes: Vec<ShapeSlot>,
    /// Scratch space for the shape of the request at hand.
    shape: Box<[u8; MAX_MEMO_PATH]>,
}

pub(super) struct RouteSlot {
    route: Rc<str>,
    endpoints: [Option<Rc<Endpoint>>; 8],
}

#[derive(Default)]
pub(super) struct ShapeSlot {
    /// Bumped on every refill, so a verdict on an earlier occupant is ignored.
    generation: u32,
    method: Option<Method>,
    pub(super) shape: Vec<u8>,
    endpoint: Option<Rc<Endpoint>>,
    /// A request of this shape was routed elsewhere than guessed: the slot
    /// is never used for guessing nor refilled again.
    poisoned: bool,
}

/// Slots of the shape memo (a power of two).
pub(super) const MEMO_SLOTS: usize = 1_024;
/// Longest path the memo keeps; longer ones are always looked up.
pub(super) const MAX_MEMO_PATH: usize = 128;
/// Marker of an all-digit segment in a shape.
pub(super) const DIGITS: u8 = 0;
/// Marker of a UUID-looking segment in a shape.
pub(super) const UUID: u8 = 1;

/// Writes the shape of `path` into `out` and returns its length: all-digit
/// segments become [`DIGITS`], UUID-looking ones [`UUID`]. `None` for paths
/// longer than [`MAX_MEMO_PATH`] or holding a marker byte themselves: they
/// are always looked up, so no literal segment can pass for a marker.
pub(super) fn shape_of(path: &str, out: &mut [u8; MAX_MEMO_PATH]) -> Option<usize> {
    let bytes = path.as_bytes();
    if bytes.len() > MAX_MEMO_PATH {
        return None;
    }
    // `len` never passes the bytes read, so every write is in bounds.
    let mut len = 0;
    // Where the current segment starts in `out`, and whether it is all digits so far.
    let mut segment = 0;
    let mut digits = true;
    for &b in bytes {
        if b == b'/' {
            len = close_segment(out, segment, len, digits);
            out[len] = b'/';
            len += 1;
            segment = len;
            digits = true;
        } else {
            if b <= UUID {
                return None;
            }
            digits &= b.is_ascii_digit();
            out[len] = b;
            len += 1;
        }
    }
    Some(close_segment(out, segment, len, digits))
}

/// Replaces the segment `out[start..end]` by its marker, if it has one;
/// returns the shape's new length.
#[inline]
pub(super) fn close_segment(out: &mut [u8; MAX_MEMO_PATH], start: usize, end: usize, digits: bool) -> usize {
    let marker = if end > start && digits {
        DIGITS
    } else if end - start == 36 && looks_like_uuid(&out[start..end]) {
        UUID
    } else {
        return end;
    };
    out[start] = marker;
    start + 1
}

/// `8-4-4-4-12` hex digits, either case.
pub(super) fn looks_like_uuid(segment: &[u8]) -> bool {
    segment.len() == 36
        && segment.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

impl RouteTable {
    pub(super) fn new() -> Self {
        RouteTable {
            routes: HashMap::default(),
            unmatched: Default::default(),
            shapes: Vec::new(),
            shape: Box::new([0; MAX_MEMO_PATH]),
        }
    }

    /// The guessed endpoint of a request to `path`; `find` is the (costly)
    /// pattern lookup before routing, called only when the shape memo has
    /// no usable entry.
    #[inline]
    pub(super) fn lookup(&mut self, method: Method, path: &str, find: impl FnOnce() -> Option<String>) -> Guess {
        let Some(len) = shape_of(path, &mut self.shape) else {
            let found = find();
            return Guess { endpoint: self.resolve(method, found.as_deref()), slot: None };
        };
        let shape = &self.shape[..len];
        if self.shapes.is_empty() {
            self.shapes.resize_with(MEMO_SLOTS, ShapeSlot::default);
        }
        let mut hasher = FixedState::default().build_hasher();
        hasher.write_usize(method.index());
        hasher.write(shape);
        let index = (hasher.finish() as usize) & (MEMO_SLOTS - 1);
        let slot = &self.shapes[index];
        if slot.method == Some(method)
            && slot.shape == shape
            && let (Some(endpoint), false) = (&slot.endpoint, slot.poisoned)
        {
            return Guess { endpoint: endpoint.clone(), slot: Some((index, slot.generation)) };
        }
        let poisoned = slot.poisoned;
        let found = find();
        let endpoint = self.resolve(method, found.as_deref());
        if poisoned {
            return Guess { endpoint, slot: None };
        }
        let slot = &mut self.shapes[index];
        slot.generation = slot.generation.wrapping_add(1);
        slot.method = Some(method);
        slot.shape.clear();
        slot.shape.extend_from_slice(&self.shape[..len]);
        slot.endpoint = Some(endpoint.clone());
        Guess { endpoint, slot: Some((index, slot.generation)) }
    }

    /// The endpoint `req` (the request as actix routed it) belongs to: the
    /// guess when the request carries the guess's [`Signature`], else the one
    /// of `req.match_pattern()`, which then learns the signature; a shape
    /// slot whose guess was wrong is poisoned.
    #[inline]
    pub(super) fn routed(&mut self, method: Method, guess: &Guess, req: &HttpRequest) -> Rc<Endpoint> {
        let info = req.match_info();
        if guess.endpoint.routed_here(info) {
            return guess.endpoint.clone();
        }
        let pattern = req.match_pattern();
        let endpoint = self.resolve(method, pattern.as_deref());
        endpoint.learn(info);
        if endpoint.route != guess.endpoint.route
            && let Some((index, generation)) = guess.slot
            && let Some(slot) = self.shapes.get_mut(index)
            && slot.generation == generation
        {
            slot.poisoned = true;
            slot.endpoint = None;
        }
        endpoint
    }

    pub(super) fn resolve(&mut self, method: Method, pattern: Option<&str>) -> Rc<Endpoint> {
        let i = method.index();
        let Some(pattern) = pattern else {
            let endpoint = self.unmatched[i].get_or_insert_with(|| {
                Endpoint::new(None, Arc::from(EndpointKey::new(method, None).to_string()), true)
            });
            return endpoint.clone();
        };
        if let Some(slot) = self.routes.get_mut(pattern) {
            let route = &slot.route;
            let endpoint = slot.endpoints[i].get_or_insert_with(|| {
                Endpoint::new(Some(route.clone()), Arc::from(EndpointKey::new(method, Some(pattern)).to_string()), true)
            });
            return endpoint.clone();
        }
        let label: Arc<str> = Arc::from(EndpointKey::new(method, Some(pattern)).to_string());
        let route: Rc<str> = Rc::from(pattern);
        if self.routes.len() >= MAX_CACHED_ROUTES {
            return Endpoint::new(Some(route), label, false);
        }
        let endpoint = Endpoint::new(Some(route.clone()), label, true);
        let mut endpoints: [Option<Rc<Endpoint>>; 8] = Default::default();
        endpoints[i] = Some(endpoint.clone());
        self.routes.insert(pattern.to_owned(), RouteSlot { route, endpoints });
        endpoint
    }
}
