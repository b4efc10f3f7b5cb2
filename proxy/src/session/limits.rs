//! The session's own limits: its user's place under `max_user_connections`
//! (`crate::admission`), its idle timeout (`wait_timeout`, which starts at
//! `interactive_timeout` for interactive clients), `sql_select_limit` and `SET
//! STATEMENT ... FOR`.
//!
//! `wait_timeout` and `interactive_timeout` are kept by the gateway and never
//! sent to the sets: a pooled backend connection carrying a client's
//! `wait_timeout = 2` would be closed by MariaDB while idle in its pool. Reads
//! of them (`@@wait_timeout`, `@@session.interactive_timeout`) are answered
//! with the session's values. So is `sql_select_limit`: on the sets it would cut
//! each set's part of a read (and the gateway's own reads), so the gateway
//! writes it into the client's top-level SELECT as a LIMIT instead
//! (`select_limit.rs`). `max_statement_time` is ordinary session state,
//! carried to every backend connection the session uses: each set stops its own
//! part of a statement and answers 1969, which reaches the client unchanged.

use std::time::Duration;

use super::text::rewrite_keeping_names;
use super::vars::{parse_set, SetRequest};
use super::{fail, Session};
use crate::admission::{admission, Ticket, MAX_TIMEOUT};
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::Responder;
use crate::sql::lexer::{Kind, Token};

/// The variables the gateway keeps for itself.
const OWN: [&str; 3] = ["wait_timeout", "interactive_timeout", "sql_select_limit"];

pub(super) struct SessionLimits {
    /// The user's place in `max_user_connections` (after authentication).
    user: Option<Ticket>,
    interactive: bool,
    wait_timeout: u64,
    interactive_timeout: u64,
    /// `sql_select_limit` (`u64::MAX`: none, MariaDB's default).
    select_limit: u64,
}

impl Default for SessionLimits {
    fn default() -> Self {
        let cfg = admission().config();
        Self {
            user: None,
            interactive: false,
            wait_timeout: cfg.wait_timeout,
            interactive_timeout: cfg.interactive_timeout,
            select_limit: u64::MAX,
        }
    }
}

impl SessionLimits {
    /// A (new) authenticated user: counted under `max_user_connections`, and
    /// the timeouts start over from the configuration.
    pub fn admit(&mut self, user: &str, ip: std::net::IpAddr) -> Result<(), ProxyError> {
        self.user = None;
        self.user = Some(admission().user(user, ip)?);
        let cfg = admission().config();
        self.interactive_timeout = cfg.interactive_timeout;
        self.select_limit = u64::MAX;
        self.wait_timeout = if self.interactive {
            cfg.interactive_timeout
        } else {
            cfg.wait_timeout
        };
        Ok(())
    }

    pub fn set_interactive(&mut self, yes: bool) {
        self.interactive = yes;
        if yes {
            self.wait_timeout = self.interactive_timeout;
        }
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.wait_timeout)
    }

    /// The session's `sql_select_limit`, when it has one.
    pub fn select_limit(&self) -> Option<u64> {
        (self.select_limit != u64::MAX).then_some(self.select_limit)
    }

    /// The gateway's own variables with the session's values.
    pub fn own_values(&self) -> [(&'static str, u64); 3] {
        [
            ("wait_timeout", self.wait_timeout),
            ("interactive_timeout", self.interactive_timeout),
            ("sql_select_limit", self.select_limit),
        ]
    }

    fn value(&self, key: &str) -> Option<u64> {
        match key {
            "wait_timeout" => Some(self.wait_timeout),
            "interactive_timeout" => Some(self.interactive_timeout),
            "sql_select_limit" => Some(self.select_limit),
            _ => None,
        }
    }

    /// Takes the assignments to the gateway's own variables out of
    /// `assignments` (applied once every one is valid), leaving the rest.
    pub fn take_own(
        &mut self,
        assignments: &[(String, String)],
    ) -> Result<Vec<(String, String)>, ProxyError> {
        let mut rest = Vec::new();
        let mut own = Vec::new();
        for (key, text) in assignments {
            if key == "sql_select_limit" {
                own.push((key.clone(), limit_value(key, text)?));
            } else if OWN.contains(&key.as_str()) {
                own.push((key.clone(), timeout_value(key, text)?));
            } else {
                rest.push((key.clone(), text.clone()));
            }
        }
        for (key, v) in own {
            match key.as_str() {
                "wait_timeout" => self.wait_timeout = v,
                "sql_select_limit" => self.select_limit = v,
                _ => self.interactive_timeout = v,
            }
        }
        Ok(rest)
    }
}

