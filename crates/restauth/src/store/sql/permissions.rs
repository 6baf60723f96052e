//! Django's groups and permissions: `auth_permission`, `auth_group`, `auth_group_permissions`
//! and the user model's `<table>_groups` and `<table>_user_permissions`.
//!
//! restauth's own schema has these tables with the app label on the permission; Django keeps
//! it on the permission's content type (`django_content_type`). Over Django's tables the link
//! tables are looked for once, with the name of their user column (Django names it after the
//! model: `user_id`, `customuser_id`, …): a user model without `PermissionsMixin` has none, and
//! then no user holds anything.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;

use super::{Bind, Dialect, On, SqlStore, Tx};
use crate::core::user::{Permissions, UserId};
use crate::store::{Change, Holder, PermissionStore, StoreError, classify, unsupported};

/// The statements, rendered once the tables are known.
pub(crate) struct PermissionSql {
    /// $1 user id: rows of (kind, app label, codename): `u` granted to the user, `g` to one
    /// of their groups, `n` a group's name (in the codename column).
    held: String,
    /// $1 app label, $2 codename.
    permission_id: String,
    /// $1 name.
    group_id: String,
    /// $1 name.
    create_group: String,
    /// $1 app label, $2 codename, $3 name, $4 the content type's model (Django's only).
    create_permission: Vec<String>,
    /// $1 holder's id, $2 the other id; `(insert, delete)` of each link.
    user_permission: (String, String),
    group_permission: (String, String),
    membership: (String, String),
    /// $1 true, $2 false.
    staff: String,
    /// $1 user id: the user's links, before the user goes (Django's tables have no cascade).
    pub(crate) unlink_user: Vec<String>,
}

impl PermissionSql {
    fn new<D: Dialect>(
        users: &super::schema::Users,
        user_column: &str,
        content_types: bool,
    ) -> PermissionSql {
        let t = &users.table;
        let (ug, up, uc) = (
            format!("{t}_groups"),
            format!("{t}_user_permissions"),
            user_column,
        );
        let (app, ct) = if content_types {
            (
                "ct.app_label",
                " JOIN django_content_type ct ON ct.id = p.content_type_id",
            )
        } else {
            ("p.app_label", "")
        };
        let link = |table: &str, left: &str, right: &str| {
            (
                format!(
                    "INSERT INTO {table} ({left}, {right}) VALUES ($1, $2) ON CONFLICT DO NOTHING"
                ),
                format!("DELETE FROM {table} WHERE {left} = $1 AND {right} = $2"),
            )
        };
        let create_permission = if content_types {
            vec![
                "INSERT INTO django_content_type (app_label, model) VALUES ($1, $4) \
                 ON CONFLICT DO NOTHING"
                    .to_owned(),
                "INSERT INTO auth_permission (name, content_type_id, codename) \
                 SELECT $3, ct.id, $2 FROM django_content_type ct \
                 WHERE ct.app_label = $1 AND ct.model = $4 ON CONFLICT DO NOTHING"
                    .to_owned(),
            ]
        } else {
            vec![
                "INSERT INTO auth_permission (app_label, codename, name) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING"
                    .to_owned(),
            ]
        };
        PermissionSql {
            held: format!(
                "SELECT 'u' AS kind, {app} AS app_label, p.codename AS codename FROM {up} x \
                 JOIN auth_permission p ON p.id = x.permission_id{ct} WHERE x.{uc} = $1 \
                 UNION ALL \
                 SELECT 'g', {app}, p.codename FROM {ug} x \
                 JOIN auth_group_permissions gp ON gp.group_id = x.group_id \
                 JOIN auth_permission p ON p.id = gp.permission_id{ct} WHERE x.{uc} = $1 \
                 UNION ALL \
                 SELECT 'n', '', g.name FROM {ug} x JOIN auth_group g ON g.id = x.group_id \
                 WHERE x.{uc} = $1"
            ),
            permission_id: format!(
                "SELECT CAST(p.id AS BIGINT) FROM auth_permission p{ct} \
                 WHERE {app} = $1 AND p.codename = $2 ORDER BY p.id"
            ),
            group_id: "SELECT CAST(id AS BIGINT) FROM auth_group WHERE name = $1".to_owned(),
            create_group: "INSERT INTO auth_group (name) VALUES ($1) ON CONFLICT DO NOTHING"
                .to_owned(),
            create_permission,
            user_permission: link(&up, uc, "permission_id"),
            group_permission: link("auth_group_permissions", "group_id", "permission_id"),
            membership: link(&ug, uc, "group_id"),
            staff: format!(
                "SELECT {} AS id, {} AS username FROM {t} u WHERE {} = $1 AND {} = $1 \
                 AND {} = $2 ORDER BY u.{}",
                users.id.read::<D>("u"),
                users.username.read::<D>("u"),
                users.is_staff.of("u"),
                users.is_active.of("u"),
                users.is_superuser.of("u"),
                users.id.name,
            ),
            unlink_user: vec![
                format!("DELETE FROM {ug} WHERE {uc} = $1"),
                format!("DELETE FROM {up} WHERE {uc} = $1"),
            ],
        }
    }
}

