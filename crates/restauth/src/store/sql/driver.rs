//! What the shared SQL needs of a sqlx driver, stated once: running statements, binding and
//! reading the few column types the schemas use. Both sqlx drivers meet it, so the code above
//! is generic over the database without repeating sqlx's bounds at every use.

use std::future::Future;

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row as _, Type};

use crate::store::{StoreError, classify};

/// A statement with its parameters bound so far.
pub(crate) type Query<DB> = sqlx::query::Query<'static, DB, <DB as Database>::Arguments>;
/// A write transaction.
pub(crate) type Tx<DB> = sqlx::Transaction<'static, DB>;

/// Where a statement runs.
pub(crate) enum On<'e, DB: Database> {
    Pool(&'e Pool<DB>),
    Tx(&'e mut Tx<DB>),
}

/// How many rows a write touched: the one thing sqlx does not say through a common trait.
pub(crate) trait Affected: Database {
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

#[cfg(feature = "sqlite")]
impl Affected for sqlx::Sqlite {
    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
}

#[cfg(feature = "postgres")]
impl Affected for sqlx::Postgres {
    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }
}

/// A column of a row: by name, or by position.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Col<'a> {
    Name(&'a str),
    At(usize),
}

impl<'a> From<&'a str> for Col<'a> {
    fn from(name: &'a str) -> Self {
        Col::Name(name)
    }
}

impl From<usize> for Col<'_> {
    fn from(at: usize) -> Self {
        Col::At(at)
    }
}

/// How a database takes a UUID parameter: as its own `uuid` type (PostgreSQL), or as the
/// 32 hex digits Django stores in a `char(32)` where there is none (SQLite).
pub(crate) trait UuidParam: Database {
    fn bind_uuid(q: Query<Self>, value: crate::core::user_id::Uuid) -> Query<Self>;
}

#[cfg(feature = "sqlite")]
impl UuidParam for sqlx::Sqlite {
    fn bind_uuid(q: Query<Self>, value: crate::core::user_id::Uuid) -> Query<Self> {
        q.bind(value.simple())
    }
}

/// A UUID in PostgreSQL's binary form.
#[cfg(feature = "postgres")]
struct PgUuid([u8; 16]);

#[cfg(feature = "postgres")]
impl Type<sqlx::Postgres> for PgUuid {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        // The built-in `uuid` type's fixed oid.
        sqlx::postgres::PgTypeInfo::with_oid(sqlx::postgres::types::Oid(2950))
    }
}

#[cfg(feature = "postgres")]
impl Encode<'_, sqlx::Postgres> for PgUuid {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        buf.extend_from_slice(&self.0);
        Ok(sqlx::encode::IsNull::No)
    }
}

#[cfg(feature = "postgres")]
impl UuidParam for sqlx::Postgres {
    fn bind_uuid(q: Query<Self>, value: crate::core::user_id::Uuid) -> Query<Self> {
        q.bind(PgUuid(value.0))
    }
}

/// A database the shared SQL runs on.
pub(crate) trait Driver: Affected + UuidParam {
    fn bind_i64(q: Query<Self>, value: i64) -> Query<Self>;
    fn bind_opt_i64(q: Query<Self>, value: Option<i64>) -> Query<Self>;
    fn bind_bool(q: Query<Self>, value: bool) -> Query<Self>;
    fn bind_str(q: Query<Self>, value: &str) -> Query<Self>;

