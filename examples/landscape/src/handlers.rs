//! The HTTP routes of the demo. Database work runs in `perf_http::block`,
//! so its queries count towards the request that issued them.

use std::{collections::HashMap, sync::Arc, time::Duration};

use actix_web::{HttpRequest, HttpResponse, web};
use perf_core::CacheStore;
use perf_http::ResponseCache;
use perfkit::TypedCache;
use serde_json::json;

use crate::{
    AppError,
    db::Db,
    models::{CreateProject, PROJECT_STATUSES, ProjectChanges, UpdateProject},
    repo,
};

/// The cache namespace of the `/api/dashboard` responses.
pub(crate) const DASHBOARD_NAMESPACE: &str = "dashboard";
/// Longest accepted `search` text.
const MAX_SEARCH_CHARS: usize = 100;
/// Highest accepted `page`.
const MAX_PAGE: i64 = 10_000;
/// Longest project name or client, in characters.
const MAX_TEXT_CHARS: usize = 200;

/// What the handlers share.
pub(crate) struct AppState {
    pub(crate) db: Db,
    pub(crate) cache: TypedCache,
    pub(crate) store: Arc<dyn CacheStore>,
    pub(crate) cache_tier: &'static str,
    /// How long cached pages stay fresh (`CACHE_DEFAULT_TIMEOUT`).
    pub(crate) ttl: Duration,
}

type State = web::Data<AppState>;
type Result<T, E = AppError> = std::result::Result<T, E>;

/// Mounts the service's routes; `/api/dashboard` answers through `response_cache`.
pub(crate) fn routes(cfg: &mut web::ServiceConfig, response_cache: ResponseCache) {
    cfg.service(readable(web::resource("/health"), health).default_service(not_allowed("GET, HEAD")))
        .service(
            readable(web::resource("/api/projects"), list_projects)
                .route(web::post().to(create_project))
                .default_service(not_allowed("GET, HEAD, POST")),
        )
        .service(
            readable(web::resource("/api/projects/{id}"), get_project)
                .route(web::put().to(update_project))
                .route(web::delete().to(delete_project))
                .default_service(not_allowed("GET, HEAD, PUT, DELETE")),
        )
        .service(
            readable(web::resource("/api/projects/{id}/report"), project_report)
                .default_service(not_allowed("GET, HEAD")),
        )
        .service(readable(web::resource("/api/plants"), list_plants).default_service(not_allowed("GET, HEAD")))
        .service(
            readable(web::resource("/api/dashboard").wrap(response_cache), dashboard)
                .default_service(not_allowed("GET, HEAD")),
        );
}

/// `resource` answering GET and HEAD with `handler` (actix sends the GET's
/// headers without the body for HEAD).
fn readable<F, Args, T>(resource: actix_web::Resource<T>, handler: F) -> actix_web::Resource<T>
where
    F: actix_web::Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
    T: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Error = actix_web::Error,
            InitError = (),
        >,
{
    resource.route(web::get().to(handler.clone())).route(web::head().to(handler))
}

/// `200 {"status":"ok","database":<backend>,...}` when a connection can be
/// taken (its check-out ping is housekeeping, not a recorded query);
/// `503 {"status":"unavailable","database":"down","backend":<backend>,...}`
/// with `Retry-After` when not, answered at once while the outage is known.
async fn health(state: State) -> HttpResponse {
    let db = state.db.clone();
    match perf_http::block(move || db.check()).await {
        Ok(Ok(())) => HttpResponse::Ok().insert_header(("cache-control", "no-store")).json(json!({
            "status": "ok",
            "database": state.db.backend(),
            "cache": state.cache_tier,
        })),
        outcome => {
            if let Ok(Err(e)) = &outcome {
                tracing::debug!(error = %e, "health check: database unavailable");
            }
            HttpResponse::ServiceUnavailable()
                .insert_header(("cache-control", "no-store"))
                .insert_header(("retry-after", crate::error::RETRY_AFTER_SECS.to_string()))
                .json(json!({
                    "status": "unavailable",
                    "database": "down",
                    "backend": state.db.backend(),
                    "cache": state.cache_tier,
                }))
        }
    }
}

