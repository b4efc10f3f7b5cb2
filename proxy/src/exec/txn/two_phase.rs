//! The two-phase commit of a transaction that wrote to several sets: the
//! written branches but one prepare (all at once; read-only branches just
//! end), then the last one — the coordinator — commits in one phase with the
//! decision row inserted in it ([`super::last_agent`], `crate::xa_sets`), then
//! every prepared branch commits (all at once). With `[xa] decisions = "etcd"`
//! (or while the coordinator's set lacks the decision table) every written
//! branch prepares and the decision is recorded in etcd instead
//! (`topo::XaDecision`, with the decisions of concurrent commits:
//! `crate::xa_log`). The prepared branches' `XA COMMIT` may start the session's
//! next transaction there too ([`super::primed`]).

use std::collections::BTreeMap;

use mysql_async::prelude::Queryable;
use tracing::warn;

use super::ends::Ends;
use super::moved::Watch;
use super::{last_agent, primed, Txn};
use crate::backend::Conn;
use crate::error::ProxyError;
use crate::exec::conns::discard;
use crate::xa_sets::xid;

impl Txn {
    /// Commits in two phases the branches of a transaction that wrote to the
    /// sets `written` (two or more, in order: the last is the coordinator when
    /// `decisions` are kept in the sets), the decision recorded in between.
    /// With `next`, prepared branches that commit start a branch of `next`.
    pub(super) async fn commit_two_phase(
        mut self,
        topo: Option<&topo::Topo>,
        decisions: crate::xa_sets::Decisions,
        next: Option<String>,
        written: Vec<String>,
        watch: Option<&Watch>,
    ) -> Result<Vec<(String, primed::Branch)>, ProxyError> {
        let gtrid = self.gtrid.clone();
        // The last-agent commit: the coordinator's branch is not prepared; its
        // one-phase commit records the decision. Writing the decision row
        // replaces the diagnostics area there, so the coordinator is a set
        // whose branch holds none of the last statement's if there is one.
        let coordinator = match decisions {
            crate::xa_sets::Decisions::Sets => written
                .iter()
                .rev()
                .find(|s| !self.diag.contains(*s))
                .or(written.last())
                .cloned(),
            crate::xa_sets::Decisions::Etcd => None,
        };
        let stash = coordinator.as_ref().is_some_and(|s| self.diag.remove(s));
        let ends = self.ends();
        let mut conns = std::mem::take(&mut self.conns);
        let mut coordinator = coordinator.and_then(|s| Some((s.clone(), conns.remove(&s)?)));
        if let (true, Some((_, conn))) = (stash, coordinator.as_mut()) {
            // Every written branch holds some: the coordinator's are read now.
            super::diag::stash(conn, &self.kept).await;
        }
        // Phase 1, all sets at once: every written branch prepares; read-only
        // branches just end (committed in one phase: nothing to make durable).
        let (mut prepared, mut failure) =
            phase_one(&gtrid, conns, &written, &ends, watch, &self.epochs).await;
        crate::xa_log::pause("prepared").await;
        let mut decided = false;
        if let Some((set, conn)) = coordinator {
            use last_agent::Outcome;
            let decide = last_agent::decide(&gtrid, &set, conn, failure.is_none());
            let epoch = self.epochs.get(&set).copied().unwrap_or_default();
            let outcome = match watch {
                Some(w) => w
                    .unless_moved(&set, epoch, decide)
                    .await
                    .unwrap_or(Outcome::Moved),
                None => decide.await,
            };
            match outcome {
                Outcome::Committed(conn) => {
                    ends.end(&set, conn, true);
                    decided = true;
                    crate::xa_log::pause("decided").await;
                }
                Outcome::RolledBack(conn, e) => {
                    if let Some(conn) = conn {
                        ends.end(&set, conn, true);
                    }
                    failure = failure.or(e);
                }
                outcome @ (Outcome::Moved | Outcome::Unknown(_)) => {
                    // Given up (its primary changed under the commit) or broken
                    // (killed?): the decision is taken where the set's primary
                    // is now — the new one after a failover ([`moved`]) — or,
                    // when that cannot be done, by recovery from the row.
                    let unknown = match outcome {
                        Outcome::Unknown(e) => e,
                        _ => ProxyError::BackendLost {
                            set: set.clone(),
                            detail: "its primary changed during COMMIT: the transaction's \
                                     outcome is unknown, and recovery finishes it"
                                .into(),
                        },
                    };
                    let decision = match watch {
                        Some(w) => w.decide_on_new_primary(&set, &gtrid).await,
                        None => None,
                    };
                    match decision {
                        Some(true) => decided = true,
                        Some(false) => {
                            failure = failure.or(Some(ProxyError::BackendLost {
                                set: set.clone(),
                                detail: "its primary was lost during COMMIT; the transaction \
                                         was rolled back on every set"
                                    .into(),
                            }))
                        }
                        None => {
                            for (_, conn) in prepared {
                                discard(conn);
                            }
                            return Err(unknown);
                        }
                    }
                }
                Outcome::NoTable(conn) => {
                    // Its table is not there yet: prepared too, decided in etcd.
                    let one = [(set.clone(), conn)].into();
                    let (more, f) =
                        phase_one(&gtrid, one, &written, &ends, watch, &self.epochs).await;
                    prepared.extend(more);
                    failure = failure.or(f);
                }
            }
        }
        // The decision in etcd, recorded before any branch commits (with those
        // of the transactions committing at the same time: `crate::xa_log`).
        let in_etcd = !decided && failure.is_none();
        if in_etcd {
            match topo {
                None => {
                    failure = Some(ProxyError::EtcdUnavailable(
                        "a transaction that wrote to several sets records its commit there; it was rolled back".into(),
                    ));
                }
                Some(t) => {
                    let d = topo::XaDecision {
                        gtrid: gtrid.clone(),
                        commit: true,
                        sets: written.clone(),
                        at_ms: now_ms(),
                    };
                    match crate::xa_log::log().decide(t, d).await {
                        Ok(d) if d.commit => {
                            decided = true;
                            crate::xa_log::pause("decided").await;
                        }
                        Ok(_) => {
                            failure = Some(ProxyError::BackendLost {
                                set: "?".into(),
                                detail: "the distributed transaction was aborted by recovery while it committed".into(),
                            });
                        }
                        Err(e) => {
                            failure = Some(ProxyError::EtcdUnavailable(format!(
                                "the commit decision of a transaction across sets could not be recorded ({e}); it was rolled back"
                            )));
                        }
                    }
                }
            }
        }
        // Phase 2, all sets at once. A branch that commits may start the
        // next transaction's there too ([`primed`]).
        let verb = if decided { "COMMIT" } else { "ROLLBACK" };
        let next = next.filter(|_| decided && failure.is_none());
        let epochs = &self.epochs;
        let phase2 = futures::future::join_all(prepared.into_iter().map(|(set, mut conn)| {
            let x = xid(&gtrid, &set);
            let (ends, gtrid) = (&ends, &gtrid);
            let hold = next
                .as_deref()
                .filter(|_| ends.may_prime(&set))
                .and_then(|n| Some((n, conn.hold()?)));
            async move {
                let end = format!("XA {verb} {x}");
                let y = hold.as_ref().map(|(next, _)| xid(next, &set));
                let run = async {
                    match &y {
                        Some(y) => primed::end_and_start(&mut conn, &end, 1, y).await,
                        None => conn.query_drop(end.as_str()).await.map(|()| false),
                    }
                };
                let epoch = epochs.get(&set).copied().unwrap_or_default();
                let run = crate::observe::backend_part(&set, run);
                let r = match watch {
                    // Given up when the set's primary changed: recovery
                    // finishes the branch by the decision.
                    Some(w) => w.unless_moved(&set, epoch, run).await.unwrap_or_else(|| {
                        Err(mysql_async::Error::Other(
                            "the set's primary changed under it".into(),
                        ))
                    }),
                    None => run.await,
                };
                match r {
                    Ok(true) => {
                        let (_, hold) = hold.expect("started with a hold");
                        (true, Some((set, primed::Branch { conn, epoch, hold })))
                    }
                    Ok(false) if hold.is_some() => {
                        // Committed; the next branch's start failed.
                        discard(conn);
                        (true, None)
                    }
                    Ok(false) => {
                        ends.end(&set, conn, true);
                        (true, None)
                    }
                    Err(e) => {
                        // The decision stands; recovery finishes this branch.
                        warn!(%set, %gtrid, "XA {verb} failed: {e}");
                        ends.end(&set, conn, false);
                        (false, None)
                    }
                }
            }
        }))
        .await;
        let (phase2, started): (Vec<bool>, Vec<_>) = phase2.into_iter().unzip();
        let started: Vec<(String, primed::Branch)> = started.into_iter().flatten().collect();
        if in_etcd && decided && phase2.iter().all(|done| *done) {
            // Deleted with the next decisions written (or by recovery's round).
            crate::xa_log::log().finished(gtrid);
        }
        match failure {
            Some(e) => {
                let next = next.as_deref().unwrap_or_default();
                for (set, b) in started {
                    primed::Primed::give_back(next, &set, b);
                }
                Err(e)
            }
            None => Ok(started),
        }
    }
}

