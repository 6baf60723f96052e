//! The OpenAPI 3.1 description of every endpoint this server mounts, built from the running
//! configuration (the paths, field names, cookie and header names that settings decide), served
//! at `/api/schema/` when `[openapi] enabled = true` and printed by `restauth openapi`.
//!
//! Error bodies are DRF's: `{"detail": …}` (simplejwt adds `code` and `messages`) and field
//! errors `{"<field>": ["…"]}`. The security schemes follow drf-spectacular's shapes.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use restauth::core::settings::{AuthClass, PermissionClass};
use restauth::{ApiView, Restauth, Settings};
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, KnownFormat, SchemaFormat, SchemaType,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ArrayBuilder, ComponentsBuilder, ContentBuilder, HeaderBuilder, HttpMethod, InfoBuilder,
    ObjectBuilder, OpenApi, OpenApiBuilder, PathItem, PathsBuilder, Ref, RefOr, Required,
    Response as ApiResponse, ResponseBuilder, Schema, Type,
};

use crate::config::ServerSettings;

/// Where the document is served.
pub const SCHEMA_PATH: &str = "/api/schema/";
/// The media type drf-spectacular serves a JSON schema as.
const SCHEMA_MEDIA_TYPE: &str = "application/vnd.oai.openapi+json";

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";
const MULTIPART: &str = "multipart/form-data";
const HTML: &str = "text/html";

/// `GET /api/schema/`: the document, rendered once at start.
pub fn router(restauth: &Restauth, server: &ServerSettings) -> Result<Router, String> {
    let body = document(restauth.settings(), server)
        .to_json()
        .map_err(|e| format!("openapi: {e}"))?;
    let view = ApiView::new("Schema").get(schema).guard(
        restauth
            .policy()
            .authenticators(Vec::new())
            .permissions(Vec::new()),
    );
    Ok(Router::new()
        .route(SCHEMA_PATH.trim_end_matches('/'), view)
        .with_state(Bytes::from(body)))
}

async fn schema(State(body): State<Bytes>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCHEMA_MEDIA_TYPE),
        )],
        body,
    )
        .into_response()
}

/// The document for this configuration: the same whether served or printed.
pub fn document(settings: &Settings, server: &ServerSettings) -> OpenApi {
    let d = Describer::new(settings);
    let mut paths = PathsBuilder::new();
    for (path, item) in d.paths(server) {
        paths = paths.path(path, item);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("restauth")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Django REST Framework's authentication endpoints (DRF tokens, \
                     djangorestframework-simplejwt, Django sessions). Paths answer with and \
                     without the trailing slash. Errors are DRF's: `{\"detail\": …}`, or \
                     `{\"<field>\": [\"…\"]}` for invalid input.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(d.components()))
        .tags(Some(
            [
                ("token", "DRF's TokenAuthentication"),
                ("jwt", "djangorestframework-simplejwt"),
                ("session", "Django sessions and CSRF"),
                (
                    "devices",
                    "The caller's own tokens and sessions, and the account page",
                ),
                ("admin", "The staff API (IsAdminUser)"),
                (
                    "forward",
                    "Forward authentication for a reverse proxy ([forward_auth] enabled)",
                ),
                (
                    "demo",
                    "Demo views: how routes are protected ([server] demo_views)",
                ),
                ("server", "Probes and this description"),
                (
                    "accounts",
                    "djoser's user endpoints: the current user, password change and reset, \
                     registration ([accounts])",
                ),
            ]
            .map(|(name, description)| {
                TagBuilder::new()
                    .name(name)
                    .description(Some(description))
                    .build()
            }),
        ))
        .build()
}

/// Who may call an operation.
#[derive(Clone)]
enum Access {
    /// No authentication class runs.
    Open,
    /// The classes run; anonymous callers are let through.
    Optional(Vec<AuthClass>),
    /// The classes run and the permission needs a user.
    Required(Vec<AuthClass>),
}

/// One operation, before it becomes utoipa's `Operation`.
struct Op {
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    description: Option<String>,
    access: Access,
    body: Option<RequestBody>,
    /// `(status, response)`, the success first.
    responses: Vec<(&'static str, RefOr<ApiResponse>)>,
    parameters: Vec<utoipa::openapi::path::Parameter>,
}

impl Op {
    fn new(id: &'static str, tag: &'static str, summary: &'static str, access: Access) -> Self {
        Op {
            id,
            tag,
            summary,
            description: None,
            access,
            body: None,
            responses: Vec::new(),
            parameters: Vec::new(),
        }
    }

    fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    fn body(mut self, body: RequestBody) -> Self {
        self.body = Some(body);
        self
    }

    fn respond(mut self, status: &'static str, response: impl Into<RefOr<ApiResponse>>) -> Self {
        self.responses.push((status, response.into()));
        self
    }

    /// Responses shared by name (`#/components/responses/…`); a status already there stays.
    fn respond_with(mut self, shared: &[Shared]) -> Self {
        for response in shared {
            let status = response.status();
            if !self.responses.iter().any(|(s, _)| *s == status) {
                self.responses
                    .push((status, RefOr::Ref(Ref::from_response_name(response.name()))));
            }
        }
        self
    }

    fn parameter(mut self, parameter: utoipa::openapi::path::Parameter) -> Self {
        self.parameters.push(parameter);
        self
    }
}

/// The error responses operations share, in `#/components/responses`.
#[derive(Clone, Copy, Debug)]
enum Shared {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
    Throttled,
    Unavailable,
}

impl Shared {
    const ALL: [Shared; 8] = [
        Shared::BadRequest,
        Shared::Unauthorized,
        Shared::Forbidden,
        Shared::NotAcceptable,
        Shared::PayloadTooLarge,
        Shared::UnsupportedMediaType,
        Shared::Throttled,
        Shared::Unavailable,
    ];

    fn status(self) -> &'static str {
        match self {
            Shared::BadRequest => "400",
            Shared::Unauthorized => "401",
            Shared::Forbidden => "403",
            Shared::NotAcceptable => "406",
            Shared::PayloadTooLarge => "413",
            Shared::UnsupportedMediaType => "415",
            Shared::Throttled => "429",
            Shared::Unavailable => "503",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Shared::BadRequest => "BadRequest",
            Shared::Unauthorized => "Unauthorized",
            Shared::Forbidden => "Forbidden",
            Shared::NotAcceptable => "NotAcceptable",
            Shared::PayloadTooLarge => "PayloadTooLarge",
            Shared::UnsupportedMediaType => "UnsupportedMediaType",
            Shared::Throttled => "Throttled",
            Shared::Unavailable => "Unavailable",
        }
    }

