//! A Django user model as its table really is. Django lets a project drop `username`, the
//! names or the flags (`AbstractBaseUser` has none of them), key users by UUID and add
//! required columns of its own; restauth reads the table's columns from the database's
//! catalogue and maps each field it knows onto what exists. The store (`schema_flavor =
//! "django"`), `import-django` and `inspect-django` all map through [`UserModel::map`], so
//! they agree on every table.

use crate::core::settings::DjangoSettings;

/// The catalogue's columns of a table on SQLite, in order: name, type, NOT NULL, has a
/// default, part of the primary key, and alone in a unique index.
pub const SQLITE_COLUMNS: &str = "SELECT c.name, lower(c.type), c.\"notnull\" <> 0, \
     c.dflt_value IS NOT NULL, c.pk > 0, \
     EXISTS (SELECT 1 FROM pragma_index_list($1) il WHERE il.\"unique\" = 1 AND il.partial = 0 \
       AND (SELECT count(*) FROM pragma_index_info(il.name)) = 1 \
       AND (SELECT ii.name FROM pragma_index_info(il.name) ii) = c.name) \
     FROM pragma_table_info($1) c ORDER BY c.cid";

/// [`SQLITE_COLUMNS`] on PostgreSQL, for the table `$1` names on the search path. An identity
/// column (Django's `AutoField` since 4.1) counts as having a default.
pub const POSTGRES_COLUMNS: &str = "SELECT CAST(a.attname AS TEXT), \
     CAST(format_type(a.atttypid, a.atttypmod) AS TEXT), a.attnotnull, \
     a.atthasdef OR a.attidentity <> '', \
     EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary \
       AND a.attnum = ANY(i.indkey)), \
     EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisunique \
       AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indkey[0] = a.attnum) \
     FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 \
     AND NOT a.attisdropped ORDER BY a.attnum";

/// One column of a table, as the catalogue describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableColumn {
    /// Its name.
    pub name: String,
    /// Its SQL type in lower case (`integer`, `bigint`, `varchar(254)`, `char(32)`, `uuid`, …).
    pub sql_type: String,
    /// Declared NOT NULL.
    pub not_null: bool,
    /// The database gives it a value when an insert names none (a default, an identity).
    pub has_default: bool,
    /// Part of the primary key.
    pub primary_key: bool,
    /// The only column of a unique index or constraint (the primary key counts).
    pub unique: bool,
}

/// What a user model's primary key holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// Django's `AutoField`/`BigAutoField`: an integer.
    Integer,
    /// `UUIDField(primary_key=True)`: `uuid` on PostgreSQL, `char(32)` (hex, no dashes) on
    /// SQLite.
    Uuid,
}

impl KeyType {
    /// The key type of a column of SQL type `sql_type`, if restauth can key users by it.
    pub fn of(sql_type: &str) -> Option<KeyType> {
        let t: String = sql_type
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if t == "uuid" || t == "char(32)" || t == "varchar(32)" {
            Some(KeyType::Uuid)
        } else if t.contains("int") || t.ends_with("serial") {
            Some(KeyType::Integer)
        } else {
            None
        }
    }

    /// Its name in messages and in `inspect-django`'s output.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Integer => "integer",
            KeyType::Uuid => "uuid",
        }
    }
}

/// The fields of Django's `AbstractUser` that restauth reads, and what a model without the
/// column has instead (its class default, as SQL).
pub const FIELDS: [(&str, Option<&str>); 10] = [
    ("password", None),
    ("last_login", Some("NULL")),
    ("is_active", Some("TRUE")),
    ("is_staff", Some("FALSE")),
    ("is_superuser", Some("FALSE")),
    ("first_name", Some("''")),
    ("last_name", Some("''")),
    ("date_joined", Some("0")),
    ("email", Some("''")),
    ("username", None),
];

/// A user model's table mapped onto the fields restauth knows.
#[derive(Clone, Debug, PartialEq)]
pub struct UserModel {
    /// The table.
    pub table: String,
    /// The primary key's column.
    pub id: String,
    /// What the key holds.
    pub key_type: KeyType,
    /// The `USERNAME_FIELD` column.
    pub username: String,
    /// The `EMAIL_FIELD` column, if the table has it.
    pub email: Option<String>,
    /// The fields of [`FIELDS`] the table has a column for (the username and e-mail included,
    /// under their field names).
    pub present: Vec<&'static str>,
    /// Those it has not: each reads as its class default.
    pub missing: Vec<&'static str>,
    /// The table's other NOT NULL columns without a database default, with the SQL literal
    /// from `[django] user_defaults` that each new user gets.
    pub defaults: Vec<(String, String)>,
    /// The table's other NOT NULL columns without a database default that `[django]
    /// user_defaults` gives no value (see [`UserModel::check_defaults`]).
    pub unfilled: Vec<String>,
    /// The `[django] user_extra_columns`, with their SQL types.
    pub extras: Vec<(String, String)>,
    /// Every column, as the catalogue gave them.
    pub columns: Vec<TableColumn>,
}

