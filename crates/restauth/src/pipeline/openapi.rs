//! What every feature's OpenAPI 3.1 description is built from (cargo feature `openapi`).
//!
//! Each feature folder describes its own routes beside its handlers (`token::openapi`,
//! `jwt::openapi`, …) as a function of the [`Settings`]: paths, field names, cookie and header
//! names come from the configuration, so the document is built with utoipa's builders rather
//! than derived from types. Each returns a whole [`OpenApi`] — its paths, the components they
//! refer to and its tag — which `OpenApi::merge` joins; `restauth::openapi` joins them all.
//!
//! Error bodies are DRF's: `{"detail": …}` (simplejwt adds `code` and `messages`) and field
//! errors `{"<field>": ["…"]}`. The security schemes are named and shaped as drf-spectacular
//! names them: `Token`, `Bearer`, `Basic`, `Session`.
//!
//! An app describes its own views with the same pieces:
//!
//! ```
//! use restauth::pipeline::openapi::{
//!     Describer, Guard, Op, json_response, required_object, string,
//! };
//! use restauth::{AuthClass, Settings};
//!
//! let settings = Settings::default();
//! let d = Describer::new(&settings);
//! let token = Guard::Required(vec![AuthClass::Token]);
//! let profile = Op::new("profile", "app", "The caller's profile", token)
//!     .respond("200", json_response("The profile", "Profile"));
//! let mine = d.document(
//!     &[("app", "The app's own views")],
//!     vec![("/api/profile/".to_owned(), d.get(profile, true))],
//!     vec![("Profile", required_object([("username", string())]).into())],
//! );
//! let mut doc = restauth::token::openapi::document(&settings);
//! doc.merge(mine);
//! assert!(doc.paths.paths.contains_key("/api/profile/"));
//! assert!(doc.paths.paths.contains_key("/api-token-auth/"));
//! ```

use utoipa::openapi::path::{
    Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, KnownFormat, SchemaFormat, SchemaType,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ArrayBuilder, Components, ComponentsBuilder, Content, ContentBuilder, HeaderBuilder,
    HttpMethod, Info, InfoBuilder, ObjectBuilder, OpenApi, OpenApiBuilder, PathItem, PathsBuilder,
    Ref, RefOr, Required, Response, ResponseBuilder, Schema, Type,
};

use crate::core::settings::{AuthClass, ClassName, Settings};

/// The media type of JSON bodies, DRF's `JSONParser` and `JSONRenderer`.
pub const JSON: &str = "application/json";
/// The media type of HTML forms, DRF's `FormParser`.
pub const FORM: &str = "application/x-www-form-urlencoded";
/// The media type of multipart bodies, DRF's `MultiPartParser`.
pub const MULTIPART: &str = "multipart/form-data";
/// The media type of the login and account pages.
pub const HTML: &str = "text/html";

/// What the descriptions of unsafe API methods say of CSRF.
pub const SEND_CSRF: &str = "With session authentication, send the CSRF token in `X-CSRFToken`.";

/// Who may call an operation: its security requirements, and whether it answers 401 and 403.
#[derive(Clone, Debug)]
pub enum Guard {
    /// No authentication class runs.
    Open,
    /// The classes run; anonymous callers are let through.
    Optional(Vec<AuthClass>),
    /// The classes run and the permission needs a user.
    Required(Vec<AuthClass>),
}

/// One operation, before [`Describer::operation`] makes it utoipa's [`Operation`].
pub struct Op {
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    description: Option<String>,
    guard: Guard,
    body: Option<RequestBody>,
    /// `(status, response)`; sorted by status when built.
    responses: Vec<(&'static str, RefOr<Response>)>,
    parameters: Vec<Parameter>,
}

impl Op {
    /// An operation named `id` (its `operationId`), listed under `tag`, summed up in one line,
    /// and guarded as `guard` says; add its body, responses and parameters with the other methods.
    pub fn new(id: &'static str, tag: &'static str, summary: &'static str, guard: Guard) -> Self {
        Op {
            id,
            tag,
            summary,
            description: None,
            guard,
            body: None,
            responses: Vec::new(),
            parameters: Vec::new(),
        }
    }

    /// Its longer description, in CommonMark.
    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// The request body it reads ([`parsed_body`] for JSON, form and multipart at once).
    pub fn body(mut self, body: RequestBody) -> Self {
        self.body = Some(body);
        self
    }

