//! `GET`/`POST /api/admin/users/`, `GET /api/admin/users/{id}/`, and
//! `POST /api/admin/users/{id}/deactivate/`, `…/activate/`, `…/revoke/` (204).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, Uri, header};
use serde_json::{Value, json};

use super::{AdminService, user_json};
use crate::core::error::{Error, ValidationErrors, json_response};
use crate::core::user::User;
use crate::pipeline::audit::Source;
use crate::pipeline::parsers::{Body, RequestData};
use crate::pipeline::permissions::{IsAdminUser, Permission, RequestInfo};
use crate::pipeline::policy::CurrentUser;
use crate::pipeline::view::{ApiView, Views, no_store};
use crate::restauth::Restauth;
use crate::users::NewAccount;

/// Reading users: either of these (Django's admin shows a user to those who may change it).
pub(crate) const VIEW: &[&str] = &["auth.view_user", "auth.change_user"];
/// Creating one.
pub(crate) const ADD: &[&str] = &["auth.add_user"];
/// Activating, deactivating, revoking.
pub(crate) const CHANGE: &[&str] = &["auth.change_user"];

/// What a staff view needs beyond `is_staff`: one of `read` for safe methods, one of `write`
/// for the others, as [`User::has_perm`] answers (an active superuser holds all).
#[derive(Clone, Copy, Debug)]
struct UserPermissions {
    read: &'static [&'static str],
    write: &'static [&'static str],
}

impl Permission for UserPermissions {
    fn has_permission(&self, r: &RequestInfo<'_>) -> bool {
        let any = if r.is_safe_method() {
            self.read
        } else {
            self.write
        };
        r.user()
            .is_some_and(|u| any.iter().any(|perm| u.has_perm(perm)))
    }

    fn needs_permissions(&self) -> bool {
        true
    }
}

/// The staff views, each under the default authentication classes, `IsAdminUser` and the
/// permissions on users its methods need.
pub fn router<S: Clone + Send + Sync + 'static>(restauth: &Restauth) -> Result<Router<S>, Error> {
    let admin = restauth.admin();
    let view = |view: ApiView<AdminService>, read, write| {
        let needs = IsAdminUser & UserPermissions { read, write };
        view.guard(restauth.policy().permission(needs))
            .with_state(admin.clone())
    };
    Ok(Views::new()
        .view(
            "/api/admin/users",
            view(ApiView::new("User List").get(list).post(create), VIEW, ADD),
        )?
        .view(
            "/api/admin/users/{id}",
            view(ApiView::new("User Detail").get(detail), VIEW, CHANGE),
        )?
        .view(
            "/api/admin/users/{id}/deactivate",
            view(
                ApiView::new("Deactivate User").post(deactivate),
                VIEW,
                CHANGE,
            ),
        )?
        .view(
            "/api/admin/users/{id}/activate",
            view(ApiView::new("Activate User").post(activate), VIEW, CHANGE),
        )?
        .view(
            "/api/admin/users/{id}/revoke",
            view(
                ApiView::new("Revoke User Credentials").post(revoke),
                VIEW,
                CHANGE,
            ),
        )?
        .into_router())
}

/// The query's parameters by name, each with its values in order (Django's `QueryDict`).
fn query_params(uri: &Uri) -> BTreeMap<String, Vec<String>> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in pairs {
        params.entry(k).or_default().push(v);
    }
    params
}

/// `QueryDict.get`: the last value.
fn last<'a>(params: &'a BTreeMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    params.get(name).and_then(|v| v.last()).map(String::as_str)
}

/// DRF's `replace_query_param` / `remove_query_param` on `request.build_absolute_uri()`: the
/// request's own address with `page` set to `page` (or removed), parameters sorted by name.
fn page_link(
    admin: &AdminService,
    headers: &HeaderMap,
    uri: &Uri,
    params: &BTreeMap<String, Vec<String>>,
    page: Option<u64>,
) -> String {
    let secure = crate::core::request::is_secure(headers, admin.trust_forwarded_proto());
    let scheme = if secure { "https" } else { "http" };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    // The server trims the trailing slash before routing; DRF's URLs keep it.
    let mut path = uri.path().to_owned();
    if !path.ends_with('/') {
        path.push('/');
    }
    let mut params = params.clone();
    match page {
        Some(n) => {
            params.insert("page".into(), vec![n.to_string()]);
        }
        None => {
            params.remove("page");
        }
    }
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str())))
        .collect();
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    if query.is_empty() {
        format!("{scheme}://{host}{path}")
    } else {
        format!("{scheme}://{host}{path}?{query}")
    }
}

