//! Embedded schema migrations, applied in order and recorded in `restauth_migrations`.
//!
//! A tiny runner of our own instead of `sqlx::migrate!`: it keeps sqlx's macro stack out of the
//! build and lets each backend keep plain SQL files. The steps run inside one write transaction
//! (SQLite `BEGIN IMMEDIATE`, PostgreSQL also an advisory lock), so two processes starting
//! together apply each step once.

/// One schema step. Versions only grow; an applied step is never edited.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The steps, the same for every backend, each from the backend's folder of SQL files.
macro_rules! steps {
    ($dir:literal) => {
        &[
            step!($dir, 1, "users and tokens", "0001_users_tokens.sql"),
            step!($dir, 2, "sessions", "0002_sessions.sql"),
            step!(
                $dir,
                3,
                "jwt outstanding and blacklisted tokens",
                "0003_jwt.sql"
            ),
            step!(
                $dir,
                4,
                "networks of successful logins",
                "0004_login_networks.sql"
            ),
            step!(
                $dir,
                5,
                "millisecond revocation cut-offs and rotation successors",
                "0005_exact_cutoff_rotation_grace.sql"
            ),
            step!(
                $dir,
                6,
                "records of Django imports",
                "0006_django_import.sql"
            ),
            step!($dir, 7, "audit events", "0007_audit_event.sql"),
            step!(
                $dir,
                8,
                "where tokens and sessions were issued",
                "0008_devices.sql"
            ),
            step!(
                $dir,
                9,
                "session ids in commit order",
                "0009_session_ids.sql"
            ),
            step!(
                $dir,
                10,
                "causes of revocation cut-offs and deactivation by staff",
                "0010_cut_off_cause.sql"
            ),
            step!(
                $dir,
                11,
                "groups and permissions",
                "0011_groups_permissions.sql"
            ),
            step!(
                $dir,
                12,
                "an index for logins by e-mail",
                "0012_email_login_index.sql"
            ),
        ]
    };
}

macro_rules! step {
    ($dir:literal, $version:literal, $name:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/", $dir, "/", $file)),
        }
    };
}

#[cfg(feature = "sqlite")]
pub(crate) const SQLITE: &[Migration] = steps!("sqlite");
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: &[Migration] = steps!("postgres");

/// The steps of restauth's own tables beside a Django project's (`schema_flavor = "django"`),
/// recorded apart from restauth's schema in `restauth_django_migrations`.
macro_rules! django_steps {
    ($dir:literal) => {
        &[
            step!(
                $dir,
                1,
                "restauth state beside Django's tables",
                "0001_restauth_state.sql"
            ),
            step!(
                $dir,
                2,
                "causes of revocation cut-offs and deactivation by staff",
                "0002_cut_off_cause.sql"
            ),
            step!(
                $dir,
                3,
                "user keys as text, for user models keyed by UUIDs",
                "0003_user_keys_as_text.sql"
            ),
        ]
    };
}

#[cfg(feature = "sqlite")]
#[cfg_attr(not(feature = "django-hashers"), allow(dead_code))]
pub(crate) const DJANGO_SQLITE: &[Migration] = django_steps!("django/sqlite");
#[cfg(feature = "postgres")]
#[cfg_attr(not(feature = "django-hashers"), allow(dead_code))]
pub(crate) const DJANGO_POSTGRES: &[Migration] = django_steps!("django/postgres");

/// The table of applied steps, named `table`.
pub(crate) fn create_table(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)"
    )
}

/// Readiness probe: reads the newest step in `table` and rewrites its row unchanged, a
/// committed write that alters nothing.
pub(crate) fn probe(table: &str) -> String {
    format!(
        "UPDATE {table} SET applied_at = applied_at \
         WHERE version = (SELECT max(version) FROM {table})"
    )
}

/// The steps of `all` not yet in `applied`, in order.
pub(crate) fn pending<'a>(
    all: &'a [Migration],
    applied: &[i64],
) -> impl Iterator<Item = &'a Migration> {
    let applied = applied.to_vec();
    all.iter().filter(move |m| !applied.contains(&m.version))
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, SqliteConnection};

    use super::*;
    use crate::core::settings::DatabaseSettings;
    use crate::store::{
        Credential, Database, JwtStore, Presented, SessionStore, SqliteStore, TokenStore, UserStore,
    };

    #[cfg(feature = "postgres")]
    #[test]
    fn both_backends_convert_the_same_way() {
        let step = |all: &[Migration]| all.iter().find(|m| m.version == 5).map(|m| m.sql);
        assert!(step(SQLITE).is_some());
        assert_eq!(step(SQLITE), step(POSTGRES));
    }

    /// A database of version 3 with times in seconds comes out of migration 5 with the same
    /// verdicts in milliseconds: what survived a cut-off still does, what did not still does not.
    #[tokio::test]
    async fn seconds_become_milliseconds() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("old.db").display());
        let mut conn = SqliteConnection::connect(&format!("{url}?mode=rwc"))
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(create_table("restauth_migrations")))
            .execute(&mut conn)
            .await
            .unwrap();
        for m in SQLITE.iter().filter(|m| m.version <= 3) {
            sqlx::raw_sql(m.sql).execute(&mut conn).await.unwrap();
            sqlx::query("INSERT INTO restauth_migrations VALUES (?, ?, 0)")
                .bind(m.version)
                .bind(m.name)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        sqlx::raw_sql(
            "INSERT INTO auth_user (id, username, email, first_name, last_name, password, \
               is_active, is_staff, is_superuser, date_joined, valid_after) \
               VALUES (1, 'a', '', '', '', 'x', 1, 0, 0, 0, 1000), \
                      (2, 'b', '', '', '', 'x', 1, 0, 0, 0, 0);
             INSERT INTO authtoken_token (digest, user_id, created) VALUES ('t', 1, 1000);
             INSERT INTO auth_session (digest, user_id, auth_hash, created, last_seen, expires) \
               VALUES ('s', 1, 'h', 999, 999, 5000);
             INSERT INTO token_blacklist_outstandingtoken \
               (jti, user_id, family, created_at, expires_at, rotated_at) \
               VALUES ('j', 1, 'j', 900, 5000, 950);",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();

        let store = SqliteStore::open(&DatabaseSettings {
            url,
            ..DatabaseSettings::default()
        })
        .await
        .unwrap();
        store.migrate().await.unwrap();
        let a = store.user_by_id(1.into()).await.unwrap().unwrap();
        assert_eq!(a.valid_after, 999_999);
        // Never cut off stays never cut off.
        assert_eq!(
            store
                .user_by_id(2.into())
                .await
                .unwrap()
                .unwrap()
                .valid_after,
            0
        );
        let (token, _) = store
            .token_by_digest(Presented::by_digest("t"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(token.created, 1_000_000);
        // Issued in the cut-off's second: it survived before and survives now.
        assert!(a.issued_valid(token.created));
        let (session, _) = store
            .session_by_digest(Presented::by_digest("s"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((session.created, session.last_seen), (999_000, 999));
        assert!(!a.issued_valid(session.created));
        // Migration 9 rebuilt the table around an id, for the digest index.
        let sessions = store
            .digests_after(Credential::Session, 0, 10)
            .await
            .unwrap();
        assert_eq!(sessions, vec![(1, "s".to_owned())]);
        let rotated = store.rotation("j").await.unwrap().unwrap();
        assert_eq!((rotated.rotated_at, rotated.successor), (950_000, None));
    }
}
