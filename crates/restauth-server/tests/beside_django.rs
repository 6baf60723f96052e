//! `schema_flavor = "django"`: restauth and a running Django project (Django, DRF and
//! simplejwt from PyPI in a virtualenv, served by gunicorn) on one database, driven side by
//! side over HTTP. A login, a DRF token or a JWT made by either stack works on the other; a
//! logout or a password change on either ends the other's sessions. Once on SQLite, once on
//! PostgreSQL; one Django start per database.

mod common;

use std::time::Duration;

use common::django::{self, Django};
use common::{
    PASSWORD, Server, TestDb, plain, postgres_url, restauth_session_user, skip, stderr, stdout,
};
use serde_json::{Value, json};
use sqlx::Connection;

/// `[django] reread_after` in these servers (the default).
const REREAD: Duration = Duration::from_secs(1);
const NEW_PASSWORD: &str = "a new horse battery staple";
/// PBKDF2 iterations on both stacks: restauth's lowest accepted count, a tenth of Django's
/// default, so that the dozens of hashes here cost seconds, not minutes (fixture/hashers.py).
const PBKDF2_ITERATIONS: u32 = 100_000;
/// A count older than the current one, which a login rehashes.
const OLDER_ITERATIONS: u32 = 50_000;

/// Whom restauth's view sees with this `Authorization` on `path`, or the status.
async fn restauth_api_user(s: &Server, path: &str, authorization: &str) -> Result<String, u16> {
    let r = s.get(path, Some(authorization)).await;
    assert_ne!(r.status, 500, "{}", s.log());
    if r.status == 200 {
        Ok(r.json()["username"].as_str().unwrap_or("").to_owned())
    } else {
        Err(r.status)
    }
}

