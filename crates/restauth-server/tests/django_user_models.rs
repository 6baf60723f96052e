//! Real Django projects whose user model is not `auth.User`, made here from their `models.py`
//! with Django, DRF and simplejwt from PyPI: `inspect-django` reads each, `import-django`
//! brings its users over, and restauth runs side by side on its tables, its users logging in
//! over HTTP on every endpoint with the body the project's own clients send (checked first
//! against the running Django). On SQLite and on PostgreSQL.

mod common;

use std::path::Path;

use common::django::{self, Db, Django};
use common::{PASSWORD, Server, restauth_session_user, stderr, stdout};
use serde_json::json;
use sqlx::Connection;

/// PBKDF2 at restauth's lowest accepted count on both stacks (fixture/hashers.py).
const PBKDF2_ITERATIONS: u32 = 100_000;

/// cookiecutter-django's user model: `AbstractUser` without `username` and the names, logging
/// in by e-mail, with a required `name` of its own (a `CharField`: NOT NULL, and Django gives
/// the column no database default).
const EMAIL_MODEL: &str = r#"
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models


class UserManager(DjangoUserManager):
    def _create_user(self, email, password, **extra_fields):
        email = self.normalize_email(email)
        user = self.model(email=email, **extra_fields)
        user.password = make_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    name = models.CharField("Name of User", blank=True, max_length=255)
    first_name = None
    last_name = None
    email = models.EmailField("email address", unique=True)
    username = None

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()
"#;

/// The `[django]` section for [`EMAIL_MODEL`].
const EMAIL_SETTINGS: &str = "[django]\nuser_table = \"users_user\"\nusername_field = \"email\"\n\
     user_defaults = { name = \"\" }\nuser_extra_columns = [\"name\"]\n";

