//! Sessions: restauth's rows by digest, or Django's own `django_session` (signed data by key)
//! with restauth's notes of each beside it. The layouts differ beyond their columns, so the
//! operations that touch them branch on the layout here, and nowhere else.

use async_trait::async_trait;

use super::statements::SessionStatements;
use super::{Bind, Dialect, On, Row, SqlStore, Tx, needs_key, stmt};
use crate::core::user::{User, UserId};
use crate::store::{
    Credential, NewSession, Origin, Presented, SessionDevice, SessionRecord, SessionStore,
    StoreError, classify, key_digest, unsupported,
};

impl<D: Dialect> SqlStore<D> {
    /// Deletes the session presented, in `tx`; how many went.
    async fn delete_session_in(
        &self,
        tx: &mut Tx<D::DB>,
        session: Presented<'_>,
    ) -> Result<u64, StoreError> {
        match &self.sql.sessions {
            SessionStatements::Rows { delete, .. } => {
                Self::write_in(tx, stmt(delete).arg(session.digest)).await
            }
            SessionStatements::Django { keys, .. } => {
                match Self::key_of(On::Tx(tx), session, Some(keys)).await? {
                    Some(key) => self.delete_django_in(tx, &key, session.digest).await,
                    None => Ok(0),
                }
            }
        }
    }

    /// Deletes a `django_session` row and restauth's note of it.
    async fn delete_django_in(
        &self,
        tx: &mut Tx<D::DB>,
        key: &str,
        digest: &str,
    ) -> Result<u64, StoreError> {
        let SessionStatements::Django { delete, forget, .. } = &self.sql.sessions else {
            return Ok(0);
        };
        let n = Self::write_in(tx, stmt(delete).arg(key)).await?;
        Self::write_in(tx, stmt(forget).arg(digest)).await?;
        Ok(n)
    }

    /// Ends every session of the user but the one of digest `keep` ('' for none), in `tx`;
    /// how many went. Django's table has no user column: every session's data is read.
    pub(super) async fn end_sessions_in(
        &self,
        tx: &mut Tx<D::DB>,
        user_id: UserId,
        keep: &str,
    ) -> Result<u64, StoreError> {
        match &self.sql.sessions {
            SessionStatements::Rows {
                end_user_sessions, ..
            } => {
                let q = stmt(end_user_sessions).arg(user_id).arg(keep);
                Self::write_in(tx, q).await
            }
            SessionStatements::Django { all, django, .. } => {
                let mut ended = 0;
                for row in Self::rows(On::Tx(tx), stmt(all)).await? {
                    let (key, data): (String, String) = (row.get(0)?, row.get(1)?);
                    let digest = key_digest(&key);
                    let theirs = django.login(&data).is_some_and(|l| l.user_id == user_id);
                    if theirs && digest != keep {
                        ended += self.delete_django_in(tx, &key, &digest).await?;
                    }
                }
                Ok(ended)
            }
        }
    }

    /// Stamps the user's sessions that carry `old` auth hash with `new`, in `tx`.
    pub(super) async fn restamp_sessions_in(
        &self,
        tx: &mut Tx<D::DB>,
        user_id: UserId,
        old: &str,
        new: &str,
    ) -> Result<(), StoreError> {
        match &self.sql.sessions {
            SessionStatements::Rows { restamp, .. } => {
                let q = stmt(restamp).arg(new).arg(user_id).arg(old);
                Self::write_in(tx, q).await.map(|_| ())
            }
            // As Django's own upgrade on login: the session auth hash changes with the hash,
            // so the user's other sessions end on both stacks.
            SessionStatements::Django { .. } => Ok(()),
        }
    }

    /// Keeps the session of `digest` through a password change: stamped with the new
    /// password's `auth_hash` and re-dated to `created`.
    pub(super) async fn keep_session_in(
        &self,
        tx: &mut Tx<D::DB>,
        user_id: UserId,
        digest: &str,
        auth_hash: &str,
        created: i64,
    ) -> Result<(), StoreError> {
        match &self.sql.sessions {
            SessionStatements::Rows { keep, .. } => {
                let q = stmt(keep)
                    .arg(auth_hash)
                    .arg(created)
                    .arg(digest)
                    .arg(user_id);
                Self::write_in(tx, q).await.map(|_| ())
            }
            SessionStatements::Django { .. } => {
                Err(unsupported("keep a session through a password change"))
            }
        }
    }

