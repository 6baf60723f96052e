//! The endpoints, each with djoser 2.x's permission, fields, messages and status codes.
//!
//! | path (under the prefix) | methods | djoser view |
//! |---|---|---|
//! | `users/` | GET; POST (with `registration`) | `UserViewSet.list`, `UserViewSet.create` |
//! | `users/me/` | GET, PUT, PATCH, DELETE | `UserViewSet.me` |
//! | `users/{id}/` | GET, PUT, PATCH, DELETE | `UserViewSet` retrieve, update, destroy |
//! | `users/set_password/` | POST | `UserViewSet.set_password` |
//! | `users/reset_password/` | POST | `UserViewSet.reset_password` |
//! | `users/reset_password_confirm/` | POST | `UserViewSet.reset_password_confirm` |
//! | `users/activation/` | POST (with `registration`) | `UserViewSet.activation` |
//! | `users/resend_activation/` | POST (with `registration`) | `UserViewSet.resend_activation` |
//! | `token/login/`, `token/logout/` | POST | `TokenCreateView`, `TokenDestroyView` |
//! | `password/reset/confirm/{uid}/{token}/` | GET, POST | restauth's page for mailed links |

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::extract::State;
use axum::extract::rejection::PathRejection;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};

use super::{AccountsService, INVALID_PASSWORD, LinkUse, PROVIDER, STALE_TOKEN, prefix};
use crate::core::error::{
    Error, PERMISSION_DENIED, UNABLE_TO_LOG_IN, ValidationErrors, json_response,
};
use crate::core::settings::{LoginMethods, accounts::is_plain_address};
use crate::core::user::{User, validate_username};
use crate::pipeline::audit::{self, AuditEvent, Source};
use crate::pipeline::parsers::{Body, RequestData};
use crate::pipeline::permissions::IsAuthenticated;
use crate::pipeline::policy::{Access, CurrentUser};
use crate::pipeline::throttling::{ClientIdent, login_network};
use crate::pipeline::view::{ApiView, Views, no_store};
use crate::restauth::Restauth;
use crate::users::NewAccount;

/// Django's `EmailField` length.
const EMAIL_MAX_LENGTH: usize = 254;

/// The endpoints under `[accounts] prefix` (none when `[accounts] enabled = false`), and
/// restauth's reset page.
pub fn router<S: Clone + Send + Sync + 'static>(restauth: &Restauth) -> Result<Router<S>, Error> {
    let Some(service) = restauth.accounts() else {
        return Ok(Router::new());
    };
    let settings = &service.settings().accounts;
    let base = prefix(settings);
    let at = |path: &str| format!("{base}{path}");
    let open = || restauth.policy().permissions(Vec::new());
    let signed_in = || restauth.policy().permission(IsAuthenticated);
    let view =
        |view: ApiView<AccountsService>, policy| view.guard(policy).with_state(service.clone());
    // djoser's `users/`: the list for signed-in users (the handler asks for one), and
    // registration when it is on.
    let mut users = ApiView::new("User").get(users_list);
    if settings.registration {
        users = users.post(register);
    }
    let mut views = Views::new()
        .view(&at("users"), view(users, open()))?
        .view(
            &at("users/me"),
            view(
                ApiView::new("User")
                    .get(me)
                    .put(me_update)
                    .patch(me_update)
                    .delete(me_delete),
                signed_in(),
            ),
        )?
        .view(
            &at("users/{id}"),
            view(
                ApiView::new("User")
                    .get(user_read)
                    .put(user_update)
                    .patch(user_update)
                    .delete(user_delete),
                // The handlers ask for the user, so that a method the view lacks (`POST
                // users/activation/` without registration) is a 405 for everyone.
                open(),
            ),
        )?
        .view(
            &at("users/set_password"),
            view(ApiView::new("User").post(set_password), signed_in()),
        )?
        .view(
            &at("users/reset_password"),
            view(ApiView::new("User").post(reset_password), open()),
        )?
        .view(
            &at("users/reset_password_confirm"),
            view(ApiView::new("User").post(reset_password_confirm), open()),
        )?
        .view(
            &at("token/login"),
            // As `/api-token-auth/`: the login throttles protect it, not the view's.
            view(
                ApiView::new("Token Create").post(token_login),
                open().throttles([]),
            ),
        )?
        .view(
            &at("token/logout"),
            // djoser's `TokenDestroyView` keeps the default classes: with the session class
            // first, an anonymous call is a 403.
            view(
                ApiView::new("Token Destroy").post(token_logout),
                signed_in(),
            ),
        )?;
    if settings.registration {
        views = views
            .view(
                &at("users/activation"),
                view(ApiView::new("User").post(activation), open()),
            )?
            .view(
                &at("users/resend_activation"),
                view(ApiView::new("User").post(resend_activation), open()),
            )?;
    }
    let page = super::page::route().with_state(service.clone());
    Ok(views
        .view(&at("password/reset/confirm/{uid}/{token}"), page)?
        .into_router())
}