    fn response(self) -> ApiResponse {
        let detail = |description: &str| json_response(description, "Detail");
        match self {
            Shared::BadRequest => ResponseBuilder::new()
                .description("Invalid input: field errors, or a body that does not parse")
                .content(
                    JSON,
                    ContentBuilder::new()
                        .schema(Some(
                            AnyOfBuilder::new()
                                .item(schema_ref("FieldErrors"))
                                .item(schema_ref("Detail")),
                        ))
                        .build(),
                )
                .build(),
            Shared::Unauthorized => ResponseBuilder::new()
                .description(
                    "Not authenticated, or the credentials were refused (the route's first \
                     class names its scheme in `WWW-Authenticate`)",
                )
                .header(
                    "WWW-Authenticate",
                    HeaderBuilder::new().schema(Some(string())).build(),
                )
                .content(JSON, json_content("Detail"))
                .build(),
            Shared::Forbidden => detail(
                "Permission denied, a CSRF failure, or not authenticated on a route whose first \
                 class has no challenge (session)",
            ),
            Shared::NotAcceptable => {
                detail("The `Accept` header allows no media type this view renders")
            }
            Shared::PayloadTooLarge => detail("The body is larger than allowed"),
            Shared::UnsupportedMediaType => {
                detail("The body's media type is not JSON, form or multipart")
            }
            Shared::Throttled => ResponseBuilder::new()
                .description("Throttled; `Retry-After` says how many seconds to wait")
                .header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                        .build(),
                )
                .content(JSON, json_content("Detail"))
                .build(),
            Shared::Unavailable => detail("The database cannot be reached; try again later"),
        }
    }
}

/// Builds the operations from the settings that shape them.
struct Describer<'a> {
    settings: &'a Settings,
    /// The classes of routes that keep the configured defaults.
    defaults: Vec<AuthClass>,
    /// Whether `default_throttle_classes` may answer 429 on any API view.
    throttled: bool,
}

/// Every class, in the order the demo views declare them.
const ALL: &[AuthClass] = &[
    AuthClass::Session,
    AuthClass::Basic,
    AuthClass::Token,
    AuthClass::Jwt,
];

impl<'a> Describer<'a> {
    fn new(settings: &'a Settings) -> Self {
        let defaults = settings
            .rest_framework
            .default_authentication_classes
            .iter()
            .filter_map(|c| ALL.iter().copied().find(|a| c == a))
            .collect();
        Describer {
            settings,
            defaults,
            throttled: !settings.rest_framework.default_throttle_classes.is_empty(),
        }
    }

    fn paths(&self, server: &ServerSettings) -> Vec<(String, PathItem)> {
        let session = &self.settings.session;
        let mut paths = vec![
            ("/api-token-auth/".to_owned(), self.obtain_auth_token()),
            ("/api/token/".to_owned(), self.jwt_obtain()),
            ("/api/token/refresh/".to_owned(), self.jwt_refresh()),
            ("/api/token/verify/".to_owned(), self.jwt_verify()),
            ("/api/token/blacklist/".to_owned(), self.jwt_blacklist()),
            ("/api/token/logout-all/".to_owned(), self.jwt_logout_all()),
            ("/.well-known/jwks.json".to_owned(), self.jwks()),
            ("/api/auth/login/".to_owned(), self.spa_login()),
            ("/api/auth/logout/".to_owned(), self.spa_logout()),
            ("/api/auth/csrf/".to_owned(), self.csrf()),
            (session.login_url.clone(), self.login_page()),
            (session.logout_url.clone(), self.logout_page()),
        ];
        if self.settings.forward_auth.enabled {
            paths.push(("/auth/forward/".to_owned(), self.forward_auth()));
        }
        // Devices and staff
        paths.extend(self.devices_and_staff());
        // Accounts over HTTP
        if self.settings.serves_accounts() {
            paths.extend(self.accounts());
        }
        if server.demo_views {
            paths.push(("/dashboard/".to_owned(), self.dashboard_page()));
            paths.extend(self.demo_views());
        }
        paths.extend([
            ("/healthz".to_owned(), self.healthz()),
            ("/readyz".to_owned(), self.readyz()),
            (SCHEMA_PATH.to_owned(), self.schema()),
        ]);
        paths
    }

    // -----------------------------------------------------------------------------------------
    // Operations
    // -----------------------------------------------------------------------------------------

    fn obtain_auth_token(&self) -> PathItem {
        let field = &self.settings.user.username_field;
        let op = Op::new(
            "obtain_auth_token",
            "token",
            "Obtain a DRF token",
            Access::Optional(self.defaults.clone()),
        )
        .describe(format!(
            "DRF's `obtain_auth_token`: `{field}` and `password` give a new 40-hex token (every \
             login issues one; the key is shown only here). Failed logins count towards the \
             login throttles."
        ))
        .body(credentials_body())
        .respond("200", json_response("The new token", "Token"))
        .respond_with(&[Shared::BadRequest, Shared::Throttled]);
        self.post(op, true)
    }

    fn jwt_obtain(&self) -> PathItem {
        let field = &self.settings.user.username_field;
        let op = Op::new(
            "token_obtain_pair",
            "jwt",
            "Obtain a JWT pair",
            Access::Open,
        )
        .describe(format!(
            "simplejwt's `TokenObtainPairView`: `{field}` and `password` give an access and a \
             refresh token."
        ))
        .body(credentials_body())
        .respond("200", json_response("The token pair", "TokenPair"))
        .respond(
            "401",
            jwt_unauthorized("No active account found with the given credentials"),
        )
        .respond_with(&[Shared::BadRequest, Shared::Throttled]);
        self.post(op, true)
    }

    fn jwt_refresh(&self) -> PathItem {
        self.jwt_token_view(
            Op::new("token_refresh", "jwt", "Refresh a JWT", Access::Open).describe(
                "simplejwt's `TokenRefreshView`: a refresh token gives a new access token (and \
                 a new refresh token when `rotate_refresh_tokens` is on).",
            ),
            ("refresh", "A refresh token"),
            json_response("The new token(s)", "Refreshed"),
        )
    }

    fn jwt_verify(&self) -> PathItem {
        self.jwt_token_view(
            Op::new("token_verify", "jwt", "Verify a JWT", Access::Open).describe(
                "simplejwt's `TokenVerifyView`: `{}` when the token (access or refresh) is \
                 valid. A blacklisted refresh token answers 400.",
            ),
            ("token", "An access or refresh token"),
            json_response("The token is valid", "Empty"),
        )
    }

    fn jwt_blacklist(&self) -> PathItem {
        self.jwt_token_view(
            Op::new(
                "token_blacklist",
                "jwt",
                "Blacklist a refresh token",
                Access::Open,
            )
            .describe("simplejwt's `TokenBlacklistView`: the refresh token stops working."),
            ("refresh", "A refresh token"),
            json_response("Blacklisted", "Empty"),
        )
    }

    /// simplejwt's views that read one token `field` and refuse a bad token with 401.
    fn jwt_token_view(&self, op: Op, field: (&str, &str), ok: ApiResponse) -> PathItem {
        let op = op
            .body(one_field_body(field.0, field.1))
            .respond("200", ok)
            .respond("401", jwt_unauthorized("The token is invalid or expired"));
        self.post(op, true)
    }

