//! Rows into records, the same for every backend: both schemas use the same column names.

use sqlx::{ColumnIndex, Database, Decode, Row, Type};

use super::{SessionRecord, TokenRecord};
use crate::user::User;

pub(crate) fn user<'r, R, DB>(row: &'r R) -> Result<User, sqlx::Error>
where
    R: Row<Database = DB>,
    DB: Database,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, DB> + Type<DB>,
    bool: Decode<'r, DB> + Type<DB>,
    String: Decode<'r, DB> + Type<DB>,
{
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        password: row.try_get("password")?,
        is_active: row.try_get("is_active")?,
        is_staff: row.try_get("is_staff")?,
        is_superuser: row.try_get("is_superuser")?,
        date_joined: row.try_get("date_joined")?,
        last_login: row.try_get("last_login")?,
        valid_after: row.try_get("valid_after")?,
    })
}

/// A token from columns aliased `t_id`, `t_digest`, … (or unprefixed with `prefix = ""`).
pub(crate) fn token<'r, R, DB>(row: &'r R, prefix: &str) -> Result<TokenRecord, sqlx::Error>
where
    R: Row<Database = DB>,
    DB: Database,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, DB> + Type<DB>,
    String: Decode<'r, DB> + Type<DB>,
{
    let col = |c: &str| format!("{prefix}{c}");
    Ok(TokenRecord {
        id: row.try_get(col("id").as_str())?,
        digest: row.try_get(col("digest").as_str())?,
        user_id: row.try_get(col("user_id").as_str())?,
        created: row.try_get(col("created").as_str())?,
        last_used: row.try_get(col("last_used").as_str())?,
        expires: row.try_get(col("expires").as_str())?,
    })
}

/// A session from columns aliased `s_digest`, `s_user_id`, ….
pub(crate) fn session<'r, R, DB>(row: &'r R) -> Result<SessionRecord, sqlx::Error>
where
    R: Row<Database = DB>,
    DB: Database,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, DB> + Type<DB>,
    String: Decode<'r, DB> + Type<DB>,
{
    Ok(SessionRecord {
        digest: row.try_get("s_digest")?,
        user_id: row.try_get("s_user_id")?,
        auth_hash: row.try_get("s_auth_hash")?,
        created: row.try_get("s_created")?,
        last_seen: row.try_get("s_last_seen")?,
        expires: row.try_get("s_expires")?,
    })
}