    /// The Django session of `key` (and `digest`) and its user, if it is a login signed with
    /// our key whose user exists.
    async fn django_session(
        &self,
        key: &str,
        digest: &str,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        let SessionStatements::Django { by_key, django, .. } = &self.sql.sessions else {
            return Ok(None);
        };
        let Some(r) = self.read_row(stmt(by_key).arg(key).arg(digest)).await? else {
            return Ok(None);
        };
        let data: String = r.get("session_data")?;
        let expire_ms: i64 = r.get("expire_ms")?;
        let created: Option<i64> = r.get("created")?;
        let last_seen: Option<i64> = r.get("last_seen")?;
        // Unsigned by our key, or anonymous: not a login (Django reads it as an empty session).
        let Some(login) = django.login(&data) else {
            return Ok(None);
        };
        // A key of the other kind names no user here.
        if login.user_id.kind() != self.schema.key_kind() {
            return Ok(None);
        }
        let by_id = stmt(&self.sql.users.by_id).arg(login.user_id);
        let Some(user) = self.read_row(by_id).await? else {
            return Ok(None);
        };
        let user = Self::user(&user)?;
        let record = SessionRecord {
            digest: digest.to_owned(),
            user_id: user.id,
            auth_hash: login.auth_hash,
            // A session Django started counts from when Django last wrote it.
            created: created.unwrap_or(login.signed_at.saturating_mul(1000)),
            // Django has no idle limit: restauth's counts from its own first sight of it.
            last_seen: last_seen.unwrap_or_else(crate::core::clock::now),
            expires: expire_ms.div_euclid(1000),
        };
        Ok(Some((record, user)))
    }
}

fn device(r: &Row<impl super::Driver>, digest: String) -> Result<SessionDevice, StoreError> {
    Ok(SessionDevice {
        digest,
        created: r.get("created")?,
        last_seen: r.get("last_seen")?,
        expires: r.get("expires")?,
        origin: Origin {
            user_agent: r.get("user_agent")?,
            address: r.get("address")?,
        },
    })
}

#[async_trait]
impl<D: Dialect> SessionStore for SqlStore<D> {
    async fn insert_session(
        &self,
        new: &NewSession,
        replaces: Option<Presented<'_>>,
    ) -> Result<(), StoreError> {
        let session = &new.record;
        self.op("insert_session", async {
            let mut tx = self.begin_write().await?;
            if let Some(old) = replaces {
                self.delete_session_in(&mut tx, old).await?;
            }
            match &self.sql.sessions {
                SessionStatements::Rows { insert, .. } => {
                    let q = stmt(insert)
                        .arg(session.digest.as_str())
                        .arg(session.user_id)
                        .arg(session.auth_hash.as_str())
                        .arg(session.created)
                        .arg(session.last_seen)
                        .arg(session.expires)
                        .arg(new.origin.user_agent.as_str())
                        .arg(new.origin.address.as_str());
                    Self::write_in(&mut tx, q).await?;
                }
                // Django's table has no place for where a session was started.
                SessionStatements::Django {
                    insert,
                    note,
                    django,
                    ..
                } => {
                    if new.key.is_empty() {
                        return Err(needs_key("insert_session"));
                    }
                    let data = django.data(session);
                    let q = stmt(insert)
                        .arg(new.key.as_str())
                        .arg(data.as_str())
                        .arg(session.expires);
                    Self::write_in(&mut tx, q).await?;
                    let q = stmt(note)
                        .arg(session.digest.as_str())
                        .arg(session.created)
                        .arg(session.last_seen);
                    Self::write_in(&mut tx, q).await?;
                }
            }
            tx.commit().await.map_err(classify)?;
            self.added(Credential::Session);
            Ok(())
        })
        .await
    }