    fn jwt_logout_all(&self) -> PathItem {
        let op = Op::new(
            "token_logout_all",
            "jwt",
            "Log out everywhere",
            Access::Required(vec![AuthClass::Jwt]),
        )
        .describe(
            "Refuses every access and refresh token and every session of the user issued \
             before this call, the caller's own included.",
        )
        .respond("200", json_response("Done", "Empty"));
        self.post(op, false)
    }

    fn jwks(&self) -> PathItem {
        let op = Op::new("jwks", "jwt", "JWT verifying keys", Access::Open)
            .describe("The public keys that verify JWTs (RFC 7517); empty for HMAC algorithms.")
            .respond("200", json_response("The key set", "Jwks"));
        self.get(op, false)
    }

    fn spa_login(&self) -> PathItem {
        let field = &self.settings.user.username_field;
        let op = Op::new("session_login", "session", "Log in (JSON)", Access::Open)
            .describe(format!(
                "Starts a session for a single-page app: `{field}` and `password`, with the \
                 CSRF token of `GET /api/auth/csrf/` in `X-CSRFToken` (the login is \
                 CSRF-protected for everyone). Sets the session cookie and a new CSRF cookie."
            ))
            .parameter(csrf_header())
            .body(credentials_body())
            .respond("200", json_response("The user, now logged in", "User"))
            .respond("403", json_response("CSRF verification failed", "Detail"))
            .respond_with(&[Shared::BadRequest, Shared::Throttled]);
        self.post(op, true)
    }

    fn spa_logout(&self) -> PathItem {
        let op = Op::new(
            "session_logout",
            "session",
            "Log out (JSON)",
            Access::Required(vec![AuthClass::Session]),
        )
        .describe(
            "Ends the session of the request (CSRF-checked: send `X-CSRFToken`) and deletes \
             its cookie.",
        )
        .parameter(csrf_header())
        .respond("200", json_response("Logged out", "Detail"));
        self.post(op, false)
    }

    fn csrf(&self) -> PathItem {
        let op = Op::new("session_csrf", "session", "Get a CSRF token", Access::Open)
            .describe(format!(
                "Sets the `{}` cookie and returns a masked token to send as `X-CSRFToken`.",
                self.settings.csrf.cookie_name
            ))
            .respond("200", json_response("A CSRF token", "CsrfToken"));
        self.get(op, true)
    }

