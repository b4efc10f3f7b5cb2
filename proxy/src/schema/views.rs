//! `CREATE [OR REPLACE] VIEW`, `ALTER VIEW`, `DROP VIEW`: the view is created on
//! the sets its SELECT can run on correctly and recorded in topo like a table
//! (`route::view` decides: single on the home set, broadcast, or sharded by the
//! shard key it shows), so reads of it route as reads of a table do.

use sqlparser::ast::Statement;
use topo::{TableKind, TableRecord};

use super::Header;
use crate::ddl_apply::{apply, etcd_live, refresh, table_sets, topo_err, topo_of, DdlResult};
use crate::error::ProxyError;
use crate::front::Responder;
use crate::schema_session::SchemaSession;
use crate::sql::lexer::{ident_text, qualified_name_at, significant, tokenize, Token};
use crate::sql::parse_one;

pub(crate) async fn create(
    s: &mut SchemaSession<'_>,
    sql: &str,
    sig: &[Token],
    h: &Header,
    out: &mut Responder<'_>,
) -> DdlResult {
    let db = h.database(s.db.as_ref())?;
    crate::ddl_apply::check_table_name(&h.name)?;
    // [(col, ...)] AS select [WITH [CASCADED|LOCAL] CHECK OPTION]
    let mut i = h.after;
    let mut cols = Vec::new();
    if sig.get(i).is_some_and(|t| t.is_punct(sql, "(")) {
        i += 1;
        while let Some(t) = sig.get(i) {
            if t.is_punct(sql, ")") {
                i += 1;
                break;
            }
            if !t.is_punct(sql, ",") {
                cols.push(ident_text(sql, t));
            }
            i += 1;
        }
    }
    if !sig.get(i).is_some_and(|t| t.is_word(sql, "AS")) || i + 1 >= sig.len() {
        return Err(ProxyError::Syntax("CREATE VIEW needs AS <select>".into()));
    }
    let mut end = sig.len();
    if let Some(w) = (i + 1..sig.len())
        .rev()
        .find(|&k| sig[k].is_word(sql, "WITH"))
    {
        if sig[w + 1..].iter().any(|t| t.is_word(sql, "CHECK")) {
            end = w;
        }
    }
    let query = &sql[sig[i + 1].start..sig[end - 1].end];
    let snap = s.shared.routing.get();
    let kind = match parse_one(query) {
        Ok(Statement::Query(q)) => {
            crate::route::view::place_view(&snap, s.db.as_deref(), &db, &cols, &q)?
        }
        _ => {
            // sqlparser cannot read it: only a view whose tables all live on
            // the home set is placed (there).
            let toks = tokenize(query).unwrap_or_default();
            let tables = crate::command::lexed_tables(query, &significant(&toks));
            let home = snap
                .db(&db)
                .ok_or_else(|| ProxyError::UnknownDatabase(db.clone()))?
                .home_set
                .clone();
            match crate::route::plan::single_set_for_tables(&snap, s.db.as_deref(), &tables)? {
                Some(set) if set == home => TableKind::Single,
                _ => {
                    return Err(ProxyError::NotSupported(
                        "a view the gateway cannot parse over data on several sets".into(),
                    ))
                }
            }
        }
    };
    let rec = snap
        .db(&db)
        .ok_or_else(|| ProxyError::UnknownDatabase(db.clone()))?;
    let sets = match &kind {
        TableKind::Sharded { .. } => rec.shard_map.sets(),
        TableKind::Broadcast => rec.sets(),
        TableKind::Single => vec![rec.home_set.clone()],
    };
    // A replaced view may have lived on other sets.
    let before = snap.table(&db, &h.name).map(|t| t.kind.clone());
    let old_sets = match before {
        Some(_) => table_sets(s, Some(&db), &h.name)?.1,
        None => Vec::new(),
    };
    let t = topo_of(s)?;
    etcd_live(&t).await?;
    let session_db = s.db.clone();
    let Some(ok) = apply(s, sets.clone(), sql, session_db.as_deref(), out).await? else {
        return Ok(false);
    };
    let stale: Vec<String> = old_sets.into_iter().filter(|x| !sets.contains(x)).collect();
    if !stale.is_empty() {
        let drop = format!(
            "DROP VIEW IF EXISTS `{}`.`{}`",
            db.replace('`', "``"),
            h.name.replace('`', "``")
        );
        apply(s, stale, &drop, session_db.as_deref(), out).await?;
    }
    if before.as_ref() != Some(&kind) {
        let record = TableRecord {
            db,
            name: h.name.clone(),
            kind,
        };
        t.put_table(&record).await.map_err(topo_err)?;
        refresh(s, &t).await?;
    }
    out.ok(&ok).await?;
    Ok(true)
}

/// `DROP VIEW [IF EXISTS] v [, w ...] [RESTRICT | CASCADE]`: each on its sets,
/// its record removed.
pub(crate) async fn drop(
    s: &mut SchemaSession<'_>,
    sql: &str,
    sig: &[Token],
    _h: &Header,
    out: &mut Responder<'_>,
) -> DdlResult {
    let at = sig.iter().position(|t| t.is_word(sql, "VIEW")).unwrap_or(1);
    let (if_ex, mut i) = crate::command::if_exists(sql, sig, at + 1);
    let mut names = Vec::new();
    while let Some((db, name, used)) = qualified_name_at(sql, sig, i) {
        if name.eq_ignore_ascii_case("RESTRICT") || name.eq_ignore_ascii_case("CASCADE") {
            break;
        }
        let text = sql[sig[i].start..sig[i + used - 1].end].to_string();
        names.push((db, name, text));
        i += used;
        if !sig.get(i).is_some_and(|t| t.is_punct(sql, ",")) {
            break;
        }
        i += 1;
    }
    let t = topo_of(s)?;
    etcd_live(&t).await?;
    let session_db = s.db.clone();
    let mut last = None;
    for (db, name, text) in &names {
        let (db, sets) = table_sets(s, db.as_deref(), name)?;
        let stmt = format!("DROP VIEW {}{text}", if if_ex { "IF EXISTS " } else { "" });
        match apply(s, sets, &stmt, session_db.as_deref(), out).await? {
            Some(ok) => last = Some(ok),
            None => return Ok(false),
        }
        t.delete_table(&db, name).await.map_err(topo_err)?;
    }
    refresh(s, &t).await?;
    out.ok(&last.unwrap_or_default()).await?;
    Ok(true)
}
