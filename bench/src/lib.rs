//! The HTTP apps perfkit's middleware is measured on, written once for every
//! harness that serves them: the instruction-count and interleaved
//! wall-clock variants (`bench run`, `bench wall`), the real servers of
//! `cargo xtask loadtest` (`bench serve`) and the criterion group
//! (`benches/middleware.rs`).

pub mod apps;