    fn login_page(&self) -> PathItem {
        let get = Op::new("login_page", "session", "The login page", Access::Open)
            .describe("Django's login form (HTML), with a CSRF token in a hidden field.")
            .parameter(
                ParameterBuilder::new()
                    .name("next")
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(
                        "Where to go after login: same-site paths only, else the configured page.",
                    ))
                    .schema(Some(string()))
                    .build(),
            )
            .respond("200", html_response("The login form"))
            .respond_with(&[Shared::NotAcceptable]);
        let post = Op::new(
            "login_submit",
            "session",
            "Submit the login form",
            Access::Open,
        )
        .describe(
            "The form of the login page. A success redirects (302) with the session and \
                 CSRF cookies; a failure shows the form again with one generic message.",
        )
        .body(login_parsed_body())
        .respond("200", html_response("The form again, with an error"))
        .respond(
            "302",
            redirect_response("Logged in: to `next` or the configured page"),
        )
        .respond("403", html_response("CSRF verification failed"))
        .respond_with(&[
            Shared::BadRequest,
            Shared::NotAcceptable,
            Shared::PayloadTooLarge,
            Shared::UnsupportedMediaType,
            Shared::Throttled,
        ]);
        let mut item = PathItem::new(HttpMethod::Get, self.operation(get));
        item.merge_operations(PathItem::new(HttpMethod::Post, self.operation(post)));
        item
    }

    fn logout_page(&self) -> PathItem {
        let post = Op::new("logout_submit", "session", "Log out (form)", Access::Open)
            .describe(
                "Ends the session of the cookie and redirects to the configured page \
                 (CSRF-protected: the `csrfmiddlewaretoken` field or `X-CSRFToken`).",
            )
            .parameter(csrf_header())
            .body(parsed_body(
                ObjectBuilder::new()
                    .property("csrfmiddlewaretoken", string())
                    .into(),
                false,
            ))
            .respond("302", redirect_response("Logged out"))
            .respond("403", html_response("CSRF verification failed"))
            .respond_with(&[
                Shared::BadRequest,
                Shared::NotAcceptable,
                Shared::PayloadTooLarge,
                Shared::UnsupportedMediaType,
            ]);
        PathItem::new(HttpMethod::Post, self.operation(post))
    }

    fn dashboard_page(&self) -> PathItem {
        let get = Op::new(
            "dashboard_page",
            "demo",
            "The demo dashboard page",
            Access::Open,
        )
        .describe(format!(
            "HTML greeting for the user of the `{}` cookie; without a live session, a \
                 redirect to the login page.",
            self.settings.session.cookie_name
        ))
        .respond("200", html_response("The dashboard"))
        .respond("302", redirect_response("Not logged in: to the login page"))
        .respond_with(&[Shared::NotAcceptable]);
        PathItem::new(HttpMethod::Get, self.operation(get))
    }

    fn demo_views(&self) -> Vec<(String, PathItem)> {
        let defaults = || self.defaults.clone();
        let all = || ALL.to_vec();
        let view = |id, summary, access, schema: &str| {
            let op = Op::new(id, "demo", summary, access)
                .respond("200", json_response("The view's answer", schema));
            self.get(op, true)
        };
        let echo = |id, summary, access| {
            let op = Op::new(id, "demo", summary, access)
                .describe("Returns the parsed body (JSON, form or multipart) and the user.")
                .body(any_body())
                .respond("200", json_response("What was received", "Echo"))
                .respond_with(&[Shared::BadRequest]);
            self.post(op, true)
        };
        let readonly = {
            let mut item = view(
                "readonly_or_auth_read",
                "IsAuthenticatedOrReadOnly: reading is open",
                Access::Optional(all()),
                "Public",
            );
            item.merge_operations(echo(
                "readonly_or_auth_write",
                "IsAuthenticatedOrReadOnly: writing needs a user",
                Access::Required(all()),
            ));
            item
        };
        vec![
            (
                "/api/dashboard/".to_owned(),
                view(
                    "dashboard",
                    "IsAuthenticated, default classes",
                    Access::Required(defaults()),
                    "Dashboard",
                ),
            ),
            (
                "/api/profile/".to_owned(),
                view(
                    "profile",
                    "IsAuthenticated, TokenAuthentication",
                    Access::Required(vec![AuthClass::Token]),
                    "Profile",
                ),
            ),
            (
                "/api/jwt/profile/".to_owned(),
                view(
                    "jwt_profile",
                    "IsAuthenticated, JWTAuthentication",
                    Access::Required(vec![AuthClass::Jwt]),
                    "Profile",
                ),
            ),
            (
                "/api/public/".to_owned(),
                view("public", "AllowAny", Access::Optional(all()), "Public"),
            ),
            (
                "/api/admin-only/".to_owned(),
                view(
                    "admin_only",
                    "IsAdminUser (is_staff)",
                    Access::Required(all()),
                    "AdminOnly",
                ),
            ),
            ("/api/readonly-or-auth/".to_owned(), readonly),
            (
                "/api/echo/".to_owned(),
                echo(
                    "echo",
                    "IsAuthenticated, default classes",
                    Access::Required(defaults()),
                ),
            ),
        ]
    }

    /// `/auth/forward/`: any method, as the proxy asks (GET from nginx and Traefik, the
    /// original method from Envoy). The path below it that Envoy appends is not a resource of
    /// its own and is left out.
    fn forward_auth(&self) -> PathItem {
        let forward = &self.settings.forward_auth;
        let classes: Vec<AuthClass> = match &forward.authentication_classes {
            Some(names) => names
                .iter()
                .filter_map(|c| ALL.iter().copied().find(|a| c == a))
                .collect(),
            None => self.defaults.clone(),
        };
        let open = forward
            .permission_classes
            .iter()
            .all(|p| *p == PermissionClass::AllowAny);
        let op = |id| {
            let access = if open {
                Access::Optional(classes.clone())
            } else {
                Access::Required(classes.clone())
            };
            let op = Op::new(id, "forward", "Authenticate a request for a proxy", access)
                .describe(
                    "The original request's method, path and host come from X-Forwarded-Method, \
                     X-Forwarded-Uri and X-Forwarded-Host (or the request itself). 200 names the \
                     user in the `[forward_auth]` headers (X-Auth-User, X-Auth-User-Id, \
                     X-Auth-Is-Staff by default); otherwise DRF's 401 or 403.",
                )
                .respond("200", json_response("The request may pass", "ForwardAuth"))
                .respond_with(&[Shared::BadRequest]);
            self.operation(self.api_view(op))
        };
        let mut item = PathItem::new(HttpMethod::Get, op("forward_auth_get"));
        for (method, id) in [
            (HttpMethod::Post, "forward_auth_post"),
            (HttpMethod::Put, "forward_auth_put"),
            (HttpMethod::Patch, "forward_auth_patch"),
            (HttpMethod::Delete, "forward_auth_delete"),
        ] {
            item.merge_operations(PathItem::new(method, op(id)));
        }
        item
    }

    fn healthz(&self) -> PathItem {
        let op = Op::new("healthz", "server", "Liveness", Access::Open)
            .describe("The process answers; says nothing of the database.")
            .respond("200", json_response("Alive", "Status"));
        PathItem::new(HttpMethod::Get, self.operation(op))
    }

    fn readyz(&self) -> PathItem {
        let op = Op::new("readyz", "server", "Readiness", Access::Open)
            .describe("The database can be read and written (probed at most once a second).")
            .respond("200", json_response("Ready", "Status"))
            .respond_with(&[Shared::Unavailable]);
        PathItem::new(HttpMethod::Get, self.operation(op))
    }

    fn schema(&self) -> PathItem {
        let op = Op::new("schema", "server", "This description", Access::Open)
            .describe("This OpenAPI document; served only with `[openapi] enabled = true`.")
            .respond(
                "200",
                ResponseBuilder::new()
                    .description("The OpenAPI 3.1 document")
                    .content(
                        SCHEMA_MEDIA_TYPE,
                        ContentBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                            .build(),
                    )
                    .build(),
            );
        self.get(op, true)
    }

    // -----------------------------------------------------------------------------------------
    // Accounts over HTTP
    // -----------------------------------------------------------------------------------------

    /// djoser's endpoints under `[accounts] prefix`, and the reset page.
    fn accounts(&self) -> Vec<(String, PathItem)> {
        let accounts = &self.settings.accounts;
        let inner = accounts.prefix.trim_matches('/');
        let base = if inner.is_empty() {
            "/".to_owned()
        } else {
            format!("/{inner}/")
        };
        let at = |path: &str| format!("{base}{path}");
        let signed_in = || Access::Required(self.defaults.clone());
        let anyone = || Access::Optional(self.defaults.clone());
        let no_content =
            |description: &str| ResponseBuilder::new().description(description).build();
        let me_body = || {
            parsed_body(
                object(
                    [(
                        "email",
                        string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Email))),
                    )],
                    &[],
                )
                .into(),
                false,
            )
        };
        let me = {
            let get = Op::new("users_me_read", "accounts", "The current user", signed_in())
                .describe("djoser's `users/me/`: `email`, `id` and `username`.")
                .respond("200", json_response("The user", "AccountUser"));
            let mut item = self.get(get, true);
            for (method, id, summary) in [
                (
                    HttpMethod::Put,
                    "users_me_update",
                    "Update the current user",
                ),
                (
                    HttpMethod::Patch,
                    "users_me_partial_update",
                    "Update the current user (partial)",
                ),
            ] {
                let op = self
                    .api_view(
                        Op::new(id, "accounts", summary, signed_in())
                            .describe(
                                "Only `email` is writable (`id` and `username` are read-only). \
                                 With `[accounts] send_activation_email`, a new address makes the \
                                 account inactive until the activation mail sent to it is used.",
                            )
                            .body(me_body())
                            .respond("200", json_response("The user", "AccountUser")),
                    )
                    .respond_with(&[
                        Shared::BadRequest,
                        Shared::PayloadTooLarge,
                        Shared::UnsupportedMediaType,
                    ]);
                item.merge_operations(PathItem::new(method, self.operation(op)));
            }
            let delete = self
                .api_view(
                    Op::new(
                        "users_me_delete",
                        "accounts",
                        "Delete the current user",
                        signed_in(),
                    )
                    .describe(
                        "Needs `current_password` (checked behind the login throttles); \
                             every token and session of the user ends with it.",
                    )
                    .body(one_field_body("current_password", "The user's password"))
                    .respond("204", no_content("Deleted"))
                    .respond_with(&[Shared::Throttled]),
                )
                .respond_with(&[
                    Shared::BadRequest,
                    Shared::PayloadTooLarge,
                    Shared::UnsupportedMediaType,
                ]);
            item.merge_operations(PathItem::new(HttpMethod::Delete, self.operation(delete)));
            item
        };
        let set_password = Op::new(
            "users_set_password",
            "accounts",
            "Change the password",
            signed_in(),
        )
        .describe(
            "`new_password` (Django's validators) and `current_password` (checked behind the \
                 login throttles). Every other token, session and JWT of the user ends; the \
                 token or session that made the call keeps working (a JWT caller's tokens end \
                 too).",
        )
        .body(parsed_body(
            object(
                [("new_password", string()), ("current_password", string())],
                &["new_password", "current_password"],
            )
            .into(),
            true,
        ))
        .respond("204", no_content("Changed"))
        .respond_with(&[Shared::Throttled]);
        let reset = Op::new(
            "users_reset_password",
            "accounts",
            "Ask for a password reset mail",
            anyone(),
        )
        .describe(
            "Mails a reset link to the active accounts of `email`. The answer is the same \
                 whether or not such an account exists.",
        )
        .body(parsed_body(
            object([("email", string())], &["email"]).into(),
            true,
        ))
        .respond("204", no_content("Accepted"))
        .respond_with(&[Shared::Unavailable]);
        let confirm = Op::new(
            "users_reset_password_confirm",
            "accounts",
            "Set a new password from a reset link",
            anyone(),
        )
        .describe(
            "The `uid` and `token` of the mailed link, and `new_password`. A link works once, \
             and for `[accounts] password_reset_timeout`.",
        )
        .body(parsed_body(
            object(
                [
                    ("uid", string()),
                    ("token", string()),
                    ("new_password", string()),
                ],
                &["uid", "token", "new_password"],
            )
            .into(),
            true,
        ))
        .respond("204", no_content("The password is set"));
        let field = &self.settings.user.username_field;
        let login = Op::new(
            "token_login",
            "accounts",
            "Obtain a token (djoser)",
            anyone(),
        )
        .describe(format!(
            "djoser's `token/login/`: `{field}` and `password` give a new token as \
                 `auth_token`. Failed logins count towards the login throttles."
        ))
        .body(credentials_body())
        .respond("200", json_response("The new token", "AuthToken"))
        .respond_with(&[Shared::BadRequest, Shared::Throttled]);
        let logout = Op::new(
            "token_logout",
            "accounts",
            "Revoke the calling token (djoser)",
            Access::Required(vec![AuthClass::Token]),
        )
        .describe("Ends the token that authenticated the request, that one only.")
        .respond("204", no_content("Revoked"));
        let mut paths = vec![
            (at("users/me/"), me),
            (at("users/set_password/"), self.post(set_password, true)),
            (at("users/reset_password/"), self.post(reset, true)),
            (
                at("users/reset_password_confirm/"),
                self.post(confirm, true),
            ),
            (at("token/login/"), self.post(login, true)),
            (at("token/logout/"), self.post(logout, false)),
            (
                at("password/reset/confirm/{uid}/{token}/"),
                self.reset_page(),
            ),
        ];
        if accounts.registration {
            let register = Op::new("users_create", "accounts", "Register", anyone())
                .describe(
                    "`username`, `email` (optional) and `password` (Django's validators). With \
                     `[accounts] send_activation_email`, the account is inactive until the \
                     mailed link is used.",
                )
                .body(parsed_body(
                    object(
                        [
                            ("username", string()),
                            ("email", string()),
                            ("password", string()),
                        ],
                        &["username", "password"],
                    )
                    .into(),
                    true,
                ))
                .respond("201", json_response("The new user", "AccountUser"))
                .respond_with(&[Shared::Unavailable]);
            let activation = Op::new(
                "users_activation",
                "accounts",
                "Activate an account",
                anyone(),
            )
            .describe(
                "The `uid` and `token` of the activation mail. An active account answers 403.",
            )
            .body(parsed_body(
                object([("uid", string()), ("token", string())], &["uid", "token"]).into(),
                true,
            ))
            .respond("204", no_content("Activated"));
            paths.push((at("users/"), self.post(register, true)));
            paths.push((at("users/activation/"), self.post(activation, true)));
        }
        paths
    }

    /// restauth's page for a mailed reset link.
    fn reset_page(&self) -> PathItem {
        let param = |name: &str| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(string()))
                .build()
        };
        let get = Op::new(
            "password_reset_page",
            "accounts",
            "The password reset page",
            Access::Open,
        )
        .describe(
            "The HTML form a mailed link opens (when `[accounts] password_reset_confirm_url` \
                 is unset), or a page saying the link is not valid.",
        )
        .parameter(param("uid"))
        .parameter(param("token"))
        .respond(
            "200",
            html_response("The form, or why the link is not valid"),
        )
        .respond_with(&[Shared::NotAcceptable]);
        let post = Op::new(
            "password_reset_page_submit",
            "accounts",
            "Submit the password reset page",
            Access::Open,
        )
        .describe(
            "`new_password1` and `new_password2` with the CSRF token in `csrfmiddlewaretoken`. \
             The page again, with Django's validator messages, or saying the password is set.",
        )
        .parameter(param("uid"))
        .parameter(param("token"))
        .body(parsed_body(
            object(
                [
                    ("new_password1", string()),
                    ("new_password2", string()),
                    ("csrfmiddlewaretoken", string()),
                ],
                &[],
            )
            .into(),
            true,
        ))
        .respond(
            "200",
            html_response("The page again, or the password is set"),
        )
        .respond("403", json_response("CSRF verification failed", "Detail"))
        .respond_with(&[
            Shared::BadRequest,
            Shared::NotAcceptable,
            Shared::PayloadTooLarge,
            Shared::UnsupportedMediaType,
        ]);
        let mut item = PathItem::new(HttpMethod::Get, self.operation(get));
        item.merge_operations(PathItem::new(HttpMethod::Post, self.operation(post)));
        item
    }

    // -----------------------------------------------------------------------------------------
    // Assembly
    // -----------------------------------------------------------------------------------------

    /// A GET operation; `api_view` adds what every DRF view may answer.
    fn get(&self, op: Op, api_view: bool) -> PathItem {
        let op = if api_view { self.api_view(op) } else { op };
        PathItem::new(HttpMethod::Get, self.operation(op))
    }

    /// A POST operation; `api_view` adds what every DRF view may answer.
    fn post(&self, op: Op, api_view: bool) -> PathItem {
        let op = if api_view { self.api_view(op) } else { op };
        let op = op.respond_with(&[
            Shared::BadRequest,
            Shared::PayloadTooLarge,
            Shared::UnsupportedMediaType,
        ]);
        PathItem::new(HttpMethod::Post, self.operation(op))
    }

    /// What any DRF view may answer besides its own: 406 (content negotiation), 429 (when
    /// throttles are configured).
    fn api_view(&self, op: Op) -> Op {
        let op = op.respond_with(&[Shared::NotAcceptable]);
        if self.throttled {
            op.respond_with(&[Shared::Throttled])
        } else {
            op
        }
    }

    fn operation(&self, mut op: Op) -> Operation {
        let classes = match &op.access {
            Access::Open => Vec::new(),
            Access::Optional(c) | Access::Required(c) => c.clone(),
        };
        if !classes.is_empty() {
            // A failed authentication ends the request even where anonymous callers may pass;
            // whether it is 401 or 403 depends on the first class (DRF's rule).
            op = op.respond_with(&[
                Shared::Unauthorized,
                Shared::Forbidden,
                Shared::NotAcceptable,
            ]);
            if classes.contains(&AuthClass::Basic) {
                // Basic checks a password: the login throttles apply.
                op = op.respond_with(&[Shared::Throttled]);
            }
        }
        let mut security: Vec<SecurityRequirement> = classes
            .iter()
            .map(|c| SecurityRequirement::new(scheme_name(*c), Vec::<String>::new()))
            .collect();
        if matches!(op.access, Access::Optional(_)) {
            // `{}`: anonymous callers too.
            security.push(SecurityRequirement::default());
        }
        let mut responses = op.responses;
        responses.sort_by_key(|(status, _)| *status);
        let mut builder = OperationBuilder::new()
            .operation_id(Some(op.id))
            .tag(op.tag)
            .summary(Some(op.summary))
            .description(op.description)
            .request_body(op.body);
        if !op.parameters.is_empty() {
            builder = builder.parameters(Some(op.parameters));
        }
        for (status, response) in responses {
            builder = builder.response(status, response);
        }
        if !security.is_empty() {
            builder = builder.securities(Some(security));
        }
        builder.build()
    }

    fn components(&self) -> utoipa::openapi::Components {
        let s = self.settings;
        let token_keyword = &s.token.keyword;
        let mut c = ComponentsBuilder::new()
            .security_scheme(
                "Token",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "Authorization".to_owned(),
                    format!("Token-based authentication with required prefix \"{token_keyword}\""),
                ))),
            )
            .security_scheme(
                "Basic",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
            )
            .security_scheme(
                "Session",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                    s.session.cookie_name.clone(),
                    format!(
                        "Django's session cookie; unsafe methods also need the CSRF token \
                         (`X-CSRFToken` header, from the `{}` cookie)",
                        s.csrf.cookie_name
                    ),
                ))),
            );
        let header_type = s
            .simple_jwt
            .auth_header_types
            .first()
            .map_or("Bearer", String::as_str);
        c = c.security_scheme(
            "Bearer",
            if header_type == "Bearer" {
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                )
            } else {
                // Another scheme word (simplejwt's AUTH_HEADER_TYPES): no HTTP scheme says it.
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "Authorization".to_owned(),
                    format!("JWT access token with required prefix \"{header_type}\""),
                )))
            },
        );
        for (name, schema) in schemas(&s.user.username_field)
            .into_iter()
            .chain(devices_and_staff_schemas())
        {
            c = c.schema(name, schema);
        }
        for shared in Shared::ALL {
            c = c.response(shared.name(), shared.response());
        }
        c.build()
    }
}