async fn list_projects(state: State) -> Result<HttpResponse> {
    let db = state.db.clone();
    let projects = perf_http::block(move || repo::list_projects(&db)).await??;
    Ok(HttpResponse::Ok().json(json!({ "projects": projects, "count": projects.len() })))
}

async fn get_project(state: State, req: HttpRequest) -> Result<HttpResponse> {
    let id = project_id(&req)?;
    let db = state.db.clone();
    let project = perf_http::block(move || repo::get_project(&db, id)).await??;
    Ok(HttpResponse::Ok().json(project))
}

async fn create_project(state: State, body: web::Json<CreateProject>) -> Result<HttpResponse> {
    let mut new = body.into_inner();
    new.name = check_text("name", &new.name)?;
    new.client = check_text("client", &new.client)?;
    check_budget(new.budget)?;
    let status = check_status(new.status.as_deref().unwrap_or("planning"))?;
    let db = state.db.clone();
    let project = perf_http::block(move || repo::create_project(&db, &new, status)).await??;
    invalidate_dashboard(&state).await;
    Ok(HttpResponse::Created().insert_header(("location", format!("/api/projects/{}", project.id))).json(project))
}

async fn update_project(state: State, req: HttpRequest, body: web::Json<UpdateProject>) -> Result<HttpResponse> {
    let id = project_id(&req)?;
    let body = body.into_inner();
    let changes = ProjectChanges {
        name: body.name.as_deref().map(|n| check_text("name", n)).transpose()?,
        client: body.client.as_deref().map(|c| check_text("client", c)).transpose()?,
        budget: body.budget.map(|b| check_budget(b).map(|()| b)).transpose()?,
        status: body.status.as_deref().map(|s| check_status(s).map(str::to_owned)).transpose()?,
        updated_at: None,
    };
    if changes.name.is_none() && changes.client.is_none() && changes.budget.is_none() && changes.status.is_none() {
        return Err(AppError::bad_request("invalid_body", "expected at least one of name, client, budget, status"));
    }
    let changes = ProjectChanges { updated_at: Some(chrono::Utc::now().naive_utc()), ..changes };
    let db = state.db.clone();
    let project = perf_http::block(move || repo::update_project(&db, id, changes)).await??;
    invalidate_dashboard(&state).await;
    Ok(HttpResponse::Ok().json(project))
}

async fn delete_project(state: State, req: HttpRequest) -> Result<HttpResponse> {
    let id = project_id(&req)?;
    let db = state.db.clone();
    if !perf_http::block(move || repo::delete_project(&db, id)).await?? {
        return Err(AppError::NotFound(format!("no project with id {id}")));
    }
    invalidate_dashboard(&state).await;
    Ok(HttpResponse::NoContent().finish())
}

async fn project_report(state: State, req: HttpRequest) -> Result<HttpResponse> {
    let id = project_id(&req)?;
    let params = query_params(&req)?;
    let naive = match params.get("naive").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(AppError::bad_request(
                "invalid_query",
                format!("naive: expected true or false, got {:?}", clip(other)),
            ));
        }
    };
    let db = state.db.clone();
    let report = perf_http::block(move || repo::project_report(&db, id, naive)).await??;
    Ok(HttpResponse::Ok().json(report))
}

async fn list_plants(state: State, req: HttpRequest) -> Result<HttpResponse> {
    let params = query_params(&req)?;
    let search = params.get("search").map(|s| s.trim().to_lowercase()).unwrap_or_default();
    if search.chars().count() > MAX_SEARCH_CHARS {
        return Err(AppError::bad_request(
            "invalid_query",
            format!("search: expected at most {MAX_SEARCH_CHARS} characters, got {}", search.chars().count()),
        ));
    }
    let page = match params.get("page") {
        None => 1,
        Some(raw) => match raw.parse::<i64>() {
            Ok(p) if (1..=MAX_PAGE).contains(&p) => p,
            _ => {
                return Err(AppError::bad_request(
                    "invalid_query",
                    format!("page: expected a whole number between 1 and {MAX_PAGE}, got {:?}", clip(raw)),
                ));
            }
        },
    };
    // Pages are cached in the `plants` namespace; a write to the plants
    // table invalidates it through the query monitor's invalidator.
    let key = format!("plants:{page}:{search}");
    let db = state.db.clone();
    let result = state
        .cache
        .get_or_compute(&key, state.ttl, || async move {
            perf_http::block(move || repo::search_plants(&db, &search, page)).await?
        })
        .await?;
    Ok(HttpResponse::Ok().json(result))
}

