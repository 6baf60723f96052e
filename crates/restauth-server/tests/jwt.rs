//! simplejwt's wire behaviour over HTTP (spec drf-wire §5.2–§5.4): JWTAuthentication on
//! `/api/jwt/profile/`, the token endpoints, the claims, and interop with jwt-simple.
//! Attacks, revocation and asymmetric keys are in `jwt_security.rs`.

mod common;
mod jwt_support;

use std::time::Duration;

use common::{PASSWORD, Server};
use jwt_simple::prelude::{Duration as JsDuration, HS256Key, MACLike};
use jwt_support::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

const NOT_PROVIDED: &str = r#"{"detail":"Authentication credentials were not provided."}"#;
const NO_ACCOUNT: &str = r#"{"detail":"No active account found with the given credentials"}"#;
const NO_ACCOUNT_FOR_TOKEN: &str = r#"{"detail":"No active account found for the given token."}"#;

// ---- §5.3 JWTAuthentication -------------------------------------------------------------

#[tokio::test]
async fn access_token_reaches_the_profile() {
    let s = Server::start().await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    let (_, access) = obtain(&s, "alice").await;
    let r = profile(&s, &access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        r#"{"username":"alice","email":"alice@example.com"}"#
    );
}

#[tokio::test]
async fn header_without_two_values_is_a_bad_authorization_header() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (_, access) = obtain(&s, "alice").await;
    let body = r#"{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}"#;
    for header in [
        "Bearer".to_owned(),
        "Bearer a b".to_owned(),
        format!("Bearer {access} extra"),
    ] {
        let r = s.get("/api/jwt/profile/", Some(&header)).await;
        assert_401(&r, body);
    }
}

#[tokio::test]
async fn other_schemes_and_lowercase_bearer_are_not_provided() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (_, access) = obtain(&s, "alice").await;
    for header in [
        Some(format!("bearer {access}")),
        Some(format!("BEARER {access}")),
        Some(format!("Token {access}")),
        Some(format!("JWT {access}")),
        Some(String::new()),
        None,
    ] {
        let r = s.get("/api/jwt/profile/", header.as_deref()).await;
        assert_401(&r, NOT_PROVIDED);
    }
}

#[tokio::test]
async fn garbage_and_bad_signatures_are_invalid() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (_, access) = obtain(&s, "alice").await;
    let user_id = user_id_of(&access);
    let wrong_key = hs256(
        b"not the server's secret, but long enough",
        HS256_HEADER,
        &access_claims(&user_id),
    );
    // The payload swapped under a genuine signature.
    let parts: Vec<&str> = access.split('.').collect();
    let mut claims = payload_of(&access);
    claims["user_id"] = json!("999");
    let spliced = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    );
    for token in [
        "garbage",
        "a.b.c",
        "e30.e30.e30",
        &access[..access.len() - 4],
        &wrong_key,
        &spliced,
    ] {
        assert_refused(&s, token, "Token is invalid").await;
    }
}

#[tokio::test]
async fn refresh_token_used_as_access_has_the_wrong_type() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (refresh, _) = obtain(&s, "alice").await;
    assert_refused(&s, &refresh, "Token has wrong type").await;
}

#[tokio::test]
async fn expired_access_token_is_refused() {
    let s = Server::builder()
        .config("[simple_jwt]\naccess_token_lifetime = 1")
        .start()
        .await;
    s.create_user("alice", &[]);
    let (_, access) = obtain(&s, "alice").await;
    let claims = payload_of(&access);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        1
    );
    s.advance_clock(Duration::from_millis(2100));
    assert_refused(&s, &access, "Token is expired").await;
}

#[tokio::test]
async fn token_without_user_id_is_not_recognizable() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let token = server_signed(&s, &without(access_claims("1"), "user_id"));
    let r = profile(&s, &token).await;
    assert_401(
        &r,
        r#"{"detail":"Token contained no recognizable user identification","code":"token_not_valid"}"#,
    );
}