/// djoser's `UserSerializer` for Django's user: `REQUIRED_FIELDS`, the id, the login field.
fn user_json(user: &User) -> Value {
    json!({ "email": user.email, "id": user.id, "username": user.username })
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn field_error(field: &str, message: &str) -> Error {
    let mut e = ValidationErrors::new();
    e.add(field, message);
    Error::Validation(e)
}

/// DRF's `EmailField(allow_blank=…)`: trimmed, at most 254 characters, a valid address.
fn email_field(
    data: &RequestData,
    required: bool,
    allow_blank: bool,
    errors: &mut ValidationErrors,
) -> Option<String> {
    let name = "email";
    let text = match data.0.get(name) {
        None if required => {
            errors.add(name, "This field is required.");
            return None;
        }
        None => return None,
        Some(Value::Null) => {
            errors.add(name, "This field may not be null.");
            return None;
        }
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            errors.add(name, "Not a valid string.");
            return None;
        }
    };
    if text.is_empty() {
        if !allow_blank {
            errors.add(name, "This field may not be blank.");
            return None;
        }
        return Some(text);
    }
    if text.chars().count() > EMAIL_MAX_LENGTH {
        errors.add(
            name,
            format!("Ensure this field has no more than {EMAIL_MAX_LENGTH} characters."),
        );
        return None;
    }
    if !is_plain_address(&text) {
        errors.add(name, "Enter a valid email address.");
        return None;
    }
    Some(text)
}

/// A password field: required, kept as typed (no trimming: a password is what was typed).
fn password_field(data: &RequestData, name: &str, errors: &mut ValidationErrors) -> Option<String> {
    data.char_field(name, false, errors)
}

/// Checks the signed-in user's `current_password` behind the login throttles; djoser's
/// field error when wrong.
async fn check_current_password(
    service: &AccountsService,
    user: &User,
    password: &str,
    source: &Source,
) -> Result<(), Error> {
    let ok = service
        .login()
        .authenticate(&user.username, password, PROVIDER, source)
        .await?
        .is_some_and(|u| u.id == user.id);
    if ok {
        Ok(())
    } else {
        Err(field_error("current_password", INVALID_PASSWORD))
    }
}

/// Reading other users: either of these, as the staff API asks (Django's admin shows a user
/// to those who may change it).
const VIEW_USERS: &[&str] = &["auth.view_user", "auth.change_user"];
/// At most this many users in `GET users/` (djoser's list is unpaginated).
const LIST_MAX: u64 = 10_000;

/// `GET users/`: djoser's list with `HIDE_USERS`, unpaginated: a user sees only themself;
/// staff who may read users see every user, in id order (at most [`LIST_MAX`]).
async fn users_list(
    State(service): State<AccountsService>,
    CurrentUser(user): CurrentUser,
) -> Result<Response, Error> {
    service.users().load_permissions(&user).await?;
    let reads_all = user.is_staff && VIEW_USERS.iter().any(|p| user.has_perm(p));
    let list: Vec<Value> = if reads_all {
        let query = crate::store::UserQuery {
            terms: Vec::new(),
            offset: 0,
            limit: LIST_MAX,
        };
        let page = service.users().store().search_users(&query).await?;
        page.users.iter().map(user_json).collect()
    } else {
        vec![user_json(&user)]
    };
    Ok(json_response(StatusCode::OK, &Value::Array(list)))
}

/// `GET users/me/`.
async fn me(CurrentUser(user): CurrentUser) -> Response {
    json_response(StatusCode::OK, &user_json(&user))
}

/// `PUT`/`PATCH users/me/`: only `email` is writable (`id` and the username are read-only and
/// ignored, as DRF ignores read-only fields). With `send_activation_email`, a new address
/// deactivates the account until the activation mail sent to it is used.
async fn me_update(
    State(service): State<AccountsService>,
    CurrentUser(user): CurrentUser,
    uri: Uri,
    headers: HeaderMap,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    update_user(&service, &user, &uri, &headers, &source, &data).await
}

