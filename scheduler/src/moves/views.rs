//! Views of a moving database. The gateway records a view over sharded rows as a
//! sharded table (routed by the key it shows) and one over broadcast tables as a
//! broadcast table, so they are in the database's table records; but a view holds
//! no rows: the move neither copies, catches up, verifies nor deletes it. It
//! needs only to exist on a target new to the database, made there after the
//! tables from the first source's `SHOW CREATE VIEW` (views over views in as
//! many passes as their nesting needs); an undo drops them again.

use anyhow::{bail, Result};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::driver::Driver;
use super::sql::qt;

/// Names of the views of `db` on the server of `c`.
pub async fn of_db(c: &mut Conn, db: &str) -> Result<Vec<String>> {
    Ok(c.exec(
        "SELECT TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'VIEW' ORDER BY TABLE_NAME",
        (db,),
    )
    .await?)
}

/// Creates (or replaces) `views` of the move's database on `tgt` as `src` has them.
pub async fn create(d: &Driver, src: &mut Conn, tgt: &mut Conn, views: &[String]) -> Result<()> {
    let mut ddl = Vec::new();
    for v in views {
        let row: Option<mysql_async::Row> = src
            .query_first(format!("SHOW CREATE VIEW {}", qt(&d.rec.db, v)))
            .await?;
        let Some(text) = row.and_then(|r| r.get::<String, _>(1)) else {
            bail!("no view {v} on the source");
        };
        // `CREATE ALGORITHM=... DEFINER=... VIEW`: replaced if left by an earlier try.
        let text = match text.strip_prefix("CREATE ") {
            Some(rest) => format!("CREATE OR REPLACE {rest}"),
            None => text,
        };
        ddl.push((v.clone(), text));
    }
    // A view over a view fails until the view it reads exists: again, while
    // each pass makes one more.
    while !ddl.is_empty() {
        let before = ddl.len();
        let mut failed = Vec::new();
        let mut last_error = String::new();
        for (v, text) in std::mem::take(&mut ddl) {
            d.check_leading()?;
            if let Err(e) = tgt.query_drop(&text).await {
                last_error = format!("view {v}: {e}");
                failed.push((v, text));
            }
        }
        if failed.len() == before {
            bail!("{last_error}");
        }
        ddl = failed;
    }
    Ok(())
}

/// Drops `views` of `db` on `tgt` (an undo on a target new to the database).
pub async fn drop(tgt: &mut Conn, db: &str, views: &[String]) -> Result<()> {
    for v in views {
        tgt.query_drop(format!("DROP VIEW IF EXISTS {}", qt(db, v)))
            .await?;
    }
    Ok(())
}
