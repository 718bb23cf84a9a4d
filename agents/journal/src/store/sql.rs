//! [`SqlJournal`]: the journal on PostgreSQL or SQLite through sqlx's `Any` driver, one SQL text
//! for both. Opened from a URL: `postgres://…` (the cluster's database; the URL with its
//! credentials comes from a Secret) or `sqlite://<file>` (created when missing; write-ahead log,
//! synchronous commits). Opening applies the versioned migrations (`migrations/`, embedded) that
//! the database has not had yet, under sqlx's migration lock, so replicas starting together
//! migrate once.

use std::borrow::Cow;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Row, SqlSafeStr};

use super::{FillFilter, JournalStore, Range};
use crate::{Entry, FillRow, JournalError, Kind, Record};

/// The migrations, oldest first: (version, description, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[(1, "journal and fills", include_str!("../../migrations/0001_journal.sql"))];

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL (`postgres://`, `postgresql://`).
    Postgres,
    /// An SQLite file (`sqlite:`).
    Sqlite,
}

impl Backend {
    /// The backend of `url`, if it names one.
    pub fn of(url: &str) -> Option<Backend> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else {
            None
        }
    }
}

/// The journal on a SQL database.
#[derive(Debug, Clone)]
pub struct SqlJournal {
    pool: AnyPool,
    backend: Backend,
}

