//! Which AUTO_INCREMENT counters a DDL statement that succeeded changed
//! ([`crate::ids::counters`]), read off the classified statement: the names
//! resolved against the session's database as the DDL itself resolved them.

use topo::ClusterSnapshot;

use crate::command::{self, Ddl, TableName};
use crate::ids::counters::{table_option, CounterChange, Name};
use crate::schema_session::SchemaSession;
use crate::sql::lexer::qualified_name_at;

/// The counter changes of `ddl` (run with success); `before`: the routing
/// before it ran.
pub(crate) fn changes(
    s: &SchemaSession<'_>,
    before: &ClusterSnapshot,
    stmt: &command::Statement<'_>,
    ddl: &Ddl,
) -> Vec<CounterChange> {
    let (sql, sig) = (stmt.sql, &stmt.sig[..]);
    let name = |t: &TableName| -> Option<Name> {
        let db = t.db.clone().or_else(|| s.db.clone())?;
        Some((db, t.name.clone()))
    };
    let reset =
        |n: Option<Name>, next: Option<u64>| n.map(|name| CounterChange::Reset { name, next });
    match ddl {
        Ddl::Truncate(Ok(t)) => reset(name(t), None).into_iter().collect(),
        Ddl::DropTable { tables, .. } => tables
            .iter()
            .filter_map(|(t, _)| reset(name(t), None))
            .collect(),
        Ddl::DropDatabase { name: Ok(db), .. } => vec![CounterChange::Database(db.clone())],
        Ddl::CreateTable(Ok(t)) => {
            let Some(n) = name(t) else { return Vec::new() };
            // `IF NOT EXISTS` on a table that was there changes nothing.
            let table_at = sig.iter().position(|t| t.is_word(sql, "TABLE"));
            let if_not_exists = table_at.is_some_and(|i| command::if_exists(sql, sig, i + 1).0);
            if if_not_exists && before.table(&n.0, &n.1).is_some() {
                return Vec::new();
            }
            reset(Some(n), table_option(sql, sig, 0))
                .into_iter()
                .collect()
        }
        Ddl::AlterTable { at } => {
            let mut out: Vec<CounterChange> = crate::schema::rename::renamed(s, sql, sig, true)
                .into_iter()
                .map(|(from, to)| CounterChange::Move { from, to })
                .collect();
            if let Some(next) = table_option(sql, sig, at + 1) {
                let (_, i) = command::if_exists(sql, sig, at + 1);
                let altered = match out.first() {
                    Some(CounterChange::Move { to, .. }) => Some(to.clone()),
                    _ => qualified_name_at(sql, sig, i)
                        .and_then(|(db, table, _)| Some((db.or_else(|| s.db.clone())?, table))),
                };
                out.extend(reset(altered, Some(next)));
            }
            out
        }
        Ddl::RenameTable => crate::schema::rename::renamed(s, sql, sig, false)
            .into_iter()
            .map(|(from, to)| CounterChange::Move { from, to })
            .collect(),
        _ => Vec::new(),
    }
}
