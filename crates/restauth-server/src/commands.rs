//! The management commands, named as Django's.

use std::io::{BufRead, IsTerminal, Write};

use restauth::pipeline::audit::{self, AuditEvent};
use restauth::store::{AuditQuery, Change, Holder};
use restauth::{NewAccount, Restauth, User};

use crate::cli::{
    AuditArgs, ChangePasswordArgs, Cli, Command, CreateSuperuserArgs, CreateTokenArgs,
    CreateUserArgs, GrantArgs, GroupsCommand, PermsCommand,
};
use crate::config;

/// The error a command ends with; printed as Django prints a `CommandError`.
pub type CommandResult = Result<(), String>;

pub async fn run(cli: Cli) -> CommandResult {
    if let Command::Check = cli.command {
        // Reports a configuration that does not load instead of stopping at it.
        return crate::check::run(cli.config.as_deref()).await;
    }
    if let Command::InspectDjango(args) = cli.command {
        // Reads a Django database only: no key file, no store of restauth's.
        let config = config::load_checked(cli.config.as_deref()).map_err(|e| e.to_string())?;
        return crate::import_django::inspect::run(&config.settings.django, args).await;
    }
    if let Command::Openapi = &cli.command {
        // A description of the configuration: no key file, no database.
        let config = config::load_checked(cli.config.as_deref()).map_err(|e| e.to_string())?;
        let document = crate::openapi::document(&config.settings, &config.server)
            .to_pretty_json()
            .map_err(|e| e.to_string())?;
        println!("{document}");
        return Ok(());
    }
    if let Command::ImportDjango(args) = &cli.command
        && args.dry_run
    {
        let config = config::load_checked(cli.config.as_deref()).map_err(|e| e.to_string())?;
        if let Some(path) = sqlite_file(&config.settings.database.url)
            && !path.exists()
        {
            return dry_run_into_nothing(config.settings, cli.command).await;
        }
    }
    let config::Config {
        mut settings,
        server,
        openapi,
        metrics,
        email_section,
    } = config::load(cli.config.as_deref()).map_err(|e| e.to_string())?;
    if let Command::Serve(args) = &cli.command {
        let bind = args.bind.clone().unwrap_or_else(|| server.bind.clone());
        if !email_section && is_loopback(&bind) {
            // Development: a reset or activation link can be followed without an SMTP server.
            settings.email.backend = Some(restauth::core::settings::EmailBackend::Console);
            tracing::info!(
                "no [email] section and a loopback address: account mails, links included, \
                 are printed on standard output (email.backend = \"console\", as Django's \
                 console backend)"
            );
        }
        let restauth = Restauth::open(settings).await.map_err(|e| e.to_string())?;
        let store = restauth.store().clone();
        let served = crate::app::serve(restauth.clone(), &server, &openapi, &bind, &metrics).await;
        // Audit rows of the last requests before the database is folded and closed.
        restauth.audit().flush().await;
        // After a clean shutdown the database file alone holds everything.
        checkpoint(store.as_ref()).await;
        store.close().await;
        if served.is_ok() {
            tracing::info!("stopped");
        }
        return served;
    }
    if let Command::Backup(_) = &cli.command
        && !settings.database.url.starts_with("sqlite:")
    {
        return Err(
            "restauth backup copies SQLite databases; back up PostgreSQL with pg_dump \
             (e.g. pg_dump --format=custom --file=restauth.dump DATABASE_URL)"
                .into(),
        );
    }
    let restauth = Restauth::open(settings).await.map_err(|e| e.to_string())?;
    let result = run_command(&restauth, cli.command).await;
    // A command's events are written before it exits.
    restauth.audit().flush().await;
    // A command's writes sit in SQLite's write-ahead log until a checkpoint; fold them into
    // the database file so a copy of that file alone (a backup) has them.
    checkpoint(restauth.store().as_ref()).await;
    result
}

/// The file a `sqlite:` URL names.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty()).then(|| std::path::PathBuf::from(path))
}

