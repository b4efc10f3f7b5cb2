//! The client's identity in statement text: `USER()` and `CURRENT_USER()` as
//! the gateway user, and `information_schema.PROCESSLIST` as the gateway's own
//! connections of that user — the backend account and the backend's threads
//! (other clients' statements) are never shown.

use crate::command::{name_is, Statement};
use crate::front::account::Account;
use crate::registry::Activity;
use crate::sql::lexer::{ident_text, Kind, Token};

use super::text::rewrite_keeping_names;

/// The text to run instead of `sql`, with the client's identity in it; `None`
/// when `sql` names none.
pub(super) fn rewrite(
    stmt: &Statement<'_>,
    account: &Account,
    own_id: u32,
    connections: impl FnOnce() -> Vec<(u32, Activity)>,
) -> Option<String> {
    let (sql, sig) = (stmt.sql, &stmt.sig[..]);
    let first = identity_text(stmt, account);
    let text = first.as_deref().unwrap_or(sql);
    let tokens;
    let sig = match &first {
        Some(t) => {
            tokens = crate::sql::lexer::significant(&crate::sql::lexer::tokenize(t).ok()?);
            &tokens[..]
        }
        None => sig,
    };
    if !sig.iter().any(|t| name_is(text, t, "PROCESSLIST")) {
        return first;
    }
    processlist_text(text, sig, own_id, sql, connections).or(first)
}

/// Account management (`GRANT`, `REVOKE`, `SET PASSWORD`, `SET [DEFAULT] ROLE`)
/// would act on the sets' own accounts — the backend account the gateway uses
/// above all — and the account tables would show them: refused (`what`: what
/// the statement does, `crate::command::Command::AccountManagement`). Gateway
/// users are managed with the `setwise` CLI.
pub(super) fn account_refusal(what: &str) -> crate::error::ProxyError {
    crate::error::ProxyError::NotSupported(format!(
        "{what} through the gateway (the sets' accounts are not the gateway's users, which are \
         managed with the setwise CLI)"
    ))
}

/// `sql` with `USER()`, `SESSION_USER()`, `SYSTEM_USER()`, `CURRENT_USER()` and
/// `CURRENT_USER` as the client's account (the backend account is never shown),
/// typed as MariaDB types them (VARCHAR(384), nullable). An item of the
/// statement's select list that holds one and has no alias gets its own text
/// as alias, so the column keeps MariaDB's name. Only in statements that
/// evaluate them now (not a view's or a routine's definition, not account
/// management). `None` when there is none.
fn identity_text(stmt: &Statement<'_>, account: &Account) -> Option<String> {
    let (sql, sig) = (stmt.sql, &stmt.sig[..]);
    let first = stmt.word(0);
    let evaluated = matches!(
        first,
        "SELECT" | "INSERT" | "REPLACE" | "UPDATE" | "DELETE" | "WITH" | "DO" | "VALUES"
    ) || (first == "SET"
        && !matches!(stmt.word(1), "PASSWORD" | "ROLE" | "DEFAULT"))
        || sig.first().is_some_and(|t| t.is_punct(sql, "("));
    if !evaluated {
        return None;
    }
    let mut calls = Vec::new();
    for (i, t) in sig.iter().enumerate() {
        if t.kind != Kind::Word || (i > 0 && sig[i - 1].is_punct(sql, ".")) {
            continue;
        }
        let w = t.text(sql);
        let session = ["USER", "SESSION_USER", "SYSTEM_USER"]
            .iter()
            .any(|n| w.eq_ignore_ascii_case(n));
        let current = w.eq_ignore_ascii_case("CURRENT_USER");
        if !session && !current {
            continue;
        }
        let paren = sig.get(i + 1).is_some_and(|t| t.is_punct(sql, "("));
        let call = paren && sig.get(i + 2).is_some_and(|t| t.is_punct(sql, ")"));
        let (value, last) = match (session, call, paren) {
            (true, true, _) => (account.user_at_host(), i + 2),
            (false, true, _) => (account.current_user(), i + 2),
            (false, false, false) => (account.current_user(), i),
            _ => continue,
        };
        let value = format!("CONCAT(CAST('{}' AS CHAR(384)))", value.replace('\'', "''"));
        calls.push((t.start, sig[last].end, value));
    }
    if calls.is_empty() {
        return None;
    }
    Some(rewrite_keeping_names(sql, sig, calls))
}