/// Phase 1 of a commit over `conns`, all at once: the branches of `written`
/// sets end and prepare, the others end and commit in one phase (they only
/// read). Returns the prepared branches and the first failure (a branch whose
/// prepare failed is closed: MariaDB rolls it back).
async fn phase_one(
    gtrid: &str,
    conns: BTreeMap<String, Conn>,
    written: &[String],
    ends: &Ends,
    watch: Option<&Watch>,
    epochs: &BTreeMap<String, u64>,
) -> (Vec<(String, Conn)>, Option<ProxyError>) {
    let done = futures::future::join_all(conns.into_iter().map(|(set, mut conn)| {
        let x = xid(gtrid, &set);
        let write = written.contains(&set);
        async move {
            if !write {
                let commit = conn.query_drop(format!("XA END {x}; XA COMMIT {x} ONE PHASE"));
                let ok = crate::observe::backend_part(&set, commit).await.is_ok();
                ends.end(&set, conn, ok);
                return None;
            }
            let prepare = conn.query_drop(format!("XA END {x}; XA PREPARE {x}"));
            let prepare = crate::observe::backend_part(&set, prepare);
            let epoch = epochs.get(&set).copied().unwrap_or_default();
            let r = match watch {
                Some(w) => w.unless_moved(&set, epoch, prepare).await,
                None => Some(prepare.await),
            };
            let Some(r) = r else {
                // Its primary changed under XA PREPARE: not prepared there,
                // the transaction rolls back.
                discard(conn);
                return Some(Err(ProxyError::BackendLost {
                    set,
                    detail: "its primary changed during XA PREPARE; the transaction was \
                             rolled back"
                        .into(),
                }));
            };
            match r {
                Ok(()) => Some(Ok((set, conn))),
                Err(e) => {
                    let e = ProxyError::from_backend(&set, e);
                    ends.end(&set, conn, false);
                    Some(Err(e))
                }
            }
        }
    }))
    .await;
    let mut prepared = Vec::new();
    let mut failure = None;
    for r in done.into_iter().flatten() {
        match r {
            Ok(p) => prepared.push(p),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    (prepared, failure)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
