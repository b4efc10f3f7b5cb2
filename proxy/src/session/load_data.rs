//! `LOAD DATA LOCAL INFILE` into any table (sharded, broadcast, single): the
//! gateway asks the client for the file, lets one set's MariaDB read it into a
//! private temporary table with the statement's own `FIELDS` / `LINES` /
//! column list / `SET` (so the file is parsed exactly as MariaDB parses it,
//! with its warnings), reads the rows back and runs them as `INSERT IGNORE`
//! (or `REPLACE`) `... VALUES` — like `INSERT ... SELECT` (`insert_select`):
//! ids assigned, each row routed by its shard key, atomic across sets. The OK
//! is LOAD DATA's (`Records: n  Deleted: d  Skipped: s  Warnings: w`); `SHOW
//! WARNINGS` lists reading the file's warnings, then the INSERT's.
//!
//! The temporary table is `CREATE TEMPORARY TABLE ... SELECT * FROM t LIMIT
//! 0`: the table's columns, types and defaults, no keys and no AUTO_INCREMENT
//! (a column the file leaves out gets its default, an AUTO_INCREMENT one 0:
//! the gateway assigns it an id). Generated columns are not inserted.
//!
//! Limits: the file is held in the gateway (at most `[join] memory_limit`
//! bytes, as are its rows); `LOAD DATA INFILE` without `LOCAL` reads a file on
//! the database server, which is not where the client is: refused.

use mysql_async::prelude::Queryable;

use super::insert_select::{class_of, literal};
use super::{fail, Session};
use crate::command::load::{LoadData, OnDuplicate};
use crate::error::ProxyError;
use crate::exec::txn::diag::{cells, Cells};
use crate::exec::Answered;
use crate::front::{Handler, LoadInfo, OkInfo, Responder};
use crate::join::Budget;
use crate::show;
use crate::sql::lexer::quote_ident as quote;

/// The temporary table a file is read into (in the target's database), on
/// the reading connection only.
const TMP: &str = "setwise_load";

/// What reading the file gave.
struct Loaded {
    /// `INSERT IGNORE | REPLACE INTO t (cols) VALUES ...`; `None`: no rows.
    insert: Option<String>,
    info: LoadInfo,
    /// The warnings of reading the file, as `SHOW WARNINGS` rows.
    warnings: Vec<Cells>,
}

impl Session {
    /// Runs `LOAD DATA` (`l`, read from `sql`).
    pub(super) async fn load_data(
        &mut self,
        sql: &str,
        l: &LoadData,
        out: &mut Responder<'_>,
    ) -> Answered {
        if !l.local {
            return fail(
                out,
                &ProxyError::NotSupported(
                    "LOAD DATA INFILE without LOCAL through the gateway (it reads a file on \
                     a database server): use LOAD DATA LOCAL INFILE"
                        .into(),
                ),
            )
            .await;
        }
        if !out.local_files {
            return fail(
                out,
                &ProxyError::Backend {
                    code: 4166,
                    state: "HY000".into(),
                    message: "The used command is not allowed because the MariaDB server or \
                              client has disabled the local infile capability"
                        .into(),
                },
            )
            .await;
        }
        // The file, in the client's own words for its name.
        let limit = Budget::new("").limit;
        let name = self.codec.wire(&l.file).into_owned();
        let data = match out.local_infile(&name, limit).await? {
            Ok(d) => d,
            Err(size) => {
                let e = ProxyError::NotSupported(format!(
                    "a LOAD DATA file of {size} bytes through the gateway: it holds at most \
                     {limit} bytes per statement ([join] memory_limit); split the file"
                ));
                return fail(out, &e).await;
            }
        };
        let loaded = match self.read_file(sql, l, data).await {
            Ok(r) => r,
            Err(e) => return fail(out, &e).await,
        };
        let answered = match &loaded.insert {
            Some(text) => {
                out.records_info = true;
                out.load_info = Some(loaded.info);
                let a = Box::pin(self.statement_run(text, out)).await;
                out.records_info = false;
                out.load_info = None;
                a
            }
            None => {
                out.status = self.status();
                let w = loaded.info.warnings;
                out.ok(&OkInfo {
                    warnings: w,
                    info: format!("Records: 0  Deleted: 0  Skipped: 0  Warnings: {w}"),
                    ..OkInfo::default()
                })
                .await?;
                Ok(true)
            }
        };
        // Reading the file's warnings come first, as MariaDB lists them.
        let mut rows = loaded.warnings;
        rows.append(&mut self.diag_rows);
        self.diag_rows = rows;
        answered
    }

