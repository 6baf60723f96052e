//! Reading a Django database, read-only: SQLite (a file) or PostgreSQL.
//!
//! Every query casts its columns to 64-bit integers or text and its datetimes to Unix
//! milliseconds in SQL, so both databases give rows of the same shape.

use std::path::PathBuf;
use std::str::FromStr;

use restauth::store::catalog::{self, TableColumn};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Row};

/// One value of a row: the queries only ever produce integers and text.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Int(i64),
    Text(String),
}

pub type Cells = Vec<Option<Cell>>;

/// An open Django database, inside one read-only transaction (one consistent snapshot).
pub enum Source {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Where `--from` points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    /// `sqlite:///abs/path`, `sqlite://rel/path`, `sqlite:path`, a plain file path, or
    /// `postgres://…` / `postgresql://…`.
    pub fn parse(from: &str) -> Result<Location, String> {
        if from.starts_with("postgres://") || from.starts_with("postgresql://") {
            return Ok(Location::Postgres(from.to_owned()));
        }
        let path = from
            .strip_prefix("sqlite://")
            .or_else(|| from.strip_prefix("sqlite:"))
            .unwrap_or(from);
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() {
            return Err("--from: no database file named".into());
        }
        if let Some((scheme, _)) = from.split_once("://")
            && scheme != "sqlite"
        {
            return Err(format!(
                "--from: unsupported database {scheme:?} (use a SQLite file path, \
                 sqlite:///path/db.sqlite3 or postgres://…)"
            ));
        }
        Ok(Location::Sqlite(PathBuf::from(path)))
    }
}

impl Source {
    pub async fn open(location: &Location) -> Result<Source, String> {
        match location {
            Location::Sqlite(path) => {
                if !path.is_file() {
                    return Err(format!(
                        "--from: {} is not a file (a Django SQLite database such as db.sqlite3)",
                        path.display()
                    ));
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .read_only(true)
                    .create_if_missing(false);
                let mut conn = SqliteConnection::connect_with(&options)
                    .await
                    .map_err(|e| format!("--from: cannot open {}: {e}", path.display()))?;
                // Deferred: the snapshot starts at the first read and holds to the end.
                sqlx::raw_sql("BEGIN")
                    .execute(&mut conn)
                    .await
                    .map_err(|e| format!("--from: {}: {e}", path.display()))?;
                Ok(Source::Sqlite(conn))
            }
            Location::Postgres(url) => {
                let shown = restauth::store::redact_url(url);
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| format!("--from: {e} in {shown}"))?
                    .application_name("restauth import-django")
                    .options([("default_transaction_read_only", "on")]);
                let mut conn = PgConnection::connect_with(&options)
                    .await
                    .map_err(|e| format!("--from: cannot connect to {shown}: {e}"))?;
                sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .execute(&mut conn)
                    .await
                    .map_err(|e| format!("--from: {shown}: {e}"))?;
                Ok(Source::Postgres(conn))
            }
        }
    }

    /// The SQL for a datetime column as Unix milliseconds (NULL stays NULL).
    pub fn millis(&self, column: &str) -> String {
        match self {
            // Django keeps datetimes in SQLite as UTC text, `YYYY-MM-DD HH:MM:SS[.ffffff]`.
            Source::Sqlite(_) => {
                format!("CAST(ROUND((julianday({column}) - 2440587.5) * 86400000.0) AS BIGINT)")
            }
            Source::Postgres(_) => {
                format!("CAST(FLOOR(EXTRACT(EPOCH FROM {column}) * 1000) AS BIGINT)")
            }
        }
    }

    pub async fn table_exists(&mut self, table: &str) -> Result<bool, String> {
        let found = match self {
            Source::Sqlite(c) => sqlx::query(
                "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = $1",
            )
            .bind(table)
            .fetch_optional(&mut *c)
            .await
            .map(|r| r.is_some()),
            Source::Postgres(c) => sqlx::query("SELECT to_regclass($1) IS NOT NULL")
                .bind(quote(table))
                .fetch_one(&mut *c)
                .await
                .and_then(|r| r.try_get::<bool, _>(0)),
        };
        found.map_err(|e| format!("--from: cannot list the tables: {e}"))
    }

    /// The SQL of the algorithm name a Django password hash starts with (`argon2$…`).
    pub fn algorithm(&self, column: &str) -> String {
        match self {
            Source::Sqlite(_) => format!(
                "CASE WHEN instr({column}, '$') > 0 \
                 THEN substr({column}, 1, instr({column}, '$') - 1) ELSE {column} END"
            ),
            Source::Postgres(_) => format!("split_part({column}, '$', 1)"),
        }
    }