/// Every row of the side-by-side contract on one database.
async fn side_by_side(
    mut django: Django,
    database: &str,
    password_hash: impl AsyncFn(&str) -> String,
) -> (Django, Server) {
    django.manage(&["migrate", "--noinput"]);
    django.manage(&[
        "shell",
        "-c",
        &format!(
            "from django.contrib.auth.models import User\n\
             for name in ('alice', 'bob', 'carol'):\n    \
             User.objects.create_user(name, name + '@example.com', {PASSWORD:?})\n\
             User.objects.create_user('hana', 'Hana@example.com', {PASSWORD:?})\n\
             for name in ('ivan', 'judy'):\n    \
             User.objects.create_user(name, 'shared@example.com', {PASSWORD:?})\n\
             from django.contrib.auth.hashers import PBKDF2PasswordHasher\n\
             h = PBKDF2PasswordHasher()\n\
             dave = User.objects.create_user('dave')\n\
             dave.password = h.encode({PASSWORD:?}, h.salt(), {OLDER_ITERATIONS})\n\
             dave.save()"
        ),
    ]);
    django.serve();
    let s = Server::builder()
        .own_database()
        .config(&format!("secret_key = {:?}", django.secret_key))
        .database(database)
        .database("schema_flavor = \"django\"")
        .config(&format!(
            "[password]\npbkdf2_iterations = {PBKDF2_ITERATIONS}"
        ))
        .start()
        .await;

    // --- The login wire: DRF's obtain_auth_token and simplejwt's obtain view answer restauth's
    // as Django's do, body for body.
    for body in [
        json!({"username": "hana", "password": PASSWORD}),
        json!({"username": "hana", "password": "wrong"}),
        json!({"email": "Hana@example.com", "password": PASSWORD}),
        json!({"username": "", "password": PASSWORD}),
        json!({}),
    ] {
        for path in ["/api-token-auth/", "/api/token/"] {
            let theirs = django.post_json(path, &body).await;
            let ours = s.post_json(path, &body, None).await;
            assert_eq!(
                ours.status, theirs.status,
                "{path} {body}: Django {}, restauth {}",
                theirs.body, ours.body
            );
            if theirs.status != 200 {
                assert_eq!(ours.json(), theirs.json(), "{path} {body}");
            }
        }
    }
    // Logins by name or e-mail over Django's tables; a shared e-mail names nobody.
    let by_email = Server::builder()
        .own_database()
        .config(&format!("secret_key = {:?}", django.secret_key))
        .database(database)
        .database("schema_flavor = \"django\"")
        .config(&format!(
            "[password]\npbkdf2_iterations = {PBKDF2_ITERATIONS}\n\
             [user]\nlogin_methods = [\"username\", \"email\"]"
        ))
        .start()
        .await;
    for (name, status) in [
        ("hana", 200),
        ("HANA@example.com", 200),
        ("ivan", 200),
        ("shared@example.com", 400),
    ] {
        let r = by_email
            .post_json(
                "/api-token-auth/",
                &json!({"username": name, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, status, "{name}: {}", r.body);
    }
    let r = by_email
        .post_json(
            "/api/token/",
            &json!({"username": "shared@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        r.body,
        r#"{"detail":"No active account found with the given credentials"}"#
    );
    drop(by_email);

    // --- simplejwt: one signing key, one set of claims, one blacklist (before any clock
    // advance: PyJWT refuses an `iat` in its future).
    let pair = s
        .post_json(
            "/api/token/",
            &json!({"username": "alice", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(pair.status, 200, "{}", pair.body);
    let (access, refresh) = (
        pair.json()["access"].as_str().unwrap().to_owned(),
        pair.json()["refresh"].as_str().unwrap().to_owned(),
    );
    assert_eq!(
        django.api_user(&format!("Bearer {access}")).await,
        Ok("alice".into()),
        "restauth's access token on DRF"
    );
    let r = django
        .post_json("/api/token/refresh/", &json!({"refresh": refresh}))
        .await;
    assert_eq!(
        r.status, 200,
        "restauth's refresh token on simplejwt: {}",
        r.body
    );
    let django_access = r.json()["access"].as_str().unwrap().to_owned();
    assert_eq!(
        restauth_api_user(&s, "/api/jwt/profile/", &format!("Bearer {django_access}")).await,
        Ok("alice".into()),
        "simplejwt's access token on restauth"
    );
    let r = django
        .post_json(
            "/api/token/",
            &json!({"username": "bob", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let django_refresh = r.json()["refresh"].as_str().unwrap().to_owned();
    let r = s
        .post_json(
            "/api/token/refresh/",
            &json!({"refresh": django_refresh}),
            None,
        )
        .await;
    assert_eq!(
        r.status, 200,
        "simplejwt's refresh token on restauth: {}",
        r.body
    );
    // Blacklisted by simplejwt: refused by restauth; by restauth: refused by simplejwt.
    let r = django
        .post_json("/api/token/blacklist/", &json!({"refresh": refresh}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .post_json("/api/token/refresh/", &json!({"refresh": refresh}), None)
        .await;
    assert_eq!(r.status, 401, "blacklisted by simplejwt: {}", r.body);
    assert_eq!(r.json()["code"], "token_not_valid");
    let r = django
        .post_json(
            "/api/token/",
            &json!({"username": "carol", "password": PASSWORD}),
        )
        .await;
    let carol_refresh = r.json()["refresh"].as_str().unwrap().to_owned();
    let r = s
        .post_json(
            "/api/token/blacklist/",
            &json!({"refresh": carol_refresh}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = django
        .post_json("/api/token/refresh/", &json!({"refresh": carol_refresh}))
        .await;
    assert_eq!(r.status, 401, "blacklisted by restauth: {}", r.body);

    // --- DRF tokens: one per user, whoever makes it.
    let made = django.manage(&["drf_create_token", "alice"]);
    let django_key = made
        .split_whitespace()
        .nth(2)
        .expect("Generated token <key> for user alice")
        .to_owned();
    assert_eq!(
        restauth_api_user(&s, "/api/profile/", &format!("Token {django_key}")).await,
        Ok("alice".into()),
        "a token drf_create_token made, on restauth"
    );
    let r = s
        .post_json(
            "/api-token-auth/",
            &json!({"username": "alice", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["token"],
        django_key,
        "DRF's model: obtaining returns the user's one token"
    );
    let r = s
        .post_json(
            "/api-token-auth/",
            &json!({"username": "bob", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let restauth_key = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        django.api_user(&format!("Token {restauth_key}")).await,
        Ok("bob".into()),
        "a token restauth issued, on DRF"
    );
    let r = django
        .send(
            plain()
                .post(django.url("/api-token-auth/"))
                .form(&[("username", "bob"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.json()["token"], restauth_key.as_str());
    // `drf_create_token -r` replaces the one token, for both stacks.
    let out = s.command(&["drf_create_token", "-r", "bob"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let reset_key = stdout(&out)
        .split_whitespace()
        .nth(2)
        .expect("Generated token <key> for user bob")
        .to_owned();
    assert_ne!(reset_key, restauth_key);
    assert_eq!(
        django.api_user(&format!("Token {reset_key}")).await,
        Ok("bob".into())
    );
    assert!(
        django
            .api_user(&format!("Token {restauth_key}"))
            .await
            .is_err()
    );

    // --- Sessions, both ways.
    let from_django = django.login("alice", PASSWORD).await.expect("Django login");
    assert_eq!(
        restauth_session_user(&s, &from_django).await.as_deref(),
        Some("alice"),
        "a session Django's login made, on restauth"
    );
    let browser = common::login(&s, "alice").await;
    assert_eq!(
        django.session_user(&browser.session).await.as_deref(),
        Some("alice"),
        "a session restauth's login made, on Django"
    );
    assert_eq!(
        django
            .get(
                "/api/whoami/",
                &[("Cookie", &format!("sessionid={}", browser.session))]
            )
            .await
            .json()["user"],
        "alice",
        "and on DRF's SessionAuthentication"
    );

    // A hash of Django's older iteration count: restauth's login rehashes it as Django's
    // would, into Django's current format, and the session it starts holds on both stacks.
    assert!(
        password_hash("dave")
            .await
            .starts_with(&format!("pbkdf2_sha256${OLDER_ITERATIONS}$"))
    );
    let dave = common::login(&s, "dave").await;
    assert!(
        password_hash("dave")
            .await
            .starts_with(&format!("pbkdf2_sha256${PBKDF2_ITERATIONS}$"))
    );
    assert_eq!(
        restauth_session_user(&s, &dave.session).await.as_deref(),
        Some("dave")
    );
    assert_eq!(
        django.session_user(&dave.session).await.as_deref(),
        Some("dave")
    );

    // --- Logout on Django ends the session on restauth within the re-read bound.
    let r = django
        .send(
            plain()
                .post(django.url("/logout/"))
                .header("Cookie", format!("sessionid={from_django}")),
        )
        .await;
    assert_eq!(r.status, 200);
    s.advance_clock(REREAD);
    assert_eq!(
        restauth_session_user(&s, &from_django).await,
        None,
        "logged out on Django"
    );
    // Logout on restauth ends it on Django at once (Django reads its table every request).
    let r = s
        .send(
            plain()
                .post(s.url("/api/auth/logout/"))
                .header("Cookie", browser.cookie())
                .header("X-CSRFToken", &browser.csrf),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(django.session_user(&browser.session).await, None);

    // --- A password change on Django ends restauth's sessions (Django's session auth hash).
    let on_restauth = common::login(&s, "alice").await;
    let changing = django.login("alice", PASSWORD).await.expect("Django login");
    let r = django
        .send(
            plain()
                .post(django.url("/password/"))
                .header("Cookie", format!("sessionid={changing}"))
                .form(&[("new_password", NEW_PASSWORD)]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.advance_clock(REREAD);
    assert_eq!(
        restauth_session_user(&s, &on_restauth.session).await,
        None,
        "password changed on Django"
    );
    assert_eq!(django.session_user(&on_restauth.session).await, None);
    // restauth verifies the hash Django wrote, and keeps it Django's.
    let r = common::spa_login(&s, "alice", NEW_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        password_hash("alice")
            .await
            .starts_with(&format!("pbkdf2_sha256${PBKDF2_ITERATIONS}$"))
    );

    // --- A password change on restauth ends Django's sessions, and Django verifies the
    // PBKDF2 hash restauth wrote.
    let on_django = django
        .login("alice", NEW_PASSWORD)
        .await
        .expect("Django login");
    assert_eq!(
        django.session_user(&on_django).await.as_deref(),
        Some("alice")
    );
    let out = s.command(
        &["changepassword", "alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let hash = password_hash("alice").await;
    assert!(
        hash.starts_with(&format!("pbkdf2_sha256${PBKDF2_ITERATIONS}$")),
        "{hash}"
    );
    assert_eq!(django.session_user(&on_django).await, None);
    assert!(django.login("alice", PASSWORD).await.is_some());
    assert!(django.login("alice", NEW_PASSWORD).await.is_none());
    // The token Django made died with the password change, as restauth's tokens do.
    assert_eq!(
        restauth_api_user(&s, "/api/profile/", &format!("Token {django_key}")).await,
        Err(401)
    );
    assert!(
        django
            .api_user(&format!("Token {django_key}"))
            .await
            .is_err()
    );
    // A deactivation by command is marked in restauth's own table beside Django's (the
    // activation links restauth serves must not undo it), and an activation clears it.
    for (command, active) in [("deactivateuser", false), ("activateuser", true)] {
        let out = s.command(&[command, "alice"], "");
        assert!(out.status.success(), "{command}: {}", stderr(&out));
        assert_eq!(django.login("alice", PASSWORD).await.is_some(), active);
    }
    (django, s)
}

/// Six users of the UUID-keyed model, made by Django; prints each e-mail's key (`str(pk)`).
const UUID_USERS: &str = r#"
import json
from django.contrib.auth import get_user_model
User = get_user_model()
pw = "correct horse battery staple"
out = {}
for name in ["alice", "bob", "carol", "dave", "erin", "frank"]:
    u = User.objects.create_user(name + "@example.com", pw, is_staff=name == "erin",
                                 is_superuser=name == "erin")
    out[name + "@example.com"] = str(u.pk)
print(json.dumps(out))
"#;

/// The payload of a JWT, unverified.
fn jwt_payload(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

/// A project whose user model is keyed by a UUID (`UUIDField(primary_key=True)`) and logs in
/// by e-mail: each credential made by either stack works on the other, and the key travels as
/// Django writes `str(pk)`.
async fn uuid_side_by_side(mut django: Django, database: &str) -> (Django, Server) {
    django.manage(&["migrate", "--noinput"]);
    let printed = django.manage(&["shell", "-c", UUID_USERS]);
    let keys: Value = printed
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("Django's users: {printed}"));
    let alice_id = keys["alice@example.com"].as_str().unwrap().to_owned();
    assert_eq!(alice_id.len(), 36, "{alice_id}");
    django.serve();
    let s = Server::builder()
        .own_database()
        .config(&format!("secret_key = {:?}", django.secret_key))
        .database(database)
        .database("schema_flavor = \"django\"")
        .config("[django]\nuser_table = \"users_user\"\nusername_field = \"email\"")
        .config(&format!(
            "[password]\npbkdf2_iterations = {PBKDF2_ITERATIONS}"
        ))
        .config(
            "[rest_framework]\nnum_proxies = 1\n[forward_auth]\nenabled = true\n\
             authentication_classes = [\"token\", \"session\"]",
        )
        .start()
        .await;
    let alice = "alice@example.com";

    // --- simplejwt: the `user_id` claim is `str(pk)` on both stacks.
    let pair = s
        .post_json(
            "/api/token/",
            &json!({"email": alice, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(pair.status, 200, "{}", pair.body);
    let access = pair.json()["access"].as_str().unwrap().to_owned();
    let refresh = pair.json()["refresh"].as_str().unwrap().to_owned();
    assert_eq!(jwt_payload(&access)["user_id"], alice_id.as_str());
    assert_eq!(
        django.api_user(&format!("Bearer {access}")).await,
        Ok(alice.into()),
        "restauth's access token on DRF"
    );
    let r = django
        .post_json("/api/token/refresh/", &json!({"refresh": refresh}))
        .await;
    assert_eq!(r.status, 200, "restauth's refresh on simplejwt: {}", r.body);
    let r = django
        .post_json(
            "/api/token/",
            &json!({"email": alice, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let django_access = r.json()["access"].as_str().unwrap().to_owned();
    let django_refresh = r.json()["refresh"].as_str().unwrap().to_owned();
    assert_eq!(jwt_payload(&django_access)["user_id"], alice_id.as_str());
    assert_eq!(
        restauth_api_user(&s, "/api/jwt/profile/", &format!("Bearer {django_access}")).await,
        Ok(alice.into()),
        "simplejwt's access token on restauth"
    );
    let r = s
        .post_json(
            "/api/token/refresh/",
            &json!({"refresh": django_refresh}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "simplejwt's refresh on restauth: {}", r.body);

    // --- DRF tokens, both ways.
    let made = django.manage(&["drf_create_token", alice]);
    let django_key = made
        .split_whitespace()
        .nth(2)
        .expect("Generated token <key> for user")
        .to_owned();
    assert_eq!(
        restauth_api_user(&s, "/api/profile/", &format!("Token {django_key}")).await,
        Ok(alice.into()),
        "a token drf_create_token made, on restauth"
    );
    let bob_key = s.token("bob@example.com").await;
    assert_eq!(
        django.api_user(&format!("Token {bob_key}")).await,
        Ok("bob@example.com".into()),
        "a token restauth issued, on DRF"
    );
    // Its owner's list of devices, and its revocation there.
    let r = s
        .get("/api/auth/tokens/", Some(&format!("Token {bob_key}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token_id = r.json()[0]["id"].as_i64().expect("a token id");
    // Forward auth: the key as text.
    let r = s
        .get("/auth/forward/", Some(&format!("Token {bob_key}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("x-auth-user-id").unwrap(),
        keys["bob@example.com"].as_str().unwrap()
    );
    assert_eq!(r.json()["id"], keys["bob@example.com"]);
    let r = s
        .send(
            plain()
                .delete(s.url(&format!("/api/auth/tokens/{token_id}/")))
                .header("Authorization", format!("Token {bob_key}")),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(django.api_user(&format!("Token {bob_key}")).await.is_err());

    // --- Sessions, both ways; Django never answers 500 to restauth's.
    let from_django = django.login(alice, PASSWORD).await.expect("Django login");
    assert_eq!(
        restauth_session_user(&s, &from_django).await.as_deref(),
        Some(alice),
        "a session Django's login made, on restauth"
    );
    let browser = common::login(&s, "carol@example.com").await;
    let r = django
        .get(
            "/whoami/",
            &[("Cookie", &format!("sessionid={}", browser.session))],
        )
        .await;
    assert_eq!(
        r.status, 200,
        "a session restauth's login made, on Django: {}",
        r.body
    );
    assert_eq!(r.json()["user"], "carol@example.com");

    // --- The staff API names users by their UUID, in paths and bodies.
    let staff = format!("Token {}", s.token("erin@example.com").await);
    let r = s
        .get(&format!("/api/admin/users/{alice_id}/"), Some(&staff))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["id"], alice_id.as_str());
    assert_eq!(r.json()["username"], alice);
    let simple = alice_id.replace('-', "");
    let r = s
        .get(&format!("/api/admin/users/{simple}/"), Some(&staff))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for absent in ["1", "00000000-0000-4000-8000-000000000000", "not-a-key"] {
        let r = s
            .get(&format!("/api/admin/users/{absent}/"), Some(&staff))
            .await;
        assert_eq!(r.status, 404, "{absent}: {}", r.body);
    }
    let r = s
        .post_json(
            &format!(
                "/api/admin/users/{}/deactivate/",
                keys["dave@example.com"].as_str().unwrap()
            ),
            &json!({}),
            Some(&staff),
        )
        .await;
    assert!(matches!(r.status, 200 | 204), "{}", r.body);
    assert!(django.login("dave@example.com", PASSWORD).await.is_none());

    // --- A user restauth creates gets a random (version 4) UUID, and logs in on Django.
    let out = s.command(
        &[
            "createuser",
            "gina@example.com",
            "--email",
            "gina@example.com",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let r = s
        .post_json(
            "/api/token/",
            &json!({"email": "gina@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let gina_id = jwt_payload(r.json()["access"].as_str().unwrap())["user_id"]
        .as_str()
        .expect("a UUID as text")
        .to_owned();
    assert_eq!(gina_id.len(), 36, "{gina_id}");
    assert_eq!(&gina_id[14..15], "4", "version 4: {gina_id}");
    let gina = django
        .login("gina@example.com", PASSWORD)
        .await
        .expect("Django login");
    assert_eq!(
        django.session_user(&gina).await.as_deref(),
        Some("gina@example.com")
    );
    let printed = django.manage(&[
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n\
         print(get_user_model().objects.get(email='gina@example.com').pk)",
    ]);
    assert_eq!(
        printed.lines().last().map(str::trim),
        Some(gina_id.as_str())
    );

    // --- Audit events name the user by the UUID, read back from restauth's text column.
    let out = s.command(&["audit", "--json", "--user", alice], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let events = stdout(&out);
    let first: Value = events
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no audit event of {alice}: {events}"));
    assert_eq!(first["user"]["id"], alice_id.as_str(), "{events}");

    // --- Log out everywhere on restauth: Django's session and the tokens end too.
    let r = s
        .send(
            plain()
                .post(s.url("/api/auth/logout-all/"))
                .header("Authorization", format!("Token {django_key}")),
        )
        .await;
    assert!(matches!(r.status, 200 | 204), "{}", r.body);
    (django, s)
}

/// What Django's own `ModelBackend` answers for the users of [`permissions_as_django`]: per
/// user, their id, `is_staff`, `has_perm` of each permission, `has_perms` of add and
/// publish, groups and `get_all_permissions`.
const DJANGO_PERMISSIONS: &str = r#"
import json
from django.contrib.auth.models import Group, Permission, User
perms = ["notes.add_note", "notes.publish_note", "auth.view_user", "auth.change_user"]
out = {}
for name in ["bob", "carol", "dave", "erin", "frank", "gina"]:
    u = User.objects.get(username=name)
    out[name] = {
        "id": u.id,
        "is_staff": u.is_staff,
        "is_active": u.is_active,
        "has_perm": {p: u.has_perm(p) for p in perms},
        "publish": u.has_perms(["notes.add_note", "notes.publish_note"]),
        "groups": sorted(g.name for g in u.groups.all()),
        "all": sorted(u.get_all_permissions()),
    }
print(json.dumps(out))
"#;

/// Django's side of the grants: a superuser, a staff member reading users through a group,
/// an inactive holder, and grants of permissions restauth created.
const DJANGO_GRANTS: &str = r#"
from django.contrib.auth.models import Group, Permission, User
pw = "correct horse battery staple"
User.objects.create_superuser("erin", "erin@example.com", pw)
frank = User.objects.create_user("frank", "frank@example.com", pw, is_staff=True)
gina = User.objects.create_user("gina", "gina@example.com", pw, is_active=False)
readers = Group.objects.create(name="readers")
readers.permissions.add(Permission.objects.get(content_type__app_label="auth", codename="view_user"))
frank.groups.add(readers)
add = Permission.objects.get(content_type__app_label="notes", codename="add_note")
publish = Permission.objects.get(content_type__app_label="notes", codename="publish_note")
frank.user_permissions.add(add)
gina.user_permissions.add(add, publish)
User.objects.get(username="dave").user_permissions.add(publish)
"#;

/// restauth's `has_perm` against Django's, on one database: permissions and groups made by
/// restauth's commands and by Django, granted on either side; restauth's answers (its model
/// permission views, the staff API) must be Django's `ModelBackend`'s.
async fn permissions_as_django(django: &Django, s: &Server) {
    assert!(
        DJANGO_GRANTS.contains(PASSWORD),
        "one password on both sides"
    );
    let run = |args: &[&str]| {
        let out = s.command(args, "");
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    };
    run(&["perms", "create", "notes.add_note", "Can add note"]);
    run(&["perms", "create", "notes.publish_note", "Can publish note"]);
    run(&["groups", "create", "editors"]);
    run(&["perms", "grant", "--group", "editors", "notes.publish_note"]);
    run(&["perms", "grant", "bob", "notes.add_note"]);
    run(&["groups", "add", "carol", "editors"]);
    run(&["perms", "grant", "carol", "notes.add_note"]);
    django.manage(&["shell", "-c", DJANGO_GRANTS]);
    // Django's writes reach restauth's caches within the re-read bound.
    s.advance_clock(REREAD);

    let printed = django.manage(&["shell", "-c", DJANGO_PERMISSIONS]);
    // The JSON is the last line printed.
    let answers: Value = printed
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("Django's answers: {printed}"));
    let superuser = format!("Token {}", s.token("erin").await);
    let mut compared = 0;
    for (name, django_says) in answers.as_object().expect("users") {
        let id = django_says["id"].as_i64().expect("id");
        let has = |p: &str| django_says["has_perm"][p].as_bool().expect("has_perm");
        // The staff API shows what restauth read for the user: Django's groups and, for
        // users who are no superusers, `get_all_permissions`.
        let r = s
            .get(&format!("/api/admin/users/{id}/"), Some(&superuser))
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        assert_eq!(r.json()["groups"], django_says["groups"], "{name}");
        if name != "erin" {
            assert_eq!(r.json()["permissions"], django_says["all"], "{name}");
        }
        if django_says["is_active"] == false {
            // An inactive user holds nothing in Django, and cannot log in to restauth.
            assert!(!has("notes.add_note"), "{name}");
            let r = s
                .post_json(
                    "/api-token-auth/",
                    &json!({"username": name, "password": PASSWORD}),
                    None,
                )
                .await;
            assert_eq!(r.status, 400, "{name}");
            continue;
        }
        let key = format!("Token {}", s.token(name).await);
        let status = |allowed: bool| if allowed { 200 } else { 403 };
        let r = s.post_json("/api/notes/", &json!({}), Some(&key)).await;
        assert_eq!(
            r.status,
            status(has("notes.add_note")),
            "{name} add: {}",
            r.body
        );
        let r = s
            .post_json("/api/notes/publish/", &json!({}), Some(&key))
            .await;
        let publish = django_says["publish"].as_bool().expect("publish");
        assert_eq!(r.status, status(publish), "{name} publish: {}", r.body);
        let staff_reads =
            django_says["is_staff"] == true && (has("auth.view_user") || has("auth.change_user"));
        let r = s.get(&format!("/api/admin/users/{id}/"), Some(&key)).await;
        assert_eq!(r.status, status(staff_reads), "{name} staff: {}", r.body);
        compared += 1;
    }
    assert_eq!(compared, 5);
}

#[tokio::test]
async fn beside_django_on_sqlite() {
    if common::postgres_backend() {
        // The PostgreSQL pass of the suites: this SQLite run belongs to the other one.
        eprintln!("beside_django_on_sqlite: runs when the suites run on SQLite");
        return;
    }
    let Some(venv) = django::venv() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let secret = django::secret();
    let database = format!("url = {:?}", format!("sqlite://{}", db.display()));

    // Before Django's migrate: restauth refuses to make Django's tables itself.
    std::fs::write(
        dir.path().join("restauth.toml"),
        format!("secret_key = {secret:?}\n[database]\n{database}\nschema_flavor = \"django\"\n"),
    )
    .unwrap();
    let out = common::command_in(dir.path(), &["migrate"], "");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("run Django's `python manage.py migrate` first"),
        "{}",
        stderr(&out)
    );

    let django = Django::new(venv, &secret, db.display().to_string(), None)
        .pbkdf2_iterations(PBKDF2_ITERATIONS);
    let url = format!("sqlite://{}?mode=ro", db.display());
    let (django, s) = side_by_side(django, &database, async |name: &str| {
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT password FROM auth_user WHERE username = $1")
            .bind(name)
            .fetch_one(&mut c)
            .await
            .unwrap()
    })
    .await;
    permissions_as_django(&django, &s).await;
    // No NOTIFY on SQLite: the re-read bound is the only way, and the triggers say so.
    let out = s.command(&["migrate", "--django-triggers"], "");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("need PostgreSQL"), "{}", stderr(&out));
}

#[tokio::test]
async fn beside_django_on_postgres() {
    if common::postgres_backend() {
        // It picks its database itself: it runs in the default pass of the suites.
        eprintln!("beside_django_on_postgres: runs when the suites run on SQLite");
        return;
    }
    let Some(url) = postgres_url() else {
        skip("RESTAUTH_TEST_DATABASE_URL is not set");
        return;
    };
    let Some(venv) = django::venv() else { return };
    let db = TestDb::new(&url);
    {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let ddl = format!("CREATE SCHEMA {}", db.schema);
        sqlx::query(sqlx::AssertSqlSafe(ddl))
            .execute(&mut c)
            .await
            .unwrap();
    }
    let secret = django::secret();
    let django = Django::new(venv, &secret, url.clone(), Some(db.schema.clone()))
        .pbkdf2_iterations(PBKDF2_ITERATIONS);
    let database = db.config_via(&db.url);
    let schema = db.schema.clone();
    let (django, s) = side_by_side(django, &database, async |name: &str| {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let path = format!("SET search_path TO {schema}");
        sqlx::query(sqlx::AssertSqlSafe(path))
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query_scalar("SELECT password FROM auth_user WHERE username = $1")
            .bind(name)
            .fetch_one(&mut c)
            .await
            .unwrap()
    })
    .await;

    permissions_as_django(&django, &s).await;

    // --- The opt-in triggers: Django's changes reach the caches by NOTIFY, at once.
    let triggers = async || -> i64 {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND t.tgname = 'restauth_notify'",
        )
        .bind(&db.schema)
        .fetch_one(&mut c)
        .await
        .unwrap()
    };
    let out = s.command(&["migrate", "--django-triggers"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    // The user table, tokens, sessions, and the four tables of permissions and groups.
    assert_eq!(triggers().await, 7);
    // A server that would trust its cache for 30 s without them.
    let patient = Server::builder()
        .own_database()
        .config(&format!("secret_key = {:?}", django.secret_key))
        .database(&database)
        .database("schema_flavor = \"django\"")
        .config("[django]\nreread_after = 600")
        .start()
        .await;
    let sessionid = django.login("bob", PASSWORD).await.expect("Django login");
    assert_eq!(
        restauth_session_user(&patient, &sessionid).await.as_deref(),
        Some("bob")
    );
    let r = django
        .send(
            plain()
                .post(django.url("/logout/"))
                .header("Cookie", format!("sessionid={sessionid}")),
        )
        .await;
    assert_eq!(r.status, 200);
    // The bound between restauth instances, not the re-read bound: no clock moves here.
    let since = std::time::Instant::now();
    common::within_bound(since, "a session Django ended", || async {
        restauth_session_user(&patient, &sessionid).await.is_none()
    })
    .await;
    // A permission Django takes away reaches the caches by NOTIFY too.
    let frank = format!("Token {}", patient.token("frank").await);
    let adds = async || {
        patient
            .post_json("/api/notes/", &json!({}), Some(&frank))
            .await
            .status
    };
    assert_eq!(adds().await, 200);
    django.manage(&[
        "shell",
        "-c",
        "from django.contrib.auth.models import User\n\
         User.objects.get(username='frank').user_permissions.clear()",
    ]);
    let since = std::time::Instant::now();
    common::within_bound(since, "a permission Django revoked", || async {
        adds().await == 403
    })
    .await;
    let out = s.command(&["migrate", "--drop-django-triggers"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(triggers().await, 0);
}

#[tokio::test]
async fn uuid_user_model_beside_django_on_sqlite() {
    if common::postgres_backend() {
        eprintln!("uuid_user_model_beside_django_on_sqlite: runs when the suites run on SQLite");
        return;
    }
    let Some(venv) = django::venv() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let secret = django::secret();
    let database = format!("url = {:?}", format!("sqlite://{}", db.display()));
    let django = Django::new(venv, &secret, db.display().to_string(), None)
        .pbkdf2_iterations(PBKDF2_ITERATIONS)
        .user_model(django::UUID_EMAIL_MODEL);
    uuid_side_by_side(django, &database).await;
}

#[tokio::test]
async fn uuid_user_model_beside_django_on_postgres() {
    if common::postgres_backend() {
        eprintln!("uuid_user_model_beside_django_on_postgres: runs when the suites run on SQLite");
        return;
    }
    let Some(url) = postgres_url() else {
        skip("RESTAUTH_TEST_DATABASE_URL is not set");
        return;
    };
    let Some(venv) = django::venv() else { return };
    let db = TestDb::new(&url);
    {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let ddl = format!("CREATE SCHEMA {}", db.schema);
        sqlx::query(sqlx::AssertSqlSafe(ddl))
            .execute(&mut c)
            .await
            .unwrap();
    }
    let secret = django::secret();
    let django = Django::new(venv, &secret, url.clone(), Some(db.schema.clone()))
        .pbkdf2_iterations(PBKDF2_ITERATIONS)
        .user_model(django::UUID_EMAIL_MODEL);
    let database = db.config_via(&db.url);
    uuid_side_by_side(django, &database).await;
}