#[tokio::test]
async fn deleted_user_is_not_found() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (_, access) = obtain(&s, "alice").await;
    assert_profile(&profile(&s, &access).await, "alice");
    run(&s, &["deleteuser", "alice"], "");
    let r = profile(&s, &access).await;
    assert_401(&r, r#"{"detail":"User not found","code":"user_not_found"}"#);
    // A well-signed token for an id that never existed answers the same.
    let r = profile(&s, &server_signed(&s, &access_claims("4242"))).await;
    assert_401(&r, r#"{"detail":"User not found","code":"user_not_found"}"#);
}

#[tokio::test]
async fn inactive_user_is_refused() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (_, access) = obtain(&s, "alice").await;
    assert_profile(&profile(&s, &access).await, "alice");
    run(&s, &["deactivateuser", "alice"], "");
    let r = profile(&s, &access).await;
    assert_401(
        &r,
        r#"{"detail":"User is inactive","code":"user_inactive"}"#,
    );
    // Deactivation ended the token for good: reactivating does not bring it back, even within
    // the second it was issued in (refused as a revoked token: no password changed); a new
    // login works.
    run(&s, &["activateuser", "alice"], "");
    assert_401(
        &profile(&s, &access).await,
        r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#,
    );
    let (_, fresh) = obtain(&s, "alice").await;
    assert_profile(&profile(&s, &fresh).await, "alice");
}

// ---- §5.4 obtain ------------------------------------------------------------------------

