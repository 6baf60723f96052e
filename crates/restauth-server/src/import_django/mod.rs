//! `restauth import-django`: a Django project's users, DRF tokens, simplejwt records and
//! logged-in sessions, brought into restauth's store so that nobody has to log in again.
//!
//! The Django database is only read (a read-only connection, one read-only transaction). Every
//! row is read and checked first (password formats, session signatures and auth hashes);
//! then everything is written in one transaction of restauth's store, so a failure part-way
//! leaves the store as it was. `--dry-run` does the same and rolls the transaction back.

pub mod inspect;
mod source;

use std::collections::HashMap;
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use restauth::Restauth;
use restauth::core::settings::DjangoSettings;
use restauth::django::{StoredPassword, classify_password, session};
use restauth::store::catalog::UserModel;
use restauth::store::{
    DjangoImport, ImportCounts, ImportOutcome, ImportedBlacklisted, ImportedSession, ImportedToken,
    ImportedUser, OutstandingToken,
};

use crate::cli::ImportDjangoArgs;
use source::{Cell, Cells, Location, Source, identifier, quote};

/// Rows read from Django, checked, and what was left out before the store saw them.
struct Read {
    batch: DjangoImport,
    skipped: ImportOutcome,
    /// Tables the project does not have (an app not installed), by what they hold.
    missing: Vec<&'static str>,
}

pub async fn run(restauth: &Restauth, args: ImportDjangoArgs) -> Result<(), String> {
    let keys = match &args.django_secret_key_file {
        Some(path) => Some(read_secret_keys(path)?),
        None => None,
    };
    let location = Location::parse(&args.source.from)?;
    let mut source = Source::open(&location).await?;
    let django = source_settings(restauth, &args);
    let read = read_all(&mut source, &args, &django, keys.as_deref()).await;
    source.close().await;
    let read = read?;

    let total = (read.batch.users.len()
        + read.batch.tokens.len()
        + read.batch.outstanding.len()
        + read.batch.blacklisted.len()
        + read.batch.sessions.len()) as u64;
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} rows ({eta})")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    bar.set_message(if args.dry_run {
        "checking"
    } else {
        "importing"
    });
    let ticker = bar.clone();
    let progress = move |n: u64| ticker.set_position(n);
    let secret = restauth
        .settings()
        .secret_key
        .as_ref()
        .map(|s| s.0.clone())
        .unwrap_or_default();
    let auth_hash = move |password: &str| restauth::session::session_auth_hash(password, &secret);
    let outcome = restauth
        .store()
        .import_django(&read.batch, &auth_hash, args.dry_run, &progress)
        .await
        .map_err(|e| format!("the import failed and nothing was written: {e}"))?;
    bar.finish_and_clear();

    if !outcome.conflicts.is_empty() {
        let mut msg = format!(
            "the import was stopped and nothing was written: {} Django user(s) collide with \
             users restauth already has (import into an empty store, or remove or rename \
             these first):",
            outcome.conflicts.len()
        );
        for c in &outcome.conflicts {
            msg.push_str("\n  ");
            msg.push_str(c);
        }
        return Err(msg);
    }
    if outcome.committed {
        // Caches of running servers must not hide what changed (renamed, deactivated users).
        restauth
            .store()
            .announce_change()
            .await
            .map_err(|e| e.to_string())?;
    }
    print_report(&args, &read, &outcome);
    Ok(())
}

/// The project's `[django]` settings, with what the command line says instead.
fn source_settings(restauth: &Restauth, args: &ImportDjangoArgs) -> DjangoSettings {
    let mut django = restauth.settings().django.clone();
    if let Some(table) = &args.source.user_table {
        django.user_table = table.clone();
    }
    if let Some(field) = &args.source.username_field {
        django.username_field = field.clone();
    }
    django
}

/// The largest id the import takes: 2⁵³−1 travels exactly as a JSON number, and leaves the id
/// sequence room for the users made after the import.
const MAX_IMPORTED_ID: i64 = (1 << 53) - 1;

