//! Command line: Django's management command names.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "restauth",
    version,
    about = "DRF-compatible authentication server"
)]
pub struct Cli {
    /// Configuration file (default: restauth.toml in the working folder, when present).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve(ServeArgs),
    /// Create or update the database schema.
    Migrate(MigrateArgs),
    /// Check the configuration as `serve` would load it (errors: what it refuses to start
    /// with; warnings: what should not be served in production) and the database (usernames
    /// not in Unicode NFKC form). Exits non-zero on errors.
    Check,
    /// Create a superuser (is_staff and is_superuser).
    #[command(name = "createsuperuser")]
    CreateSuperuser(CreateSuperuserArgs),
    /// Create a user.
    #[command(name = "createuser")]
    CreateUser(CreateUserArgs),
    /// Change a user's password (ends their tokens and sessions).
    #[command(name = "changepassword")]
    ChangePassword(ChangePasswordArgs),
    /// Mark a user inactive: every token, session and JWT of theirs stops working.
    #[command(name = "deactivateuser")]
    DeactivateUser(UsernameArg),
    /// Mark a user active again.
    #[command(name = "activateuser")]
    ActivateUser(UsernameArg),
    /// Delete a user and everything they own.
    #[command(name = "deleteuser")]
    DeleteUser(UsernameArg),
    /// Delete outstanding and blacklisted JWT records of expired tokens.
    #[command(name = "flushexpiredtokens")]
    FlushExpiredTokens,
    /// Delete expired and idle sessions.
    #[command(name = "clearsessions")]
    ClearSessions,
    /// Issue an API token for a user and print it.
    #[command(name = "drf_create_token")]
    DrfCreateToken(CreateTokenArgs),
    /// Write a consistent copy of the SQLite database to a new file (also while serving).
    Backup(BackupArgs),
    /// Bring a Django project's users, DRF tokens, simplejwt records and logged-in sessions
    /// into this store (the Django database is only read).
    #[command(name = "import-django")]
    ImportDjango(ImportDjangoArgs),
    /// Read a Django database and print the [django] settings restauth would use beside it:
    /// the user table, its key, the columns found and missing, the hashers and session
    /// backends seen (the database is only read).
    #[command(name = "inspect-django")]
    InspectDjango(InspectDjangoArgs),
    /// Print the OpenAPI 3.1 description of this configuration's endpoints (JSON), as
    /// `/api/schema/` serves it with `[openapi] enabled = true`.
    Openapi,
    /// Print the stored security events (logins, token and password changes, replays,
    /// lock-outs), oldest first.
    Audit(AuditArgs),
    /// Django's permissions (`app_label.codename`): create one, grant it to a user or a
    /// group, revoke it.
    #[command(subcommand)]
    Perms(PermsCommand),
    /// Django's groups: create one, add a user to it, take a user out of it.
    #[command(subcommand)]
    Groups(GroupsCommand),
}

#[derive(Subcommand, Debug)]
pub enum PermsCommand {
    /// Create a permission: `restauth perms create notes.add_note "Can add note"`.
    Create {
        /// `app_label.codename`.
        permission: String,
        /// The human-readable name.
        name: String,
    },
    /// Grant a permission to a user (`grant USER app.codename`) or a group
    /// (`grant --group GROUP app.codename`).
    Grant(GrantArgs),
    /// Revoke a permission from a user or a group, as `grant` names them.
    Revoke(GrantArgs),
}

