//! `restauth import-django`: a Django project's rows into restauth's own schema, in one long
//! write transaction, row by row, so that every decision sees what the rows before it wrote.
//! Its statements name restauth's own tables: over a Django project's tables there is nothing
//! to import.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::core::user::CutOffCause;

use super::{Bind, Dialect, On, Query, SqlStore, Tx};
use crate::store::{
    Credential, DjangoImport, ImportOutcome, ImportStore, StoreError, classify,
    password_fingerprint,
};

/// A user as the import finds it in restauth.
struct Existing {
    id: i64,
    username: String,
    password: String,
    /// When restauth last cut the user's credentials off, and why (a password change made on
    /// restauth is one; a rehash at login is not).
    valid_after: i64,
    cut_off_cause: i64,
}

#[async_trait]
impl<D: Dialect> ImportStore for SqlStore<D> {
    async fn import_django(
        &self,
        batch: &DjangoImport,
        session_auth_hash: &(dyn for<'a> Fn(&'a str) -> String + Send + Sync),
        dry_run: bool,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<ImportOutcome, StoreError> {
        if !self.schema.own() {
            return Err(StoreError::Other(
                "import-django: with schema_flavor = \"django\" restauth already works on \
                 Django's own tables; there is nothing to import"
                    .into(),
            ));
        }
        // No deadline: a large import is one long transaction; each statement still has the
        // database's own timeout.
        self.long_op("import_django", async {
            let mut tx = self.begin_write().await?;
            let outcome = Self::import_rows(&mut tx, batch, session_auth_hash, progress).await;
            let outcome = match outcome {
                Ok(o) => o,
                Err(e) => {
                    let _ = tx.rollback().await;
                    return Err(e);
                }
            };
            if dry_run || !outcome.conflicts.is_empty() {
                tx.rollback().await.map_err(classify)?;
                return Ok(outcome);
            }
            tx.commit().await.map_err(classify)?;
            self.added(Credential::Token);
            self.added(Credential::Session);
            Ok(ImportOutcome {
                committed: true,
                ..outcome
            })
        })
        .await
    }
}

impl<D: Dialect> SqlStore<D> {
    async fn existing_user(
        tx: &mut Tx<D::DB>,
        q: Query<D::DB>,
    ) -> Result<Option<Existing>, StoreError> {
        let Some(r) = Self::row(On::Tx(tx), q).await? else {
            return Ok(None);
        };
        Ok(Some(Existing {
            id: r.get("id")?,
            username: r.get("username")?,
            password: r.get("password")?,
            valid_after: r.get("valid_after")?,
            cut_off_cause: r.get("cut_off_cause")?,
        }))
    }

    async fn import_record(
        tx: &mut Tx<D::DB>,
        kind: &str,
        key: &str,
    ) -> Result<Option<(String, i64)>, StoreError> {
        let sql = "SELECT fingerprint, imported_at FROM restauth_django_import \
                   WHERE kind = $1 AND source_key = $2";
        let row = Self::row(On::Tx(tx), sqlx::query(sql).arg(kind).arg(key)).await?;
        row.map(|r| Ok((r.get(0)?, r.get(1)?))).transpose()
    }

    async fn record_import(
        tx: &mut Tx<D::DB>,
        kind: &str,
        key: &str,
        fingerprint: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO restauth_django_import (kind, source_key, fingerprint, imported_at) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (kind, source_key) DO UPDATE \
                   SET fingerprint = excluded.fingerprint, imported_at = excluded.imported_at";
        let q = sqlx::query(sql).arg(kind).arg(key).arg(fingerprint).arg(at);
        Self::write_in(tx, q).await.map(|_| ())
    }

