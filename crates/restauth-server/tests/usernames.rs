//! Usernames are NFKC-normalised as Django's (`normalize_username`): on creation and on every
//! password path, throttle keys included; older non-normalised names keep logging in.

mod common;

use common::{PASSWORD, Server, TestDb, postgres_backend, postgres_url, stderr, stdout};
use serde_json::json;

async fn login(s: &Server, username: &str, password: &str) -> u16 {
    s.post_json(
        "/api-token-auth/",
        &json!({"username": username, "password": password}),
        None,
    )
    .await
    .status
}

#[tokio::test]
async fn look_alike_usernames_are_one_name() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    // Full-width "ａｌｉｃｅ" is alice under NFKC: refused with Django's message.
    let out = s.command(
        &["createuser", "ａｌｉｃｅ", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("A user with that username already exists."),
        "{}",
        stderr(&out)
    );
    // A new look-alike is stored in its normal form.
    let out = s.command(
        &["createuser", "ｂｏｂ", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "User 'bob' created.");
    // Every spelling logs in, on every endpoint.
    for name in ["bob", "ｂｏｂ"] {
        assert_eq!(login(&s, name, PASSWORD).await, 200, "{name}");
        let r = s
            .post_json(
                "/api/token/",
                &json!({"username": name, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{name}");
    }
    // The commands find the user by either spelling too.
    let out = s.command(&["drf_create_token", "ａｌｉｃｅ"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).ends_with("for user alice\n"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test]
async fn look_alike_spellings_share_their_throttle_keys() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    // Five failures in each spelling fill the (username, address) pair's 10/min.
    for name in ["ａｌｉｃｅ", "alice"] {
        for _ in 0..5 {
            assert_eq!(login(&s, name, "wrong wrong").await, 400, "{name}");
        }
    }
    assert_eq!(login(&s, "alice", PASSWORD).await, 429);
    assert_eq!(login(&s, "ａｌｉｃｅ", PASSWORD).await, 429);
}

/// Renames a user behind the server's back, as a database made before normalisation holds.
async fn rename_in_database(s: &Server, db: Option<&TestDb>, from: &str, to: &str) {
    use sqlx::Connection;
    const SQL: &str = "UPDATE auth_user SET username = $1 WHERE username = $2";
    let done = match db {
        Some(db) => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            // The name is ours, made of [a-z0-9_] only.
            let path = format!("SET search_path TO {}", db.schema);
            sqlx::query(sqlx::AssertSqlSafe(path))
                .execute(&mut c)
                .await
                .unwrap();
            sqlx::query(SQL)
                .bind(to)
                .bind(from)
                .execute(&mut c)
                .await
                .map(|r| r.rows_affected())
        }
        None => {
            let url = format!("sqlite://{}", s.path().join("restauth.db").display());
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(SQL)
                .bind(to)
                .bind(from)
                .execute(&mut c)
                .await
                .map(|r| r.rows_affected())
        }
    };
    assert_eq!(done.unwrap(), 1);
}

#[tokio::test]
async fn older_unnormalised_usernames_log_in_and_are_listed() {
    let db = postgres_url()
        .filter(|_| postgres_backend())
        .map(|url| TestDb::new(&url));
    let s = match &db {
        Some(db) => Server::builder().on(db).start().await,
        None => Server::start().await,
    };
    s.create_user("carol", &[]);
    s.create_user("zoë", &[]);
    let out = s.command(&["check"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "System check identified no issues (0 silenced)."
    );

    rename_in_database(&s, db.as_ref(), "carol", "ｃａｒｏｌ").await;
    // No "carol" exists, so the exact name matches.
    assert_eq!(login(&s, "ｃａｒｏｌ", PASSWORD).await, 200);
    assert_eq!(login(&s, "ｃａｒｏｌ", "wrong wrong").await, 400);
    let out = s.command(&["check"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout(&out);
    assert!(report.contains("WARNINGS:"), "{report}");
    assert!(report.contains("\"ｃａｒｏｌ\""), "{report}");
    assert!(report.contains("normalised: \"carol\""), "{report}");
    assert!(!report.contains("zoë"), "{report}");
    assert!(
        report.contains("identified 1 issue (0 silenced)"),
        "{report}"
    );
    let out = s.command(&["migrate"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 username(s) not in Unicode NFKC form"),
        "{}",
        stdout(&out)
    );
    // Once a normalised "carol" exists, that spelling means her.
    s.create_user("carol", &[]);
    let out = s.command(&["drf_create_token", "ｃａｒｏｌ"], "");
    assert!(
        stdout(&out).ends_with("for user carol\n"),
        "{}",
        stdout(&out)
    );
}
