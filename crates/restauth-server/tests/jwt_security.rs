//! JWT hardening over HTTP (spec security.md V6.8, V7.4, V9.1, V9.2, V10.4; decisions "JWT"):
//! forged and malformed tokens, leeway, rotation with replay detection, per-user revocation,
//! and asymmetric keys with their published JWKS.

mod common;
mod jwt_support;

use std::net::TcpListener;
use std::time::Duration;

use common::{PASSWORD, Server};
use jwt_simple::prelude::{
    Duration as JsDuration, ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair,
    ES256PublicKey, Ed25519PublicKey, EdDSAPublicKeyLike, KeyMetadata, RS256KeyPair,
    RS256PublicKey, RSAKeyPairLike, RSAPublicKeyLike,
};
use jwt_support::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const ROTATE_AND_BLACKLIST: &str =
    "[simple_jwt]\nrotate_refresh_tokens = true\nblacklist_after_rotation = true";
/// Rotation with no grace: the second refresh of a token is always a replay.
const STRICT_ROTATION: &str = "[simple_jwt]\nrotate_refresh_tokens = true\n\
    blacklist_after_rotation = true\nrotation_grace_seconds = 0";
/// Just past the default `rotation_grace_seconds` (5).
const PAST_THE_GRACE: Duration = Duration::from_millis(5_001);
const PASSWORD_CHANGED: &str =
    r#"{"detail":"The user's password has been changed.","code":"password_changed"}"#;
/// simplejwt's answer to a revoked token: what an access token issued before a logout
/// everywhere (or a deactivation since undone) gets.
const REVOKED: &str = r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#;

/// A server with `alice`, and her user id.
async fn with_alice(config: &str) -> (Server, String) {
    let s = Server::builder().config(config).start().await;
    s.create_user("alice", &[]);
    let (_, access) = obtain(&s, "alice").await;
    let id = user_id_of(&access);
    (s, id)
}

fn asymmetric_config(alg: &str, signing: &str, verifying: &[&str]) -> String {
    let keys: Vec<String> = verifying
        .iter()
        .map(|k| format!("{:?}", testdata(k)))
        .collect();
    format!(
        "[simple_jwt]\nalgorithm = \"{alg}\"\nsigning_key = {:?}\nverifying_keys = [{}]",
        testdata(signing),
        keys.join(", ")
    )
}

#[derive(Serialize, Deserialize)]
struct SimpleJwtClaims {
    token_type: String,
    user_id: String,
}

fn their_claims(user_id: &str) -> jwt_simple::prelude::JWTClaims<SimpleJwtClaims> {
    let custom = SimpleJwtClaims {
        token_type: "access".into(),
        user_id: user_id.into(),
    };
    jwt_simple::prelude::Claims::with_custom_claims(custom, JsDuration::from_mins(5))
        .with_jwt_id(random_jti())
}

/// A loopback listener standing in for an attacker's key server; counts connections.
struct Trap {
    listener: TcpListener,
}

impl Trap {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        Trap { listener }
    }

    fn url(&self) -> String {
        format!(
            "http://{}/.well-known/jwks.json",
            self.listener.local_addr().unwrap()
        )
    }

    /// Connections received from `servers`, counted once they have stopped: a fetch started
    /// in the background, late, would have connected before its process exited (the kernel
    /// completes a connection to a listening socket without an `accept`).
    fn connections(&self, servers: [&mut Server; 2]) -> usize {
        for server in servers {
            assert!(server.terminate(), "the server did not stop by itself");
        }
        let mut n = 0;
        while self.listener.accept().is_ok() {
            n += 1;
        }
        n
    }
}

// ---- forged and malformed tokens (V6.8.2, V9.1.2, V9.1.3, V9.2.2) -----------------------

