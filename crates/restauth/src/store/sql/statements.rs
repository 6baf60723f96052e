//! Every statement of the store, rendered once from a [`Schema`] for one database.
//!
//! The statements of one operation take the same parameters in every schema, in the same
//! order (listed beside each); a schema's statement leaves out those it has no column for
//! (both databases accept a parameter a statement does not use), so each operation binds its
//! parameters one way whichever schema the store is over.

use std::sync::Arc;

use super::Dialect;
use super::schema::{Column, Schema, Sessions, Users, key_text};
use crate::store::django::DjangoSessions;

/// A statement's text.
pub(crate) type Sql = Arc<str>;

fn sql(text: impl Into<String>) -> Sql {
    text.into().into()
}

pub(crate) struct Statements {
    // The database itself.
    /// The table of applied steps.
    pub create_migrations: Sql,
    pub applied_migrations: Sql,
    /// $1 version, $2 name, $3 when.
    pub record_migration: Sql,
    pub probe: Sql,
    /// $1 after id, $2 limit; `None` where rows are not all restauth's.
    pub token_digests: Option<Sql>,
    pub session_digests: Option<Sql>,

    pub users: UserStatements,
    pub tokens: TokenStatements,
    /// $1 digest, $2 when.
    pub touch_session: Sql,
    pub sessions: SessionStatements,
    pub jwt: JwtStatements,
    pub audit: AuditStatements,
}

pub(crate) struct UserStatements {
    /// Every field of a user from `u`, and where `u` is, for statements made per call.
    pub select: String,
    pub from: String,
    /// $1 id.
    pub by_id: Sql,
    /// $1 username.
    pub by_username: Sql,
    /// $1 e-mail.
    pub by_email: Sql,
    /// $1 e-mail: at most two of the users it names, enough to tell one from several.
    pub by_login_email: Sql,
    /// $1 username, $2 email, $3 first_name, $4 last_name, $5 password, $6 is_active,
    /// $7 is_staff, $8 is_superuser, $9 date_joined, $10 a new UUID (taken where the user
    /// model's key is one); returns the id.
    pub create: Sql,
    /// $1 hash, $2 id.
    pub set_password: Sql,
    /// $1 new hash, $2 id, $3 old hash.
    pub replace_password: Sql,
    /// $1 id, $2 cut-off, $3 its cause: moves `valid_after` forward, never back, with the
    /// cause beside it; touches a row only if the user exists.
    pub raise_valid_after: Sql,
    /// $1 active, $2 id.
    pub set_active: Sql,
    /// $1 active, $2 id: records `deactivated_by_admin` (the opposite of `active`) where it
    /// is not a column of the user's table.
    pub mark_admin: Option<Sql>,
    /// $1 true, $2 id, $3 false: only an inactive user not deactivated by staff.
    pub activate: Sql,
    /// $1 when (Unix seconds), $2 id.
    pub set_last_login: Sql,
    /// $1 email, $2 deactivate, $3 false, $4 id.
    pub update_email: Sql,
    /// $1 id: what goes before the user where no foreign key takes it along.
    pub dependents: Vec<Sql>,
    /// $1 id.
    pub delete: Sql,
    pub non_ascii_usernames: Sql,
    /// $1 username, $2 network.
    pub login_network_seen: Sql,
    /// $1 id: locks the user's row for the rest of the transaction, where writers are not
    /// serialised anyway.
    pub lock: Option<Sql>,
}

