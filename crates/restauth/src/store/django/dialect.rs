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
    /// The statements that add (`install`) or remove the change-notifying triggers on
    /// Django's tables; `None` where the database has no change channel to notify.
    fn triggers(&self, install: bool, user_table: &str, username: &str) -> Option<Vec<String>> {
        let _ = (install, user_table, username);
        None
    }
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

    fn triggers(&self, install: bool, user_table: &str, username: &str) -> Option<Vec<String>> {
        // Statement-level: one notification per statement however many rows it touches. Only
        // changes a cache could hide fire: new rows are never cached. The payload is the one
        // this schema's listeners wait for; it and the names are plain identifiers (checked
        // by the settings), so splicing them is safe.
        let payload = &self.change_payload;
        let tables = [
            (
                user_table.to_owned(),
                format!(
                    "UPDATE OF password, is_active, is_staff, is_superuser, {username} OR DELETE"
                ),
            ),
            (
                "authtoken_token".to_owned(),
                "UPDATE OR DELETE OR TRUNCATE".to_owned(),
            ),
            (
                "django_session".to_owned(),
                "UPDATE OR DELETE OR TRUNCATE".to_owned(),
            ),
        ];
        let mut statements: Vec<String> = tables
            .iter()
            .map(|(table, _)| format!("DROP TRIGGER IF EXISTS restauth_notify ON {table}"))
            .collect();
        if install {
            statements.insert(
                0,
                "CREATE OR REPLACE FUNCTION restauth_django_notify() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ BEGIN \
                 PERFORM pg_notify('restauth_changes', TG_ARGV[0]); RETURN NULL; END $$"
                    .to_owned(),
            );
            statements.extend(tables.iter().map(|(table, events)| {
                format!(
                    "CREATE TRIGGER restauth_notify AFTER {events} ON {table} \
                     FOR EACH STATEMENT EXECUTE FUNCTION restauth_django_notify('{payload}')"
                )
            }));
        } else {
            statements.push("DROP FUNCTION IF EXISTS restauth_django_notify()".to_owned());
        }
        Some(statements)
    }
}
