//! `UPDATE`/`DELETE ... [ORDER BY ...] LIMIT n` on rows of several sets, as one
//! MariaDB: the rows are chosen by the ordered, limited SELECT of the table's
//! primary key (or a unique key of NOT NULL columns) run on every set with
//! `FOR UPDATE` and merged in the gateway, then exactly those rows are written,
//! set by set, by key — all in one distributed transaction (the client's own when
//! one is open). A table with no such key: each set runs the statement itself
//! with LIMIT cut to the number of rows the merge chose there (its own first
//! rows in the statement's order — the same ones, up to ties). Without ORDER BY
//! the rows are taken in key order (InnoDB's scan order on one server). With
//! ties in ORDER BY MariaDB's choice among equal rows is unspecified; so is this
//! one, but the count is exact.

use mysql_async::prelude::Queryable;
use mysql_common::packets::Column;

use super::{fail, Session};
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::Responder;
use crate::merge::sort::RowOrder;
use crate::merge::value::Cell;
use crate::route::limited::{shape, Shape};
use crate::route::{plan_statement, Merge, Plan, Target};
use crate::sql::lexer::{significant, tokenize, Token};
use crate::sql::parse_one;

/// How a key column's values are written back as literals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lit {
    /// Numbers: as the server printed them.
    Raw,
    /// Dates and times: quoted (their text is ASCII).
    Quoted,
    /// Strings: read as `HEX(col)` and written as a hex literal in the column's
    /// character set (binary strings without one), whatever the connection's.
    Hex,
}

struct KeyCol {
    name: String,
    lit: Lit,
    charset: Option<String>,
}

impl KeyCol {
    fn quoted(&self) -> String {
        format!("`{}`", self.name.replace('`', "``"))
    }
    fn select_expr(&self) -> String {
        match self.lit {
            Lit::Hex => format!("HEX({})", self.quoted()),
            _ => self.quoted(),
        }
    }
    fn literal(&self, cell: &Cell) -> String {
        let text = String::from_utf8_lossy(cell.as_deref().unwrap_or_default()).into_owned();
        match (self.lit, &self.charset) {
            (Lit::Raw, _) => text,
            (Lit::Quoted, _) => format!("'{}'", text.replace('\'', "''")),
            (Lit::Hex, Some(cs)) => format!("_{cs} X'{text}'"),
            (Lit::Hex, None) => format!("X'{text}'"),
        }
    }
}

fn lit_of(data_type: &str) -> Lit {
    let t = data_type.to_ascii_lowercase();
    if t.contains("int") || matches!(t.as_str(), "decimal" | "float" | "double" | "year" | "bit") {
        Lit::Raw
    } else if matches!(t.as_str(), "date" | "datetime" | "timestamp" | "time") {
        Lit::Quoted
    } else {
        Lit::Hex
    }
}

impl Session {
    /// Runs an UPDATE/DELETE with LIMIT whose rows span several sets.
    pub(super) async fn limited_write(
        &mut self,
        snap: &topo::ClusterSnapshot,
        sql: &str,
        tokens: &[Token],
        out: &mut Responder<'_>,
    ) -> Answered {
        // Runs as text, whatever protocol the client used.
        self.prepared = None;
        let sig = significant(tokens);
        let first = sig
            .first()
            .map(|t| t.text(sql).to_ascii_uppercase())
            .unwrap_or_default();
        let opened = self.txn.is_none();
        self.open_txn();
        let plan = match self.choose_rows(snap, sql, &sig).await {
            Ok(p) => p,
            Err(e) => {
                if opened {
                    let _ = self.end_txn("ROLLBACK").await;
                } else if matches!(e, ProxyError::Backend { code: 1213, .. }) {
                    // A deadlock ends the client's transaction, as in MariaDB.
                    let _ = self.end_txn("ROLLBACK").await;
                }
                return fail(out, &e).await;
            }
        };
        if opened && !matches!(plan.merge, Merge::Single) {
            self.atomic_write(snap, &plan, sql, out).await
        } else if opened {
            // The client's statement on the one set holding every candidate row
            // (nothing was chosen yet): a plain write there.
            let _ = self.end_txn("ROLLBACK").await;
            self.run_plan(snap, &plan, sql, &first, out).await
        } else {
            self.run_plan(snap, &plan, sql, &first, out).await
        }
    }

