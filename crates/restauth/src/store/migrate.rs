//! Embedded schema migrations, applied in order and recorded in `restauth_migrations`.
//!
//! A tiny runner of our own instead of `sqlx::migrate!`: it keeps sqlx's macro stack out of the
//! build and lets each backend keep plain SQL files. Each backend runs the steps inside its own
//! write transaction (SQLite `BEGIN IMMEDIATE`, PostgreSQL an advisory lock), so two processes
//! starting together apply each step once.

/// One schema step. Versions only grow; an applied step is never edited.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "users and tokens",
        sql: include_str!("../../migrations/sqlite/0001_users_tokens.sql"),
    },
    Migration {
        version: 2,
        name: "sessions",
        sql: include_str!("../../migrations/sqlite/0002_sessions.sql"),
    },
    Migration {
        version: 3,
        name: "jwt outstanding and blacklisted tokens",
        sql: include_str!("../../migrations/sqlite/0003_jwt.sql"),
    },
    Migration {
        version: 4,
        name: "networks of successful logins",
        sql: include_str!("../../migrations/sqlite/0004_login_networks.sql"),
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "users and tokens",
        sql: include_str!("../../migrations/postgres/0001_users_tokens.sql"),
    },
    Migration {
        version: 2,
        name: "sessions",
        sql: include_str!("../../migrations/postgres/0002_sessions.sql"),
    },
    Migration {
        version: 3,
        name: "jwt outstanding and blacklisted tokens",
        sql: include_str!("../../migrations/postgres/0003_jwt.sql"),
    },
    Migration {
        version: 4,
        name: "networks of successful logins",
        sql: include_str!("../../migrations/postgres/0004_login_networks.sql"),
    },
];

/// Readiness probe: reads the newest step and rewrites its row unchanged, a committed write
/// that alters nothing.
pub(crate) const PROBE: &str = "UPDATE restauth_migrations SET applied_at = applied_at \
    WHERE version = (SELECT max(version) FROM restauth_migrations)";

pub(crate) const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS restauth_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// The steps of `all` not yet in `applied`, in order.
pub(crate) fn pending<'a>(
    all: &'a [Migration],
    applied: &[i64],
) -> impl Iterator<Item = &'a Migration> {
    let applied = applied.to_vec();
    all.iter().filter(move |m| !applied.contains(&m.version))
}