#[tokio::test]
async fn alg_none_in_any_case_is_refused() {
    let (s, id) = with_alice("").await;
    let payload = access_claims(&id).to_string();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let signed = hmac_token("HS256", secret(&s).as_bytes(), &header, &payload);
        for token in [format!("{input}."), input.clone(), signed] {
            assert_refused(&s, &token, "Token is invalid").await;
            assert_401(
                &verify(&s, &token).await,
                &token_not_valid("Token is invalid"),
            );
        }
    }
    // The same payload, honestly signed, is accepted: only the algorithm was at fault.
    assert_profile(
        &profile(&s, &server_signed(&s, &access_claims(&id))).await,
        "alice",
    );
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused_under_rs256() {
    let (s, id) = with_alice(&asymmetric_config("RS256", "rsa_a.key.pem", &[])).await;
    let (_, genuine) = obtain(&s, "alice").await;
    assert_profile(&profile(&s, &genuine).await, "alice");
    let kid = header_of(&genuine)["kid"].as_str().unwrap().to_owned();
    let public_pem = read_testdata("rsa_a.pub.pem");
    let payload = access_claims(&id).to_string();
    for key in [public_pem.as_bytes(), public_pem.trim_end().as_bytes()] {
        for header in [
            HS256_HEADER.to_owned(),
            format!(r#"{{"alg":"HS256","kid":"{kid}","typ":"JWT"}}"#),
        ] {
            let forged = hmac_token("HS256", key, &header, &payload);
            assert_refused(&s, &forged, "Token is invalid").await;
        }
    }
}

#[tokio::test]
async fn other_algorithm_than_configured_is_refused() {
    let (s, id) = with_alice("").await;
    let secret = secret(&s);
    let payload = access_claims(&id).to_string();
    let mut forged = Vec::new();
    for alg in ["HS384", "HS512"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        forged.push(hmac_token(alg, secret.as_bytes(), &header, &payload));
    }
    // HS256 label over an HS512 signature.
    forged.push(hmac_token(
        "HS512",
        secret.as_bytes(),
        HS256_HEADER,
        &payload,
    ));
    let rsa = RS256KeyPair::from_pem(&read_testdata("rsa_a.key.pem")).unwrap();
    forged.push(rsa.sign(their_claims(&id)).unwrap());
    let ec = ES256KeyPair::from_pem(&read_testdata("ec_a.key.pem")).unwrap();
    forged.push(ec.sign(their_claims(&id)).unwrap());
    for token in &forged {
        assert_refused(&s, token, "Token is invalid").await;
    }

    // And the other way round: an HS256 token on an ES256 server, even with its secret key.
    let (es, id) = with_alice(&asymmetric_config("ES256", "ec_a.key.pem", &[])).await;
    let token = hs256(secret.as_bytes(), HS256_HEADER, &access_claims(&id));
    assert_refused(&es, &token, "Token is invalid").await;
    let rsa_token = rsa.sign(their_claims(&id)).unwrap();
    assert_refused(&es, &rsa_token, "Token is invalid").await;
}

/// A validly signed HS256 token whose header carries `extra` parameters.
fn with_header(s: &Server, id: &str, extra: &Value) -> String {
    let mut header = json!({"alg": "HS256", "typ": "JWT"});
    for (k, v) in extra.as_object().unwrap() {
        header[k] = v.clone();
    }
    hmac_token(
        "HS256",
        secret(s).as_bytes(),
        &header.to_string(),
        &access_claims(id).to_string(),
    )
}

#[tokio::test]
async fn crit_header_is_refused() {
    let (s, id) = with_alice("").await;
    for extra in [
        json!({"crit": ["exp"]}),
        json!({"crit": []}),
        json!({"crit": ["b64"], "b64": false}),
    ] {
        assert_refused(&s, &with_header(&s, &id, &extra), "Token is invalid").await;
    }
}

#[tokio::test]
async fn jku_header_is_refused_and_never_fetched() {
    let trap = Trap::new();
    let (mut s, id) = with_alice("").await;
    let token = with_header(&s, &id, &json!({"jku": trap.url(), "kid": "attacker"}));
    assert_refused(&s, &token, "Token is invalid").await;
    assert_401(
        &verify(&s, &token).await,
        &token_not_valid("Token is invalid"),
    );

    // With an asymmetric algorithm, an attacker's key pointing at its own key set.
    let (mut rs, id) = with_alice(&asymmetric_config("RS256", "rsa_a.key.pem", &[])).await;
    let mut attacker = RS256KeyPair::from_pem(&read_testdata("rsa_b.key.pem"))
        .unwrap()
        .with_key_id("attacker");
    attacker
        .attach_metadata(KeyMetadata::default().with_key_set_url(trap.url()))
        .unwrap();
    let token = attacker.sign(their_claims(&id)).unwrap();
    assert_eq!(header_of(&token)["jku"], json!(trap.url()));
    assert_refused(&rs, &token, "Token is invalid").await;
    assert_eq!(
        trap.connections([&mut s, &mut rs]),
        0,
        "the jku URL was fetched"
    );
}

#[tokio::test]
async fn x5u_header_is_refused_and_never_fetched() {
    let trap = Trap::new();
    let (mut s, id) = with_alice("").await;
    let token = with_header(&s, &id, &json!({"x5u": trap.url()}));
    assert_refused(&s, &token, "Token is invalid").await;

    let (mut rs, id) = with_alice(&asymmetric_config("RS256", "rsa_a.key.pem", &[])).await;
    let mut attacker = RS256KeyPair::from_pem(&read_testdata("rsa_b.key.pem")).unwrap();
    attacker
        .attach_metadata(KeyMetadata::default().with_certificate_url(trap.url()))
        .unwrap();
    let token = attacker.sign(their_claims(&id)).unwrap();
    assert_eq!(header_of(&token)["x5u"], json!(trap.url()));
    assert_refused(&rs, &token, "Token is invalid").await;
    assert_eq!(
        trap.connections([&mut s, &mut rs]),
        0,
        "the x5u URL was fetched"
    );
}

#[tokio::test]
async fn embedded_jwk_header_is_refused() {
    let (s, id) = with_alice("").await;
    // An HMAC key embedded in the header, signing the token itself.
    let attacker_secret = b"attacker's own secret, 32 bytes or more";
    let header = json!({
        "alg": "HS256",
        "jwk": {"kty": "oct", "k": b64(attacker_secret)},
        "typ": "JWT",
    });
    let token = hs256(attacker_secret, &header.to_string(), &access_claims(&id));
    assert_refused(&s, &token, "Token is invalid").await;
    // Even a token the server's own key signed is refused when it carries `jwk` or `x5c`.
    for extra in [
        json!({"jwk": {"kty": "oct", "k": b64(secret(&s).as_bytes())}}),
        json!({"x5c": ["MIIB"]}),
    ] {
        assert_refused(&s, &with_header(&s, &id, &extra), "Token is invalid").await;
    }

    // RS256: the attacker's public key embedded, the token signed by its private key.
    let (rs, id) = with_alice(&asymmetric_config("RS256", "rsa_a.key.pem", &[])).await;
    let attacker = RS256KeyPair::from_pem(&read_testdata("rsa_b.key.pem")).unwrap();
    let c = attacker.public_key().to_components();
    let jwk = json!({"kty": "RSA", "n": b64(&c.n), "e": b64(&c.e)});
    let mut with_jwk = attacker.clone();
    with_jwk
        .attach_metadata(KeyMetadata::default().with_public_key(jwk.to_string()))
        .unwrap();
    let token = with_jwk.sign(their_claims(&id)).unwrap();
    assert!(header_of(&token).get("jwk").is_some());
    assert_refused(&rs, &token, "Token is invalid").await;
}

#[tokio::test]
async fn missing_exp_is_refused() {
    let (s, id) = with_alice("").await;
    let token = server_signed(&s, &without(access_claims(&id), "exp"));
    assert_refused(&s, &token, "Token has no 'exp' claim").await;
}

#[tokio::test]
async fn missing_jti_is_refused() {
    let (s, id) = with_alice("").await;
    let token = server_signed(&s, &without(access_claims(&id), "jti"));
    assert_refused(&s, &token, "Token has no id").await;
    let mut empty = access_claims(&id);
    empty["jti"] = json!("");
    assert_refused(&s, &server_signed(&s, &empty), "Token has no id").await;
}

#[tokio::test]
async fn missing_iat_is_refused() {
    let (s, id) = with_alice("").await;
    let token = server_signed(&s, &without(access_claims(&id), "iat"));
    assert_refused(&s, &token, "Token has no 'iat' claim").await;
}

#[tokio::test]
async fn wrong_or_missing_token_type_is_refused() {
    let (s, id) = with_alice("").await;
    for kind in ["refresh", "sliding", "Access", "access ", ""] {
        let mut claims = access_claims(&id);
        claims["token_type"] = json!(kind);
        assert_refused(&s, &server_signed(&s, &claims), "Token has wrong type").await;
    }
    let token = server_signed(&s, &without(access_claims(&id), "token_type"));
    assert_refused(&s, &token, "Token has no type").await;
    // An access token is refused where a refresh token belongs (V9.2.2).
    let access = server_signed(&s, &access_claims(&id));
    assert_401(
        &refresh(&s, &access).await,
        &token_not_valid("Token has wrong type"),
    );
}

#[tokio::test]
async fn nbf_in_the_future_is_refused() {
    let (s, id) = with_alice("").await;
    let mut claims = access_claims(&id);
    claims["nbf"] = json!(now() + 60);
    assert_refused(&s, &server_signed(&s, &claims), "Token is invalid").await;
    let mut claims = access_claims(&id);
    claims["iat"] = json!(now() + 60);
    assert_refused(&s, &server_signed(&s, &claims), "Token is invalid").await;
    let mut claims = access_claims(&id);
    claims["nbf"] = json!(now() - 1);
    assert_profile(&profile(&s, &server_signed(&s, &claims)).await, "alice");
}

#[tokio::test]
async fn leeway_is_honoured() {
    let past = |id: &str, exp_ago: i64| {
        let mut c = access_claims(id);
        c["iat"] = json!(now() - 60);
        c["exp"] = json!(now() - exp_ago);
        c
    };
    let (strict, id) = with_alice("").await;
    assert_refused(
        &strict,
        &server_signed(&strict, &past(&id, 2)),
        "Token is expired",
    )
    .await;

    let (s, id) = with_alice("[simple_jwt]\nleeway = 5").await;
    assert_profile(
        &profile(&s, &server_signed(&s, &past(&id, 2))).await,
        "alice",
    );
    assert_refused(&s, &server_signed(&s, &past(&id, 10)), "Token is expired").await;
    let mut early = access_claims(&id);
    early["nbf"] = json!(now() + 2);
    early["iat"] = json!(now() + 2);
    assert_profile(&profile(&s, &server_signed(&s, &early)).await, "alice");
    early["nbf"] = json!(now() + 30);
    assert_refused(&s, &server_signed(&s, &early), "Token is invalid").await;
}

// ---- revocation (V7.4, V10.4) -----------------------------------------------------------

#[tokio::test]
async fn rotated_out_refresh_token_is_refused() {
    let (s, _) = with_alice(ROTATE_AND_BLACKLIST).await;
    let (first, _) = obtain(&s, "alice").await;
    let (access, next) = refreshed(&s, &first).await;
    let next = next.expect("rotation issues a refresh token");
    assert_profile(&profile(&s, &access).await, "alice");
    // The successor is a normal refresh token.
    assert_eq!(verify(&s, &next).await.body, "{}");
    // Verifying the old token reports it without counting as a replay.
    let r = verify(&s, &first).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, r#"{"non_field_errors":["Token is blacklisted"]}"#);
    s.advance_clock(PAST_THE_GRACE);
    assert_401(
        &refresh(&s, &first).await,
        &token_not_valid("Token is blacklisted"),
    );
    assert_401(
        &blacklist(&s, &first).await,
        &token_not_valid("Token is blacklisted"),
    );
}

#[tokio::test]
async fn replayed_refresh_token_revokes_its_family() {
    let (s, _) = with_alice(ROTATE_AND_BLACKLIST).await;
    let (first, _) = obtain(&s, "alice").await;
    let (other_login, _) = obtain(&s, "alice").await;
    let (_, second) = refreshed(&s, &first).await;
    let second = second.unwrap();
    let (_, newest) = refreshed(&s, &second).await;
    let newest = newest.unwrap();
    // The thief replays the first token after the grace: refused, and the whole line is revoked.
    s.advance_clock(PAST_THE_GRACE);
    assert_401(
        &refresh(&s, &first).await,
        &token_not_valid("Token is blacklisted"),
    );
    assert_401(
        &refresh(&s, &newest).await,
        &token_not_valid("Token is blacklisted"),
    );
    assert_eq!(verify(&s, &newest).await.status, 400);
    // Another login of the same user is a separate family and keeps working.
    let (_, still) = refreshed(&s, &other_login).await;
    assert!(still.is_some());
}

#[tokio::test]
async fn replaying_the_middle_of_a_family_revokes_its_descendants() {
    let (s, _) = with_alice(ROTATE_AND_BLACKLIST).await;
    let (first, _) = obtain(&s, "alice").await;
    let (_, second) = refreshed(&s, &first).await;
    let second = second.unwrap();
    let (_, third) = refreshed(&s, &second).await;
    let third = third.unwrap();
    s.advance_clock(PAST_THE_GRACE);
    assert_401(
        &refresh(&s, &second).await,
        &token_not_valid("Token is blacklisted"),
    );
    assert_401(
        &refresh(&s, &third).await,
        &token_not_valid("Token is blacklisted"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_token_have_one_winner() {
    let (s, _) = with_alice(STRICT_ROTATION).await;
    let (token, _) = obtain(&s, "alice").await;
    let mut wins = 0;
    for (status, body) in refresh_at_once(&s, &token, 20).await {
        match status {
            200 => wins += 1,
            401 => assert_eq!(body, token_not_valid("Token is blacklisted")),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(
        wins, 1,
        "exactly one concurrent refresh may rotate the token"
    );
}

/// Sends `n` refreshes of `token` at once; their statuses and bodies.
async fn refresh_at_once(s: &Server, token: &str, n: usize) -> Vec<(u16, String)> {
    let url = s.url("/api/token/refresh/");
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let client = reqwest::Client::new();
            let (url, token, barrier) = (url.clone(), token.to_owned(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let r = client
                    .post(url)
                    .json(&json!({ "refresh": token }))
                    .send()
                    .await
                    .expect("request");
                let status = r.status().as_u16();
                (status, r.text().await.expect("body"))
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_refreshes_within_the_grace_share_one_successor() {
    let (s, _) = with_alice(ROTATE_AND_BLACKLIST).await;
    let (token, _) = obtain(&s, "alice").await;
    // Two tabs, then a third a little later but within the grace.
    let mut replies = refresh_at_once(&s, &token, 2).await;
    s.advance_clock(Duration::from_millis(4_000));
    replies.extend(refresh_at_once(&s, &token, 1).await);
    let mut successors = Vec::new();
    let mut accesses = Vec::new();
    for (status, body) in &replies {
        assert_eq!(*status, 200, "{body}");
        let v: Value = serde_json::from_str(body).unwrap();
        successors.push(v["refresh"].as_str().unwrap().to_owned());
        accesses.push(v["access"].as_str().unwrap().to_owned());
    }
    // One successor, byte for byte, and a fresh access token for each.
    assert!(
        successors.iter().all(|t| *t == successors[0]),
        "{successors:?}"
    );
    assert_ne!(successors[0], token);
    let jtis: std::collections::HashSet<_> = accesses
        .iter()
        .map(|a| payload_of(a)["jti"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(jtis.len(), accesses.len());
    for a in &accesses {
        assert_profile(&profile(&s, a).await, "alice");
    }
    // The shared successor is live and rotates on.
    assert_eq!(verify(&s, &successors[0]).await.body, "{}");

    // After the grace the old token is a replay: refused, and the family revoked, the
    // successor both tabs hold included.
    s.advance_clock(Duration::from_millis(1_100));
    assert_401(
        &refresh(&s, &token).await,
        &token_not_valid("Token is blacklisted"),
    );
    assert_401(
        &refresh(&s, &successors[0]).await,
        &token_not_valid("Token is blacklisted"),
    );
}

#[tokio::test]
async fn a_blacklisted_successor_is_not_handed_out_again() {
    let (s, _) = with_alice(ROTATE_AND_BLACKLIST).await;
    let (token, _) = obtain(&s, "alice").await;
    let (_, next) = refreshed(&s, &token).await;
    // The first tab logs out with its new token; the second tab's late refresh gets nothing.
    assert_eq!(blacklist(&s, &next.unwrap()).await.status, 200);
    assert_401(
        &refresh(&s, &token).await,
        &token_not_valid("Token is blacklisted"),
    );
}

#[tokio::test]
async fn logout_everywhere_revokes_older_access_and_refresh_tokens() {
    let (s, _) = with_alice("").await;
    let (refresh_token, access) = obtain(&s, "alice").await;
    let (other_refresh, other_access) = obtain(&s, "alice").await;
    assert_profile(&profile(&s, &access).await, "alice");
    // No waiting: the cut-off is exact, so tokens issued just before it die with it.
    let r = s
        .post_json(
            "/api/token/logout-all/",
            &json!({}),
            Some(&format!("Bearer {access}")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "{}");
    for a in [&access, &other_access] {
        assert_401(&profile(&s, a).await, REVOKED);
    }
    for rt in [&refresh_token, &other_refresh] {
        assert_401(
            &refresh(&s, rt).await,
            &token_not_valid("Token is blacklisted"),
        );
    }
    // Logging in again works at once.
    let (fresh_refresh, fresh_access) = obtain(&s, "alice").await;
    assert_profile(&profile(&s, &fresh_access).await, "alice");
    refreshed(&s, &fresh_refresh).await;
    // logout-all itself needs a valid access token.
    let r = s
        .post_json("/api/token/logout-all/", &json!({}), None)
        .await;
    assert_401(
        &r,
        r#"{"detail":"Authentication credentials were not provided."}"#,
    );
}

#[tokio::test]
async fn password_change_revokes_older_tokens() {
    let (s, _) = with_alice("").await;
    let (refresh_token, access) = obtain(&s, "alice").await;
    let new_password = "an entirely different passphrase 7";
    run(
        &s,
        &["changepassword", "alice", "--password-stdin"],
        &format!("{new_password}\n"),
    );
    assert_401(
        &refresh(&s, &refresh_token).await,
        &token_not_valid("Token is blacklisted"),
    );
    assert_401(&profile(&s, &access).await, PASSWORD_CHANGED);
    let r = s
        .post_json(
            "/api/token/",
            &json!({"username": "alice", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 401);
    let r = s
        .post_json(
            "/api/token/",
            &json!({"username": "alice", "password": new_password}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// A pair obtained right before `revoke` (same second, no wait) and one right after it: the
/// first dies, the second lives, whatever the sub-second phase.
/// `refused` is the body the access token from before gets.
async fn around_a_cut_off(s: &Server, revoke: impl AsyncFn(&str), password: &str, refused: &str) {
    let login = |password: String| async move {
        let r = s
            .post_json(
                "/api/token/",
                &json!({"username": "alice", "password": password}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        (
            v["refresh"].as_str().unwrap().to_owned(),
            v["access"].as_str().unwrap().to_owned(),
        )
    };
    for _ in 0..3 {
        let (before_refresh, before_access) = login(PASSWORD.to_owned()).await;
        revoke(&before_access).await;
        let (after_refresh, after_access) = login(password.to_owned()).await;
        assert_401(&profile(s, &before_access).await, refused);
        assert_401(
            &refresh(s, &before_refresh).await,
            &token_not_valid("Token is blacklisted"),
        );
        // Verify applies the same cut-off: the refresh token as a blacklisted one, the access
        // token with the body the protected routes give it.
        let r = verify(s, &before_refresh).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (400, r#"{"non_field_errors":["Token is blacklisted"]}"#)
        );
        let r = verify(s, &before_access).await;
        assert_401(&r, refused);
        assert_eq!(r.header("www-authenticate"), Some(CHALLENGE));
        // Issued after the call, in the same second as likely as not: alive.
        assert_profile(&profile(s, &after_access).await, "alice");
        assert_eq!(verify(s, &after_access).await.body, "{}");
        assert_eq!(verify(s, &after_refresh).await.body, "{}");
        refreshed(s, &after_refresh).await;
        if password != PASSWORD {
            return;
        }
    }
}

#[tokio::test]
async fn logout_everywhere_cuts_off_within_the_second() {
    let (s, _) = with_alice("").await;
    around_a_cut_off(
        &s,
        async |access: &str| {
            let r = s
                .post_json(
                    "/api/token/logout-all/",
                    &json!({}),
                    Some(&format!("Bearer {access}")),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
        },
        PASSWORD,
        REVOKED,
    )
    .await;
}

#[tokio::test]
async fn cli_password_change_cuts_off_within_the_second() {
    let (s, _) = with_alice("").await;
    let new_password = "an entirely different passphrase 7";
    around_a_cut_off(
        &s,
        async |_: &str| {
            run(
                &s,
                &["changepassword", "alice", "--password-stdin"],
                &format!("{new_password}\n"),
            );
        },
        new_password,
        PASSWORD_CHANGED,
    )
    .await;
}

#[tokio::test]
async fn deactivation_cuts_off_within_the_second() {
    let (s, _) = with_alice("").await;
    around_a_cut_off(
        &s,
        async |_: &str| {
            run(&s, &["deactivateuser", "alice"], "");
            run(&s, &["activateuser", "alice"], "");
        },
        PASSWORD,
        REVOKED,
    )
    .await;
}

#[tokio::test]
async fn verify_applies_the_cut_off() {
    let (s, _) = with_alice("").await;
    let (refresh_token, access) = obtain(&s, "alice").await;
    assert_eq!(verify(&s, &access).await.body, "{}");
    let r = s
        .post_json(
            "/api/token/logout-all/",
            &json!({}),
            Some(&format!("Bearer {access}")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Even a second later: the cut-off is restauth's own revocation, not a matter of timing.
    s.advance_clock(Duration::from_secs(1));
    let r = verify(&s, &refresh_token).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, r#"{"non_field_errors":["Token is blacklisted"]}"#)
    );
    let r = verify(&s, &access).await;
    assert_401(&r, REVOKED);
    assert_eq!(r.header("www-authenticate"), Some(CHALLENGE));
}

#[tokio::test]
async fn verify_refuses_a_revoked_family() {
    let (s, _) = with_alice(ROTATE_AND_BLACKLIST).await;
    let (first, _) = obtain(&s, "alice").await;
    let (_, second) = refreshed(&s, &first).await;
    let second = second.unwrap();
    assert_eq!(verify(&s, &second).await.body, "{}");
    s.advance_clock(PAST_THE_GRACE);
    assert_eq!(refresh(&s, &first).await.status, 401);
    let r = verify(&s, &second).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, r#"{"non_field_errors":["Token is blacklisted"]}"#)
    );
}

#[tokio::test]
async fn header_kid_typ_and_unexpected_aud_are_refused() {
    let (s, id) = with_alice("").await;
    for extra in [
        json!({"kid": "no-such-key"}),
        json!({"typ": "at+jwt"}),
        json!({"typ": "JOSE"}),
    ] {
        let token = with_header(&s, &id, &extra);
        assert_refused(&s, &token, "Token is invalid").await;
        assert_401(
            &verify(&s, &token).await,
            &token_not_valid("Token is invalid"),
        );
    }
    // typ is compared without regard to case.
    assert_profile(
        &profile(&s, &with_header(&s, &id, &json!({"typ": "jwt"}))).await,
        "alice",
    );
    // An audience claim on a server that has none.
    let mut claims = access_claims(&id);
    claims["aud"] = json!("some-other-api");
    assert_refused(&s, &server_signed(&s, &claims), "Token is invalid").await;

    // With asymmetric keys, a kid naming none of them.
    let (rs, id) = with_alice(&asymmetric_config("RS256", "rsa_a.key.pem", &[])).await;
    let key = RS256KeyPair::from_pem(&read_testdata("rsa_a.key.pem"))
        .unwrap()
        .with_key_id("unknown");
    assert_refused(
        &rs,
        &key.sign(their_claims(&id)).unwrap(),
        "Token is invalid",
    )
    .await;
}

#[tokio::test]
async fn flushexpiredtokens_deletes_expired_records() {
    // Long enough to blacklist the token before it expires, whatever the sub-second phase.
    let (s, _) = with_alice("[simple_jwt]\nrefresh_token_lifetime = 3").await;
    let (token, _) = obtain(&s, "alice").await;
    assert_eq!(blacklist(&s, &token).await.status, 200);
    s.advance_clock(Duration::from_millis(3100));
    // Two logins (one by `with_alice`) and one blacklist entry, all expired.
    assert_eq!(
        run(&s, &["flushexpiredtokens"], ""),
        "Deleted 3 expired token records.\n"
    );
    assert_eq!(
        run(&s, &["flushexpiredtokens"], ""),
        "Deleted 0 expired token records.\n"
    );
}

// ---- asymmetric algorithms and the JWKS -------------------------------------------------

async fn jwks(s: &Server) -> Value {
    let r = s.get("/.well-known/jwks.json", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Issues a pair on a server configured with `alg`, checks the header's `kid` against the
/// published JWKS and returns `(access token, its JWK)`.
async fn issued_with(alg: &str, key: &str) -> (String, Value) {
    let (s, _) = with_alice(&asymmetric_config(alg, key, &[])).await;
    let (refresh_token, access) = obtain(&s, "alice").await;
    let header = header_of(&access);
    let kid = header["kid"].as_str().expect("kid").to_owned();
    assert_eq!(
        segment(&access, 0),
        format!(r#"{{"alg":"{alg}","kid":"{kid}","typ":"JWT"}}"#)
    );
    assert_eq!(header_of(&refresh_token), header);
    let set = jwks(&s).await;
    let keys = set["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{set}");
    let jwk = keys[0].clone();
    assert_eq!(jwk["kid"], json!(kid));
    assert_eq!(jwk["alg"], json!(alg));
    assert_eq!(jwk["use"], json!("sig"));
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(
            jwk.get(private).is_none(),
            "private part {private} published"
        );
    }
    assert_profile(&profile(&s, &access).await, "alice");
    (access, jwk)
}

fn jwk_bytes(jwk: &Value, name: &str) -> Vec<u8> {
    unb64(jwk[name].as_str().expect("JWK member"))
}

#[tokio::test]
async fn rs256_tokens_verify_with_the_published_key() {
    let (token, jwk) = issued_with("RS256", "rsa_a.key.pem").await;
    assert_eq!(jwk["kty"], "RSA");
    let from_pem = RS256PublicKey::from_pem(&read_testdata("rsa_a.pub.pem")).unwrap();
    let from_jwks =
        RS256PublicKey::from_components(&jwk_bytes(&jwk, "n"), &jwk_bytes(&jwk, "e")).unwrap();
    for key in [from_pem, from_jwks] {
        let c = key.verify_token::<SimpleJwtClaims>(&token, None).unwrap();
        assert_eq!(c.custom.token_type, "access");
    }
}

#[tokio::test]
async fn es256_tokens_verify_with_the_published_key() {
    let (token, jwk) = issued_with("ES256", "ec_a.key.pem").await;
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    let mut point = vec![0x04];
    point.extend(jwk_bytes(&jwk, "x"));
    point.extend(jwk_bytes(&jwk, "y"));
    let from_pem = ES256PublicKey::from_pem(&read_testdata("ec_a.pub.pem")).unwrap();
    let from_jwks = ES256PublicKey::from_bytes(&point).unwrap();
    for key in [from_pem, from_jwks] {
        let c = key.verify_token::<SimpleJwtClaims>(&token, None).unwrap();
        assert_eq!(c.custom.token_type, "access");
    }
}

#[tokio::test]
async fn eddsa_tokens_verify_with_the_published_key() {
    let (token, jwk) = issued_with("EdDSA", "ed_a.key.pem").await;
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    let from_pem = Ed25519PublicKey::from_pem(&read_testdata("ed_a.pub.pem")).unwrap();
    let from_jwks = Ed25519PublicKey::from_bytes(&jwk_bytes(&jwk, "x")).unwrap();
    for key in [from_pem, from_jwks] {
        let c = key.verify_token::<SimpleJwtClaims>(&token, None).unwrap();
        assert_eq!(c.custom.token_type, "access");
    }
}

/// A fresh RSA 2048 private key (PKCS#8 PEM), made with `openssl genpkey` in the server's folder.
fn generate_rsa_key(s: &Server) -> String {
    let path = s.path().join("unknown.key.pem");
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&path)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(path).expect("generated key")
}

#[tokio::test]
async fn old_key_in_verifying_keys_is_accepted() {
    let config = asymmetric_config("RS256", "rsa_a.key.pem", &["rsa_b.pub.pem"]);
    let (s, id) = with_alice(&config).await;
    let set = jwks(&s).await;
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{set}");
    let (_, access) = obtain(&s, "alice").await;
    let current = header_of(&access)["kid"].as_str().unwrap().to_owned();
    assert_eq!(keys[0]["kid"], json!(current));
    let old_kid = keys[1]["kid"].as_str().unwrap().to_owned();
    assert_ne!(old_kid, current);

    let old = RS256KeyPair::from_pem(&read_testdata("rsa_b.key.pem")).unwrap();
    // Issued before the rotation (with its kid), and as simplejwt would (no kid at all).
    let with_kid = old.clone().with_key_id(&old_kid);
    assert_profile(
        &profile(&s, &with_kid.sign(their_claims(&id)).unwrap()).await,
        "alice",
    );
    assert_profile(
        &profile(&s, &old.sign(their_claims(&id)).unwrap()).await,
        "alice",
    );
    // An old-key token naming the current key's kid does not verify.
    let lying = old.clone().with_key_id(&current);
    assert_refused(
        &s,
        &lying.sign(their_claims(&id)).unwrap(),
        "Token is invalid",
    )
    .await;
    // A key that is not configured at all is refused.
    let unknown = RS256KeyPair::from_pem(&generate_rsa_key(&s)).unwrap();
    assert_refused(
        &s,
        &unknown.sign(their_claims(&id)).unwrap(),
        "Token is invalid",
    )
    .await;

    // Without the old key listed, its tokens stop working.
    let (s2, id2) = with_alice(&asymmetric_config("RS256", "rsa_a.key.pem", &[])).await;
    assert_refused(
        &s2,
        &old.sign(their_claims(&id2)).unwrap(),
        "Token is invalid",
    )
    .await;
}

#[tokio::test]
async fn hmac_servers_publish_an_empty_key_set() {
    let s = Server::start().await;
    let set = jwks(&s).await;
    assert_eq!(set, json!({"keys": []}));
}
