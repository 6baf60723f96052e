//! The staff API (`IsAdminUser`), under `/api/admin/`: list users (DRF's
//! `PageNumberPagination` with `SearchFilter` on username and e-mail), create one, read one,
//! and deactivate, activate or revoke all of a user's credentials — what the management
//! commands do, over HTTP, with audit events naming the staff member who acted.

#[cfg(feature = "openapi")]
pub mod openapi;
mod routes;

pub use routes::router;

use serde_json::{Value, json};

use crate::core::error::{Error, PERMISSION_DENIED, ValidationErrors};
use crate::core::user::{User, UserId};
use crate::pipeline::audit::{self, AuditEvent, Source, rfc3339_ms};
use crate::store::{UserPage, UserQuery};
use crate::users::NewAccount;
use crate::users::Users;

/// The `event.provider` of the events of the staff API.
const PROVIDER: &str = "admin";
/// Search terms beyond this many are ignored (each is one clause of the query).
pub(crate) const MAX_SEARCH_TERMS: usize = 16;

/// DRF's `invalid_page_message`.
pub(crate) const INVALID_PAGE: &str = "Invalid page.";

/// Staff operations on users; each takes the staff member who acts, for the audit log.
#[derive(Clone)]
pub struct AdminService {
    users: Users,
    /// DRF's `PAGE_SIZE`.
    page_size: u32,
    /// `[csrf] trust_forwarded_proto`: whether the pages' links believe `X-Forwarded-Proto`.
    trust_forwarded_proto: bool,
}

/// Django's rule, which `is_staff` alone does not pass: only an active superuser may grant or
/// clear `is_staff` or `is_superuser`, or act on another superuser. Anyone else gets DRF's
/// permission message, and nothing changes.
fn superuser_only(staff: &User) -> Result<(), Error> {
    if staff.is_active && staff.is_superuser {
        Ok(())
    } else {
        Err(Error::permission_denied(PERMISSION_DENIED))
    }
}

/// What a staff action records as its reason: who did it.
fn by(staff: &User) -> String {
    format!("by {} (id {})", staff.username, staff.id)
}

/// The search terms of DRF's `SearchFilter`: the parameter split at white space and commas,
/// NUL characters dropped.
pub(crate) fn search_terms(search: &str) -> Vec<String> {
    search
        .replace('\0', "")
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .take(MAX_SEARCH_TERMS)
        .map(str::to_owned)
        .collect()
}

/// Django's `Paginator.validate_number` as DRF's `PageNumberPagination` calls it: the page
/// wanted (`None` or blank: the first; `last`: the last) of `num_pages`, or DRF's 404.
pub(crate) fn page_number(raw: Option<&str>, num_pages: u64) -> Result<u64, Error> {
    let invalid = || Error::NotFoundDetail(INVALID_PAGE.into());
    let raw = raw.map(str::trim).unwrap_or("");
    if raw.is_empty() {
        return Ok(1);
    }
    if raw == "last" {
        return Ok(num_pages);
    }
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match digits.parse::<u64>() {
        Ok(n) if n >= 1 && n <= num_pages => Ok(n),
        _ => Err(invalid()),
    }
}

/// An instant in Unix seconds as DRF renders a `DateTimeField` in UTC.
fn iso_seconds(secs: i64) -> String {
    rfc3339_ms(secs.saturating_mul(1000))
}

/// A user as the staff API shows it: never the password hash.
pub(crate) fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "date_joined": iso_seconds(user.date_joined),
        "last_login": user.last_login.map(iso_seconds),
    })
}

/// A page of users and what DRF's paginator says of it.
pub struct Page {
    /// The page's number, from 1 (DRF's `?page=`).
    pub number: u64,
    /// How many pages the matching users fill.
    pub num_pages: u64,
    /// The users on this page and how many match in all.
    pub found: UserPage,
}

impl AdminService {
    /// The staff API over `users`, `page_size` users a page; `trust_forwarded_proto` as
    /// `[csrf] trust_forwarded_proto` (for the scheme of the `next` and `previous` links).
    pub fn new(users: Users, page_size: u32, trust_forwarded_proto: bool) -> Self {
        AdminService {
            users,
            page_size,
            trust_forwarded_proto,
        }
    }

    /// Whether a page's links believe `X-Forwarded-Proto` (`[csrf] trust_forwarded_proto`).
    pub fn trust_forwarded_proto(&self) -> bool {
        self.trust_forwarded_proto
    }

    /// The accounts it manages.
    pub fn users(&self) -> &Users {
        &self.users
    }

