//! Unit tests of the stored format and ETag matching.

use actix_web::{
    http::header::{self, HeaderMap, HeaderValue},
    web::Bytes,
};

use super::{Entry, etag_matches};

#[test]
fn entries_round_trip_and_drop_unreplayable_headers() {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::DATE, HeaderValue::from_static("Mon, 01 Jan 2024 00:00:00 GMT"));
    let e = Entry::from_response(&h, Bytes::from_static(b"{\"a\":1}"));
    let d = Entry::decode(&e.encode()).unwrap();
    assert_eq!(d.etag, e.etag);
    assert_eq!(d.body, Bytes::from_static(b"{\"a\":1}"));
    assert_eq!(d.headers.len(), 1);
    assert_eq!(d.headers[0].0, header::CONTENT_TYPE);
}

#[test]
fn corrupt_entries_decode_to_none() {
    assert!(Entry::decode(b"").is_none());
    assert!(Entry::decode(b"R\x02").is_none());
    assert!(Entry::decode(b"R\x01\xff\xff").is_none());
}

#[test]
fn etags_compare_weakly_and_accept_lists() {
    assert!(etag_matches("\"abc\"", "\"abc\""));
    assert!(etag_matches("W/\"abc\"", "\"abc\""));
    assert!(etag_matches("\"x\", \"abc\"", "\"abc\""));
    assert!(etag_matches("*", "\"abc\""));
    assert!(!etag_matches("\"abd\"", "\"abc\""));
}
