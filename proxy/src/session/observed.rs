//! Booking each statement once its answer is written (`crate::observe`: metrics,
//! digest, audit) and `SHOW SETWISE DIGESTS [RESET] [LIMIT n]`.

use super::{fail, Session};
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::Responder;
use crate::route::{Plan, Target};
use crate::sql::lexer::{Kind, Token};

impl Session {
    /// Runs one statement (one part of a multi-statement text) and books it.
    pub(super) async fn statement(&mut self, sql: &str, out: &mut Responder<'_>) -> Answered {
        self.stmt = Default::default();
        if out.deadlock.is_none() && self.shared.cfg.deadlock.enabled {
            out.deadlock = Some(self.activity.clone());
        }
        let mark = crate::observe::Mark::start(out);
        let answered = self.statement_run(sql, out).await;
        if std::mem::take(&mut out.deadlocked) {
            self.deadlock_ended().await;
        }
        let who = crate::observe::Who {
            conn_id: self.id,
            user: self.user.as_deref(),
            peer: self.peer,
            db: self.db.as_deref(),
        };
        crate::observe::statement_ended(&mut self.stmt_metrics, mark, &self.stmt, &who, sql, out);
        answered
    }

    /// The statement's digest key, when digests are kept.
    pub(super) fn note_digest_key(&mut self, sql: &str, tokens: &[Token]) {
        if self.stmt.digest_key == 0 && crate::digest::global().enabled() {
            self.stmt.digest_key =
                crate::digest::fingerprint::key(sql, tokens, self.db.as_deref()).max(1);
        }
    }

    /// The sets the statement's plan runs on.
    pub(super) fn note_plan_sets(&mut self, plan: &Plan) {
        self.stmt.sets |= match &plan.target {
            Target::Sets(sets) => crate::observe::sets::mask(sets.iter().map(String::as_str)),
            Target::PerSet(parts) => crate::observe::sets::mask(parts.iter().map(|p| p.0.as_str())),
        };
    }

    /// `SHOW SETWISE DIGESTS [RESET] [LIMIT n]`: the digests, the largest total
    /// latency first; `RESET` empties the table after answering.
    pub(super) async fn show_digests(
        &mut self,
        sql: &str,
        sig: &[Token],
        out: &mut Responder<'_>,
    ) -> Answered {
        let mut reset = false;
        let mut top = 0usize;
        let mut i = 3;
        while i < sig.len() {
            let t = &sig[i];
            if t.is_word(sql, "RESET") {
                reset = true;
            } else if t.is_word(sql, "LIMIT")
                && sig.get(i + 1).is_some_and(|n| n.kind == Kind::Number)
            {
                top = sig[i + 1].text(sql).parse().unwrap_or(0);
                i += 1;
            } else if !t.is_punct(sql, ";") {
                let e = ProxyError::Syntax(format!(
                    "SHOW SETWISE DIGESTS [RESET] [LIMIT n], not '{}'",
                    t.text(sql)
                ));
                return fail(out, &e).await;
            }
            i += 1;
        }
        if reset && !self.account.as_ref().is_some_and(|a| a.admin) {
            // Like FLUSH: the statement changes state of the whole gateway.
            return fail(out, &ProxyError::PrivilegeNeeded("RELOAD")).await;
        }
        let digests = crate::digest::global();
        let list = digests.snapshot(top);
        if reset {
            digests.reset();
        }
        crate::show::digests(&list, out).await
    }
}
