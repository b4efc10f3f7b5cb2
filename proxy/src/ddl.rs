//! Schema changes through the gateway: run on every set that holds the object,
//! then recorded in topo (databases with their shard map, tables with their kind).
//! The TDSQL `shardkey=` option is taken off the text before MariaDB sees it.
//! With a scheduler leader elected, each change is a DDL task the scheduler
//! applies ([`crate::ddl_task`], docs/ddl.md); without one, the gateway applies it.

use sqlparser::ast::Statement;
use topo::{
    DatabaseRecord, DdlCheck, DdlObject, KeyType, SchemaChange, ShardMap, TableChange, TableKind,
    TableRecord, DEFAULT_SLOTS,
};

use crate::command::{self, Ddl, TableName};
use crate::ddl_task::Spec;
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::responder::fail;
use crate::front::Responder;
use crate::route::plan::is_system_schema;
use crate::schema_session::SchemaSession;
use crate::sql::lexer::Token;
use crate::sql::parse_one;

use crate::sql::shardkey::{self, ShardKeyOption};

use crate::ddl_apply::{
    apply, check_db_name, check_table_name, etcd_live, key_type_of, on_sets, refresh, table_sets,
    topo_err, topo_of, DdlResult,
};

/// Runs CREATE / DROP / ALTER / TRUNCATE / RENAME, on what the classifier
/// read off it (`ddl`).
pub async fn run(
    s: &mut SchemaSession<'_>,
    stmt: &command::Statement<'_>,
    ddl: &Ddl,
    out: &mut Responder<'_>,
) -> Answered {
    let (sql, tokens, sig) = (stmt.sql, &stmt.tokens[..], &stmt.sig[..]);
    // Any schema change may reorder columns.
    s.shared.columns.lock().expect("columns").clear();
    s.shared.ids.forget_columns();
    // A database with a slot move under way: wait for it (`crate::moving::ddl`).
    let dbs = crate::moving::ddl::databases(s.db.as_deref(), sql, sig);
    if let Err(e) = crate::moving::ddl::wait(&s.shared.moves, &s.shared.routing, &dbs).await {
        return fail(out, &e).await;
    }
    let before = s.shared.routing.get();
    let r = match ddl {
        Ddl::CreateDatabase {
            if_not_exists,
            name,
        } => match Ddl::named(name) {
            Ok(name) => create_database(s, sql, *if_not_exists, name, out).await,
            Err(e) => Err(e),
        },
        Ddl::DropDatabase { if_exists, name } => match Ddl::named(name) {
            Ok(name) => drop_database(s, sql, *if_exists, name, out).await,
            Err(e) => Err(e),
        },
        Ddl::CreateTable(name) => match Ddl::named(name) {
            Ok(name) => create_table(s, sql, tokens, name, out).await,
            Err(e) => Err(e),
        },
        Ddl::DropTable { if_exists, tables } => drop_table(s, sql, *if_exists, tables, out).await,
        Ddl::AlterTable { at } => crate::schema::rename::alter_table(s, sql, sig, *at, out).await,
        Ddl::Truncate(name) | Ddl::Index(name) => match Ddl::named(name) {
            Ok(name) => table_task(s, sql, &name, out).await,
            Err(e) => Err(e),
        },
        Ddl::Routine(h) => crate::schema::run(s, sql, sig, h.clone(), out).await,
        // Sequences live on their database's home set, like single tables (their
        // NEXTVAL pins the session's connection there: `sql::effects`).
        Ddl::Sequence(name) => match Ddl::named(name) {
            Ok(name) => on_table_sets(s, sql, &name, out).await,
            Err(e) => Err(e),
        },
        Ddl::RenameTable => crate::schema::rename::rename_table(s, sql, sig, out).await,
        Ddl::CreateTemporary => Err(ProxyError::NotSupported(
            "temporary tables through the gateway".into(),
        )),
        Ddl::Other(a, b) => Err(ProxyError::NotSupported(format!(
            "{a} {b} through the gateway"
        ))),
    };
    if matches!(r, Ok(true)) {
        let changes = crate::ddl_ids::changes(s, &before, stmt, ddl);
        if let (false, Some(t)) = (changes.is_empty(), s.shared.topo.get()) {
            crate::ids::counters::apply(t, &s.shared.ids.segments, &changes).await;
        }
    }
    match r {
        Ok(answered) => Ok(answered),
        Err(ProxyError::ClientIo(e)) => Err(e),
        Err(e) => fail(out, &e).await,
    }
}

