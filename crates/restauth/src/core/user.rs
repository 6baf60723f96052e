//! The user, with Django's `auth_user` fields, and the identity a request carries.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, OnceLock};

pub use super::user_id::UserId;

/// A user account. `password` is the encoded hash, never the password itself.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The user's primary key, an integer or a UUID as the user model has it: Django's
    /// `user.pk`, kept by `import-django`.
    pub id: UserId,
    /// Django's `username`: unique, the name a user logs in with.
    pub username: String,
    /// Django's `email`; may be empty, and is where reset mails go.
    pub email: String,
    /// Django's `first_name`; may be empty.
    pub first_name: String,
    /// Django's `last_name`; may be empty.
    pub last_name: String,
    /// The encoded hash (`argon2$…`, or a Django one until the next login), `!…` when the user
    /// cannot log in with a password. Kept out of `Debug`.
    pub password: String,
    /// Django's `is_active`: an inactive user cannot log in and its credentials are refused.
    pub is_active: bool,
    /// Django's `is_staff`: `IsAdminUser` lets staff in.
    pub is_staff: bool,
    /// Django's `is_superuser`: only an active superuser may grant staff rights over the staff API.
    pub is_superuser: bool,
    /// Unix seconds.
    pub date_joined: i64,
    /// Django's `last_login` (Unix seconds): when the user last logged in with a password.
    pub last_login: Option<i64>,
    /// Unix milliseconds; credentials issued at or before this instant are refused (password
    /// change, "log out everywhere", deactivation). See [`User::issued_valid`].
    pub valid_after: i64,
    /// What last moved `valid_after`, so a refused credential can say why.
    pub cut_off_cause: CutOffCause,
    /// Deactivated by staff or a command: an activation link cannot make the account active
    /// again (activating it through the staff API or `activateuser` clears the mark).
    pub deactivated_by_admin: bool,
    /// The user's groups and permissions, loaded on first need (a permission class that asks
    /// for them, the staff API) and cached with the user: see [`User::has_perm`].
    pub permissions: LoadedPermissions,
    /// Further columns of a Django user model's table that `[django] user_extra_columns`
    /// names (`name`, `phone`, …), read with the user: empty otherwise.
    pub extra: ExtraColumns,
}

/// The values of a user's extra columns, by column name (JSON: text, numbers, booleans or
/// null, as the column's type says). Shared by every clone of the user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtraColumns(Option<Arc<std::collections::BTreeMap<String, serde_json::Value>>>);

impl ExtraColumns {
    /// The columns and values given.
    pub fn new(values: std::collections::BTreeMap<String, serde_json::Value>) -> Self {
        ExtraColumns((!values.is_empty()).then(|| Arc::new(values)))
    }

    /// The value of `column`, if it is one of the extra columns.
    pub fn get(&self, column: &str) -> Option<&serde_json::Value> {
        self.0.as_ref()?.get(column)
    }

    /// Every column and its value, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &serde_json::Value)> {
        self.0
            .iter()
            .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
    }
}

/// What moved a user's revocation cut-off ([`User::valid_after`]) last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CutOffCause {
    /// A new password (or a cut-off recorded before causes were: the wording it had then).
    #[default]
    PasswordChanged,
    /// "Log out everywhere", by the user or by staff.
    LoggedOutEverywhere,
    /// A deactivation.
    Deactivated,
}

impl CutOffCause {
    /// The number the store keeps.
    pub fn code(self) -> i64 {
        match self {
            CutOffCause::PasswordChanged => 0,
            CutOffCause::LoggedOutEverywhere => 1,
            CutOffCause::Deactivated => 2,
        }
    }

    /// The cause a stored number names; an unknown one reads as a password change.
    pub fn from_code(code: i64) -> Self {
        match code {
            1 => CutOffCause::LoggedOutEverywhere,
            2 => CutOffCause::Deactivated,
            _ => CutOffCause::PasswordChanged,
        }
    }
}

