//! `restauth inspect-django --from URL`: what restauth finds in a Django database, printed as
//! the settings it would use beside it, so that a team starts from a correct file. Only reads.

use std::collections::BTreeMap;

use restauth::core::settings::DjangoSettings;
use restauth::django::signing;
use restauth::store::catalog::{FIELDS, TableColumn, UserModel};

use super::source::{Cell, Location, Source, identifier, quote};
use crate::cli::InspectDjangoArgs;

/// Django's hasher class of each stored algorithm (`<algorithm>$…`).
const HASHERS: [(&str, &str); 8] = [
    (
        "pbkdf2_sha256",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ),
    (
        "pbkdf2_sha1",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    ),
    ("argon2", "django.contrib.auth.hashers.Argon2PasswordHasher"),
    (
        "bcrypt_sha256",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    ),
    ("bcrypt", "django.contrib.auth.hashers.BCryptPasswordHasher"),
    ("scrypt", "django.contrib.auth.hashers.ScryptPasswordHasher"),
    ("md5", "django.contrib.auth.hashers.MD5PasswordHasher"),
    ("sha1", "django.contrib.auth.hashers.SHA1PasswordHasher"),
];

pub async fn run(django: &DjangoSettings, args: InspectDjangoArgs) -> Result<(), String> {
    let location = Location::parse(&args.source.from)?;
    let mut source = Source::open(&location).await?;
    let report = inspect(&mut source, django, &args, &restauth_url(&location)).await;
    source.close().await;
    println!("{}", report?);
    Ok(())
}

async fn inspect(
    source: &mut Source,
    django: &DjangoSettings,
    args: &InspectDjangoArgs,
    url: &str,
) -> Result<String, String> {
    if !source.table_exists("django_migrations").await? {
        return Err(format!(
            "--from: {} is not a Django database (it has no django_migrations table)",
            args.source.from
        ));
    }
    let mut settings = django.clone();
    let table = match &args.source.user_table {
        Some(t) => identifier(t, "--user-table")?,
        None => user_table(source).await?,
    };
    settings.user_table = table.clone();
    let columns = source.columns(&table).await?;
    settings.username_field = match &args.source.username_field {
        Some(f) => identifier(f, "--username-field")?,
        None => username_field(&columns),
    };
    let model = UserModel::map(columns, &settings).map_err(|e| format!("--from: {e}"))?;
    let hashers = hashers_seen(source, &table).await?;
    let backends = backends_seen(source).await?;

    let mut out = String::new();
    let line = |out: &mut String, text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(
        &mut out,
        format!("# What restauth found in {}", shown(&args.source.from)),
    );
    line(
        &mut out,
        format!(
            "# user table: {table} (primary key {}: {})",
            model.id,
            model.key_type.name()
        ),
    );
    let found: Vec<&str> = model.columns.iter().map(|c| c.name.as_str()).collect();
    line(&mut out, format!("# columns found: {}", found.join(", ")));
    let missing: Vec<String> = model
        .missing
        .iter()
        .map(|f| format!("{f} (= {})", UserModel::class_default(f)))
        .collect();
    line(
        &mut out,
        format!(
            "# fields without a column, read as Django's class defaults: {}",
            if missing.is_empty() {
                "none".to_owned()
            } else {
                missing.join(", ")
            }
        ),
    );
    let mapped: Vec<&str> = FIELDS
        .iter()
        .filter_map(|(f, _)| model.column(f))
        .chain([model.id.as_str()])
        .collect();
    let others: Vec<&str> = found
        .iter()
        .copied()
        .filter(|c| !mapped.contains(c))
        .collect();
    if !others.is_empty() {
        line(
            &mut out,
            format!(
                "# the model's own columns (readable with user_extra_columns): {}",
                others.join(", ")
            ),
        );
    }
    line(
        &mut out,
        format!("# password hashers seen: {}", counted(&hashers)),
    );
    line(
        &mut out,
        format!("# session backends seen: {}", counted(&backends)),
    );
    out.push('\n');
    line(&mut out, "[database]".into());
    line(&mut out, "schema_flavor = \"django\"".into());
    line(&mut out, format!("url = {url:?}"));
    out.push('\n');
    line(&mut out, "[django]".into());
    line(&mut out, format!("user_table = {table:?}"));
    line(&mut out, format!("username_field = {:?}", model.username));
    if let Some(email) = &model.email {
        line(&mut out, format!("email_field = {email:?}"));
    }
    let mut defaults: Vec<String> = settings
        .user_defaults
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    defaults.extend(model.unfilled.iter().map(|c| format!("{c} = \"\"")));
    if !defaults.is_empty() {
        line(&mut out, "# required columns without a database default: the value each user restauth creates gets".into());
        line(
            &mut out,
            format!("user_defaults = {{ {} }}", defaults.join(", ")),
        );
    }
    let mut backends: Vec<&str> = backends.keys().map(String::as_str).collect();
    if backends.is_empty() {
        backends.push(settings.session_backend());
    }
    let quoted: Vec<String> = backends.iter().map(|b| format!("{b:?}")).collect();
    line(
        &mut out,
        format!("authentication_backends = [{}]", quoted.join(", ")),
    );
    let classes: Vec<String> = hashers
        .keys()
        .map(|algorithm| {
            HASHERS.iter().find(|(a, _)| a == algorithm).map_or_else(
                || format!("# unknown: {algorithm}"),
                |(_, c)| format!("{c:?}"),
            )
        })
        .collect();
    if !classes.is_empty() {
        line(
            &mut out,
            format!(
                "# Django's PASSWORD_HASHERS must include: {}",
                classes.join(", ")
            ),
        );
    }
    Ok(out.trim_end().to_owned())
}

