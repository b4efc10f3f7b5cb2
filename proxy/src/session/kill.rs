//! `KILL [CONNECTION | QUERY] id` with the gateway's connection ids.

use super::{fail, ok, Session};
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::{Handler, Responder};
use crate::sql::lexer::{Kind, Token};

impl Session {
    /// `KILL [CONNECTION | QUERY] n`: `n` is a gateway connection id.
    pub(super) async fn kill(
        &mut self,
        sql: &str,
        sig: &[Token],
        out: &mut Responder<'_>,
    ) -> Answered {
        let query = sig.get(1).is_some_and(|t| t.is_word(sql, "QUERY"));
        let id_tok = sig.iter().skip(1).find(|t| t.kind == Kind::Number);
        let Some(id) = id_tok.and_then(|t| t.text(sql).parse::<u32>().ok()) else {
            return fail(
                out,
                &ProxyError::Syntax("KILL needs a connection id".into()),
            )
            .await;
        };
        let user = self.user.clone().unwrap_or_default();
        if query {
            // KILL QUERY: the statement stops on the set running it; the
            // connection lives on.
            // A statement just starting has no backend yet: give it a moment.
            let mut on = Vec::new();
            for _ in 0..100 {
                match self.shared.registry.running(id, &user) {
                    Ok((r, starting)) => {
                        on = r;
                        if !starting {
                            break;
                        }
                    }
                    Err(e) => return fail(out, &kill_error(id, e)).await,
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            for (host, port, thread) in on {
                let _ = self.shared.backends.kill_query(&host, port, thread).await;
            }
            return ok(out, self.status()).await;
        }
        match self.shared.registry.kill(id, &user) {
            Ok(()) => ok(out, self.status()).await,
            Err(e) => fail(out, &kill_error(id, e)).await,
        }
    }
}

/// MariaDB's errors for a KILL of an unknown or foreign connection.
fn kill_error(id: u32, e: crate::registry::KillError) -> ProxyError {
    match e {
        crate::registry::KillError::Unknown => ProxyError::Backend {
            code: 1094,
            state: "HY000".into(),
            message: format!("Unknown thread id: {id}"),
        },
        crate::registry::KillError::NotOwner => ProxyError::Backend {
            code: 1095,
            state: "HY000".into(),
            message: format!("You are not owner of thread {id}"),
        },
    }
}