/// `sql` with each `information_schema.PROCESSLIST` as a derived table of
/// `connections` (the gateway's connections of this user; `own_id`'s row runs
/// `original`), with MariaDB 10.11's columns.
fn processlist_text(
    sql: &str,
    sig: &[Token],
    own_id: u32,
    original: &str,
    connections: impl FnOnce() -> Vec<(u32, Activity)>,
) -> Option<String> {
    let is_name = |t: &Token| matches!(t.kind, Kind::Word | Kind::QuotedIdent);
    let mut spans = Vec::new();
    for i in 0..sig.len().saturating_sub(2) {
        if is_name(&sig[i])
            && ident_text(sql, &sig[i]).eq_ignore_ascii_case("information_schema")
            && sig[i + 1].is_punct(sql, ".")
            && is_name(&sig[i + 2])
            && ident_text(sql, &sig[i + 2]).eq_ignore_ascii_case("PROCESSLIST")
            && !sig.get(i + 3).is_some_and(|t| t.is_punct(sql, "."))
        {
            // An alias of the client's own follows, or the table's name serves.
            let aliased = sig.get(i + 3).is_some_and(|t| {
                t.is_word(sql, "AS")
                    || t.kind == Kind::QuotedIdent
                    || (t.kind == Kind::Word
                        && !NOT_ALIASES.contains(&t.text(sql).to_ascii_uppercase().as_str()))
            });
            spans.push((sig[i].start, sig[i + 2].end, aliased));
        }
    }
    if spans.is_empty() {
        return None;
    }
    let rows = connections();
    let derived = derived_table(&rows, own_id, original);
    let edits = spans
        .into_iter()
        .map(|(s, e, aliased)| {
            let t = if aliased {
                derived.clone()
            } else {
                format!("{derived} AS PROCESSLIST")
            };
            (s, e, t)
        })
        .collect();
    Some(crate::route::select::apply_edits(sql, edits))
}

/// Words that may follow a table name and are not its alias.
const NOT_ALIASES: &[&str] = &[
    "WHERE",
    "ORDER",
    "GROUP",
    "HAVING",
    "LIMIT",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "CROSS",
    "NATURAL",
    "STRAIGHT_JOIN",
    "ON",
    "USING",
    "UNION",
    "EXCEPT",
    "INTERSECT",
    "WINDOW",
    "FOR",
    "LOCK",
    "INTO",
    "PROCEDURE",
    "USE",
    "IGNORE",
    "FORCE",
    "PARTITION",
];

