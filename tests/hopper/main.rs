//! Hopper tests: claiming with leases, concurrent claimers, attempt rows; and the claim-rate
//! benchmark (`benches/hopper.sh`, an ignored test here). SQLite always, PostgreSQL as well
//! when `TEST_DATABASE_URL` is set.

mod attempts;
mod bench;
mod claim;
mod concurrent;
