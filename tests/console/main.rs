//! The web console: pages and API over HTTP (every backend under test), and the browser tests
//! (headless Chromium through chromedriver) of `browser.rs`.

mod browser;
mod campaigns;
#[allow(dead_code)] // shared with the hopper and dialer tests
#[path = "../hopper/db.rs"]
mod db;
mod desktop;
#[allow(dead_code, unreachable_pub)] // shared with the dialer tests
#[path = "../dialer/support.rs"]
mod dialer_support;
mod login;
mod reports;
mod support;
mod tickets;
