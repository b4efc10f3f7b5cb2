//! The session's insert ids: the gateway's AUTO_INCREMENT ids written into an
//! `INSERT` on a sharded or broadcast table (segments of `crate::ids`), the OK
//! packet's insert id, and `LAST_INSERT_ID()` answered from the session's own
//! value — a pooled backend connection's is another statement's.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use topo::TableKind;

use super::Session;
use crate::error::ProxyError;
use crate::front::Responder;
use crate::ids::rewrite::{self, Form};
use crate::ids::AutoColumn;
use crate::sql::lexer::{qualified_name_at, Kind, Token};

#[cfg(test)]
mod tests;

/// What a statement does to the session's insert id, decided before it runs.
#[derive(Debug, Default)]
pub(super) struct IdStep {
    /// The text to run instead of the client's (ids written in,
    /// `LAST_INSERT_ID()` answered).
    pub text: Option<String>,
    effect: Effect,
    /// The statement calls `LAST_INSERT_ID(expr)`: a non-zero insert id in its
    /// OK packet is the value it set (`... ON DUPLICATE KEY UPDATE id =
    /// LAST_INSERT_ID(id)`).
    sets_value: bool,
}

#[derive(Debug, Default)]
enum Effect {
    /// Nothing to follow.
    #[default]
    None,
    /// The gateway assigned ids `first..` to an INSERT of `rows` rows.
    Assigned {
        first: u64,
        rows: usize,
        on_duplicate: bool,
    },
    /// `SELECT LAST_INSERT_ID(n)`, `DO LAST_INSERT_ID(n)`: the value becomes `n`.
    Set(u64),
    /// `SELECT LAST_INSERT_ID(col) FROM t ...` (any argument but a number, or
    /// a number evaluated once per row read): the value MariaDB left on the one
    /// set that ran it (`Session::last_id_probe`; refused over several sets).
    FromBackend,
    /// MariaDB's own ids (a single table) or `LAST_INSERT_ID(expr)`: the OK
    /// packet's insert id, unless the rows gave every id themselves.
    FromOk { rows: usize, on_duplicate: bool },
}

