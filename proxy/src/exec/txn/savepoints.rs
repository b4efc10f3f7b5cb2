//! Savepoints of a transaction across its branches: `SAVEPOINT`, `ROLLBACK
//! TO` and `RELEASE` run on every branch, and the names are remembered so a
//! branch that starts later takes them all right after its `XA START`
//! ([`super::Txn::savepoints`]).

use super::Txn;
use crate::error::ProxyError;

impl Txn {
    /// `SAVEPOINT name`: taken on every branch, and by every branch that starts
    /// later. A savepoint of the same name is replaced.
    pub async fn savepoint(&mut self, name: &str) -> Result<(), ProxyError> {
        self.on_all(&format!("SAVEPOINT {}", quote_ident(name)))
            .await?;
        self.savepoints.retain(|s| !s.eq_ignore_ascii_case(name));
        self.savepoints.push(name.to_string());
        Ok(())
    }

    /// `ROLLBACK TO SAVEPOINT name` (`release == false`: the savepoint stays,
    /// later ones go) or `RELEASE SAVEPOINT name` (it goes with the later ones),
    /// on every branch. An unknown name is MariaDB's 1305.
    pub async fn to_savepoint(&mut self, name: &str, release: bool) -> Result<(), ProxyError> {
        let Some(at) = self
            .savepoints
            .iter()
            .position(|s| s.eq_ignore_ascii_case(name))
        else {
            return Err(no_savepoint(name));
        };
        let verb = if release { "RELEASE" } else { "ROLLBACK TO" };
        self.on_all(&format!("{verb} SAVEPOINT {}", quote_ident(name)))
            .await?;
        self.savepoints.truncate(if release { at } else { at + 1 });
        Ok(())
    }
}

/// MariaDB's error for a savepoint that was never taken (or was released).
pub fn no_savepoint(name: &str) -> ProxyError {
    ProxyError::Backend {
        code: 1305,
        state: "42000".into(),
        message: format!("SAVEPOINT {name} does not exist"),
    }
}

pub(super) use crate::sql::lexer::quote_ident;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_and_unknown_ones_are_1305() {
        assert_eq!(quote_ident("sp1"), "`sp1`");
        assert_eq!(quote_ident("a`b"), "`a``b`");
        match no_savepoint("sp9") {
            ProxyError::Backend {
                code,
                state,
                message,
            } => assert_eq!(
                (code, state.as_str(), message.as_str()),
                (1305, "42000", "SAVEPOINT sp9 does not exist")
            ),
            other => panic!("{other:?}"),
        }
    }
}
