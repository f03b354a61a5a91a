//! Resources that answer their methods and nothing else, the way RFC 9110
//! asks: `HEAD` wherever `GET` works (actix-http sends the head and drops the
//! body), and every other method a 405 with an `Allow` header listing what
//! the resource answers, in the project's `{"error": {"code", "message"}}` body.

use actix_web::{FromRequest, Handler, HttpRequest, HttpResponse, Resource, Responder, ResponseError as _, Route, web};

use crate::HttpError;

/// `Allow` of a resource answering `GET` only.
pub(crate) const ALLOW_GET: &str = "GET, HEAD";
/// `Allow` of a resource answering `POST` only.
pub(crate) const ALLOW_POST: &str = "POST";

/// A resource at `path` answering `GET` and `HEAD` with `handler`, and any
/// other method with 405 + `Allow: GET, HEAD`.
pub(crate) fn get<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    with_get(web::resource(path), handler).default_service(not_allowed(ALLOW_GET))
}

/// Adds `GET` and `HEAD` routes to `handler` on `resource` (the caller sets
/// the default service with the full `Allow` list).
pub(crate) fn with_get<F, Args>(resource: Resource, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    resource.route(web::get().to(handler.clone())).route(web::head().to(handler))
}

/// A resource at `path` answering `POST` with `handler`, and any other
/// method with 405 + `Allow: POST`.
pub(crate) fn post<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path).route(web::post().to(handler)).default_service(not_allowed(ALLOW_POST))
}

/// The route answering 405 with `Allow: allow` (a resource's default service).
pub(crate) fn not_allowed(allow: &'static str) -> Route {
    web::to(move |req: HttpRequest| async move { method_not_allowed(&req, allow) })
}

fn method_not_allowed(req: &HttpRequest, allow: &'static str) -> HttpResponse {
    HttpError::MethodNotAllowed { method: req.method().to_string(), path: clip(req.path()).to_owned(), allow }
        .error_response()
}

/// At most 64 bytes of `s`, cut at a character boundary.
pub(crate) fn clip(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
