//! simplejwt's records: refresh tokens handed out, their rotations (one successor each, within
//! a login family) and the blacklist.

use async_trait::async_trait;

use super::{Bind, Dialect, On, Query, SqlStore, stmt};
use crate::store::{JwtStore, Refresh, RotatedToken, Rotation, StoreError, classify};

/// The parameters that record `token` in `family`.
fn recorded<Q: Bind>(token: Refresh<'_>, family: &str) -> impl Fn(Q) -> Q {
    move |q: Q| {
        q.arg(token.token.jti.as_str())
            .arg(Some(token.token.user_id))
            .arg(family)
            .arg(token.token.created_at)
            .arg(token.token.expires_at)
            .arg(token.text)
    }
}

#[async_trait]
impl<D: Dialect> JwtStore for SqlStore<D> {
    async fn insert_outstanding(&self, token: Refresh<'_>) -> Result<(), StoreError> {
        self.op("insert_outstanding", async {
            let record = recorded::<Query<D::DB>>(token, &token.token.family);
            self.write_each(&self.sql.jwt.record, record).await?;
            Ok(())
        })
        .await
    }

    async fn rotate_refresh(
        &self,
        old: Refresh<'_>,
        new: Refresh<'_>,
        blacklist_old: bool,
        now_ms: i64,
    ) -> Result<Rotation, StoreError> {
        let now = now_ms.div_euclid(1000);
        let sql = &self.sql.jwt;
        self.op("rotate_refresh", async {
            let mut tx = self.begin_write().await?;
            let note = recorded::<Query<D::DB>>(old, &old.token.family);
            Self::write_each_in(&mut tx, &sql.note, note).await?;
            // Concurrent rotations of one token serialise on this UPDATE (SQLite: the one
            // writer; PostgreSQL: the row lock): the losers see rotated_at set and get no row,
            // then read the winner's successor (READ COMMITTED gives each statement a fresh
            // snapshot, taken after the winner committed).
            let claim = stmt(&sql.claim_rotation)
                .arg(now_ms)
                .arg(new.token.jti.as_str())
                .arg(old.token.jti.as_str());
            let Some(claimed) = Self::row(On::Tx(&mut tx), claim).await? else {
                let rotated = stmt(&sql.rotated).arg(old.token.jti.as_str());
                let rotated = match Self::row(On::Tx(&mut tx), rotated).await? {
                    Some(row) => Self::rotated(&row)?,
                    None => return Err(StoreError::Other("a rotation without its row".into())),
                };
                tx.rollback().await.map_err(classify)?;
                return Ok(Rotation::Reused(rotated));
            };
            let family: String = claimed.get(0)?;
            let record = recorded::<Query<D::DB>>(new, &family);
            Self::write_each_in(&mut tx, &sql.record, record).await?;
            if blacklist_old {
                let old = old.token;
                Self::write_each_in(&mut tx, &sql.blacklist, |q| {
                    q.arg(old.jti.as_str()).arg(now).arg(old.expires_at)
                })
                .await?;
            }
            tx.commit().await.map_err(classify)?;
            Ok(Rotation::Rotated)
        })
        .await
    }

    async fn blacklist_jti(
        &self,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.op("blacklist_jti", async {
            let added = self
                .write_each(&self.sql.jwt.blacklist, |q| {
                    q.arg(jti).arg(now).arg(expires_at)
                })
                .await?;
            Ok(added.last().is_some_and(|n| *n > 0))
        })
        .await
    }

    async fn is_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        self.op("is_blacklisted", async {
            let q = stmt(&self.sql.jwt.is_blacklisted).arg(jti);
            Ok(self.read_row(q).await?.is_some())
        })
        .await
    }

    async fn rotation(&self, jti: &str) -> Result<Option<RotatedToken>, StoreError> {
        self.op("rotation", async {
            let row = self.read_row(stmt(&self.sql.jwt.rotated).arg(jti)).await?;
            row.map(|r| Self::rotated(&r)).transpose()
        })
        .await
    }

    async fn revoke_family(&self, family: &str, now: i64) -> Result<u64, StoreError> {
        self.op("revoke_family", async {
            let q = stmt(&self.sql.jwt.revoke_family).arg(now).arg(family);
            self.write(q).await
        })
        .await
    }

    async fn flush_expired_tokens(&self, now: i64) -> Result<u64, StoreError> {
        self.op("flush_expired_tokens", async {
            let mut tx = self.begin_write().await?;
            let flushed =
                Self::write_each_in(&mut tx, &self.sql.jwt.flush_expired, |q| q.arg(now)).await?;
            tx.commit().await.map_err(classify)?;
            Ok(flushed.iter().sum())
        })
        .await
    }
}
