//! The stored audit events.

use async_trait::async_trait;

use super::{Bind, Dialect, SqlStore, stmt};
use crate::store::{AuditQuery, AuditRecord, AuditStore, StoreError};

#[async_trait]
impl<D: Dialect> AuditStore for SqlStore<D> {
    async fn insert_audit(&self, e: &AuditRecord) -> Result<(), StoreError> {
        self.op("insert_audit", async {
            let q = stmt(&self.sql.audit.insert)
                .arg(e.at_ms)
                .arg(e.action.as_str())
                .arg(e.outcome.as_str())
                .arg(e.reason.as_str())
                .arg(e.provider.as_str())
                .arg(e.user_id)
                .arg(e.user_name.as_str())
                .arg(e.source_ip.as_str())
                .arg(e.user_agent.as_str());
            self.write(q).await.map(|_| ())
        })
        .await
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.op("audit_events", async {
            let q = stmt(&self.sql.audit.events)
                .arg(query.user_name.as_deref().unwrap_or(""))
                .arg(query.since_ms.unwrap_or(i64::MIN))
                .arg(query.limit.map_or(i64::MAX, i64::from));
            let mut events = self
                .read_rows(q)
                .await?
                .iter()
                .map(|r| {
                    Ok(AuditRecord {
                        at_ms: r.get("at_ms")?,
                        action: r.get("action")?,
                        outcome: r.get("outcome")?,
                        reason: r.get("reason")?,
                        provider: r.get("provider")?,
                        user_id: r.get("user_id")?,
                        user_name: r.get("user_name")?,
                        source_ip: r.get("source_ip")?,
                        user_agent: r.get("user_agent")?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            // The newest `limit`, oldest first.
            events.reverse();
            Ok(events)
        })
        .await
    }

    async fn prune_audit(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.op("prune_audit", async {
            self.write(stmt(&self.sql.audit.prune).arg(before_ms)).await
        })
        .await
    }
}
