//! Rows into records, the same for every backend: both schemas use the same column names.

use sqlx::{ColumnIndex, Database, Decode, Row, Type};

use super::{OutstandingToken, RotatedToken, SessionRecord, TokenRecord};
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

/// The query `rotated` reads: the rotated outstanding token `$1` and, joined on its
/// `successor`, the successor's row.
pub(crate) const ROTATED: &str = "SELECT o.family, o.rotated_at, s.jti AS s_jti, \
    s.user_id AS s_user_id, s.family AS s_family, s.created_at AS s_created_at, \
    s.expires_at AS s_expires_at FROM token_blacklist_outstandingtoken o \
    LEFT JOIN token_blacklist_outstandingtoken s ON s.jti = o.successor \
    WHERE o.jti = $1 AND o.rotated_at IS NOT NULL";

/// A rotated token from a row of [`ROTATED`].
pub(crate) fn rotated<'r, R, DB>(row: &'r R) -> Result<RotatedToken, sqlx::Error>
where
    R: Row<Database = DB>,
    DB: Database,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, DB> + Type<DB>,
    String: Decode<'r, DB> + Type<DB>,
{
    let successor = match (
        row.try_get::<Option<String>, _>("s_jti")?,
        row.try_get::<Option<i64>, _>("s_user_id")?,
    ) {
        (Some(jti), Some(user_id)) => Some(OutstandingToken {
            jti,
            user_id,
            family: row.try_get("s_family")?,
            created_at: row.try_get("s_created_at")?,
            expires_at: row.try_get("s_expires_at")?,
        }),
        _ => None,
    };
    Ok(RotatedToken {
        family: row.try_get("family")?,
        rotated_at: row.try_get("rotated_at")?,
        successor,
    })
}
