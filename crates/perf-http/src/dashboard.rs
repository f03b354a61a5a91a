//! [`PerfDashboard`]: the live dashboard at `/performance`, one `service()`
//! call away: `App::new().service(perf.dashboard())`.
//!
//! The page, its script and its stylesheet are embedded in the binary
//! (`include_str!` of `assets/dashboard.{html,js,css}`): no CDN, no network
//! at run time, charts drawn as hand-written SVG. The page reads the JSON
//! API (`/api/performance/*`) every few seconds and shows the health score,
//! open alerts (each with a resolve button that needs the API token),
//! the per-endpoint table, request rate, latency and error rate over time,
//! slow queries and N+1 findings, cache hit rate and serving tier, and
//! process memory and CPU.
//!
//! Elements carry stable ids and `data-*` attributes (`#endpoints-table`
//! rows with `data-route`, `data-count`, ...; `#chart-requests` with
//! `data-total`), so tests can read what it shows. The monitor excludes
//! `/performance` by default, so viewing the dashboard does not change the
//! figures it shows.

use std::sync::Arc;

use actix_web::{
    HttpResponse,
    dev::{AppService, HttpServiceFactory},
    http::header,
};

use crate::{API_PREFIX, PerfState, methods};

/// Where [`PerfDashboard`] mounts by default.
pub const DASHBOARD_PATH: &str = "/performance";

const HTML: &str = include_str!("../assets/dashboard.html");
const JS: &str = include_str!("../assets/dashboard.js");
const CSS: &str = include_str!("../assets/dashboard.css");

/// Only same-origin scripts, styles and requests: the page works offline
/// and cannot be made to load anything from elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The dashboard as an actix service factory: `App::new().service(perf.dashboard())`.
///
/// Serves `GET {path}` (the page, also at `{path}/`), `GET
/// {path}/dashboard.js` and `GET {path}/dashboard.css`. The page itself
/// needs no token; when `PERFORMANCE_API_TOKEN` or `PERFORMANCE_READ_TOKEN`
/// is set, it asks for a token and sends it as `Authorization: Bearer` with
/// its API calls. Either token shows every panel; resolving an alert needs
/// the API token, so with the read token stored the resolve button asks for
/// it. In the production profile with no token configured the API refuses,
/// and the page shows the API's message naming both variables.
///
/// # Examples
/// ```
/// use actix_web::{App, test};
/// use perf_core::PerfConfig;
/// use perf_http::PerfState;
///
/// # actix_web::rt::System::new().block_on(async {
/// let perf = PerfState::builder(PerfConfig::default()).build()?;
/// let app = test::init_service(App::new().service(perf.api()).service(perf.dashboard())).await;
/// let res = test::call_service(&app, test::TestRequest::get().uri("/performance").to_request()).await;
/// assert!(res.status().is_success());
/// # Ok::<(), perf_http::HttpError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct PerfDashboard {
    path: String,
    api_prefix: String,
    token_required: bool,
}

impl PerfState {
    /// The dashboard over this state's API, at [`DASHBOARD_PATH`]:
    /// `App::new().service(perf.dashboard())`.
    pub fn dashboard(&self) -> PerfDashboard {
        PerfDashboard {
            path: DASHBOARD_PATH.to_owned(),
            api_prefix: API_PREFIX.to_owned(),
            token_required: self.config().api_token.is_some() || self.config().read_token.is_some(),
        }
    }
}

impl PerfDashboard {
    /// Mounts the dashboard at `path` instead (exclude it from the monitor too).
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = path.into().trim_end_matches('/').to_owned();
        self
    }

    /// Reads the API at `prefix` (when it was mounted with `PerfApi::at`).
    pub fn api_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.api_prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }

    /// The page with its paths filled in.
    fn page(&self) -> String {
        HTML.replace("{{BASE}}", &escape_attr(&self.path))
            .replace("{{API}}", &escape_attr(&self.api_prefix))
            .replace("{{TOKEN_REQUIRED}}", if self.token_required { "true" } else { "false" })
    }
}

impl HttpServiceFactory for PerfDashboard {
    fn register(self, config: &mut AppService) {
        let page: Arc<str> = Arc::from(self.page());
        let page_slash = page.clone();
        methods::get(&self.path, move || serve_page(page.clone())).register(config);
        methods::get(&format!("{}/", self.path), move || serve_page(page_slash.clone())).register(config);
        methods::get(&format!("{}/dashboard.js", self.path), || async { asset("text/javascript; charset=utf-8", JS) })
            .register(config);
        methods::get(&format!("{}/dashboard.css", self.path), || async { asset("text/css; charset=utf-8", CSS) })
            .register(config);
    }
}

async fn serve_page(page: Arc<str>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(page.to_string())
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

/// Escapes text for a double-quoted HTML attribute.
fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