impl UserModel {
    /// Maps `columns` (the catalogue's, of `settings.user_table`) by `settings`; an error names
    /// the setting to fix.
    pub fn map(columns: Vec<TableColumn>, settings: &DjangoSettings) -> Result<UserModel, String> {
        let table = settings.user_table.clone();
        if columns.is_empty() {
            return Err(format!(
                "django.user_table: the database has no table \"{table}\" (run Django's \
                 `python manage.py migrate` first, or name the user model's table: \
                 `python manage.py shell -c \"from django.contrib.auth import get_user_model; \
                 print(get_user_model()._meta.db_table)\"`)"
            ));
        }
        let find = |name: &str| columns.iter().find(|c| c.name == name);
        let keys: Vec<&TableColumn> = columns.iter().filter(|c| c.primary_key).collect();
        let [key] = keys.as_slice() else {
            return Err(format!(
                "django.user_table: \"{table}\" has {} primary key columns; a Django model has one",
                keys.len()
            ));
        };
        let Some(key_type) = KeyType::of(&key.sql_type) else {
            return Err(format!(
                "django.user_table: the primary key \"{}\" of \"{table}\" is of type {}; \
                 restauth keys users by integers or UUIDs",
                key.name, key.sql_type
            ));
        };
        let username_field = settings.username_field.as_str();
        let Some(username) = find(username_field) else {
            return Err(format!(
                "django.username_field: \"{table}\" has no column \"{username_field}\" (its \
                 columns: {}); set it to the model's USERNAME_FIELD",
                names(&columns)
            ));
        };
        if !username.unique {
            return Err(format!(
                "django.username_field: the column \"{username_field}\" of \"{table}\" is not \
                 unique; Django's USERNAME_FIELD must be (unique=True), or logins could match \
                 several users"
            ));
        }
        if find("password").is_none() {
            return Err(format!(
                "django.user_table: \"{table}\" has no password column, so it is not a Django \
                 user model (AbstractBaseUser)"
            ));
        }
        let email_field = settings.email_field.as_str();
        let email = find(email_field).map(|c| c.name.clone());
        let column_of = |field: &str| match field {
            "username" => Some(username_field),
            "email" => email.as_deref(),
            _ => find(field).map(|c| c.name.as_str()),
        };
        let (present, missing): (Vec<&'static str>, Vec<&'static str>) = FIELDS
            .iter()
            .map(|(field, _)| *field)
            .partition(|field| column_of(field).is_some());
        let mapped: Vec<&str> = FIELDS
            .iter()
            .filter_map(|(field, _)| column_of(field))
            .chain([key.name.as_str()])
            .collect();
        let (mut defaults, mut unfilled) = (Vec::new(), Vec::new());
        for c in &columns {
            let required = c.not_null && !c.has_default && !c.primary_key;
            if mapped.contains(&c.name.as_str()) {
                continue;
            }
            match settings.user_defaults.get(&c.name) {
                Some(value) => defaults.push((c.name.clone(), literal(value))),
                None if required => unfilled.push(c.name.clone()),
                None => {}
            }
        }
        for column in settings.user_defaults.keys() {
            if find(column).is_none() {
                return Err(format!(
                    "django.user_defaults: \"{table}\" has no column \"{column}\""
                ));
            }
            if mapped.contains(&column.as_str()) {
                return Err(format!(
                    "django.user_defaults: \"{column}\" is a column restauth writes itself"
                ));
            }
        }
        let mut extras = Vec::new();
        for column in &settings.user_extra_columns {
            let Some(c) = find(column) else {
                return Err(format!(
                    "django.user_extra_columns: \"{table}\" has no column \"{column}\" (its \
                     columns: {})",
                    names(&columns)
                ));
            };
            extras.push((c.name.clone(), c.sql_type.clone()));
        }
        Ok(UserModel {
            id: key.name.clone(),
            key_type,
            username: username.name.clone(),
            table,
            email,
            present,
            missing,
            defaults,
            unfilled,
            extras,
            columns,
        })
    }

    /// Refuses a table restauth could not create users in: a required column without a value
    /// in `[django] user_defaults` (the store's check; an import only reads the table).
    pub fn check_defaults(&self) -> Result<(), String> {
        match self.unfilled.first() {
            None => Ok(()),
            Some(column) => Err(format!(
                "django.user_defaults: the column \"{column}\" of \"{}\" is NOT NULL without a \
                 database default, so every user restauth creates needs a value for it: \
                 [django] user_defaults = {{ {column} = \"\" }}",
                self.table
            )),
        }
    }

    /// The column of `field` (one of [`FIELDS`]), if the table has it.
    pub fn column(&self, field: &str) -> Option<&str> {
        match field {
            "username" => Some(&self.username),
            "email" => self.email.as_deref(),
            _ => self.present.iter().find(|f| **f == field).copied(),
        }
    }