impl SqlJournal {
    /// Connects to `url` and brings its schema to this version.
    pub async fn open(url: &str) -> Result<SqlJournal, JournalError> {
        let backend = Backend::of(url)
            .ok_or_else(|| JournalError::Range("journal URL: postgres://… or sqlite://<file> expected".into()))?;
        sqlx::any::install_default_drivers();
        let url = match backend {
            // Create the file when missing.
            Backend::Sqlite if !url.contains("mode=") => {
                Cow::Owned(format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' }))
            }
            _ => Cow::Borrowed(url),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |con, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Writers wait for each other instead of failing; the log survives a
                        // crash of the process with every committed batch.
                        sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *con).await?;
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *con).await?;
                        sqlx::query("PRAGMA synchronous = FULL").execute(&mut *con).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let migrations = MIGRATIONS
            .iter()
            .map(|(version, what, sql)| {
                Migration::new(*version, Cow::Borrowed(*what), MigrationType::Simple, sql.into_sql_str(), false)
            })
            .collect();
        let migrator = Migrator::with_migrations(migrations);
        // PostgreSQL serializes migrators with an advisory lock; SQLite has none, so two processes
        // opening a new file at once can both start version 1. The loser's transaction rolls
        // back; on its next attempt the version is applied and there is nothing left to do.
        let mut attempt = 0;
        loop {
            match migrator.run(&pool).await {
                Ok(()) => break,
                Err(_) if backend == Backend::Sqlite && attempt < RETRIES => {
                    attempt += 1;
                    pause(attempt).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(SqlJournal { pool, backend })
    }

    /// The database it writes to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// One attempt at [`JournalStore::append`].
    async fn append_once(&self, records: &[Record]) -> Result<u64, JournalError> {
        // Every writer takes its rows' locks in one order (by kind and key), so writers of
        // overlapping batches wait for each other instead of deadlocking.
        let mut ordered: Vec<&Record> = records.iter().collect();
        ordered.sort_by(|a, b| (a.entry.kind.as_str(), &a.entry.key).cmp(&(b.entry.kind.as_str(), &b.entry.key)));
        let mut tx = self.pool.begin().await?;
        let mut new = 0u64;
        for r in ordered {
            let e = &r.entry;
            let written = sqlx::query(
                "INSERT INTO journal (kind, key, ts_ns, namespace, strategy, trace_id, payload) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kind, key) DO NOTHING",
            )
            .bind(e.kind.as_str())
            .bind(&e.key)
            .bind(e.ts_ns)
            .bind(&e.namespace)
            .bind(&e.strategy)
            .bind(e.trace_id.as_deref())
            .bind(&e.payload)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if written == 0 {
                continue;
            }
            new += 1;
            if let Some(f) = &r.fill {
                sqlx::query(
                    "INSERT INTO fills (fill_id, status, ts_ns, namespace, strategy, risk_policy, client_order_id, \
                     market, token, side, price_ticks, size_micros, fee_micros, liquidity, mode, trace_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                     ON CONFLICT (fill_id, status) DO NOTHING",
                )
                .bind(&f.fill_id)
                .bind(&f.status)
                .bind(f.ts_ns)
                .bind(&f.namespace)
                .bind(&f.strategy)
                .bind(&f.risk_policy)
                .bind(&f.client_order_id)
                .bind(&f.market)
                .bind(&f.token)
                .bind(&f.side)
                .bind(f.price_ticks)
                .bind(f.size_micros)
                .bind(f.fee_micros)
                .bind(&f.liquidity)
                .bind(&f.mode)
                .bind(f.trace_id.as_deref())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(new)
    }

    /// Closes the connections (waiting for those in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A growing pause before attempt `attempt` of something that raced another writer.
async fn pause(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
}

/// Attempts of a batch that deadlocked or failed to serialize (and of a migration that raced).
const RETRIES: u32 = 5;

/// A deadlock or serialization failure (PostgreSQL `40P01`, `40001`): the batch can go again.
fn retryable(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "40P01" || c == "40001")
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn entry(row: &AnyRow) -> Result<Entry, JournalError> {
    Ok(Entry {
        kind: Kind::parse(&row.try_get::<String, _>("kind")?)?,
        key: row.try_get("key")?,
        ts_ns: row.try_get("ts_ns")?,
        namespace: row.try_get("namespace")?,
        strategy: row.try_get("strategy")?,
        trace_id: row.try_get("trace_id")?,
        payload: row.try_get("payload")?,
    })
}

fn fill(row: &AnyRow) -> Result<FillRow, JournalError> {
    Ok(FillRow {
        fill_id: row.try_get("fill_id")?,
        status: row.try_get("status")?,
        ts_ns: row.try_get("ts_ns")?,
        namespace: row.try_get("namespace")?,
        strategy: row.try_get("strategy")?,
        risk_policy: row.try_get("risk_policy")?,
        client_order_id: row.try_get("client_order_id")?,
        market: row.try_get("market")?,
        token: row.try_get("token")?,
        side: row.try_get("side")?,
        price_ticks: row.try_get("price_ticks")?,
        size_micros: row.try_get("size_micros")?,
        fee_micros: row.try_get("fee_micros")?,
        liquidity: row.try_get("liquidity")?,
        mode: row.try_get("mode")?,
        trace_id: row.try_get("trace_id")?,
    })
}

impl JournalStore for SqlJournal {
    async fn schema_version(&self) -> Result<i64, JournalError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&self.pool)
            .await?;
        Ok(v.unwrap_or(0))
    }

    async fn append(&self, records: &[Record]) -> Result<u64, JournalError> {
        // Should writers still deadlock on PostgreSQL (a fill id whose order differs from its
        // entry key's), the server aborts one of them, which then goes again (nothing of it was
        // written).
        let mut attempt = 0;
        loop {
            match self.append_once(records).await {
                Err(JournalError::Database(e)) if attempt < RETRIES && retryable(&e) => {
                    attempt += 1;
                    pause(attempt).await;
                }
                other => return other,
            }
        }
    }

    async fn entries(&self, kind: Kind, range: Range) -> Result<Vec<Entry>, JournalError> {
        sqlx::query(
            "SELECT kind, key, ts_ns, namespace, strategy, trace_id, payload FROM journal \
             WHERE kind = $1 AND ts_ns >= $2 AND ts_ns < $3 ORDER BY ts_ns, key",
        )
        .bind(kind.as_str())
        .bind(range.since_ns)
        .bind(range.until_ns)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(entry)
        .collect()
    }

    async fn fills(&self, filter: &FillFilter, range: Range) -> Result<Vec<FillRow>, JournalError> {
        sqlx::query(
            "SELECT fill_id, status, ts_ns, namespace, strategy, risk_policy, client_order_id, market, token, side, \
             price_ticks, size_micros, fee_micros, liquidity, mode, trace_id FROM fills \
             WHERE ts_ns >= $1 AND ts_ns < $2 AND ($3 IS NULL OR namespace = $3) AND ($4 IS NULL OR strategy = $4) \
             ORDER BY ts_ns, fill_id, status",
        )
        .bind(range.since_ns)
        .bind(range.until_ns)
        .bind(filter.namespace.as_deref())
        .bind(filter.strategy.as_deref())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(fill)
        .collect()
    }

    async fn counts(&self) -> Result<Vec<(Kind, u64)>, JournalError> {
        let rows = sqlx::query("SELECT kind, COUNT(*) AS n FROM journal GROUP BY kind").fetch_all(&self.pool).await?;
        let mut out: Vec<(Kind, u64)> = Kind::ALL.iter().map(|k| (*k, 0)).collect();
        for row in rows {
            let kind = Kind::parse(&row.try_get::<String, _>("kind")?)?;
            let n: i64 = row.try_get("n")?;
            if let Some(slot) = out.iter_mut().find(|(k, _)| *k == kind) {
                slot.1 = count(n);
            }
        }
        Ok(out)
    }
}