async fn create_database(
    s: &mut SchemaSession<'_>,
    sql: &str,
    if_not: bool,
    name: String,
    out: &mut Responder<'_>,
) -> DdlResult {
    check_db_name(&name)?;
    if is_system_schema(&name) || name == crate::front::responder::HIDDEN_SCHEMA {
        return Err(ProxyError::DatabaseExists(name));
    }
    let snap = s.shared.routing.get();
    let rec = match snap.db(&name) {
        Some(_) if !if_not => return Err(ProxyError::DatabaseExists(name)),
        Some(r) => r.clone(),
        None => {
            let sets: Vec<String> = snap.sets.keys().cloned().collect();
            if sets.is_empty() {
                return Err(ProxyError::NoRouting("no set is registered".into()));
            }
            DatabaseRecord {
                name: name.clone(),
                home_set: sets[0].clone(),
                shard_map: ShardMap::even(DEFAULT_SLOTS, &sets),
            }
        }
    };
    let t = topo_of(s)?;
    etcd_live(&t).await?;
    let change = SchemaChange {
        put_db: snap.db(&name).is_none().then(|| rec.clone()),
        ..Default::default()
    };
    let spec = Spec::same(rec.sets(), sql, None)
        .object(DdlObject::database(&name))
        .check(DdlCheck::DbExists { db: name.clone() })
        .change(change);
    if let Some(answered) = crate::ddl_task::run(s, sql, spec, out).await? {
        return Ok(answered);
    }
    let Some(ok) = apply(s, rec.sets(), sql, None, out).await? else {
        return Ok(false);
    };
    if snap.db(&name).is_none() {
        t.put_db(&rec).await.map_err(topo_err)?;
        refresh(s, &t).await?;
    }
    out.ok(&ok).await?;
    Ok(true)
}

async fn drop_database(
    s: &mut SchemaSession<'_>,
    sql: &str,
    if_ex: bool,
    name: String,
    out: &mut Responder<'_>,
) -> DdlResult {
    let snap = s.shared.routing.get();
    let Some(rec) = snap.db(&name) else {
        if if_ex {
            let sets: Vec<String> = snap.sets.keys().cloned().collect();
            return on_sets(s, sets, sql, None, out)
                .await
                .map_err(ProxyError::from);
        }
        return Err(ProxyError::Backend {
            code: 1008,
            state: "HY000".into(),
            message: format!("Can't drop database '{name}'; database doesn't exist"),
        });
    };
    let t = topo_of(s)?;
    etcd_live(&t).await?;
    let spec = Spec::same(rec.sets(), sql, None)
        .object(DdlObject::database(&name))
        .check(DdlCheck::DbAbsent { db: name.clone() })
        .change(SchemaChange {
            delete_db: Some(name.clone()),
            ..Default::default()
        });
    if let Some(answered) = crate::ddl_task::run(s, sql, spec, out).await? {
        if answered && s.db.as_deref() == Some(name.as_str()) {
            s.db = None;
        }
        return Ok(answered);
    }
    let Some(ok) = apply(s, rec.sets(), sql, None, out).await? else {
        return Ok(false);
    };
    t.delete_db(&name).await.map_err(topo_err)?;
    refresh(s, &t).await?;
    if s.db.as_deref() == Some(name.as_str()) {
        s.db = None;
    }
    out.ok(&ok).await?;
    Ok(true)
}

