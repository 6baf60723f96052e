//! An app that embeds the library's routes gets their OpenAPI description from the library
//! (cargo feature `openapi`): served beside its own views over HTTP, it names the token path
//! the app mounted, and a client that follows it gets a token.

#![cfg(feature = "openapi")]

mod common;

use axum::Router;
use axum::routing::get;
use restauth::pipeline::openapi::{Describer, Guard, Op, json_response};
use restauth::{
    ApiView, AuthClass, CurrentUser, IsAuthenticated, NewAccount, Restauth, ServeOptions,
};
use serde_json::{Value, json};

async fn profile(CurrentUser(user): CurrentUser) -> String {
    user.username.clone()
}

/// The app's routes: its own view, the token view and the JWT views, and `/openapi.json`
/// describing them all.
fn app(restauth: &Restauth) -> Router {
    let settings = restauth.settings();
    let d = Describer::new(settings);
    let mine = d.document(
        &[("app", "The app's own views")],
        vec![(
            "/api/profile/".to_owned(),
            d.get(
                Op::new(
                    "profile",
                    "app",
                    "The caller's name",
                    Guard::Required(vec![AuthClass::Token]),
                )
                .respond("200", json_response("The name", "Detail")),
                true,
            ),
        )],
        Vec::new(),
    );
    let mut doc = restauth::token::openapi::document(settings);
    doc.merge(restauth::jwt::openapi::document(settings));
    doc.merge(mine);
    let body = doc.to_json().expect("the document serialises");
    Router::new()
        .route(
            "/api/profile",
            ApiView::new("Profile").get(profile).guard(
                restauth
                    .policy()
                    .authentication([AuthClass::Token])
                    .permission(IsAuthenticated),
            ),
        )
        .merge(restauth::token::router(restauth).expect("the token routes"))
        .merge(restauth::jwt::router(restauth).expect("the JWT routes"))
        .route("/openapi.json", get(move || async move { body }))
}

#[tokio::test]
async fn an_app_serves_the_description_of_the_routes_it_embeds() {
    let dir = tempfile::tempdir().unwrap();
    let restauth = Restauth::open(common::settings(&dir)).await.expect("open");
    let password = "an openapi test passphrase";
    restauth
        .users()
        .create_user(NewAccount {
            password: Some(password.into()),
            ..NewAccount::new("alice")
        })
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(restauth::serve(
        listener,
        app(&restauth),
        ServeOptions::default(),
    ));
    let client = reqwest::Client::new();
    let doc: Value = client
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1."))
    );
    let paths = doc["paths"].as_object().expect("paths");
    let mut names: Vec<&str> = paths.keys().map(String::as_str).collect();
    names.sort_unstable();
    // Exactly what the app mounted: no session, devices, staff or forward routes.
    assert_eq!(
        names,
        [
            "/.well-known/jwks.json",
            "/api-token-auth/",
            "/api/profile/",
            "/api/token/",
            "/api/token/blacklist/",
            "/api/token/logout-all/",
            "/api/token/refresh/",
            "/api/token/verify/",
        ]
    );
    let obtain = &doc["paths"]["/api-token-auth/"]["post"];
    assert_eq!(obtain["operationId"], "obtain_auth_token");
    assert_eq!(
        obtain["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/LoginCredentials"
    );
    // Every reference resolves within the merged document.
    let text = doc.to_string();
    for (at, _) in text.match_indices("\"$ref\":\"#/components/") {
        let rest = &text[at + "\"$ref\":\"#/components/".len()..];
        let (kind, name) = rest[..rest.find('"').unwrap()].split_once('/').unwrap();
        assert!(doc["components"][kind].get(name).is_some(), "{kind}/{name}");
    }
    assert_eq!(
        doc["paths"]["/api/profile/"]["get"]["security"],
        json!([{ "Token": [] }])
    );

    // A client that follows the description: the credentials' fields, at the token path, give
    // a token of the described shape, which the app's own view accepts.
    let credentials = &doc["components"]["schemas"]["LoginCredentials"];
    assert_eq!(credentials["required"], json!(["username", "password"]));
    let token_schema = &doc["components"]["schemas"]["Token"]["properties"]["token"];
    assert_eq!(token_schema["pattern"], "^[0-9a-f]{40}$");
    let response = client
        .post(format!("{base}/api-token-auth/"))
        .json(&json!({ "username": "alice", "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let key = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert!(
        key.len() == 40 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{key}"
    );
    let response = client
        .get(format!("{base}/api/profile/"))
        .header("authorization", format!("Token {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "alice");
}

/// The whole document follows the settings: paths, field and cookie names, and the routes
/// that settings turn on.
#[tokio::test]
async fn the_whole_document_follows_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::settings(&dir);
    let doc = serde_json::to_value(restauth::openapi(&settings)).unwrap();
    assert!(doc["paths"]["/api-token-auth/"]["post"].is_object());
    assert!(doc["paths"]["/api/admin/users/"]["post"].is_object());
    assert!(doc["paths"].get("/auth/forward/").is_none());
    assert_eq!(
        doc["components"]["securitySchemes"]["Session"]["name"],
        "sessionid"
    );

    settings.user.username_field = "email".into();
    settings.session.cookie_name = "sid".into();
    settings.forward_auth.enabled = true;
    settings.rest_framework.num_proxies = Some(1);
    settings.accounts.prefix = "/api/accounts/".into();
    let restauth = Restauth::open(settings).await.expect("open");
    let doc = serde_json::to_value(restauth.openapi()).unwrap();
    // simplejwt reads USERNAME_FIELD's key; DRF's token view and the session logins
    // `username`, djoser's token/login LOGIN_FIELD (USERNAME_FIELD by default).
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Credentials"]["required"],
        json!(["email", "password"])
    );
    assert_eq!(
        schemas["LoginCredentials"]["required"],
        json!(["username", "password"])
    );
    #[cfg(feature = "email")]
    assert_eq!(
        schemas["TokenCreate"]["required"],
        json!(["email", "password"])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["Session"]["name"],
        "sid"
    );
    let forward = doc["paths"]["/auth/forward/"].as_object().expect("forward");
    for method in ["get", "post", "put", "patch", "delete"] {
        assert!(forward.contains_key(method), "{method}");
    }
    #[cfg(feature = "email")]
    {
        assert!(doc["paths"]["/api/accounts/users/me/"]["get"].is_object());
        assert!(doc["paths"].get("/auth/users/me/").is_none());
    }
    #[cfg(feature = "html-login")]
    assert!(doc["paths"]["/api-auth/login/"]["post"].is_object());
}