    /// Chooses the rows (locking them) and plans the write of exactly those.
    async fn choose_rows(
        &mut self,
        snap: &topo::ClusterSnapshot,
        sql: &str,
        sig: &[Token],
    ) -> Result<Plan, ProxyError> {
        let sh = shape(sql, sig)?;
        let db = sh
            .db
            .clone()
            .or_else(|| self.db.clone())
            .ok_or(ProxyError::NoDatabaseSelected)?;
        // No key: each set runs the statement limited to the rows chosen there.
        let keys = self.row_key(snap, &db, &sh).await?;
        let mut exprs: Vec<String> = keys.iter().map(KeyCol::select_expr).collect();
        if keys.is_empty() {
            if sh.limited_to(sql, 0).is_none() {
                return Err(ProxyError::NotSupported(format!(
                    "UPDATE/DELETE with LIMIT on rows of several sets of `{db}`.`{}`, which has no primary key or unique key of NOT NULL columns, with a LIMIT that is not a number",
                    sh.table
                )));
            }
            exprs.push("1".into());
        }
        let by: Vec<String> = keys.iter().map(KeyCol::quoted).collect();
        let select = sh.select_text(sql, &exprs, &by);
        let toks = tokenize(&select)
            .map_err(|e| ProxyError::Internal(format!("choosing rows: {}", e.what)))?;
        let stmt = parse_one(&select).map_err(|e| {
            ProxyError::NotSupported(format!(
                "UPDATE/DELETE with LIMIT on rows of several sets whose row choice the gateway cannot plan ({e})"
            ))
        })?;
        let planned = match plan_statement(
            snap,
            self.db.as_deref(),
            &select,
            &toks,
            &stmt,
            None,
            &crate::join::CrossSetPlanner,
        ) {
            Ok(p) => p,
            Err(e) => return Err(self.own_error(snap, &select, e).await),
        };
        let (sets, spec) = match planned.plan {
            Plan {
                target: Target::Sets(sets),
                merge: Merge::Merged(spec),
            } => (sets, spec),
            // One set holds every row that could be chosen (`LIMIT 0`, or the
            // rows pinned to one set): the client's statement runs there as is.
            Plan {
                target: Target::Sets(sets),
                merge: Merge::Single,
            } if sets.len() == 1 => {
                return Ok(Plan {
                    target: Target::Sets(sets),
                    merge: Merge::Single,
                })
            }
            other => {
                return Err(ProxyError::Internal(format!(
                    "choosing rows: unexpected plan {other:?}"
                )))
            }
        };
        let limit = spec.limit.unwrap_or(u64::MAX) as usize;
        let text = format!("{} FOR UPDATE", spec.sql);
        // Every set's candidates, read in the transaction (locked).
        let mut cols: Option<std::sync::Arc<[Column]>> = None;
        let mut all: Vec<(usize, Vec<Cell>)> = Vec::new();
        {
            let mut exec = self.exec(snap);
            exec.write = true;
            for (n, set) in sets.iter().enumerate() {
                let filtered = exec.for_set(set, &text)?;
                let wire = exec.conns.codec.wire(&filtered);
                let mut conn = exec.take(set).await?;
                let r = crate::show_rows::fetch_on(&mut conn, set, &wire).await;
                exec.give_back(set, conn, r.as_ref().err());
                let (c, rows) = r?;
                cols.get_or_insert(c);
                all.extend(rows.into_iter().map(|r| (n, r)));
            }
        }
        let cols = cols.unwrap_or_else(|| Vec::new().into());
        let spec = spec.resolve(cols.len()).ok_or_else(|| {
            ProxyError::Internal("choosing rows: unexpected number of columns".into())
        })?;
        let order = RowOrder::new(&spec.keys, &cols);
        all.sort_by(|a, b| order.compare(&a.1, &b.1));
        all.truncate(limit);
        if keys.is_empty() {
            let mut count = vec![0usize; sets.len()];
            for (n, _) in &all {
                count[*n] += 1;
            }
            let mut parts: Vec<(String, String)> = sets
                .iter()
                .zip(count)
                .filter(|(_, k)| *k > 0)
                .filter_map(|(set, k)| Some((set.clone(), sh.limited_to(sql, k)?)))
                .collect();
            if parts.is_empty() {
                parts.push((sets[0].clone(), sh.write_text(sql, "0")));
            }
            return Ok(Plan {
                target: Target::PerSet(parts),
                merge: Merge::SumAffected,
            });
        }
        // The write of the chosen rows, on the sets holding them.
        let mut by_set: Vec<Vec<String>> = vec![Vec::new(); sets.len()];
        for (n, row) in &all {
            let lits: Vec<String> = keys
                .iter()
                .zip(row.iter())
                .map(|(k, c)| k.literal(c))
                .collect();
            by_set[*n].push(if lits.len() == 1 {
                lits[0].clone()
            } else {
                format!("({})", lits.join(", "))
            });
        }
        let lhs = if keys.len() == 1 {
            keys[0].quoted()
        } else {
            let q: Vec<String> = keys.iter().map(KeyCol::quoted).collect();
            format!("({})", q.join(", "))
        };
        let mut parts: Vec<(String, String)> = sets
            .iter()
            .zip(by_set)
            .filter(|(_, v)| !v.is_empty())
            .map(|(set, v)| {
                let cond = format!("{lhs} IN ({})", v.join(", "));
                (set.clone(), sh.write_text(sql, &cond))
            })
            .collect();
        if parts.is_empty() {
            // No row qualifies: one set answers as MariaDB does for none.
            parts.push((sets[0].clone(), sh.write_text(sql, "0")));
        }
        Ok(Plan {
            target: Target::PerSet(parts),
            merge: Merge::SumAffected,
        })
    }