async fn create_table(
    s: &mut SchemaSession<'_>,
    sql: &str,
    tokens: &[Token],
    table: TableName,
    out: &mut Responder<'_>,
) -> DdlResult {
    let TableName {
        db: tdb,
        name: tname,
    } = table;
    check_table_name(&tname)?;
    let db = tdb
        .or_else(|| s.db.clone())
        .ok_or(ProxyError::NoDatabaseSelected)?;
    let snap = s.shared.routing.get();
    if is_system_schema(&db) {
        return Err(ProxyError::NotSupported(
            "creating tables in system schemas".into(),
        ));
    }
    let rec = snap
        .db(&db)
        .ok_or_else(|| ProxyError::UnknownDatabase(db.clone()))?
        .clone();
    let (mut text, option) = match shardkey::strip(sql, tokens) {
        Some((t, o)) => (t, Some(o)),
        None => (sql.to_string(), None),
    };
    // The option in the statement wins; else a rule the DBA declared; else single.
    let declared = snap.table(&db, &tname).map(|t| t.kind.clone());
    let kind = match option {
        Some(ShardKeyOption::AllSet) => TableKind::Broadcast,
        Some(ShardKeyOption::Key(k)) => TableKind::Sharded {
            key: k,
            key_type: KeyType::Integer,
        },
        None => declared.clone().unwrap_or(TableKind::Single),
    };
    let kind = match kind {
        TableKind::Sharded { key, .. } => {
            let stmt = parse_one(&text)
                .or_else(|e| parse_one(&column_charsets(&text)).map_err(|_| e))
                .map_err(|e| {
                    ProxyError::NotSupported(format!(
                        "a sharded CREATE TABLE the gateway cannot parse ({e})"
                    ))
                })?;
            let Statement::CreateTable(ct) = stmt else {
                return Err(ProxyError::Syntax("expected CREATE TABLE".into()));
            };
            let col = ct
                .columns
                .iter()
                .find(|c| c.name.value.eq_ignore_ascii_case(&key))
                .ok_or_else(|| ProxyError::Backend {
                    code: 1072,
                    state: "42000".into(),
                    message: format!("Key column '{key}' doesn't exist in table"),
                })?;
            let key_type = key_type_of(&col.data_type).map_err(|t| {
                ProxyError::NotSupported(format!(
                    "a shard key of type {t} (use an integer, string or VARBINARY column)"
                ))
            })?;
            let key = col.name.value.clone();
            let fixed = col.data_type.to_string().to_ascii_uppercase();
            let fixed = fixed.starts_with("CHAR") || fixed.starts_with("NCHAR");
            let key_type = match key_type {
                KeyType::Text => {
                    let (key_type, pinned) =
                        text_key(s, &snap, &db, &rec.home_set, &text, &key).await?;
                    // CHAR drops trailing spaces when stored: under NO PAD the
                    // value written and the value kept would hash apart.
                    if fixed && matches!(key_type, KeyType::Weighted { pad: false, .. }) {
                        return Err(ProxyError::NotSupported(
                            "a CHAR shard key in a NO PAD collation (use VARCHAR)".into(),
                        ));
                    }
                    text = pinned;
                    key_type
                }
                t => t,
            };
            TableKind::Sharded { key, key_type }
        }
        k => k,
    };
    // CREATE TABLE IF NOT EXISTS of a table the sets hold changes nothing in
    // MariaDB, nor in routing: its rows were placed by its record (a text key
    // hashed by case keeps that hashing).
    let keep = match &declared {
        Some(d) if d != &kind && if_not_exists(&text) => {
            exists(s, &snap, &rec, d, &db, &tname).await?
        }
        _ => false,
    };
    let kind = match declared.clone() {
        Some(d) if keep => d,
        _ => kind,
    };
    let sets = match &kind {
        TableKind::Sharded { .. } => rec.shard_map.sets(),
        TableKind::Broadcast => rec.sets(),
        TableKind::Single => vec![rec.home_set.clone()],
    };
    let t = topo_of(s)?;
    etcd_live(&t).await?;
    let session_db = s.db.clone();
    let mut change = SchemaChange::default();
    if declared.as_ref() != Some(&kind) {
        change.tables.push(TableChange {
            db: db.clone(),
            name: tname.clone(),
            kind: Some(kind.clone()),
        });
    }
    let spec = Spec::same(sets.clone(), &text, session_db.clone())
        .object(DdlObject::table(&db, &tname))
        .check(DdlCheck::TableExists {
            db: db.clone(),
            table: tname.clone(),
        })
        .change(change);
    if let Some(answered) = crate::ddl_task::run(s, sql, spec, out).await? {
        return Ok(answered);
    }
    let Some(ok) = apply(s, sets, &text, session_db.as_deref(), out).await? else {
        return Ok(false);
    };
    let record = TableRecord {
        db: db.clone(),
        name: tname,
        kind,
    };
    if declared.as_ref() != Some(&record.kind) {
        t.put_table(&record).await.map_err(topo_err)?;
        refresh(s, &t).await?;
    }
    out.ok(&ok).await?;
    Ok(true)
}

/// `CREATE TABLE IF NOT EXISTS ...`.
fn if_not_exists(text: &str) -> bool {
    matches!(parse_one(text), Ok(Statement::CreateTable(ct)) if ct.if_not_exists)
}

