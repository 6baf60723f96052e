//! A real Django project (Django, DRF and simplejwt from PyPI in a virtualenv, served by
//! gunicorn) on a test's database: tests/django's fixture project, with, when a test gives
//! one, the project's own user model in a `users` app made from its `models.py`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{Reply, plain, skip, stderr, stdout};

/// tests/django: the fixture project.
pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/django")
}

/// The virtualenv with the fixture's requirements, or `None` (said as skipped).
pub fn venv() -> Option<PathBuf> {
    match super::python_venv("django", &fixture().join("requirements.txt")) {
        Ok(v) => Some(v),
        Err(e) => {
            skip(&format!("no Django virtualenv: {e}"));
            None
        }
    }
}

/// A fresh `SECRET_KEY`.
pub fn secret() -> String {
    format!(
        "dj-{}{}",
        restauth::token::generate_key(),
        restauth::token::generate_key()
    )
}

/// The Django project on one database, served by gunicorn while this lives.
pub struct Django {
    venv: PathBuf,
    pub secret_key: String,
    /// `DJANGO_DB`: a SQLite path or a PostgreSQL URL.
    pub db: String,
    /// The PostgreSQL schema shared with restauth.
    schema: Option<String>,
    /// The folder holding the `users` app of the project's own user model.
    users_app: Option<tempfile::TempDir>,
    /// `DJANGO_PBKDF2_ITERATIONS`: PBKDF2 at a test's cost (fixture/hashers.py).
    pbkdf2_iterations: Option<u32>,
    /// `DJANGO_FIRST_HASHER`: the class of `django.contrib.auth.hashers` put first.
    first_hasher: Option<String>,
    base: String,
    gunicorn: Option<Child>,
}

impl Drop for Django {
    fn drop(&mut self) {
        if let Some(mut g) = self.gunicorn.take() {
            let _ = g.kill();
            let _ = g.wait();
        }
    }
}

impl Django {
    pub fn new(venv: PathBuf, secret_key: &str, db: String, schema: Option<String>) -> Django {
        Django {
            venv,
            secret_key: secret_key.to_owned(),
            db,
            schema,
            users_app: None,
            pbkdf2_iterations: None,
            first_hasher: None,
            base: String::new(),
            gunicorn: None,
        }
    }

    /// PBKDF2 at `iterations` (fixture/hashers.py) for the project's new hashes.
    pub fn pbkdf2_iterations(mut self, iterations: u32) -> Self {
        self.pbkdf2_iterations = Some(iterations);
        self
    }

    /// `PASSWORD_HASHERS` with `class` (of `django.contrib.auth.hashers`) first.
    pub fn first_hasher(mut self, class: &str) -> Self {
        self.first_hasher = Some(class.to_owned());
        self
    }