impl Session {
    /// Before a statement runs: `LAST_INSERT_ID()` replaced by the session's
    /// value, ids assigned to an INSERT on a sharded or broadcast table.
    pub(super) async fn ids_before(
        &mut self,
        sql: &str,
        tokens: &[Token],
        sig: &[Token],
        out: &mut Responder<'_>,
    ) -> Result<IdStep, ProxyError> {
        out.insert_id = None;
        out.last_ok = None;
        self.last_id_probe = None;
        self.last_id_read = None;
        let mut step = IdStep::default();
        // Only statements that run now: a stored routine's or trigger's body
        // (CREATE ...) keeps its LAST_INSERT_ID() calls.
        let dml = [
            "SELECT", "INSERT", "REPLACE", "UPDATE", "DELETE", "SET", "DO", "WITH", "VALUES",
        ];
        if !dml.iter().any(|w| first_is(sql, sig, w)) {
            return Ok(step);
        }
        let calls = last_insert_id_calls(sql, sig);
        if calls.iter().any(|c| c.arg.is_some()) {
            step.sets_value = true;
            let reads = ["SELECT", "DO", "WITH", "VALUES"]
                .iter()
                .any(|w| first_is(sql, sig, w));
            // A literal sets the value once, unless rows decide how often
            // (none read: unchanged).
            let literal = calls
                .iter()
                .filter(|c| c.arg.is_some())
                .map(|c| c.literal)
                .collect::<Option<Vec<u64>>>()
                .and_then(|v| v.last().copied())
                .filter(|_| !sig.iter().any(|t| t.is_word(sql, "FROM")));
            step.effect = match literal {
                // (`DO` sends no insert id in its OK packet either.)
                Some(v) if first_is(sql, sig, "SELECT") || first_is(sql, sig, "DO") => {
                    Effect::Set(v)
                }
                _ if reads => {
                    self.last_id_probe = Some(self.last_insert_id);
                    Effect::FromBackend
                }
                _ => Effect::FromOk {
                    rows: 0,
                    on_duplicate: false,
                },
            };
        }
        if calls.iter().any(|c| c.arg.is_none()) {
            step.text = Some(self.last_insert_id_text(sql, sig, &calls));
        }
        if step.text.is_some() {
            // A COM_STMT_EXECUTE runs as the rewritten text (its values spliced in).
            self.prepared = None;
        }
        if !(first_is(sql, sig, "INSERT") || first_is(sql, sig, "REPLACE")) {
            return Ok(step);
        }
        let text = step.text.clone();
        let sql = text.as_deref().unwrap_or(sql);
        let owned;
        let (tokens, sig) = match &text {
            Some(t) => {
                owned = crate::sql::lexer::tokenize(t).unwrap_or_default();
                (&owned[..], crate::sql::lexer::significant(&owned))
            }
            None => (tokens, sig.to_vec()),
        };
        let Some((db, table)) = self.insert_target(sql, &sig) else {
            return Ok(step);
        };
        // (Not `snapshot()`: the statement marks routing seen when it runs.)
        let snap = self.shared.routing.get();
        let kind = snap.table(&db, &table).map(|r| r.kind.clone());
        let gateway_ids = matches!(kind, Some(TableKind::Sharded { .. } | TableKind::Broadcast));
        let Some(auto) = self.auto_column(&snap, &db, &table).await? else {
            // No AUTO_INCREMENT column: only LAST_INSERT_ID(expr) matters.
            return Ok(step);
        };
        let form = match rewrite::analyze(
            sql,
            tokens,
            &auto.name,
            &auto.columns,
            self.zero_generates(),
        ) {
            Ok(f) => f,
            Err(e) if gateway_ids => return Err(e),
            Err(_) => Form::Select,
        };
        let ids = match form {
            Form::Rows(ids) => ids,
            // The session reads the SELECT and writes its rows as VALUES,
            // which get ids then.
            Form::Select if gateway_ids => return Err(ProxyError::InsertSelect),
            Form::Select => {
                step.effect = Effect::FromOk {
                    rows: 0,
                    on_duplicate: false,
                };
                return Ok(step);
            }
        };
        let n = ids.needed();
        // `SET insert_id = v`: the statement's generated ids are v, v + 1, ...
        // (on every kind of table: written into the text, as the gateway's own).
        let forced = if n > 0 {
            self.insert_id_next.take()
        } else {
            None
        };
        if !gateway_ids && forced.is_none() {
            if n > 0 || !matches!(step.effect, Effect::None) {
                step.effect = Effect::FromOk {
                    rows: ids.rows(),
                    on_duplicate: ids.on_duplicate,
                };
            }
            return Ok(step);
        }
        let segments = self.shared.ids.segments.clone();
        let topo = self.shared.topo.get().cloned();
        let assigned = match forced {
            Some(first) => {
                let increment = self.id_step().0.max(1);
                let values: Vec<u64> = (0..n).map(|k| first + k * increment).collect();
                if gateway_ids {
                    // Explicit ids for the counter: no id up to them is handed out later.
                    let mut next = values.iter().copied();
                    let rows: Vec<Option<u64>> = ids
                        .row_ids()
                        .into_iter()
                        .map(|r| r.or_else(|| next.next()))
                        .collect();
                    let step = self.id_step();
                    segments
                        .take(topo.as_ref(), &db, &table, &rows, 0, step)
                        .await?;
                }
                values
            }
            None => {
                let floor = if n > 0 && segments.is_new(&db, &table).await {
                    self.above_rows(&snap, &db, &table, &auto.name).await?
                } else {
                    0
                };
                segments
                    .take(
                        topo.as_ref(),
                        &db,
                        &table,
                        &ids.row_ids(),
                        floor,
                        self.id_step(),
                    )
                    .await?
            }
        };
        let Some(&first) = assigned.first() else {
            return Ok(step);
        };
        // Runs as text with the ids in it (also a COM_STMT_EXECUTE: its values
        // are spliced into that text).
        self.prepared = None;
        step.text = Some(ids.fill(sql, &auto.name, &assigned));
        let single_odku = ids.on_duplicate && ids.rows() == 1;
        if !single_odku {
            // (One row meeting a duplicate: MariaDB reports the updated row's id,
            // as the set does.)
            out.insert_id = Some(first);
        }
        step.effect = Effect::Assigned {
            first,
            rows: ids.rows(),
            on_duplicate: ids.on_duplicate,
        };
        Ok(step)
    }

    /// Takes the assignments to the session's id variables out of
    /// `assignments`, leaving the rest for the sets: `LAST_INSERT_ID` (also
    /// `@@identity`) is the gateway's own, and `insert_id` gives the next
    /// INSERT's generated ids — replayed on pooled connections it would give
    /// every later INSERT that id.
    pub(super) fn take_id_vars(
        &mut self,
        assignments: Vec<(String, String)>,
    ) -> Result<Vec<(String, String)>, ProxyError> {
        let mut rest = Vec::with_capacity(assignments.len());
        for (key, text) in assignments {
            match key.as_str() {
                "last_insert_id" | "identity" => self.last_insert_id = id_value(&key, &text)?,
                "insert_id" => {
                    self.insert_id_next = Some(id_value(&key, &text)?).filter(|v| *v > 0)
                }
                _ => rest.push((key, text)),
            }
        }
        Ok(rest)
    }