/// Whether a set that holds a table of `kind` has `db.table`.
async fn exists(
    s: &SchemaSession<'_>,
    snap: &topo::ClusterSnapshot,
    rec: &DatabaseRecord,
    kind: &TableKind,
    db: &str,
    table: &str,
) -> Result<bool, ProxyError> {
    let set = match kind {
        TableKind::Sharded { .. } => rec.shard_map.sets().into_iter().next(),
        _ => Some(rec.home_set.clone()),
    };
    let Some(set) = set else {
        return Ok(false);
    };
    let mut conn = s.conns(snap).pooled(&set).await?;
    let found: Option<i64> = mysql_async::prelude::Queryable::exec_first(
        &mut *conn,
        "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
        (db, table),
    )
    .await
    .map_err(|e| ProxyError::from_backend(&set, e))?;
    Ok(found.is_some())
}

/// A text shard key's type — its collation's weights, loaded — and the statement
/// with that collation written into the key column when the column names none
/// (`schema::key_collation`).
async fn text_key(
    s: &SchemaSession<'_>,
    snap: &topo::ClusterSnapshot,
    db: &str,
    set: &str,
    text: &str,
    key: &str,
) -> Result<(KeyType, String), ProxyError> {
    use crate::schema::key_collation::{key_column, pinned, Source};
    let tokens =
        crate::sql::lexer::tokenize(text).map_err(|e| ProxyError::Syntax(e.what.to_string()))?;
    let column = key_column(text, &crate::sql::lexer::significant(&tokens), key)?;
    let conns = s.conns(snap);
    let name = match &column.source {
        Source::Collation(c) => c.clone(),
        source => {
            let mut conn = conns.pooled(set).await?;
            let (q, arg) = match source {
                Source::Charset(cs) => (
                    "SELECT DEFAULT_COLLATE_NAME FROM information_schema.CHARACTER_SETS \
                     WHERE CHARACTER_SET_NAME = ?",
                    cs.as_str(),
                ),
                _ => (
                    "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA \
                     WHERE SCHEMA_NAME = ?",
                    db,
                ),
            };
            let found: Option<String> =
                mysql_async::prelude::Queryable::exec_first(&mut *conn, q, (arg,))
                    .await
                    .map_err(|e| ProxyError::from_backend(set, e))?;
            found.ok_or_else(|| match source {
                Source::Charset(cs) => ProxyError::Backend {
                    code: 1115,
                    state: "42000".into(),
                    message: format!("Unknown character set: '{cs}'"),
                },
                _ => ProxyError::UnknownDatabase(db.to_string()),
            })?
        }
    };
    let key_type = crate::exec::weights::key_type(&conns, set, &name).await?;
    let text = if column.explicit {
        text.to_string()
    } else {
        pinned(text, &column, &name)
    };
    Ok((key_type, text))
}

async fn drop_table(
    s: &mut SchemaSession<'_>,
    sql: &str,
    if_ex: bool,
    tables: &[(TableName, String)],
    out: &mut Responder<'_>,
) -> DdlResult {
    let names: Vec<(Option<String>, String, String)> = tables
        .iter()
        .map(|(t, text)| (t.db.clone(), t.name.clone(), text.clone()))
        .collect();
    if names.is_empty() {
        return Err(ProxyError::Syntax("DROP TABLE needs a table".into()));
    }
    let t = topo_of(s)?;
    etcd_live(&t).await?;
    let single = names.len() == 1;
    if let Some(answered) = drop_task(s, sql, if_ex, &names, out).await? {
        return Ok(answered);
    }
    let mut last_ok = None;
    let session_db = s.db.clone();
    for (n, (db, name, text)) in names.iter().enumerate() {
        let (db, sets) = table_sets(s, db.as_deref(), name)?;
        let stmt = if single {
            sql.to_string()
        } else {
            format!("DROP TABLE {}{text}", if if_ex { "IF EXISTS " } else { "" })
        };
        let last = n + 1 == names.len();
        // Only the last per-table drop answers the client (after etcd).
        if last {
            match apply(s, sets, &stmt, session_db.as_deref(), out).await? {
                Some(ok) => last_ok = Some(ok),
                None => return Ok(false),
            }
        } else {
            let snap = s.shared.routing.get();
            let mut conns = s.conns(&snap);
            conns.db = session_db.as_deref();
            for set in sets {
                use mysql_async::prelude::Queryable;
                let mut c = conns.pooled(&set).await?;
                c.query_drop(&conns.codec.wire(&stmt)[..])
                    .await
                    .map_err(|e| ProxyError::from_backend(&set, e))?;
            }
        }
        t.delete_table(&db, name).await.map_err(topo_err)?;
    }
    refresh(s, &t).await?;
    out.ok(&last_ok.unwrap_or_default()).await?;
    Ok(true)
}

