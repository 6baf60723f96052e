//! API tokens: restauth's, several per user and kept as digests, or DRF's own, one per user and
//! kept as keys.

use async_trait::async_trait;

use super::{Bind, Dialect, On, SqlStore, needs_key, stmt, token_id_of};
use crate::core::user::{User, UserId};
use crate::store::{
    Credential, NewToken, Origin, Presented, StoreError, TokenDevice, TokenRecord, TokenStore,
    classify, key_digest,
};

#[async_trait]
impl<D: Dialect> TokenStore for SqlStore<D> {
    async fn insert_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError> {
        if self.schema.tokens.keeps_keys && token.key.is_empty() {
            return Err(needs_key("insert_token"));
        }
        let sql = &self.sql.tokens;
        self.op("insert_token", async {
            let mut tx = self.begin_write().await?;
            let evict = sql.evict.as_ref().zip(token.limit_per_user);
            if let (Some(lock), Some(_)) = (&self.sql.users.lock, evict) {
                Self::write_in(&mut tx, stmt(lock).arg(token.user_id)).await?;
            }
            let q = stmt(&sql.insert)
                .arg(token.digest.as_str())
                .arg(token.key.as_str())
                .arg(token.user_id)
                .arg(token.created)
                .arg(token.expires)
                .arg(token.origin.user_agent.as_str())
                .arg(token.origin.address.as_str());
            let id: i64 = match Self::row(On::Tx(&mut tx), q).await? {
                Some(row) => row.get(0)?,
                None => return Err(StoreError::Other("a new token has no id".into())),
            };
            if let Some((evict, limit)) = evict {
                let q = stmt(evict).arg(token.user_id).arg(i64::from(limit.max(1)));
                Self::write_in(&mut tx, q).await?;
            }
            tx.commit().await.map_err(classify)?;
            self.added(Credential::Token);
            Ok(TokenRecord {
                id: if self.schema.uuid_keys() {
                    token_id_of(token.user_id)
                } else {
                    id
                },
                digest: token.digest.clone(),
                user_id: token.user_id,
                created: token.created,
                last_used: None,
                expires: token
                    .expires
                    .filter(|_| self.schema.tokens.expires.is_some()),
            })
        })
        .await
    }

    async fn token_by_digest(
        &self,
        token: Presented<'_>,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        self.op("token_by_digest", async {
            let keys = self.sql.tokens.keys.as_ref();
            let Some(key) = Self::key_of(On::Pool(&self.reader), token, keys).await? else {
                return Ok(None);
            };
            let q = stmt(&self.sql.tokens.by_name)
                .arg(token.digest)
                .arg(key.as_ref());
            let Some(r) = self.read_row(q).await? else {
                return Ok(None);
            };
            Ok(Some((self.token(&r)?, Self::user(&r)?)))
        })
        .await
    }

    async fn touch_token(&self, token_id: i64, at: i64) -> Result<(), StoreError> {
        // DRF's table records no use.
        let Some(touch) = &self.sql.tokens.touch else {
            return Ok(());
        };
        self.op("touch_token", async {
            self.write(stmt(touch).arg(at).arg(token_id)).await?;
            Ok(())
        })
        .await
    }

    async fn delete_token(&self, token_id: i64) -> Result<bool, StoreError> {
        if self.schema.uuid_keys() {
            // The number names no row of a table keyed by UUIDs; `delete_token_of` does.
            return Err(crate::store::unsupported(
                "delete a token by its id alone where users are keyed by UUIDs",
            ));
        }
        self.op("delete_token", async {
            let q = stmt(&self.sql.tokens.delete).arg(token_id);
            Ok(self.write(q).await? > 0)
        })
        .await
    }

    async fn delete_user_tokens(
        &self,
        user_id: UserId,
        keep: Option<i64>,
    ) -> Result<u64, StoreError> {
        if self.schema.uuid_keys() && keep == Some(token_id_of(user_id)) {
            return Ok(0);
        }
        self.op("delete_user_tokens", async {
            let q = stmt(&self.sql.tokens.delete_user_tokens)
                .arg(user_id)
                .arg(keep);
            self.write(q).await
        })
        .await
    }

    async fn delete_token_of(&self, user_id: UserId, token_id: i64) -> Result<bool, StoreError> {
        if self.schema.uuid_keys() && token_id != token_id_of(user_id) {
            return Ok(false);
        }
        self.op("delete_token_of", async {
            // Where the table is keyed by UUIDs, the token is named by its user.
            let q = if self.schema.uuid_keys() {
                stmt(&self.sql.tokens.delete_of).arg(user_id).arg(user_id)
            } else {
                stmt(&self.sql.tokens.delete_of).arg(token_id).arg(user_id)
            };
            Ok(self.write(q).await? > 0)
        })
        .await
    }

    async fn user_tokens(&self, user_id: UserId) -> Result<Vec<TokenDevice>, StoreError> {
        self.op("user_tokens", async {
            let rows = self
                .read_rows(stmt(&self.sql.tokens.user_tokens).arg(user_id))
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(TokenDevice {
                        id: if self.schema.uuid_keys() {
                            token_id_of(user_id)
                        } else {
                            r.get("id")?
                        },
                        created: r.get("created")?,
                        last_used: r.get("last_used")?,
                        expires: r.get("expires")?,
                        origin: Origin {
                            user_agent: r.get("user_agent")?,
                            address: r.get("address")?,
                        },
                    })
                })
                .collect()
        })
        .await
    }

    async fn user_token_key(
        &self,
        user_id: UserId,
    ) -> Result<Option<(TokenRecord, String)>, StoreError> {
        // Only a table of keys can hand a token out again.
        let Some(sql) = &self.sql.tokens.user_token_key else {
            return Ok(None);
        };
        self.op("user_token_key", async {
            // Through the writer: a token just made by a concurrent obtain must be seen.
            let Some(r) = self.read_written(stmt(sql).arg(user_id)).await? else {
                return Ok(None);
            };
            let key: String = r.get("name")?;
            // DRF's one token per user, whose id is its user's; it neither expires nor records
            // its use.
            let token = TokenRecord {
                id: token_id_of(user_id),
                digest: key_digest(&key),
                user_id,
                created: r.get("created")?,
                last_used: None,
                expires: None,
            };
            Ok(Some((token, key)))
        })
        .await
    }
}
