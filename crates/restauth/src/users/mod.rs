//! [`Users`]: accounts — look-ups (cached), creation with Django's validators, the password
//! check every login path makes, password changes, activation, deletion, "log out everywhere";
//! and [`Login`], the throttled password check of the login endpoints.
//!
//! Every change that must end existing access (password, deactivation, deletion) clears the
//! caches here and announces itself to other processes before it returns.

mod login;

pub use login::Login;

use std::sync::Arc;

use crate::core::clock::now;
use crate::core::clock::now_ms;
use crate::core::error::{Error, ValidationErrors};
use crate::core::settings::{PasswordSettings, UserSettings};
use crate::core::user::{
    CutOffCause, Permissions, User, UserId, normalize_username, validate_username,
};
use crate::password::HashPool;
use crate::password::{
    MAX_PASSWORD_BYTES, UserAttributes, Verification, make_unusable_password, validate_password,
};
use crate::pipeline::audit::{self, AuditEvent, AuditLog};
use crate::store::{
    NewUser, PasswordStore, PermissionStore, ReadCache, Revocation, SessionStore, StoreError,
    TokenStore, UserStore,
};

/// The `event.provider` of the events of user management.
const PROVIDER: &str = "accounts";

/// What a password check found.
pub(crate) enum Credentials {
    Valid(Arc<User>),
    /// A wrong password, or no such user (`None`).
    Invalid(Option<User>),
    /// The right password of an inactive account.
    Inactive(User),
}

/// A user to create. `password: None` creates one that cannot log in with a password.
#[derive(Clone, Debug, Default)]
pub struct NewAccount {
    /// Django's `username`: unique, checked against `[user]`'s rules.
    pub username: String,
    /// Django's `email`; may be empty.
    pub email: String,
    /// Django's `first_name`; may be empty.
    pub first_name: String,
    /// Django's `last_name`; may be empty.
    pub last_name: String,
    /// The password in clear, checked by the configured validators and hashed with Argon2id;
    /// `None` stores Django's unusable password.
    pub password: Option<String>,
    /// Django's `is_active`; [`NewAccount::new`] sets it.
    pub is_active: bool,
    /// Django's `is_staff`: `IsAdminUser` lets staff in.
    pub is_staff: bool,
    /// Django's `is_superuser`.
    pub is_superuser: bool,
}

impl NewAccount {
    /// An active user named `username`, with no password, e-mail or flags: set the rest by field.
    pub fn new(username: impl Into<String>) -> Self {
        NewAccount {
            username: username.into(),
            is_active: true,
            ..NewAccount::default()
        }
    }
}

/// Accounts: what every feature asks of users. Cheap to clone.
#[derive(Clone)]
pub struct Users {
    inner: Arc<UsersParts>,
}

/// The parts [`Users`] works with.
pub struct UsersParts {
    /// Where accounts are read and written.
    pub users: Arc<dyn UserStore>,
    /// Where password hashes are read and upgraded.
    pub passwords: Arc<dyn PasswordStore>,
    /// Tokens, deleted when a password change or a revocation ends them.
    pub tokens: Arc<dyn TokenStore>,
    /// Sessions, deleted when a password change or a revocation ends them.
    pub sessions: Arc<dyn SessionStore>,
    /// Groups and permissions, read for `User::has_perm`.
    pub permissions: Arc<dyn PermissionStore>,
    /// The in-process cache of users and credentials, cleared on every change.
    pub cache: ReadCache,
    /// The bounded blocking pool passwords are hashed and checked on.
    pub hashing: HashPool,
    /// `[password]`: validators and hashing cost.
    pub password: PasswordSettings,
    /// `[user]`: the username's rules.
    pub user: UserSettings,
    /// Django's `SECRET_KEY`: the session auth hash is keyed by it.
    pub secret_key: Arc<str>,
    /// Django's `SECRET_KEY_FALLBACKS`: session auth hashes keyed by these still hold.
    pub secret_key_fallbacks: Arc<[String]>,
    /// Where password changes, activations and revocations are recorded.
    pub audit: AuditLog,
}

impl Users {
    /// Accounts over these parts; [`Restauth`](crate::Restauth) builds it.
    pub fn new(parts: UsersParts) -> Self {
        Users {
            inner: Arc::new(parts),
        }
    }

    /// The hashing pool every password goes through.
    pub fn hashing(&self) -> &HashPool {
        &self.inner.hashing
    }

    /// The read cache of users and credentials.
    pub fn cache(&self) -> &ReadCache {
        &self.inner.cache
    }

    /// Django's `USERNAME_FIELD`: the field a login form names the user by.
    pub fn username_field(&self) -> &str {
        &self.inner.user.username_field
    }