/// A token is named by $1 its digest and $2 its key.
pub(crate) struct TokenStatements {
    pub by_name: Sql,
    /// $1 digest, $2 key, $3 user id, $4 created, $5 expires, $6 user agent, $7 address;
    /// returns the id.
    pub insert: Sql,
    /// $1 user id, $2 how many to keep; `None` where a user has one token.
    pub evict: Option<Sql>,
    /// $1 when, $2 id; `None` where use is not recorded.
    pub touch: Option<Sql>,
    /// $1 id.
    pub delete: Sql,
    /// $1 user id, $2 the id to keep (NULL: none).
    pub delete_user_tokens: Sql,
    /// $1 id, $2 user id.
    pub delete_of: Sql,
    /// $1 created, $2 id, $3 user id.
    pub redate: Sql,
    /// $1 user id.
    pub user_tokens: Sql,
    /// $1 user id: the user's one token and its key, where the table keeps keys.
    pub user_token_key: Option<Sql>,
    /// Every key, where the table keeps keys (for a token named by its digest only).
    pub keys: Option<Sql>,
}

/// The statements of a session layout.
pub(crate) enum SessionStatements {
    Rows {
        /// $1 digest.
        by_digest: Sql,
        /// $1 digest, $2 user id, $3 auth hash, $4 created, $5 last seen, $6 expires,
        /// $7 user agent, $8 address.
        insert: Sql,
        /// $1 digest.
        delete: Sql,
        /// $1 user id, $2 the digest to keep ('' for none).
        end_user_sessions: Sql,
        /// $1 now, $2 idle before (NULL: no idle limit).
        expire: Sql,
        /// $1 user id.
        list: Sql,
        /// $1 new auth hash, $2 user id, $3 old auth hash.
        restamp: Sql,
        /// $1 auth hash, $2 created, $3 digest, $4 user id.
        keep: Sql,
    },
    Django {
        /// $1 key, $2 digest.
        by_key: Sql,
        /// $1 key, $2 data, $3 expires.
        insert: Sql,
        /// $1 digest, $2 created, $3 last seen.
        note: Sql,
        /// $1 key.
        delete: Sql,
        /// $1 digest.
        forget: Sql,
        /// Every key and its data.
        all: Sql,
        /// Every key.
        keys: Sql,
        /// $1 now.
        expire: Sql,
        /// The digests restauth keeps notes of.
        noted: Sql,
        /// How Django signs and reads `session_data`.
        django: Arc<DjangoSessions>,
    },
}

/// A refresh token is recorded from $1 jti, $2 user id, $3 family, $4 created_at,
/// $5 expires_at, $6 its text.
pub(crate) struct JwtStatements {
    /// Records a token handed out now (a jti seen before is an error where it can be).
    pub record: Vec<Sql>,
    /// Records a presented token unless it was seen before.
    pub note: Vec<Sql>,
    /// $1 when (ms), $2 successor's jti, $3 jti: claims the rotation; returns the family.
    pub claim_rotation: Sql,
    /// $1 jti.
    pub rotated: Sql,
    /// $1 jti, $2 now, $3 expires_at: the last one's rows say whether it was added.
    pub blacklist: Vec<Sql>,
    /// $1 jti.
    pub is_blacklisted: Sql,
    /// $1 now, $2 family.
    pub revoke_family: Sql,
    /// $1 now.
    pub flush_expired: Vec<Sql>,
    /// $1 user id, $2 now (ms): blacklists the user's outstanding refresh tokens in simplejwt's
    /// tables, so that Django refuses them too (restauth's own cut-off covers its schema).
    pub revoke_user: Option<Sql>,
}

pub(crate) struct AuditStatements {
    /// $1 at_ms … $9 user_agent.
    pub insert: Sql,
    /// $1 user name ('' for any), $2 since, $3 limit.
    pub events: Sql,
    /// $1 before.
    pub prune: Sql,
}

