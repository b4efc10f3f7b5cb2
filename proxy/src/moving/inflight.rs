//! Writes in flight through this gateway, as a hold needs to know them: each
//! autocommit write for its duration ([`WriteGuard`]), and each transaction that
//! wrote, with everything it wrote and where its commit stands ([`TxnMark`]).
//!
//! One mutex guards it all: the gate admits a write (checks the fences of the
//! latest snapshot, then registers it) and the hold watcher scans (marks
//! transactions aborted, lists writes to wait for) under it, so a write is
//! either seen by the scan or sees the holding fence.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use topo::MoveFence;

use super::Footprint;

/// Where a transaction's commit stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Open,
    /// COMMIT (or XA PREPARE) started: it will run to its end; a hold waits.
    Committing,
    /// A hold ended it (the move's id): it can only roll back.
    Aborted(String),
}

#[derive(Debug)]
pub struct TxnEntry {
    pub writes: Footprint,
    pub phase: Phase,
}

#[derive(Debug, Default)]
pub struct Inner {
    next: u64,
    autocommit: HashMap<u64, Footprint>,
    txns: HashMap<u64, TxnEntry>,
}

#[derive(Debug, Default)]
pub struct InFlight {
    inner: Mutex<Inner>,
    /// Bumped whenever an entry goes (a hold waiting for writes to end).
    gone: tokio::sync::watch::Sender<u64>,
    /// Bumped whenever a hold aborts transactions (their idle sessions roll
    /// them back at once: `session::release`).
    aborts: tokio::sync::watch::Sender<u64>,
}

/// An autocommit write in flight: deregistered when dropped.
#[derive(Debug)]
pub struct WriteGuard {
    id: u64,
    owner: Arc<InFlight>,
}

impl Drop for WriteGuard {
    fn drop(&mut self) {
        self.owner.lock().autocommit.remove(&self.id);
        self.owner.gone.send_modify(|n| *n += 1);
    }
}

/// A transaction that wrote (kept in its `exec::txn::Txn`): deregistered
/// when dropped, that is when the transaction has ended (committed, rolled
/// back, or its commit task finished).
#[derive(Debug)]
pub struct TxnMark {
    id: u64,
    owner: Arc<InFlight>,
}

impl Drop for TxnMark {
    fn drop(&mut self) {
        self.owner.lock().txns.remove(&self.id);
        self.owner.gone.send_modify(|n| *n += 1);
    }
}

impl TxnMark {
    /// The move that ended the transaction, if one did.
    pub fn aborted(&self) -> Option<String> {
        match &self.owner.lock().txns.get(&self.id)?.phase {
            Phase::Aborted(m) => Some(m.clone()),
            _ => None,
        }
    }

    /// Changes when a hold aborts transactions (this one, maybe).
    pub fn aborts(&self) -> tokio::sync::watch::Receiver<u64> {
        self.owner.aborts.subscribe()
    }

    /// COMMIT (or XA PREPARE) starts: from now on a hold waits for its end
    /// instead of ending it. `Err(move)`: a hold ended it first.
    pub fn begin_commit(&self) -> Result<(), String> {
        let mut g = self.owner.lock();
        let Some(e) = g.txns.get_mut(&self.id) else {
            return Ok(());
        };
        match &e.phase {
            Phase::Aborted(m) => Err(m.clone()),
            _ => {
                e.phase = Phase::Committing;
                Ok(())
            }
        }
    }
}

/// What a hold must wait for, found by [`InFlight::settle`].
#[derive(Debug, Default)]
pub struct Pending {
    pub autocommit: Vec<u64>,
    pub committing: Vec<u64>,
    /// Transactions it ended.
    pub aborted: usize,
}

impl InFlight {
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers an autocommit write (caller holds the lock: `inner`).
    pub(super) fn admit_autocommit(
        self: &Arc<Self>,
        inner: &mut Inner,
        fp: Footprint,
    ) -> WriteGuard {
        inner.next += 1;
        let id = inner.next;
        inner.autocommit.insert(id, fp);
        WriteGuard {
            id,
            owner: self.clone(),
        }
    }