/// The value of `name = value` as MariaDB takes a timeout: an integer, clamped
/// to 1 ..= one year; anything else is 1232.
fn timeout_value(key: &str, text: &str) -> Result<u64, ProxyError> {
    let value = assigned_value(text);
    let n: i128 = value
        .parse()
        .map_err(|_| ProxyError::WrongTypeForVar(key.to_string()))?;
    Ok(n.clamp(1, MAX_TIMEOUT as i128) as u64)
}

/// The value text of an assignment `name = value` (`:=` too), unquoted.
pub(super) fn assigned_value(text: &str) -> &str {
    text.split_once(":=")
        .or_else(|| text.split_once('='))
        .map(|(_, v)| v.trim().trim_matches('\''))
        .unwrap_or_default()
}

/// MariaDB's refusal of a variable it does not take in `SET STATEMENT`.
fn not_in_set_statement(name: &str) -> ProxyError {
    ProxyError::Backend {
        code: 1971,
        state: "42000".into(),
        message: format!("The system variable {name} cannot be set in SET STATEMENT."),
    }
}

/// The value of `sql_select_limit = value`: an integer, negative ones 0, as
/// MariaDB takes it; `DEFAULT` none; anything else is 1232.
fn limit_value(key: &str, text: &str) -> Result<u64, ProxyError> {
    let value = assigned_value(text);
    if value.eq_ignore_ascii_case("DEFAULT") {
        return Ok(u64::MAX);
    }
    let n: i128 = value
        .parse()
        .map_err(|_| ProxyError::WrongTypeForVar(key.to_string()))?;
    Ok(n.clamp(0, u64::MAX as i128) as u64)
}

/// The name a `@@[session.|local.]name` token reads, if it is a session read.
fn read_of(text: &str) -> Option<String> {
    let t = text
        .strip_prefix("@@")?
        .to_ascii_lowercase()
        .replace('`', "");
    let name = t
        .strip_prefix("session.")
        .or_else(|| t.strip_prefix("local."))
        .unwrap_or(&t);
    (!name.contains('.')).then(|| name.to_string())
}

impl Session {
    /// `sql` with reads of the gateway's own variables replaced by the
    /// session's values (keeping MariaDB's column names); `None` when it reads
    /// none.
    pub(super) fn own_vars_text(&self, sql: &str, sig: &[Token]) -> Option<String> {
        let is_set = sig.first().is_some_and(|t| t.is_word(sql, "SET"));
        let edits: Vec<_> = sig
            .iter()
            .enumerate()
            .filter(|(_, t)| t.kind == Kind::Variable)
            // Not the target of an assignment (`SET @@wait_timeout = 5`).
            .filter(|(i, _)| {
                !(is_set
                    && sig
                        .get(i + 1)
                        .is_some_and(|n| n.is_punct(sql, "=") || n.is_punct(sql, ":=")))
            })
            .filter_map(|(_, t)| {
                let name = read_of(t.text(sql))?;
                let v = self.limits.value(&name).or_else(|| self.id_var(&name))?;
                // Typed as MariaDB types a read of an unsigned system
                // variable (BIGINT UNSIGNED, 21 wide, nullable): another one's
                // type, never its value.
                Some((
                    t.start,
                    t.end,
                    format!("IF(FALSE, @@max_join_size, CAST({v} AS UNSIGNED))"),
                ))
            })
            .collect();
        (!edits.is_empty()).then(|| rewrite_keeping_names(sql, sig, edits))
    }

