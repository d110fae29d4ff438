//! The headers every answer of the console carries, pages, API and static files alike: a strict
//! Content-Security-Policy (scripts and styles only from `/static`, nothing inline, no framing),
//! `X-Frame-Options`, `nosniff`, `Referrer-Policy`, and `Cache-Control: no-store` on all but the
//! static files (their handlers mark the answer [`Cacheable`] and set their own max-age).
//!
//! tower-http's `SetResponseHeader` layers; nothing here knows a route.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy. No `'unsafe-inline'` anywhere: a `<script>` block, an `onclick=` or a `style=`
/// in a page is refused by the browser, so an injected one is too. `connect-src` falls back to
/// `default-src 'self'` (the API and the event streams).
pub(super) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self'; object-src 'none'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'self'";

/// Pages, API answers and error pages: owners' names and numbers must not stay in a shared
/// browser's cache.
pub(super) const NO_STORE: &str = "no-store";

/// Headers set on every response, replacing any a handler set.
const ALWAYS: [(HeaderName, &str); 4] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
];

/// A response extension: this answer holds nothing private (a static file), so the
/// `Cache-Control` its handler set stands. Every other answer gets [`NO_STORE`], whatever its
/// handler said (axum's event streams say `no-cache`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Cacheable;

fn cache_control(res: &Response) -> Option<HeaderValue> {
    match res.extensions().get::<Cacheable>() {
        Some(Cacheable) => None,
        None => Some(HeaderValue::from_static(NO_STORE)),
    }
}

/// `router` with the headers on every response, the fallback's included.
pub(super) fn apply(router: Router) -> Router {
    let mut router = router.layer(SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        cache_control as fn(&Response) -> Option<HeaderValue>,
    ));
    for (name, value) in ALWAYS {
        router = router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router
}