impl Statements {
    pub fn new<D: Dialect>(schema: &Schema) -> Statements {
        let migrations = schema.migrations;
        let own = schema.own();
        Statements {
            create_migrations: sql(crate::store::migrate::create_table(migrations)),
            applied_migrations: sql(format!("SELECT version FROM {migrations}")),
            record_migration: sql(format!(
                "INSERT INTO {migrations} (version, name, applied_at) VALUES ($1, $2, $3)"
            )),
            probe: sql(crate::store::migrate::probe(migrations)),
            token_digests: own.then(|| {
                let tokens = &schema.tokens;
                let (id, name) = (&tokens.id.name, &tokens.name.name);
                sql(format!(
                    "SELECT {id}, {name} FROM {} WHERE {id} > $1 ORDER BY {id} LIMIT $2",
                    tokens.table
                ))
            }),
            session_digests: own.then(|| {
                sql("SELECT id, digest FROM auth_session WHERE id > $1 ORDER BY id LIMIT $2")
            }),
            users: UserStatements::new::<D>(schema),
            tokens: TokenStatements::new::<D>(schema),
            touch_session: sql(match schema.sessions {
                Sessions::Rows => {
                    "UPDATE auth_session \
                     SET last_seen = CASE WHEN $2 > last_seen THEN $2 ELSE last_seen END \
                     WHERE digest = $1"
                }
                Sessions::Django(_) => {
                    "INSERT INTO restauth_session_state (digest, created, last_seen) \
                     VALUES ($1, NULL, $2) ON CONFLICT (digest) DO UPDATE SET last_seen = CASE \
                     WHEN excluded.last_seen > restauth_session_state.last_seen \
                     THEN excluded.last_seen ELSE restauth_session_state.last_seen END"
                }
            }),
            sessions: match &schema.sessions {
                Sessions::Rows => SessionStatements::rows::<D>(&schema.users),
                Sessions::Django(django) => SessionStatements::django::<D>(django.clone()),
            },
            jwt: if own {
                JwtStatements::own()
            } else {
                JwtStatements::simplejwt::<D>(&Column {
                    name: "user_id".into(),
                    kind: schema.users.id.kind,
                })
            },
            audit: AuditStatements::new(
                if own {
                    "audit_event"
                } else {
                    "restauth_audit_event"
                },
                &schema.user_ref("$6"),
            ),
        }
    }
}

