//! A write transaction on either backend.

use sqlx::{Postgres, Sqlite, Transaction};

use super::{BeginWrite, Store};

/// A write transaction; repositories take `&mut Tx` so one domain operation is one commit.
#[derive(Debug)]
pub enum Tx {
    /// On SQLite (begun with `BEGIN IMMEDIATE`).
    Sqlite(Transaction<'static, Sqlite>),
    /// On PostgreSQL.
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$conn` bound to the concrete connection of the transaction.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

impl Store {
    /// Begins a write transaction.
    pub async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Store::Sqlite(pool) => Tx::Sqlite(pool.begin_write().await?),
            Store::Postgres(pool) => Tx::Postgres(pool.begin_write().await?),
        })
    }
}

impl Tx {
    /// Makes every write of the transaction durable.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }
}
