//! DRF's BasicAuthentication over HTTP (spec drf-wire §2.5).

mod common;

use base64::Engine as _;
use common::{PASSWORD, Server};

fn basic(credentials: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

#[tokio::test]
async fn basic_header_rows() {
    let s = Server::builder()
        .config("[rest_framework]\ndefault_authentication_classes = [\"basic\", \"session\"]\n")
        .start()
        .await;
    s.create_user("alice", &[]);
    s.create_user("sleepy", &["--inactive"]);
    let invalid = r#"{"detail":"Invalid username/password."}"#;
    let rows: Vec<(String, u16, String)> = vec![
        (
            "Basic".into(),
            401,
            r#"{"detail":"Invalid basic header. No credentials provided."}"#.into(),
        ),
        (
            "Basic a b".into(),
            401,
            r#"{"detail":"Invalid basic header. Credentials string should not contain spaces."}"#
                .into(),
        ),
        (
            "Basic %%%".into(),
            401,
            r#"{"detail":"Invalid basic header. Credentials not correctly base64 encoded."}"#
                .into(),
        ),
        (
            basic("no-colon"),
            401,
            r#"{"detail":"Invalid basic header. Credentials not correctly base64 encoded."}"#
                .into(),
        ),
        (basic("alice:wrong password"), 401, invalid.into()),
        (basic("nobody:whatever"), 401, invalid.into()),
        (basic(&format!("sleepy:{PASSWORD}")), 401, invalid.into()),
        (
            basic(&format!("alice:{PASSWORD}")),
            200,
            r#"{"message":"Hello alice, welcome to your dashboard"}"#.into(),
        ),
        (
            basic(&format!("alice:{PASSWORD}")).replace("Basic", "bAsIc"),
            200,
            r#"{"message":"Hello alice, welcome to your dashboard"}"#.into(),
        ),
    ];
    for (header, status, body) in rows {
        let r = s.get("/api/dashboard/", Some(&header)).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (status, body.as_str()),
            "{header}"
        );
        if status == 401 {
            assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"api\""));
        }
    }
}

#[tokio::test]
async fn malformed_basic_on_login_is_403_when_session_comes_first() {
    // DRF's defaults (Session, Basic) still run on obtain_auth_token.
    let s = Server::builder()
        .config("[rest_framework]\ndefault_authentication_classes = [\"session\", \"basic\"]\n")
        .start()
        .await;
    let r = s
        .post_json(
            "/api-token-auth/",
            &serde_json::json!({"username": "a", "password": "b"}),
            Some("Basic %%%"),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        r#"{"detail":"Invalid basic header. Credentials not correctly base64 encoded."}"#
    );
    assert_eq!(r.header("www-authenticate"), None);
}