/// The update of `users/me/` and `users/{id}/`, on `user`.
async fn update_user(
    service: &AccountsService,
    user: &User,
    uri: &Uri,
    headers: &HeaderMap,
    source: &Source,
    data: &RequestData,
) -> Result<Response, Error> {
    let mut errors = ValidationErrors::new();
    let email = email_field(data, false, true, &mut errors);
    errors.into_result()?;
    let Some(email) = email.filter(|e| *e != user.email) else {
        return Ok(json_response(StatusCode::OK, &user_json(user)));
    };
    let reactivate = service.settings().accounts.send_activation_email;
    service
        .users()
        .store()
        .update_email(user.id, &email, reactivate)
        .await?;
    service.users().invalidate().await?;
    service
        .users()
        .audit()
        .record(
            AuditEvent::for_user(audit::EMAIL_CHANGED, audit::SUCCESS, PROVIDER, user)
                .source(source),
        )
        .await;
    let updated = User {
        email,
        is_active: user.is_active && !reactivate,
        ..user.clone()
    };
    if reactivate {
        service.send_activation(updated.clone(), service.site(uri, headers)?)?;
    }
    Ok(json_response(StatusCode::OK, &user_json(&updated)))
}

/// `DELETE users/me/` with `current_password`: deletes the account and, with it, every token
/// and session it had.
async fn me_delete(
    State(service): State<AccountsService>,
    CurrentUser(user): CurrentUser,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    delete_user(&service, &user, &user, &source, &data).await
}

/// The deletion of `users/me/` and `users/{id}/`: `caller`'s `current_password`, then
/// `user` goes.
async fn delete_user(
    service: &AccountsService,
    caller: &User,
    user: &User,
    source: &Source,
    data: &RequestData,
) -> Result<Response, Error> {
    let mut errors = ValidationErrors::new();
    let current = password_field(data, "current_password", &mut errors);
    errors.into_result()?;
    check_current_password(service, caller, &current.unwrap_or_default(), source).await?;
    service.users().delete_user(user).await?;
    service
        .users()
        .audit()
        .record(
            AuditEvent::for_user(audit::USER_DELETED, audit::SUCCESS, PROVIDER, user)
                .source(source),
        )
        .await;
    tracing::info!(user_id = %user.id, "account deleted");
    Ok(no_content())
}

/// What `users/{id}/` asks of a caller acting on another user, by method, as the staff API
/// does: reading `auth.view_user` or `auth.change_user`, changing `auth.change_user`,
/// deleting `auth.delete_user`.
const CHANGE_USERS: &[&str] = &["auth.change_user"];
const DELETE_USERS: &[&str] = &["auth.delete_user"];

/// The user `users/{id}/` names, for `caller`: `None` for the caller themself (treated as
/// `users/me/`); another user when the caller is staff holding one of `needs` (and, for a
/// superuser, is an active superuser), else DRF's 403; an id nobody has, DRF's 404.
async fn named_user(
    service: &AccountsService,
    caller: Result<CurrentUser, Error>,
    id: Result<Path<String>, PathRejection>,
    needs: &[&str],
) -> Result<(Arc<User>, Option<User>), Error> {
    // As DRF: authentication first, then the object.
    let CurrentUser(caller) = caller?;
    let Ok(Path(id)) = id else {
        return Err(Error::NotFound);
    };
    let id = crate::core::request::path_user_id(&id)?;
    let user = named_other(service, &caller, id, needs).await?;
    Ok((caller, user))
}

async fn named_other(
    service: &AccountsService,
    caller: &User,
    id: crate::core::user_id::UserId,
    needs: &[&str],
) -> Result<Option<User>, Error> {
    if id == caller.id {
        return Ok(None);
    }
    let Some(user) = service.users().user_by_id(id).await? else {
        return Err(Error::NotFound);
    };
    service.users().load_permissions(caller).await?;
    let allowed = caller.is_staff
        && needs.iter().any(|p| caller.has_perm(p))
        && (!user.is_superuser || (caller.is_active && caller.is_superuser));
    if !allowed {
        return Err(Error::permission_denied(PERMISSION_DENIED));
    }
    Ok(Some((*user).clone()))
}

/// `GET users/{id}/`: djoser's `UserViewSet.retrieve`.
async fn user_read(
    State(service): State<AccountsService>,
    id: Result<Path<String>, PathRejection>,
    caller: Result<CurrentUser, Error>,
) -> Result<Response, Error> {
    let (caller, user) = named_user(&service, caller, id, VIEW_USERS).await?;
    let user = user.as_ref().unwrap_or(&caller);
    Ok(json_response(StatusCode::OK, &user_json(user)))
}