/// `(SELECT ... UNION ALL SELECT ...)` of the connections, every text as a hex
/// literal (any character set, any sql_mode).
fn derived_table(rows: &[(u32, Activity)], own_id: u32, original: &str) -> String {
    let text = |s: Option<&str>| match s {
        Some(s) => {
            let hex: String = s.bytes().map(|b| format!("{b:02X}")).collect();
            format!("CONVERT(X'{hex}' USING utf8mb4)")
        }
        None => "NULL".to_string(),
    };
    let selects: Vec<String> = rows
        .iter()
        .map(|(id, a)| {
            let own = *id == own_id;
            let (command, info) = if own {
                ("Query", Some(original))
            } else {
                (a.command, a.info.as_deref())
            };
            let ms = if own {
                0
            } else {
                a.since.elapsed().as_millis()
            };
            format!(
                "SELECT {id} AS ID, {user} AS USER, {host} AS HOST, {db} AS DB, \
                 {command} AS COMMAND, {secs} AS TIME, '' AS STATE, {info} AS INFO, \
                 {ms}.000 AS TIME_MS, 0 AS STAGE, 0 AS MAX_STAGE, 0.000 AS PROGRESS, \
                 0 AS MEMORY_USED, 0 AS MAX_MEMORY_USED, 0 AS EXAMINED_ROWS, 0 AS QUERY_ID, \
                 CAST({info} AS BINARY) AS INFO_BINARY, 0 AS TID",
                user = text(Some(&a.user)),
                host = text(Some(&a.host)),
                db = text(a.db.as_deref()),
                command = text(Some(command)),
                secs = ms / 1000,
                info = text(info),
            )
        })
        .collect();
    format!("({})", selects.join(" UNION ALL "))
}

impl super::Session {
    /// The text to run instead of `sql` ([`rewrite`]).
    pub(super) fn identity_text(&self, stmt: &Statement<'_>) -> Option<String> {
        let account = self.account.as_deref()?;
        let registry = &self.shared.registry;
        rewrite(stmt, account, self.id, || registry.list(&account.user))
    }

    /// Dispatches a text the gateway rewrote (the client's own is what the
    /// processlist shows).
    pub(super) async fn dispatch_text(
        &mut self,
        text: &str,
        out: &mut crate::front::Responder<'_>,
    ) -> crate::exec::Answered {
        match Statement::lex(text) {
            Ok(stmt) => self.dispatch(&stmt, out).await,
            Err(e) => super::fail(out, &e).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sql: &str) -> Option<String> {
        let stmt = Statement::lex(sql).unwrap();
        let a = Account::new("app", "127.0.0.1".parse().unwrap(), &[], "setwise_proxy");
        let conns = || {
            vec![(
                7,
                Activity {
                    user: "app".into(),
                    ..Activity::default()
                },
            )]
        };
        rewrite(&stmt, &a, 7, conns)
    }

    #[test]
    fn user_functions() {
        assert_eq!(
            run("SELECT USER(), x.user(), CURRENT_USER FROM t").unwrap(),
            "SELECT CONCAT(CAST('app@127.0.0.1' AS CHAR(384))) AS `USER()`, x.user(), \
             CONCAT(CAST('app@%' AS CHAR(384))) AS `CURRENT_USER` FROM t"
        );
        assert_eq!(
            run("SELECT DISTINCT LENGTH(USER()), USER() u, 1 FROM t WHERE USER() <> ''").unwrap(),
            "SELECT DISTINCT LENGTH(CONCAT(CAST('app@127.0.0.1' AS CHAR(384)))) \
             AS `LENGTH(USER())`, CONCAT(CAST('app@127.0.0.1' AS CHAR(384))) u, 1 FROM t \
             WHERE CONCAT(CAST('app@127.0.0.1' AS CHAR(384))) <> ''"
        );
        assert_eq!(run("SELECT user FROM t"), None);
        assert_eq!(run("CREATE VIEW v AS SELECT USER()"), None);
        assert_eq!(run("SHOW GRANTS FOR CURRENT_USER"), None);
        assert!(run("SET @u = CURRENT_USER()").unwrap().contains("'app@%'"));
    }

    #[test]
    fn processlist() {
        let t = run("SELECT user FROM information_schema.PROCESSLIST WHERE id > 0").unwrap();
        assert!(t.starts_with("SELECT user FROM (SELECT 7 AS ID,"), "{t}");
        assert!(t.ends_with(") AS PROCESSLIST WHERE id > 0"), "{t}");
        let t = run("SELECT p.user FROM `information_schema`.`processlist` p").unwrap();
        assert!(t.ends_with("AS TID) p"), "{t}");
        assert_eq!(run("SELECT 'processlist'"), None);
    }
}
