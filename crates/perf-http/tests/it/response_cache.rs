//! The response-caching middleware.
