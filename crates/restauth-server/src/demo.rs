//! The demo views: how an application protects its own routes with restauth — JSON views
//! behind each permission class, and an HTML page behind the session login — and their
//! OpenAPI description, as an app describes its own views beside the library's.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;
use restauth::core::error::json_response;
use restauth::pipeline::openapi::{
    self as doc, Describer, FORM, Guard, JSON, MULTIPART, Op, SharedResponse, boolean,
    html_response, nullable_string, redirect_response, required_object, string,
};
use restauth::session::{LoginRequired, SessionService, Templates};
use restauth::{
    ApiView, AuthClass, Body, CurrentUser, DjangoModelPermissions,
    DjangoModelPermissionsOrAnonReadOnly, HasPerms, IsAdminUser, IsAuthenticated,
    IsAuthenticatedOrReadOnly, MaybeUser, Policy, Restauth, Settings,
};
use serde_json::json;
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::schema::{AdditionalProperties, SchemaType};
use utoipa::openapi::{
    ContentBuilder, HttpMethod, ObjectBuilder, OpenApi, RefOr, Required, Schema, Type,
};

/// Every authentication class, in the order the explicit demo views declare them.
const ALL_CLASSES: [AuthClass; 4] = [
    AuthClass::Session,
    AuthClass::Basic,
    AuthClass::Token,
    AuthClass::Jwt,
];

/// The demo page: `username`, `csrf_token` and `logout_url`; overridable from
/// `[session] templates_dir` like the login page.
const DASHBOARD: &str = "dashboard.html";

/// The demo views; an error when `dashboard.html` of `[session] templates_dir` is broken.
pub fn router(restauth: &Restauth) -> std::io::Result<Router> {
    let all = || restauth.policy().authentication(ALL_CLASSES);
    let templates = Templates::load(
        restauth.settings().session.templates_dir.as_deref(),
        &[(DASHBOARD, include_str!("../templates/dashboard.html"))],
    )?;
    let pages = Pages {
        sessions: restauth.sessions().clone(),
        templates: Arc::new(templates),
    };
    Ok(Router::new()
        .route("/dashboard", get(dashboard_page).with_state(pages))
        .route(
            "/api/dashboard",
            ApiView::new("Dashboard")
                .get(dashboard)
                .guard(restauth.policy().permission(IsAuthenticated)),
        )
        .route(
            "/api/profile",
            ApiView::new("Profile").get(profile).guard(
                restauth
                    .policy()
                    .authentication([AuthClass::Token])
                    .permission(IsAuthenticated),
            ),
        )
        .route(
            "/api/jwt/profile",
            ApiView::new("Jwt Profile").get(profile).guard(
                restauth
                    .policy()
                    .authentication([AuthClass::Jwt])
                    .permission(IsAuthenticated),
            ),
        )
        .route(
            "/api/public",
            ApiView::new("Public")
                .get(public)
                .guard(all().permission(restauth::AllowAny)),
        )
        .route(
            "/api/admin-only",
            ApiView::new("Admin Only")
                .get(admin_only)
                .guard(all().permission(IsAdminUser)),
        )
        .route(
            "/api/readonly-or-auth",
            ApiView::new("Readonly Or Auth")
                .get(public)
                .post(echo)
                .guard(all().permission(IsAuthenticatedOrReadOnly)),
        )
        .route(
            "/api/echo",
            ApiView::new("Echo").post(echo).guard(echo_policy(restauth)),
        )
        .route(
            "/api/notes",
            ApiView::new("Notes")
                .get(public)
                .post(echo)
                .guard(all().permission(DjangoModelPermissions::new("notes", "note"))),
        )
        .route(
            "/api/notes/public",
            ApiView::new("Public Notes").get(public).post(echo).guard(
                all().permission(DjangoModelPermissionsOrAnonReadOnly::new("notes", "note")),
            ),
        )
        .route(
            "/api/notes/publish",
            ApiView::new("Publish Notes")
                .post(echo)
                .guard(all().permission(HasPerms(["notes.add_note", "notes.publish_note"]))),
        ))
}

#[derive(Clone)]
struct Pages {
    sessions: SessionService,
    templates: Arc<Templates>,
}

impl FromRef<Pages> for SessionService {
    fn from_ref(pages: &Pages) -> SessionService {
        pages.sessions.clone()
    }
}

/// The page behind the login: the greeting and a logout button.
async fn dashboard_page(State(pages): State<Pages>, login: LoginRequired) -> Response {
    let context = json!({
        "username": login.user.username,
        "csrf_token": login.csrf_token(),
        "logout_url": pages.sessions.settings().logout_url,
    });
    login.render(&pages.templates, DASHBOARD, context)
}

/// Limited by `[rest_framework.default_throttle_rates] echo = "…"` when that is set; without
/// it the demo route declares no scope (a declared scope without a rate is refused).
fn echo_policy(restauth: &Restauth) -> Policy {
    let policy = restauth.policy().permission(IsAuthenticated);
    policy.clone().throttle_scope("echo").unwrap_or(policy)
}

fn ok(body: serde_json::Value) -> Response {
    json_response(StatusCode::OK, &body)
}

/// The seed's `DashboardAPI`.
async fn dashboard(CurrentUser(user): CurrentUser) -> Response {
    // One allocation and three copies; `format!` costs several times that.
    let message = ["Hello ", &user.username, ", welcome to your dashboard"].concat();
    ok(json!({ "message": message }))
}

/// The seed's `ProfileAPI`: only public fields, never the hash.
async fn profile(CurrentUser(user): CurrentUser) -> Response {
    ok(json!({ "username": user.username, "email": user.email }))
}

async fn public(MaybeUser(user): MaybeUser) -> Response {
    ok(json!({
        "authenticated": user.is_some(),
        "username": user.as_ref().map(|u| u.username.as_str()),
    }))
}

