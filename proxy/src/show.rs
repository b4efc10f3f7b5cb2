//! `SHOW` and `DESCRIBE`: sent to the set that holds what they describe, with the
//! gateway's view laid over (logical databases only, `shardkey=` shown back).

use crate::error::ProxyError;
use crate::exec::{Answered, Exec};
use crate::front::responder::{fail, HIDDEN_SCHEMA as HIDDEN_DB};
use crate::front::Responder;
use crate::route::plan::is_system_schema;
use crate::route::{Merge, Plan, Target};
use crate::show_rows::{fetch, write_rows};
use crate::sql::lexer::{qualified_name_at, Token};
use topo::TableKind;

pub use crate::placement::{any_set_of, set_holding};

fn any_set(exec: &Exec<'_>) -> Result<String, ProxyError> {
    any_set_of(exec.conns.snap, exec.conns.db)
}

/// `SHOW [FULL] PROCESSLIST`: the gateway's own connections of this user (backend
/// threads are the gateway's business, never shown).
pub async fn processlist(
    rows: &[(u32, crate::registry::Activity)],
    full: bool,
    out: &mut Responder<'_>,
) -> Answered {
    use mysql_common::constants::{ColumnFlags, ColumnType};
    let col = |name: &str, ty: ColumnType, len: u32, cs: u16, flags: ColumnFlags| {
        mysql_async::Column::new(ty)
            .with_name(name.as_bytes())
            .with_org_name(name.as_bytes())
            .with_table(b"PROCESSLIST")
            .with_org_table(b"PROCESSLIST")
            .with_schema(b"information_schema")
            .with_column_length(len)
            .with_character_set(cs)
            .with_flags(flags)
    };
    let nn = ColumnFlags::NOT_NULL_FLAG;
    let num = ColumnFlags::NOT_NULL_FLAG | ColumnFlags::NUM_FLAG | ColumnFlags::BINARY_FLAG;
    let cols = vec![
        col("Id", ColumnType::MYSQL_TYPE_LONGLONG, 21, 63, num),
        col("User", ColumnType::MYSQL_TYPE_VAR_STRING, 512, 45, nn),
        col("Host", ColumnType::MYSQL_TYPE_VAR_STRING, 256, 45, nn),
        col(
            "db",
            ColumnType::MYSQL_TYPE_VAR_STRING,
            256,
            45,
            ColumnFlags::empty(),
        ),
        col("Command", ColumnType::MYSQL_TYPE_VAR_STRING, 64, 45, nn),
        col("Time", ColumnType::MYSQL_TYPE_LONG, 7, 63, num),
        col(
            "State",
            ColumnType::MYSQL_TYPE_VAR_STRING,
            256,
            45,
            ColumnFlags::empty(),
        ),
        col(
            "Info",
            ColumnType::MYSQL_TYPE_VAR_STRING,
            if full { 4096 } else { 400 },
            45,
            ColumnFlags::empty(),
        ),
        col("Progress", ColumnType::MYSQL_TYPE_NEWDECIMAL, 8, 63, nn).with_decimals(3),
    ];
    let rows: Vec<Vec<Option<Vec<u8>>>> = rows
        .iter()
        .map(|(id, a)| {
            let s = |v: &str| Some(v.as_bytes().to_vec());
            vec![
                s(&id.to_string()),
                s(&a.user),
                s(&a.host),
                a.db.as_deref().and_then(s),
                s(a.command),
                s(&a.since.elapsed().as_secs().to_string()),
                s(""),
                a.info.as_deref().and_then(s),
                s("0.000"),
            ]
        })
        .collect();
    write_rows(out, &cols, &rows).await
}

