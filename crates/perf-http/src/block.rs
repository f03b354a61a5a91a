//! [`block`]: `web::block` that keeps the request's attribution.

use actix_web::{error::BlockingError, web};

/// Runs `f` on the blocking thread pool with the current request's
/// [`RequestScope`](perf_core::RequestScope) entered, so the diesel queries
/// inside count towards the request that spawned them.
///
/// Same as `web::block(perf_core::bind_current(f))`.
///
/// # Errors
/// [`BlockingError`] when the task was cancelled or panicked.
pub async fn block<F, R>(f: F) -> Result<R, BlockingError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    web::block(perf_core::bind_current(f)).await
}