    fn get_i64(row: &Self::Row, column: Col<'_>) -> Result<i64, sqlx::Error>;
    fn get_opt_i64(row: &Self::Row, column: Col<'_>) -> Result<Option<i64>, sqlx::Error>;
    fn get_bool(row: &Self::Row, column: Col<'_>) -> Result<bool, sqlx::Error>;
    fn get_string(row: &Self::Row, column: Col<'_>) -> Result<String, sqlx::Error>;
    fn get_opt_string(row: &Self::Row, column: Col<'_>) -> Result<Option<String>, sqlx::Error>;

    /// Runs a write; how many rows it touched.
    fn execute<'e>(
        q: Query<Self>,
        on: On<'e, Self>,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'e;
    fn fetch_optional<'e>(
        q: Query<Self>,
        on: On<'e, Self>,
    ) -> impl Future<Output = Result<Option<Self::Row>, sqlx::Error>> + Send + 'e;
    fn fetch_all<'e>(
        q: Query<Self>,
        on: On<'e, Self>,
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send + 'e;
    /// Runs statements without parameters, one after the other (DDL).
    fn script<'e>(
        sql: String,
        tx: &'e mut Tx<Self>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'e;
}

/// Reads a column the way a row of `DB` holds it.
fn get<'r, DB, T>(row: &'r DB::Row, column: Col<'_>) -> Result<T, sqlx::Error>
where
    DB: Database,
    T: Decode<'r, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    match column {
        Col::Name(name) => row.try_get(name),
        Col::At(at) => row.try_get(at),
    }
}

impl<DB> Driver for DB
where
    DB: Affected + UuidParam,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> i64: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
    for<'a> Option<i64>: Encode<'a, DB>,
    for<'a> bool: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
    for<'a> String: Decode<'a, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB> + ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    fn bind_i64(q: Query<Self>, value: i64) -> Query<Self> {
        q.bind(value)
    }

    fn bind_opt_i64(q: Query<Self>, value: Option<i64>) -> Query<Self> {
        q.bind(value)
    }

    fn bind_bool(q: Query<Self>, value: bool) -> Query<Self> {
        q.bind(value)
    }

    fn bind_str(q: Query<Self>, value: &str) -> Query<Self> {
        q.bind(value)
    }

    fn get_i64(row: &Self::Row, column: Col<'_>) -> Result<i64, sqlx::Error> {
        get::<Self, _>(row, column)
    }

    fn get_opt_i64(row: &Self::Row, column: Col<'_>) -> Result<Option<i64>, sqlx::Error> {
        get::<Self, _>(row, column)
    }

    fn get_bool(row: &Self::Row, column: Col<'_>) -> Result<bool, sqlx::Error> {
        get::<Self, _>(row, column)
    }

    fn get_string(row: &Self::Row, column: Col<'_>) -> Result<String, sqlx::Error> {
        get::<Self, _>(row, column)
    }

    fn get_opt_string(row: &Self::Row, column: Col<'_>) -> Result<Option<String>, sqlx::Error> {
        get::<Self, _>(row, column)
    }

    async fn execute(q: Query<Self>, on: On<'_, Self>) -> Result<u64, sqlx::Error> {
        let done = match on {
            On::Pool(pool) => q.execute(pool).await?,
            On::Tx(tx) => q.execute(&mut **tx).await?,
        };
        Ok(Self::rows_affected(&done))
    }

    async fn fetch_optional(
        q: Query<Self>,
        on: On<'_, Self>,
    ) -> Result<Option<Self::Row>, sqlx::Error> {
        match on {
            On::Pool(pool) => q.fetch_optional(pool).await,
            On::Tx(tx) => q.fetch_optional(&mut **tx).await,
        }
    }

    async fn fetch_all(q: Query<Self>, on: On<'_, Self>) -> Result<Vec<Self::Row>, sqlx::Error> {
        match on {
            On::Pool(pool) => q.fetch_all(pool).await,
            On::Tx(tx) => q.fetch_all(&mut **tx).await,
        }
    }

    async fn script(sql: String, tx: &mut Tx<Self>) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut **tx)
            .await
            .map(|_| ())
    }
}

/// A value a statement's parameter takes.
pub(crate) trait Arg: Send {
    fn bind_to<DB: Driver>(self, q: Query<DB>) -> Query<DB>;
}

impl Arg for i64 {
    fn bind_to<DB: Driver>(self, q: Query<DB>) -> Query<DB> {
        DB::bind_i64(q, self)
    }
}

impl Arg for Option<i64> {
    fn bind_to<DB: Driver>(self, q: Query<DB>) -> Query<DB> {
        DB::bind_opt_i64(q, self)
    }
}

impl Arg for bool {
    fn bind_to<DB: Driver>(self, q: Query<DB>) -> Query<DB> {
        DB::bind_bool(q, self)
    }
}

impl Arg for &str {
    fn bind_to<DB: Driver>(self, q: Query<DB>) -> Query<DB> {
        DB::bind_str(q, self)
    }
}

/// A user's key: an integer as one, a UUID as the database takes one (a column of restauth's
/// own beside Django's tables holds keys as text: those statements cast the parameter).
impl Arg for crate::core::user_id::UserId {
    fn bind_to<DB: Driver>(self, q: Query<DB>) -> Query<DB> {
        match self {
            crate::core::user_id::UserId::Int(n) => DB::bind_i64(q, n),
            crate::core::user_id::UserId::Uuid(u) => DB::bind_uuid(q, u),
        }
    }
}