/// `restauth <args>` in `dir` (its `restauth.toml`, if any), which must succeed: its output.
fn restauth_in(dir: &Path, args: &[&str]) -> String {
    let out = common::command_in(dir, args, "");
    assert!(
        out.status.success(),
        "restauth {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// The `sessionid` a JSON session login on restauth sets, after fetching its CSRF cookie.
async fn restauth_session_login(s: &Server, username: &str) -> Option<String> {
    let r = common::spa_login(s, username, PASSWORD).await;
    assert_ne!(r.status, 500, "{}", s.log());
    (r.status == 200)
        .then(|| common::set_cookie_value(&r, "sessionid"))
        .flatten()
}

/// `email` (of a model whose `USERNAME_FIELD` is the e-mail) logs in on every endpoint of both
/// stacks with the body the project's own clients send, Django answering first: simplejwt
/// reads `email`, DRF's `obtain_auth_token` and the session logins read `username`. Each
/// credential made by one stack works on the other.
async fn logs_in_everywhere(django: &Django, s: &Server, email: &str) {
    let body = json!({"email": email, "password": PASSWORD});
    let r = django.post_json("/api/token/", &body).await;
    assert_eq!(r.status, 200, "Django's simplejwt: {}", r.body);
    let r = s.post_json("/api/token/", &body, None).await;
    assert_eq!(r.status, 200, "restauth's /api/token/: {}", r.body);
    let access = r.json()["access"].as_str().unwrap().to_owned();
    assert_eq!(
        django.api_user(&format!("Bearer {access}")).await,
        Ok(email.into())
    );

    let body = json!({"username": email, "password": PASSWORD});
    let r = django.post_json("/api-token-auth/", &body).await;
    assert_eq!(r.status, 200, "DRF's obtain_auth_token: {}", r.body);
    let django_key = r.json()["token"].as_str().unwrap().to_owned();
    let r = s.post_json("/api-token-auth/", &body, None).await;
    assert_eq!(r.status, 200, "restauth's /api-token-auth/: {}", r.body);
    assert_eq!(
        r.json()["token"].as_str(),
        Some(django_key.as_str()),
        "DRF's one token per user"
    );
    let r = s
        .get("/api/dashboard/", Some(&format!("Token {django_key}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Django's login form (field `username`) and restauth's JSON login; Django must not
    // answer 500 to restauth's session.
    let sessionid = django.login(email, PASSWORD).await.expect("Django login");
    assert_eq!(
        restauth_session_user(s, &sessionid).await.as_deref(),
        Some(email)
    );
    let sessionid = restauth_session_login(s, email)
        .await
        .expect("restauth session login");
    assert_eq!(
        django.session_user(&sessionid).await.as_deref(),
        Some(email),
        "restauth's session on Django"
    );
}

/// The project of [`EMAIL_MODEL`] on `db`, inspected, imported, and served side by side.
async fn an_email_model(db: Db) {
    let Some(venv) = django::venv() else { return };
    let secret = django::secret();
    let mut django = Django::new(venv, &secret, db.django(), None)
        .pbkdf2_iterations(PBKDF2_ITERATIONS)
        .user_model(EMAIL_MODEL);
    django.manage(&["migrate", "--noinput"]);
    django.shell(&format!(
        "from users.models import User\n\
         User.objects.create_user('ann@example.com', {PASSWORD:?}, name='Ann')\n\
         User.objects.create_user('ben@example.com', {PASSWORD:?})"
    ));

    // --- inspect-django: the settings block to start from.
    let work = tempfile::tempdir().unwrap();
    let printed = restauth_in(work.path(), &["inspect-django", "--from", &db.django()]);
    for expected in [
        "user_table = \"users_user\"",
        "username_field = \"email\"",
        "email_field = \"email\"",
        "user_defaults = { name = \"\" }",
        "primary key id: integer",
        "first_name (= '')",
        "last_name (= '')",
        "schema_flavor = \"django\"",
        "readable with user_extra_columns): name",
    ] {
        assert!(printed.contains(expected), "{expected}:\n{printed}");
    }
    // The fixture's PBKDF2 at test cost keeps Django's algorithm name.
    assert!(printed.contains("pbkdf2_sha256 (2)"), "{printed}");

    // --- import-django into restauth's own schema: both users, logging in by e-mail.
    let server = Server::builder()
        .own_database()
        .config(&format!("[simple_jwt]\nsigning_key = {secret:?}\n"))
        .start()
        .await;
    let out = server.command(
        &[
            "import-django",
            "--from",
            &db.django(),
            "--user-table",
            "users_user",
            "--username-field",
            "email",
        ],
        "",
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    for user in ["ann@example.com", "ben@example.com"] {
        let r = server
            .post_json(
                "/api/token/",
                &json!({"username": user, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{user} after the import: {}", r.body);
    }
    drop(server);

    // --- Side by side: refused at start without a value for the required column.
    django.serve();
    let config = |django_section: &str| {
        format!(
            "secret_key = {secret:?}\n[database]\nurl = {:?}\nschema_flavor = \"django\"\n\
             [password]\npbkdf2_iterations = {PBKDF2_ITERATIONS}\n{django_section}",
            db.url()
        )
    };
    std::fs::write(
        work.path().join("restauth.toml"),
        config("[django]\nuser_table = \"users_user\"\nusername_field = \"email\"\n"),
    )
    .unwrap();
    let out = common::command_in(work.path(), &["check"], "");
    assert!(!out.status.success(), "{}", stdout(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("django.user_defaults") && said.contains("\"name\""),
        "{said}"
    );
    let out = common::command_in(work.path(), &["migrate"], "");
    assert!(!out.status.success(), "migrate started");
    common::refuses_to_serve(work.path(), &[], "django.user_defaults");

    std::fs::write(work.path().join("restauth.toml"), config(EMAIL_SETTINGS)).unwrap();
    restauth_in(work.path(), &["check"]);
    let s = Server::builder()
        .own_database()
        .config(&format!("secret_key = {secret:?}"))
        .database(&format!("url = {:?}", db.url()))
        .database("schema_flavor = \"django\"")
        .config(&format!(
            "[password]\npbkdf2_iterations = {PBKDF2_ITERATIONS}"
        ))
        .config(EMAIL_SETTINGS)
        .start()
        .await;

    for user in ["ann@example.com", "ben@example.com"] {
        logs_in_everywhere(&django, &s, user).await;
    }

    // A user restauth creates gets the configured `name`, and logs in on Django.
    let out = s.command(
        &[
            "createuser",
            "cat@example.com",
            "--email",
            "cat@example.com",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let name = django.shell(
        "from users.models import User\n\
         print(repr(User.objects.get(email='cat@example.com').name))",
    );
    assert_eq!(name.lines().last().map(str::trim), Some("''"));
    let r = django
        .post_json(
            "/api/token/",
            &json!({"email": "cat@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "restauth's user on Django: {}", r.body);
}

/// An `AbstractBaseUser` keyed by a UUID, logging in by e-mail, with none of `AbstractUser`'s
/// flags or names (no `PermissionsMixin`): `is_active` is the class attribute `True`.
const UUID_MODEL: &str = r#"
import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models


class UserManager(BaseUserManager):
    def create_user(self, email, password=None, **fields):
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
"#;

/// The project of [`UUID_MODEL`] on `db`: inspected, and served side by side.
async fn a_uuid_base_model(db: Db) {
    let Some(venv) = django::venv() else { return };
    let secret = django::secret();
    let mut django = Django::new(venv, &secret, db.django(), None)
        .pbkdf2_iterations(PBKDF2_ITERATIONS)
        .user_model(UUID_MODEL);
    django.manage(&["migrate", "--noinput"]);
    let ann_id = django.shell(&format!(
        "from users.models import User\n\
         print(User.objects.create_user('ann@example.com', {PASSWORD:?}).pk)"
    ));
    // The shell may say what it imported first: the key is the last line.
    let ann_id = ann_id.lines().last().unwrap_or("").trim().to_owned();
    assert_eq!(ann_id.len(), 36, "{ann_id}");

    let work = tempfile::tempdir().unwrap();
    let printed = restauth_in(work.path(), &["inspect-django", "--from", &db.django()]);
    for expected in [
        "user_table = \"users_user\"",
        "username_field = \"email\"",
        "primary key id: uuid",
        "is_staff (= FALSE)",
        "is_active (= TRUE)",
    ] {
        assert!(printed.contains(expected), "{expected}:\n{printed}");
    }
    assert!(!printed.contains("user_defaults"), "{printed}");

    django.serve();
    let s = Server::builder()
        .own_database()
        .config(&format!("secret_key = {secret:?}"))
        .database(&format!("url = {:?}", db.url()))
        .database("schema_flavor = \"django\"")
        .config(&format!(
            "[password]\npbkdf2_iterations = {PBKDF2_ITERATIONS}"
        ))
        .config("[django]\nuser_table = \"users_user\"\nusername_field = \"email\"\n")
        .start()
        .await;
    logs_in_everywhere(&django, &s, "ann@example.com").await;
    // A user restauth creates gets a v4 UUID, which Django reads as its own key.
    let out = s.command(
        &["createuser", "ben@example.com", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let version = django.shell(
        "from users.models import User\n\
         print(User.objects.get(email='ben@example.com').pk.version)",
    );
    assert_eq!(version.lines().last().map(str::trim), Some("4"));
    // A staff user cannot be kept by this model: refused, not created without the flag.
    let out = s.command(
        &[
            "createuser",
            "cat@example.com",
            "--staff",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("no is_staff column"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_uuid_base_user_model_on_sqlite() {
    if let Some(db) = Db::sqlite_for("a_uuid_base_user_model_on_sqlite") {
        a_uuid_base_model(db).await;
    }
}

#[tokio::test]
async fn a_uuid_base_user_model_on_postgres() {
    if let Some(db) = Db::postgres_for("a_uuid_base_user_model_on_postgres").await {
        a_uuid_base_model(db).await;
    }
}

#[tokio::test]
async fn an_email_user_model_on_sqlite() {
    if let Some(db) = Db::sqlite_for("an_email_user_model_on_sqlite") {
        an_email_model(db).await;
    }
}

#[tokio::test]
async fn an_email_user_model_on_postgres() {
    if let Some(db) = Db::postgres_for("an_email_user_model_on_postgres").await {
        an_email_model(db).await;
    }
}

/// The stored hash of `email` in Django's `auth_user`.
async fn stored_hash(db: &Db, username: &str) -> String {
    let url = format!("{}?mode=ro", db.url());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query_scalar("SELECT password FROM auth_user WHERE username = $1")
        .bind(username)
        .fetch_one(&mut c)
        .await
        .unwrap()
}

/// Argon2 first in `PASSWORD_HASHERS`, as Django's docs recommend: a login on either stack
/// keeps the other logged in, because neither rewrites the other's hash.
#[tokio::test]
async fn argon2_first_logins_keep_both_stacks_logged_in() {
    let Some(db) = Db::sqlite_for("argon2_first_logins_keep_both_stacks_logged_in") else {
        return;
    };
    let Some(venv) = django::venv() else { return };
    let secret = django::secret();
    let mut django =
        Django::new(venv, &secret, db.django(), None).first_hasher("Argon2PasswordHasher");
    django.manage(&["migrate", "--noinput"]);
    django.shell(&format!(
        "from django.contrib.auth.models import User\n\
         from django.contrib.auth.hashers import PBKDF2PasswordHasher\n\
         User.objects.create_user('ann', 'ann@example.com', {PASSWORD:?})\n\
         ben = User.objects.create_user('ben', 'ben@example.com')\n\
         h = PBKDF2PasswordHasher()\n\
         ben.password = h.encode({PASSWORD:?}, h.salt())\n\
         ben.save()"
    ));
    django.serve();
    let s = Server::builder()
        .own_database()
        .config(&format!("secret_key = {secret:?}"))
        .database(&format!("url = {:?}", db.url()))
        .database("schema_flavor = \"django\"")
        .config(
            "[django]\npassword_hashers = [\n\
             \"django.contrib.auth.hashers.Argon2PasswordHasher\",\n\
             \"django.contrib.auth.hashers.PBKDF2PasswordHasher\",\n]\n",
        )
        .start()
        .await;

    let django_argon2 = stored_hash(&db, "ann").await;
    assert!(
        django_argon2.starts_with("argon2$argon2id$"),
        "{django_argon2}"
    );
    let on_django = django.login("ann", PASSWORD).await.expect("Django login");
    let on_restauth = restauth_session_login(&s, "ann")
        .await
        .expect("restauth login");
    // The hash Django made is kept as it is: both sessions stay valid on both stacks.
    assert_eq!(stored_hash(&db, "ann").await, django_argon2);
    assert_eq!(
        django.session_user(&on_django).await.as_deref(),
        Some("ann")
    );
    assert_eq!(
        restauth_session_user(&s, &on_django).await.as_deref(),
        Some("ann")
    );
    assert_eq!(
        django.session_user(&on_restauth).await.as_deref(),
        Some("ann")
    );

    // A PBKDF2 hash is rewritten by restauth's login as Django would: into Django's Argon2,
    // which Django then keeps at its own login.
    assert!(stored_hash(&db, "ben").await.starts_with("pbkdf2_sha256$"));
    let r = s
        .post_json(
            "/api-token-auth/",
            &json!({"username": "ben", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rewritten = stored_hash(&db, "ben").await;
    assert!(
        rewritten.starts_with("argon2$argon2id$v=19$m=102400,t=2,p=8$"),
        "{rewritten}"
    );
    let on_django = django.login("ben", PASSWORD).await.expect("Django login");
    assert_eq!(stored_hash(&db, "ben").await, rewritten, "Django kept it");
    assert_eq!(
        django.session_user(&on_django).await.as_deref(),
        Some("ben")
    );

    // Revocation both ways: a refresh token simplejwt issued on Django is refused by Django
    // once restauth changes the user's password, or deactivates the user.
    let refresh_of = async |user: &str| {
        let r = django
            .post_json(
                "/api/token/",
                &json!({"username": user, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["refresh"].as_str().unwrap().to_owned()
    };
    let refreshes = async |refresh: &str| {
        django
            .post_json("/api/token/refresh/", &json!({"refresh": refresh}))
            .await
            .status
    };
    let (ann, ben) = (refresh_of("ann").await, refresh_of("ben").await);
    assert_eq!(refreshes(&ann).await, 200);
    let out = s.command(
        &["changepassword", "ann", "--password-stdin"],
        "a new horse battery staple\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        refreshes(&ann).await,
        401,
        "after restauth's password change"
    );
    assert_eq!(django.session_user(&on_restauth).await, None);
    let out = s.command(&["deactivateuser", "ben"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(refreshes(&ben).await, 401, "after restauth's deactivation");
}