/// The security scheme of a class.
fn scheme_name(class: AuthClass) -> &'static str {
    match class {
        AuthClass::Session => "Session",
        AuthClass::Basic => "Basic",
        AuthClass::Token => "Token",
        AuthClass::Jwt => "Bearer",
    }
}

// ---------------------------------------------------------------------------------------------
// Schemas and responses
// ---------------------------------------------------------------------------------------------

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn boolean() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Boolean)
}

fn nullable_string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(
        [Type::String, Type::Null]
            .into_iter()
            .collect::<SchemaType>(),
    )
}

fn object<const N: usize>(fields: [(&str, ObjectBuilder); N], required: &[&str]) -> ObjectBuilder {
    let mut o = ObjectBuilder::new().schema_type(Type::Object);
    for (name, schema) in fields {
        o = o.property(name, schema);
    }
    for name in required {
        o = o.required(*name);
    }
    o
}

fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// The named schemas; the credentials field follows `[user] username_field`.
fn schemas(username_field: &str) -> Vec<(&'static str, RefOr<Schema>)> {
    let strings = ArrayBuilder::new().items(string());
    vec![
        (
            "Detail",
            object(
                [
                    ("detail", string()),
                    // simplejwt's token errors add these two.
                    ("code", string()),
                ],
                &["detail"],
            )
            .property(
                "messages",
                ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::Object)),
            )
            .description(Some("DRF's error body"))
            .into(),
        ),
        (
            "FieldErrors",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .additional_properties(Some(AdditionalProperties::from(strings)))
                .description(Some(
                    "DRF's validation errors: messages by field, `non_field_errors` for the \
                     request as a whole",
                ))
                .into(),
        ),
        (
            "Credentials",
            object(
                [(username_field, string()), ("password", string())],
                &[username_field, "password"],
            )
            .into(),
        ),
        (
            "Token",
            object(
                [(
                    "token",
                    string()
                        .pattern(Some("^[0-9a-f]{40}$"))
                        .description(Some("40 hex characters, shown once")),
                )],
                &["token"],
            )
            .into(),
        ),
        (
            "TokenPair",
            object(
                [("refresh", string()), ("access", string())],
                &["refresh", "access"],
            )
            .into(),
        ),
        (
            "Refreshed",
            object(
                [
                    ("access", string()),
                    (
                        "refresh",
                        string().description(Some("With `rotate_refresh_tokens` on")),
                    ),
                ],
                &["access"],
            )
            .into(),
        ),
        (
            "Empty",
            ObjectBuilder::new().schema_type(Type::Object).into(),
        ),
        (
            "Jwks",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "keys",
                    ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::Object)),
                )
                .required("keys")
                .into(),
        ),
        (
            "User",
            object(
                [
                    ("id", ObjectBuilder::new().schema_type(Type::Integer)),
                    ("username", string()),
                    ("email", string()),
                    ("first_name", string()),
                    ("last_name", string()),
                    ("is_staff", boolean()),
                ],
                &[
                    "id",
                    "username",
                    "email",
                    "first_name",
                    "last_name",
                    "is_staff",
                ],
            )
            .into(),
        ),
        // Accounts over HTTP
        (
            "AccountUser",
            object(
                [
                    ("email", string()),
                    ("id", ObjectBuilder::new().schema_type(Type::Integer)),
                    ("username", string()),
                ],
                &["email", "id", "username"],
            )
            .description(Some("djoser's `UserSerializer`"))
            .into(),
        ),
        (
            "AuthToken",
            object(
                [(
                    "auth_token",
                    string()
                        .pattern(Some("^[0-9a-f]{40}$"))
                        .description(Some("40 hex characters, shown once")),
                )],
                &["auth_token"],
            )
            .into(),
        ),
        (
            "CsrfToken",
            object([("csrfToken", string())], &["csrfToken"]).into(),
        ),
        (
            "Status",
            object(
                [("status", string().enum_values(Some(["ok"])))],
                &["status"],
            )
            .into(),
        ),
        (
            "ForwardAuth",
            object(
                [
                    ("authenticated", boolean()),
                    ("username", string()),
                    ("id", ObjectBuilder::new().schema_type(Type::Integer)),
                ],
                &["authenticated"],
            )
            .into(),
        ),
        (
            "Dashboard",
            object([("message", string())], &["message"]).into(),
        ),
        (
            "Profile",
            object(
                [("username", string()), ("email", string())],
                &["username", "email"],
            )
            .into(),
        ),
        (
            "Public",
            object(
                [
                    ("authenticated", boolean()),
                    ("username", nullable_string()),
                ],
                &["authenticated", "username"],
            )
            .into(),
        ),
        (
            "AdminOnly",
            object(
                [("username", string()), ("is_staff", boolean())],
                &["username", "is_staff"],
            )
            .into(),
        ),
        (
            "Echo",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "received",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::AnyValue)
                        .description(Some("The parsed body")),
                )
                .property("username", nullable_string())
                .required("received")
                .required("username")
                .into(),
        ),
    ]
}