    /// The tables of the database (on PostgreSQL: of the search path's first schema).
    pub async fn tables(&mut self) -> Result<Vec<String>, String> {
        let sql = match self {
            Source::Sqlite(_) => {
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            }
            Source::Postgres(_) => {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                 WHERE table_schema = current_schema() ORDER BY 1"
            }
        };
        let rows = self
            .rows(sql.to_owned())
            .await
            .map_err(|e| format!("--from: cannot list the tables: {e}"))?;
        Ok(rows
            .into_iter()
            .filter_map(|r| match r.into_iter().next() {
                Some(Some(Cell::Text(t))) => Some(t),
                _ => None,
            })
            .collect())
    }

    /// The columns of `table` as the database's catalogue describes them (none: no table).
    pub async fn columns(&mut self, table: &str) -> Result<Vec<TableColumn>, String> {
        macro_rules! columns {
            ($rows:expr) => {
                $rows
                    .iter()
                    .map(|r| {
                        Ok(TableColumn {
                            name: r.try_get(0)?,
                            sql_type: r.try_get::<String, _>(1)?.to_lowercase(),
                            not_null: r.try_get(2)?,
                            has_default: r.try_get(3)?,
                            primary_key: r.try_get(4)?,
                            unique: r.try_get::<bool, _>(4)? || r.try_get::<bool, _>(5)?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            };
        }
        let read = match self {
            Source::Sqlite(c) => match sqlx::query(catalog::SQLITE_COLUMNS)
                .bind(table)
                .fetch_all(&mut *c)
                .await
            {
                Ok(rows) => columns!(rows),
                Err(e) => Err(e),
            },
            Source::Postgres(c) => match sqlx::query(catalog::POSTGRES_COLUMNS)
                .bind(quote(table))
                .fetch_all(&mut *c)
                .await
            {
                Ok(rows) => columns!(rows),
                Err(e) => Err(e),
            },
        };
        read.map_err(|e| format!("--from: cannot read the columns of {table:?}: {e}"))
    }

    /// Runs one query of the import; `sql` holds only identifiers checked by [`identifier`].
    pub async fn rows(&mut self, sql: String) -> Result<Vec<Cells>, sqlx::Error> {
        macro_rules! cells {
            ($rows:expr) => {{
                let mut out = Vec::with_capacity($rows.len());
                for row in &$rows {
                    let mut cells = Vec::with_capacity(row.len());
                    for i in 0..row.len() {
                        let cell = match row.try_get::<Option<i64>, _>(i) {
                            Ok(v) => v.map(Cell::Int),
                            Err(_) => row.try_get::<Option<String>, _>(i)?.map(Cell::Text),
                        };
                        cells.push(cell);
                    }
                    out.push(cells);
                }
                out
            }};
        }
        Ok(match self {
            Source::Sqlite(c) => {
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *c)
                    .await?;
                cells!(rows)
            }
            Source::Postgres(c) => {
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *c)
                    .await?;
                cells!(rows)
            }
        })
    }

    /// Ends the read-only transaction; nothing was written.
    pub async fn close(self) {
        match self {
            Source::Sqlite(mut c) => {
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut c).await;
                let _ = c.close().await;
            }
            Source::Postgres(mut c) => {
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut c).await;
                let _ = c.close().await;
            }
        }
    }
}

/// A table or column name from the command line: a plain SQL identifier, so it can be
/// quoted safely.
pub fn identifier(name: &str, option: &str) -> Result<String, String> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63;
    if ok {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "{option}: {name:?} is not a table or column name ([A-Za-z_][A-Za-z0-9_]*)"
        ))
    }
}

/// `name` double-quoted (it is an [`identifier`], so it holds no quote).
pub fn quote(name: &str) -> String {
    format!("\"{name}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            Location::parse("sqlite:///srv/db.sqlite3"),
            Ok(Location::Sqlite("/srv/db.sqlite3".into()))
        );
        assert_eq!(
            Location::parse("db.sqlite3"),
            Ok(Location::Sqlite("db.sqlite3".into()))
        );
        assert_eq!(
            Location::parse("sqlite:db.sqlite3?mode=ro"),
            Ok(Location::Sqlite("db.sqlite3".into()))
        );
        assert!(matches!(
            Location::parse("postgresql://u@h/d"),
            Ok(Location::Postgres(_))
        ));
        assert!(Location::parse("mysql://u@h/d").is_err());
        assert!(Location::parse("sqlite://").is_err());
    }

    #[test]
    fn identifiers() {
        assert!(identifier("accounts_user", "--user-table").is_ok());
        assert!(identifier("a\"b", "--user-table").is_err());
        assert!(identifier("1a", "--user-table").is_err());
        assert!(identifier("", "--user-table").is_err());
    }
}
