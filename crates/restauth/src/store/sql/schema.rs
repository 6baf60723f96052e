//! Whose tables the one SQL implementation works on: restauth's own schema, or a live Django
//! project's (`schema_flavor = "django"`: the user model's table, DRF's `authtoken_token`,
//! `django_session`, simplejwt's blacklist, with restauth's own state in `restauth_*` tables
//! beside them). A [`Schema`] maps each field of the store's records to its table and column
//! and says how its values convert; every statement is rendered from it once, at open
//! (`Statements`). It is the one place that knows a table's or a column's name: a store that
//! learnt a user table's real columns from the database's catalogue would fill it the same way.
//!
// A build without Django's formats cannot open a store over Django's tables.
#![cfg_attr(not(feature = "django-hashers"), allow(dead_code))]

use std::sync::Arc;

use super::Dialect;
use crate::core::settings::SchemaFlavor;
use crate::store::catalog::UserModel;
use crate::store::django::DjangoSessions;
use crate::store::migrate::Migration;

/// How a column's values convert to what a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// As the record holds it.
    Plain,
    /// An integer narrower than the record's (Django's `integer` ids): read as 64 bits.
    Int,
    /// A datetime (Django's), which the record holds as Unix seconds.
    Seconds,
    /// A datetime, which the record holds as Unix milliseconds.
    Millis,
    /// Not a column of the table: the user model's class default (Django's
    /// `AbstractBaseUser.is_active = True`, …), the SQL literal in the column's `name`. Read
    /// as that value, never written.
    Fixed,
    /// A UUID key (Django's `UUIDField`: PostgreSQL's `uuid`, SQLite's `char(32)`), read as
    /// its text; a parameter binds a [`UserId`](crate::core::user_id::UserId) as the database takes it.
    Uuid,
}

/// A column and how its values convert.
#[derive(Clone, Debug)]
pub(crate) struct Column {
    pub name: String,
    pub kind: Kind,
}

impl Column {
    fn new(name: &str, kind: Kind) -> Column {
        Column {
            name: name.to_owned(),
            kind,
        }
    }

    fn plain(name: &str) -> Column {
        Column::new(name, Kind::Plain)
    }

    /// A field the table has no column for, read as the SQL `literal`.
    pub(super) fn fixed(literal: &str) -> Column {
        Column::new(literal, Kind::Fixed)
    }

    /// Whether the table has it (and it can be written).
    pub(super) fn exists(&self) -> bool {
        self.kind != Kind::Fixed
    }

    /// The column of the row `alias` (`u`, `t`, …; empty for none).
    pub(super) fn of(&self, alias: &str) -> String {
        if alias.is_empty() || self.kind == Kind::Fixed {
            self.name.clone()
        } else {
            format!("{alias}.{}", self.name)
        }
    }

    /// The SQL of its value in `alias`'s row, as the record holds it.
    pub(super) fn read<D: Dialect>(&self, alias: &str) -> String {
        let column = self.of(alias);
        match self.kind {
            Kind::Plain | Kind::Fixed => column,
            Kind::Int => format!("CAST({column} AS BIGINT)"),
            Kind::Uuid => format!("CAST({column} AS TEXT)"),
            Kind::Seconds => format!("{} / 1000", D::millis(&column)),
            Kind::Millis => D::millis(&column),
        }
    }

    /// The SQL of the value to store from the record's value `param` (`$3`).
    pub(super) fn write<D: Dialect>(&self, param: &str) -> String {
        match self.kind {
            Kind::Plain | Kind::Int | Kind::Fixed | Kind::Uuid => param.to_owned(),
            Kind::Seconds => D::datetime(&format!("{param} * 1000")),
            Kind::Millis => D::datetime(param),
        }
    }
}

/// The user model's table: where each field of a [`User`](crate::User) lives.
pub(crate) struct Users {
    pub table: String,
    pub id: Column,
    pub username: Column,
    pub email: Column,
    pub first_name: Column,
    pub last_name: Column,
    pub password: Column,
    pub is_active: Column,
    pub is_staff: Column,
    pub is_superuser: Column,
    pub date_joined: Column,
    pub last_login: Column,
    /// `valid_after` (Unix milliseconds): a column of the table, or `None` for a row of
    /// `restauth_user_state` beside a table restauth may not alter. Its companions
    /// `cut_off_cause` and `deactivated_by_admin` live where it does, under those names.
    pub valid_after: Option<Column>,
    /// The table's other required columns and the SQL literal each new user is given
    /// (`[django] user_defaults`).
    pub defaults: Vec<(String, String)>,
    /// Further columns read into each user (`[django] user_extra_columns`).
    pub extras: Vec<Extra>,
}