    /// How a login may name its user (`[user] login_methods`).
    pub fn login_methods(&self) -> crate::core::settings::LoginMethods {
        self.inner.user.login_methods()
    }

    /// Django's `SECRET_KEY`: the key of session auth hashes.
    pub fn secret_key(&self) -> &str {
        &self.inner.secret_key
    }

    /// Whether `session_hash` is the session auth hash of `password_hash` under `SECRET_KEY`
    /// or one of its fallbacks, as Django's `get_user` checks it (constant-time).
    pub fn session_hash_matches(&self, session_hash: &str, password_hash: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        std::iter::once(&*self.inner.secret_key)
            .chain(self.inner.secret_key_fallbacks.iter().map(String::as_str))
            .any(|key| {
                let expected = crate::core::hmac::session_auth_hash(password_hash, key);
                bool::from(expected.as_bytes().ct_eq(session_hash.as_bytes()))
            })
    }

    /// Where the events of user management go.
    pub fn audit(&self) -> &AuditLog {
        &self.inner.audit
    }

    /// The store of users, for the look-ups this type does not make itself (search, e-mail).
    pub fn store(&self) -> &Arc<dyn UserStore> {
        &self.inner.users
    }

    /// The store of passwords (resets, changes that keep one credential).
    pub fn passwords(&self) -> &Arc<dyn PasswordStore> {
        &self.inner.passwords
    }

    /// The store of groups and permissions (the commands that grant them).
    pub fn permissions(&self) -> &Arc<dyn PermissionStore> {
        &self.inner.permissions
    }

    /// Reads the user's groups and permissions into it if they were not yet (Django's
    /// `ModelBackend` fills its permission cache the same way), so that [`User::has_perm`]
    /// answers. A superuser's or an inactive user's are not needed for that and stay unread.
    /// A user kept in the read cache keeps them until it lets the user go; every change of
    /// groups or permissions clears it, here and in other processes.
    pub async fn load_permissions(&self, user: &User) -> Result<(), Error> {
        if user.needs_permissions() {
            self.read_permissions(user).await?;
        }
        Ok(())
    }

    /// The user's groups and permissions, read now if they were not before (superusers'
    /// and inactive users' included, for display).
    pub async fn read_permissions(&self, user: &User) -> Result<Arc<Permissions>, Error> {
        if let Some(known) = user.permissions.get() {
            return Ok(known.clone());
        }
        let read = self.inner.permissions.user_permissions(user.id).await?;
        Ok(user.permissions.set(Arc::new(read)).clone())
    }

    /// Forgets cached users and credentials here and tells other processes to do the same.
    pub async fn invalidate(&self) -> Result<(), Error> {
        Ok(self.inner.cache.invalidate().await?)
    }