/// `import-django --dry-run` into a SQLite store that does not exist yet: checked against an
/// empty store in a temporary folder, removed afterwards, so that a dry run creates no
/// database and no key file where the real run would.
async fn dry_run_into_nothing(mut settings: restauth::Settings, command: Command) -> CommandResult {
    let dir = std::env::temp_dir().join(format!(
        "restauth-dry-run-{}-{}",
        std::process::id(),
        restauth::token::generate_key()
    ));
    std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    settings.database.url = format!("sqlite://{}", dir.join("restauth.db").display());
    if settings.secret_key.is_none() {
        // Nothing it signs outlives the run.
        settings.secret_key = Some(restauth::core::settings::Secret(format!(
            "{}{}",
            restauth::token::generate_key(),
            restauth::token::generate_key()
        )));
    }
    let result = match Restauth::open(settings).await {
        Ok(restauth) => {
            let result = run_command(&restauth, command).await;
            restauth.store().close().await;
            result
        }
        Err(e) => Err(e.to_string()),
    };
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Whether `bind` (`host:port`) listens on a loopback address only.
fn is_loopback(bind: &str) -> bool {
    match bind.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr.ip().is_loopback(),
        Err(_) => bind
            .rsplit_once(':')
            .is_some_and(|(host, _)| host == "localhost"),
    }
}

async fn checkpoint(store: &dyn restauth::store::Database) {
    if let Err(e) = store.checkpoint().await {
        tracing::warn!(error = %e, "could not checkpoint the database");
    }
}

async fn run_command(restauth: &Restauth, command: Command) -> CommandResult {
    match command {
        Command::Serve(_) | Command::Openapi | Command::InspectDjango(_) => Ok(()),
        Command::Migrate(args) => {
            println!("Migrations applied.");
            if args.django_triggers || args.drop_django_triggers {
                restauth
                    .store()
                    .django_triggers(args.django_triggers)
                    .await
                    .map_err(|e| e.to_string())?;
                println!(
                    "{}",
                    if args.django_triggers {
                        "Django triggers added: Django's changes are announced at once."
                    } else {
                        "Django triggers removed."
                    }
                );
            }
            let odd = restauth
                .users()
                .unnormalized_usernames()
                .await
                .map_err(show)?;
            if !odd.is_empty() {
                println!(
                    "{} username(s) not in Unicode NFKC form: run `restauth check` for the list.",
                    odd.len()
                );
            }
            Ok(())
        }
        Command::Check => Ok(()),
        Command::CreateSuperuser(args) => create_superuser(restauth, args).await,
        Command::CreateUser(args) => create_user(restauth, args).await,
        Command::ChangePassword(args) => change_password(restauth, args).await,
        Command::DeactivateUser(a) => {
            let user = existing(restauth, &a.username).await?;
            restauth
                .users()
                .set_active(&user, false)
                .await
                .map_err(show)?;
            println!("User '{}' deactivated.", user.username);
            Ok(())
        }
        Command::ActivateUser(a) => {
            let user = existing(restauth, &a.username).await?;
            restauth
                .users()
                .set_active(&user, true)
                .await
                .map_err(show)?;
            println!("User '{}' activated.", user.username);
            Ok(())
        }
        Command::DeleteUser(a) => {
            let user = existing(restauth, &a.username).await?;
            restauth.users().delete_user(&user).await.map_err(show)?;
            println!("User '{}' deleted.", user.username);
            Ok(())
        }
        Command::DrfCreateToken(args) => create_token(restauth, args).await,
        Command::FlushExpiredTokens => {
            let n = restauth.jwt().flush_expired_tokens().await.map_err(show)?;
            println!("Deleted {n} expired token records.");
            Ok(())
        }
        Command::ClearSessions => {
            let n = restauth
                .sessions()
                .clear_expired_sessions()
                .await
                .map_err(show)?;
            println!("Deleted {n} expired sessions.");
            let events = restauth.audit().prune().await.map_err(show)?;
            if events > 0 {
                println!("Deleted {events} audit events past [audit] retention_days.");
            }
            Ok(())
        }
        Command::ImportDjango(args) => crate::import_django::run(restauth, args).await,
        Command::Audit(args) => audit(restauth, args).await,
        Command::Perms(command) => perms(restauth, command).await,
        Command::Groups(command) => groups(restauth, command).await,
        Command::Backup(args) => {
            if args.path.exists() {
                return Err(format!(
                    "{} already exists: restauth backup never overwrites a file; name a new \
                     one, or move that one away first",
                    args.path.display()
                ));
            }
            restauth
                .store()
                .backup(&args.path)
                .await
                .map_err(|e| e.to_string())?;
            println!("Backup written to {}.", args.path.display());
            Ok(())
        }
    }
}

