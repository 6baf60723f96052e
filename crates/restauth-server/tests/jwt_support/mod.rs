//! Helpers shared by the JWT tests: hand-made tokens, simplejwt's bodies, endpoint calls.

#![allow(dead_code)]

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::common::{PASSWORD, Reply, Server};

/// What every JWT 401 carries.
pub const CHALLENGE: &str = r#"Bearer realm="api""#;

/// The header restauth (and PyJWT) put on HS256 tokens, byte for byte.
pub const HS256_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(segment: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(segment).expect("base64url segment")
}

/// The decoded JSON text of segment `i` (0: header, 1: payload) of a compact token.
pub fn segment(token: &str, i: usize) -> String {
    let part = token.split('.').nth(i).expect("segment");
    String::from_utf8(unb64(part)).expect("UTF-8 segment")
}

pub fn header_of(token: &str) -> Value {
    serde_json::from_str(&segment(token, 0)).expect("header JSON")
}

pub fn payload_of(token: &str) -> Value {
    serde_json::from_str(&segment(token, 1)).expect("payload JSON")
}

/// The payload's keys in token order.
pub fn payload_keys(token: &str) -> Vec<String> {
    payload_of(token)
        .as_object()
        .expect("payload object")
        .keys()
        .cloned()
        .collect()
}

/// The string user id a restauth token carries.
pub fn user_id_of(token: &str) -> String {
    payload_of(token)["user_id"]
        .as_str()
        .expect("user_id string")
        .to_owned()
}

pub fn now() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    i64::try_from(d.as_secs()).expect("time")
}

/// 32 lowercase hex characters, like the jti of a real token.
pub fn random_jti() -> String {
    restauth::token::generate_key()[..32].to_owned()
}

/// An HMAC-signed token with exactly this header and payload JSON (`alg` is not derived from
/// the header, so any header can be signed with any of HS256/384/512).
pub fn hmac_token(alg: &str, key: &[u8], header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let signature = match alg {
        "HS256" => mac::<hmac::Hmac<sha2::Sha256>>(key, &input),
        "HS384" => mac::<hmac::Hmac<sha2::Sha384>>(key, &input),
        "HS512" => mac::<hmac::Hmac<sha2::Sha512>>(key, &input),
        other => panic!("not an HMAC algorithm: {other}"),
    };
    format!("{input}.{}", b64(&signature))
}

fn mac<M: Mac + KeyInit>(key: &[u8], input: &str) -> Vec<u8> {
    let mut m = <M as KeyInit>::new_from_slice(key).expect("HMAC key");
    m.update(input.as_bytes());
    m.finalize().into_bytes().to_vec()
}

pub fn hs256(key: &[u8], header: &str, payload: &Value) -> String {
    hmac_token("HS256", key, header, &payload.to_string())
}

/// The server's HMAC secret: the generated `restauth.secret_key` file in its folder (SQLite),
/// else the `secret_key` of its configuration (PostgreSQL servers are given one).
pub fn secret(s: &Server) -> String {
    if let Ok(key) = std::fs::read_to_string(s.path().join("restauth.secret_key")) {
        return key.trim().to_owned();
    }
    let config = std::fs::read_to_string(s.path().join("restauth.toml")).expect("restauth.toml");
    config
        .lines()
        .find_map(|l| l.strip_prefix("secret_key = "))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("secret_key in restauth.toml")
}

/// A valid access payload for `user_id`, in simplejwt's key order.
pub fn access_claims(user_id: &str) -> Value {
    let now = now();
    json!({
        "token_type": "access",
        "exp": now + 300,
        "iat": now,
        "jti": random_jti(),
        "user_id": user_id,
    })
}

/// `payload` signed HS256 with the server's own secret and the standard header.
pub fn server_signed(s: &Server, payload: &Value) -> String {
    hs256(secret(s).as_bytes(), HS256_HEADER, payload)
}

/// `payload` with `key` removed.
pub fn without(mut payload: Value, key: &str) -> Value {
    payload.as_object_mut().expect("object").remove(key);
    payload
}

/// Logs in at `/api/token/` and returns `(refresh, access)`.
pub async fn obtain(s: &Server, username: &str) -> (String, String) {
    let r = s
        .post_json(
            "/api/token/",
            &json!({"username": username, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    (
        v["refresh"].as_str().expect("refresh").to_owned(),
        v["access"].as_str().expect("access").to_owned(),
    )
}

/// `GET /api/jwt/profile/` with `Bearer <token>`.
pub async fn profile(s: &Server, token: &str) -> Reply {
    s.get("/api/jwt/profile/", Some(&format!("Bearer {token}")))
        .await
}

pub async fn refresh(s: &Server, token: &str) -> Reply {
    s.post_json("/api/token/refresh/", &json!({ "refresh": token }), None)
        .await
}

pub async fn verify(s: &Server, token: &str) -> Reply {
    s.post_json("/api/token/verify/", &json!({ "token": token }), None)
        .await
}

pub async fn blacklist(s: &Server, token: &str) -> Reply {
    s.post_json("/api/token/blacklist/", &json!({ "refresh": token }), None)
        .await
}

/// The new access (and, with rotation, refresh) token of a successful refresh.
pub async fn refreshed(s: &Server, token: &str) -> (String, Option<String>) {
    let r = refresh(s, token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    (
        v["access"].as_str().expect("access").to_owned(),
        v["refresh"].as_str().map(str::to_owned),
    )
}

/// JWTAuthentication's refusal of a token (§5.3): `messages[0].message` is `message`.
pub fn not_valid_for_any(message: &str) -> String {
    format!(
        r#"{{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{{"token_class":"AccessToken","token_type":"access","message":"{message}"}}]}}"#
    )
}

/// The token views' refusal (§5.4).
pub fn token_not_valid(detail: &str) -> String {
    format!(r#"{{"detail":"{detail}","code":"token_not_valid"}}"#)
}

/// A 401 with the Bearer challenge and exactly `body`.
#[track_caller]
pub fn assert_401(r: &Reply, body: &str) {
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.header("www-authenticate"), Some(CHALLENGE));
    assert_eq!(r.body, body);
}

/// The profile view refused `token` as invalid (§5.3 "garbage / bad signature").
pub async fn assert_refused(s: &Server, token: &str, message: &str) {
    let r = profile(s, token).await;
    assert_401(&r, &not_valid_for_any(message));
}

/// The profile view accepted the token and answered for `username`.
#[track_caller]
pub fn assert_profile(r: &Reply, username: &str) {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["username"].as_str(), Some(username), "{}", r.body);
}

/// Runs a management command and insists that it succeeded.
pub fn run(s: &Server, args: &[&str], stdin: &str) -> String {
    let out = s.command(args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        crate::common::stdout(&out),
        crate::common::stderr(&out)
    );
    crate::common::stdout(&out)
}

/// Where the unit tests' PEM files live (public test keys, never for deployment).
pub fn testdata(name: &str) -> String {
    format!(
        "{}/../restauth/src/jwt/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

pub fn read_testdata(name: &str) -> String {
    std::fs::read_to_string(testdata(name)).expect("testdata PEM")
}
