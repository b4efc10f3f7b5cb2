//! A session's temporary tables: `CREATE/DROP TEMPORARY TABLE` and the schema
//! statements on them, run on the session's pinned connection to the home set.

use super::{fail, Session};
use crate::command::Statement;
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::Responder;
use crate::route::{Merge, Plan, Target};

impl Session {
    /// `CREATE/DROP TEMPORARY TABLE`: a temporary table lives on the session's
    /// own connection to its database's home set (pinned, `crate::exec::Pins`),
    /// where the planner sends every statement naming a table it does not know.
    /// Refused when that would read other sets' rows or hide a sharded or
    /// broadcast table of the same name.
    pub(super) async fn temporary(
        &mut self,
        stmt: &Statement<'_>,
        out: &mut Responder<'_>,
    ) -> Answered {
        let (sql, sig, first) = (stmt.sql, &stmt.sig[..], stmt.verb.as_str());
        let snap = self.snapshot();
        let r = (|| {
            let at = sig
                .iter()
                .position(|t| t.is_word(sql, "TABLE"))
                .ok_or_else(|| ProxyError::Syntax(format!("{first} TEMPORARY needs TABLE")))?;
            let mut i = at + 1;
            if sig.get(i).is_some_and(|t| t.is_word(sql, "IF")) {
                i += if sig.get(i + 1).is_some_and(|t| t.is_word(sql, "NOT")) {
                    3
                } else {
                    2
                };
            }
            let (db, name, _) = crate::sql::lexer::qualified_name_at(sql, sig, i)
                .ok_or_else(|| ProxyError::Syntax("a temporary table needs a name".into()))?;
            let db = db
                .or_else(|| self.db.clone())
                .ok_or(ProxyError::NoDatabaseSelected)?;
            let rec = snap
                .db(&db)
                .ok_or_else(|| ProxyError::UnknownDatabase(db.clone()))?;
            if snap
                .table(&db, &name)
                .is_some_and(|t| !matches!(t.kind, topo::TableKind::Single))
            {
                return Err(ProxyError::NotSupported(format!(
                    "a temporary table named like the sharded or broadcast table {db}.{name}"
                )));
            }
            let home = rec.home_set.clone();
            // CREATE TEMPORARY TABLE ... SELECT: its tables must be on the home set.
            let others: Vec<_> = stmt
                .tables()
                .into_iter()
                .filter(|t| t.name != name)
                .collect();
            match crate::route::plan::single_set_for_tables(&snap, Some(&db), &others)? {
                Some(set) if set == home => Ok((home, db, name)),
                _ if others.is_empty() => Ok((home, db, name)),
                _ => Err(ProxyError::NotSupported(
                    "CREATE TEMPORARY TABLE ... SELECT from tables outside the database's home set"
                        .into(),
                )),
            }
        })();
        let (set, db, name) = match r {
            Ok(r) => r,
            Err(e) => return fail(out, &e).await,
        };
        let answered = self.on_temporary(&snap, set, sql, first, out).await;
        if matches!(answered, Ok(true)) {
            if first == "CREATE" {
                self.temp_tables.insert((db, name));
            } else {
                self.temp_tables.remove(&(db, name));
            }
        }
        answered
    }

    /// Runs a statement on the session's pinned connection to `set` (where its
    /// temporary tables live).
    pub(super) async fn on_temporary(
        &mut self,
        snap: &topo::ClusterSnapshot,
        set: String,
        sql: &str,
        first: &str,
        out: &mut Responder<'_>,
    ) -> Answered {
        let plan = Plan {
            target: Target::Sets(vec![set]),
            merge: Merge::Single,
        };
        self.effects_next.pins = true;
        self.run_plan(snap, &plan, sql, first, out).await
    }

    /// The session's temporary table a schema statement acts on (`ALTER TABLE
    /// t`, `TRUNCATE t`, `DROP TABLE t`, `CREATE INDEX i ON t`, `DROP INDEX i ON
    /// t`), with its database's home set.
    /// A statement reading one of the session's temporary tables (on its
    /// connection to the database's home set) planned over several sets (a
    /// join with a sharded table, ...): refused, as the other sets' parts
    /// cannot see that table (it gave 1146, "doesn't exist").
    pub(super) fn temporary_across_sets(
        &self,
        stmt: &Statement<'_>,
        plan: &crate::route::Plan,
    ) -> Option<ProxyError> {
        if self.temp_tables.is_empty() {
            return None;
        }
        let one_set = matches!(
            (&plan.target, &plan.merge),
            (crate::route::Target::Sets(s), crate::route::Merge::Single) if s.len() == 1
        );
        if one_set {
            return None;
        }
        let t = stmt.tables().into_iter().find(|t| {
            let db = t.db.clone().or_else(|| self.db.clone()).unwrap_or_default();
            self.temp_tables.contains(&(db, t.name.clone()))
        })?;
        Some(ProxyError::NotSupported(format!(
            "a statement reading the temporary table `{}` with tables on other sets (it lives \
             on the session's connection to its database's home set)",
            t.name
        )))
    }

    pub(super) fn temporary_target(
        &self,
        stmt: &Statement<'_>,
    ) -> Option<(String, String, String)> {
        let (sql, sig) = (stmt.sql, &stmt.sig[..]);
        if self.temp_tables.is_empty() {
            return None;
        }
        let at = match sig.iter().position(|t| t.is_word(sql, "ON")) {
            Some(on) if sig.iter().take(4).any(|t| t.is_word(sql, "INDEX")) => on + 1,
            _ => {
                let table = sig.iter().take(3).position(|t| t.is_word(sql, "TABLE"));
                let mut i = match (table, stmt.word(0)) {
                    (Some(t), _) => t + 1,
                    (None, "TRUNCATE") => 1,
                    _ => return None,
                };
                if sig.get(i).is_some_and(|t| t.is_word(sql, "IF")) {
                    i += 2;
                }
                i
            }
        };
        let (db, name, used) = crate::sql::lexer::qualified_name_at(sql, sig, at)?;
        // One table only (DROP TABLE a, b mixes kinds).
        if sig.get(at + used).is_some_and(|t| t.is_punct(sql, ",")) {
            return None;
        }
        let db = db.or_else(|| self.db.clone())?;
        let key = (db, name);
        if !self.temp_tables.contains(&key) {
            return None;
        }
        let home = self.shared.routing.get().db(&key.0)?.home_set.clone();
        Some((home, key.0, key.1))
    }
}