/// Why a user row is left out, if it is: an id outside 1..2⁵³−1, or a username with control
/// characters or longer than Django's field allows (`username` 150, an e-mail 254).
fn refused_user(id: i64, username: &str, username_field: &str) -> Option<String> {
    if !(1..=MAX_IMPORTED_ID).contains(&id) {
        return Some("id outside 1..2^53-1".into());
    }
    if username.is_empty() {
        return Some(format!("empty {username_field}"));
    }
    if username.chars().any(char::is_control) {
        return Some(format!("{username_field} with control characters"));
    }
    let longest = if username_field == "username" {
        150
    } else {
        254
    };
    if username.chars().count() > longest {
        return Some(format!("{username_field} longer than {longest} characters"));
    }
    None
}

/// `SECRET_KEY` on the first line, then any `SECRET_KEY_FALLBACKS`, one a line.
fn read_secret_keys(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--django-secret-key-file: {}: {e}", path.display()))?;
    let keys: Vec<String> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if keys.is_empty() {
        return Err(format!(
            "--django-secret-key-file: {} is empty (it must hold the Django project's SECRET_KEY)",
            path.display()
        ));
    }
    Ok(keys)
}

/// A user's key from the user table: an integer, or a refusal of the whole import that says
/// why (a UUID key, or one that is neither).
fn user_key(cell: Option<Cell>, table: &str) -> Result<Option<i64>, String> {
    let text = match cell {
        None => return Ok(None),
        Some(Cell::Int(n)) => return Ok(Some(n)),
        Some(Cell::Text(t)) => t,
    };
    match restauth::UserId::parse(&text) {
        Some(restauth::UserId::Int(n)) => Ok(Some(n)),
        Some(restauth::UserId::Uuid(u)) => Err(format!(
            "--from: the user model's primary key is a UUID ({table:?}.id holds {u}): \
             restauth's own schema keys users by integers, and new numbers would break every \
             token, JWT and session that names a user by its UUID. Nothing was imported. Serve \
             the Django project's own tables instead: [database] schema_flavor = \"django\" \
             (see the Django chapter of the book)"
        )),
        None => Err(format!(
            "--from: {table:?}.id holds {text:?}, neither an integer nor a UUID: restauth \
             cannot key a user by it. Nothing was imported"
        )),
    }
}

fn int(row: &Cells, i: usize) -> Option<i64> {
    match row.get(i)? {
        Some(Cell::Int(v)) => Some(*v),
        Some(Cell::Text(t)) => t.trim().parse().ok(),
        None => None,
    }
}

fn text(row: &Cells, i: usize) -> Option<String> {
    match row.get(i)? {
        Some(Cell::Text(t)) => Some(t.clone()),
        Some(Cell::Int(v)) => Some(v.to_string()),
        None => None,
    }
}

fn flag(row: &Cells, i: usize) -> bool {
    int(row, i).is_some_and(|v| v != 0)
}