    /// `SET STATEMENT var = value [, ...] FOR statement`: the statement runs
    /// with the variables set on every backend connection it uses (new pooled
    /// ones get them at connect, the transaction's and pinned ones are set
    /// before and restored after), then the session's own values are back.
    pub(super) async fn set_statement(
        &mut self,
        sql: &str,
        sig: &[Token],
        out: &mut Responder<'_>,
    ) -> Answered {
        let mut depth = 0i32;
        let for_at = sig.iter().position(|t| {
            depth += i32::from(t.is_punct(sql, "(")) - i32::from(t.is_punct(sql, ")"));
            depth == 0 && t.is_word(sql, "FOR")
        });
        let (Some(f), true) = (for_at, sig.len() > 3) else {
            let e = ProxyError::Syntax("SET STATEMENT needs assignments and FOR".into());
            return fail(out, &e).await;
        };
        let Some(inner_start) = sig.get(f + 1).map(|t| t.start) else {
            let e = ProxyError::Syntax("SET STATEMENT ... FOR needs a statement".into());
            return fail(out, &e).await;
        };
        let head = format!("SET {}", &sql[sig[2].start..sig[f - 1].end]);
        let head_tokens = crate::sql::lexer::tokenize(&head).unwrap_or_default();
        let head_sig = crate::sql::lexer::significant(&head_tokens);
        let assignments = match parse_set(&head, &head_sig) {
            Ok(SetRequest::Vars(a)) => a,
            Ok(_) => return fail(out, &not_in_set_statement("autocommit")).await,
            Err(e) => return fail(out, &e).await,
        };
        if let Some((k, _)) = assignments
            .iter()
            .find(|(k, _)| matches!(k.as_str(), "wait_timeout" | "interactive_timeout"))
        {
            return fail(out, &not_in_set_statement(k)).await;
        }
        let saved_vars = self.vars.clone();
        let saved_codec = self.codec;
        let saved_limits = (self.limits.select_limit, self.insert_id_next);
        if let Err(e) = self.set_vars(&assignments).await {
            return fail(out, &e).await;
        }
        let answered = Box::pin(self.statement_run(&sql[inner_start..], out)).await;
        // Back to the session's own values, on the connections that kept them.
        let restore: Vec<String> = assignments
            .iter()
            .filter(|(k, _)| !OWN.contains(&k.as_str()))
            .map(|(k, _)| match saved_vars.text(k) {
                Some(text) => format!("SET {text}"),
                None => format!("SET SESSION {k} = DEFAULT"),
            })
            .collect();
        self.vars = saved_vars;
        self.codec = saved_codec;
        (self.limits.select_limit, self.insert_id_next) = saved_limits;
        for q in restore {
            if let Some(t) = self.txn.as_mut() {
                let _ = t.on_all_stateful(&q).await;
            }
            if !self.pins.is_empty() {
                let _ = self.pins.apply(&q).await;
            }
        }
        answered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_as_mariadb_takes_them() {
        assert_eq!(
            timeout_value("wait_timeout", "wait_timeout = 2").unwrap(),
            2
        );
        assert_eq!(
            timeout_value("wait_timeout", "@@wait_timeout=0").unwrap(),
            1
        );
        assert_eq!(
            timeout_value("wait_timeout", "wait_timeout = 99999999999").unwrap(),
            MAX_TIMEOUT
        );
        assert_eq!(
            timeout_value("wait_timeout", "wait_timeout = 'x'")
                .unwrap_err()
                .code(),
            1232
        );
        assert_eq!(
            read_of("@@SESSION.wait_timeout").as_deref(),
            Some("wait_timeout")
        );
        assert_eq!(read_of("@@global.wait_timeout"), None);
    }
}