    async fn import_rows(
        tx: &mut Tx<D::DB>,
        batch: &DjangoImport,
        session_auth_hash: &(dyn for<'a> Fn(&'a str) -> String + Send + Sync),
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<ImportOutcome, StoreError> {
        const BY_ID: &str = "SELECT id, username, password, valid_after, cut_off_cause \
                             FROM auth_user WHERE id = $1";
        const BY_NAME: &str = "SELECT id, username, password, valid_after, cut_off_cause \
                               FROM auth_user WHERE username = $1";
        let now_ms = batch.now_ms;
        let now = now_ms.div_euclid(1000);
        let mut out = ImportOutcome::default();
        let mut done = 0u64;
        let mut tick = || {
            done += 1;
            progress(done);
        };
        // The restauth users the rest may refer to: imported now or by an earlier run.
        let mut present: HashMap<i64, String> = HashMap::new();
        let mut inserted_ids = false;

        for u in &batch.users {
            tick();
            let key = u.id.to_string();
            let fingerprint = u.fingerprint();
            let by_id = Self::existing_user(tx, sqlx::query(BY_ID).arg(u.id)).await?;
            let by_name =
                Self::existing_user(tx, sqlx::query(BY_NAME).arg(u.username.as_str())).await?;
            let name_taken = by_name.as_ref().filter(|e| e.id != u.id);
            let Some((record, imported_at)) = Self::import_record(tx, "user", &key).await? else {
                if let Some(e) = &by_id {
                    out.conflicts.push(format!(
                        "Django user {} ({:?}): id {} belongs to the restauth user {:?}",
                        u.id, u.username, u.id, e.username
                    ));
                    continue;
                }
                if let Some(e) = name_taken {
                    out.conflicts.push(format!(
                        "Django user {} ({:?}): the username belongs to the restauth user \
                         with id {}",
                        u.id, u.username, e.id
                    ));
                    continue;
                }
                let q = sqlx::query(
                    "INSERT INTO auth_user (id, username, email, first_name, last_name, \
                     password, is_active, is_staff, is_superuser, date_joined, last_login) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .arg(u.id)
                .arg(u.username.as_str())
                .arg(u.email.as_str())
                .arg(u.first_name.as_str())
                .arg(u.last_name.as_str())
                .arg(u.password.as_str())
                .arg(u.is_active)
                .arg(u.is_staff)
                .arg(u.is_superuser)
                .arg(u.date_joined)
                .arg(u.last_login);
                Self::write_in(tx, q).await?;
                Self::record_import(tx, "user", &key, &fingerprint, now_ms).await?;
                inserted_ids = true;
                present.insert(u.id, u.password.clone());
                out.users.imported += 1;
                continue;
            };
            // Imported before.
            let Some(current) = by_id else {
                out.users
                    .skip("deleted on restauth since an earlier import");
                continue;
            };
            if record == fingerprint {
                present.insert(u.id, current.password);
                out.users.unchanged += 1;
                continue;
            }
            if let Some(e) = name_taken {
                out.conflicts.push(format!(
                    "Django user {} renamed to {:?}: that username belongs to the restauth \
                     user with id {}",
                    u.id, u.username, e.id
                ));
                continue;
            }
            let (old_password_fp, _) = record.split_once(':').unwrap_or((record.as_str(), ""));
            let django_password_changed = old_password_fp != password_fingerprint(&u.password);
            // Changed on restauth since the import: a password change cuts the credentials
            // off; a rehash at login changes the stored hash but not the password.
            let restauth_changed_it = current.valid_after >= imported_at
                && current.cut_off_cause == CutOffCause::PasswordChanged.code()
                && password_fingerprint(&current.password) != old_password_fp;
            let restauth_kept_it = !restauth_changed_it;
            let password = if django_password_changed && restauth_kept_it {
                u.password.clone()
            } else {
                if django_password_changed {
                    out.users
                        .note("password changed on Django and on restauth: restauth's kept");
                }
                current.password.clone()
            };
            let q = sqlx::query(
                "UPDATE auth_user SET username = $1, email = $2, first_name = $3, \
                 last_name = $4, password = $5, is_active = $6, is_staff = $7, \
                 is_superuser = $8, date_joined = $9 WHERE id = $10",
            )
            .arg(u.username.as_str())
            .arg(u.email.as_str())
            .arg(u.first_name.as_str())
            .arg(u.last_name.as_str())
            .arg(password.as_str())
            .arg(u.is_active)
            .arg(u.is_staff)
            .arg(u.is_superuser)
            .arg(u.date_joined)
            .arg(u.id);
            Self::write_in(tx, q).await?;
            Self::record_import(tx, "user", &key, &fingerprint, now_ms).await?;
            present.insert(u.id, password);
            out.users.updated += 1;
        }
        if !out.conflicts.is_empty() {
            return Ok(out);
        }
        if inserted_ids && let Some(sync) = D::SYNC_USER_IDS {
            Self::row(On::Tx(tx), sqlx::query(sync)).await?;
        }

        for t in &batch.tokens {
            tick();
            if !present.contains_key(&t.user_id) {
                out.tokens.skip("its user was not imported");
                continue;
            }
            let owner = sqlx::query("SELECT user_id FROM authtoken_token WHERE digest = $1")
                .arg(t.digest.as_str());
            if let Some(row) = Self::row(On::Tx(tx), owner).await? {
                let owner: i64 = row.get(0)?;
                if owner == t.user_id {
                    out.tokens.unchanged += 1;
                } else {
                    out.tokens.skip("the key belongs to another restauth user");
                }
                continue;
            }
            if Self::import_record(tx, "token", &t.digest).await?.is_some() {
                out.tokens
                    .skip("revoked on restauth since an earlier import");
                continue;
            }
            let q = sqlx::query(
                "INSERT INTO authtoken_token (digest, user_id, created) VALUES ($1, $2, $3)",
            )
            .arg(t.digest.as_str())
            .arg(t.user_id)
            .arg(t.created);
            Self::write_in(tx, q).await?;
            Self::record_import(tx, "token", &t.digest, "", now_ms).await?;
            out.tokens.imported += 1;
        }

        for o in &batch.outstanding {
            tick();
            if !o
                .user_id
                .as_int()
                .is_some_and(|id| present.contains_key(&id))
            {
                out.outstanding.skip("its user was not imported");
                continue;
            }
            let q = sqlx::query(
                "INSERT INTO token_blacklist_outstandingtoken \
                 (jti, user_id, family, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (jti) DO NOTHING",
            )
            .arg(o.jti.as_str())
            .arg(o.user_id)
            .arg(o.family.as_str())
            .arg(o.created_at)
            .arg(o.expires_at);
            if Self::write_in(tx, q).await? > 0 {
                out.outstanding.imported += 1;
            } else {
                out.outstanding.unchanged += 1;
            }
        }

        for b in &batch.blacklisted {
            tick();
            let q = sqlx::query(
                "INSERT INTO token_blacklist_blacklistedtoken (jti, blacklisted_at, expires_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
            )
            .arg(b.jti.as_str())
            .arg(b.blacklisted_at)
            .arg(b.expires_at);
            if Self::write_in(tx, q).await? > 0 {
                out.blacklisted.imported += 1;
            } else {
                out.blacklisted.unchanged += 1;
            }
        }

        for s in &batch.sessions {
            tick();
            let Some(password) = present.get(&s.user_id) else {
                out.sessions.skip("its user was not imported");
                continue;
            };
            let live =
                sqlx::query("SELECT 1 FROM auth_session WHERE digest = $1").arg(s.digest.as_str());
            if Self::row(On::Tx(tx), live).await?.is_some() {
                out.sessions.unchanged += 1;
                continue;
            }
            if Self::import_record(tx, "session", &s.digest)
                .await?
                .is_some()
            {
                out.sessions
                    .skip("ended on restauth since an earlier import");
                continue;
            }
            let auth_hash = session_auth_hash(password);
            let q = sqlx::query(
                "INSERT INTO auth_session (digest, user_id, auth_hash, created, last_seen, expires) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .arg(s.digest.as_str())
            .arg(s.user_id)
            .arg(auth_hash.as_str())
            .arg(s.created)
            .arg(now)
            .arg(s.expires);
            Self::write_in(tx, q).await?;
            Self::record_import(tx, "session", &s.digest, "", now_ms).await?;
            out.sessions.imported += 1;
        }
        Ok(out)
    }
}