#[derive(Args, Debug)]
pub struct GrantArgs {
    /// The group to grant to (or revoke from), instead of a user.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// `USER app_label.codename`, or with `--group` only `app_label.codename`.
    #[arg(required = true, num_args = 1..=2, value_name = "USER|PERMISSION")]
    pub names: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum GroupsCommand {
    /// Create a group.
    Create { name: String },
    /// Add a user to a group.
    Add { username: String, group: String },
    /// Take a user out of a group.
    Remove { username: String, group: String },
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Only the events of this username.
    #[arg(long, value_name = "USERNAME")]
    pub user: Option<String>,
    /// Only events of the last DURATION: a number and a unit, s, m, h, d or w (e.g. 1d, 12h).
    #[arg(long, value_name = "DURATION", value_parser = parse_since)]
    pub since: Option<u64>,
    /// One JSON object a line (ECS fields), instead of a table.
    #[arg(long)]
    pub json: bool,
    /// At most this many events, the newest.
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
}

/// `1d` → seconds.
fn parse_since(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit, e.g. 1d or 12h"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("{text:?}: the unit must be s, m, h, d or w")),
    };
    n.checked_mul(unit_secs)
        .ok_or_else(|| format!("{text:?}: too long"))
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// With schema_flavor = "django" on PostgreSQL: add triggers to Django's user, token and
    /// session tables that NOTIFY restauth of Django's changes (the only change restauth ever
    /// makes to Django's tables).
    #[arg(long, conflicts_with = "drop_django_triggers")]
    pub django_triggers: bool,
    /// Remove the triggers --django-triggers added.
    #[arg(long)]
    pub drop_django_triggers: bool,
}

/// Which Django database, and its user model where the settings do not say.
#[derive(Args, Debug)]
pub struct DjangoSource {
    /// The Django database: a SQLite file (path or sqlite:///path/db.sqlite3) or
    /// postgres://user@host/db. Opened read-only.
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The user model's table (a custom user model: e.g. users_user). Default: [django]
    /// user_table (auth_user); inspect-django looks for it.
    #[arg(long, value_name = "TABLE")]
    pub user_table: Option<String>,
    /// The user model's USERNAME_FIELD (e.g. email): its value becomes the restauth username.
    /// Default: [django] username_field (username); inspect-django guesses it.
    #[arg(long, value_name = "COLUMN")]
    pub username_field: Option<String>,
}

#[derive(Args, Debug)]
pub struct ImportDjangoArgs {
    #[command(flatten)]
    pub source: DjangoSource,
    /// A file holding the Django SECRET_KEY on its first line (then any
    /// SECRET_KEY_FALLBACKS, one a line), to check and carry over the sessions.
    #[arg(long, value_name = "PATH")]
    pub django_secret_key_file: Option<PathBuf>,
    /// Read and check everything and report what would change, writing nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct InspectDjangoArgs {
    #[command(flatten)]
    pub source: DjangoSource,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The file to create (mode 0600); an existing file is never overwritten.
    pub path: PathBuf,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on, overriding [server] bind (port 0 picks a free port).
    #[arg(long, value_name = "HOST:PORT")]
    pub bind: Option<String>,
}

#[derive(Args, Debug)]
pub struct CreateSuperuserArgs {
    #[arg(long)]
    pub username: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    /// Do not prompt; the password comes from RESTAUTH_SUPERUSER_PASSWORD (else none is set).
    #[arg(long = "noinput", alias = "no-input")]
    pub noinput: bool,
    /// Read the password from the first line of standard input (with --username).
    #[arg(long, conflicts_with = "noinput", requires = "username")]
    pub password_stdin: bool,
}

#[derive(Args, Debug)]
pub struct CreateUserArgs {
    pub username: String,
    #[arg(long, default_value = "")]
    pub email: String,
    #[arg(long)]
    pub staff: bool,
    #[arg(long)]
    pub superuser: bool,
    #[arg(long)]
    pub inactive: bool,
    /// Read the password from the first line of standard input.
    #[arg(long, conflicts_with = "no_password")]
    pub password_stdin: bool,
    /// Create the user with an unusable password (no password login until one is set), as
    /// Django's `createsuperuser --noinput` does without a password.
    #[arg(long)]
    pub no_password: bool,
}

#[derive(Args, Debug)]
pub struct ChangePasswordArgs {
    pub username: String,
    /// Read the new password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Args, Debug)]
pub struct UsernameArg {
    pub username: String,
}

#[derive(Args, Debug)]
pub struct CreateTokenArgs {
    pub username: String,
    /// Revoke the user's other tokens.
    #[arg(short = 'r', long = "reset")]
    pub reset: bool,
}