/// `SHOW DATABASES`: the logical databases and the system schemas. With `LIKE` /
/// `WHERE` every set runs the statement as written, so the filter, and the column's
/// name (`Database (pattern)`), are MariaDB's own; the gateway keeps the names that
/// are system schemas or logical databases, each once.
pub async fn databases(
    exec: &mut Exec<'_>,
    sql: &str,
    sig: &[Token],
    out: &mut Responder<'_>,
) -> Answered {
    let filtered = sig.len() > 2;
    let sets: Vec<String> = if filtered {
        exec.conns.snap.sets.keys().cloned().collect()
    } else {
        match any_set(exec) {
            Ok(s) => vec![s],
            Err(e) => return fail(out, &e).await,
        }
    };
    let mut cols = None;
    let mut names: Vec<String> = Vec::new();
    for set in &sets {
        let (c, rows) = match fetch(exec, set, if filtered { sql } else { "SHOW DATABASES" }).await
        {
            Ok(r) => r,
            Err(e) => return fail(out, &e).await,
        };
        cols.get_or_insert(c);
        names.extend(
            rows.iter()
                .filter_map(|r| r.first().cloned().flatten())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .filter(|n| {
                    is_system_schema(n)
                        || (filtered && n != HIDDEN_DB && exec.conns.snap.dbs.contains_key(n))
                }),
        );
    }
    if !filtered {
        names.extend(
            exec.conns
                .snap
                .dbs
                .keys()
                .filter(|d| *d != HIDDEN_DB)
                .cloned(),
        );
    }
    names.sort();
    names.dedup();
    let rows: Vec<Vec<Option<Vec<u8>>>> = names
        .into_iter()
        .map(|n| vec![Some(n.into_bytes())])
        .collect();
    let Some(cols) = cols else {
        return fail(out, &ProxyError::NoRouting("no set is registered".into())).await;
    };
    write_rows(out, &cols, &rows).await
}

/// The set that holds a table's definition (every kind has one on this set).
pub fn set_of_table(exec: &Exec<'_>, db: Option<&str>, table: &str) -> Result<String, ProxyError> {
    set_holding(exec.conns.snap, exec.conns.db, db, table)
}

/// Other `SHOW`s and `DESCRIBE`: to the set holding the table they name.
pub async fn forward(
    exec: &mut Exec<'_>,
    sql: &str,
    sig: &[Token],
    out: &mut Responder<'_>,
) -> Answered {
    let w = |i: usize| {
        sig.get(i)
            .map(|t| t.text(sql).to_ascii_uppercase())
            .unwrap_or_default()
    };
    let mut i = 1;
    if w(i) == "FULL" || w(i) == "EXTENDED" {
        i += 1;
    }
    let first = w(0);
    /// The set to ask, and for SHOW CREATE TABLE the table it names; or, for
    /// `SHOW TABLE STATUS` of a logical database, that database (every set).
    type Asked = (String, Option<(Option<String>, String)>);
    let mut status_of: Option<String> = None;
    let target: Result<Asked, ProxyError> = (|| {
        if first == "DESCRIBE" || first == "DESC" {
            let (db, t, _) = qualified_name_at(sql, sig, 1)
                .ok_or(ProxyError::Syntax("DESCRIBE needs a table".into()))?;
            return Ok((set_of_table(exec, db.as_deref(), &t)?, None));
        }
        match w(i).as_str() {
            "TABLES" => {
                let db = if matches!(w(i + 1).as_str(), "FROM" | "IN") {
                    qualified_name_at(sql, sig, i + 2).map(|(_, n, _)| n)
                } else {
                    exec.conns.db.map(str::to_string)
                };
                let db = db.ok_or(ProxyError::NoDatabaseSelected)?;
                if is_system_schema(&db) {
                    return Ok((any_set(exec)?, None));
                }
                let rec = exec
                    .conns
                    .snap
                    .db(&db)
                    .ok_or_else(|| ProxyError::UnknownDatabase(db.clone()))?;
                Ok((rec.home_set.clone(), None))
            }
            "TABLE" if w(i + 1) == "STATUS" => {
                let db = if matches!(w(i + 2).as_str(), "FROM" | "IN") {
                    qualified_name_at(sql, sig, i + 3).map(|(_, n, _)| n)
                } else {
                    exec.conns.db.map(str::to_string)
                };
                let db = db.ok_or(ProxyError::NoDatabaseSelected)?;
                let filtered = (i..sig.len()).any(|j| w(j) == "WHERE");
                if is_system_schema(&db) || filtered {
                    // (A WHERE on the sizes would filter each set's part.)
                    return Ok((any_set(exec)?, None));
                }
                status_of = Some(db);
                Ok((String::new(), None))
            }
            "CREATE" if w(i + 1) == "TABLE" => {
                let (db, t, _) = qualified_name_at(sql, sig, i + 2)
                    .ok_or(ProxyError::Syntax("SHOW CREATE TABLE needs a table".into()))?;
                Ok((set_of_table(exec, db.as_deref(), &t)?, Some((db, t))))
            }
            "COLUMNS" | "FIELDS" | "INDEX" | "INDEXES" | "KEYS"
                if matches!(w(i + 1).as_str(), "FROM" | "IN") =>
            {
                let (mut db, t, used) = qualified_name_at(sql, sig, i + 2)
                    .ok_or(ProxyError::Syntax("SHOW needs a table".into()))?;
                if matches!(w(i + 2 + used).as_str(), "FROM" | "IN") {
                    db = qualified_name_at(sql, sig, i + 3 + used).map(|(_, n, _)| n);
                }
                Ok((set_of_table(exec, db.as_deref(), &t)?, None))
            }
            _ => Ok((any_set(exec)?, None)),
        }
    })();
    let (set, create_of) = match target {
        Ok(t) => t,
        Err(e) => return fail(out, &e).await,
    };
    if let Some(db) = status_of {
        return crate::table_status::table_status(exec, sql, &db, out).await;
    }
    let Some((db, table)) = create_of else {
        let plan = Plan {
            target: Target::Sets(vec![set]),
            merge: Merge::Single,
        };
        return crate::join::run::run_plan(exec, &plan, sql, out).await;
    };
    // SHOW CREATE TABLE: show the shardkey option back.
    let (cols, mut rows) = match fetch(exec, &set, sql).await {
        Ok(r) => r,
        Err(e) => return fail(out, &e).await,
    };
    let db = db.as_deref().or(exec.conns.db).unwrap_or_default();
    let sharded = matches!(
        exec.conns.snap.table(db, &table).map(|t| &t.kind),
        Some(TableKind::Sharded { .. })
    );
    if sharded {
        // A sharded table's counter: the largest of its sets' (as `SHOW TABLE
        // STATUS` shows it), not the one set's that answered.
        let sets = exec.conns.snap.db(db).map(|r| r.sets()).unwrap_or_default();
        let mut largest = None;
        for other in sets.iter().filter(|s| **s != set) {
            match fetch(exec, other, sql).await {
                Ok((_, r)) => {
                    let n = r.first().and_then(|r| r.get(1)).and_then(|t| t.as_deref());
                    largest = largest.max(n.and_then(auto_increment).map(|(_, v)| v));
                }
                Err(e) => return fail(out, &e).await,
            }
        }
        if let Some(Some(text)) = rows.get_mut(0).and_then(|r| r.get_mut(1)) {
            if let (Some((span, own)), Some(other)) = (auto_increment(text), largest) {
                if other > own {
                    text.splice(span.0..span.1, other.to_string().into_bytes());
                }
            }
        }
    }
    let opt = match exec.conns.snap.table(db, &table).map(|t| &t.kind) {
        Some(TableKind::Sharded { key, .. }) => Some(format!(" shardkey={key}")),
        Some(TableKind::Broadcast) => Some(" shardkey=noshardkey_allset".to_string()),
        _ => None,
    };
    if let (Some(opt), Some(Some(text))) = (opt, rows.get_mut(0).and_then(|r| r.get_mut(1))) {
        text.extend_from_slice(opt.as_bytes());
    }
    write_rows(out, &cols, &rows).await
}