    async fn session_by_digest(
        &self,
        session: Presented<'_>,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        self.op("session_by_digest", async {
            match &self.sql.sessions {
                SessionStatements::Rows { by_digest, .. } => {
                    let q = stmt(by_digest).arg(session.digest);
                    let Some(r) = self.read_row(q).await? else {
                        return Ok(None);
                    };
                    Ok(Some((Self::session(&r)?, Self::user(&r)?)))
                }
                SessionStatements::Django { keys, .. } => {
                    let on = On::Pool(&self.reader);
                    match Self::key_of(on, session, Some(keys)).await? {
                        Some(key) => self.django_session(&key, session.digest).await,
                        None => Ok(None),
                    }
                }
            }
        })
        .await
    }

    async fn touch_session(&self, digest: &str, at: i64) -> Result<(), StoreError> {
        self.op("touch_session", async {
            let q = stmt(&self.sql.touch_session).arg(digest).arg(at);
            self.write(q).await.map(|_| ())
        })
        .await
    }

    async fn delete_session(&self, session: Presented<'_>) -> Result<bool, StoreError> {
        self.op("delete_session", async {
            let mut tx = self.begin_write().await?;
            let n = self.delete_session_in(&mut tx, session).await?;
            tx.commit().await.map_err(classify)?;
            Ok(n > 0)
        })
        .await
    }

    async fn delete_user_sessions(&self, user_id: UserId) -> Result<u64, StoreError> {
        self.op("delete_user_sessions", async {
            let mut tx = self.begin_write().await?;
            let n = self.end_sessions_in(&mut tx, user_id, "").await?;
            tx.commit().await.map_err(classify)?;
            Ok(n)
        })
        .await
    }

    async fn delete_expired_sessions(
        &self,
        now: i64,
        idle_before: Option<i64>,
    ) -> Result<u64, StoreError> {
        self.op("delete_expired_sessions", async {
            match &self.sql.sessions {
                SessionStatements::Rows { expire, .. } => {
                    self.write(stmt(expire).arg(now).arg(idle_before)).await
                }
                // Django's `clearsessions` (Django has no idle limit); restauth's notes of
                // sessions gone since go with them.
                SessionStatements::Django {
                    expire,
                    keys,
                    noted,
                    forget,
                    ..
                } => {
                    let n = self.write(stmt(expire).arg(now)).await?;
                    let live: std::collections::HashSet<String> = self
                        .read_rows(stmt(keys))
                        .await?
                        .iter()
                        .map(|r| r.get::<String>(0).map(|k| key_digest(&k)))
                        .collect::<Result<_, _>>()?;
                    for row in self.read_rows(stmt(noted)).await? {
                        let digest: String = row.get(0)?;
                        if !live.contains(&digest) {
                            self.write(stmt(forget).arg(digest.as_str())).await?;
                        }
                    }
                    Ok(n)
                }
            }
        })
        .await
    }

    async fn user_sessions(&self, user_id: UserId) -> Result<Vec<SessionDevice>, StoreError> {
        self.op("user_sessions", async {
            match &self.sql.sessions {
                SessionStatements::Rows { list, .. } => {
                    let rows = self.read_rows(stmt(list).arg(user_id)).await?;
                    rows.iter().map(|r| device(r, r.get("digest")?)).collect()
                }
                // Django's tables keep no user agent or address.
                SessionStatements::Django { all, django, .. } => {
                    let mut sessions = Vec::new();
                    for row in self.read_rows(stmt(all)).await? {
                        let (key, data): (String, String) = (row.get(0)?, row.get(1)?);
                        if django.login(&data).is_none_or(|l| l.user_id != user_id) {
                            continue;
                        }
                        let digest = key_digest(&key);
                        if let Some((record, _)) = self.django_session(&key, &digest).await? {
                            sessions.push(SessionDevice {
                                digest,
                                created: record.created,
                                last_seen: record.last_seen,
                                expires: record.expires,
                                origin: Origin::default(),
                            });
                        }
                    }
                    sessions
                        .sort_by(|a, b| b.created.cmp(&a.created).then(a.digest.cmp(&b.digest)));
                    Ok(sessions)
                }
            }
        })
        .await
    }
}