fn json_content(schema: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(schema_ref(schema)))
        .build()
}

fn json_response(description: &str, schema: &str) -> ApiResponse {
    ResponseBuilder::new()
        .description(description)
        .content(JSON, json_content(schema))
        .build()
}

fn html_response(description: &str) -> ApiResponse {
    ResponseBuilder::new()
        .description(description)
        .content(HTML, ContentBuilder::new().schema(Some(string())).build())
        .build()
}

fn redirect_response(description: &str) -> ApiResponse {
    ResponseBuilder::new()
        .description(description)
        .header(
            "Location",
            HeaderBuilder::new().schema(Some(string())).build(),
        )
        .build()
}

/// simplejwt's 401: `{"detail": …, "code": …}` with a `Bearer` challenge.
fn jwt_unauthorized(description: &str) -> ApiResponse {
    ResponseBuilder::new()
        .description(description)
        .header(
            "WWW-Authenticate",
            HeaderBuilder::new().schema(Some(string())).build(),
        )
        .content(JSON, json_content("Detail"))
        .build()
}

/// The same fields as JSON, form and multipart (DRF's default parsers).
fn parsed_body(schema: RefOr<Schema>, required: bool) -> RequestBody {
    let mut b = RequestBodyBuilder::new().required(Some(if required {
        Required::True
    } else {
        Required::False
    }));
    for media in [JSON, FORM, MULTIPART] {
        b = b.content(
            media,
            ContentBuilder::new().schema(Some(schema.clone())).build(),
        );
    }
    b.build()
}