    /// The page `page` (as the `page` parameter gave it) of the users matching `search`.
    pub async fn list_users(&self, search: &str, page: Option<&str>) -> Result<Page, Error> {
        let size = u64::from(self.page_size);
        let terms = search_terms(search);
        // The count first, so an out-of-range page costs no read of rows.
        let counted = self
            .users
            .store()
            .search_users(&UserQuery {
                terms: terms.clone(),
                offset: 0,
                limit: 0,
            })
            .await?;
        let num_pages = counted.count.div_ceil(size).max(1);
        let number = page_number(page, num_pages)?;
        let found = self
            .users
            .store()
            .search_users(&UserQuery {
                terms,
                offset: (number - 1).saturating_mul(size),
                limit: size,
            })
            .await?;
        Ok(Page {
            number,
            num_pages: found.count.div_ceil(size).max(1),
            found,
        })
    }

    /// The user with this id, read from the store (not the cache).
    pub async fn user(&self, id: UserId) -> Result<User, Error> {
        self.users
            .store()
            .user_by_id(id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Creates a user as `staff`, with Django's validators.
    pub async fn create(
        &self,
        account: NewAccount,
        staff: &User,
        source: &Source,
    ) -> Result<User, Error> {
        let mut errors = ValidationErrors::new();
        if !account.email.is_empty() && !is_valid_email(&account.email) {
            errors.add("email", "Enter a valid email address.");
        }
        errors.into_result()?;
        if account.is_staff || account.is_superuser {
            superuser_only(staff)?;
        }
        let user = self.users.create_user(account).await?;
        self.users
            .audit()
            .record(
                AuditEvent::for_user(audit::USER_CREATED, audit::SUCCESS, PROVIDER, &user)
                    .reason(by(staff))
                    .source(source),
            )
            .await;
        tracing::info!(
            user_id = %user.id,
            staff_id = %staff.id,
            "user created by staff"
        );
        Ok(user)
    }

    /// Activates or deactivates `user` (deactivation ends every credential issued until now).
    pub async fn set_user_active(
        &self,
        user: &User,
        active: bool,
        staff: &User,
        source: &Source,
    ) -> Result<(), Error> {
        if user.is_superuser {
            superuser_only(staff)?;
        }
        let action = if active {
            audit::USER_ACTIVATED
        } else {
            audit::USER_DEACTIVATED
        };
        let event = AuditEvent::for_user(action, audit::SUCCESS, PROVIDER, user)
            .reason(by(staff))
            .source(source);
        self.users.set_active_recorded(user, active, event).await?;
        tracing::info!(
            user_id = %user.id,
            staff_id = %staff.id,
            active,
            "activation set by staff"
        );
        Ok(())
    }

    /// Ends every token, session and JWT of `user` issued until now.
    pub async fn revoke_user(
        &self,
        user: &User,
        staff: &User,
        source: &Source,
    ) -> Result<(), Error> {
        if user.is_superuser {
            superuser_only(staff)?;
        }
        self.users.revoke_all(user).await?;
        self.users
            .audit()
            .record(
                AuditEvent::for_user(audit::LOGOUT_ALL, audit::SUCCESS, PROVIDER, user)
                    .reason(by(staff))
                    .source(source),
            )
            .await;
        tracing::info!(
            user_id = %user.id,
            staff_id = %staff.id,
            "credentials revoked by staff"
        );
        Ok(())
    }
}

/// A plain check of an e-mail address, in the spirit of Django's `EmailValidator`: one `@`,
/// a non-empty local part, and a domain of dot-separated labels of letters, digits and
/// hyphens (or `localhost`); no white space, at most 320 characters.
pub(crate) fn is_valid_email(email: &str) -> bool {
    if email.len() > 320 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    if local.is_empty() || local.contains('@') || local.starts_with('.') || local.ends_with('.') {
        return false;
    }
    if domain == "localhost" {
        return true;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_read_as_djangos_paginator_reads_them() {
        assert_eq!(page_number(None, 3).ok(), Some(1));
        assert_eq!(page_number(Some(""), 3).ok(), Some(1));
        assert_eq!(page_number(Some(" 2 "), 3).ok(), Some(2));
        assert_eq!(page_number(Some("+3"), 3).ok(), Some(3));
        assert_eq!(page_number(Some("last"), 3).ok(), Some(3));
        for bad in ["0", "4", "-1", "1.5", "abc", "+", "99999999999999999999999"] {
            assert!(page_number(Some(bad), 3).is_err(), "{bad}");
        }
    }

    #[test]
    fn search_splits_like_drf() {
        assert_eq!(search_terms(" al, ex\tb "), vec!["al", "ex", "b"]);
        assert!(search_terms(" , ").is_empty());
        assert_eq!(search_terms("a\0b"), vec!["ab"]);
        assert_eq!(search_terms(&"x ".repeat(100)).len(), MAX_SEARCH_TERMS);
    }

    #[test]
    fn emails() {
        for good in [
            "a@example.com",
            "a.b+c@sub.example.org",
            "x@localhost",
            "é@exämple.de",
        ] {
            assert!(is_valid_email(good), "{good}");
        }
        for bad in [
            "a",
            "@example.com",
            "a@",
            "a@b",
            "a b@example.com",
            "a@-x.com",
            "a@x..com",
            "a@1.2",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }
}