async fn read_all(
    source: &mut Source,
    args: &ImportDjangoArgs,
    django: &DjangoSettings,
    keys: Option<&[String]>,
) -> Result<Read, String> {
    let now_ms = restauth::core::clock::now_ms();
    let now = now_ms.div_euclid(1000);
    let user_table = identifier(&django.user_table, "--user-table")?;
    let username_field = identifier(&django.username_field, "--username-field")?;
    if !source.table_exists("django_migrations").await? {
        return Err(format!(
            "--from: {} is not a Django database (it has no django_migrations table)",
            args.source.from
        ));
    }
    if !source.table_exists(&user_table).await? {
        return Err(format!(
            "--from: the Django database has no table {user_table:?} (a custom user model? \
             name its table with --user-table, e.g. --user-table accounts_user)"
        ));
    }
    let mut skipped = ImportOutcome::default();
    let mut missing = Vec::new();
    let mut batch = DjangoImport {
        now_ms,
        ..DjangoImport::default()
    };

    // Users. The username restauth keeps is Django's USERNAME_FIELD; a field the model has no
    // column for reads as its class default (`AbstractBaseUser` has no flags or names).
    let columns = source.columns(&user_table).await?;
    let model = UserModel::map(columns, django).map_err(|e| format!("--from: {e}"))?;
    let ms = |c: &str| source.millis(c);
    let value = |field: &str| match model.column(field) {
        Some(c) => quote(c),
        None => UserModel::class_default(field).to_owned(),
    };
    let time = |field: &str| match model.column(field) {
        Some(c) => ms(&quote(c)),
        None => "CAST(NULL AS BIGINT)".to_owned(),
    };
    let flag_of = |field: &str| {
        format!(
            "CAST(CASE WHEN {} THEN 1 ELSE 0 END AS BIGINT)",
            value(field)
        )
    };
    let sql = format!(
        "SELECT CAST({id} AS TEXT), CAST({u} AS TEXT), CAST({email} AS TEXT), \
         CAST({first} AS TEXT), CAST({last} AS TEXT), CAST(password AS TEXT), \
         {active}, {staff}, {superuser}, {joined}, {last_login} FROM {t} ORDER BY {id}",
        id = quote(&model.id),
        u = quote(&username_field),
        email = value("email"),
        first = value("first_name"),
        last = value("last_name"),
        active = flag_of("is_active"),
        staff = flag_of("is_staff"),
        superuser = flag_of("is_superuser"),
        joined = time("date_joined"),
        last_login = time("last_login"),
        t = quote(&user_table),
    );
    let rows = source
        .rows(sql)
        .await
        .map_err(|e| format!("--from: cannot read the users of {user_table:?}: {e}"))?;
    // Django's password hash of every user, imported or not, for the session checks.
    let mut django_users: HashMap<i64, (String, Option<i64>, bool)> = HashMap::new();
    // Every key is read as text first: a UUID cast to an integer would become the number of
    // its leading digits, and users would merge. Nothing is written unless each is an integer.
    for row in &rows {
        user_key(row.first().cloned().flatten(), &user_table)?;
    }
    for row in &rows {
        let Some(id) = user_key(row.first().cloned().flatten(), &user_table)? else {
            skipped.users.skip("no id");
            continue;
        };
        let username = text(row, 1).unwrap_or_default();
        let password = text(row, 5).unwrap_or_default();
        let last_login_ms = int(row, 10);
        if let Some(reason) = refused_user(id, &username, &username_field) {
            skipped.users.skip(reason);
            django_users.insert(id, (password, last_login_ms, false));
            continue;
        }
        let password = match classify_password(&password) {
            StoredPassword::Known => password,
            // Stays unusable, as Django wrote it (so a second run sees no change); an empty
            // one becomes the bare unusable prefix.
            StoredPassword::Unusable if password.is_empty() => "!".to_owned(),
            StoredPassword::Unusable => password,
            StoredPassword::Unknown(algorithm) => {
                skipped
                    .users
                    .skip(format!("unknown password hash algorithm {algorithm:?}"));
                django_users.insert(id, (password, last_login_ms, false));
                continue;
            }
        };
        django_users.insert(id, (text(row, 5).unwrap_or_default(), last_login_ms, true));
        batch.users.push(ImportedUser {
            id,
            email: text(row, 2).unwrap_or_default(),
            username,
            first_name: text(row, 3).unwrap_or_default(),
            last_name: text(row, 4).unwrap_or_default(),
            password,
            is_active: flag(row, 6),
            is_staff: flag(row, 7),
            is_superuser: flag(row, 8),
            date_joined: int(row, 9).unwrap_or(now_ms).div_euclid(1000),
            last_login: int(row, 10).map(|t| t.div_euclid(1000)),
        });
    }

    // DRF tokens: only the digest of each key is kept, as restauth keeps its own.
    if source.table_exists("authtoken_token").await? {
        let sql = format!(
            "SELECT CAST(key AS TEXT), CAST(user_id AS BIGINT), {} FROM authtoken_token",
            source.millis("created")
        );
        let rows = source
            .rows(sql)
            .await
            .map_err(|e| format!("--from: cannot read authtoken_token: {e}"))?;
        for row in &rows {
            let (Some(key), Some(user_id)) = (text(row, 0), int(row, 1)) else {
                skipped.tokens.skip("no key or no user");
                continue;
            };
            // DRF's keys are always 40 hexadecimal characters: anything else was not made by
            // DRF, and a short one would be guessable.
            if key.len() != 40 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
                skipped
                    .tokens
                    .skip("key is not 40 hexadecimal characters, as DRF's keys are");
                continue;
            }
            batch.tokens.push(ImportedToken {
                digest: hex::encode(restauth::token::digest(&key)),
                user_id,
                created: int(row, 2).unwrap_or(now_ms),
            });
        }
    } else {
        missing.push("DRF tokens (authtoken_token)");
    }

    // simplejwt's records: refresh tokens handed out, and the blacklisted ones.
    if source
        .table_exists("token_blacklist_outstandingtoken")
        .await?
    {
        let sql = format!(
            "SELECT CAST(jti AS TEXT), CAST(user_id AS BIGINT), {}, {} \
             FROM token_blacklist_outstandingtoken",
            source.millis("created_at"),
            source.millis("expires_at")
        );
        let rows = source
            .rows(sql)
            .await
            .map_err(|e| format!("--from: cannot read token_blacklist_outstandingtoken: {e}"))?;
        for row in &rows {
            let Some(jti) = text(row, 0).filter(|j| !j.is_empty()) else {
                skipped.outstanding.skip("no jti");
                continue;
            };
            let Some(user_id) = int(row, 1) else {
                skipped.outstanding.skip("no user (deleted on Django)");
                continue;
            };
            let expires_at = int(row, 3).unwrap_or(0).div_euclid(1000);
            if expires_at <= now {
                skipped.outstanding.skip("expired");
                continue;
            }
            let created_at = int(row, 2).map_or(now, |t| t.div_euclid(1000));
            batch.outstanding.push(OutstandingToken {
                family: jti.clone(),
                jti,
                user_id: restauth::UserId::Int(user_id),
                created_at,
                expires_at,
            });
        }
        if source
            .table_exists("token_blacklist_blacklistedtoken")
            .await?
        {
            let sql = format!(
                "SELECT CAST(o.jti AS TEXT), {}, {} FROM token_blacklist_blacklistedtoken b \
                 JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id",
                source.millis("b.blacklisted_at"),
                source.millis("o.expires_at")
            );
            let rows = source.rows(sql).await.map_err(|e| {
                format!("--from: cannot read token_blacklist_blacklistedtoken: {e}")
            })?;
            for row in &rows {
                let Some(jti) = text(row, 0).filter(|j| !j.is_empty()) else {
                    skipped.blacklisted.skip("no jti");
                    continue;
                };
                let expires_at = int(row, 2).unwrap_or(0).div_euclid(1000);
                if expires_at <= now {
                    skipped.blacklisted.skip("expired");
                    continue;
                }
                batch.blacklisted.push(ImportedBlacklisted {
                    jti,
                    blacklisted_at: int(row, 1).map_or(now, |t| t.div_euclid(1000)),
                    expires_at,
                });
            }
        } else {
            missing.push("blacklisted JWTs (token_blacklist_blacklistedtoken)");
        }
    } else {
        missing.push("simplejwt's records (token_blacklist_outstandingtoken)");
    }

    // Sessions: each live one, signed with the SECRET_KEY, of a logged-in user whose
    // password is still the one it was made with.
    if source.table_exists("django_session").await? {
        let sql = format!(
            "SELECT CAST(session_key AS TEXT), CAST(session_data AS TEXT), {} FROM django_session",
            source.millis("expire_date")
        );
        let rows = source
            .rows(sql)
            .await
            .map_err(|e| format!("--from: cannot read django_session: {e}"))?;
        let mut checked = 0u64;
        let mut bad_signatures = 0u64;
        for row in &rows {
            let (Some(key), Some(data)) = (text(row, 0), text(row, 1)) else {
                skipped.sessions.skip("no key or no data");
                continue;
            };
            let expires = int(row, 2).unwrap_or(0).div_euclid(1000);
            if expires <= now {
                skipped.sessions.skip("expired");
                continue;
            }
            if !restauth::session::is_valid_key(&key) {
                skipped
                    .sessions
                    .skip("key not of Django's form (32 characters of a-z0-9)");
                continue;
            }
            let Some(keys) = keys else {
                skipped
                    .sessions
                    .skip("no --django-secret-key-file to check its signature");
                continue;
            };
            checked += 1;
            let decoded = match session::decode(&data, keys) {
                Ok(d) => d,
                Err(session::SessionError::BadSignature) => {
                    bad_signatures += 1;
                    skipped
                        .sessions
                        .skip("bad signature (not signed with the given SECRET_KEY)");
                    continue;
                }
                Err(session::SessionError::Malformed) => {
                    skipped
                        .sessions
                        .skip("data not in the format of Django 3.1 or later");
                    continue;
                }
                Err(e) => {
                    skipped.sessions.skip(format!("undecodable data ({e})"));
                    continue;
                }
            };
            let Some(user_id) = decoded.user_id else {
                skipped.sessions.skip("no logged-in user");
                continue;
            };
            // Django's get_user refuses a backend the project does not list.
            let backend = decoded.backend.unwrap_or_default();
            if !django.authentication_backends.contains(&backend) {
                skipped.sessions.skip(format!(
                    "_auth_user_backend {backend:?} is not in [django] authentication_backends"
                ));
                continue;
            }
            let Ok(user_id) = user_id.parse::<i64>() else {
                skipped.sessions.skip("user id is not an integer");
                continue;
            };
            let Some((django_password, last_login_ms, imported)) = django_users.get(&user_id)
            else {
                skipped.sessions.skip("its user is not in the user table");
                continue;
            };
            if !imported {
                skipped.sessions.skip("its user was not imported");
                continue;
            }
            let Some(hash) = decoded.auth_hash else {
                skipped.sessions.skip("no _auth_user_hash");
                continue;
            };
            if !session::auth_hash_matches(&hash, django_password, keys) {
                skipped.sessions.skip(
                    "_auth_user_hash does not match the user's password (changed since that login)",
                );
                continue;
            }
            batch.sessions.push(ImportedSession {
                digest: hex::encode(restauth::session::digest(&key)),
                user_id,
                // The session was made at a login no later than the user's last one: a
                // restauth cut-off after that login ends it.
                created: last_login_ms.map_or(now_ms, |l| l.min(now_ms)),
                expires,
            });
        }
        if checked > 0 && bad_signatures == checked {
            return Err(format!(
                "every one of the {checked} live sessions fails its signature check: \
                 --django-secret-key-file does not hold this project's SECRET_KEY \
                 (nothing was written)"
            ));
        }
    } else {
        missing.push("sessions (django_session)");
    }
    Ok(Read {
        batch,
        skipped,
        missing,
    })
}

