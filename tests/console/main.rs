//! The web console: pages and API over HTTP (every backend under test), and the browser tests
//! (headless Chromium through chromedriver) of `browser.rs`.

mod campaigns;
#[allow(dead_code)] // shared with the hopper and dialer tests
#[path = "../hopper/db.rs"]
mod db;
mod login;
mod support;