/// DROP TABLE as a DDL task: each set drops the tables it holds (the statement
/// as it is when it names one table). None: no scheduler, the caller drops.
async fn drop_task(
    s: &mut SchemaSession<'_>,
    sql: &str,
    if_ex: bool,
    names: &[(Option<String>, String, String)],
    out: &mut Responder<'_>,
) -> Result<Option<bool>, ProxyError> {
    let mut per_set: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    let mut objects = Vec::new();
    let mut change = SchemaChange::default();
    for (db, name, text) in names {
        let (db, sets) = table_sets(s, db.as_deref(), name)?;
        for set in sets {
            per_set.entry(set).or_default().push(text);
        }
        objects.push(DdlObject::table(&db, name));
        change.tables.push(TableChange {
            db,
            name: name.clone(),
            kind: None,
        });
    }
    let steps = per_set
        .into_iter()
        .map(|(set, texts)| {
            let text = if names.len() == 1 {
                sql.to_string()
            } else {
                let ie = if if_ex { "IF EXISTS " } else { "" };
                format!("DROP TABLE {ie}{}", texts.join(", "))
            };
            (set, text)
        })
        .collect();
    let tables = change
        .tables
        .iter()
        .map(|c| (c.db.clone(), c.name.clone()))
        .collect();
    let spec = Spec {
        steps,
        db: s.db.clone(),
        objects,
        check: DdlCheck::TablesAbsent { tables },
        change,
    };
    crate::ddl_task::run(s, sql, spec, out).await
}

/// TRUNCATE / CREATE INDEX / DROP INDEX on `table`: a DDL task on every set
/// holding it, or (no scheduler) [`on_table_sets`].
async fn table_task(
    s: &mut SchemaSession<'_>,
    sql: &str,
    table: &TableName,
    out: &mut Responder<'_>,
) -> DdlResult {
    let (db, sets) = table_sets(s, table.db.as_deref(), &table.name)?;
    let spec = Spec::same(sets, sql, s.db.clone()).object(DdlObject::table(&db, &table.name));
    if let Some(answered) = crate::ddl_task::run(s, sql, spec, out).await? {
        return Ok(answered);
    }
    on_table_sets(s, sql, table, out).await
}

/// TRUNCATE / CREATE INDEX / DROP INDEX / a sequence's DDL: the same text on
/// every set holding `table`.
async fn on_table_sets(
    s: &mut SchemaSession<'_>,
    sql: &str,
    table: &TableName,
    out: &mut Responder<'_>,
) -> DdlResult {
    let (_, sets) = table_sets(s, table.db.as_deref(), &table.name)?;
    let session_db = s.db.clone();
    Ok(on_sets(s, sets, sql, session_db.as_deref(), out).await?)
}

/// `text` with each column's `CHARSET x` written `CHARACTER SET x` (MariaDB
/// takes both; sqlparser only the second), for reading the key column's type.
/// A table option `[DEFAULT] CHARSET[=]x` is left as it is.
fn column_charsets(text: &str) -> String {
    let Ok(tokens) = crate::sql::lexer::tokenize(text) else {
        return text.to_string();
    };
    let sig = crate::sql::lexer::significant(&tokens);
    let mut edits = Vec::new();
    for (i, t) in sig.iter().enumerate() {
        let table_option = (i > 0 && sig[i - 1].is_word(text, "DEFAULT"))
            || sig.get(i + 1).is_some_and(|n| n.is_punct(text, "="));
        if t.is_word(text, "CHARSET") && !table_option {
            edits.push((t.start, t.end, "CHARACTER SET".to_string()));
        }
    }
    crate::sql::select::apply_edits(text, edits)
}

#[cfg(test)]
mod column_charset_tests {
    #[test]
    fn column_charset_is_written_character_set() {
        let t = "CREATE TABLE t (id INT, s VARCHAR(9) CHARSET latin1, PRIMARY KEY (id)) DEFAULT CHARSET=utf8mb4";
        let fixed = super::column_charsets(t);
        assert_eq!(
            fixed,
            "CREATE TABLE t (id INT, s VARCHAR(9) CHARACTER SET latin1, PRIMARY KEY (id)) DEFAULT CHARSET=utf8mb4"
        );
        assert!(crate::sql::parse_one(t).is_err());
        assert!(crate::sql::parse_one(&fixed).is_ok());
    }
}