    /// What a model without `field`'s column reads it as (SQL), per [`FIELDS`].
    pub fn class_default(field: &str) -> &'static str {
        FIELDS
            .iter()
            .find(|(f, _)| *f == field)
            .and_then(|(_, d)| *d)
            .unwrap_or("NULL")
    }
}

/// The columns' names, for messages.
fn names(columns: &[TableColumn]) -> String {
    columns
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A settings value as a SQL literal (strings quoted, quotes doubled): the values come from
/// the operator's configuration, and are checked to be scalars by the settings.
fn literal(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        serde_json::Value::Bool(true) => "TRUE".into(),
        serde_json::Value::Bool(false) => "FALSE".into(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => "NULL".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, sql_type: &str) -> TableColumn {
        TableColumn {
            name: name.into(),
            sql_type: sql_type.into(),
            not_null: true,
            has_default: false,
            primary_key: name == "id",
            unique: name == "id",
        }
    }

    /// A cookiecutter-django style model: `AbstractUser` without `username` and the names,
    /// `USERNAME_FIELD = "email"`, and a required `name`.
    fn email_model() -> Vec<TableColumn> {
        let mut email = column("email", "varchar(254)");
        email.unique = true;
        vec![
            column("id", "integer"),
            column("password", "varchar(128)"),
            TableColumn {
                not_null: false,
                ..column("last_login", "datetime")
            },
            column("is_superuser", "bool"),
            column("is_staff", "bool"),
            column("is_active", "bool"),
            column("date_joined", "datetime"),
            email,
            column("name", "varchar(255)"),
        ]
    }

    fn settings() -> DjangoSettings {
        DjangoSettings {
            user_table: "users_user".into(),
            username_field: "email".into(),
            ..DjangoSettings::default()
        }
    }

    #[test]
    fn a_required_column_needs_a_default() {
        let model = UserModel::map(email_model(), &settings()).unwrap();
        let err = model.check_defaults().unwrap_err();
        assert!(
            err.contains("django.user_defaults") && err.contains("\"name\""),
            "{err}"
        );
        let mut s = settings();
        s.user_defaults
            .insert("name".into(), serde_json::Value::String("it's".into()));
        let model = UserModel::map(email_model(), &s).unwrap();
        assert_eq!(model.defaults, vec![("name".into(), "'it''s'".into())]);
        assert!(model.check_defaults().is_ok());
        assert_eq!(model.missing, vec!["first_name", "last_name"]);
        assert_eq!(model.column("username"), Some("email"));
        assert_eq!(model.column("email"), Some("email"));
        assert_eq!(model.key_type, KeyType::Integer);
    }

    #[test]
    fn the_username_must_be_unique_and_exist() {
        let mut s = settings();
        s.username_field = "name".into();
        s.user_defaults.insert("name".into(), "".into());
        let err = UserModel::map(email_model(), &s).unwrap_err();
        assert!(
            err.starts_with("django.username_field") && err.contains("not unique"),
            "{err}"
        );
        s.username_field = "nick".into();
        let err = UserModel::map(email_model(), &s).unwrap_err();
        assert!(err.contains("no column \"nick\""), "{err}");
    }

    #[test]
    fn a_base_user_model_reads_the_class_defaults() {
        let mut email = column("email", "varchar(254)");
        email.unique = true;
        let mut id = column("id", "uuid");
        id.primary_key = true;
        let cols = vec![id, column("password", "varchar(128)"), email];
        let model = UserModel::map(cols, &settings()).unwrap();
        assert_eq!(model.key_type, KeyType::Uuid);
        assert!(model.missing.contains(&"is_staff") && model.missing.contains(&"last_login"));
        assert_eq!(UserModel::class_default("is_active"), "TRUE");
    }

    /// What Django declares for a `UUIDField` key is a UUID; its integer fields are not.
    #[test]
    fn key_types_from_declared_types() {
        for uuid in ["uuid", "char(32)", "CHAR(32)", "varchar(32)", "char( 32 )"] {
            assert_eq!(KeyType::of(uuid), Some(KeyType::Uuid), "{uuid}");
        }
        for int in ["integer", "bigint", "INTEGER", "bigserial"] {
            assert_eq!(KeyType::of(int), Some(KeyType::Integer), "{int}");
        }
        for other in ["", "char(36)", "text"] {
            assert_eq!(KeyType::of(other), None, "{other}");
        }
    }

    #[test]
    fn extras_and_unknown_tables() {
        let mut s = settings();
        s.user_defaults.insert("name".into(), "".into());
        s.user_extra_columns = vec!["name".into()];
        let model = UserModel::map(email_model(), &s).unwrap();
        assert_eq!(model.extras, vec![("name".into(), "varchar(255)".into())]);
        s.user_extra_columns = vec!["nickname".into()];
        assert!(UserModel::map(email_model(), &s).is_err());
        let err = UserModel::map(Vec::new(), &s).unwrap_err();
        assert!(err.starts_with("django.user_table"), "{err}");
    }
}