    /// Validates and creates a user. Field errors come back as DRF-shaped validation errors.
    ///
    /// The username is NFKC-normalised first, as Django's `normalize_username`, so a look-alike
    /// of an existing name (`ａｌｉｃｅ` beside `alice`) is refused as a duplicate.
    pub async fn create_user(&self, mut account: NewAccount) -> Result<User, Error> {
        account.username = normalize_username(&account.username);
        let mut errors = ValidationErrors::new();
        if let Err(msg) = validate_username(&account.username) {
            errors.add("username", msg);
        }
        if let Some(password) = &account.password {
            self.check_password_rules(password, &account, &mut errors);
        }
        errors.into_result()?;
        let hash = match account.password {
            Some(p) => self.inner.hashing.hash(p).await?,
            None => make_unusable_password(),
        };
        let created = self
            .inner
            .users
            .create_user(&NewUser {
                username: account.username,
                email: account.email,
                first_name: account.first_name,
                last_name: account.last_name,
                password: hash,
                is_active: account.is_active,
                is_staff: account.is_staff,
                is_superuser: account.is_superuser,
                date_joined: now(),
            })
            .await;
        match created {
            Ok(user) => Ok(user),
            Err(StoreError::Conflict(_)) => {
                let mut e = ValidationErrors::new();
                e.add("username", "A user with that username already exists.");
                Err(Error::Validation(e))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn check_password_rules(
        &self,
        password: &str,
        account: &NewAccount,
        errors: &mut ValidationErrors,
    ) {
        if password.len() > MAX_PASSWORD_BYTES {
            errors.add(
                "password",
                format!("Ensure this field has no more than {MAX_PASSWORD_BYTES} characters."),
            );
            return;
        }
        let attrs = UserAttributes {
            username: &account.username,
            email: &account.email,
            first_name: &account.first_name,
            last_name: &account.last_name,
        };
        if let Err(messages) = validate_password(password, &attrs, &self.inner.password.validation)
        {
            for m in messages {
                errors.add("password", m);
            }
        }
    }

    /// Django's `authenticate()`: the user if the password matches and the account is active.
    ///
    /// Every failure costs one password verification: unknown users and unusable passwords are
    /// checked against a dummy hash, and `is_active` is looked at only after the password, so
    /// neither the answer nor its timing tells which case it was.
    pub async fn authenticate_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Arc<User>>, Error> {
        Ok(match self.check_credentials(username, password).await? {
            Credentials::Valid(user) => Some(user),
            Credentials::Invalid(_) | Credentials::Inactive(_) => None,
        })
    }

    /// [`Users::authenticate_credentials`], telling the cases apart for the audit log (a
    /// client is told none of them).
    pub(crate) async fn check_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Credentials, Error> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(Credentials::Invalid(None));
        }
        let user = self.find_user(username).await?;
        self.check_password_of(user, password).await
    }

    /// The password check of a user already looked up (`None`: nobody, checked against the
    /// dummy hash so that it costs what a wrong password costs).
    pub(crate) async fn check_password_of(
        &self,
        user: Option<User>,
        password: &str,
    ) -> Result<Credentials, Error> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(Credentials::Invalid(None));
        }
        let Some(mut user) = user else {
            self.inner.hashing.dummy_verify(password.to_owned()).await?;
            return Ok(Credentials::Invalid(None));
        };
        let verdict = self
            .hashing()
            .verify(user.password.clone(), password.to_owned())
            .await?;
        match verdict {
            Verification::Mismatch => Ok(Credentials::Invalid(Some(user))),
            Verification::Match { .. } if !user.is_active => Ok(Credentials::Inactive(user)),
            Verification::Match { needs_rehash } => {
                // The session this login may start carries the stored hash's auth hash.
                if needs_rehash && let Some(new_hash) = self.upgrade_hash(&user, password).await {
                    user.password = new_hash;
                }
                Ok(Credentials::Valid(Arc::new(user)))
            }
        }
    }

    /// Re-hashes a legacy or outdated hash with the current parameters; the new hash once
    /// stored. Failure only logs.
    async fn upgrade_hash(&self, user: &User, password: &str) -> Option<String> {
        let new_hash = match self.inner.hashing.hash(password.to_owned()).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "password upgrade skipped");
                return None;
            }
        };
        // The password is the same, so the user's sessions stay: they are stamped with the
        // new hash's session auth hash in the same transaction.
        let old_auth = crate::core::hmac::session_auth_hash(&user.password, &self.inner.secret_key);
        let new_auth = crate::core::hmac::session_auth_hash(&new_hash, &self.inner.secret_key);
        match self
            .inner
            .passwords
            .upgrade_password(user.id, &user.password, &new_hash, &old_auth, &new_auth)
            .await
        {
            Ok(true) => Some(new_hash),
            Ok(false) => None,
            Err(e) => {
                tracing::warn!(error = %e, user_id = %user.id, "password upgrade failed");
                None
            }
        }
    }

    /// The user with exactly this username (no normalisation: for names the store handed
    /// out, such as a JWT's claim).
    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>, Error> {
        Ok(self.inner.users.user_by_username(username).await?)
    }

    /// The user a person means by `username`, as the password paths and the management
    /// commands look it up: the NFKC-normalised name first, then the exact one, so accounts
    /// created before normalisation with a non-normalised name keep working.
    pub async fn find_user(&self, username: &str) -> Result<Option<User>, Error> {
        let name = normalize_username(username);
        if validate_username(&name).is_ok()
            && let Some(user) = self.inner.users.user_by_username(&name).await?
        {
            return Ok(Some(user));
        }
        if name != username && validate_username(username).is_ok() {
            return Ok(self.inner.users.user_by_username(username).await?);
        }
        Ok(None)
    }

    /// Usernames not in NFKC form (made before names were normalised), with their normal
    /// form: each logs in still, but a look-alike normalised name would shadow it.
    pub async fn unnormalized_usernames(&self) -> Result<Vec<(String, String)>, Error> {
        Ok(self
            .inner
            .users
            .non_ascii_usernames()
            .await?
            .into_iter()
            .filter(|name| !crate::core::user::is_normalized_username(name))
            .map(|name| {
                let normal = normalize_username(&name);
                (name, normal)
            })
            .collect())
    }

    /// The user with this id, from the cache when fresh.
    pub async fn user_by_id(&self, id: UserId) -> Result<Option<Arc<User>>, Error> {
        let now = now();
        let cache = self.inner.cache.get();
        if let Some(u) = cache.user(id, now) {
            return Ok(Some(u));
        }
        let generation = cache.generation();
        match self.inner.users.user_by_id(id).await? {
            Some(u) => {
                let u = Arc::new(u);
                cache.put_user(generation, u.clone(), now);
                Ok(Some(u))
            }
            None => Ok(None),
        }
    }

    /// [`Users::user_by_id`] without waiting: from the cache, or from a read the store
    /// answers at once (SQLite); `None` when the store must be awaited.
    pub fn user_by_id_at_once(&self, id: UserId) -> Option<Option<Arc<User>>> {
        let now = now();
        let cache = self.inner.cache.get();
        if let Some(u) = cache.user(id, now) {
            return Some(Some(u));
        }
        let generation = cache.generation();
        let user = self
            .inner
            .cache
            .database()
            .at_once()?
            .user_by_id(id)?
            .ok()?
            .map(Arc::new);
        if let Some(u) = &user {
            cache.put_user(generation, u.clone(), now);
        }
        Some(user)
    }

    /// Validates and sets a new password. Ends every token and session issued before.
    pub async fn set_password(&self, user: &User, password: &str) -> Result<(), Error> {
        let mut errors = ValidationErrors::new();
        let account = NewAccount {
            username: user.username.clone(),
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            ..NewAccount::default()
        };
        self.check_password_rules(password, &account, &mut errors);
        errors.into_result()?;
        let hash = self.inner.hashing.hash(password.to_owned()).await?;
        let cut_off = now_ms();
        self.inner
            .passwords
            .set_password(user.id, &hash, Some(&Revocation::all(cut_off)))
            .await?;
        self.inner
            .audit
            .record(AuditEvent::for_user(
                audit::PASSWORD_CHANGED,
                audit::SUCCESS,
                PROVIDER,
                user,
            ))
            .await;
        leave_millisecond(cut_off).await;
        self.invalidate().await
    }

    /// The administrative switch (staff, commands). Deactivation also moves the user's "valid
    /// after" instant, so reactivating the account does not bring back the tokens, sessions
    /// and mailed links it had (while inactive they answer DRF's "User inactive or deleted."),
    /// and marks the account as deactivated by staff, so no activation link can make it
    /// active again; activating clears the mark.
    pub async fn set_active(&self, user: &User, active: bool) -> Result<(), Error> {
        let action = if active {
            audit::USER_ACTIVATED
        } else {
            audit::USER_DEACTIVATED
        };
        self.set_active_recorded(
            user,
            active,
            AuditEvent::for_user(action, audit::SUCCESS, PROVIDER, user),
        )
        .await
    }

    /// [`Users::set_active`], recording `event` (whoever asked for it) instead of the
    /// default one.
    pub(crate) async fn set_active_recorded(
        &self,
        user: &User,
        active: bool,
        event: AuditEvent,
    ) -> Result<(), Error> {
        self.inner.users.set_active(user.id, active).await?;
        self.inner.audit.record(event).await;
        if !active {
            let cut_off = now_ms();
            self.inner
                .users
                .set_valid_after(user.id, cut_off, CutOffCause::Deactivated)
                .await?;
            leave_millisecond(cut_off).await;
        }
        self.invalidate().await
    }

    /// Deletes the user with its sessions and the rows that depend on it, in one transaction
    /// (djoser's `DELETE /users/me/`), and forgets it in the cache.
    pub async fn delete_user(&self, user: &User) -> Result<(), Error> {
        self.inner.users.delete_user(user.id).await?;
        self.invalidate().await
    }

    /// "Log out everywhere": refuses every credential of the user issued before now, the one
    /// making the call included. Tokens and sessions are also deleted, so they leave the
    /// user's list of devices.
    pub async fn revoke_all(&self, user: &User) -> Result<(), Error> {
        let cut_off = now_ms();
        self.inner
            .users
            .set_valid_after(user.id, cut_off, CutOffCause::LoggedOutEverywhere)
            .await?;
        self.inner.tokens.delete_user_tokens(user.id, None).await?;
        self.inner.sessions.delete_user_sessions(user.id).await?;
        leave_millisecond(cut_off).await;
        self.invalidate().await
    }
}

/// Returns once the clock has left the millisecond of a cut-off (at most a millisecond away),
/// so that whatever this process issues after the revoking call has returned is issued
/// strictly after the cut-off and survives it, while anything issued before or during the
/// call, in the same millisecond included, is refused.
pub(crate) async fn leave_millisecond(cut_off: i64) {
    while now_ms() <= cut_off {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}