/// What Django's `ModelBackend` reads for a user: the groups they belong to, and the
/// permissions (`"app_label.codename"`) granted to them directly and through those groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    /// The names of the user's groups, sorted.
    pub groups: Vec<String>,
    /// Django's `get_user_permissions`: granted to the user.
    pub user: BTreeSet<String>,
    /// Django's `get_group_permissions`: granted to one of the user's groups.
    pub group: BTreeSet<String>,
}

impl Permissions {
    /// Whether `perm` is held, directly or through a group.
    pub fn contains(&self, perm: &str) -> bool {
        self.user.contains(perm) || self.group.contains(perm)
    }

    /// Django's `get_all_permissions`: both sets, sorted.
    pub fn all(&self) -> BTreeSet<&str> {
        self.user
            .iter()
            .chain(self.group.iter())
            .map(String::as_str)
            .collect()
    }
}

/// A user's [`Permissions`] once they were read: empty until then, set at most once, so a
/// cached user keeps them until the cache lets the user go (any change to groups or
/// permissions clears it, as a revocation does).
#[derive(Clone, Default)]
pub struct LoadedPermissions(OnceLock<Arc<Permissions>>);

/// A cache of what the store holds, not part of the user: two users are equal whatever was
/// read into them.
impl PartialEq for LoadedPermissions {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for LoadedPermissions {}

impl LoadedPermissions {
    /// The permissions, if read.
    pub fn get(&self) -> Option<&Arc<Permissions>> {
        self.0.get()
    }

    /// Keeps `permissions` unless some were kept already; the kept ones.
    pub fn set(&self, permissions: Arc<Permissions>) -> &Arc<Permissions> {
        self.0.get_or_init(|| permissions)
    }

    /// Permissions already known (`LoadedPermissions::from(Permissions::default())`: none).
    pub fn known(permissions: Permissions) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(Arc::new(permissions));
        LoadedPermissions(cell)
    }
}

impl fmt::Debug for LoadedPermissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(p) => p.fmt(f),
            None => f.write_str("(not loaded)"),
        }
    }
}

impl User {
    /// Django's `ModelBackend.has_perm` for `"app_label.codename"`: an active superuser has
    /// every permission, an inactive user none, anyone else those granted to them or to one of
    /// their groups.
    ///
    /// The granted ones are read when first needed: a permission class that checks them
    /// ([`DjangoModelPermissions`](crate::DjangoModelPermissions),
    /// [`HasPerms`](crate::HasPerms)) has them loaded before it runs, elsewhere
    /// [`Users::load_permissions`](crate::Users::load_permissions) loads them. Until then
    /// only a superuser has any.
    pub fn has_perm(&self, perm: &str) -> bool {
        if !self.is_active {
            return false;
        }
        if self.is_superuser {
            return true;
        }
        self.permissions.get().is_some_and(|p| p.contains(perm))
    }

    /// Django's `has_perms`: every one of `perms`.
    pub fn has_perms<S: AsRef<str>>(&self, perms: &[S]) -> bool {
        perms.iter().all(|p| self.has_perm(p.as_ref()))
    }

    /// Whether [`User::has_perm`] needs the granted permissions read first: an active user
    /// who is no superuser, whose permissions are not loaded yet.
    pub fn needs_permissions(&self) -> bool {
        self.is_active && !self.is_superuser && self.permissions.get().is_none()
    }

    /// Whether a credential issued at `issued_ms` (Unix milliseconds) outlives the user's
    /// revocation cut-off: only one issued strictly after it does.
    pub fn issued_valid(&self, issued_ms: i64) -> bool {
        issued_ms > self.valid_after
    }
}

impl fmt::Debug for User {
    // The hash stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_active", &self.is_active)
            .field("is_staff", &self.is_staff)
            .field("is_superuser", &self.is_superuser)
            .finish_non_exhaustive()
    }
}