/// `Credentials`: `[user] username_field` and `password`.
fn credentials_body() -> RequestBody {
    parsed_body(schema_ref("Credentials"), true)
}

fn one_field_body(field: &str, description: &str) -> RequestBody {
    parsed_body(
        object([(field, string().description(Some(description)))], &[field]).into(),
        true,
    )
}

fn any_body() -> RequestBody {
    let mut b = RequestBodyBuilder::new().required(Some(Required::False));
    b = b.content(
        JSON,
        ContentBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(SchemaType::AnyValue)))
            .build(),
    );
    for media in [FORM, MULTIPART] {
        b = b.content(
            media,
            ContentBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Object)
                        .additional_properties(Some(AdditionalProperties::from(string()))),
                ))
                .build(),
        );
    }
    b.build()
}

fn login_parsed_body() -> RequestBody {
    parsed_body(
        object(
            [
                ("username", string()),
                ("password", string()),
                ("csrfmiddlewaretoken", string()),
                ("next", string()),
            ],
            &[],
        )
        .into(),
        true,
    )
}

fn csrf_header() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("X-CSRFToken")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "The CSRF token (from `GET /api/auth/csrf/` or the CSRF cookie)",
        ))
        .schema(Some(string()))
        .build()
}

// ---------------------------------------------------------------------------------------------
// Devices and staff
// ---------------------------------------------------------------------------------------------