/// The user model's table: `auth_user` if the project has it, else the one table whose columns
/// make an `AbstractBaseUser` (`password` and `last_login`).
async fn user_table(source: &mut Source) -> Result<String, String> {
    if source.table_exists("auth_user").await? {
        return Ok("auth_user".into());
    }
    let tables = source.tables().await?;
    let mut candidates = Vec::new();
    for table in tables {
        if identifier(&table, "table").is_err() {
            continue;
        }
        let columns = source.columns(&table).await?;
        let has = |n: &str| columns.iter().any(|c| c.name == n);
        if has("password") && has("last_login") {
            candidates.push(table);
        }
    }
    match candidates.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(
            "--from: no table looks like a Django user model (password and last_login \
                   columns); name it with --user-table"
                .into(),
        ),
        several => Err(format!(
            "--from: several tables look like a Django user model ({}); name one with \
             --user-table",
            several.join(", ")
        )),
    }
}

/// The likely `USERNAME_FIELD`: `username` or `email` when unique, else the first unique text
/// column that is not the key.
fn username_field(columns: &[TableColumn]) -> String {
    let unique_text = |c: &&TableColumn| {
        c.unique && !c.primary_key && (c.sql_type.contains("char") || c.sql_type.contains("text"))
    };
    for preferred in ["username", "email"] {
        if columns
            .iter()
            .filter(unique_text)
            .any(|c| c.name == preferred)
        {
            return preferred.into();
        }
    }
    columns
        .iter()
        .find(unique_text)
        .map_or_else(|| "username".into(), |c| c.name.clone())
}

/// How many stored hashes each algorithm has (unusable passwords left out).
async fn hashers_seen(source: &mut Source, table: &str) -> Result<BTreeMap<String, i64>, String> {
    let algorithm = source.algorithm("password");
    let sql = format!(
        "SELECT CAST({algorithm} AS TEXT), CAST(COUNT(*) AS BIGINT) FROM {} \
         WHERE password NOT LIKE '!%' AND password <> '' GROUP BY 1",
        quote(table)
    );
    let rows = source
        .rows(sql)
        .await
        .map_err(|e| format!("--from: cannot read the password hashes: {e}"))?;
    Ok(rows
        .iter()
        .filter_map(|r| match (r.first(), r.get(1)) {
            (Some(Some(Cell::Text(a))), Some(Some(Cell::Int(n)))) => Some((a.clone(), *n)),
            _ => None,
        })
        .collect())
}

/// How many sessions name each `_auth_user_backend` (read without the key: a report only).
async fn backends_seen(source: &mut Source) -> Result<BTreeMap<String, i64>, String> {
    let mut seen = BTreeMap::new();
    if !source.table_exists("django_session").await? {
        return Ok(seen);
    }
    let rows = source
        .rows("SELECT CAST(session_data AS TEXT) FROM django_session".into())
        .await
        .map_err(|e| format!("--from: cannot read django_session: {e}"))?;
    for row in rows {
        let Some(Some(Cell::Text(data))) = row.first() else {
            continue;
        };
        if let Ok(value) = signing::peek(data)
            && let Some(backend) = value.get("_auth_user_backend").and_then(|b| b.as_str())
        {
            *seen.entry(backend.to_owned()).or_insert(0) += 1;
        }
    }
    Ok(seen)
}

fn counted(seen: &BTreeMap<String, i64>) -> String {
    if seen.is_empty() {
        return "none".into();
    }
    seen.iter()
        .map(|(k, n)| format!("{k} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `[database] url` of the same database, as restauth names it (a password left out).
fn restauth_url(location: &Location) -> String {
    match location {
        Location::Sqlite(path) => {
            let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            format!("sqlite://{}", path.display())
        }
        Location::Postgres(url) => restauth::store::redact_url(url),
    }
}

/// The URL without its password.
fn shown(from: &str) -> String {
    restauth::store::redact_url(from)
}
