//! Filtered, sorted and paginated reads of `up_users` (`GET /api/users`,
//! `GET /api/users/count`).
//!
//! The caller builds the `WHERE` and `ORDER BY` fragments itself, from a
//! fixed whitelist of column names, and passes every value as a
//! [`SqlValue`] bound to `$1, $2, …`. Nothing here interpolates a value.

use super::{COLUMNS, User};
use crate::{Result, Store};

/// A value bound to one `$n` placeholder of a [`UserQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Int(i64),
    Text(String),
}

/// A query over `up_users` built by a caller.
///
/// Contract: `where_sql` and `order_sql` are SQL fragments written only
/// from column names of a fixed whitelist, operators and `$n` placeholders
/// numbered from `$1`, one per entry of `binds`, in order. User input never
/// appears in them; it travels in `binds`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// A boolean expression; empty means every row.
    pub where_sql: String,
    pub binds: Vec<SqlValue>,
    /// An `ORDER BY` list such as `username DESC`; `id ASC` is always
    /// appended so that pages are stable.
    pub order_sql: String,
    /// `None`: no limit.
    pub limit: Option<i64>,
    pub offset: i64,
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

fn bind_all<'q>(mut query: AnyQuery<'q>, binds: &[SqlValue]) -> AnyQuery<'q> {
    for value in binds {
        query = match value {
            SqlValue::Int(i) => query.bind(*i),
            SqlValue::Text(s) => query.bind(s.clone()),
        };
    }
    query
}

impl UserQuery {
    fn where_clause(&self) -> String {
        if self.where_sql.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.where_sql)
        }
    }
}

impl Store {
    /// The users matching `query`, in its order, then by id.
    pub async fn find_users(&self, query: &UserQuery) -> Result<Vec<User>> {
        let order = if query.order_sql.is_empty() {
            "id ASC".to_owned()
        } else {
            format!("{}, id ASC", query.order_sql)
        };
        let n = query.binds.len();
        let sql = format!(
            "SELECT {COLUMNS} FROM up_users{} ORDER BY {order} LIMIT ${} OFFSET ${}",
            query.where_clause(),
            n + 1,
            n + 2
        );
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &query.binds)
            // `LIMIT` with a huge bound is "no limit" on both backends.
            .bind(query.limit.unwrap_or(i64::MAX))
            .bind(query.offset.max(0))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(User::from_row).collect()
    }

    /// How many users match `query` (its order and page are ignored).
    pub async fn count_users_matching(&self, query: &UserQuery) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM up_users{}", query.where_clause());
        let (n,): (i64,) = bind_all_as(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &query.binds)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }
}

type AnyQueryAs<'q, O> = sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>;

fn bind_all_as<'q, O>(mut query: AnyQueryAs<'q, O>, binds: &[SqlValue]) -> AnyQueryAs<'q, O> {
    for value in binds {
        query = match value {
            SqlValue::Int(i) => query.bind(*i),
            SqlValue::Text(s) => query.bind(s.clone()),
        };
    }
    query
}