impl Describer<'_> {
    fn devices_and_staff(&self) -> Vec<(String, PathItem)> {
        let user = || Access::Required(self.defaults.clone());
        let not_found = || json_response("No such object (or not the caller's)", "Detail");
        let no_content =
            |description: &str| ResponseBuilder::new().description(description).build();
        let csrf = "With session authentication, send the CSRF token in `X-CSRFToken`.";

        let list_tokens = Op::new("device_tokens", "devices", "The caller's tokens", user())
            .describe(
                "Every API token of the caller, newest first: when it was created and last \
                 used, when it expires, and the `User-Agent` and client address it was issued \
                 to; `current` marks the token of this request. Never the key.",
            )
            .respond("200", json_response("The tokens", "TokenDeviceList"));
        let revoke_token = Op::new("device_token_revoke", "devices", "Revoke a token", user())
            .describe(format!(
                "Deletes one of the caller's tokens; every server refuses it at once. {csrf}"
            ))
            .parameter(path_parameter("id", "The token's `id` from the list", true))
            .parameter(csrf_header())
            .respond("204", no_content("Revoked"))
            .respond("404", not_found());
        let list_sessions = Op::new(
            "device_sessions",
            "devices",
            "The caller's sessions",
            user(),
        )
        .describe(
            "Every live session of the caller, newest first, by an opaque `id` (never the \
                 key): when it started and was last seen, when it expires, its `User-Agent` and \
                 client address; `current` marks the session of this request.",
        )
        .respond("200", json_response("The sessions", "SessionDeviceList"));
        let revoke_session = Op::new("device_session_revoke", "devices", "End a session", user())
            .describe(format!("Ends one of the caller's sessions. {csrf}"))
            .parameter(path_parameter(
                "id",
                "The session's `id` from the list",
                false,
            ))
            .parameter(csrf_header())
            .respond("204", no_content("Ended"))
            .respond("404", not_found());
        let logout_all = Op::new("device_logout_all", "devices", "Log out everywhere", user())
            .describe(format!(
                "Ends every token, session and JWT of the caller issued until now, this request's \
             own included (knox's `logoutall`). {csrf}"
            ))
            .parameter(csrf_header())
            .respond("204", no_content("Logged out everywhere"));

        let staff = || Access::Required(self.defaults.clone());
        let list_users = Op::new("admin_users", "admin", "List users", staff())
            .describe(format!(
                "DRF's `PageNumberPagination`, {} users a page (`[rest_framework] page_size`), \
                 in id order; `search` keeps users whose username or e-mail contains every \
                 term (case-insensitive, terms split at spaces and commas). An out-of-range \
                 `page` answers 404 `Invalid page.`.",
                self.settings.rest_framework.page_size()
            ))
            .parameter(query_parameter(
                "page",
                "The page number (from 1), or `last`",
            ))
            .parameter(query_parameter(
                "search",
                "Terms to look for in username and e-mail",
            ))
            .respond("200", json_response("A page of users", "UserPage"))
            .respond("404", json_response("Invalid page", "Detail"));
        let create_user = Op::new("admin_user_create", "admin", "Create a user", staff())
            .describe(
                "Django's username and password validators apply; a taken username answers \
                 `A user with that username already exists.`.",
            )
            .parameter(csrf_header())
            .body(parsed_body(schema_ref("NewUser"), true))
            .respond("201", json_response("The user", "StaffUser"));
        let user_detail = Op::new("admin_user", "admin", "One user", staff())
            .parameter(path_parameter("id", "The user's id", true))
            .respond("200", json_response("The user", "StaffUser"))
            .respond("404", not_found());
        let action = |id, summary, text: &str| {
            let op = Op::new(id, "admin", summary, staff())
                .describe(format!("{text} {csrf}"))
                .parameter(path_parameter("id", "The user's id", true))
                .parameter(csrf_header())
                .respond("204", no_content("Done"))
                .respond("404", not_found());
            self.post(op, true)
        };

        let mut users = self.get(list_users, true);
        users.merge_operations(self.post(create_user, true));
        let token = PathItem::new(
            HttpMethod::Delete,
            self.operation(self.api_view(revoke_token)),
        );
        let session = PathItem::new(
            HttpMethod::Delete,
            self.operation(self.api_view(revoke_session)),
        );
        let mut paths = vec![
            ("/api/auth/tokens/".to_owned(), self.get(list_tokens, true)),
            ("/api/auth/tokens/{id}/".to_owned(), token),
            (
                "/api/auth/sessions/".to_owned(),
                self.get(list_sessions, true),
            ),
            ("/api/auth/sessions/{id}/".to_owned(), session),
            (
                "/api/auth/logout-all/".to_owned(),
                self.post(logout_all, true),
            ),
            ("/api/admin/users/".to_owned(), users),
            (
                "/api/admin/users/{id}/".to_owned(),
                self.get(user_detail, true),
            ),
            (
                "/api/admin/users/{id}/deactivate/".to_owned(),
                action(
                    "admin_user_deactivate",
                    "Deactivate a user",
                    "Marks the user inactive and ends every credential issued until now, as \
                     `restauth deactivate_user`.",
                ),
            ),
            (
                "/api/admin/users/{id}/activate/".to_owned(),
                action(
                    "admin_user_activate",
                    "Activate a user",
                    "Marks the user active again (credentials ended by the deactivation stay \
                     ended).",
                ),
            ),
            (
                "/api/admin/users/{id}/revoke/".to_owned(),
                action(
                    "admin_user_revoke",
                    "End a user's credentials",
                    "Ends every token, session and JWT of the user issued until now.",
                ),
            ),
        ];
        paths.extend(self.account_page());
        paths
    }

    fn account_page(&self) -> Vec<(String, PathItem)> {
        let form = || {
            parsed_body(
                ObjectBuilder::new()
                    .property("csrfmiddlewaretoken", string())
                    .into(),
                false,
            )
        };
        let html_errors = [
            Shared::BadRequest,
            Shared::NotAcceptable,
            Shared::PayloadTooLarge,
            Shared::UnsupportedMediaType,
        ];
        let page = Op::new("account_page", "devices", "The account page", Access::Open)
            .describe(format!(
                "HTML list of the user's tokens and sessions with a revoke button each and \
                 \"log out everywhere\", for the user of the `{}` cookie; without a live \
                 session, a redirect to the login page.",
                self.settings.session.cookie_name
            ))
            .respond("200", html_response("The account page"))
            .respond("302", redirect_response("Not logged in: to the login page"))
            .respond_with(&[Shared::NotAcceptable]);
        let submit = |id, summary, text: &str, with_id: bool| {
            let mut op = Op::new(id, "devices", summary, Access::Open)
                .describe(format!(
                    "{text} A form of the account page (CSRF-protected: the \
                     `csrfmiddlewaretoken` field); redirects back to it, or to the logout \
                     page's destination when the caller's own session ended."
                ))
                .body(form())
                .respond("302", redirect_response("Done, or not logged in"))
                .respond("403", html_response("CSRF verification failed"))
                .respond(
                    "404",
                    json_response("No such token or session of the user", "Detail"),
                )
                .respond_with(&html_errors);
            if with_id {
                op = op.parameter(path_parameter("id", "The id shown on the page", false));
            }
            PathItem::new(HttpMethod::Post, self.operation(op))
        };
        vec![
            (
                "/account/".to_owned(),
                PathItem::new(HttpMethod::Get, self.operation(page)),
            ),
            (
                "/account/tokens/{id}/revoke/".to_owned(),
                submit(
                    "account_token_revoke",
                    "Revoke a token (form)",
                    "Revokes one token.",
                    true,
                ),
            ),
            (
                "/account/sessions/{id}/revoke/".to_owned(),
                submit(
                    "account_session_revoke",
                    "End a session (form)",
                    "Ends one session.",
                    true,
                ),
            ),
            (
                "/account/logout-all/".to_owned(),
                submit(
                    "account_logout_all",
                    "Log out everywhere (form)",
                    "Ends every token, session and JWT of the user.",
                    false,
                ),
            ),
        ]
    }
}

fn path_parameter(
    name: &str,
    description: &str,
    integer: bool,
) -> utoipa::openapi::path::Parameter {
    let schema = if integer {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
    } else {
        string()
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn query_parameter(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(string()))
        .build()
}

fn devices_and_staff_schemas() -> Vec<(&'static str, RefOr<Schema>)> {
    let integer = || ObjectBuilder::new().schema_type(Type::Integer);
    let time = || {
        string().format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::DateTime,
        )))
    };
    let nullable_time = || {
        nullable_string().format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::DateTime,
        )))
    };
    let token = object(
        [
            ("id", integer()),
            ("created", time()),
            ("last_used", nullable_time()),
            ("expiry", nullable_time()),
            ("user_agent", string()),
            ("address", string()),
            ("current", boolean()),
        ],
        &[
            "id",
            "created",
            "last_used",
            "expiry",
            "user_agent",
            "address",
            "current",
        ],
    );
    let session = object(
        [
            ("id", string()),
            ("created", time()),
            ("last_seen", time()),
            ("expiry", time()),
            ("user_agent", string()),
            ("address", string()),
            ("current", boolean()),
        ],
        &[
            "id",
            "created",
            "last_seen",
            "expiry",
            "user_agent",
            "address",
            "current",
        ],
    );
    let user_fields = [
        ("id", integer()),
        ("username", string()),
        ("email", string()),
        ("first_name", string()),
        ("last_name", string()),
        ("is_active", boolean()),
        ("is_staff", boolean()),
        ("is_superuser", boolean()),
        ("date_joined", time()),
        ("last_login", nullable_time()),
    ];
    let required: Vec<&str> = user_fields.iter().map(|(n, _)| *n).collect();
    let user = object(user_fields, &required);
    let page = object(
        [
            ("count", integer()),
            ("next", nullable_string()),
            ("previous", nullable_string()),
        ],
        &["count", "next", "previous", "results"],
    )
    .property(
        "results",
        ArrayBuilder::new().items(schema_ref("StaffUser")),
    );
    let new_user = object(
        [
            ("username", string()),
            ("password", string()),
            ("email", string()),
            ("first_name", string()),
            ("last_name", string()),
            ("is_active", boolean()),
            ("is_staff", boolean()),
            ("is_superuser", boolean()),
        ],
        &["username", "password"],
    );
    vec![
        ("TokenDeviceList", ArrayBuilder::new().items(token).into()),
        (
            "SessionDeviceList",
            ArrayBuilder::new().items(session).into(),
        ),
        ("StaffUser", user.into()),
        ("UserPage", page.into()),
        ("NewUser", new_user.into()),
    ]
}