/// `restauth audit`: the stored events, as a table or as JSON lines.
async fn audit(restauth: &Restauth, args: AuditArgs) -> CommandResult {
    let since_ms = args.since.map(|secs| {
        let secs = i64::try_from(secs).unwrap_or(i64::MAX);
        restauth::core::clock::now_ms().saturating_sub(secs.saturating_mul(1000))
    });
    let events = restauth
        .audit()
        .events(&AuditQuery {
            user_name: args.user,
            since_ms,
            limit: Some(args.limit),
        })
        .await
        .map_err(show)?;
    let mut out = std::io::stdout().lock();
    let write = |out: &mut std::io::StdoutLock<'_>, line: String| {
        writeln!(out, "{line}").map_err(|e| e.to_string())
    };
    if args.json {
        for e in &events {
            write(&mut out, audit::audit_json(e).to_string())?;
        }
        return Ok(());
    }
    write(
        &mut out,
        format!(
            "{:<24} {:<20} {:<8} {:<16} {:<20} {:<16} {:<9} USER AGENT",
            "TIME", "ACTION", "OUTCOME", "REASON", "USER", "SOURCE", "PROVIDER"
        ),
    )?;
    for e in &events {
        // Debug formatting escapes control characters a client may have put in a name or
        // its user agent, so a row stays one line of the terminal.
        let clean = |s: &str| {
            let quoted = format!("{s:?}");
            quoted[1..quoted.len() - 1].to_owned()
        };
        write(
            &mut out,
            format!(
                "{:<24} {:<20} {:<8} {:<16} {:<20} {:<16} {:<9} {}",
                audit::rfc3339_ms(e.at_ms),
                e.action,
                e.outcome,
                clean(&e.reason),
                clean(&e.user_name),
                clean(&e.source_ip),
                e.provider,
                clean(&e.user_agent)
            ),
        )?;
    }
    Ok(())
}

/// `app_label.codename`, split; a name of another shape is refused in words.
fn permission_name(name: &str) -> Result<(&str, &str), String> {
    match name.split_once('.') {
        Some((app, codename))
            if !app.is_empty() && !codename.is_empty() && !codename.contains('.') =>
        {
            Ok((app, codename))
        }
        _ => Err(format!(
            "'{name}' is not a permission name: expected app_label.codename, e.g. notes.add_note"
        )),
    }
}

fn no_permission(name: &str) -> String {
    format!(
        "permission '{name}' does not exist (create it with `restauth perms create {name} \"Name\"`)"
    )
}

fn no_group(name: &str) -> String {
    format!("group '{name}' does not exist (create it with `restauth groups create {name}`)")
}

/// After a change of groups or permissions: every cache here and in other processes lets
/// go of the users it holds, with the permissions read into them.
async fn announce(restauth: &Restauth) -> CommandResult {
    restauth.users().invalidate().await.map_err(show)
}

async fn perms(restauth: &Restauth, command: PermsCommand) -> CommandResult {
    let store = restauth.users().permissions();
    let (args, grant) = match command {
        PermsCommand::Create { permission, name } => {
            let (app, codename) = permission_name(&permission)?;
            if name.trim().is_empty() {
                return Err("a permission needs a name, e.g. \"Can add note\"".into());
            }
            // Django's columns: app_label and codename 100 characters, name 255.
            if app.chars().count() > 100
                || codename.chars().count() > 100
                || name.trim().chars().count() > 255
            {
                return Err(
                    "too long: app_label and codename have at most 100 characters, the name 255"
                        .into(),
                );
            }
            if store
                .create_permission(app, codename, name.trim())
                .await
                .map_err(|e| e.to_string())?
            {
                println!("Permission '{permission}' created.");
            } else {
                println!("Permission '{permission}' already exists.");
            }
            return Ok(());
        }
        PermsCommand::Grant(args) => (args, true),
        PermsCommand::Revoke(args) => (args, false),
    };
    let GrantArgs { group, names } = args;
    let (holder_name, permission) = match (&group, names.as_slice()) {
        (Some(group), [permission]) => (format!("group '{group}'"), permission.clone()),
        (None, [user, permission]) => (format!("user '{user}'"), permission.clone()),
        (Some(_), _) => {
            return Err(
                "with --group, name only the permission: --group GROUP app.codename".into(),
            );
        }
        (None, _) => {
            return Err(
                "name a user and a permission: USER app.codename (or --group GROUP app.codename)"
                    .into(),
            );
        }
    };
    let (app, codename) = permission_name(&permission)?;
    let mut user = None;
    let holder = match (&group, names.as_slice()) {
        (Some(group), _) => Holder::Group(group),
        (None, [username, _]) => {
            let found = existing(restauth, username).await?;
            let id = found.id;
            user = Some(found);
            Holder::User(id)
        }
        (None, _) => return Err("name a user and a permission".into()),
    };
    let change = store
        .set_permission(holder, app, codename, grant)
        .await
        .map_err(|e| e.to_string())?;
    match change {
        Change::NoSuchPermission => return Err(no_permission(&permission)),
        Change::NoSuchGroup => return Err(no_group(group.as_deref().unwrap_or(""))),
        Change::Done if grant => println!("Granted '{permission}' to {holder_name}."),
        Change::Done => println!("Revoked '{permission}' from {holder_name}."),
        Change::Unchanged if grant => println!("The {holder_name} already holds '{permission}'."),
        Change::Unchanged => println!("The {holder_name} does not hold '{permission}' directly."),
    }
    if change == Change::Done {
        let action = if grant {
            audit::PERMISSION_GRANTED
        } else {
            audit::PERMISSION_REVOKED
        };
        let event = match (&user, &group) {
            (Some(user), _) => {
                AuditEvent::for_user(action, audit::SUCCESS, "cli", user).reason(permission.clone())
            }
            (None, group) => AuditEvent {
                action,
                outcome: audit::SUCCESS,
                reason: format!("group {}: {permission}", group.as_deref().unwrap_or("")),
                provider: "cli",
                user_id: None,
                user_name: String::new(),
                source: Default::default(),
            },
        };
        restauth.audit().record(event).await;
    }
    announce(restauth).await
}