async fn dashboard(state: State) -> Result<HttpResponse> {
    let db = state.db.clone();
    let body = perf_http::block(move || repo::dashboard(&db)).await??;
    Ok(HttpResponse::Ok().json(body))
}

/// Answers unknown paths.
pub(crate) async fn not_found(req: HttpRequest) -> Result<HttpResponse> {
    Err(AppError::NotFound(format!("no route for {} {}", req.method(), clip(req.path()))))
}

/// A resource's default service: 405 with `Allow: allow`, the methods the
/// resource answers (RFC 9110 §15.5.6).
fn not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move |req: HttpRequest| async move { method_not_allowed(&req, allow) })
}

fn method_not_allowed(req: &HttpRequest, allow: &'static str) -> HttpResponse {
    HttpResponse::MethodNotAllowed().insert_header(("allow", allow)).json(json!({"error": {
        "code": "method_not_allowed",
        "message": format!("{} is not allowed on {}", req.method(), clip(req.path())),
    }}))
}

/// Turns a JSON body error into the service's error shape: 413 for a body
/// over the limit, 408 for a body that did not arrive in time, 400 otherwise.
pub(crate) fn json_error(err: actix_web::error::JsonPayloadError, req: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::ContentType => AppError::bad_request("invalid_content_type", "expected Content-Type: application/json"),
        E::Overflow { limit } | E::OverflowKnownLength { limit, .. } => AppError::PayloadTooLarge { limit },
        E::Deserialize(e) if e.is_data() => AppError::bad_request("invalid_body", e.to_string()),
        E::Payload(actix_web::error::PayloadError::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
            let seconds = req.app_data::<crate::BodyTimeout>().map_or(0, |t| t.0.as_secs());
            AppError::BodyTimeout { seconds }
        }
        other => AppError::bad_request("malformed_json", other.to_string()),
    }
    .into()
}

async fn invalidate_dashboard(state: &AppState) {
    if let Err(e) = state.store.invalidate(DASHBOARD_NAMESPACE).await {
        tracing::warn!(error = %e, "dashboard cache not invalidated");
    }
}

fn project_id(req: &HttpRequest) -> Result<i32> {
    let raw = req.match_info().get("id").unwrap_or("");
    match raw.parse::<i32>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(AppError::bad_request("invalid_id", format!("expected a positive project id, got {:?}", clip(raw)))),
    }
}

fn query_params(req: &HttpRequest) -> Result<HashMap<String, String>> {
    web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| AppError::bad_request("invalid_query", e.to_string()))
}

fn check_text(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::bad_request("invalid_body", format!("{field} must not be empty")));
    }
    if v.chars().count() > MAX_TEXT_CHARS {
        return Err(AppError::bad_request(
            "invalid_body",
            format!("{field} is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(v.to_owned())
}

fn check_budget(budget: f64) -> Result<()> {
    if budget.is_finite() && (0.0..=1e12).contains(&budget) {
        Ok(())
    } else {
        Err(AppError::bad_request("invalid_body", format!("budget must be between 0 and 1e12, got {budget}")))
    }
}

fn check_status(status: &str) -> Result<&'static str> {
    PROJECT_STATUSES.iter().copied().find(|s| *s == status).ok_or_else(|| {
        AppError::bad_request(
            "invalid_body",
            format!("status must be one of {}, got {:?}", PROJECT_STATUSES.join(", "), clip(status)),
        )
    })
}

/// At most 64 bytes of `s` (on a char boundary), for echoing bad input.
fn clip(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
