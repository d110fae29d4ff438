//! The web console: pages and API over HTTP (every backend under test), and the browser tests
//! (headless Chromium through chromedriver) of `browser.rs`.

mod accounts;
mod api_document;
mod audit;
mod browser;
mod browser_hotline;
mod browser_inbound;
mod campaigns;
mod connections;
mod desktop;
mod headers;
mod login;
mod password;
mod reports;
mod reports_target;
mod support;
mod tickets;
mod tls;