async fn groups(restauth: &Restauth, command: GroupsCommand) -> CommandResult {
    let store = restauth.users().permissions();
    let (username, group, member) = match command {
        GroupsCommand::Create { name } => {
            if name.trim().is_empty() || name.len() > 150 {
                return Err("a group name has 1 to 150 characters".into());
            }
            if store.create_group(&name).await.map_err(|e| e.to_string())? {
                println!("Group '{name}' created.");
            } else {
                println!("Group '{name}' already exists.");
            }
            return Ok(());
        }
        GroupsCommand::Add { username, group } => (username, group, true),
        GroupsCommand::Remove { username, group } => (username, group, false),
    };
    let user = existing(restauth, &username).await?;
    let change = store
        .set_membership(user.id, &group, member)
        .await
        .map_err(|e| e.to_string())?;
    let name = &user.username;
    match change {
        Change::NoSuchGroup | Change::NoSuchPermission => return Err(no_group(&group)),
        Change::Done if member => println!("Added '{name}' to group '{group}'."),
        Change::Done => println!("Removed '{name}' from group '{group}'."),
        Change::Unchanged if member => println!("User '{name}' is already in group '{group}'."),
        Change::Unchanged => println!("User '{name}' is not in group '{group}'."),
    }
    if change == Change::Done {
        let action = if member {
            audit::GROUP_JOINED
        } else {
            audit::GROUP_LEFT
        };
        let event = AuditEvent::for_user(action, audit::SUCCESS, "cli", &user).reason(group);
        restauth.audit().record(event).await;
    }
    announce(restauth).await
}

