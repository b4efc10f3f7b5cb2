//! Writes on several sets (a split INSERT, a broadcast or per-set UPDATE /
//! DELETE): at once on pooled connections outside a transaction, one after
//! another in it or on the session's pinned connections; their OKs merged.

use std::borrow::Cow;

use futures::future::join_all;

use super::running::note_running;
use super::wire::{write_after, write_one};
use super::{check_writable, discard, epoch_of, fail, returning, sum_oks, Exec};
use crate::front::responder::Answered;
use crate::front::Responder;
use crate::route::Merge;
use mysql_async::prelude::Queryable;

impl Exec<'_> {
    /// Writes on several sets (at once when no transaction is open); OKs merged.
    pub(super) async fn writes(
        &mut self,
        parts: &[(&str, &str)],
        merge: &Merge,
        out: &mut Responder<'_>,
        insert_split: Option<super::oks::InsertForm>,
    ) -> Answered {
        if parts.iter().any(|(_, sql)| returning::has_returning(sql)) {
            // The rows RETURNING gives pass through from one set; from several they
            // would have to be merged in the statement's row order (not yet).
            if let [(set, sql)] = parts {
                return self.single(set, sql, out).await;
            }
            return fail(out, &returning::refused()).await;
        }
        let texts: Vec<Cow<'_, str>> = match parts
            .iter()
            .map(|(set, sql)| self.for_set(set, sql))
            .collect()
        {
            Ok(t) => t,
            Err(e) => return fail(out, &e).await,
        };
        let filtered: Vec<(&str, &str)> = parts
            .iter()
            .zip(&texts)
            .map(|((set, _), t)| (*set, t.as_ref()))
            .collect();
        let parts = &filtered[..];
        let mut oks = Vec::with_capacity(parts.len());
        // A set whose connection is the session's own (a named lock, LOCK
        // TABLES) runs its part there: one after another, as in a transaction.
        let snap = self.conns.snap;
        let pinned = self.pins.as_ref().is_some_and(|p| {
            parts
                .iter()
                .any(|(set, _)| p.holds(set, epoch_of(snap, set)))
        });
        if self.txn.is_none() && !pinned {
            for (set, _) in parts {
                if let Err(e) = check_writable(self.conns.snap, set) {
                    return fail(out, &e).await;
                }
            }
            let conns = &self.conns;
            let activity = &self.activity;
            let results = join_all(parts.iter().map(|(set, sql)| async move {
                let (mut c, epoch) = conns.pooled_at(set).await?;
                note_running(activity, &c, None);
                match conns
                    .guarded(
                        set,
                        epoch,
                        true,
                        write_one(&mut c, set, &conns.codec.wire(sql)),
                    )
                    .await
                {
                    Ok(r) => r,
                    Err(e) => {
                        discard(c);
                        Err(e)
                    }
                }
            }))
            .await;
            self.clear_running();
            for r in results {
                match r {
                    Ok(ok) => oks.push(ok),
                    Err(e) => return fail(out, &e).await,
                }
            }
        } else {
            // In the client's transaction a statement that fails is undone
            // whole, the transaction kept (as InnoDB does): the parts done on
            // other sets go back to a savepoint taken just before each
            // (an autocommit write's own transaction rolls back instead).
            let undo = self.txn.is_some() && self.held.is_none() && parts.len() > 1;
            let mut done: Vec<&str> = Vec::new();
            for (set, sql) in parts {
                let (mut conn, epoch) = match self.take_at(set).await {
                    Ok(c) => c,
                    Err(e) => {
                        self.undo_parts(&done).await;
                        return fail(out, &e).await;
                    }
                };
                self.running_on(Some(&conn));
                let wire = self.conns.codec.wire(sql);
                let r = match self
                    .conns
                    .guarded(set, epoch, true, async {
                        if undo {
                            write_after(&mut conn, set, STATEMENT_SAVEPOINT, &wire).await
                        } else {
                            write_one(&mut conn, set, &wire).await
                        }
                    })
                    .await
                {
                    Ok(r) => r,
                    Err(e) => Err(e),
                };
                self.running_on(None);
                self.give_back(set, conn, r.as_ref().err());
                match r {
                    Ok(ok) => {
                        oks.push(ok);
                        done.push(set);
                    }
                    Err(e) => {
                        self.undo_parts(&done).await;
                        return fail(out, &e).await;
                    }
                }
            }
        }
        let ok = match merge {
            Merge::Replicated => {
                // Every copy gave the same warnings: the first set's are the
                // statement's (its OK is the answer).
                if let (Some(t), Some((first, _))) = (self.txn.as_deref_mut(), parts.first()) {
                    t.diag.retain(|s| s == first);
                }
                oks.into_iter().next().unwrap_or_default()
            }
            _ => sum_oks(oks, insert_split),
        };
        match self.held.as_mut() {
            Some(slot) => *slot = Some(ok),
            None => out.ok(&ok).await?,
        }
        Ok(true)
    }
}

/// Taken on each set right before its part of a multi-set write in a
/// transaction, so a later set's failure can undo it.
const STATEMENT_SAVEPOINT: &str = "SAVEPOINT `__setwise_statement`";

impl Exec<'_> {
    /// Undoes the parts of a failed multi-set write that `sets` ran in the
    /// transaction (back to [`STATEMENT_SAVEPOINT`]). A set where that fails
    /// dooms the transaction: it can only roll back.
    async fn undo_parts(&mut self, sets: &[&str]) {
        let Some(t) = self.txn.as_deref_mut() else {
            return;
        };
        for set in sets {
            let Some(conn) = t.conns.get_mut(*set) else {
                t.doomed = true;
                continue;
            };
            let r = crate::observe::backend_part(
                set,
                conn.query_drop("ROLLBACK TO SAVEPOINT `__setwise_statement`"),
            )
            .await;
            if let Err(e) = r {
                tracing::warn!(%set, error = %e, "undoing a failed statement's part: the transaction is rolled back");
                t.doomed = true;
            }
        }
    }
}
