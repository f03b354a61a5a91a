//! End-to-end tests of the landscape demo: the real binary on a free port,
//! driven over real HTTP (and, for the dashboard, by headless Chromium).
#![allow(clippy::unwrap_used)]

mod access;
mod dashboard;
mod end_to_end;
mod http;
mod outage;
mod pg_cluster;
mod readme;
mod redis;
mod schemathesis;
mod server;
mod slow_client;