async fn admin_only(CurrentUser(user): CurrentUser) -> Response {
    ok(json!({ "username": user.username, "is_staff": user.is_staff }))
}

async fn echo(MaybeUser(user): MaybeUser, Body(body): Body<serde_json::Value>) -> Response {
    ok(json!({
        "received": body,
        "username": user.as_ref().map(|u| u.username.as_str()),
    }))
}

/// The OpenAPI description of [`router`]'s views, for the server's document.
pub fn openapi(settings: &Settings) -> OpenApi {
    let d = Describer::new(settings);
    let defaults = || d.defaults();
    let all = || ALL_CLASSES.to_vec();
    let view = |id, summary, guard, schema: &str| {
        let op = Op::new(id, "demo", summary, guard)
            .respond("200", doc::json_response("The view's answer", schema));
        d.get(op, true)
    };
    let echo = |id, summary, guard| {
        let op = Op::new(id, "demo", summary, guard)
            .describe("Returns the parsed body (JSON, form or multipart) and the user.")
            .body(any_body())
            .respond("200", doc::json_response("What was received", "Echo"))
            .respond_with(&[SharedResponse::BadRequest]);
        d.post(op, true)
    };
    let page = Op::new(
        "dashboard_page",
        "demo",
        "The demo dashboard page",
        Guard::Open,
    )
    .describe(format!(
        "HTML greeting for the user of the `{}` cookie; without a live session, a redirect to \
         the login page.",
        settings.session.cookie_name
    ))
    .respond("200", html_response("The dashboard"))
    .respond("302", redirect_response("Not logged in: to the login page"))
    .respond_with(&[SharedResponse::NotAcceptable]);
    let mut readonly = view(
        "readonly_or_auth_read",
        "IsAuthenticatedOrReadOnly: reading is open",
        Guard::Optional(all()),
        "Public",
    );
    readonly.merge_operations(echo(
        "readonly_or_auth_write",
        "IsAuthenticatedOrReadOnly: writing needs a user",
        Guard::Required(all()),
    ));
    let readable = |read_id, read, read_guard, write_id, write| {
        let mut item = view(read_id, read, read_guard, "Public");
        item.merge_operations(echo(write_id, write, Guard::Required(all())));
        item
    };
    let notes = readable(
        "notes_read",
        "DjangoModelPermissions: reading needs a user",
        Guard::Required(all()),
        "notes_write",
        "DjangoModelPermissions: writing needs notes.add_note",
    );
    let public_notes = readable(
        "public_notes_read",
        "DjangoModelPermissionsOrAnonReadOnly: reading is open",
        Guard::Optional(all()),
        "public_notes_write",
        "DjangoModelPermissionsOrAnonReadOnly: writing needs notes.add_note",
    );
    let publish = echo(
        "publish_notes",
        "HasPerms: needs notes.add_note and notes.publish_note",
        Guard::Required(all()),
    );
    let paths = vec![
        ("/api/notes/", notes),
        ("/api/notes/public/", public_notes),
        ("/api/notes/publish/", publish),
        ("/dashboard/", d.item(HttpMethod::Get, page)),
        (
            "/api/dashboard/",
            view(
                "dashboard",
                "IsAuthenticated, default classes",
                Guard::Required(defaults()),
                "Dashboard",
            ),
        ),
        (
            "/api/profile/",
            view(
                "profile",
                "IsAuthenticated, TokenAuthentication",
                Guard::Required(vec![AuthClass::Token]),
                "Profile",
            ),
        ),
        (
            "/api/jwt/profile/",
            view(
                "jwt_profile",
                "IsAuthenticated, JWTAuthentication",
                Guard::Required(vec![AuthClass::Jwt]),
                "Profile",
            ),
        ),
        (
            "/api/public/",
            view("public", "AllowAny", Guard::Optional(all()), "Public"),
        ),
        (
            "/api/admin-only/",
            view(
                "admin_only",
                "IsAdminUser (is_staff)",
                Guard::Required(all()),
                "AdminOnly",
            ),
        ),
        ("/api/readonly-or-auth/", readonly),
        (
            "/api/echo/",
            echo(
                "echo",
                "IsAuthenticated, default classes",
                Guard::Required(defaults()),
            ),
        ),
    ];
    d.document(
        &[(
            "demo",
            "Demo views: how routes are protected ([server] demo_views)",
        )],
        paths.into_iter().map(|(p, i)| (p.to_owned(), i)).collect(),
        schemas(),
    )
}

/// Any JSON; a form or multipart body as text fields.
fn any_body() -> RequestBody {
    let fields = || {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::from(string())))
    };
    let mut b = RequestBodyBuilder::new()
        .required(Some(Required::False))
        .content(
            JSON,
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(SchemaType::AnyValue)))
                .build(),
        );
    for media in [FORM, MULTIPART] {
        b = b.content(media, ContentBuilder::new().schema(Some(fields())).build());
    }
    b.build()
}

fn schemas() -> Vec<(&'static str, RefOr<Schema>)> {
    let username = || ("username", string());
    let parsed = ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .description(Some("The parsed body"));
    vec![
        ("Dashboard", required_object([("message", string())])),
        (
            "Profile",
            required_object([username(), ("email", string())]),
        ),
        (
            "Public",
            required_object([
                ("authenticated", boolean()),
                ("username", nullable_string()),
            ]),
        ),
        (
            "AdminOnly",
            required_object([username(), ("is_staff", boolean())]),
        ),
        (
            "Echo",
            required_object([("received", parsed), ("username", nullable_string())]),
        ),
    ]
    .into_iter()
    .map(|(name, schema)| (name, schema.into()))
    .collect()
}