    /// The value a read of `@@name` gives for the session's id variables.
    pub(super) fn id_var(&self, name: &str) -> Option<u64> {
        match name {
            "last_insert_id" | "identity" => Some(self.last_insert_id),
            "insert_id" => Some(self.insert_id_next.unwrap_or(0)),
            _ => None,
        }
    }

    /// After the statement: the session's LAST_INSERT_ID() follows what it did.
    pub(super) fn ids_after(&mut self, step: &IdStep, out: &mut Responder<'_>, ok: bool) {
        out.insert_id = None;
        let last_ok = out.last_ok.take();
        self.last_id_probe = None;
        let read = self.last_id_read.take();
        if !ok {
            return;
        }
        if let Some((_, id)) = last_ok.filter(|&(_, id)| step.sets_value && id != 0) {
            self.last_insert_id = id;
            return;
        }
        // Nothing inserted (INSERT IGNORE of a duplicate), or one row of INSERT
        // ... ON DUPLICATE KEY UPDATE that updated (2) or left (0) a row:
        // LAST_INSERT_ID() stays.
        let inserted = |rows: usize, on_duplicate: bool, affected: u64| {
            affected > 0 && (!on_duplicate || rows > 1 || affected == 1)
        };
        match step.effect {
            Effect::None => {}
            Effect::Set(v) => self.last_insert_id = v,
            Effect::FromBackend => {
                if let Some(v) = read {
                    self.last_insert_id = v;
                }
            }
            Effect::Assigned {
                first,
                rows,
                on_duplicate,
            } => {
                if let Some((affected, _)) = last_ok {
                    if inserted(rows, on_duplicate, affected) {
                        self.last_insert_id = first;
                    }
                }
            }
            Effect::FromOk { rows, on_duplicate } => {
                if let Some((affected, id)) = last_ok {
                    if id != 0 && (rows == 0 || inserted(rows, on_duplicate, affected)) {
                        self.last_insert_id = id;
                    }
                }
            }
        }
    }

    /// COM_RESET_CONNECTION, COM_CHANGE_USER: `LAST_INSERT_ID()` is 0 again.
    pub(super) fn reset_ids(&mut self) {
        self.last_insert_id = 0;
    }

    /// `sql` with each `LAST_INSERT_ID()` replaced by the session's value: in
    /// the select list by an expression of MariaDB's type (BIGINT UNSIGNED, not
    /// null), its item keeping its column name; elsewhere by the plain number (so
    /// a shard key compared with it still routes).
    fn last_insert_id_text(&self, sql: &str, sig: &[Token], calls: &[Call]) -> String {
        let v = self.last_insert_id;
        let items: Vec<(usize, usize, bool)> = super::text::select_items(sql, sig)
            .into_iter()
            .map(|i| (i.first, i.end, i.aliased))
            .collect();
        let mut named = vec![false; items.len()];
        let mut edits = Vec::new();
        for c in calls.iter().filter(|c| c.arg.is_none()) {
            let (i, end) = (c.at, c.end);
            let item = items.iter().position(|&(s, e, _)| s <= i && end < e);
            let text = match item {
                // The backend was given the session's value (`last_id_probe`):
                // it answers itself, after the rows' LAST_INSERT_ID(expr).
                Some(_) if self.last_id_probe.is_some() => continue,
                // LAST_INSERT_ID() itself, once the backend's value is ours.
                Some(k) => {
                    let (s, e, aliased) = items[k];
                    if !aliased && !named[k] {
                        named[k] = true;
                        let name = &sql[sig[s].start..sig[e - 1].end];
                        edits.push((
                            sig[e - 1].end,
                            sig[e - 1].end,
                            format!(" AS `{}`", name.replace('`', "``")),
                        ));
                    }
                    format!("IF(LAST_INSERT_ID({v}), LAST_INSERT_ID(), LAST_INSERT_ID())")
                }
                None => v.to_string(),
            };
            edits.push((sig[i].start, sig[end].end, text));
        }
        crate::route::select::apply_edits(sql, edits)
    }

