//! A set's answer being read: to a text query or to a prepared statement's
//! execute (mysql_async types them apart), behind one face for the readers that
//! take either (`exec::parallel`, `merge::stream`).

use std::sync::Arc;

use mysql_async::{BinaryProtocol, Column, QueryResult, Row, TextProtocol};

pub enum Answer<'a> {
    Text(QueryResult<'a, 'static, TextProtocol>),
    Binary(QueryResult<'a, 'static, BinaryProtocol>),
}

impl Answer<'_> {
    pub fn columns(&self) -> Option<Arc<[Column]>> {
        match self {
            Answer::Text(r) => r.columns(),
            Answer::Binary(r) => r.columns(),
        }
    }

    pub async fn next(&mut self) -> mysql_async::Result<Option<Row>> {
        match self {
            Answer::Text(r) => r.next().await,
            Answer::Binary(r) => r.next().await,
        }
    }

    pub fn warnings(&self) -> u16 {
        match self {
            Answer::Text(r) => r.warnings(),
            Answer::Binary(r) => r.warnings(),
        }
    }

    pub async fn drop_result(self) -> mysql_async::Result<()> {
        match self {
            Answer::Text(r) => r.drop_result().await,
            Answer::Binary(r) => r.drop_result().await,
        }
    }
}
