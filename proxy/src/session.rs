//! One client's session: who it is, its current database, and how each statement
//! it sends is dispatched — answered by the gateway itself (USE, SET, SHOW
//! DATABASES, DDL bookkeeping) or planned and executed on the sets.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use mysql_common::constants::StatusFlags;
use tracing::debug;

use crate::backend::Backends;
use crate::config::ProxyConfig;
use crate::ddl;
use crate::error::ProxyError;
use crate::exec::{Answered, Exec};
use crate::front::{Credentials, Handler, OkInfo, Responder};
use crate::route::plan::is_system_schema;
use crate::route::{plan_statement, Merge, Plan, Target};
use crate::routing::Routing;
use crate::show;
use crate::sql::lexer::{ident_text, significant, split_statements, tokenize, Kind, Token};
use crate::sql::parse_one;

/// The system database of the agents: hidden from gateway clients.
pub const HIDDEN_DB: &str = "setwise_sys";

/// What every session shares.
pub struct Shared {
    pub cfg: ProxyConfig,
    pub routing: Routing,
    pub backends: Backends,
    pub topo: Arc<tokio::sync::OnceCell<topo::Topo>>,
}

pub struct Session {
    pub shared: Arc<Shared>,
    pub user: Option<String>,
    pub db: Option<String>,
    pub found_rows: bool,
    pub peer: Option<SocketAddr>,
}

impl Session {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            user: None,
            db: None,
            found_rows: false,
            peer: None,
        }
    }

    fn check_db(&self, db: &str) -> Result<(), ProxyError> {
        let snap = self.shared.routing.get();
        if db != HIDDEN_DB && (is_system_schema(db) || snap.db(db).is_some()) {
            Ok(())
        } else {
            Err(ProxyError::UnknownDatabase(db.to_string()))
        }
    }

    pub fn exec<'a>(&'a self, snap: &'a topo::ClusterSnapshot) -> Exec<'a> {
        Exec {
            backends: &self.shared.backends,
            snap,
            db: self.db.as_deref(),
            found_rows: self.found_rows,
        }
    }

    /// Runs one statement (one part of a multi-statement text).
    async fn statement(&mut self, sql: &str, out: &mut Responder<'_>) -> Answered {
        let tokens = match tokenize(sql) {
            Ok(t) => t,
            Err(e) => {
                return fail(
                    out,
                    &ProxyError::Syntax(format!("{} near position {}", e.what, e.at)),
                )
                .await
            }
        };
        let sig = significant(&tokens);
        let first = word_at(sql, &sig, 0);
        debug!(stmt = %first, "statement");
        let started = std::time::Instant::now();
        let answered = self.dispatch(sql, &tokens, &sig, &first, out).await;
        metrics::counter!(crate::metrics::STATEMENTS, "kind" => statement_kind(&first))
            .increment(1);
        metrics::histogram!(crate::metrics::STATEMENT_SECONDS)
            .record(started.elapsed().as_secs_f64());
        answered
    }

    async fn dispatch(
        &mut self,
        sql: &str,
        tokens: &[Token],
        sig: &[Token],
        first: &str,
        out: &mut Responder<'_>,
    ) -> Answered {
        let word = |i: usize| word_at(sql, sig, i);
        match first {
            "USE" => {
                let Some(t) = sig.get(1) else {
                    return fail(out, &ProxyError::Syntax("USE needs a database name".into()))
                        .await;
                };
                let db = ident_text(sql, t);
                return match self.init_db(&db).await {
                    Ok(()) => ok(out).await,
                    Err(e) => fail(out, &e).await,
                };
            }
            "BEGIN" | "START" | "XA" => {
                return fail(out, &ProxyError::NotSupported("transactions (BEGIN/START TRANSACTION) through the gateway yet; statements run with autocommit".into())).await;
            }
            "COMMIT" | "ROLLBACK" => return ok(out).await,
            "SET" => return self.set(sql, sig, out).await,
            "SHOW" if matches!(word(1).as_str(), "DATABASES" | "SCHEMAS") => {
                let snap = self.shared.routing.get();
                return show::databases(&self.exec(&snap), out).await;
            }
            "SHOW" | "DESCRIBE" | "DESC" => {
                let snap = self.shared.routing.get();
                return show::forward(&self.exec(&snap), sql, sig, out).await;
            }
            "CREATE" | "DROP" | "ALTER" | "TRUNCATE" | "RENAME" => {
                return ddl::run(self, sql, tokens, out).await;
            }
            _ => {}
        }
        let snap = self.shared.routing.get();
        let stmt = match parse_one(sql) {
            Ok(s) => s,
            Err(msg) => return self.unparsed(sql, &msg, out).await,
        };
        let plan = match plan_statement(&snap, self.db.as_deref(), sql, tokens, &stmt) {
            Ok(p) => p,
            Err(e) => return fail(out, &e).await,
        };
        debug!(?plan, "plan");
        self.exec(&snap).run(&plan, sql, out).await
    }

    /// A statement sqlparser cannot parse: forwarded when everything the session
    /// can reach lives on one set, refused otherwise.
    async fn unparsed(&self, sql: &str, msg: &str, out: &mut Responder<'_>) -> Answered {
        let snap = self.shared.routing.get();
        let sets = match self.db.as_deref().and_then(|d| snap.db(d)) {
            Some(rec) => rec.sets(),
            None => snap.sets.keys().cloned().collect(),
        };
        if sets.len() == 1 {
            let plan = Plan {
                target: Target::Sets(sets),
                merge: Merge::Single,
            };
            return self.exec(&snap).run(&plan, sql, out).await;
        }
        fail(
            out,
            &ProxyError::NotSupported(format!(
                "a statement the gateway cannot parse on data spread over several sets ({msg})"
            )),
        )
        .await
    }

    /// `SET`: only what needs no per-connection state is accepted for now.
    async fn set(&mut self, sql: &str, sig: &[Token], out: &mut Responder<'_>) -> Answered {
        let rest: String = sig[1..]
            .iter()
            .map(|t| t.text(sql).to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(" ");
        let rest = rest
            .replace("@@session.", "")
            .replace("session ", "")
            .replace("@@", "");
        let accepted = rest.starts_with("names utf8")
            || rest.starts_with("character set utf8")
            || matches!(
                rest.as_str(),
                "autocommit = 1" | "autocommit = on" | "autocommit = true"
            );
        if accepted {
            ok(out).await
        } else {
            fail(
                out,
                &ProxyError::NotSupported(format!(
                    "SET {} (session variables are not carried to the sets yet)",
                    sql.split_whitespace().nth(1).unwrap_or("")
                )),
            )
            .await
        }
    }
}

