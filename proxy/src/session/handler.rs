//! The session as the protocol front sees it ([`Handler`]): authentication, COM_QUERY
//! with multi-statements, COM_CHANGE_USER, COM_FIELD_LIST, prepared statements,
//! COM_INIT_DB, COM_RESET_CONNECTION, status flags and the end of the connection.

use super::*;

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
            || (user.require_ssl && cred.tls.is_none())
        {
            return Err(denied());
        }
        if let Some(db) = &cred.db {
            self.check_db(db)?;
        }
        self.limits.admit(&cred.user, cred.peer.ip())?;
        self.user = Some(cred.user.clone());
        self.db = cred.db.clone();
        self.found_rows = cred.found_rows;
        self.peer = Some(cred.peer);
        self.collation = cred.collation;
        self.tls = cred.tls.clone().map(Arc::new);
        self.codec = Codec::for_collation(cred.collation);
        let mut account = crate::front::account::Account::new(
            &cred.user,
            cred.peer.ip(),
            &user.hosts,
            &self.shared.backends.config().user,
        );
        account.password_hash = user.password_hash.clone();
        account.admin = user.admin;
        self.account = Some(Arc::new(account));
        self.vars = SessionVars::for_collation(cred.collation);
        if let Ok(mut a) = self.activity.lock() {
            a.user = cred.user.clone();
            a.host = cred.peer.to_string();
            a.db = self.db.clone();
            a.command = "Sleep";
        }
        Ok(())
    }

    async fn query(&mut self, sql: &str, out: &mut Responder<'_>) -> io::Result<()> {
        // The rest of the text after a statement changed the character set: it is
        // in the new one (MariaDB reads each statement in the character set of
        // its time).
        let mut recoded: Option<String> = None;
        loop {
            let sql = recoded.as_deref().unwrap_or(sql);
            if let Err(e) = self.literal_mode(sql) {
                return out.error(&e).await;
            }
            let ansi = match self.ansi_names(sql) {
                Ok(a) => a,
                Err(e) => return out.error(&e).await,
            };
            let sql = ansi.as_deref().unwrap_or(sql);
            let tokens = match tokenize(sql) {
                Ok(t) => t,
                Err(e) => {
                    let err = ProxyError::Syntax(format!("{} near position {}", e.what, e.at));
                    return out.error(&err).await;
                }
            };
            let parts = split_statements(sql, &tokens);
            let pieces = crate::sql::comment_only::pieces(sql, &tokens, &parts);
            if pieces.is_empty() {
                let e = ProxyError::Backend {
                    code: 1065,
                    state: "42000".into(),
                    message: "Query was empty".into(),
                };
                return out.error(&e).await;
            }
            let n = pieces.len();
            if parts.len() > 1 && !out.multi_statements {
                // Without CLIENT_MULTI_STATEMENTS MariaDB parses the text as one
                // statement and fails where the second begins.
                let near: String = sql[parts[1].0..].trim_start().chars().take(80).collect();
                let e = ProxyError::Backend {
                    code: 1064,
                    state: "42000".into(),
                    message: format!(
                        "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near '{near}' at line 1"
                    ),
                };
                return out.error(&e).await;
            }
            let codec = self.codec;
            let mut rest = None;
            for (i, piece) in pieces.iter().enumerate() {
                use crate::sql::comment_only::Piece;
                out.set_more_results(i + 1 < n);
                out.status = self.status();
                let (s, e) = match *piece {
                    Piece::Run(s, e) => (s, e),
                    Piece::Comments => {
                        out.ok(&crate::front::OkInfo::default()).await?;
                        continue;
                    }
                    Piece::Near(at) => {
                        out.set_more_results(false);
                        return out.error(&syntax_near(sql, at)).await;
                    }
                };
                if !self.statement(&sql[s..e], out).await? {
                    return Ok(());
                }
                if self.codec != codec && i + 1 < n {
                    out.codec = self.codec;
                    // The rest after this statement's `;`.
                    rest = Some(codec.wire(&sql[e + 1..]).into_owned());
                    break;
                }
            }
            let Some(rest) = rest else {
                return Ok(());
            };
            match self.codec.decode(&rest) {
                Ok(t) => recoded = Some(t.into_owned()),
                Err(e) => return out.error(&e).await,
            }
        }
    }

    async fn change_user(&mut self, cred: &Credentials) -> Result<(), ProxyError> {
        let _ = self.end_txn("ROLLBACK").await;
        // Closing the pinned connections releases their table locks.
        self.locks = None;
        self.pins.clear();
        self.sql_stmts.clear();
        self.held.clear();
        self.temp_tables.clear();
        self.autocommit = true;
        self.next_txn.clear();
        self.reset_ids();
        self.reset_read_from();
        self.user = None;
        self.account = None;
        self.db = None;
        self.authenticate(cred).await
    }

    fn idle_timeout(&self) -> Option<std::time::Duration> {
        Some(self.limits.idle_timeout())
    }

    fn idle_wake(&mut self) -> Option<super::release::Wake> {
        Session::idle_wake(self)
    }

    async fn idle_woken(&mut self) {
        self.release_ended().await
    }

    fn set_interactive(&mut self, interactive: bool) {
        self.limits.set_interactive(interactive);
    }

    fn found_rows(&self) -> bool {
        self.found_rows
    }

    fn statistics(&self) -> String {
        let snap = self.shared.routing.get();
        let user = self.user.clone().unwrap_or_default();
        format!(
            "Uptime: {}  Threads: {}  Sets: {}  Databases: {}  Routing revision: {}",
            self.shared.started.elapsed().as_secs(),
            self.shared.registry.list(&user).len(),
            snap.sets.len(),
            snap.dbs.len(),
            snap.revision
        )
    }

    async fn field_list(&mut self, table: &str) -> Result<Vec<mysql_async::Column>, ProxyError> {
        let snap = self.snapshot();
        let set = show::set_holding(&snap, self.db.as_deref(), None, table)?;
        let (mut conn, pinned) = self.side_conn(&snap, &set).await?;
        let q = format!("SELECT * FROM `{}` LIMIT 0", table.replace('`', "``"));
        let wire = self.codec.wire(&q).into_owned();
        let r = async {
            let res = conn.query_iter(wire).await?;
            let cols = res.columns().map(|c| c.to_vec()).unwrap_or_default();
            res.drop_result().await?;
            Ok(cols)
        }
        .await
        .map_err(|e| ProxyError::from_backend(&set, e));
        self.side_done(&set, conn, pinned);
        r
    }

    async fn prepare(&mut self, sql: &str, placeholders: usize) -> Result<Prepared, ProxyError> {
        self.literal_mode(sql)?;
        let ansi = self.ansi_names(sql)?;
        let sql = ansi.as_deref().unwrap_or(sql);
        let snap = self.snapshot();
        // `EXPLAIN SETWISE stmt`: the parameters are the statement's, the columns
        // the plan's.
        let plan_of = crate::sql::lexer::tokenize(sql).ok().and_then(|t| {
            let sig = crate::sql::lexer::significant(&t);
            crate::explain::classify(sql, &sig)
                .filter(|r| r.kind == crate::explain::ExplainKind::Gateway)
        });
        let sql = plan_of.map_or(sql, |r| r.inner(sql));
        let set = self.metadata_set(&snap, sql)?;
        let (mut conn, pinned) = self.side_conn(&snap, &set).await?;
        // Prepared with a trailing space: mysql_async's statement cache holds
        // the text as executed, with the columns of its last execute (typed
        // by that execute's parameters), not the prepare's.
        let text = [&self.codec.wire(sql)[..], b" "].concat();
        let prepared = conn.prep(&text[..]).await;
        if let Ok(s) = &prepared {
            let _ = conn.close(s.clone()).await;
        }
        self.side_done(&set, conn, pinned);
        let stmt = match prepared {
            Ok(s) => s,
            // A join across sets whose tables no one set holds: its result's
            // column definitions come with each execute.
            Err(mysql_async::Error::Server(e))
                if matches!(e.code, 1146 | 1049)
                    && crate::join::spans_sets(&snap, self.db.as_deref(), sql) =>
            {
                return Ok(crate::join::prepared_without_columns(placeholders));
            }
            Err(e) => return Err(ProxyError::from_backend(&set, e)),
        };
        let meta = Prepared {
            columns: match plan_of {
                Some(_) => super::explain::step_columns(),
                None => stmt.columns().to_vec(),
            },
            params: stmt.params().to_vec(),
            warnings: 0,
        };
        Ok(meta)
    }

    async fn execute(
        &mut self,
        bound: crate::front::stmts::Bound,
        out: &mut Responder<'_>,
    ) -> io::Result<()> {
        out.status = self.status();
        // Planned from the spliced text; a single-set plan then runs as a real
        // prepared statement on the set, so result types are MariaDB's own.
        // Items holding a `?` are named by the client's text (not the text
        // with casts, nor with the values written in).
        out.names = bound.names;
        out.params = bound.bare;
        self.prepared = Some((bound.sql, bound.values));
        let r = self.statement(&bound.spliced, out).await.map(|_| ());
        self.prepared = None;
        out.names = None;
        out.params = None;
        r
    }

    fn account(&self) -> Option<Arc<crate::front::account::Account>> {
        self.account.clone()
    }

    fn codec(&self) -> Codec {
        self.codec
    }

    fn backslash_escapes(&self) -> bool {
        !self.vars.no_backslash_escapes()
    }

    async fn init_db(&mut self, db: &str) -> Result<(), ProxyError> {
        self.use_db(db).await
    }

    async fn reset(&mut self) -> Result<(), ProxyError> {
        self.xa_end_session();
        let r = self.end_txn("ROLLBACK").await;
        // Closing the pinned connections releases their table locks.
        self.locks = None;
        self.pins.clear();
        self.sql_stmts.clear();
        self.held.clear();
        self.temp_tables.clear();
        self.vars = SessionVars::for_collation(self.collation);
        self.codec = Codec::for_collation(self.collation);
        self.autocommit = true;
        self.next_txn.clear();
        self.reset_ids();
        self.reset_read_from();
        r
    }

    fn status(&self) -> StatusFlags {
        let mut s = StatusFlags::empty();
        // Drivers that escape on the client side (PyMySQL, mysql2, ...) read this flag
        // to escape quotes by doubling them instead of with backslashes.
        if !self.backslash_escapes() {
            s |= StatusFlags::SERVER_STATUS_NO_BACKSLASH_ESCAPES;
        }
        if self.autocommit {
            s |= StatusFlags::SERVER_STATUS_AUTOCOMMIT;
        }
        if self.txn.is_some() {
            s |= StatusFlags::SERVER_STATUS_IN_TRANS;
        }
        s
    }

    async fn close(&mut self) {
        self.xa_end_session();
        let _ = self.end_txn("ROLLBACK").await;
        // Closing the pinned connections releases their table locks.
        self.locks = None;
        self.pins.clear();
        self.sql_stmts.clear();
        self.held.clear();
        self.temp_tables.clear();
    }
}