impl Arg for Option<crate::core::user_id::UserId> {
    fn bind_to<DB: Driver>(self, q: Query<DB>) -> Query<DB> {
        match self {
            Some(id) => id.bind_to(q),
            None => DB::bind_opt_i64(q, None),
        }
    }
}

/// Binds the next parameter: `sqlx::query(…).arg(1).arg("a")`.
pub(crate) trait Bind {
    fn arg(self, value: impl Arg) -> Self;
}

impl<DB: Driver> Bind for Query<DB> {
    fn arg(self, value: impl Arg) -> Self {
        value.bind_to(self)
    }
}

/// A value a column holds.
pub(crate) trait Field: Sized {
    fn from_row<DB: Driver>(row: &DB::Row, column: Col<'_>) -> Result<Self, sqlx::Error>;
}

impl Field for i64 {
    fn from_row<DB: Driver>(row: &DB::Row, column: Col<'_>) -> Result<Self, sqlx::Error> {
        DB::get_i64(row, column)
    }
}

impl Field for Option<i64> {
    fn from_row<DB: Driver>(row: &DB::Row, column: Col<'_>) -> Result<Self, sqlx::Error> {
        DB::get_opt_i64(row, column)
    }
}

impl Field for bool {
    fn from_row<DB: Driver>(row: &DB::Row, column: Col<'_>) -> Result<Self, sqlx::Error> {
        DB::get_bool(row, column)
    }
}

impl Field for String {
    fn from_row<DB: Driver>(row: &DB::Row, column: Col<'_>) -> Result<Self, sqlx::Error> {
        DB::get_string(row, column)
    }
}

impl Field for Option<String> {
    fn from_row<DB: Driver>(row: &DB::Row, column: Col<'_>) -> Result<Self, sqlx::Error> {
        DB::get_opt_string(row, column)
    }
}

/// A user's key as a column gives it, for the record macros shared with rusqlite (whose
/// traits the public `UserId` does not implement).
pub(crate) struct UserKey(pub crate::core::user_id::UserId);

impl Field for UserKey {
    fn from_row<DB: Driver>(row: &DB::Row, column: Col<'_>) -> Result<Self, sqlx::Error> {
        crate::core::user_id::UserId::from_row::<DB>(row, column).map(UserKey)
    }
}

/// A user's key: an integer column, or text (a UUID, or an integer's digits).
impl Field for crate::core::user_id::UserId {
    fn from_row<DB: Driver>(row: &DB::Row, column: Col<'_>) -> Result<Self, sqlx::Error> {
        match DB::get_i64(row, column) {
            Ok(n) => Ok(crate::core::user_id::UserId::Int(n)),
            Err(_) => {
                let text = DB::get_string(row, column)?;
                parse_user_id(&text, column)
            }
        }
    }
}

impl Field for Option<crate::core::user_id::UserId> {
    fn from_row<DB: Driver>(row: &DB::Row, column: Col<'_>) -> Result<Self, sqlx::Error> {
        match DB::get_opt_i64(row, column) {
            Ok(n) => Ok(n.map(crate::core::user_id::UserId::Int)),
            Err(_) => match DB::get_opt_string(row, column)? {
                Some(text) => parse_user_id(&text, column).map(Some),
                None => Ok(None),
            },
        }
    }
}

fn parse_user_id(text: &str, column: Col<'_>) -> Result<crate::core::user_id::UserId, sqlx::Error> {
    crate::core::user_id::UserId::parse(text).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: format!("{column:?}"),
        source: "a user's key that is neither an integer nor a UUID".into(),
    })
}

/// A row a statement returned.
pub(crate) struct Row<DB: Database>(pub(crate) DB::Row);

impl<DB: Driver> Row<DB> {
    /// The value of `column` (a name or a position).
    pub(crate) fn get<'c, T: Field>(&self, column: impl Into<Col<'c>>) -> Result<T, StoreError> {
        T::from_row::<DB>(&self.0, column.into()).map_err(classify)
    }

    /// The names of its columns, in order.
    pub(crate) fn column_names(&self) -> impl Iterator<Item = &str> {
        use sqlx::{Column as _, Row as _};
        self.0.columns().iter().map(|c| c.name())
    }
}