    /// The database and table an INSERT writes.
    pub(super) fn insert_target(&self, sql: &str, sig: &[Token]) -> Option<(String, String)> {
        let mut i = 1;
        while ["LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "INTO"]
            .iter()
            .any(|w| sig.get(i).is_some_and(|t| t.is_word(sql, w)))
        {
            i += 1;
        }
        let (db, table, _) = qualified_name_at(sql, sig, i)?;
        let db = db.or_else(|| self.db.clone())?;
        Some((db, table))
    }

    /// Whether `0` in an AUTO_INCREMENT column asks for a new id (sql_mode
    /// without NO_AUTO_VALUE_ON_ZERO).
    /// The session's `auto_increment_increment` and `auto_increment_offset`
    /// (1 and 1 unless it set them; MariaDB's range is 1..=65535).
    fn id_step(&self) -> (u64, u64) {
        let number = |key: &str| {
            self.vars
                .text(key)
                .and_then(|t| t.rsplit('=').next())
                .and_then(|v| v.trim().trim_matches('\'').parse::<u64>().ok())
                .map_or(1, |v| v.clamp(1, 65_535))
        };
        (
            number("auto_increment_increment"),
            number("auto_increment_offset"),
        )
    }

    fn zero_generates(&self) -> bool {
        !self
            .vars
            .init()
            .iter()
            .any(|s| s.to_ascii_lowercase().contains("no_auto_value_on_zero"))
    }

    /// The AUTO_INCREMENT column of `db.table`, from a set's information_schema
    /// (cached until the next DDL).
    async fn auto_column(
        &self,
        snap: &topo::ClusterSnapshot,
        db: &str,
        table: &str,
    ) -> Result<Option<Arc<AutoColumn>>, ProxyError> {
        if let Some(c) = self.shared.ids.auto_column(db, table) {
            return Ok(c);
        }
        if crate::show::set_holding(snap, self.db.as_deref(), Some(db), table).is_err() {
            return Ok(None);
        }
        let Some(cols) = self.column_info(snap, db, table).await? else {
            // No such table: MariaDB's own error follows; nothing to cache.
            return Ok(None);
        };
        let auto = cols.auto_increment().map(|name| {
            Arc::new(AutoColumn {
                name: name.to_string(),
                columns: cols.names.as_ref().clone(),
            })
        });
        self.shared.ids.remember(db, table, auto.clone());
        Ok(auto)
    }

    /// The least id above every row of the table on its sets (for the first
    /// reservation of a table that already has rows).
    async fn above_rows(
        &self,
        snap: &topo::ClusterSnapshot,
        db: &str,
        table: &str,
        col: &str,
    ) -> Result<u64, ProxyError> {
        let q = |s: &str| format!("`{}`", s.replace('`', "``"));
        let sql = format!(
            "SELECT CAST(GREATEST(COALESCE(MAX({}), 0), 0) AS UNSIGNED) FROM {}.{}",
            q(col),
            q(db),
            q(table)
        );
        let sets = match snap.db(db) {
            Some(rec) => match snap.table(db, table).map(|r| &r.kind) {
                Some(TableKind::Sharded { .. }) => rec.shard_map.sets(),
                _ => rec.sets().into_iter().take(1).collect(),
            },
            None => Vec::new(),
        };
        let mut top = 0u64;
        for set in sets {
            // While locked, on the session's own connection (locks.rs).
            let (mut conn, pinned) = self.side_conn(snap, &set).await?;
            let max: Result<Option<u64>, _> = conn.query_first(&sql).await;
            self.side_done(&set, conn, pinned);
            let max = max.map_err(|e| ProxyError::from_backend(&set, e))?;
            top = top.max(max.unwrap_or(0));
        }
        Ok(top.saturating_add(1))
    }
}

/// One `LAST_INSERT_ID(...)` call: significant-token indices of its name and
/// closing parenthesis, its argument's range (none: `LAST_INSERT_ID()`), and
/// the argument as an integer literal.
#[derive(Debug)]
struct Call {
    at: usize,
    end: usize,
    arg: Option<(usize, usize)>,
    literal: Option<u64>,
}

fn last_insert_id_calls(sql: &str, sig: &[Token]) -> Vec<Call> {
    let mut out = Vec::new();
    for (i, t) in sig.iter().enumerate() {
        if !(t.is_word(sql, "LAST_INSERT_ID")
            && sig.get(i + 1).is_some_and(|t| t.is_punct(sql, "(")))
        {
            continue;
        }
        let mut depth = 0;
        let Some(end) = (i + 1..sig.len()).find(|&j| {
            if sig[j].is_punct(sql, "(") {
                depth += 1;
            } else if sig[j].is_punct(sql, ")") {
                depth -= 1;
            }
            depth == 0
        }) else {
            continue;
        };
        let arg = (end > i + 2).then_some((i + 2, end));
        let literal = match arg {
            Some((s, e)) if e == s + 1 && sig[s].kind == Kind::Number => {
                sig[s].text(sql).parse().ok()
            }
            _ => None,
        };
        out.push(Call {
            at: i,
            end,
            arg,
            literal,
        });
    }
    out
}

fn first_is(sql: &str, sig: &[Token], w: &str) -> bool {
    sig.first().is_some_and(|t| t.is_word(sql, w))
}

/// The value of `name = value` for an id variable: an unsigned integer
/// (`DEFAULT`: 0); anything else is 1232.
fn id_value(key: &str, text: &str) -> Result<u64, ProxyError> {
    let value = super::limits::assigned_value(text);
    if value.eq_ignore_ascii_case("DEFAULT") {
        return Ok(0);
    }
    value
        .parse()
        .map_err(|_| ProxyError::WrongTypeForVar(key.to_string()))
}