/// The `AUTO_INCREMENT=n` table option of a `SHOW CREATE TABLE` text: the
/// byte span of `n` and its value.
fn auto_increment(text: &[u8]) -> Option<((usize, usize), u64)> {
    // Table options follow the column list's closing `\n)`.
    let options = text.windows(2).rposition(|w| w == b"\n)")?;
    const OPT: &[u8] = b" AUTO_INCREMENT=";
    let at = options + text[options..].windows(OPT.len()).position(|w| w == OPT)? + OPT.len();
    let end = at + text[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    let value = std::str::from_utf8(&text[at..end]).ok()?.parse().ok()?;
    Some(((at, end), value))
}

/// `SHOW [SESSION] STATUS ...`: a set's answer, with `Ssl_cipher` and
/// `Ssl_version` the client's own (crate::front::tls::overlay_status).
pub async fn status(
    exec: &mut Exec<'_>,
    sql: &str,
    tls: Option<&crate::front::tls::TlsInfo>,
    out: &mut Responder<'_>,
) -> Answered {
    let fetched = match any_set(exec) {
        Ok(set) => fetch(exec, &set, sql).await,
        Err(e) => Err(e),
    };
    match fetched {
        Ok((cols, mut rows)) => {
            crate::front::tls::overlay_status(&mut rows, tls);
            write_rows(out, &cols, &rows).await
        }
        Err(e) => fail(out, &e).await,
    }
}

/// `SHOW [SESSION] VARIABLES ...`: a set's answer, with the variables the gateway
/// keeps for itself (`own`: `wait_timeout`, `interactive_timeout`) showing the
/// session's values rather than the backend connection's.
pub async fn variables(
    exec: &mut Exec<'_>,
    sql: &str,
    own: &[(&str, u64)],
    out: &mut Responder<'_>,
) -> Answered {
    let fetched = match any_set(exec) {
        Ok(set) => fetch(exec, &set, sql).await,
        Err(e) => Err(e),
    };
    match fetched {
        Ok((cols, mut rows)) => {
            for row in &mut rows {
                let name = row.first().cloned().flatten().unwrap_or_default();
                if let Some((_, v)) = own
                    .iter()
                    .find(|(k, _)| k.as_bytes().eq_ignore_ascii_case(&name))
                {
                    if let Some(value) = row.get_mut(1) {
                        *value = Some(v.to_string().into_bytes());
                    }
                }
            }
            write_rows(out, &cols, &rows).await
        }
        Err(e) => fail(out, &e).await,
    }
}

/// MariaDB 10.11's `SHOW GRANTS` of an account with every privilege but `RELOAD`.
const ALL_BUT_RELOAD: &str = "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, SHUTDOWN, PROCESS, \
FILE, REFERENCES, INDEX, ALTER, SHOW DATABASES, SUPER, CREATE TEMPORARY TABLES, LOCK TABLES, \
EXECUTE, REPLICATION SLAVE, BINLOG MONITOR, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, \
CREATE USER, EVENT, TRIGGER, CREATE TABLESPACE, DELETE HISTORY, SET USER, FEDERATED ADMIN, \
CONNECTION ADMIN, READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, BINLOG ADMIN, \
BINLOG REPLAY, SLAVE MONITOR";

/// `SHOW GRANTS [FOR CURRENT_USER[()] | FOR <the client's own account>]`: the
/// grants as the gateway enforces them — a gateway user may do everything the
/// gateway forwards, and never account management (no `GRANT OPTION`); the
/// gateway's own `RELOAD` (`SHOW SETWISE DIGESTS RESET`) only an admin user
/// has (`ALL PRIVILEGES`). Another account's grants are not the gateway's to
/// show.
pub async fn grants(
    account: Option<&crate::front::account::Account>,
    codec: crate::front::charset::Codec,
    sql: &str,
    sig: &[Token],
    out: &mut Responder<'_>,
) -> Answered {
    use mysql_common::constants::{ColumnFlags, ColumnType};
    let Some(a) = account else {
        return fail(out, &ProxyError::Internal("no account".into())).await;
    };
    if let Some(for_at) = sig.get(2).filter(|t| t.is_word(sql, "FOR")) {
        let rest = sql[for_at.end..].trim().trim_end_matches(';').trim();
        let own = match rest.to_ascii_uppercase().as_str() {
            "CURRENT_USER" | "CURRENT_USER()" => true,
            _ => match account_name(rest) {
                Some((u, h)) if u == a.user => {
                    if h != a.pattern {
                        let e = ProxyError::Backend {
                            code: 1141,
                            state: "42000".into(),
                            message: format!(
                                "There is no such grant defined for user '{u}' on host '{h}'"
                            ),
                        };
                        return fail(out, &e).await;
                    }
                    true
                }
                _ => false,
            },
        };
        if !own {
            let e = ProxyError::NotSupported(
                "SHOW GRANTS for another account through the gateway (only your own: SHOW GRANTS)"
                    .into(),
            );
            return fail(out, &e).await;
        }
    }
    let name = format!("Grants for {}", a.current_user());
    let cs = match codec {
        crate::front::charset::Codec::Latin1 => 8,
        _ => 45,
    };
    let col = mysql_async::Column::new(ColumnType::MYSQL_TYPE_VAR_STRING)
        .with_name(name.as_bytes())
        .with_column_length(4096)
        .with_character_set(cs)
        .with_flags(ColumnFlags::NOT_NULL_FLAG)
        .with_decimals(39);
    let q = |s: &str| s.replace('`', "``");
    let privileges = if a.admin {
        "ALL PRIVILEGES"
    } else {
        ALL_BUT_RELOAD
    };
    let mut grant = format!(
        "GRANT {privileges} ON *.* TO `{}`@`{}`",
        q(&a.user),
        q(&a.pattern)
    );
    if !a.password_hash.is_empty() {
        grant.push_str(&format!(" IDENTIFIED BY PASSWORD '{}'", a.password_hash));
    }
    write_rows(out, &[col], &[vec![Some(grant.into_bytes())]]).await
}

/// `user[@host]` of an account name (each part bare or quoted with ', " or `);
/// the host defaults to `%`.
fn account_name(s: &str) -> Option<(String, String)> {
    fn part(s: &str) -> Option<(String, &str)> {
        let s = s.trim_start();
        match s.chars().next()? {
            q @ ('\'' | '"' | '`') => {
                let end = s[1..].find(q)? + 1;
                Some((s[1..end].to_string(), &s[end + 1..]))
            }
            _ => {
                let end = s.find('@').unwrap_or(s.len());
                Some((s[..end].trim().to_string(), &s[end..]))
            }
        }
    }
    let (user, rest) = part(s)?;
    let rest = rest.trim_start();
    let host = match rest.strip_prefix('@') {
        Some(h) => part(h)?.0,
        None if rest.is_empty() => "%".to_string(),
        None => return None,
    };
    Some((user, host))
}

/// `SHOW SETWISE DIGESTS`: one row per query digest (`crate::digest`).
pub async fn digests(list: &[crate::digest::Digest], out: &mut Responder<'_>) -> Answered {
    use mysql_common::constants::{ColumnFlags, ColumnType};
    let text = |name: &str, len: u32| {
        mysql_async::Column::new(ColumnType::MYSQL_TYPE_VAR_STRING)
            .with_name(name.as_bytes())
            .with_org_name(name.as_bytes())
            .with_table(b"DIGESTS")
            .with_column_length(len)
            .with_character_set(45)
            .with_flags(ColumnFlags::NOT_NULL_FLAG)
    };
    let num = |name: &str| {
        mysql_async::Column::new(ColumnType::MYSQL_TYPE_LONGLONG)
            .with_name(name.as_bytes())
            .with_org_name(name.as_bytes())
            .with_table(b"DIGESTS")
            .with_column_length(20)
            .with_character_set(63)
            .with_flags(
                ColumnFlags::NOT_NULL_FLAG | ColumnFlags::NUM_FLAG | ColumnFlags::UNSIGNED_FLAG,
            )
    };
    let cols = vec![
        text("digest", 64),
        text("schema_name", 256),
        text("digest_text", 4096),
        num("count_star"),
        num("sum_time_us"),
        num("min_time_us"),
        num("max_time_us"),
        num("rows_sent"),
        num("errors"),
        num("first_seen"),
        num("last_seen"),
        text("sets", 1024),
    ];
    let rows: Vec<Vec<Option<Vec<u8>>>> = list
        .iter()
        .map(|d| {
            let s = |v: &str| Some(v.as_bytes().to_vec());
            let n = |v: u64| Some(v.to_string().into_bytes());
            vec![
                s(&d.digest),
                s(&d.schema),
                s(&d.fingerprint),
                n(d.count),
                n(d.sum_us),
                n(d.min_us),
                n(d.max_us),
                n(d.rows_sent),
                n(d.errors),
                n(d.first_seen),
                n(d.last_seen),
                s(&d.sets.join(",")),
            ]
        })
        .collect();
    write_rows(out, &cols, &rows).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn account_names() {
        let n = |s| super::account_name(s);
        assert_eq!(n("app"), Some(("app".into(), "%".into())));
        assert_eq!(n("'app'@'%'"), Some(("app".into(), "%".into())));
        assert_eq!(
            n("`app` @ \"10.0.0.0/255.0.0.0\""),
            Some(("app".into(), "10.0.0.0/255.0.0.0".into()))
        );
        assert_eq!(n("app@localhost"), Some(("app".into(), "localhost".into())));
    }
}

#[cfg(test)]
mod auto_increment_tests {
    use super::auto_increment;

    #[test]
    fn the_table_option_not_a_column_attribute() {
        let t = b"CREATE TABLE `a` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=160 DEFAULT CHARSET=latin1";
        let ((s, e), v) = auto_increment(t).unwrap();
        assert_eq!((&t[s..e], v), (&b"160"[..], 160));
        assert_eq!(
            auto_increment(
                b"CREATE TABLE `b` (\n  `id` int(11) NOT NULL AUTO_INCREMENT\n) ENGINE=InnoDB"
            ),
            None
        );
    }
}
