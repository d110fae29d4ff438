//! Server-rendered pages: the tera templates (compiled into the binary, so `huifang serve`
//! needs no files), the page error, and the static files (the pages' only scripts and styles:
//! the Content-Security-Policy of [`super::security_headers`] allows nothing inline).

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::auth::Viewer;

/// Every page template, by name. `base.html` is the layout the others extend.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("login.html", include_str!("templates/login.html")),
    ("home.html", include_str!("templates/home.html")),
    ("agent.html", include_str!("templates/agent.html")),
    ("call.html", include_str!("templates/call.html")),
    ("pop.html", include_str!("templates/pop.html")),
    (
        "inbound_pop.html",
        include_str!("templates/inbound_pop.html"),
    ),
    ("tickets.html", include_str!("templates/tickets.html")),
    ("ticket.html", include_str!("templates/ticket.html")),
    ("reports.html", include_str!("templates/reports.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("accounts.html", include_str!("templates/accounts.html")),
    ("password.html", include_str!("templates/password.html")),
    ("campaigns.html", include_str!("templates/campaigns.html")),
    (
        "campaign_new.html",
        include_str!("templates/campaign_new.html"),
    ),
    (
        "campaign_live.html",
        include_str!("templates/campaign_live.html"),
    ),
    (
        "campaign_attempts.html",
        include_str!("templates/campaign_attempts.html"),
    ),
];

/// The templates, parsed once at start-up (a broken template fails `serve` at once, and the
/// unit test below).
pub fn templates() -> Result<Arc<tera::Tera>, tera::Error> {
    let mut tera = tera::Tera::default();
    tera.add_raw_templates(TEMPLATES.iter().copied())?;
    tera.register_filter("pct", pct);
    Ok(Arc::new(tera))
}

/// `{{ x | pct }}`: a share as a percentage with one decimal, `—` when there is none.
fn pct(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    Ok(match value.as_f64() {
        Some(v) => tera::Value::String(format!("{:.1} %", v * 100.0)),
        None => tera::Value::String("—".into()),
    })
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/static/{file}", get(static_file))
}

/// The static files, compiled in: name, content type, text.
const STATIC_FILES: [(&str, &str, &str); 4] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("static/app.js"),
    ),
    (
        "agent.js",
        "text/javascript; charset=utf-8",
        include_str!("static/agent.js"),
    ),
    (
        "campaign_live.js",
        "text/javascript; charset=utf-8",
        include_str!("static/campaign_live.js"),
    ),
];

async fn home(viewer: Viewer) -> axum::response::Redirect {
    axum::response::Redirect::to(super::auth::home_of(&viewer.user))
}

/// A static file; they hold nothing private, so browsers may keep them a few minutes.
async fn static_file(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let Some((_, content_type, text)) = STATIC_FILES.iter().find(|(name, ..)| *name == file) else {
        return PageError::not_found(format!("no static file {file}")).into_response();
    };
    let mut res = (
        [
            (header::CONTENT_TYPE, *content_type),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        *text,
    )
        .into_response();
    res.extensions_mut()
        .insert(super::security_headers::Cacheable);
    res
}

/// Renders a page for a logged-in user: the layout gets `user`, `csrf` and `nav`.
pub fn render(
    state: &AppState,
    viewer: &Viewer,
    nav: &str,
    name: &str,
    mut ctx: tera::Context,
) -> Result<Html<String>, PageError> {
    ctx.insert("user", &viewer.user);
    ctx.insert("csrf", &viewer.csrf);
    ctx.insert("nav", nav);
    render_public(state, name, ctx)
}

/// Renders a page that needs no login (the login form).
pub fn render_public(
    state: &AppState,
    name: &str,
    ctx: tera::Context,
) -> Result<Html<String>, PageError> {
    state
        .tera
        .render(name, &ctx)
        .map(Html)
        .map_err(|e| PageError::internal(anyhow::anyhow!("template {name}: {e:?}")))
}

/// An error a page answers with: a status and a short page saying what went wrong.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    /// A page error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::NOT_FOUND, message)
    }

    /// 500; the cause is logged, not shown.
    pub fn internal(err: impl Into<anyhow::Error>) -> PageError {
        let err = err.into();
        tracing::error!(error = %format!("{err:#}"), "page failed");
        PageError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl From<super::ApiError> for PageError {
    fn from(err: super::ApiError) -> PageError {
        let status = err.status();
        match err {
            super::ApiError::Internal(e) => PageError::internal(e),
            other => PageError::new(status, other.to_string()),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = format!(
            "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <title>{code} {title}</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
             <body><main class=\"narrow\"><h1>{code} {title}</h1><p class=\"error\" id=\"error\">{msg}</p>\
             <p><a href=\"/\">huifang</a></p></main></body></html>",
            code = self.status.as_u16(),
            msg = escape(&self.message),
        );
        (self.status, Html(body)).into_response()
    }
}

/// HTML-escapes text for the hand-written error page.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let tera = templates().expect("templates parse");
        assert!(tera.get_template_names().any(|n| n == "login.html"));
    }

    #[test]
    fn error_pages_escape() {
        assert_eq!(escape("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
    }
}