/// Renders a library error for the terminal: validation errors as their messages.
fn show(e: restauth::Error) -> String {
    match e {
        restauth::Error::Validation(v) => v
            .as_json()
            .iter()
            .flat_map(|(field, msgs)| {
                msgs.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m.as_str())
                    .map(move |m| format!("{field}: {m}"))
            })
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

/// The user a command names: the normalised username first, then the exact one.
async fn existing(restauth: &Restauth, username: &str) -> Result<User, String> {
    restauth
        .users()
        .find_user(username)
        .await
        .map_err(show)?
        .ok_or_else(|| format!("user '{username}' does not exist"))
}

async fn create_token(restauth: &Restauth, args: CreateTokenArgs) -> CommandResult {
    let user = restauth
        .users()
        .find_user(&args.username)
        .await
        .map_err(show)?
        .ok_or_else(|| {
            format!(
                "Cannot create the Token: user {} does not exist",
                args.username
            )
        })?;
    // Over Django's tables (one token per user, which issuing returns) a reset deletes it
    // first, as DRF's `drf_create_token -r`.
    if args.reset
        && restauth
            .store()
            .user_token_key(user.id)
            .await
            .map_err(|e| e.to_string())?
            .is_some()
    {
        restauth
            .tokens()
            .revoke_tokens(user.id, None)
            .await
            .map_err(show)?;
    }
    let issued = restauth.tokens().issue_token(user.id).await.map_err(show)?;
    restauth
        .audit()
        .record(AuditEvent::for_user(
            audit::TOKEN_CREATED,
            audit::SUCCESS,
            "cli",
            &user,
        ))
        .await;
    if args.reset {
        let revoked = restauth
            .tokens()
            .revoke_tokens(user.id, Some(issued.record.id))
            .await
            .map_err(show)?;
        restauth
            .audit()
            .record(
                AuditEvent::for_user(audit::TOKEN_REVOKED, audit::SUCCESS, "cli", &user)
                    .reason(format!("{revoked} revoked by drf_create_token --reset")),
            )
            .await;
    }
    println!("Generated token {} for user {}", issued.key, user.username);
    Ok(())
}

const NO_PASSWORD_SOURCE: &str = "No terminal to ask for the password: pass --password-stdin \
     and the password on standard input, or --no-password to create the user with an unusable \
     password (as Django's createsuperuser --noinput does without a password).";

async fn create_user(restauth: &Restauth, args: CreateUserArgs) -> CommandResult {
    let password = if args.no_password {
        None
    } else if args.password_stdin {
        Some(read_stdin_line()?.ok_or(NO_TERMINAL)?)
    } else if std::io::stdin().is_terminal() {
        Some(prompt_new_password()?)
    } else {
        // Without a terminal nothing can be asked; a user silently created without a password
        // could not log in, so that must be asked for by name.
        return Err(NO_PASSWORD_SOURCE.into());
    };
    let account = NewAccount {
        email: args.email,
        password,
        is_active: !args.inactive,
        is_staff: args.staff || args.superuser,
        is_superuser: args.superuser,
        ..NewAccount::new(args.username)
    };
    let user = restauth.users().create_user(account).await.map_err(show)?;
    println!("User '{}' created.", user.username);
    Ok(())
}

async fn create_superuser(restauth: &Restauth, args: CreateSuperuserArgs) -> CommandResult {
    let (username, email, password) = if args.noinput {
        let username = args
            .username
            .ok_or("You must use --username with --noinput.")?;
        let password = std::env::var("RESTAUTH_SUPERUSER_PASSWORD").ok();
        (username, args.email.unwrap_or_default(), password)
    } else if args.password_stdin {
        let username = args.username.unwrap_or_default();
        let password = read_stdin_line()?.ok_or(NO_TERMINAL)?;
        (username, args.email.unwrap_or_default(), Some(password))
    } else {
        let username = match args.username {
            Some(u) => u,
            None => prompt("Username: ")?,
        };
        let email = match args.email {
            Some(e) => e,
            None => prompt("Email address: ")?,
        };
        (username, email, Some(prompt_new_password()?))
    };
    let account = NewAccount {
        email,
        password,
        is_staff: true,
        is_superuser: true,
        ..NewAccount::new(username)
    };
    restauth.users().create_user(account).await.map_err(show)?;
    println!("Superuser created successfully.");
    Ok(())
}

async fn change_password(restauth: &Restauth, args: ChangePasswordArgs) -> CommandResult {
    let user = existing(restauth, &args.username).await?;
    let password = if args.password_stdin {
        read_stdin_line()?.ok_or(NO_TERMINAL)?
    } else {
        println!("Changing password for user '{}'", user.username);
        prompt_new_password()?
    };
    restauth
        .users()
        .set_password(&user, &password)
        .await
        .map_err(show)?;
    println!("Password changed successfully for user '{}'", user.username);
    Ok(())
}

/// What a command that asks for a password says when standard input ends before it.
const NO_TERMINAL: &str = "No terminal to ask for the password: pass --password-stdin and the \
     password on the first line of standard input.";

fn prompt(label: &str) -> Result<String, String> {
    print!("{label}");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let line = read_stdin_line()?.ok_or("No terminal to ask for it: standard input ended.")?;
    Ok(line.trim().to_owned())
}

/// Asks twice without echo on a terminal; reads two lines otherwise, and says to use
/// `--password-stdin` when they are not there (rather than that they differ).
fn prompt_new_password() -> Result<String, String> {
    let read = |label: &str| -> Result<String, String> {
        if std::io::stdin().is_terminal() {
            rpassword::prompt_password(label).map_err(|e| e.to_string())
        } else {
            read_stdin_line()?.ok_or_else(|| NO_TERMINAL.to_owned())
        }
    };
    let first = read("Password: ")?;
    let second = read("Password (again): ")?;
    if first != second {
        return Err("Your passwords didn't match.".into());
    }
    if first.is_empty() {
        return Err("Blank passwords aren't allowed.".into());
    }
    Ok(first)
}

/// One line of standard input without its line ending (other white space is kept); `None`
/// when standard input has ended.
fn read_stdin_line() -> Result<Option<String>, String> {
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    if read == 0 {
        return Ok(None);
    }
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    Ok(Some(
        trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned(),
    ))
}