/// A further column of the user table, read into [`User::extra`](crate::User::extra).
#[derive(Clone, Debug)]
pub(crate) struct Extra {
    pub name: String,
    pub kind: ExtraKind,
}

/// How an extra column's value becomes JSON: it is read as text, then converted by the
/// column's type (the catalogue's), so one statement serves every type a model can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExtraKind {
    Text,
    Integer,
    Float,
    Boolean,
}

impl ExtraKind {
    /// The kind of a column of SQL type `sql_type` (lower case, as the catalogue names it).
    pub fn of(sql_type: &str) -> ExtraKind {
        let t = sql_type.trim();
        if t.starts_with("bool") {
            ExtraKind::Boolean
        } else if t.contains("int") || t == "serial" || t == "bigserial" {
            ExtraKind::Integer
        } else if t.starts_with("real")
            || t.starts_with("double")
            || t.starts_with("float")
            || t.starts_with("decimal")
            || t.starts_with("numeric")
        {
            ExtraKind::Float
        } else {
            ExtraKind::Text
        }
    }

    /// The letter of the kind in a selected column's alias (`x_i_age`).
    pub fn letter(self) -> char {
        match self {
            ExtraKind::Text => 't',
            ExtraKind::Integer => 'i',
            ExtraKind::Float => 'f',
            ExtraKind::Boolean => 'b',
        }
    }

    /// The kind a selected column's alias names, and the column: `x_i_age` → (Integer, `age`).
    pub fn from_alias(alias: &str) -> Option<(ExtraKind, &str)> {
        let rest = alias.strip_prefix("x_")?;
        let (letter, column) = rest.split_at_checked(1)?;
        let column = column.strip_prefix('_')?;
        let kind = match letter {
            "t" => ExtraKind::Text,
            "i" => ExtraKind::Integer,
            "f" => ExtraKind::Float,
            "b" => ExtraKind::Boolean,
            _ => return None,
        };
        Some((kind, column))
    }

    /// The JSON value of `text`, the column's value read as text (`None`: SQL's NULL).
    pub fn value(self, text: Option<String>) -> serde_json::Value {
        use serde_json::Value;
        let Some(text) = text else {
            return Value::Null;
        };
        match self {
            ExtraKind::Integer => text
                .parse::<i64>()
                .map_or(Value::String(text), |n| Value::Number(n.into())),
            ExtraKind::Float => match text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Some(n) => Value::Number(n),
                None => Value::String(text),
            },
            // SQLite keeps booleans as 0 and 1, PostgreSQL's text of one is `true`/`false`.
            ExtraKind::Boolean => match text.as_str() {
                "1" | "true" | "t" => Value::Bool(true),
                "0" | "false" | "f" => Value::Bool(false),
                _ => Value::String(text),
            },
            ExtraKind::Text => Value::String(text),
        }
    }
}