/// `PUT`/`PATCH users/{id}/`: as `users/me/`.
async fn user_update(
    State(service): State<AccountsService>,
    id: Result<Path<String>, PathRejection>,
    caller: Result<CurrentUser, Error>,
    uri: Uri,
    headers: HeaderMap,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let (caller, user) = named_user(&service, caller, id, CHANGE_USERS).await?;
    let user = user.as_ref().unwrap_or(&caller);
    update_user(&service, user, &uri, &headers, &source, &data).await
}

/// `DELETE users/{id}/`: as `users/me/`, with the caller's `current_password`.
async fn user_delete(
    State(service): State<AccountsService>,
    id: Result<Path<String>, PathRejection>,
    caller: Result<CurrentUser, Error>,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let (caller, user) = named_user(&service, caller, id, DELETE_USERS).await?;
    let user = user.as_ref().unwrap_or(&caller);
    delete_user(&service, &caller, user, &source, &data).await
}

/// `POST users/set_password/`: `new_password`, `current_password`. Every other token, session
/// and JWT of the user ends; the token or session that made the call stays.
async fn set_password(
    State(service): State<AccountsService>,
    access: Access,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let user = access
        .identity
        .user
        .clone()
        .ok_or_else(Error::not_authenticated)?;
    let mut errors = ValidationErrors::new();
    let new = password_field(&data, "new_password", &mut errors);
    let current = password_field(&data, "current_password", &mut errors);
    errors.into_result()?;
    let (Some(new), Some(current)) = (new, current) else {
        return Err(Error::Internal("validated fields missing".into()));
    };
    check_current_password(&service, &user, &current, &source).await?;
    service.validate_new_password(&new, Some(&user))?;
    service
        .change_password(&user, &new, access.identity.auth.as_ref(), &source)
        .await?;
    Ok(no_content())
}

/// `POST users/reset_password/` with `email`: 204 whether or not an account has it. Every
/// request counts in `reset_password_ip` (per client network) and, once its address is
/// valid, `reset_password_email` (per address), before anyone is looked up.
async fn reset_password(
    State(service): State<AccountsService>,
    ClientIdent(client): ClientIdent,
    uri: Uri,
    headers: HeaderMap,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let throttles = service.login().throttles();
    throttles
        .take("reset_password_ip", &login_network(&client))
        .await?;
    let mut errors = ValidationErrors::new();
    let email = email_field(&data, true, false, &mut errors);
    errors.into_result()?;
    let email = email.unwrap_or_default();
    throttles
        .take("reset_password_email", &throttle_address(&email))
        .await?;
    service.request_reset(email, service.site(&uri, &headers)?, source)?;
    Ok(no_content())
}

/// `POST users/resend_activation/` with `email`: 204 whether or not an inactive account has
/// it; the mail goes to inactive accounts that staff did not deactivate. Every request with a
/// valid address counts in `activation_resend` (per address) before anyone is looked up.
async fn resend_activation(
    State(service): State<AccountsService>,
    uri: Uri,
    headers: HeaderMap,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let mut errors = ValidationErrors::new();
    let email = email_field(&data, true, false, &mut errors);
    errors.into_result()?;
    let email = email.unwrap_or_default();
    // djoser: without `SEND_ACTIVATION_EMAIL`, a valid body gets an empty 400.
    if !service.settings().accounts.send_activation_email {
        return Ok(StatusCode::BAD_REQUEST.into_response());
    }
    service
        .login()
        .throttles()
        .take("activation_resend", &throttle_address(&email))
        .await?;
    service.resend_activation(email, service.site(&uri, &headers)?)?;
    Ok(no_content())
}

/// The key an address is counted under: the one spelling of every address Django's
/// `email__iexact` look-up finds alike.
fn throttle_address(email: &str) -> String {
    email.trim().to_lowercase()
}

/// `POST users/reset_password_confirm/`: `uid`, `token`, `new_password` → 204.
async fn reset_password_confirm(
    State(service): State<AccountsService>,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let mut errors = ValidationErrors::new();
    let uid = data.char_field("uid", true, &mut errors);
    let token = data.char_field("token", true, &mut errors);
    let new = password_field(&data, "new_password", &mut errors);
    errors.into_result()?;
    let (Some(uid), Some(token), Some(new)) = (uid, token, new) else {
        return Err(Error::Internal("validated fields missing".into()));
    };
    service.confirm_reset(&uid, &token, &new, &source).await?;
    Ok(no_content())
}