impl UserStatements {
    fn new<D: Dialect>(schema: &Schema) -> UserStatements {
        let users = &schema.users;
        let select = users.select::<D>();
        let from = users.from();
        let t = &users.table;
        let (id, username) = (&users.id.name, &users.username.name);
        let (email, active) = (&users.email.name, &users.is_active.name);
        let password = &users.password.name;
        // The user's key as restauth's own tables beside Django's hold it.
        let key = key_text(id);
        UserStatements {
            by_id: sql(format!("SELECT {select} FROM {from} WHERE u.{id} = $1")),
            by_username: sql(format!(
                "SELECT {select} FROM {from} WHERE u.{username} = $1"
            )),
            by_email: sql(format!(
                "SELECT {select} FROM {from} \
                 WHERE lower({e}) = lower($1) AND {e} <> '' ORDER BY u.{id}",
                e = users.email.of("u")
            )),
            // A model without an e-mail column reads it as '': nobody matches.
            by_login_email: sql(format!(
                "SELECT {select} FROM {from} \
                 WHERE lower({e}) = lower($1) AND {e} <> '' ORDER BY u.{id} LIMIT 2",
                e = users.email.of("u")
            )),
            create: sql(create_user::<D>(users)),
            set_password: sql(format!("UPDATE {t} SET {password} = $1 WHERE {id} = $2")),
            replace_password: sql(format!(
                "UPDATE {t} SET {password} = $1 WHERE {id} = $2 AND {password} = $3"
            )),
            raise_valid_after: sql(match &users.valid_after {
                // Every right-hand side reads the row as it was.
                Some(c) => format!(
                    "UPDATE {t} SET \
                     cut_off_cause = CASE WHEN $2 > {v} THEN $3 ELSE cut_off_cause END, \
                     {v} = CASE WHEN $2 > {v} THEN $2 ELSE {v} END WHERE {id} = $1",
                    v = c.name
                ),
                None => format!(
                    "INSERT INTO restauth_user_state (user_id, valid_after, cut_off_cause) \
                     SELECT {key}, $2, $3 FROM {t} WHERE {id} = $1 \
                     ON CONFLICT (user_id) DO UPDATE SET cut_off_cause = CASE \
                     WHEN excluded.valid_after > restauth_user_state.valid_after \
                     THEN excluded.cut_off_cause ELSE restauth_user_state.cut_off_cause END, \
                     valid_after = CASE \
                     WHEN excluded.valid_after > restauth_user_state.valid_after \
                     THEN excluded.valid_after ELSE restauth_user_state.valid_after END"
                ),
            }),
            set_active: sql(match &users.valid_after {
                Some(_) => format!(
                    "UPDATE {t} SET {active} = $1, deactivated_by_admin = NOT $1 WHERE {id} = $2"
                ),
                None => format!("UPDATE {t} SET {active} = $1 WHERE {id} = $2"),
            }),
            mark_admin: users.valid_after.is_none().then(|| {
                sql(format!(
                    "INSERT INTO restauth_user_state (user_id, deactivated_by_admin) \
                     SELECT {key}, NOT $1 FROM {t} WHERE {id} = $2 \
                     ON CONFLICT (user_id) DO UPDATE \
                     SET deactivated_by_admin = excluded.deactivated_by_admin"
                ))
            }),
            activate: sql(match &users.valid_after {
                Some(_) => format!(
                    "UPDATE {t} SET {active} = $1 \
                     WHERE {id} = $2 AND {active} = $3 AND deactivated_by_admin = $3"
                ),
                None => format!(
                    "UPDATE {t} SET {active} = $1 WHERE {id} = $2 AND {active} = $3 \
                     AND NOT EXISTS (SELECT 1 FROM restauth_user_state s \
                     WHERE s.user_id = {} AND s.deactivated_by_admin = $1)",
                    key_text(&format!("{t}.{id}"))
                ),
            }),
            // A model without `last_login` (none of Django's) keeps no login time.
            set_last_login: sql(if users.last_login.exists() {
                format!(
                    "UPDATE {t} SET {} = {} WHERE {id} = $2",
                    users.last_login.name,
                    users.last_login.write::<D>("$1")
                )
            } else {
                format!("SELECT 1 FROM {t} WHERE $1 = $1 AND {id} = $2")
            }),
            update_email: sql(format!(
                "UPDATE {t} SET {email} = $1, \
                 {active} = CASE WHEN $2 THEN $3 ELSE {active} END WHERE {id} = $4"
            )),
            // restauth's own rows go with the user by their foreign keys; none of Django's
            // tables may point at restauth's, so those go first by hand.
            dependents: if schema.own() {
                Vec::new()
            } else {
                vec![
                    sql(format!(
                        "DELETE FROM {} WHERE {} = $1",
                        schema.tokens.table, schema.tokens.user_id.name
                    )),
                    sql(format!(
                        "UPDATE {OUTSTANDING} SET user_id = NULL WHERE user_id = $1"
                    )),
                    sql(format!(
                        "DELETE FROM restauth_user_state WHERE user_id = {}",
                        key_text("$1")
                    )),
                    sql(format!(
                        "DELETE FROM restauth_login_network WHERE user_id = {}",
                        key_text("$1")
                    )),
                ]
            },
            delete: sql(format!("DELETE FROM {t} WHERE {id} = $1")),
            non_ascii_usernames: sql(format!(
                "SELECT {username} FROM {t} \
                 WHERE octet_length({username}) <> length({username}) ORDER BY {id}"
            )),
            login_network_seen: sql(format!(
                "SELECT n.last_success FROM restauth_login_network n \
                 JOIN {t} u ON n.user_id = {} WHERE u.{username} = $1 AND n.network = $2",
                schema.user_ref(&format!("u.{id}"))
            )),
            lock: D::lock_row(t).map(sql),
            select,
            from,
        }
    }
}