impl Session {
    /// Under sql_mode NO_BACKSLASH_ESCAPES, a string literal with a backslash means
    /// something else to MariaDB than to the gateway's reading (routing keys,
    /// statement boundaries): refused rather than risk a wrong row; bound
    /// parameters are not affected.
    /// Under ANSI_QUOTES: the text with `"names"` as backtick identifiers (what
    /// MariaDB reads them as), so routing, merging and the INSERT column list see
    /// names, not string constants.
    /// Executable comments MariaDB runs (`/*!40101 ... */`) come unwrapped first
    /// (sql/exec_comment.rs), so the gateway plans what the sets execute.
    fn ansi_names(&self, sql: &str) -> Result<Option<String>, ProxyError> {
        let syntax = |e: crate::sql::lexer::LexError| {
            ProxyError::Syntax(format!("{} near position {}", e.what, e.at))
        };
        let unwrapped = crate::sql::exec_comment::unwrap(sql).map_err(syntax)?;
        if !self.vars.ansi_quotes() {
            return Ok(unwrapped);
        }
        let text = unwrapped.as_deref().unwrap_or(sql);
        Ok(crate::sql::lexer::ansi_quotes_as_backticks(text)
            .map_err(syntax)?
            .or(unwrapped))
    }

    fn literal_mode(&self, sql: &str) -> Result<(), ProxyError> {
        if self.backslash_escapes() {
            return Ok(());
        }
        match crate::sql::lexer::has_backslash_literal(sql) {
            Ok(false) => Ok(()),
            Ok(true) => Err(ProxyError::NotSupported(
                "a backslash in a string literal under sql_mode NO_BACKSLASH_ESCAPES \
                 (bind the value as a prepared statement's parameter)"
                    .into(),
            )),
            Err(e) => Err(ProxyError::Syntax(format!(
                "{} near position {}",
                e.what, e.at
            ))),
        }
    }
}

/// MariaDB's 1064 for a text it stops reading at byte `at`.
fn syntax_near(sql: &str, at: usize) -> ProxyError {
    let near: String = sql[at..].chars().take(80).collect();
    let line = 1 + sql[..at].matches('\n').count();
    ProxyError::Backend {
        code: 1064,
        state: "42000".into(),
        message: format!(
            "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near '{near}' at line {line}"
        ),
    }
}
