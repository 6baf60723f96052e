//! `restauth import-django`: a real Django project (Django, DRF and simplejwt from PyPI in a
//! virtualenv cached under the target folder) makes users, tokens, JWTs and a logged-in
//! session through its own code and login view; restauth imports its database and the same
//! credentials keep working over HTTP. Then bad input, on hand-made Django databases.

mod common;

use std::path::Path;

use common::django::{self, Django};
use common::{PASSWORD, Server, TestDb, postgres_url, skip, stderr, stdout};
use restauth::django::{session, signing};
use serde_json::{Value, json};
use sqlx::Connection;

// ---------------------------------------------------------------------------------------------
// The real Django project
// ---------------------------------------------------------------------------------------------

/// Where restauth keeps its data, to read a stored hash.
enum Store<'a> {
    Sqlite(&'a Path),
    Postgres(&'a TestDb),
}

impl Store<'_> {
    async fn query_text(&self, sql: &str, bind: &str) -> Option<String> {
        match self {
            Store::Sqlite(dir) => {
                let url = format!("sqlite://{}?mode=ro", dir.join("restauth.db").display());
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                    .bind(bind)
                    .fetch_optional(&mut c)
                    .await
                    .unwrap()
            }
            Store::Postgres(db) => {
                let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
                let path = format!("SET search_path TO {}", db.schema);
                sqlx::query(sqlx::AssertSqlSafe(path))
                    .execute(&mut c)
                    .await
                    .unwrap();
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                    .bind(bind)
                    .fetch_optional(&mut c)
                    .await
                    .unwrap()
            }
        }
    }

    async fn password(&self, username: &str) -> String {
        self.query_text(
            "SELECT password FROM auth_user WHERE username = $1",
            username,
        )
        .await
        .expect("user")
    }
}

fn import(server: &Server, from: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["import-django", "--from", from];
    args.extend_from_slice(extra);
    server.command(&args, "")
}

fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{out}"))
}