/// Django's content type for a permission of its own: the model a codename such as
/// `add_note` names (`note`), or the codename itself.
fn model_of(codename: &str) -> &str {
    match codename.split_once('_') {
        Some((_, model)) if !model.is_empty() => model,
        _ => codename,
    }
}

fn missing_tables() -> StoreError {
    unsupported("groups and permissions (the user model has no groups and permissions tables)")
}

impl<D: Dialect> SqlStore<D> {
    /// The statements of groups and permissions, or `None` where the user model has none.
    pub(crate) async fn permission_sql(&self) -> Result<Option<&PermissionSql>, StoreError> {
        let found = self
            .permissions
            .get_or_try_init(|| async {
                let users = &self.schema.users;
                if self.schema.own() {
                    return Ok(Some(PermissionSql::new::<D>(users, "user_id", false)));
                }
                let t = &users.table;
                let tables = [
                    "auth_permission".to_owned(),
                    "auth_group".to_owned(),
                    "auth_group_permissions".to_owned(),
                    "django_content_type".to_owned(),
                    format!("{t}_groups"),
                    format!("{t}_user_permissions"),
                ];
                for table in &tables {
                    let q = sqlx::query(D::TABLE_EXISTS).arg(table.as_str());
                    if self.read_row(q).await?.is_none() {
                        return Ok(None);
                    }
                }
                // The link's user column: the one naming neither its id nor the group.
                let q = sqlx::query(D::COLUMNS).arg(tables[4].as_str());
                let mut column = None;
                for row in self.read_rows(q).await? {
                    let name: String = row.get(0)?;
                    if name.ends_with("_id") && name != "group_id" {
                        column = Some(name);
                    }
                }
                let Some(column) = column else {
                    return Ok(None);
                };
                // Spliced into statements: a plain identifier only.
                if !column
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    return Ok(None);
                }
                Ok::<_, StoreError>(Some(PermissionSql::new::<D>(users, &column, true)))
            })
            .await?;
        Ok(found.as_ref())
    }

    async fn id_of(
        &self,
        on: On<'_, D::DB>,
        sql: &str,
        args: &[&str],
    ) -> Result<Option<i64>, StoreError> {
        let mut q = sqlx::query(AssertSqlSafe(sql.to_owned()));
        for a in args {
            q = q.arg(*a);
        }
        match Self::row(on, q).await? {
            Some(row) => Ok(Some(row.get(0)?)),
            None => Ok(None),
        }
    }

    /// Inserts or deletes one link row in `tx`.
    async fn link_in(
        tx: &mut Tx<D::DB>,
        (insert, delete): &(String, String),
        left: impl super::Arg,
        right: i64,
        add: bool,
    ) -> Result<Change, StoreError> {
        let sql = if add { insert } else { delete };
        let q = sqlx::query(AssertSqlSafe(sql.clone())).arg(left).arg(right);
        Ok(if Self::write_in(tx, q).await? > 0 {
            Change::Done
        } else {
            Change::Unchanged
        })
    }
}