fn print_report(args: &ImportDjangoArgs, read: &Read, outcome: &ImportOutcome) {
    if args.dry_run {
        println!("Dry run: nothing was written. A real run would do this:");
    } else {
        println!(
            "Imported from {}:",
            restauth::store::redact_url(&args.source.from)
        );
    }
    let rows = [
        ("Users", &read.skipped.users, &outcome.users),
        ("DRF tokens", &read.skipped.tokens, &outcome.tokens),
        (
            "JWT outstanding tokens",
            &read.skipped.outstanding,
            &outcome.outstanding,
        ),
        (
            "JWT blacklisted tokens",
            &read.skipped.blacklisted,
            &outcome.blacklisted,
        ),
        ("Sessions", &read.skipped.sessions, &outcome.sessions),
    ];
    for (label, before, after) in rows {
        let mut skipped = before.skipped.clone();
        for (reason, n) in &after.skipped {
            *skipped.entry(reason.clone()).or_default() += n;
        }
        let counts = ImportCounts {
            skipped,
            ..after.clone()
        };
        println!(
            "{label}: {} imported, {} updated, {} unchanged, {} skipped",
            counts.imported,
            counts.updated,
            counts.unchanged,
            counts.skipped_total()
        );
        for (reason, n) in &counts.skipped {
            println!("  skipped {n}: {reason}");
        }
        for (remark, n) in &counts.notes {
            println!("  note {n}: {remark}");
        }
    }
    for m in &read.missing {
        println!("Not in this database: {m}; nothing of it imported.");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rows_restauth_cannot_keep_are_refused() {
        use super::refused_user;
        assert_eq!(refused_user(1, "ann", "username"), None);
        assert!(refused_user(0, "ann", "username").is_some());
        assert!(refused_user(9_223_372_036_854_775_807, "ann", "username").is_some());
        assert_eq!(refused_user((1 << 53) - 1, "ann", "username"), None);
        assert!(refused_user(2, "an\nn", "username").is_some());
        assert!(refused_user(2, "a\u{1b}[31m", "username").is_some());
        assert!(refused_user(2, &"a".repeat(151), "username").is_some());
        assert_eq!(refused_user(2, &"a".repeat(151), "email"), None);
        assert!(
            refused_user(2, "", "email")
                .unwrap()
                .contains("empty email")
        );
    }
}
