//! The running dialer, end to end over real SIP on loopback: agentless campaigns against the
//! built-in phone simulator and against sipp; two dialer processes sharing one database; a
//! dialer killed mid-campaign and restarted; a node flooded with malformed datagrams, its log
//! kept to a few lines a second. SQLite always, PostgreSQL as well when `TEST_DATABASE_URL` is
//! set. Also: the abandon share read alike by all its views.

mod abandon;
mod agents;
mod campaign;
mod cli;
mod flood;
mod nodes;
mod survey;
