//! Reading the API's inputs where they enter: the query string, the window,
//! methods, JSON bodies and cache patterns, each parsed once into its type
//! or refused with an [`HttpError`] naming the parameter.

use std::collections::HashMap;

use actix_web::{HttpRequest, http::header, web};
use futures_util::StreamExt as _;
use perf_core::{KeyPattern, Method, Window};
use serde::de::DeserializeOwned;

use super::{MAX_BODY_BYTES, Result};
use crate::{HttpError, methods::clip};

/// Windows longer than this many minutes make metrics, endpoints, queries,
/// summary, trends and timeseries heavy work.
pub(super) const LONG_WINDOW_MINUTES: u32 = 60;

/// Whether a document over `window` is computed as heavy work.
pub(super) fn is_long(window: Window) -> bool {
    window.as_minutes() > LONG_WINDOW_MINUTES
}

pub(crate) fn query_params(req: &HttpRequest) -> Result<HashMap<String, String>> {
    web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| HttpError::InvalidQuery { name: "query string".into(), reason: e.to_string() })
}

pub(crate) fn window_param(params: &HashMap<String, String>) -> Result<Window> {
    window_param_or(params, Window::DEFAULT)
}

pub(super) fn window_param_or(params: &HashMap<String, String>, default: Window) -> Result<Window> {
    let Some(raw) = params.get("minutes") else { return Ok(default) };
    raw.parse::<Window>().map_err(|_| HttpError::InvalidWindow(clip(raw).into()))
}

pub(super) fn parse_method(raw: &str) -> Result<Method> {
    match Method::parse(&raw.to_ascii_uppercase()) {
        Method::Other if raw != "*" => Err(HttpError::InvalidQuery {
            name: "method".into(),
            reason: format!("expected an HTTP method such as GET, got {:?}", clip(raw)),
        }),
        m => Ok(m),
    }
}

/// Reads at most [`MAX_BODY_BYTES`] and parses it as `T`; `None` for an
/// empty (or all-whitespace) body.
pub(super) async fn read_json<T: DeserializeOwned>(req: &HttpRequest, mut payload: web::Payload) -> Result<Option<T>> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(HttpError::PayloadTooLarge { limit: MAX_BODY_BYTES });
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| HttpError::Payload(e.to_string()))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(HttpError::PayloadTooLarge { limit: MAX_BODY_BYTES });
        }
        body.extend_from_slice(&chunk);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Io => HttpError::Payload(e.to_string()),
            Category::Syntax | Category::Eof | Category::Data => HttpError::MalformedJson(e.to_string()),
        }
    })?;
    // Only objects: serde would otherwise accept a struct written as an array.
    if !value.is_object() {
        return Err(HttpError::InvalidBody("expected a JSON object".into()));
    }
    T::deserialize(value).map(Some).map_err(|e| HttpError::InvalidBody(e.to_string()))
}

/// Parses a cache pattern where it enters, with [`KeyPattern`]'s grammar:
/// the rules `openapi.json` states as a regular expression (1 to
/// [`MAX_PATTERN_BYTES`](super::MAX_PATTERN_BYTES) printable ASCII characters other than space; `\`
/// escapes the next one; `[...]` classes are non-empty, not nested and
/// closed; no `]` outside a class; at most [`MAX_PATTERN_STARS`](super::MAX_PATTERN_STARS) `*` outside
/// classes and escapes), which every cache tier then matches by.
pub(crate) fn validate_pattern(pattern: &str) -> Result<KeyPattern> {
    KeyPattern::parse(pattern)
        .map_err(|e| HttpError::InvalidPattern { pattern: e.pattern().to_owned(), reason: e.reason().to_owned() })
}
