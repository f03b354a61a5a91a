//! Integration tests of perf-http through actix's test utilities.
#![allow(clippy::unwrap_used)]

mod access;
mod api;
mod compat;
mod dashboard;
mod expo;
mod fakes;
mod grafana;
mod health;
mod isolation;
mod methods;
mod monitor;
mod openapi;
mod openmetrics;
mod prometheus;
mod response_cache;
mod scrape;