/// The insert of a new user: each field the user model has a column for, in the order of
/// `Users::inserted` (whose values `create_user` binds), and the model's other required
/// columns with their configured values.
fn create_user<D: Dialect>(users: &Users) -> String {
    let mut columns: Vec<&str> = Vec::new();
    let mut values = Vec::new();
    for (n, (_, column)) in users.inserted().iter().enumerate() {
        columns.push(&column.name);
        values.push(column.write::<D>(&format!("${}", n + 1)));
    }
    for (column, literal) in &users.defaults {
        columns.push(column);
        values.push(literal.clone());
    }
    // Django gives a UUID key its value in Python (`default=uuid.uuid4`), not in the
    // database: restauth gives it, as the parameter after the fields.
    if users.id.kind == super::schema::Kind::Uuid {
        columns.push(&users.id.name);
        values.push(format!("${}", users.inserted().len() + 1));
    }
    format!(
        "INSERT INTO {} ({}) VALUES ({}) RETURNING {}",
        users.table,
        columns.join(", "),
        values.join(", "),
        users.id.read::<D>("")
    )
}

impl TokenStatements {
    fn new<D: Dialect>(schema: &Schema) -> TokenStatements {
        let tokens = &schema.tokens;
        let (t, name, id, user_id) = (
            &tokens.table,
            &tokens.name.name,
            &tokens.id.name,
            &tokens.user_id.name,
        );
        let created = &tokens.created;
        // The parameter that names a token in this table: its digest, or its key.
        let named = if tokens.keeps_keys { "$2" } else { "$1" };
        let optional = |c: &Option<Column>, alias: &str| match c {
            Some(c) => c.read::<D>(alias),
            None => "CAST(NULL AS BIGINT)".to_owned(),
        };
        let origin = |column: &'static str| if tokens.origin { column } else { "''" };
        // A token's id as read: where DRF's tokens are keyed by UUIDs, the store makes it
        // from the user's key (see `token_id_of`).
        let token_id = |alias: &str| {
            if schema.uuid_keys() {
                "CAST(0 AS BIGINT)".to_owned()
            } else {
                tokens.id.read::<D>(alias)
            }
        };
        let mut columns = vec![name.as_str(), user_id, &created.name];
        let mut values = vec![named.to_owned(), "$3".into(), created.write::<D>("$4")];
        if let Some(expires) = &tokens.expires {
            columns.push(&expires.name);
            values.push("$5".into());
        }
        if tokens.origin {
            columns.extend(["user_agent", "address"]);
            values.extend(["$6".into(), "$7".into()]);
        }
        TokenStatements {
            by_name: sql(format!(
                "SELECT {} AS t_id, t.{name} AS t_name, {} AS t_user_id, \
                 {} AS t_created, {} AS t_last_used, {} AS t_expires, {} \
                 FROM {t} t {} WHERE t.{name} = {named}",
                token_id("t"),
                tokens.user_id.read::<D>("t"),
                created.read::<D>("t"),
                optional(&tokens.last_used, "t"),
                optional(&tokens.expires, "t"),
                schema.users.select::<D>(),
                schema.users.joined(&format!("t.{user_id}")),
            )),
            insert: sql(format!(
                "INSERT INTO {t} ({}) VALUES ({}) RETURNING {}",
                columns.join(", "),
                values.join(", "),
                token_id("")
            )),
            evict: (!tokens.one_per_user).then(|| {
                sql(format!(
                    "DELETE FROM {t} WHERE {user_id} = $1 AND {id} NOT IN \
                     (SELECT {id} FROM {t} WHERE {user_id} = $1 \
                      ORDER BY {c} DESC, {id} DESC LIMIT $2)",
                    c = created.name
                ))
            }),
            touch: tokens
                .last_used
                .as_ref()
                .map(|c| sql(format!("UPDATE {t} SET {} = $1 WHERE {id} = $2", c.name))),
            delete: sql(format!("DELETE FROM {t} WHERE {id} = $1")),
            // Ids are positive, so -1 keeps nothing.
            delete_user_tokens: sql(if schema.uuid_keys() {
                // One token per user, named by the user: the store keeps it by not deleting.
                format!("DELETE FROM {t} WHERE {user_id} = $1")
            } else {
                format!("DELETE FROM {t} WHERE {user_id} = $1 AND {id} <> COALESCE($2, -1)")
            }),
            delete_of: sql(format!(
                "DELETE FROM {t} WHERE {id} = $1 AND {user_id} = $2"
            )),
            redate: sql(format!(
                "UPDATE {t} SET {} = {} WHERE {id} = $2 AND {user_id} = $3",
                created.name,
                created.write::<D>("$1")
            )),
            user_tokens: sql(format!(
                "SELECT {} AS id, {} AS created, {} AS last_used, {} AS expires, \
                 {} AS user_agent, {} AS address FROM {t} WHERE {user_id} = $1 \
                 ORDER BY created DESC, id DESC",
                token_id(""),
                created.read::<D>(""),
                optional(&tokens.last_used, ""),
                optional(&tokens.expires, ""),
                origin("user_agent"),
                origin("address"),
            )),
            user_token_key: tokens.keeps_keys.then(|| {
                sql(format!(
                    "SELECT {name} AS name, {} AS created FROM {t} WHERE {user_id} = $1",
                    created.read::<D>("")
                ))
            }),
            keys: tokens
                .keeps_keys
                .then(|| sql(format!("SELECT {name} FROM {t}"))),
        }
    }
}

