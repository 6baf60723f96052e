//! Users, the networks they log in from, and their passwords, with what a new password or a
//! cut-off ends.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;

use super::{Bind, Dialect, SqlStore, Tx, stmt};
use crate::core::user::{CutOffCause, User, UserId};
use crate::store::{
    EmailMatch, KeptCredential, LoginNetworkStore, NewUser, PasswordStore, Revocation, StoreError,
    UserPage, UserQuery, UserStore, classify,
};

impl<D: Dialect> SqlStore<D> {
    /// Moves the user's cut-off to `revoke`'s and ends every API token and session of the
    /// user but the one it keeps, which is re-dated past the cut-off.
    /// Over Django's tables: blacklists the user's outstanding refresh tokens, so that
    /// simplejwt on Django refuses them as restauth's cut-off does (`at`: now, ms).
    pub(crate) async fn blacklist_refresh_in(
        &self,
        tx: &mut Tx<D::DB>,
        user_id: UserId,
        at: i64,
    ) -> Result<(), StoreError> {
        if let Some(revoke) = &self.sql.jwt.revoke_user {
            Self::write_in(tx, stmt(revoke).arg(user_id).arg(at)).await?;
        }
        Ok(())
    }

    async fn revoke_in(
        &self,
        tx: &mut Tx<D::DB>,
        user_id: UserId,
        revoke: &Revocation,
    ) -> Result<(), StoreError> {
        let q = stmt(&self.sql.users.raise_valid_after)
            .arg(user_id)
            .arg(revoke.cut_off)
            .arg(CutOffCause::PasswordChanged.code());
        Self::write_in(tx, q).await?;
        self.blacklist_refresh_in(tx, user_id, revoke.cut_off)
            .await?;
        let (token, session) = match &revoke.keep {
            KeptCredential::Nothing => (None, ""),
            KeptCredential::Token { id, .. } => (Some(*id), ""),
            KeptCredential::Session { digest, .. } => (None, digest.as_str()),
        };
        let q = stmt(&self.sql.tokens.delete_user_tokens)
            .arg(user_id)
            .arg(token);
        Self::write_in(tx, q).await?;
        self.end_sessions_in(tx, user_id, session).await?;
        match &revoke.keep {
            KeptCredential::Nothing => {}
            KeptCredential::Token { id, created } => {
                let q = stmt(&self.sql.tokens.redate).arg(*created);
                // Where DRF's tokens are keyed by UUIDs, the user names the token.
                let q = if self.schema.uuid_keys() {
                    q.arg(user_id)
                } else {
                    q.arg(*id)
                };
                let q = q.arg(user_id);
                Self::write_in(tx, q).await?;
            }
            KeptCredential::Session {
                digest,
                auth_hash,
                created,
            } => {
                self.keep_session_in(tx, user_id, digest, auth_hash, *created)
                    .await?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl<D: Dialect> UserStore for SqlStore<D> {
    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        self.op("create_user", async {
            let mut q = stmt(&self.sql.users.create);
            // Only the fields the user model has a column for, in the statement's order.
            for (field, _) in self.schema.users.inserted() {
                q = match field {
                    "username" => q.arg(user.username.as_str()),
                    "email" => q.arg(user.email.as_str()),
                    "first_name" => q.arg(user.first_name.as_str()),
                    "last_name" => q.arg(user.last_name.as_str()),
                    "password" => q.arg(user.password.as_str()),
                    "is_active" => q.arg(user.is_active),
                    "is_staff" => q.arg(user.is_staff),
                    "is_superuser" => q.arg(user.is_superuser),
                    _ => q.arg(user.date_joined),
                };
            }
            // Django gives a UUID key its value in Python (`default=uuid.uuid4`): restauth
            // gives it, after the fields.
            if self.schema.uuid_keys() {
                q = q.arg(UserId::Uuid(crate::core::user_id::Uuid::new_v4()));
            }
            self.schema.users.refuse_unkept(user)?;
            let created = self.read_written(q).await?;
            let id: UserId = match created {
                Some(row) => row.get(0)?,
                None => return Err(StoreError::Other("a new user has no id".into())),
            };
            // Through the writer: the new row must be seen at once.
            match self
                .read_written(stmt(&self.sql.users.by_id).arg(id))
                .await?
            {
                Some(row) => Self::user(&row),
                None => Err(StoreError::Other(format!("the new user {id} is gone"))),
            }
        })
        .await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        // A key of the other kind names no user (and PostgreSQL would refuse to compare it).
        if id.kind() != self.schema.key_kind() {
            return Ok(None);
        }
        self.op("user_by_id", async {
            let row = self.read_row(stmt(&self.sql.users.by_id).arg(id)).await?;
            row.map(|r| Self::user(&r)).transpose()
        })
        .await
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.op("user_by_username", async {
            let q = stmt(&self.sql.users.by_username).arg(username);
            let row = self.read_row(q).await?;
            row.map(|r| Self::user(&r)).transpose()
        })
        .await
    }

    async fn users_by_email(&self, email: &str) -> Result<Vec<User>, StoreError> {
        self.schema.own_only("look users up by e-mail")?;
        self.op("users_by_email", async {
            let rows = self
                .read_rows(stmt(&self.sql.users.by_email).arg(email))
                .await?;
            rows.iter().map(Self::user).collect()
        })
        .await
    }

    async fn user_by_login_email(&self, email: &str) -> Result<EmailMatch, StoreError> {
        self.op("user_by_login_email", async {
            let rows = self
                .read_rows(stmt(&self.sql.users.by_login_email).arg(email))
                .await?;
            Ok(match rows.as_slice() {
                [] => EmailMatch::None,
                [row] => EmailMatch::One(Box::new(Self::user(row)?)),
                _ => EmailMatch::Several,
            })
        })
        .await
    }

    async fn search_users(&self, query: &UserQuery) -> Result<UserPage, StoreError> {
        // Over Django's tables too: a field the model lacks reads as its class default.
        let users = &self.schema.users;
        let (username, email) = (users.username.of("u"), users.email.of("u"));
        // Each term is one placeholder, used twice; only placeholders and the map's column
        // names are formatted into the statement, never the terms.
        let mut filter = String::new();
        for n in 1..=query.terms.len() {
            filter.push_str(if n == 1 { " WHERE " } else { " AND " });
            filter.push_str(&format!(
                "(LOWER({username}) LIKE LOWER(${n}) ESCAPE '\\' \
                 OR LOWER({email}) LIKE LOWER(${n}) ESCAPE '\\')"
            ));
        }
        let patterns: Vec<String> = query.terms.iter().map(|t| like_contains(t)).collect();
        let (select, from) = (&self.sql.users.select, &self.sql.users.from);
        let count_sql = format!("SELECT COUNT(*) FROM {from}{filter}");
        let page_sql = format!(
            "SELECT {select} FROM {from}{filter} ORDER BY u.{} LIMIT ${} OFFSET ${}",
            users.id.name,
            patterns.len() + 1,
            patterns.len() + 2
        );
        self.op("search_users", async {
            let mut count_q = sqlx::query(AssertSqlSafe(count_sql));
            let mut page_q = sqlx::query(AssertSqlSafe(page_sql));
            for p in &patterns {
                count_q = count_q.arg(p.as_str());
                page_q = page_q.arg(p.as_str());
            }
            let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
            let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
            let page_q = page_q.arg(limit).arg(offset);
            let count: i64 = match self.read_row(count_q).await? {
                Some(r) => r.get(0)?,
                None => 0,
            };
            let users = self
                .read_rows(page_q)
                .await?
                .iter()
                .map(Self::user)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(UserPage {
                count: u64::try_from(count).unwrap_or(0),
                users,
            })
        })
        .await
    }

    async fn non_ascii_usernames(&self) -> Result<Vec<String>, StoreError> {
        // A name longer in bytes than in characters holds a non-ASCII character.
        self.op("non_ascii_usernames", async {
            let rows = self
                .read_rows(stmt(&self.sql.users.non_ascii_usernames))
                .await?;
            rows.iter().map(|r| r.get(0)).collect()
        })
        .await
    }

    async fn set_active(&self, user_id: UserId, active: bool) -> Result<bool, StoreError> {
        if !self.schema.users.is_active.exists() {
            return Err(StoreError::Unsupported(format!(
                "the user model's table {} has no is_active column: its users cannot be \
                 deactivated",
                self.schema.users.table
            )));
        }
        self.op("set_active", async {
            let mut tx = self.begin_write().await?;
            let q = stmt(&self.sql.users.set_active).arg(active).arg(user_id);
            let exists = Self::write_in(&mut tx, q).await? > 0;
            if exists && let Some(mark) = &self.sql.users.mark_admin {
                Self::write_in(&mut tx, stmt(mark).arg(active).arg(user_id)).await?;
            }
            tx.commit().await.map_err(classify)?;
            Ok(exists)
        })
        .await
    }

    async fn activate_user(&self, user_id: UserId) -> Result<bool, StoreError> {
        self.schema.own_only("activate a user")?;
        self.op("activate_user", async {
            let q = stmt(&self.sql.users.activate)
                .arg(true)
                .arg(user_id)
                .arg(false);
            Ok(self.write(q).await? > 0)
        })
        .await
    }

    async fn set_last_login(&self, user_id: UserId, at: i64) -> Result<(), StoreError> {
        self.op("set_last_login", async {
            let q = stmt(&self.sql.users.set_last_login).arg(at).arg(user_id);
            self.write(q).await.map(|_| ())
        })
        .await
    }

    async fn update_email(
        &self,
        user_id: UserId,
        email: &str,
        deactivate: bool,
    ) -> Result<bool, StoreError> {
        self.schema.own_only("change an e-mail")?;
        self.op("update_email", async {
            let q = stmt(&self.sql.users.update_email)
                .arg(email)
                .arg(deactivate)
                .arg(false)
                .arg(user_id);
            Ok(self.write(q).await? > 0)
        })
        .await
    }

    async fn set_valid_after(
        &self,
        user_id: UserId,
        at: i64,
        cause: CutOffCause,
    ) -> Result<bool, StoreError> {
        self.op("set_valid_after", async {
            let mut tx = self.begin_write().await?;
            let q = stmt(&self.sql.users.raise_valid_after)
                .arg(user_id)
                .arg(at)
                .arg(cause.code());
            let exists = Self::write_in(&mut tx, q).await? > 0;
            if exists && !self.schema.own() {
                // Django knows no cut-off: what it would still accept goes too.
                let q = stmt(&self.sql.tokens.delete_user_tokens)
                    .arg(user_id)
                    .arg(None::<i64>);
                Self::write_in(&mut tx, q).await?;
                self.end_sessions_in(&mut tx, user_id, "").await?;
                self.blacklist_refresh_in(&mut tx, user_id, at).await?;
            }
            tx.commit().await.map_err(classify)?;
            Ok(exists)
        })
        .await
    }

    async fn delete_user(&self, user_id: UserId) -> Result<bool, StoreError> {
        self.op("delete_user", async {
            // Django's link tables have no cascade: the user's groups and permissions go first.
            let unlink = match self.schema.own() {
                true => None,
                false => self.permission_sql().await?.map(|p| &p.unlink_user),
            };
            let mut tx = self.begin_write().await?;
            self.end_sessions_in(&mut tx, user_id, "").await?;
            for sql in &self.sql.users.dependents {
                Self::write_in(&mut tx, stmt(sql).arg(user_id)).await?;
            }
            for sql in unlink.into_iter().flatten() {
                let q = sqlx::query(AssertSqlSafe(sql.clone())).arg(user_id);
                Self::write_in(&mut tx, q).await?;
            }
            let gone = Self::write_in(&mut tx, stmt(&self.sql.users.delete).arg(user_id)).await?;
            tx.commit().await.map_err(classify)?;
            Ok(gone > 0)
        })
        .await
    }
}

#[async_trait]
impl<D: Dialect> LoginNetworkStore for SqlStore<D> {
    async fn record_login_network(
        &self,
        user_id: UserId,
        network: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO restauth_login_network (user_id, network, last_success) \
                   VALUES ({}, $2, $3) ON CONFLICT (user_id, network) DO UPDATE SET last_success = \
                   CASE WHEN excluded.last_success > restauth_login_network.last_success \
                   THEN excluded.last_success ELSE restauth_login_network.last_success END",
            self.schema.user_ref("$1")
        );
        self.op("record_login_network", async {
            let q = sqlx::query(AssertSqlSafe(sql.clone()))
                .arg(user_id)
                .arg(network)
                .arg(at);
            self.write(q).await.map(|_| ())
        })
        .await
    }

    async fn login_network_seen(
        &self,
        username: &str,
        network: &str,
    ) -> Result<Option<i64>, StoreError> {
        self.op("login_network_seen", async {
            let q = stmt(&self.sql.users.login_network_seen)
                .arg(username)
                .arg(network);
            let row = self.read_row(q).await?;
            row.map(|r| r.get(0)).transpose()
        })
        .await
    }
}

#[async_trait]
impl<D: Dialect> PasswordStore for SqlStore<D> {
    async fn set_password(
        &self,
        user_id: UserId,
        hash: &str,
        revoke: Option<&Revocation>,
    ) -> Result<bool, StoreError> {
        if revoke.is_some_and(|r| r.keep != KeptCredential::Nothing) {
            self.schema
                .own_only("change a password keeping one credential")?;
        }
        self.op("set_password", async {
            let mut tx = self.begin_write().await?;
            let q = stmt(&self.sql.users.set_password).arg(hash).arg(user_id);
            let updated = Self::write_in(&mut tx, q).await? > 0;
            if updated && let Some(revoke) = revoke {
                self.revoke_in(&mut tx, user_id, revoke).await?;
            }
            tx.commit().await.map_err(classify)?;
            Ok(updated)
        })
        .await
    }

    async fn upgrade_password(
        &self,
        user_id: UserId,
        old_hash: &str,
        new_hash: &str,
        old_auth_hash: &str,
        new_auth_hash: &str,
    ) -> Result<bool, StoreError> {
        self.op("upgrade_password", async {
            let mut tx = self.begin_write().await?;
            let q = stmt(&self.sql.users.replace_password)
                .arg(new_hash)
                .arg(user_id)
                .arg(old_hash);
            let upgraded = Self::write_in(&mut tx, q).await? > 0;
            if upgraded {
                self.restamp_sessions_in(&mut tx, user_id, old_auth_hash, new_auth_hash)
                    .await?;
            }
            tx.commit().await.map_err(classify)?;
            Ok(upgraded)
        })
        .await
    }

    async fn reset_password(
        &self,
        user_id: UserId,
        old_hash: &str,
        new_hash: &str,
        cut_off: i64,
        last_login: i64,
    ) -> Result<bool, StoreError> {
        self.schema.own_only("reset a password")?;
        self.op("reset_password", async {
            let mut tx = self.begin_write().await?;
            let q = stmt(&self.sql.users.replace_password)
                .arg(new_hash)
                .arg(user_id)
                .arg(old_hash);
            let updated = Self::write_in(&mut tx, q).await? > 0;
            if updated {
                let q = stmt(&self.sql.users.set_last_login)
                    .arg(last_login)
                    .arg(user_id);
                Self::write_in(&mut tx, q).await?;
                self.revoke_in(&mut tx, user_id, &Revocation::all(cut_off))
                    .await?;
            }
            tx.commit().await.map_err(classify)?;
            Ok(updated)
        })
        .await
    }
}

/// A `LIKE` pattern (escape `\\`) matching text that contains `term` literally.
fn like_contains(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}