    /// A response of this operation's own; it wins over a shared one of the same status.
    pub fn respond(mut self, status: &'static str, response: impl Into<RefOr<Response>>) -> Self {
        self.responses.push((status, response.into()));
        self
    }

    /// Responses shared by name (`#/components/responses/…`); a status already there stays.
    pub fn respond_with(mut self, shared: &[SharedResponse]) -> Self {
        for response in shared {
            let status = response.status();
            if !self.responses.iter().any(|(s, _)| *s == status) {
                self.responses
                    .push((status, RefOr::Ref(Ref::from_response_name(response.name()))));
            }
        }
        self
    }

    /// A path, query, header or cookie parameter.
    pub fn parameter(mut self, parameter: Parameter) -> Self {
        self.parameters.push(parameter);
        self
    }
}

/// The error responses operations share, in `#/components/responses`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedResponse {
    /// 400: field errors (`{"<field>": ["…"]}`) or a body that does not parse.
    BadRequest,
    /// 401: not authenticated or refused, with the scheme in `WWW-Authenticate`.
    Unauthorized,
    /// 403: permission denied, a CSRF failure, or not authenticated without a challenge.
    Forbidden,
    /// 406: the `Accept` header allows nothing the view renders.
    NotAcceptable,
    /// 413: the body is larger than allowed.
    PayloadTooLarge,
    /// 415: the body is neither JSON, form nor multipart.
    UnsupportedMediaType,
    /// 429: throttled, with `Retry-After`.
    Throttled,
    /// 503: the database cannot be reached.
    Unavailable,
}

impl SharedResponse {
    /// Every shared response, in status order: what a document's `#/components/responses` holds.
    pub const ALL: [SharedResponse; 8] = [
        SharedResponse::BadRequest,
        SharedResponse::Unauthorized,
        SharedResponse::Forbidden,
        SharedResponse::NotAcceptable,
        SharedResponse::PayloadTooLarge,
        SharedResponse::UnsupportedMediaType,
        SharedResponse::Throttled,
        SharedResponse::Unavailable,
    ];

    /// What an HTML form's POST may answer besides its own: a body that does not parse, too
    /// large or of another media type, and content negotiation.
    pub const FORM_PAGE: [SharedResponse; 4] = [
        SharedResponse::BadRequest,
        SharedResponse::NotAcceptable,
        SharedResponse::PayloadTooLarge,
        SharedResponse::UnsupportedMediaType,
    ];

    /// Its HTTP status code, as OpenAPI's response keys spell it (`"401"`).
    pub fn status(self) -> &'static str {
        match self {
            SharedResponse::BadRequest => "400",
            SharedResponse::Unauthorized => "401",
            SharedResponse::Forbidden => "403",
            SharedResponse::NotAcceptable => "406",
            SharedResponse::PayloadTooLarge => "413",
            SharedResponse::UnsupportedMediaType => "415",
            SharedResponse::Throttled => "429",
            SharedResponse::Unavailable => "503",
        }
    }

    /// Its name under `#/components/responses`.
    pub fn name(self) -> &'static str {
        match self {
            SharedResponse::BadRequest => "BadRequest",
            SharedResponse::Unauthorized => "Unauthorized",
            SharedResponse::Forbidden => "Forbidden",
            SharedResponse::NotAcceptable => "NotAcceptable",
            SharedResponse::PayloadTooLarge => "PayloadTooLarge",
            SharedResponse::UnsupportedMediaType => "UnsupportedMediaType",
            SharedResponse::Throttled => "Throttled",
            SharedResponse::Unavailable => "Unavailable",
        }
    }

    /// The response itself, as `#/components/responses` holds it.
    pub fn response(self) -> Response {
        let detail = |description: &str| json_response(description, "Detail");
        match self {
            SharedResponse::BadRequest => ResponseBuilder::new()
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
            SharedResponse::Unauthorized => challenge_response(
                "Not authenticated, or the credentials were refused (the route's first class \
                 names its scheme in `WWW-Authenticate`)",
            ),
            SharedResponse::Forbidden => detail(
                "Permission denied, a CSRF failure, or not authenticated on a route whose first \
                 class has no challenge (session)",
            ),
            SharedResponse::NotAcceptable => {
                detail("The `Accept` header allows no media type this view renders")
            }
            SharedResponse::PayloadTooLarge => detail("The body is larger than allowed"),
            SharedResponse::UnsupportedMediaType => {
                detail("The body's media type is not JSON, form or multipart")
            }
            SharedResponse::Throttled => ResponseBuilder::new()
                .description("Throttled; `Retry-After` says how many seconds to wait")
                .header(
                    "Retry-After",
                    HeaderBuilder::new().schema(Some(integer())).build(),
                )
                .content(JSON, json_content("Detail"))
                .build(),
            SharedResponse::Unavailable => {
                detail("The database cannot be reached; try again later")
            }
        }
    }
}