/// The keyword at significant token `i`, upper-cased ("" if none).
fn word_at(sql: &str, sig: &[Token], i: usize) -> String {
    sig.get(i)
        .filter(|t| t.kind == Kind::Word)
        .map(|t| t.text(sql).to_ascii_uppercase())
        .unwrap_or_default()
}

/// A bounded label for the statements counter.
fn statement_kind(first: &str) -> &'static str {
    match first {
        "SELECT" => "select",
        "INSERT" | "REPLACE" => "insert",
        "UPDATE" => "update",
        "DELETE" => "delete",
        "CREATE" | "DROP" | "ALTER" | "TRUNCATE" | "RENAME" => "ddl",
        "SHOW" | "DESCRIBE" | "DESC" => "show",
        "SET" | "USE" => "session",
        _ => "other",
    }
}

async fn ok(out: &mut Responder<'_>) -> Answered {
    out.ok(&OkInfo::default()).await?;
    Ok(true)
}

pub(crate) async fn fail(out: &mut Responder<'_>, e: &ProxyError) -> Answered {
    out.error(e).await?;
    Ok(false)
}

impl Handler for Session {
    async fn authenticate(&mut self, cred: &Credentials) -> Result<(), ProxyError> {
        let routing = &self.shared.routing;
        if !routing.is_loaded() {
            return Err(ProxyError::NoRouting(
                "etcd is unreachable and there is no routing file".into(),
            ));
        }
        let snap = routing.get();
        let denied = || ProxyError::AccessDenied {
            user: cred.user.clone(),
            host: cred.peer.ip().to_string(),
            using_password: !cred.scramble.is_empty(),
        };
        let user = snap.user(&cred.user).ok_or_else(denied)?;
        if !user.host_allowed(cred.peer.ip())
            || !topo::password::verify_native(&user.password_hash, &cred.salt, &cred.scramble)
        {
            return Err(denied());
        }
        if let Some(db) = &cred.db {
            self.check_db(db)?;
        }
        self.user = Some(cred.user.clone());
        self.db = cred.db.clone();
        self.found_rows = cred.found_rows;
        self.peer = Some(cred.peer);
        Ok(())
    }

    async fn query(&mut self, sql: &str, out: &mut Responder<'_>) -> io::Result<()> {
        let tokens = match tokenize(sql) {
            Ok(t) => t,
            Err(e) => {
                let err = ProxyError::Syntax(format!("{} near position {}", e.what, e.at));
                return out.error(&err).await;
            }
        };
        let parts = split_statements(sql, &tokens);
        if parts.is_empty() {
            return out
                .error(&ProxyError::Backend {
                    code: 1065,
                    state: "42000".into(),
                    message: "Query was empty".into(),
                })
                .await;
        }
        let n = parts.len();
        for (i, (s, e)) in parts.into_iter().enumerate() {
            out.set_more_results(i + 1 < n);
            if !self.statement(&sql[s..e], out).await? {
                break;
            }
        }
        Ok(())
    }

    async fn init_db(&mut self, db: &str) -> Result<(), ProxyError> {
        self.check_db(db)?;
        self.db = Some(db.to_string());
        Ok(())
    }

    async fn reset(&mut self) -> Result<(), ProxyError> {
        Ok(())
    }

    fn status(&self) -> StatusFlags {
        StatusFlags::SERVER_STATUS_AUTOCOMMIT
    }

    async fn close(&mut self) {}
}