#[async_trait]
impl<D: Dialect> PermissionStore for SqlStore<D> {
    async fn user_permissions(&self, user_id: UserId) -> Result<Permissions, StoreError> {
        self.op("user_permissions", async {
            let Some(sql) = self.permission_sql().await? else {
                return Ok(Permissions::default());
            };
            let q = sqlx::query(AssertSqlSafe(sql.held.clone())).arg(user_id);
            let mut held = Permissions::default();
            for row in self.read_rows(q).await? {
                let kind: String = row.get("kind")?;
                let app: String = row.get("app_label")?;
                let codename: String = row.get("codename")?;
                match kind.as_str() {
                    "u" => {
                        held.user.insert(format!("{app}.{codename}"));
                    }
                    "g" => {
                        held.group.insert(format!("{app}.{codename}"));
                    }
                    _ => held.groups.push(codename),
                }
            }
            held.groups.sort();
            held.groups.dedup();
            Ok(held)
        })
        .await
    }

    async fn create_permission(
        &self,
        app_label: &str,
        codename: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        self.op("create_permission", async {
            let sql = self.permission_sql().await?.ok_or_else(missing_tables)?;
            let mut tx = self.begin_write().await?;
            let exists = self
                .id_of(On::Tx(&mut tx), &sql.permission_id, &[app_label, codename])
                .await?;
            if exists.is_some() {
                return Ok(false);
            }
            for statement in &sql.create_permission {
                let q = sqlx::query(AssertSqlSafe(statement.clone()))
                    .arg(app_label)
                    .arg(codename)
                    .arg(name)
                    .arg(model_of(codename));
                Self::write_in(&mut tx, q).await?;
            }
            tx.commit().await.map_err(classify)?;
            Ok(true)
        })
        .await
    }

    async fn create_group(&self, name: &str) -> Result<bool, StoreError> {
        self.op("create_group", async {
            let sql = self.permission_sql().await?.ok_or_else(missing_tables)?;
            let q = sqlx::query(AssertSqlSafe(sql.create_group.clone())).arg(name);
            Ok(self.write(q).await? > 0)
        })
        .await
    }

    async fn set_permission(
        &self,
        holder: Holder<'_>,
        app_label: &str,
        codename: &str,
        grant: bool,
    ) -> Result<Change, StoreError> {
        self.op("set_permission", async {
            let sql = self.permission_sql().await?.ok_or_else(missing_tables)?;
            let mut tx = self.begin_write().await?;
            let Some(permission) = self
                .id_of(On::Tx(&mut tx), &sql.permission_id, &[app_label, codename])
                .await?
            else {
                return Ok(Change::NoSuchPermission);
            };
            let change = match holder {
                Holder::User(id) => {
                    Self::link_in(&mut tx, &sql.user_permission, id, permission, grant).await?
                }
                Holder::Group(name) => {
                    match self.id_of(On::Tx(&mut tx), &sql.group_id, &[name]).await? {
                        Some(id) => {
                            Self::link_in(&mut tx, &sql.group_permission, id, permission, grant)
                                .await?
                        }
                        None => return Ok(Change::NoSuchGroup),
                    }
                }
            };
            tx.commit().await.map_err(classify)?;
            Ok(change)
        })
        .await
    }

    async fn set_membership(
        &self,
        user_id: UserId,
        group: &str,
        member: bool,
    ) -> Result<Change, StoreError> {
        self.op("set_membership", async {
            let sql = self.permission_sql().await?.ok_or_else(missing_tables)?;
            let mut tx = self.begin_write().await?;
            let Some(group) = self.id_of(On::Tx(&mut tx), &sql.group_id, &[group]).await? else {
                return Ok(Change::NoSuchGroup);
            };
            let change = Self::link_in(&mut tx, &sql.membership, user_id, group, member).await?;
            tx.commit().await.map_err(classify)?;
            Ok(change)
        })
        .await
    }

    async fn staff_users(&self) -> Result<Vec<(UserId, String)>, StoreError> {
        self.op("staff_users", async {
            // The statement needs no permission tables, but is rendered with them.
            let staff = match self.permission_sql().await? {
                Some(sql) => sql.staff.clone(),
                None => PermissionSql::new::<D>(&self.schema.users, "user_id", false).staff,
            };
            let q = sqlx::query(AssertSqlSafe(staff)).arg(true).arg(false);
            self.read_rows(q)
                .await?
                .iter()
                .map(|r| Ok((r.get("id")?, r.get("username")?)))
                .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::model_of;

    #[test]
    fn a_codename_names_its_model() {
        assert_eq!(model_of("add_note"), "note");
        assert_eq!(model_of("view_user"), "user");
        assert_eq!(model_of("publish"), "publish");
        assert_eq!(model_of("x_"), "x_");
    }
}