/// Builds operations and documents from the settings that shape them.
pub struct Describer<'a> {
    settings: &'a Settings,
    /// The classes of routes that keep the configured defaults.
    defaults: Vec<AuthClass>,
    /// Whether `default_throttle_classes` may answer 429 on any API view.
    throttled: bool,
}

impl<'a> Describer<'a> {
    /// A describer for these settings: the default classes and throttles come from
    /// `[rest_framework]`.
    pub fn new(settings: &'a Settings) -> Self {
        Describer {
            settings,
            defaults: Self::classes(&settings.rest_framework.default_authentication_classes),
            throttled: !settings.rest_framework.default_throttle_classes.is_empty(),
        }
    }

    /// The settings the descriptions follow.
    pub fn settings(&self) -> &'a Settings {
        self.settings
    }

    /// `[rest_framework] default_authentication_classes`, the built-in ones.
    pub fn defaults(&self) -> Vec<AuthClass> {
        self.defaults.clone()
    }

    /// The built-in classes among `names`, in their order. An app's own classes have no
    /// security scheme here and are left out.
    pub fn classes(names: &[ClassName]) -> Vec<AuthClass> {
        names
            .iter()
            .filter_map(|c| AuthClass::ALL.iter().copied().find(|a| c == a))
            .collect()
    }

    /// A GET operation; `api_view` adds what every DRF view may answer.
    pub fn get(&self, op: Op, api_view: bool) -> PathItem {
        let op = if api_view { self.api_view(op) } else { op };
        self.item(HttpMethod::Get, op)
    }

    /// A POST operation with a body; `api_view` adds what every DRF view may answer.
    pub fn post(&self, op: Op, api_view: bool) -> PathItem {
        let op = if api_view { self.api_view(op) } else { op };
        let op = op.respond_with(&[
            SharedResponse::BadRequest,
            SharedResponse::PayloadTooLarge,
            SharedResponse::UnsupportedMediaType,
        ]);
        self.item(HttpMethod::Post, op)
    }

    /// `op` as the one operation of a path item.
    pub fn item(&self, method: HttpMethod, op: Op) -> PathItem {
        PathItem::new(method, self.operation(op))
    }

    /// What any DRF view may answer besides its own: 406 (content negotiation), 429 (when
    /// throttles are configured).
    pub fn api_view(&self, op: Op) -> Op {
        let op = op.respond_with(&[SharedResponse::NotAcceptable]);
        if self.throttled {
            op.respond_with(&[SharedResponse::Throttled])
        } else {
            op
        }
    }

    /// The operation, with the security and the 401/403 its guard implies.
    pub fn operation(&self, mut op: Op) -> Operation {
        let classes = match &op.guard {
            Guard::Open => Vec::new(),
            Guard::Optional(c) | Guard::Required(c) => c.clone(),
        };
        if !classes.is_empty() {
            // A failed authentication ends the request even where anonymous callers may pass;
            // whether it is 401 or 403 depends on the first class (DRF's rule).
            op = op.respond_with(&[
                SharedResponse::Unauthorized,
                SharedResponse::Forbidden,
                SharedResponse::NotAcceptable,
            ]);
            if classes.contains(&AuthClass::Basic) {
                // Basic checks a password: the login throttles apply.
                op = op.respond_with(&[SharedResponse::Throttled]);
            }
        } else if matches!(op.guard, Guard::Required(_)) {
            // No class can authenticate anyone: DRF's "not authenticated" without a challenge.
            op = op.respond_with(&[SharedResponse::Forbidden]);
        }
        let mut security: Vec<SecurityRequirement> = classes
            .iter()
            .map(|c| SecurityRequirement::new(scheme_name(*c), Vec::<String>::new()))
            .collect();
        if matches!(op.guard, Guard::Optional(_)) {
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

    /// A whole document of `paths`: with the `schemas` they use, and what every part shares
    /// (the security schemes, the shared error responses and their schemas), so that it stands
    /// alone and merges into another (`OpenApi::merge` keeps the first of a name).
    pub fn document(
        &self,
        tags: &[(&str, &str)],
        paths: Vec<(String, PathItem)>,
        schemas: Vec<(&str, RefOr<Schema>)>,
    ) -> OpenApi {
        let mut builder = PathsBuilder::new();
        for (path, item) in paths {
            builder = builder.path(path, item);
        }
        let tags: Vec<_> = tags
            .iter()
            .map(|(name, description)| {
                TagBuilder::new()
                    .name(*name)
                    .description(Some(*description))
                    .build()
            })
            .collect();
        OpenApiBuilder::new()
            .info(info())
            .paths(builder.build())
            .components(Some(self.components(schemas)))
            .tags((!tags.is_empty()).then_some(tags))
            .build()
    }

    fn components(&self, schemas: Vec<(&str, RefOr<Schema>)>) -> Components {
        let s = self.settings;
        let mut c = ComponentsBuilder::new()
            .security_scheme(
                scheme_name(AuthClass::Token),
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "Authorization".to_owned(),
                    format!(
                        "Token-based authentication with required prefix \"{}\"",
                        s.token.keyword
                    ),
                ))),
            )
            .security_scheme(
                scheme_name(AuthClass::Basic),
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
            )
            .security_scheme(
                scheme_name(AuthClass::Session),
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                    s.session.cookie_name.clone(),
                    format!(
                        "Django's session cookie; unsafe methods also need the CSRF token \
                         (`X-CSRFToken` header, from the `{}` cookie)",
                        s.csrf.cookie_name
                    ),
                ))),
            )
            .security_scheme(scheme_name(AuthClass::Jwt), self.bearer());
        let shared = [
            ("Detail", detail_schema()),
            ("FieldErrors", field_errors_schema()),
        ];
        for (name, schema) in shared.into_iter().chain(schemas) {
            c = c.schema(name, schema);
        }
        for shared in SharedResponse::ALL {
            c = c.response(shared.name(), shared.response());
        }
        c.build()
    }

    /// simplejwt's header: HTTP bearer, or an API key for another `auth_header_types` word.
    fn bearer(&self) -> SecurityScheme {
        let header_type = self
            .settings
            .simple_jwt
            .auth_header_types
            .first()
            .map_or("Bearer", String::as_str);
        if header_type == "Bearer" {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            )
        } else {
            // No HTTP scheme says another word than "Bearer".
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization".to_owned(),
                format!("JWT access token with required prefix \"{header_type}\""),
            )))
        }
    }
}