impl SessionStatements {
    /// restauth's `auth_session`.
    fn rows<D: Dialect>(users: &Users) -> SessionStatements {
        SessionStatements::Rows {
            by_digest: sql(format!(
                "SELECT s.digest AS s_digest, s.user_id AS s_user_id, \
                 s.auth_hash AS s_auth_hash, s.created AS s_created, \
                 s.last_seen AS s_last_seen, s.expires AS s_expires, {} \
                 FROM auth_session s {} WHERE s.digest = $1",
                users.select::<D>(),
                users.joined("s.user_id")
            )),
            insert: sql("INSERT INTO auth_session \
                 (digest, user_id, auth_hash, created, last_seen, expires, user_agent, address) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            delete: sql("DELETE FROM auth_session WHERE digest = $1"),
            end_user_sessions: sql("DELETE FROM auth_session WHERE user_id = $1 AND digest <> $2"),
            expire: sql("DELETE FROM auth_session \
                 WHERE expires <= $1 OR last_seen < COALESCE($2, last_seen)"),
            list: sql(
                "SELECT digest, created, last_seen, expires, user_agent, address \
                 FROM auth_session WHERE user_id = $1 ORDER BY created DESC, digest",
            ),
            restamp: sql(
                "UPDATE auth_session SET auth_hash = $1 WHERE user_id = $2 AND auth_hash = $3",
            ),
            keep: sql("UPDATE auth_session SET auth_hash = $1, created = $2 \
                 WHERE digest = $3 AND user_id = $4"),
        }
    }

    /// Django's `django_session` and restauth's notes beside it.
    fn django<D: Dialect>(django: Arc<DjangoSessions>) -> SessionStatements {
        SessionStatements::Django {
            by_key: sql(format!(
                "SELECT d.session_data, {} AS expire_ms, st.created, st.last_seen \
                 FROM django_session d LEFT JOIN restauth_session_state st ON st.digest = $2 \
                 WHERE d.session_key = $1",
                D::millis("d.expire_date")
            )),
            insert: sql(format!(
                "INSERT INTO django_session (session_key, session_data, expire_date) \
                 VALUES ($1, $2, {})",
                seconds::<D>("$3")
            )),
            note: sql(
                "INSERT INTO restauth_session_state (digest, created, last_seen) \
                 VALUES ($1, $2, $3) ON CONFLICT (digest) DO UPDATE \
                 SET created = excluded.created, last_seen = excluded.last_seen",
            ),
            delete: sql("DELETE FROM django_session WHERE session_key = $1"),
            forget: sql("DELETE FROM restauth_session_state WHERE digest = $1"),
            all: sql("SELECT session_key, session_data FROM django_session"),
            keys: sql("SELECT session_key FROM django_session"),
            expire: sql(format!(
                "DELETE FROM django_session WHERE expire_date <= {}",
                seconds::<D>("$1")
            )),
            noted: sql("SELECT digest FROM restauth_session_state"),
            django,
        }
    }
}

/// A Django datetime from the Unix seconds `param`.
fn seconds<D: Dialect>(param: &str) -> String {
    D::datetime(&format!("{param} * 1000"))
}

const OUTSTANDING: &str = "token_blacklist_outstandingtoken";
const BLACKLISTED: &str = "token_blacklist_blacklistedtoken";

impl JwtStatements {
    /// restauth's tables: the family, the rotation and the successor beside each jti.
    fn own() -> JwtStatements {
        let record = format!(
            "INSERT INTO {OUTSTANDING} (jti, user_id, family, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)"
        );
        JwtStatements {
            revoke_user: None,
            note: vec![sql(format!("{record} ON CONFLICT (jti) DO NOTHING"))],
            record: vec![sql(record)],
            claim_rotation: sql(format!(
                "UPDATE {OUTSTANDING} SET rotated_at = $1, successor = $2 \
                 WHERE jti = $3 AND rotated_at IS NULL RETURNING family"
            )),
            rotated: sql(format!(
                "SELECT o.family, o.rotated_at, s.jti AS s_jti, s.user_id AS s_user_id, \
                 s.family AS s_family, s.created_at AS s_created_at, \
                 s.expires_at AS s_expires_at FROM {OUTSTANDING} o \
                 LEFT JOIN {OUTSTANDING} s ON s.jti = o.successor \
                 WHERE o.jti = $1 AND o.rotated_at IS NOT NULL"
            )),
            blacklist: vec![sql(format!(
                "INSERT INTO {BLACKLISTED} (jti, blacklisted_at, expires_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING"
            ))],
            is_blacklisted: sql(format!("SELECT 1 FROM {BLACKLISTED} WHERE jti = $1")),
            revoke_family: sql(format!(
                "INSERT INTO {BLACKLISTED} (jti, blacklisted_at, expires_at) \
                 SELECT jti, $1, expires_at FROM {OUTSTANDING} \
                 WHERE family = $2 ON CONFLICT (jti) DO NOTHING"
            )),
            flush_expired: vec![
                sql(format!("DELETE FROM {BLACKLISTED} WHERE expires_at <= $1")),
                sql(format!("DELETE FROM {OUTSTANDING} WHERE expires_at <= $1")),
            ],
        }
    }