    /// Reads `data` into the temporary table on a set holding the table and
    /// builds the INSERT of its rows.
    async fn read_file(
        &mut self,
        sql: &str,
        l: &LoadData,
        data: Vec<u8>,
    ) -> Result<Loaded, ProxyError> {
        let db = l
            .table
            .db
            .clone()
            .or_else(|| self.db.clone())
            .ok_or(ProxyError::NoDatabaseSelected)?;
        let table = &l.table.name;
        let snap = self.snapshot();
        let Some(cols) = self.column_info(&snap, &db, table).await? else {
            return Err(ProxyError::Backend {
                code: 1146,
                state: "42S02".into(),
                message: format!("Table '{db}.{table}' doesn't exist"),
            });
        };
        let set = show::set_holding(&snap, self.db.as_deref(), Some(&db), table)?;
        let mut conn = self.conns(&snap).pooled(&set).await?;
        let target = format!("{}.{}", quote(&db), quote(table));
        let tmp = format!("{}.{}", quote(&db), quote(TMP));
        let load = format!(
            "LOAD DATA LOCAL INFILE 'setwise' INTO TABLE {tmp} {}",
            &sql[l.rest_at..]
        );
        let load = self.codec.wire(&load).into_owned();
        // The columns inserted: all but generated ones.
        let kept: Vec<usize> = (0..cols.names.len())
            .filter(|&i| !cols.extras[i].to_ascii_uppercase().contains("GENERATED"))
            .collect();
        let select = format!(
            "SELECT {} FROM {tmp}",
            kept.iter()
                .map(|&i| quote(&cols.names[i]))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let err = |e| ProxyError::from_backend(&set, e);
        let read = async {
            conn.query_drop(format!(
                "CREATE TEMPORARY TABLE {tmp} SELECT * FROM {target} LIMIT 0"
            ))
            .await
            .map_err(err)?;
            let bytes = bytes::Bytes::from(data);
            conn.set_infile_handler(async move {
                let s: mysql_async::InfileData =
                    Box::pin(futures::stream::once(async move { Ok(bytes) }));
                Ok(s)
            });
            conn.query_drop(load.as_slice()).await.map_err(err)?;
            let records = conn.affected_rows();
            let warnings = conn.get_warnings();
            let listed: Vec<Cells> = if warnings > 0 {
                let rows: Vec<mysql_async::Row> = conn.query("SHOW WARNINGS").await.map_err(err)?;
                // Named as the client's table, as MariaDB names it.
                let (ours, theirs) = (format!("`{db}`.`{TMP}`."), format!("`{db}`.`{table}`."));
                rows.into_iter()
                    .map(cells)
                    .map(|mut r| {
                        if let Some(Some(m)) = r.get_mut(2) {
                            let text = String::from_utf8_lossy(m).replace(&ours, &theirs);
                            *m = text.into_bytes();
                        }
                        r
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let mut res = conn.query_iter(select.as_str()).await.map_err(err)?;
            let columns = res.columns().map(|c| c.to_vec()).unwrap_or_default();
            let mut budget = Budget::new("the rows of a LOAD DATA");
            let mut rows: Vec<Cells> = Vec::new();
            while let Some(row) = res.next().await.map_err(err)? {
                let row = cells(row);
                budget.hold(&row)?;
                rows.push(row);
            }
            Ok::<_, ProxyError>((records, warnings, listed, columns, rows))
        }
        .await;
        let dropped = conn
            .query_drop(format!("DROP TEMPORARY TABLE IF EXISTS {tmp}"))
            .await;
        match (&read, dropped) {
            (Ok(_), Ok(())) => crate::exec::release(conn),
            _ => crate::exec::discard(conn),
        }
        let (records, warnings, listed, columns, rows) = read?;
        let info = LoadInfo {
            records,
            warnings,
            replace: l.on_duplicate == OnDuplicate::Replace,
        };
        if rows.is_empty() {
            return Ok(Loaded {
                insert: None,
                info,
                warnings: listed,
            });
        }
        // Without REPLACE a LOCAL load skips duplicates, as MariaDB's does.
        let verb = match l.on_duplicate {
            OnDuplicate::Replace => "REPLACE INTO",
            OnDuplicate::Ignore | OnDuplicate::Default => "INSERT IGNORE INTO",
        };
        let names: Vec<String> = kept.iter().map(|&i| quote(&cols.names[i])).collect();
        let mut text = format!("{verb} {target} ({}) VALUES ", names.join(", "));
        for (r, row) in rows.iter().enumerate() {
            if r > 0 {
                text.push_str(", ");
            }
            text.push('(');
            for (j, cell) in row.iter().enumerate() {
                if j > 0 {
                    text.push_str(", ");
                }
                let col = columns.get(j).ok_or_else(|| {
                    ProxyError::Internal("LOAD DATA: a row wider than its columns".into())
                })?;
                let class = class_of(&cols.types[kept[j]]);
                text.push_str(&literal(col, cell.as_deref(), class)?);
            }
            text.push(')');
        }
        Ok(Loaded {
            insert: Some(text),
            info,
            warnings: listed,
        })
    }
}