/// Everything a team moving from DRF needs to keep working, on one pair of databases.
async fn moves_from_django(
    mut django: Django,
    server: Server,
    store: Store<'_>,
    sqlite: Option<&Path>,
) {
    django.python(&["manage.py", "migrate", "--noinput"]);
    let seeded: Value = serde_json::from_str(&django.python(&["seed.py"])).expect("seed output");
    django.serve();
    let sessionid = django
        .login("alice", PASSWORD)
        .await
        .expect("Django's login");
    let key_file = server.path().join("django-secret-key");
    std::fs::write(&key_file, format!("{}\n", django.secret_key)).unwrap();
    let key_file = key_file.to_str().unwrap().to_owned();
    let from = &django.db;
    let before = sqlite.map(|p| std::fs::read(p).unwrap());

    // A dry run reports and writes nothing.
    let dry = import(
        &server,
        from,
        &["--django-secret-key-file", &key_file, "--dry-run"],
    );
    assert!(dry.status.success(), "{}", stderr(&dry));
    let report = stdout(&dry);
    assert!(report.starts_with("Dry run"), "{report}");
    assert_eq!(
        line(&report, "Users:"),
        "Users: 5 imported, 0 updated, 0 unchanged, 1 skipped"
    );
    let login = json!({"username": "alice", "password": PASSWORD});
    assert_eq!(
        server.post_json("/api/token/", &login, None).await.status,
        401
    );
    // Where no store exists yet, a dry run creates none: no database, no key file.
    let empty = tempfile::tempdir().unwrap();
    let dry = common::command_in(
        empty.path(),
        &[
            "import-django",
            "--from",
            from,
            "--django-secret-key-file",
            &key_file,
            "--dry-run",
        ],
        "",
    );
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert_eq!(
        line(&stdout(&dry), "Users:"),
        "Users: 5 imported, 0 updated, 0 unchanged, 1 skipped"
    );
    let left: Vec<_> = std::fs::read_dir(empty.path()).unwrap().collect();
    assert!(left.is_empty(), "a dry run left {left:?}");

    let run = import(&server, from, &["--django-secret-key-file", &key_file]);
    assert!(run.status.success(), "{}", stderr(&run));
    let report = stdout(&run);
    assert_eq!(
        line(&report, "Users:"),
        "Users: 5 imported, 0 updated, 0 unchanged, 1 skipped",
        "{report}"
    );
    assert!(
        report.contains("skipped 1: unknown password hash algorithm \"sha512_custom\""),
        "{report}"
    );
    assert!(report.contains("DRF tokens: 1 imported"), "{report}");
    assert!(
        report.contains("JWT outstanding tokens: 2 imported"),
        "{report}"
    );
    assert!(
        report.contains("JWT blacklisted tokens: 1 imported"),
        "{report}"
    );
    assert!(report.contains("Sessions: 1 imported"), "{report}");
    // Nothing in the Django database was written.
    if let (Some(path), Some(before)) = (sqlite, &before) {
        assert!(
            std::fs::read(path).unwrap() == *before,
            "the Django database changed"
        );
    }

    // The old DRF token authenticates.
    let token = seeded["token"].as_str().unwrap();
    let r = server
        .get("/api/profile/", Some(&format!("Token {token}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["email"], "alice@example.com");

    // The refresh token Django issued refreshes; the blacklisted one does not.
    let refresh = seeded["refresh"].as_str().unwrap();
    let r = server
        .post_json("/api/token/refresh/", &json!({"refresh": refresh}), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let access = r.json()["access"].as_str().unwrap().to_owned();
    let r = server
        .get("/api/jwt/profile/", Some(&format!("Bearer {access}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let blacklisted = seeded["blacklisted"].as_str().unwrap();
    let r = server
        .post_json(
            "/api/token/refresh/",
            &json!({"refresh": blacklisted}),
            None,
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.json()["detail"], "Token is blacklisted");

    // Same passwords log in, whatever Django hashed them with; the hash becomes Argon2id.
    assert!(store.password("alice").await.starts_with("pbkdf2_sha256$"));
    for user in ["alice", "bob", "carol", "erin"] {
        let r = server
            .post_json(
                "/api-token-auth/",
                &json!({"username": user, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{user}: {}", r.body);
        let hash = store.password(user).await;
        assert!(hash.starts_with("$argon2id$"), "{user}: {hash}");
    }
    // An unusable password stays unusable; an unknown hash was not imported.
    for user in ["dave", "mallory"] {
        let r = server
            .post_json(
                "/api-token-auth/",
                &json!({"username": user, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 400, "{user}: {}", r.body);
    }
    assert!(store.password("dave").await.starts_with('!'));

    // The browser's Django session reaches the dashboard, after that password login rehashed
    // alice's password.
    let r = dashboard(&server, &sessionid).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "Hello alice, welcome to your dashboard"
    );

    // Running it again changes nothing and duplicates nothing; the upgraded hash stays.
    let again = import(&server, from, &["--django-secret-key-file", &key_file]);
    assert!(again.status.success(), "{}", stderr(&again));
    let report = stdout(&again);
    assert_eq!(
        line(&report, "Users:"),
        "Users: 0 imported, 0 updated, 5 unchanged, 1 skipped",
        "{report}"
    );
    assert!(
        report.contains("DRF tokens: 0 imported, 0 updated, 1 unchanged"),
        "{report}"
    );
    assert!(
        report.contains("Sessions: 0 imported, 0 updated, 1 unchanged"),
        "{report}"
    );
    assert!(store.password("alice").await.starts_with("$argon2id$"));
    let r = dashboard(&server, &sessionid).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // New users get ids past the imported ones (PostgreSQL's sequence was moved).
    server.create_user("newcomer", &[]);
    let id = store
        .query_text(
            "SELECT CAST(id AS TEXT) FROM auth_user WHERE username = $1",
            "newcomer",
        )
        .await
        .unwrap();
    assert_eq!(id, "6");
}

async fn dashboard(server: &Server, sessionid: &str) -> common::Reply {
    let req = common::plain()
        .get(server.url("/api/dashboard/"))
        .header("Cookie", format!("sessionid={sessionid}"));
    server.send(req).await
}

fn jwt_config(django: &Django) -> String {
    format!("[simple_jwt]\nsigning_key = {:?}\n", django.secret_key)
}

#[tokio::test]
async fn a_django_project_on_sqlite_moves_over() {
    let Some(venv) = django::venv() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let django = Django::new(
        venv,
        &django::secret(),
        db.to_str().unwrap().to_owned(),
        None,
    );
    let server = Server::builder()
        .config(&jwt_config(&django))
        .own_database()
        .start()
        .await;
    let path = server.path().to_owned();
    moves_from_django(django, server, Store::Sqlite(&path), Some(&db)).await;
}

#[tokio::test]
async fn a_django_project_on_postgres_moves_over() {
    let Some(url) = postgres_url() else {
        return skip("RESTAUTH_TEST_DATABASE_URL is not set");
    };
    let Some(venv) = django::venv() else { return };
    let django_db = django::Db::postgres(&url).await;
    let django = Django::new(venv, &django::secret(), django_db.django(), None);
    let restauth_db = TestDb::new(&url);
    let server = Server::builder()
        .config(&jwt_config(&django))
        .on(&restauth_db)
        .start()
        .await;
    moves_from_django(django, server, Store::Postgres(&restauth_db), None).await;
}

// ---------------------------------------------------------------------------------------------
// Bad input, on hand-made Django databases
// ---------------------------------------------------------------------------------------------

/// Django's tables as its SQLite migrations make them (the columns the import reads).
const SCHEMA: &str = "
CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT, applied TEXT);
CREATE TABLE auth_user (id INTEGER PRIMARY KEY, password TEXT NOT NULL, last_login TEXT,
    is_superuser BOOL NOT NULL, username TEXT NOT NULL UNIQUE, last_name TEXT NOT NULL,
    email TEXT NOT NULL, is_staff BOOL NOT NULL, is_active BOOL NOT NULL,
    date_joined TEXT NOT NULL, first_name TEXT NOT NULL);
CREATE TABLE authtoken_token (key TEXT PRIMARY KEY, created TEXT NOT NULL, user_id INTEGER NOT NULL);
CREATE TABLE django_session (session_key TEXT PRIMARY KEY, session_data TEXT NOT NULL,
    expire_date TEXT NOT NULL);
";

/// `correct horse battery staple` hashed as Django's PBKDF2 hasher would, with few rounds.
const PBKDF2: &str = "pbkdf2_sha256$1000$fixedsalt$RPwr+IauPjs/aNJAwvawVdHPH+wuwCgeyHo4d1xeLUE=";
const SECRET: &str = "a-django-secret-key-for-the-hand-made-databases-0123";
const TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";

async fn sqlite_file(path: &Path, sql: &str) {
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
}

fn user_row(id: i64, username: &str, password: &str) -> String {
    format!(
        "INSERT INTO auth_user VALUES ({id}, '{password}', '2026-01-02 03:04:05.123456', 0, \
         '{username}', '', '{username}@example.com', 0, 1, '2025-01-01 00:00:00', '');"
    )
}

/// Session data as Django signs it for a logged-in user.
fn session_data(user_id: &str, password_hash: &str, key: &str) -> String {
    signing::dumps(
        &json!({
            "_auth_user_id": user_id,
            "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
            "_auth_user_hash": session::auth_hash(password_hash, key),
        }),
        session::SESSION_SALT,
        key,
        true,
        1_700_000_000,
    )
}

fn session_row(key: &str, data: &str, expire: &str) -> String {
    format!("INSERT INTO django_session VALUES ('{key}', '{data}', {expire});")
}

const LIVE: &str = "datetime('now', '+7 days')";

async fn can_log_in(server: &Server, username: &str) -> bool {
    let r = server
        .post_json(
            "/api-token-auth/",
            &json!({"username": username, "password": PASSWORD}),
            None,
        )
        .await;
    r.status == 200
}

fn failed(out: &std::process::Output, needle: &str) {
    assert!(!out.status.success(), "succeeded: {}", stdout(out));
    let err = stderr(out);
    assert!(err.contains("CommandError: "), "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn a_database_that_is_not_djangos_is_refused() {
    let server = Server::start().await;
    let path = server.path().join("other.sqlite3");
    sqlite_file(&path, "CREATE TABLE things (id INTEGER PRIMARY KEY);").await;
    failed(
        &import(&server, path.to_str().unwrap(), &[]),
        "is not a Django database (it has no django_migrations table)",
    );
    failed(
        &import(&server, "/nonexistent/db.sqlite3", &[]),
        "/nonexistent/db.sqlite3 is not a file",
    );
    failed(
        &import(&server, "mysql://u@h/d", &[]),
        "unsupported database",
    );
    // A Django database without the user table names the option to use.
    let bare = server.path().join("bare.sqlite3");
    sqlite_file(
        &bare,
        "CREATE TABLE django_migrations (id INTEGER PRIMARY KEY);",
    )
    .await;
    failed(
        &import(&server, bare.to_str().unwrap(), &[]),
        "--user-table",
    );
    failed(
        &import(
            &server,
            bare.to_str().unwrap(),
            &["--user-table", "x; DROP"],
        ),
        "is not a table or column name",
    );
    // A user table without Django's columns.
    let odd = server.path().join("odd.sqlite3");
    sqlite_file(
        &odd,
        "CREATE TABLE django_migrations (id INTEGER PRIMARY KEY);
         CREATE TABLE auth_user (id INTEGER PRIMARY KEY, name TEXT);",
    )
    .await;
    failed(
        &import(&server, odd.to_str().unwrap(), &[]),
        "has no column \"username\"",
    );
}

#[tokio::test]
async fn a_wrong_secret_key_writes_nothing() {
    let server = Server::start().await;
    let path = server.path().join("db.sqlite3");
    let data = session_data("1", PBKDF2, SECRET);
    let sql = format!(
        "{SCHEMA}{}{}{}",
        user_row(1, "alice", PBKDF2),
        session_row(&"a".repeat(32), &data, LIVE),
        session_row(&"b".repeat(32), &data, LIVE),
    );
    sqlite_file(&path, &sql).await;
    let wrong = server.path().join("wrong-key");
    std::fs::write(
        &wrong,
        "not-the-key-of-this-project-0123456789-abcdefghij\n",
    )
    .unwrap();
    failed(
        &import(
            &server,
            path.to_str().unwrap(),
            &["--django-secret-key-file", wrong.to_str().unwrap()],
        ),
        "every one of the 2 live sessions fails its signature check",
    );
    assert!(!can_log_in(&server, "alice").await, "a user was written");
    let empty = server.path().join("empty-key");
    std::fs::write(&empty, "\n").unwrap();
    failed(
        &import(
            &server,
            path.to_str().unwrap(),
            &["--django-secret-key-file", empty.to_str().unwrap()],
        ),
        "is empty",
    );
}

#[tokio::test]
async fn what_cannot_come_along_is_counted_with_its_reason() {
    let server = Server::start().await;
    let path = server.path().join("db.sqlite3");
    let changed = PBKDF2.replace("fixedsalt", "othersalt");
    let sql = format!(
        "{SCHEMA}{}{}{}
         INSERT INTO authtoken_token VALUES ('{TOKEN}', '2026-01-01 00:00:00', 1);
         INSERT INTO authtoken_token VALUES ('{}', '2026-01-01 00:00:00', 2);
         INSERT INTO authtoken_token VALUES ('x', '2026-01-01 00:00:00', 3);
         {}{}{}{}{}{}{}{}",
        user_row(1, "alice", PBKDF2),
        user_row(2, "mallory", "crypt$$abcdefgh"),
        user_row(3, "dave", "!unusable"),
        "f".repeat(40),
        user_row(i64::MAX, "huge", PBKDF2),
        user_row(4, "eve\nil", PBKDF2),
        session_row(&"a".repeat(32), &session_data("1", PBKDF2, SECRET), LIVE),
        session_row(
            &"b".repeat(32),
            &session_data("1", PBKDF2, SECRET),
            "datetime('now', '-1 day')"
        ),
        session_row(&"c".repeat(32), &session_data("1", &changed, SECRET), LIVE),
        session_row(
            &"d".repeat(32),
            &session_data("2", "crypt$$abcdefgh", SECRET),
            LIVE
        ),
        session_row(
            &"e".repeat(32),
            &signing::dumps(&json!({}), session::SESSION_SALT, SECRET, true, 1),
            LIVE
        ),
        session_row(
            &"f".repeat(32),
            &session_data("1", PBKDF2, "another-key"),
            LIVE
        ),
    );
    sqlite_file(&path, &sql).await;
    let key = server.path().join("key");
    std::fs::write(&key, format!("{SECRET}\n")).unwrap();
    let key = key.to_str().unwrap().to_owned();
    let out = import(
        &server,
        path.to_str().unwrap(),
        &["--django-secret-key-file", &key],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout(&out);
    for expected in [
        "Users: 2 imported, 0 updated, 0 unchanged, 3 skipped",
        "  skipped 1: unknown password hash algorithm \"crypt\"",
        "  skipped 1: id outside 1..2^53-1",
        "  skipped 1: username with control characters",
        "DRF tokens: 1 imported, 0 updated, 0 unchanged, 2 skipped",
        "  skipped 1: its user was not imported",
        "  skipped 1: key is not 40 hexadecimal characters, as DRF's keys are",
        "Sessions: 1 imported, 0 updated, 0 unchanged, 5 skipped",
        "  skipped 1: expired",
        "  skipped 1: bad signature (not signed with the given SECRET_KEY)",
        "  skipped 1: no logged-in user",
        "  skipped 1: _auth_user_hash does not match the user's password (changed since that login)",
        "Not in this database: simplejwt's records (token_blacklist_outstandingtoken); nothing of it imported.",
    ] {
        assert!(
            report.lines().any(|l| l == expected),
            "{expected:?} not in:\n{report}"
        );
    }
    // That login rehashed alice's PBKDF2 hash; her browser session stays logged in.
    assert!(can_log_in(&server, "alice").await);
    let r = dashboard(&server, &"a".repeat(32)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!can_log_in(&server, "dave").await);
    let r = server
        .get("/api/profile/", Some(&format!("Token {TOKEN}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A token restauth revoked since is not brought back by another run.
    let reset = server.command(&["drf_create_token", "alice", "-r"], "");
    assert!(reset.status.success(), "{}", stderr(&reset));
    let again = import(
        &server,
        path.to_str().unwrap(),
        &["--django-secret-key-file", &key],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    let report = stdout(&again);
    assert!(
        report.contains("  skipped 1: revoked on restauth since an earlier import"),
        "{report}"
    );
    let r = server
        .get("/api/profile/", Some(&format!("Token {TOKEN}")))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
}

#[tokio::test]
async fn users_restauth_already_has_stop_the_import() {
    let server = Server::start().await;
    server.create_user("alice", &[]);
    let path = server.path().join("db.sqlite3");
    let sql = format!(
        "{SCHEMA}{}{}",
        user_row(1, "carol", PBKDF2),
        user_row(2, "bob", PBKDF2)
    );
    sqlite_file(&path, &sql).await;
    let out = import(&server, path.to_str().unwrap(), &[]);
    failed(&out, "nothing was written: 1 Django user(s) collide");
    failed(&out, "id 1 belongs to the restauth user \"alice\"");
    assert!(!can_log_in(&server, "bob").await, "bob was written");
    assert!(can_log_in(&server, "alice").await);
}

#[tokio::test]
async fn a_custom_user_model_keyed_by_email() {
    let server = Server::builder()
        .config("[user]\nusername_field = \"email\"")
        .start()
        .await;
    let path = server.path().join("db.sqlite3");
    let sql = format!(
        "CREATE TABLE django_migrations (id INTEGER PRIMARY KEY);
         CREATE TABLE accounts_user (id INTEGER PRIMARY KEY, password TEXT NOT NULL,
             last_login TEXT, is_superuser BOOL NOT NULL, username TEXT, last_name TEXT NOT NULL,
             email TEXT NOT NULL UNIQUE, is_staff BOOL NOT NULL, is_active BOOL NOT NULL,
             date_joined TEXT NOT NULL, first_name TEXT NOT NULL);
         INSERT INTO accounts_user VALUES (4, '{PBKDF2}', NULL, 0, NULL, 'Doe',
             'jane@example.com', 0, 1, '2025-01-01 00:00:00', 'Jane');"
    );
    sqlite_file(&path, &sql).await;
    let out = import(
        &server,
        path.to_str().unwrap(),
        &["--user-table", "accounts_user", "--username-field", "email"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Users: 1 imported"),
        "{}",
        stdout(&out)
    );
    // As DRF and simplejwt with USERNAME_FIELD = "email": DRF's token view reads `username`
    // (matched against the e-mail; `email` still, for one release), simplejwt `email`.
    let creds = json!({"email": "jane@example.com", "password": PASSWORD});
    let drf = json!({"username": "jane@example.com", "password": PASSWORD});
    let r = server.post_json("/api-token-auth/", &drf, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = server.post_json("/api-token-auth/", &creds, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = server.post_json("/api/token/", &creds, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = server
        .post_json(
            "/api/token/",
            &json!({"username": "jane@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["email"][0], "This field is required.");
}

/// A project whose user model is keyed by a UUID (tests/django/uuidusers): read as integers, its
/// keys became their leading digits and users overwrote each other. The import refuses it,
/// saying why and what serves such a project, and writes nothing.
#[tokio::test]
async fn a_user_model_keyed_by_uuids_is_refused_not_merged() {
    let Some(venv) = django::venv() else { return };
    let server = Server::builder().own_database().start().await;
    let db = server.path().join("django.sqlite3");
    let django = Django::new(
        venv,
        &django::secret(),
        db.to_str().unwrap().to_owned(),
        None,
    )
    .user_model(django::UUID_EMAIL_MODEL);
    let run = |args: &[&str]| django.python(args);
    run(&["manage.py", "migrate", "--noinput", "-v0"]);
    // Six users, two of whose keys start with the same digit: as integers they were one user.
    run(&[
        "manage.py",
        "shell",
        "-c",
        "import uuid\n\
         from django.contrib.auth import get_user_model\n\
         from rest_framework.authtoken.models import Token\n\
         U = get_user_model()\n\
         keys = ['1ecddc2d-0f3b-4e0b-9a3c-5d6e7f8091a2', '1f0c0d2e-3a4b-4c5d-8e6f-708192a3b4c5',\n\
                 'f17815aa-2b3c-4d5e-8f60-718293a4b5c6', 'a0b1c2d3-e4f5-4a6b-8c7d-8e9fa0b1c2d3']\n\
         keys += [str(uuid.uuid4()), str(uuid.uuid4())]\n\
         for n, k in enumerate(keys):\n    \
             u = U.objects.create_user('u%d@example.com' % n, 'correct horse battery staple', id=uuid.UUID(k))\n    \
             Token.objects.create(user=u)",
    ]);
    let out = import(
        &server,
        db.to_str().unwrap(),
        &["--user-table", "users_user", "--username-field", "email"],
    );
    assert!(!out.status.success(), "{}", stdout(&out));
    let said = stderr(&out);
    assert!(said.contains("primary key is a UUID"), "{said}");
    assert!(said.contains("Nothing was imported"), "{said}");
    assert!(said.contains("schema_flavor = \"django\""), "{said}");
    let users = Store::Sqlite(server.path())
        .query_text(
            "SELECT CAST(COUNT(*) AS TEXT) FROM auth_user WHERE $1 = ''",
            "",
        )
        .await;
    assert_eq!(users.as_deref(), Some("0"));
}

/// The database fails after the users and tokens were written (the session table is locked by
/// another connection past the statement timeout): the one transaction leaves nothing behind.
#[tokio::test]
async fn a_failure_part_way_writes_nothing() {
    let Some(url) = postgres_url() else {
        return skip("RESTAUTH_TEST_DATABASE_URL is not set");
    };
    let db = TestDb::new(&url);
    let server = Server::builder()
        .on(&db)
        .database("statement_timeout = 1")
        .start()
        .await;
    let path = server.path().join("db.sqlite3");
    let sql = format!(
        "{SCHEMA}{}
         INSERT INTO authtoken_token VALUES ('{TOKEN}', '2026-01-01 00:00:00', 1);
         {}",
        user_row(1, "alice", PBKDF2),
        session_row(&"a".repeat(32), &session_data("1", PBKDF2, SECRET), LIVE),
    );
    sqlite_file(&path, &sql).await;
    let key = server.path().join("key");
    std::fs::write(&key, format!("{SECRET}\n")).unwrap();

    let mut lock = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "BEGIN; LOCK TABLE {}.auth_session IN ACCESS EXCLUSIVE MODE",
        db.schema
    )))
    .execute(&mut lock)
    .await
    .unwrap();
    let out = import(
        &server,
        path.to_str().unwrap(),
        &["--django-secret-key-file", key.to_str().unwrap()],
    );
    sqlx::raw_sql("ROLLBACK").execute(&mut lock).await.unwrap();
    failed(&out, "the import failed and nothing was written");
    failed(&out, "statement timeout");
    assert!(!can_log_in(&server, "alice").await, "alice was written");
    let r = server
        .get("/api/profile/", Some(&format!("Token {TOKEN}")))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);

    // With the lock gone, the same run goes through.
    let out = import(
        &server,
        path.to_str().unwrap(),
        &["--django-secret-key-file", key.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(can_log_in(&server, "alice").await);
}