    /// Adds a write to a transaction's footprint, registering the transaction on
    /// its first write. `Err(move)`: a hold ended the transaction.
    pub(super) fn admit_txn(
        self: &Arc<Self>,
        inner: &mut Inner,
        mark: &mut Option<TxnMark>,
        fp: Footprint,
    ) -> Result<(), String> {
        let m = mark.get_or_insert_with(|| {
            inner.next += 1;
            TxnMark {
                id: inner.next,
                owner: self.clone(),
            }
        });
        let e = inner.txns.entry(m.id).or_insert(TxnEntry {
            writes: Footprint::Nothing,
            phase: Phase::Open,
        });
        if let Phase::Aborted(id) = &e.phase {
            return Err(id.clone());
        }
        e.writes.merge(fp);
        Ok(())
    }

    /// A commit already under way of a transaction the gate did not mark (an
    /// autocommit write over several sets, run as a transaction): a hold
    /// waits for it whatever it wrote, until the mark drops with the commit.
    pub fn committing(self: &Arc<Self>) -> TxnMark {
        let mut g = self.lock();
        g.next += 1;
        let id = g.next;
        g.txns.insert(
            id,
            TxnEntry {
                writes: Footprint::Anything,
                phase: Phase::Committing,
            },
        );
        TxnMark {
            id,
            owner: self.clone(),
        }
    }

    /// A hold of `f` starts: open transactions that wrote what it holds are
    /// aborted; the autocommit writes touching it and the commits under way
    /// that touch it are what the hold must wait for.
    pub fn settle(&self, f: &MoveFence) -> Pending {
        let mut g = self.lock();
        let mut p = Pending::default();
        for (id, fp) in &g.autocommit {
            if fp.touches(f) {
                p.autocommit.push(*id);
            }
        }
        for (id, e) in g.txns.iter_mut() {
            if !e.writes.touches(f) {
                continue;
            }
            match e.phase {
                Phase::Open => {
                    e.phase = Phase::Aborted(f.id.clone());
                    p.aborted += 1;
                }
                Phase::Committing => p.committing.push(*id),
                Phase::Aborted(_) => {}
            }
        }
        if p.aborted > 0 {
            self.aborts.send_modify(|n| *n += 1);
        }
        p
    }

    /// Waits until none of `p`'s writes and commits is left.
    pub async fn drained(&self, p: &Pending) {
        let mut gone = self.gone.subscribe();
        loop {
            {
                let g = self.lock();
                let left = p.autocommit.iter().any(|id| g.autocommit.contains_key(id))
                    || p.committing.iter().any(|id| g.txns.contains_key(id));
                if !left {
                    return;
                }
            }
            if gone.changed().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use topo::{FenceSource, FenceState, SlotSpan};

    fn fence() -> MoveFence {
        MoveFence {
            id: "m1".into(),
            db: "d".into(),
            to: "s3".into(),
            sources: vec![FenceSource {
                set: "s1".into(),
                ranges: vec![SlotSpan { start: 0, end: 4 }],
            }],
            broadcast: false,
            state: FenceState::Holding,
        }
    }

    fn on(slot: u32) -> Footprint {
        Footprint::Dbs(vec![super::super::footprint::DbWrite {
            db: "d".into(),
            slots: Some(super::super::footprint::Slots::Known([slot].into())),
            broadcast: false,
        }])
    }

    #[tokio::test]
    async fn settle_aborts_open_waits_for_committing() {
        let fl = Arc::new(InFlight::default());
        let (mut a, mut b, mut c) = (None, None, None);
        {
            let mut g = fl.lock();
            fl.admit_txn(&mut g, &mut a, on(1)).unwrap();
            fl.admit_txn(&mut g, &mut b, on(2)).unwrap();
            fl.admit_txn(&mut g, &mut c, on(9)).unwrap();
        }
        b.as_ref().unwrap().begin_commit().unwrap();
        let w = {
            let mut g = fl.lock();
            fl.admit_autocommit(&mut g, on(3))
        };
        let p = fl.settle(&fence());
        assert_eq!(p.aborted, 1);
        assert_eq!(p.committing.len(), 1);
        assert_eq!(p.autocommit.len(), 1);
        assert_eq!(a.as_ref().unwrap().aborted().as_deref(), Some("m1"));
        assert!(a.as_ref().unwrap().begin_commit().is_err());
        assert!(c.as_ref().unwrap().aborted().is_none());
        {
            let mut g = fl.lock();
            assert!(fl.admit_txn(&mut g, &mut a, on(9)).is_err());
        }
        let wait = fl.drained(&p);
        tokio::pin!(wait);
        assert!(futures::poll!(&mut wait).is_pending());
        drop(w);
        assert!(futures::poll!(&mut wait).is_pending());
        drop(b);
        wait.await;
    }
}