/// The document's title, version and summary; `OpenApi::merge` keeps the first document's.
pub fn info() -> Info {
    InfoBuilder::new()
        .title("restauth")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Django REST Framework's authentication endpoints (DRF tokens, \
             djangorestframework-simplejwt, Django sessions). Paths answer with and without the \
             trailing slash. Errors are DRF's: `{\"detail\": …}`, or `{\"<field>\": [\"…\"]}` \
             for invalid input.",
        ))
        .build()
}

/// `path` as DRF writes its URLs, with one trailing slash (`restauth::serve` answers both
/// spellings).
pub fn slashed(path: &str) -> String {
    format!("{}/", path.trim_end_matches('/'))
}

/// The security scheme of a class, as drf-spectacular names it.
pub fn scheme_name(class: AuthClass) -> &'static str {
    match class {
        AuthClass::Session => "Session",
        AuthClass::Basic => "Basic",
        AuthClass::Token => "Token",
        AuthClass::Jwt => "Bearer",
    }
}

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

/// A string schema.
pub fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// A boolean schema.
pub fn boolean() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Boolean)
}

/// An integer schema.
pub fn integer() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Integer)
}

/// A string schema that also allows null (DRF's `allow_null=True`).
pub fn nullable_string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(
        [Type::String, Type::Null]
            .into_iter()
            .collect::<SchemaType>(),
    )
}

/// An RFC 3339 instant.
pub fn date_time() -> ObjectBuilder {
    string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
}

/// An RFC 3339 instant, or null.
pub fn nullable_date_time() -> ObjectBuilder {
    nullable_string().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
}

/// An object of `fields`, those named in `required` required.
pub fn object<'a>(
    fields: impl IntoIterator<Item = (&'a str, ObjectBuilder)>,
    required: &[&str],
) -> ObjectBuilder {
    let mut o = ObjectBuilder::new().schema_type(Type::Object);
    for (name, schema) in fields {
        o = o.property(name, schema);
    }
    for name in required {
        o = o.required(*name);
    }
    o
}