    /// The project's own user model (`AUTH_USER_MODEL = "users.User"`), from `models_py`,
    /// with its migration made by Django's `makemigrations`.
    pub fn user_model(mut self, models_py: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = dir.path().join("users");
        std::fs::create_dir_all(app.join("migrations")).expect("users app");
        std::fs::write(app.join("__init__.py"), "").expect("users app");
        std::fs::write(app.join("migrations/__init__.py"), "").expect("users app");
        std::fs::write(app.join("models.py"), models_py).expect("models.py");
        self.users_app = Some(dir);
        self.manage(&["makemigrations", "users"]);
        self
    }

    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(self.venv.join("bin").join(program));
        c.current_dir(fixture())
            .env("DJANGO_SECRET_KEY", &self.secret_key)
            .env("DJANGO_DB", &self.db)
            .env("DJANGO_SETTINGS_MODULE", "fixture.settings")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        if let Some(n) = self.pbkdf2_iterations {
            c.env("DJANGO_PBKDF2_ITERATIONS", n.to_string());
        }
        if let Some(schema) = &self.schema {
            c.env("DJANGO_DB_SCHEMA", schema);
        }
        if let Some(class) = &self.first_hasher {
            c.env("DJANGO_FIRST_HASHER", class);
        }
        if let Some(app) = &self.users_app {
            c.env("DJANGO_USERS_APP", app.path());
        }
        c
    }

    /// `python manage.py <args>`, which must succeed; its output.
    pub fn manage(&self, args: &[&str]) -> String {
        let out = self
            .command("python")
            .arg("manage.py")
            .args(args)
            .output()
            .expect("python");
        assert!(
            out.status.success(),
            "manage.py {args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// `python <args>` in the project's folder, which must succeed; its output.
    pub fn python(&self, args: &[&str]) -> String {
        let out = self.command("python").args(args).output().expect("python");
        assert!(
            out.status.success(),
            "python {args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// Python run in the project's shell (`manage.py shell -c`).
    pub fn shell(&self, code: &str) -> String {
        self.manage(&["shell", "-c", code])
    }

    pub fn serve(&mut self) {
        let mut gunicorn = self
            .command("gunicorn")
            .args(["fixture.wsgi", "--bind", "127.0.0.1:0", "--workers", "2"])
            .arg("--no-control-socket")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gunicorn");
        let err = gunicorn.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some((_, addr)) = line.split_once("Listening at: ") {
                    let addr = addr.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = tx.send(addr);
                } else if line.contains("Error") || line.contains("Traceback") {
                    eprintln!("gunicorn: {line}");
                }
            }
        });
        self.gunicorn = Some(gunicorn);
        self.base = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("gunicorn did not start");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let r = req.send().await.expect("request to Django");
        Reply {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.text().await.unwrap_or_default(),
        }
    }

    /// GET `path` with these request headers.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = plain().get(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    /// Django's own login view (its form's field is `username`, whatever `USERNAME_FIELD`
    /// is): the `sessionid` cookie a browser would hold.
    pub async fn login(&self, username: &str, password: &str) -> Option<String> {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = client
            .get(self.url("/accounts/login/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let marker = "name=\"csrfmiddlewaretoken\" value=\"";
        let start = page.find(marker).expect("csrf field") + marker.len();
        let csrf = &page[start..start + page[start..].find('"').unwrap()];
        let done = client
            .post(self.url("/accounts/login/"))
            .form(&[
                ("csrfmiddlewaretoken", csrf),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        if done.status().as_u16() != 302 {
            return None;
        }
        done.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|l| l.strip_prefix("sessionid="))
            .map(|c| c.split(';').next().unwrap_or("").to_owned())
    }

    /// Whom Django's plain session view sees, or `None` (anonymous).
    pub async fn session_user(&self, sessionid: &str) -> Option<String> {
        let r = self
            .get("/whoami/", &[("Cookie", &format!("sessionid={sessionid}"))])
            .await;
        assert_ne!(r.status, 500, "Django: {}", r.body);
        (r.status == 200).then(|| r.json()["user"].as_str().unwrap_or("").to_owned())
    }

    /// Whom Django's DRF view sees with this `Authorization`, or the status it answered.
    pub async fn api_user(&self, authorization: &str) -> Result<String, u16> {
        let r = self
            .get("/api/whoami/", &[("Authorization", authorization)])
            .await;
        if r.status == 200 {
            Ok(r.json()["user"].as_str().unwrap_or("").to_owned())
        } else {
            Err(r.status)
        }
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.send(plain().post(self.url(path)).json(body)).await
    }
}

/// A user model keyed by a UUID, logging in by e-mail, without `PermissionsMixin`: what many
/// projects start from (made into the project's `users` app by Django's `makemigrations`).
pub const UUID_EMAIL_MODEL: &str = r#"import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager):
    def create_user(self, email, password=None, **fields):
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    # The columns restauth's Django schema maps today beside the key and the e-mail.
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    is_superuser = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
"#;

/// A Django database of a test's own: a SQLite file, or a PostgreSQL database (dropped after).
pub enum Db {
    Sqlite(tempfile::TempDir),
    Postgres { admin: String, name: String },
}

impl Db {
    /// A SQLite file for the test `test`, or `None` in the PostgreSQL pass of the suites
    /// (a test that picks its own databases runs once, in the default pass).
    pub fn sqlite_for(test: &str) -> Option<Db> {
        if super::postgres_backend() {
            eprintln!("{test}: runs when the suites run on SQLite");
            return None;
        }
        Some(Db::sqlite())
    }

    /// A PostgreSQL database for the test `test`, or `None`: in the PostgreSQL pass (as
    /// [`Db::sqlite_for`]), or without `RESTAUTH_TEST_DATABASE_URL` (said as skipped).
    pub async fn postgres_for(test: &str) -> Option<Db> {
        if super::postgres_backend() {
            eprintln!("{test}: runs when the suites run on SQLite");
            return None;
        }
        let Some(url) = super::postgres_url() else {
            skip("RESTAUTH_TEST_DATABASE_URL is not set");
            return None;
        };
        Some(Db::postgres(&url).await)
    }

    pub fn sqlite() -> Db {
        Db::Sqlite(tempfile::tempdir().unwrap())
    }

    pub async fn postgres(admin: &str) -> Db {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("restauth_models_{}_{nanos}", std::process::id());
        let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(admin)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await
            .unwrap();
        Db::Postgres {
            admin: admin.to_owned(),
            name,
        }
    }

    /// `DJANGO_DB`: the file's path, or the database's URL.
    pub fn django(&self) -> String {
        match self {
            Db::Sqlite(dir) => dir.path().join("db.sqlite3").display().to_string(),
            Db::Postgres { admin, name } => {
                let base = admin.split('?').next().unwrap();
                format!("{}/{name}", &base[..base.rfind('/').unwrap()])
            }
        }
    }

    /// restauth's URL of the same database.
    pub fn url(&self) -> String {
        match self {
            Db::Sqlite(_) => format!("sqlite://{}", self.django()),
            Db::Postgres { .. } => self.django(),
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let Db::Postgres { admin, name } = self else {
            return;
        };
        let (url, name) = (admin.clone(), name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await {
                    let ddl = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(ddl)).execute(&mut c).await;
                }
            });
        })
        .join();
    }
}
