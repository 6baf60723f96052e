//! What SQLite and PostgreSQL do differently with Django's columns: datetimes (Django keeps
//! them as UTC text in SQLite, as `timestamp with time zone` in PostgreSQL) and how to ask
//! whether a table exists.

use crate::store::migrate::Migration;
use crate::store::sql::Dialect;

/// A [`Dialect`] that can also read and write Django's tables.
pub(crate) trait DjangoDialect: Dialect {
    /// restauth's own tables beside Django's, in this database's DDL.
    const STATE_MIGRATIONS: &'static [Migration];
    /// One row when the table `$1` exists, none otherwise.
    const TABLE_EXISTS: &'static str;
    /// The SQL of a Django datetime column as Unix milliseconds (NULL stays NULL).
    fn millis(column: &str) -> String;
    /// The SQL of a Django datetime value from an expression of Unix milliseconds.
    fn datetime(millis: &str) -> String;
}

macro_rules! state_step {
    ($dir:literal) => {
        &[Migration {
            version: 1,
            name: "restauth state beside Django's tables",
            sql: include_str!(concat!(
                "../../../migrations/django/",
                $dir,
                "/0001_restauth_state.sql"
            )),
        }]
    };
}

#[cfg(feature = "sqlite")]
impl DjangoDialect for crate::store::sqlite::SqliteDialect {
    const STATE_MIGRATIONS: &'static [Migration] = state_step!("sqlite");
    const TABLE_EXISTS: &'static str =
        "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = $1";

    fn millis(column: &str) -> String {
        // Django writes `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC.
        format!("CAST(ROUND((julianday({column}) - 2440587.5) * 86400000.0) AS BIGINT)")
    }

    fn datetime(millis: &str) -> String {
        // `YYYY-MM-DD HH:MM:SS.SSS`, which Django's parse_datetime reads back.
        format!("strftime('%Y-%m-%d %H:%M:%f', ({millis}) / 1000.0, 'unixepoch')")
    }
}

#[cfg(feature = "postgres")]
impl DjangoDialect for crate::store::postgres::PostgresDialect {
    const STATE_MIGRATIONS: &'static [Migration] = state_step!("postgres");
    const TABLE_EXISTS: &'static str = "SELECT 1 WHERE to_regclass($1) IS NOT NULL";

    fn millis(column: &str) -> String {
        format!("CAST(FLOOR(EXTRACT(EPOCH FROM {column}) * 1000) AS BIGINT)")
    }

    fn datetime(millis: &str) -> String {
        format!("to_timestamp(CAST(({millis}) AS DOUBLE PRECISION) / 1000.0)")
    }
}