/// An object of `fields`, every one of them required.
pub fn required_object<'a>(
    fields: impl IntoIterator<Item = (&'a str, ObjectBuilder)>,
) -> ObjectBuilder {
    let mut o = ObjectBuilder::new().schema_type(Type::Object);
    let mut names = Vec::new();
    for (name, schema) in fields {
        o = o.property(name, schema);
        names.push(name);
    }
    for name in names {
        o = o.required(name);
    }
    o
}

/// `#/components/schemas/<name>`.
pub fn schema_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// A login body named `name`: the user's name under `field`, and `password`.
pub(crate) fn login_schema(name: &'static str, field: &str) -> (&'static str, RefOr<Schema>) {
    (
        name,
        required_object([(field, string()), ("password", string())]).into(),
    )
}

/// [`login_schema`] `name` as a parsed body.
pub(crate) fn login_body(name: &str) -> RequestBody {
    parsed_body(schema_ref(name), true)
}

/// `LoginCredentials`: `username` and `password`, as DRF's `obtain_auth_token` and Django's
/// login forms read them whatever `USERNAME_FIELD` is.
pub(crate) fn username_login_schema() -> (&'static str, RefOr<Schema>) {
    login_schema("LoginCredentials", "username")
}

/// `Credentials`: `[user] username_field` and `password`, as simplejwt's views read them.
pub fn credentials_schema(settings: &Settings) -> (&'static str, RefOr<Schema>) {
    let field = settings.username_field();
    (
        "Credentials",
        required_object([(field, string()), ("password", string())]).into(),
    )
}

/// DRF's error body.
fn detail_schema() -> RefOr<Schema> {
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
    .into()
}

fn field_errors_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::from(
            ArrayBuilder::new().items(string()),
        )))
        .description(Some(
            "DRF's validation errors: messages by field, `non_field_errors` for the request as \
             a whole",
        ))
        .into()
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// JSON of the named schema.
pub fn json_content(schema: &str) -> Content {
    ContentBuilder::new()
        .schema(Some(schema_ref(schema)))
        .build()
}

/// A response whose JSON body is the named schema (`#/components/schemas/<schema>`).
pub fn json_response(description: &str, schema: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(JSON, json_content(schema))
        .build()
}

/// A response without a body (204).
pub fn empty_response(description: &str) -> Response {
    ResponseBuilder::new().description(description).build()
}

/// An HTML page (the login and account pages).
pub fn html_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(HTML, ContentBuilder::new().schema(Some(string())).build())
        .build()
}

/// A redirect: the target is in `Location`.
pub fn redirect_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .header(
            "Location",
            HeaderBuilder::new().schema(Some(string())).build(),
        )
        .build()
}

/// A 401: DRF's body with the scheme in `WWW-Authenticate`.
pub fn challenge_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .header(
            "WWW-Authenticate",
            HeaderBuilder::new().schema(Some(string())).build(),
        )
        .content(JSON, json_content("Detail"))
        .build()
}

// ---------------------------------------------------------------------------------------------
// Request bodies and parameters
// ---------------------------------------------------------------------------------------------

/// The same fields as JSON, form and multipart (DRF's default parsers).
pub fn parsed_body(schema: RefOr<Schema>, required: bool) -> RequestBody {
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

/// [`credentials_schema`] as a parsed body.
pub fn credentials_body() -> RequestBody {
    parsed_body(schema_ref("Credentials"), true)
}

/// A body of one required string field.
pub fn one_field_body(field: &str, description: &str) -> RequestBody {
    parsed_body(
        required_object([(field, string().description(Some(description)))]).into(),
        true,
    )
}

/// An HTML form that carries nothing but its CSRF token.
pub fn csrf_form_body() -> RequestBody {
    parsed_body(
        ObjectBuilder::new()
            .property("csrfmiddlewaretoken", string())
            .into(),
        false,
    )
}

/// `X-CSRFToken`, which session callers send on unsafe methods.
pub fn csrf_header() -> Parameter {
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

/// A path parameter: an id from 1 (`integer`), else a string.
pub fn path_parameter(name: &str, description: &str, integer: bool) -> Parameter {
    let schema = if integer {
        self::integer().minimum(Some(1))
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

/// An optional string in the query.
pub fn query_parameter(name: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(string()))
        .build()
}