/// What a successful authenticator proved, DRF's `request.auth`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthInfo {
    /// `Authorization: Token <key>`; the id of the token row.
    Token {
        /// The token row's id.
        token_id: i64,
    },
    /// `Authorization: Basic …`.
    Basic,
    /// A session cookie; the digest of the session key, in hex. Shared: the cached session
    /// holds the same text.
    Session {
        /// The SHA-256 digest (hex) of the session key.
        session_id: Arc<str>,
    },
    /// A JWT access token; its `jti`.
    Jwt {
        /// The token's `jti` claim.
        jti: String,
    },
    /// A custom authenticator's own marker.
    Other(&'static str),
}

/// DRF's `request.user` + `request.auth`: anonymous until an authenticator succeeds.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    /// DRF's `request.user`: `None` for an anonymous request.
    pub user: Option<Arc<User>>,
    /// DRF's `request.auth`: the credential that proved it.
    pub auth: Option<AuthInfo>,
}

impl Identity {
    /// DRF's `AnonymousUser`: no user, no credential.
    pub fn anonymous() -> Self {
        Identity::default()
    }

    /// The identity an authenticator proved with `auth`.
    pub fn authenticated(user: Arc<User>, auth: AuthInfo) -> Self {
        Identity {
            user: Some(user),
            auth: Some(auth),
        }
    }

    /// Django's `is_authenticated`.
    pub fn is_authenticated(&self) -> bool {
        self.user.is_some()
    }

    /// Whether the user is Django's `is_staff` (false when anonymous), as `IsAdminUser` asks.
    pub fn is_staff(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_staff)
    }
}

/// Longest username Django accepts.
pub const USERNAME_MAX_LENGTH: usize = 150;

/// Django's `AbstractBaseUser.normalize_username`: Unicode NFKC, so look-alike spellings such
/// as `ａｌｉｃｅ` (full-width) and `alice` are one name.
pub fn normalize_username(username: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    username.nfkc().collect()
}

/// Whether a stored username is already in the form [`normalize_username`] gives.
pub(crate) fn is_normalized_username(username: &str) -> bool {
    unicode_normalization::is_nfkc(username)
}

/// Django's `UnicodeUsernameValidator` plus `max_length=150`.
pub fn validate_username(username: &str) -> Result<(), &'static str> {
    if username.is_empty() {
        return Err("This field may not be blank.");
    }
    if username.chars().count() > USERNAME_MAX_LENGTH {
        return Err("Ensure this field has no more than 150 characters.");
    }
    let valid = username
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || matches!(c, '@' | '.' | '+' | '-'));
    if valid {
        Ok(())
    } else {
        Err(
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(validate_username("alice").is_ok());
        assert!(validate_username("al.ice+1@x-y_z").is_ok());
        assert!(validate_username("zoë").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("a b").is_err());
        assert!(validate_username("a\nb").is_err());
        assert!(validate_username("a\0").is_err());
        assert!(validate_username(&"a".repeat(150)).is_ok());
        assert!(validate_username(&"a".repeat(151)).is_err());
    }

    #[test]
    fn usernames_are_normalised_with_nfkc() {
        assert_eq!(normalize_username("ａｌｉｃｅ"), "alice");
        assert_eq!(normalize_username("alice"), "alice");
        // Compatibility forms fold: the "fi" ligature, a superscript, a composed accent.
        assert_eq!(normalize_username("ﬁona²"), "fiona2");
        assert_eq!(normalize_username("zoe\u{308}"), "zoë");
        assert!(is_normalized_username("zoë"));
        assert!(!is_normalized_username("ａｌｉｃｅ"));
    }

    #[test]
    fn debug_hides_the_hash() {
        let u = User {
            id: UserId::Int(1),
            username: "a".into(),
            email: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            password: "$argon2id$secret".into(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            date_joined: 0,
            last_login: None,
            valid_after: 0,
            cut_off_cause: CutOffCause::default(),
            deactivated_by_admin: false,
            permissions: LoadedPermissions::default(),
            extra: ExtraColumns::default(),
        };
        assert!(!format!("{u:?}").contains("argon2"));
    }
}