    /// simplejwt's tables: the token's text and datetimes, blacklisting by the outstanding
    /// row's id; the family, the rotation and the successor live in
    /// `restauth_refresh_family`.
    fn simplejwt<D: Dialect>(user_key: &Column) -> JwtStatements {
        let at = seconds::<D>;
        let outstanding = sql(format!(
            "INSERT INTO {OUTSTANDING} (token, created_at, expires_at, user_id, jti) \
             VALUES ($6, {}, {}, $2, $1) ON CONFLICT (jti) DO NOTHING",
            at("$4"),
            at("$5")
        ));
        let family = sql(
            "INSERT INTO restauth_refresh_family (jti, family) VALUES ($1, $3) \
             ON CONFLICT (jti) DO NOTHING",
        );
        let expired = |what: &str| {
            format!(
                "(SELECT {what} FROM {OUTSTANDING} WHERE expires_at <= {})",
                at("$1")
            )
        };
        JwtStatements {
            record: vec![outstanding.clone(), family.clone()],
            note: vec![outstanding, family],
            claim_rotation: sql(
                "UPDATE restauth_refresh_family SET rotated_at = $1, successor = $2 \
                 WHERE jti = $3 AND rotated_at IS NULL RETURNING family",
            ),
            rotated: sql(format!(
                "SELECT f.family, f.rotated_at, s.jti AS s_jti, \
                 {} AS s_user_id, s.family AS s_family, \
                 {} / 1000 AS s_created_at, {} / 1000 AS s_expires_at \
                 FROM restauth_refresh_family f \
                 LEFT JOIN restauth_refresh_family s ON s.jti = f.successor \
                 LEFT JOIN {OUTSTANDING} o ON o.jti = s.jti \
                 WHERE f.jti = $1 AND f.rotated_at IS NOT NULL",
                user_key.read::<D>("o"),
                D::millis("o.created_at"),
                D::millis("o.expires_at")
            )),
            blacklist: vec![
                // simplejwt records a token it never saw before blacklisting it.
                sql(format!(
                    "INSERT INTO {OUTSTANDING} (token, created_at, expires_at, user_id, jti) \
                     VALUES ('', {}, {}, NULL, $1) ON CONFLICT (jti) DO NOTHING",
                    at("$2"),
                    at("$3")
                )),
                sql(format!(
                    "INSERT INTO {BLACKLISTED} (blacklisted_at, token_id) \
                     SELECT {}, id FROM {OUTSTANDING} WHERE jti = $1 \
                     ON CONFLICT (token_id) DO NOTHING",
                    at("$2")
                )),
            ],
            is_blacklisted: sql(format!(
                "SELECT 1 FROM {BLACKLISTED} b JOIN {OUTSTANDING} o ON o.id = b.token_id \
                 WHERE o.jti = $1"
            )),
            revoke_family: sql(format!(
                "INSERT INTO {BLACKLISTED} (blacklisted_at, token_id) \
                 SELECT {}, o.id FROM {OUTSTANDING} o \
                 JOIN restauth_refresh_family f ON f.jti = o.jti WHERE f.family = $2 \
                 ON CONFLICT (token_id) DO NOTHING",
                at("$1")
            )),
            flush_expired: vec![
                sql(format!(
                    "DELETE FROM {BLACKLISTED} WHERE token_id IN {}",
                    expired("id")
                )),
                sql(format!(
                    "DELETE FROM restauth_refresh_family WHERE jti IN {}",
                    expired("jti")
                )),
                sql(format!(
                    "DELETE FROM {OUTSTANDING} WHERE expires_at <= {}",
                    at("$1")
                )),
            ],
            revoke_user: Some(sql(format!(
                "INSERT INTO {BLACKLISTED} (blacklisted_at, token_id) \
                 SELECT {now}, o.id FROM {OUTSTANDING} o \
                 WHERE o.user_id = $1 AND o.expires_at > {now} \
                 ON CONFLICT (token_id) DO NOTHING",
                now = D::datetime("$2")
            ))),
        }
    }
}

impl AuditStatements {
    fn new(table: &str, user: &str) -> AuditStatements {
        AuditStatements {
            insert: sql(format!(
                "INSERT INTO {table} (at_ms, action, outcome, reason, provider, user_id, \
                 user_name, source_ip, user_agent) VALUES ($1, $2, $3, $4, $5, {user}, $7, $8, $9)"
            )),
            // The newest `limit` rows (turned oldest first by the caller). An empty `$1`
            // selects every user.
            events: sql(format!(
                "SELECT at_ms, action, outcome, reason, provider, user_id, user_name, \
                 source_ip, user_agent FROM {table} WHERE ($1 = '' OR user_name = $1) \
                 AND at_ms >= $2 ORDER BY at_ms DESC, id DESC LIMIT $3"
            )),
            prune: sql(format!("DELETE FROM {table} WHERE at_ms < $1")),
        }
    }
}