/// `PageNumberPagination`'s body: `count`, `next`, `previous`, `results`.
async fn list(
    State(admin): State<AdminService>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Error> {
    let params = query_params(&uri);
    let search = last(&params, "search").unwrap_or("");
    let page = admin.list_users(search, last(&params, "page")).await?;
    let next = (page.number < page.num_pages)
        .then(|| page_link(&admin, &headers, &uri, &params, Some(page.number + 1)));
    let previous = (page.number > 1).then(|| {
        let to = (page.number > 2).then_some(page.number - 1);
        page_link(&admin, &headers, &uri, &params, to)
    });
    let results: Vec<Value> = page.found.users.iter().map(user_json).collect();
    Ok(no_store(json_response(
        StatusCode::OK,
        &json!({
            "count": page.found.count,
            "next": next,
            "previous": previous,
            "results": results,
        }),
    )))
}

/// An optional `CharField(allow_blank=True)`: absent or null is empty.
fn optional_text(data: &RequestData, name: &str, errors: &mut ValidationErrors) -> String {
    match data.0.get(name) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if s.contains('\0') => {
            errors.add(name, "Null characters are not allowed.");
            String::new()
        }
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            errors.add(name, "Not a valid string.");
            String::new()
        }
    }
}

/// DRF's `BooleanField`, with its accepted spellings; absent keeps `default`.
fn boolean(data: &RequestData, name: &str, default: bool, errors: &mut ValidationErrors) -> bool {
    let value = match data.0.get(name) {
        None => return default,
        Some(v) => v,
    };
    let parsed = match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.as_str() {
            "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "1" | "t"
            | "T" | "y" | "Y" => Some(true),
            "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "0"
            | "f" | "F" | "n" | "N" => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed.unwrap_or_else(|| {
        let message = if value.is_null() {
            "This field may not be null."
        } else {
            "Must be a valid boolean."
        };
        errors.add(name, message);
        default
    })
}

async fn create(
    State(admin): State<AdminService>,
    CurrentUser(staff): CurrentUser,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let mut errors = ValidationErrors::new();
    let username = data.char_field("username", true, &mut errors);
    let password = data.char_field("password", false, &mut errors);
    let email = optional_text(&data, "email", &mut errors);
    let first_name = optional_text(&data, "first_name", &mut errors);
    let last_name = optional_text(&data, "last_name", &mut errors);
    let is_active = boolean(&data, "is_active", true, &mut errors);
    let is_staff = boolean(&data, "is_staff", false, &mut errors);
    let is_superuser = boolean(&data, "is_superuser", false, &mut errors);
    errors.into_result()?;
    let (Some(username), Some(password)) = (username, password) else {
        return Err(Error::Internal("validated fields missing".into()));
    };
    let account = NewAccount {
        username,
        email,
        first_name,
        last_name,
        password: Some(password),
        is_active,
        is_staff,
        is_superuser,
    };
    let user = admin.create(account, &staff, &source).await?;
    Ok(no_store(json_response(
        StatusCode::CREATED,
        &user_json(&user),
    )))
}

/// The user the path names, or DRF's 404 (a non-numeric id included).
async fn target(
    admin: &AdminService,
    id: Result<Path<String>, PathRejection>,
) -> Result<User, Error> {
    let Ok(Path(id)) = id else {
        return Err(Error::NotFound);
    };
    admin.user(crate::core::request::path_user_id(&id)?).await
}

async fn detail(
    State(admin): State<AdminService>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Error> {
    let user = target(&admin, id).await?;
    let held = admin.users().read_permissions(&user).await?;
    let mut body = user_json(&user);
    if let Some(fields) = body.as_object_mut() {
        fields.insert("groups".into(), json!(held.groups));
        fields.insert("user_permissions".into(), json!(held.user));
        // Django's `get_all_permissions`: an inactive user holds none.
        let all = if user.is_active {
            held.all()
        } else {
            Default::default()
        };
        fields.insert("permissions".into(), json!(all));
    }
    Ok(no_store(json_response(StatusCode::OK, &body)))
}

async fn deactivate(
    State(admin): State<AdminService>,
    CurrentUser(staff): CurrentUser,
    source: Source,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Error> {
    let user = target(&admin, id).await?;
    admin.set_user_active(&user, false, &staff, &source).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn activate(
    State(admin): State<AdminService>,
    CurrentUser(staff): CurrentUser,
    source: Source,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Error> {
    let user = target(&admin, id).await?;
    admin.set_user_active(&user, true, &staff, &source).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn revoke(
    State(admin): State<AdminService>,
    CurrentUser(staff): CurrentUser,
    source: Source,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Error> {
    let user = target(&admin, id).await?;
    admin.revoke_user(&user, &staff, &source).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
