//! SMS and email end to end against real loopback peers (tests/peers): the SMSC simulator on
//! npm's smpp, an aiosmtpd SMTP server, an HTTP SMS provider. SQLite always, PostgreSQL as
//! well when `TEST_DATABASE_URL` is set.

mod campaign;
mod dispatch;
mod gateways;
mod peers;