#[tokio::test]
async fn obtain_answers_refresh_then_access() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let r = s
        .post_json(
            "/api/token/",
            &json!({"username": "alice", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let v = r.json();
    let (refresh, access) = (
        v["refresh"].as_str().unwrap(),
        v["access"].as_str().unwrap(),
    );
    assert_eq!(
        r.body,
        format!(r#"{{"refresh":"{refresh}","access":"{access}"}}"#)
    );
    assert_eq!(payload_of(refresh)["token_type"], "refresh");
    assert_eq!(payload_of(access)["token_type"], "access");
    // Form-encoded credentials work too, as with any DRF view.
    let form = s
        .send(
            s.client
                .post(s.url("/api/token"))
                .form(&[("username", "alice"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
}

#[tokio::test]
async fn obtain_refuses_wrong_credentials_and_inactive_users() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    s.create_user("sleepy", &["--inactive"]);
    for body in [
        json!({"username": "alice", "password": "wrong password!"}),
        json!({"username": "nobody", "password": PASSWORD}),
        json!({"username": "sleepy", "password": PASSWORD}),
    ] {
        let r = s.post_json("/api/token/", &body, None).await;
        assert_401(&r, NO_ACCOUNT);
    }
}

#[tokio::test]
async fn obtain_requires_both_fields() {
    let s = Server::start().await;
    let r = s.post_json("/api/token/", &json!({}), None).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        r#"{"username":["This field is required."],"password":["This field is required."]}"#
    );
    let r = s
        .post_json("/api/token/", &json!({"username": "alice"}), None)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, r#"{"password":["This field is required."]}"#);
}

// ---- §5.4 refresh -----------------------------------------------------------------------

#[tokio::test]
async fn refresh_answers_access_only_by_default() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (refresh_token, _) = obtain(&s, "alice").await;
    let r = refresh(&s, &refresh_token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let access = r.json()["access"].as_str().unwrap().to_owned();
    assert_eq!(r.body, format!(r#"{{"access":"{access}"}}"#));
    assert_profile(&profile(&s, &access).await, "alice");
    // Without rotation the same refresh token keeps working (simplejwt's default).
    let (again, rotated) = refreshed(&s, &refresh_token).await;
    assert_eq!(rotated, None);
    assert_ne!(again, access);
}

#[tokio::test]
async fn refresh_with_rotation_answers_access_then_refresh() {
    let s = Server::builder()
        .config("[simple_jwt]\nrotate_refresh_tokens = true")
        .start()
        .await;
    s.create_user("alice", &[]);
    let (first, _) = obtain(&s, "alice").await;
    let r = refresh(&s, &first).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let (access, next) = (
        v["access"].as_str().unwrap(),
        v["refresh"].as_str().unwrap(),
    );
    assert_eq!(
        r.body,
        format!(r#"{{"access":"{access}","refresh":"{next}"}}"#)
    );
    assert_ne!(next, first);
    assert_eq!(payload_of(next)["token_type"], "refresh");
    assert_eq!(payload_of(next)["user_id"], payload_of(&first)["user_id"]);
    assert_ne!(payload_of(next)["jti"], payload_of(&first)["jti"]);
    assert_profile(&profile(&s, access).await, "alice");
    // Without blacklist_after_rotation the old token is not refused (simplejwt).
    refreshed(&s, &first).await;
    refreshed(&s, next).await;
}

#[tokio::test]
async fn refresh_refuses_blacklisted_wrong_type_and_garbage() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (refresh_token, access) = obtain(&s, "alice").await;
    assert_401(
        &refresh(&s, &access).await,
        &token_not_valid("Token has wrong type"),
    );
    assert_401(
        &refresh(&s, "garbage").await,
        &token_not_valid("Token is invalid"),
    );
    assert_eq!(blacklist(&s, &refresh_token).await.status, 200);
    assert_401(
        &refresh(&s, &refresh_token).await,
        &token_not_valid("Token is blacklisted"),
    );
    let r = s.post_json("/api/token/refresh/", &json!({}), None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, r#"{"refresh":["This field is required."]}"#);
}

#[tokio::test]
async fn refresh_refuses_an_expired_token() {
    let s = Server::builder()
        .config("[simple_jwt]\nrefresh_token_lifetime = 1")
        .start()
        .await;
    s.create_user("alice", &[]);
    let (refresh_token, _) = obtain(&s, "alice").await;
    s.advance_clock(Duration::from_millis(2100));
    assert_401(
        &refresh(&s, &refresh_token).await,
        &token_not_valid("Token is expired"),
    );
}

#[tokio::test]
async fn refresh_for_inactive_or_deleted_user_finds_no_account() {
    let s = Server::start().await;
    s.create_user("sleepy", &[]);
    s.create_user("gone", &[]);
    let (sleepy, _) = obtain(&s, "sleepy").await;
    let (gone, _) = obtain(&s, "gone").await;
    run(&s, &["deactivateuser", "sleepy"], "");
    run(&s, &["deleteuser", "gone"], "");
    assert_401(&refresh(&s, &sleepy).await, NO_ACCOUNT_FOR_TOKEN);
    // simplejwt 5.5.1 answers 500 here; restauth answers as simplejwt's master does.
    assert_401(&refresh(&s, &gone).await, NO_ACCOUNT_FOR_TOKEN);
}

// ---- §5.4 verify ------------------------------------------------------------------------

#[tokio::test]
async fn verify_accepts_any_valid_token_and_refuses_bad_ones() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (refresh_token, access) = obtain(&s, "alice").await;
    for token in [&refresh_token, &access] {
        let r = verify(&s, token).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body, "{}");
    }
    assert_401(
        &verify(&s, "garbage").await,
        &token_not_valid("Token is invalid"),
    );
    let mut expired = access_claims(&user_id_of(&access));
    expired["iat"] = json!(now() - 600);
    expired["exp"] = json!(now() - 300);
    assert_401(
        &verify(&s, &server_signed(&s, &expired)).await,
        &token_not_valid("Token is expired"),
    );
    let r = s.post_json("/api/token/verify/", &json!({}), None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, r#"{"token":["This field is required."]}"#);
}

#[tokio::test]
async fn verify_checks_the_blacklist_only_with_blacklist_after_rotation() {
    let s = Server::builder()
        .config("[simple_jwt]\nrotate_refresh_tokens = true\nblacklist_after_rotation = true")
        .start()
        .await;
    s.create_user("alice", &[]);
    let (refresh_token, _) = obtain(&s, "alice").await;
    assert_eq!(blacklist(&s, &refresh_token).await.status, 200);
    let r = verify(&s, &refresh_token).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, r#"{"non_field_errors":["Token is blacklisted"]}"#);

    let plain = Server::start().await;
    plain.create_user("alice", &[]);
    let (refresh_token, _) = obtain(&plain, "alice").await;
    assert_eq!(blacklist(&plain, &refresh_token).await.status, 200);
    let r = verify(&plain, &refresh_token).await;
    assert_eq!((r.status, r.body.as_str()), (200, "{}"));
}

// ---- §5.4 blacklist ---------------------------------------------------------------------

#[tokio::test]
async fn blacklist_once_then_refuses() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (refresh_token, access) = obtain(&s, "alice").await;
    let r = blacklist(&s, &refresh_token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "{}");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_401(
        &blacklist(&s, &refresh_token).await,
        &token_not_valid("Token is blacklisted"),
    );
    assert_401(
        &blacklist(&s, &access).await,
        &token_not_valid("Token has wrong type"),
    );
    assert_401(
        &blacklist(&s, "garbage").await,
        &token_not_valid("Token is invalid"),
    );
    let r = s.post_json("/api/token/blacklist/", &json!({}), None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, r#"{"refresh":["This field is required."]}"#);
}

// ---- §5.2 claims ------------------------------------------------------------------------

#[tokio::test]
async fn tokens_have_simplejwts_header_and_payload_layout() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (refresh_token, access) = obtain(&s, "alice").await;
    let (minted, _) = refreshed(&s, &refresh_token).await;
    for (token, kind, lifetime) in [
        (&refresh_token, "refresh", 86_400),
        (&access, "access", 300),
        (&minted, "access", 300),
    ] {
        assert_eq!(segment(token, 0), HS256_HEADER);
        assert_eq!(
            payload_keys(token),
            ["token_type", "exp", "iat", "jti", "user_id"]
        );
        let p = payload_of(token);
        assert_eq!(p["token_type"], kind);
        assert!(p["user_id"].is_string(), "user_id must be a string: {p}");
        assert_eq!(
            p["exp"].as_i64().unwrap() - p["iat"].as_i64().unwrap(),
            lifetime
        );
        assert!((p["iat"].as_i64().unwrap() - now()).abs() <= 5);
        let jti = p["jti"].as_str().unwrap();
        assert_eq!(jti.len(), 32);
        assert!(
            jti.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
    let ids: Vec<_> = [&refresh_token, &access, &minted]
        .iter()
        .map(|t| payload_of(t)["jti"].clone())
        .collect();
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    assert_eq!(
        payload_of(&minted)["user_id"],
        payload_of(&access)["user_id"]
    );
}

#[tokio::test]
async fn integer_user_id_is_accepted() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (_, access) = obtain(&s, "alice").await;
    let id: i64 = user_id_of(&access).parse().unwrap();
    let mut claims = access_claims("");
    claims["user_id"] = json!(id);
    let r = profile(&s, &server_signed(&s, &claims)).await;
    assert_profile(&r, "alice");
    // A refresh token of simplejwt ≤ 5.5.0 (integer user_id) refreshes too.
    let mut old = claims.clone();
    old["token_type"] = json!("refresh");
    old["jti"] = json!(random_jti());
    let (access, _) = refreshed(&s, &server_signed(&s, &old)).await;
    assert_eq!(payload_of(&access)["user_id"], json!(id.to_string()));
}

// ---- interop with an independent implementation -----------------------------------------

#[derive(Serialize, Deserialize)]
struct SimpleJwtClaims {
    token_type: String,
    user_id: String,
}

#[tokio::test]
async fn restauth_tokens_verify_with_jwt_simple() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (refresh_token, access) = obtain(&s, "alice").await;
    let key = HS256Key::from_bytes(secret(&s).as_bytes());
    for (token, kind) in [(&access, "access"), (&refresh_token, "refresh")] {
        let claims = key
            .verify_token::<SimpleJwtClaims>(token, None)
            .expect("jwt-simple verifies a restauth token");
        assert_eq!(claims.custom.token_type, kind);
        assert_eq!(claims.custom.user_id, user_id_of(&access));
        assert_eq!(claims.jwt_id.as_deref(), payload_of(token)["jti"].as_str());
        assert!(claims.expires_at.is_some() && claims.issued_at.is_some());
    }
    let other = HS256Key::from_bytes(b"another secret of at least 32 bytes!!");
    assert!(
        other
            .verify_token::<SimpleJwtClaims>(&access, None)
            .is_err()
    );
}

#[tokio::test]
async fn jwt_simple_tokens_are_accepted() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (_, access) = obtain(&s, "alice").await;
    let key = HS256Key::from_bytes(secret(&s).as_bytes());
    let make = |kind: &str| {
        let custom = SimpleJwtClaims {
            token_type: kind.into(),
            user_id: user_id_of(&access),
        };
        let claims =
            jwt_simple::prelude::Claims::with_custom_claims(custom, JsDuration::from_mins(5))
                .with_jwt_id(random_jti());
        key.authenticate(claims).expect("jwt-simple signs")
    };
    assert_profile(&profile(&s, &make("access")).await, "alice");
    let (minted, _) = refreshed(&s, &make("refresh")).await;
    assert_profile(&profile(&s, &minted).await, "alice");
    assert_refused(&s, &make("refresh"), "Token has wrong type").await;
}