impl Users {
    /// The columns a new user is given, by the record's field names, in parameter order.
    pub(super) fn written(&self) -> [(&'static str, &Column); 9] {
        [
            ("username", &self.username),
            ("email", &self.email),
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("password", &self.password),
            ("is_active", &self.is_active),
            ("is_staff", &self.is_staff),
            ("is_superuser", &self.is_superuser),
            ("date_joined", &self.date_joined),
        ]
    }

    /// Every field of a user from the row `u`, named as the record's fields.
    pub(super) fn select<D: Dialect>(&self) -> String {
        let mut fields = vec![format!("{} AS id", self.id.read::<D>("u"))];
        fields.extend(
            self.written()
                .iter()
                .map(|(name, c)| format!("{} AS {name}", c.read::<D>("u"))),
        );
        fields.push(format!("{} AS last_login", self.last_login.read::<D>("u")));
        fields.push(match &self.valid_after {
            Some(c) => format!(
                "{} AS valid_after, u.cut_off_cause AS cut_off_cause, \
                 u.deactivated_by_admin AS deactivated_by_admin",
                c.read::<D>("u")
            ),
            None => "COALESCE(st.valid_after, 0) AS valid_after, \
                     COALESCE(st.cut_off_cause, 0) AS cut_off_cause, \
                     COALESCE(st.deactivated_by_admin, FALSE) AS deactivated_by_admin"
                .to_owned(),
        });
        for extra in &self.extras {
            fields.push(format!(
                "CAST(u.{name} AS TEXT) AS x_{}_{name}",
                extra.kind.letter(),
                name = extra.name
            ));
        }
        fields.join(", ")
    }

    /// The table as `u`, with what it needs beside it.
    pub(super) fn from(&self) -> String {
        format!("{} u{}", self.table, self.beside())
    }

    /// The table as `u`, joined on its id being `on`.
    pub(super) fn joined(&self, on: &str) -> String {
        format!(
            "JOIN {} u ON u.{} = {on}{}",
            self.table,
            self.id.name,
            self.beside()
        )
    }

    fn beside(&self) -> String {
        if self.valid_after.is_some() {
            String::new()
        } else {
            format!(
                " LEFT JOIN restauth_user_state st ON st.user_id = {}",
                key_text(&format!("u.{}", self.id.name))
            )
        }
    }

    /// Refuses a new user whose flags the user model cannot keep (a staff user of a model
    /// without `is_staff`), rather than creating one that lacks them.
    pub(super) fn refuse_unkept(
        &self,
        user: &crate::store::NewUser,
    ) -> Result<(), crate::store::StoreError> {
        for (field, wanted, column) in [
            ("is_staff", user.is_staff, &self.is_staff),
            ("is_superuser", user.is_superuser, &self.is_superuser),
            ("is_active", !user.is_active, &self.is_active),
        ] {
            if wanted && !column.exists() {
                return Err(crate::store::StoreError::Unsupported(format!(
                    "the user model's table {} has no {field} column, so it cannot keep this \
                     user's {field} = {}",
                    self.table,
                    field != "is_active"
                )));
            }
        }
        Ok(())
    }

    /// The fields a new user is given, by the record's field names, in parameter order: one
    /// per column the table has (a model whose `USERNAME_FIELD` is `email` has one column for
    /// both, and the username goes there).
    pub(super) fn inserted(&self) -> Vec<(&'static str, &Column)> {
        let mut inserted: Vec<(&'static str, &Column)> = Vec::new();
        for (field, column) in self.written() {
            if column.exists() && !inserted.iter().any(|(_, c)| c.name == column.name) {
                inserted.push((field, column));
            }
        }
        inserted
    }
}

impl Users {
    /// A Django user model's table, as [`UserModel::map`] mapped it: each field on its column,
    /// or its class default where the model has none.
    pub fn django(model: &UserModel) -> Users {
        let field = |name: &str, kind: Kind| match model.column(name) {
            Some(column) => Column::new(column, kind),
            None => Column::fixed(match name {
                // Typed, so that PostgreSQL reads them as the record's types.
                "last_login" => "CAST(NULL AS BIGINT)",
                "date_joined" => "CAST(0 AS BIGINT)",
                other => UserModel::class_default(other),
            }),
        };
        Users {
            table: model.table.clone(),
            // Django's ids are `integer` where the user model does not say otherwise.
            id: Column::new(&model.id, Kind::Int),
            username: field("username", Kind::Plain),
            email: field("email", Kind::Plain),
            first_name: field("first_name", Kind::Plain),
            last_name: field("last_name", Kind::Plain),
            password: field("password", Kind::Plain),
            is_active: field("is_active", Kind::Plain),
            is_staff: field("is_staff", Kind::Plain),
            is_superuser: field("is_superuser", Kind::Plain),
            date_joined: field("date_joined", Kind::Seconds),
            last_login: field("last_login", Kind::Seconds),
            valid_after: None,
            defaults: model.defaults.clone(),
            extras: model
                .extras
                .iter()
                .map(|(name, sql_type)| Extra {
                    name: name.clone(),
                    kind: ExtraKind::of(sql_type),
                })
                .collect(),
        }
    }
}

/// A user's key as text: the decimal digits of an integer, a UUID as the database casts one
/// (dashed in PostgreSQL; the 32 hex digits SQLite's `char(32)` holds).
pub(super) fn key_text(sql: &str) -> String {
    format!("CAST({sql} AS TEXT)")
}

/// The table of API tokens.
pub(crate) struct Tokens {
    pub table: String,
    /// What names a token: the digest of its key, or (DRF's own table) the key itself.
    pub name: Column,
    pub keeps_keys: bool,
    /// What tells a user's tokens apart: their own id, or (DRF's one token per user) the
    /// user's.
    pub id: Column,
    pub one_per_user: bool,
    /// Whose it is.
    pub user_id: Column,
    /// When it was issued (Unix milliseconds).
    pub created: Column,
    pub last_used: Option<Column>,
    pub expires: Option<Column>,
    /// Whether it keeps where each token was issued (`user_agent`, `address`).
    pub origin: bool,
}

/// Where sessions live.
pub(crate) enum Sessions {
    /// restauth's `auth_session`: one row per session, by the digest of its key.
    Rows,
    /// Django's `django_session` (signed data by key), and restauth's notes of each in
    /// `restauth_session_state` (by digest).
    Django(Arc<DjangoSessions>),
}

/// The whole map.
pub(crate) struct Schema {
    pub flavor: SchemaFlavor,
    pub users: Users,
    pub tokens: Tokens,
    pub sessions: Sessions,
    /// Where restauth records the steps it applied, and its steps.
    pub migrations: &'static str,
    pub steps: &'static [Migration],
    /// The tables that must exist before `migrate`, which it never creates (Django's).
    pub required: Vec<String>,
}

impl Schema {
    /// restauth's own schema.
    pub fn restauth<D: Dialect>() -> Schema {
        let plain = Column::plain;
        Schema {
            flavor: SchemaFlavor::Restauth,
            users: Users {
                table: "auth_user".into(),
                id: plain("id"),
                username: plain("username"),
                email: plain("email"),
                first_name: plain("first_name"),
                last_name: plain("last_name"),
                password: plain("password"),
                is_active: plain("is_active"),
                is_staff: plain("is_staff"),
                is_superuser: plain("is_superuser"),
                date_joined: plain("date_joined"),
                last_login: plain("last_login"),
                valid_after: Some(plain("valid_after")),
                defaults: Vec::new(),
                extras: Vec::new(),
            },
            tokens: Tokens {
                table: "authtoken_token".into(),
                name: plain("digest"),
                keeps_keys: false,
                id: plain("id"),
                one_per_user: false,
                user_id: plain("user_id"),
                created: plain("created"),
                last_used: Some(plain("last_used")),
                expires: Some(plain("expires")),
                origin: true,
            },
            sessions: Sessions::Rows,
            migrations: "restauth_migrations",
            steps: D::MIGRATIONS,
            required: Vec::new(),
        }
    }

    /// A Django project's tables: the user model's table as `users` maps it (from the
    /// database's catalogue), its sessions read and written through `sessions`: restauth's
    /// columns where Django has them too, and what Django does otherwise.
    pub fn django<D: Dialect>(users: Users, sessions: DjangoSessions) -> Schema {
        let Schema { mut tokens, .. } = Schema::restauth::<D>();
        // DRF's tokens: the key itself, one per user, the user's id its id; neither expiry nor
        // use nor origin is recorded.
        tokens.name = Column::plain("key");
        tokens.keeps_keys = true;
        tokens.one_per_user = true;
        tokens.user_id.kind = Kind::Int;
        tokens.id = tokens.user_id.clone();
        tokens.created.kind = Kind::Millis;
        (tokens.last_used, tokens.expires, tokens.origin) = (None, None, false);
        let required = [
            users.table.as_str(),
            tokens.table.as_str(),
            "django_session",
            "token_blacklist_outstandingtoken",
            "token_blacklist_blacklistedtoken",
        ]
        .map(String::from)
        .to_vec();
        Schema {
            flavor: SchemaFlavor::Django,
            users,
            tokens,
            sessions: Sessions::Django(Arc::new(sessions)),
            migrations: "restauth_django_migrations",
            steps: D::DJANGO_MIGRATIONS,
            required,
        }
    }

    /// Keys the user table by `kind`, as the database's catalogue says its primary key is:
    /// the user's id, and the user column of DRF's tokens (which is their id too). Every other
    /// column that names a user is named by [`Schema::user_ref`].
    pub fn key_users_by(&mut self, kind: crate::core::user_id::UserIdKind) {
        if kind == crate::core::user_id::UserIdKind::Uuid {
            self.users.id.kind = Kind::Uuid;
            self.tokens.user_id.kind = Kind::Uuid;
            if self.tokens.one_per_user {
                self.tokens.id = self.tokens.user_id.clone();
            }
        }
    }

    /// Whether the users are keyed by UUIDs.
    pub fn uuid_keys(&self) -> bool {
        self.users.id.kind == Kind::Uuid
    }

    /// The kind of the users' keys.
    pub fn key_kind(&self) -> crate::core::user_id::UserIdKind {
        if self.uuid_keys() {
            crate::core::user_id::UserIdKind::Uuid
        } else {
            crate::core::user_id::UserIdKind::Int
        }
    }

    /// The SQL of a user's key `param` (`$1`) as a column of restauth's own beside Django's
    /// tables holds it: as text there, where the user model's key may be an integer or a
    /// UUID; as it is in restauth's schema, whose keys are integers.
    pub fn user_ref(&self, param: &str) -> String {
        if self.own() {
            param.to_owned()
        } else {
            key_text(param)
        }
    }

    /// Whether every row is written by restauth (its own schema), so that what it stores it
    /// also announces, and a cut-off is honoured by everything that reads the tables. Over
    /// Django's tables Django writes too, and knows nothing of restauth's cut-offs.
    pub fn own(&self) -> bool {
        self.flavor == SchemaFlavor::Restauth
    }

    /// The store's answer to what only restauth's own schema offers: djoser's account
    /// operations (not served over Django's tables, where the Django project serves them)
    /// and the staff list.
    pub fn own_only(&self, what: &str) -> Result<(), crate::store::StoreError> {
        if self.own() {
            Ok(())
        } else {
            Err(crate::store::unsupported(what))
        }
    }
}