/// `POST users/`: `username`, `email`, `password` → 201 with the new user. Every request
/// counts in `registration_ip` (per client network).
async fn register(
    State(service): State<AccountsService>,
    ClientIdent(client): ClientIdent,
    uri: Uri,
    headers: HeaderMap,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    service
        .login()
        .throttles()
        .take("registration_ip", &login_network(&client))
        .await?;
    let mut errors = ValidationErrors::new();
    let email = email_field(&data, false, true, &mut errors);
    let username = data.char_field("username", true, &mut errors);
    if let Some(name) = &username
        && let Err(message) = validate_username(name)
    {
        errors.add("username", message);
    }
    let password = password_field(&data, "password", &mut errors);
    errors.into_result()?;
    let (Some(username), Some(password)) = (username, password) else {
        return Err(Error::Internal("validated fields missing".into()));
    };
    let inactive = service.settings().accounts.send_activation_email;
    let user = service
        .users()
        .create_user(NewAccount {
            email: email.unwrap_or_default(),
            password: Some(password),
            is_active: !inactive,
            ..NewAccount::new(username)
        })
        .await?;
    service
        .users()
        .audit()
        .record(
            AuditEvent::for_user(audit::USER_CREATED, audit::SUCCESS, PROVIDER, &user)
                .source(&source),
        )
        .await;
    tracing::info!(user_id = %user.id, "account registered");
    let body = json!({ "email": user.email, "username": user.username, "id": user.id });
    if inactive {
        service.send_activation(user, service.site(&uri, &headers)?)?;
    }
    Ok(json_response(StatusCode::CREATED, &body))
}

/// `POST users/activation/`: `uid`, `token` → 204; 403 when the account is active already.
async fn activation(
    State(service): State<AccountsService>,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let mut errors = ValidationErrors::new();
    let uid = data.char_field("uid", true, &mut errors);
    let token = data.char_field("token", true, &mut errors);
    errors.into_result()?;
    let (Some(uid), Some(token)) = (uid, token) else {
        return Err(Error::Internal("validated fields missing".into()));
    };
    let user = service
        .user_of_link(&uid, &token, LinkUse::Activation)
        .await?;
    if user.is_active || !service.users().store().activate_user(user.id).await? {
        return Err(Error::permission_denied(STALE_TOKEN));
    }
    service.users().invalidate().await?;
    service
        .users()
        .audit()
        .record(
            AuditEvent::for_user(audit::USER_ACTIVATED, audit::SUCCESS, PROVIDER, &user)
                .source(&source),
        )
        .await;
    Ok(no_content())
}

/// `POST token/login/`: the login field and `password` → `{"auth_token": "<40 hex>"}`, a new
/// token each time.
async fn token_login(
    State(service): State<AccountsService>,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let text = |name: &str| match data.0.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    // djoser's `LOGIN_FIELD`: `[user] username_field` unless `[accounts] login_field` names
    // another (the e-mail).
    let settings = service.settings();
    let field = settings.username_field();
    let (field, methods) = match &settings.accounts.login_field {
        Some(login_field) if login_field != field => (login_field.as_str(), LoginMethods::EMAIL),
        _ => (field, service.users().login_methods()),
    };
    // djoser's fields are optional: whatever is missing fails as bad credentials.
    let refused = || Error::Validation(ValidationErrors::non_field(UNABLE_TO_LOG_IN));
    let (Some(username), Some(password)) = (text(field), text("password")) else {
        return Err(refused());
    };
    let username = username.trim();
    if username.is_empty() || password.is_empty() {
        return Err(refused());
    }
    let Some(user) = service
        .login()
        .authenticate_by(username, &password, methods, "token", &source)
        .await?
    else {
        return Err(refused());
    };
    let issued = service.tokens().issue_token(user.id).await?;
    service
        .users()
        .audit()
        .record(
            AuditEvent::for_user(audit::TOKEN_CREATED, audit::SUCCESS, "token", &user)
                .source(&source),
        )
        .await;
    tracing::info!(
        user_id = %user.id,
        token_id = issued.record.id,
        "token issued"
    );
    Ok(no_store(json_response(
        StatusCode::OK,
        &json!({ "auth_token": issued.key }),
    )))
}

/// `POST token/logout/`: deletes every DRF token of the calling user, as djoser's
/// `logout_user` does; a session that made the call is left alone (djoser's default
/// `CREATE_SESSION_ON_LOGIN = False`).
async fn token_logout(
    State(service): State<AccountsService>,
    CurrentUser(user): CurrentUser,
    source: Source,
) -> Result<Response, Error> {
    let n = service.tokens().revoke_tokens(user.id, None).await?;
    if n > 0 {
        service
            .users()
            .audit()
            .record(
                AuditEvent::for_user(audit::TOKEN_REVOKED, audit::SUCCESS, "token", &user)
                    .source(&source)
                    .reason(n.to_string()),
            )
            .await;
    }
    Ok(no_content())
}