    /// MariaDB's own error for a statement the planner refused (`LIMIT -1`):
    /// the row-choosing SELECT (a read) is tried on one set; `planned` when it runs.
    async fn own_error(
        &self,
        snap: &topo::ClusterSnapshot,
        select: &str,
        planned: ProxyError,
    ) -> ProxyError {
        let conns = self.conns(snap);
        let Ok(set) = crate::show::any_set_of(snap, self.db.as_deref()) else {
            return planned;
        };
        let Ok(mut conn) = conns.pooled(&set).await else {
            return planned;
        };
        match conn.query_drop(&conns.codec.wire(select)[..]).await {
            Err(e) => ProxyError::from_backend(&set, e),
            Ok(()) => planned,
        }
    }

    /// The table's primary key, else its first unique key of NOT NULL columns;
    /// empty when it has neither.
    async fn row_key(
        &self,
        snap: &topo::ClusterSnapshot,
        db: &str,
        sh: &Shape,
    ) -> Result<Vec<KeyCol>, ProxyError> {
        let set = crate::show::set_holding(snap, self.db.as_deref(), Some(db), &sh.table)?;
        let mut conn = self.conns(snap).pooled(&set).await?;
        let rows: Vec<(String, String, String, Option<String>, String)> = conn
            .exec(
                "SELECT s.INDEX_NAME, s.COLUMN_NAME, c.DATA_TYPE, c.CHARACTER_SET_NAME, c.IS_NULLABLE \
                 FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c \
                 ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME \
                 AND c.COLUMN_NAME = s.COLUMN_NAME \
                 WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.NON_UNIQUE = 0 \
                 ORDER BY s.INDEX_NAME = 'PRIMARY' DESC, s.INDEX_NAME, s.SEQ_IN_INDEX",
                (db, &sh.table),
            )
            .await
            .map_err(|e| ProxyError::from_backend(&set, e))?;
        let mut index: Option<&str> = None;
        let mut cols: Vec<KeyCol> = Vec::new();
        let mut nullable = false;
        for (idx, col, dt, cs, null) in &rows {
            if index != Some(idx.as_str()) {
                if index.is_some() && !nullable {
                    break;
                }
                index = Some(idx);
                cols.clear();
                nullable = false;
            }
            nullable |= null == "YES";
            let lit = lit_of(dt);
            cols.push(KeyCol {
                name: col.clone(),
                lit,
                charset: cs.clone().filter(|_| lit == Lit::Hex),
            });
        }
        if nullable {
            cols.clear();
        }
        Ok(cols)
    }
}
