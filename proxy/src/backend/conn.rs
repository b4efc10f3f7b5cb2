//! A borrowed backend connection, [`Conn`], and its pool's hot stack.
//!
//! mysql_async's pool gives a connection back through a recycler task and checks
//! it with a write before lending it again: two task wake-ups and a syscall per
//! statement, and while the recycler runs, busy pools open connections they do not
//! need (MariaDB then spreads statements over dozens of threads). A connection
//! whose statement ended cleanly (its result read to the end, no transaction, no
//! warnings) is instead pushed onto a small per-pool stack when it is dropped, and
//! the next borrow pops it at once: the most recently used connection, its MariaDB
//! thread still warm. Anything else — a result left unread, a connection that may
//! be in a transaction — goes back through mysql_async's pool as before, which
//! cleans it. A connection idle on the stack longer than [`HOT_IDLE`] is handed to
//! mysql_async's pool too, whose check catches one the server closed meanwhile.
//!
//! mysql_async's pool does not end a transaction the server opened by itself: a
//! session with `autocommit = 0` (PyMySQL's default, so Django's and SQLAlchemy's)
//! has pooled connections with `autocommit = 0`, and any statement the gateway runs
//! on one outside a branch (a probe for AUTO_INCREMENT ids, a column lookup) opens
//! an implicit transaction there. Lent again as it is, that connection would fail
//! the next `XA START` (1400 XAER_OUTSIDE) and read an old snapshot. So a dropped
//! connection whose last answer says a transaction is open
//! (`SERVER_STATUS_IN_TRANS`) is rolled back first, and closed if that fails.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a connection may wait on a hot stack and still be lent without a check.
pub const HOT_IDLE: Duration = Duration::from_secs(1);

/// Connections given back clean, most recent last.
pub struct HotStack {
    conns: Mutex<Vec<(mysql_async::Conn, Instant)>>,
    /// Set when its pool is closed: nothing is pushed any more.
    closed: AtomicBool,
    cap: usize,
    /// Connections of this pool held between a session's transactions
    /// ([`Conn::hold`]); at most half the pool's size.
    held: AtomicUsize,
}

/// One connection of a pool held by a session between its transactions
/// (`crate::exec::txn::primed`); the pool's count goes down when dropped.
pub struct Hold(Arc<HotStack>);

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HotStack {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            conns: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            cap: cap.max(1),
            held: AtomicUsize::new(0),
        })
    }

    /// The most recently given back connection, if it has not idled too long.
    /// Older ones go back to mysql_async's pool (dropped outside the lock).
    pub fn pop(&self) -> Option<mysql_async::Conn> {
        let stale = {
            let mut v = self.conns.lock().expect("hot stack");
            match v.pop() {
                Some((c, since)) if since.elapsed() < HOT_IDLE => return Some(c),
                Some(top) => {
                    let mut all = std::mem::take(&mut *v);
                    all.push(top);
                    all
                }
                None => return None,
            }
        };
        drop(stale);
        None
    }

    /// Keeps `c` for the next borrow; `Err(c)` when the stack is full or closed.
    fn push(&self, c: mysql_async::Conn) -> Result<(), mysql_async::Conn> {
        if self.closed.load(Ordering::Acquire) {
            return Err(c);
        }
        let mut v = self.conns.lock().expect("hot stack");
        if v.len() >= self.cap {
            return Err(c);
        }
        v.push((c, Instant::now()));
        Ok(())
    }

    /// One more connection of this pool held between transactions, unless
    /// half the pool is held already.
    fn try_hold(self: &Arc<Self>) -> Option<Hold> {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.cap / 2).then_some(n + 1)
            })
            .ok()?;
        Some(Hold(self.clone()))
    }

    /// Closes the stack: its connections go back to mysql_async's pool (which,
    /// closed too, disconnects them).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let all = std::mem::take(&mut *self.conns.lock().expect("hot stack"));
        drop(all);
    }
}

/// A backend connection lent to one statement or transaction. Dereferences to
/// the mysql_async connection. Dropped, it goes onto its pool's hot stack when
/// [`mark_clean`](Self::mark_clean) said its last statement ended cleanly, and
/// through mysql_async's pool otherwise.
pub struct Conn {
    inner: Option<mysql_async::Conn>,
    hot: Option<Arc<HotStack>>,
    clean: bool,
    /// Holds one session's own state (pinned to it): closed when dropped, never
    /// lent again.
    private: bool,
}

impl Conn {
    pub fn new(inner: mysql_async::Conn, hot: Option<Arc<HotStack>>) -> Self {
        crate::observe::borrowed(1);
        Self {
            inner: Some(inner),
            hot,
            clean: false,
            private: false,
        }
    }

    /// Marks the connection as one session's own: whatever path drops it, it is
    /// closed, never given back to a pool.
    pub fn make_private(&mut self) {
        self.private = true;
    }

    /// Its statement's result was read to the end and no transaction is open on
    /// it: it may be lent again as it is (unless it holds warnings, which the
    /// next session must not see).
    pub fn mark_clean(&mut self) {
        self.clean = self.get_warnings() == 0 && !in_transaction(self);
    }

    /// Counts this connection as held by a session between transactions;
    /// `None` when half its pool is held so already (the rest stays for
    /// statements) or it has no pool.
    pub fn hold(&self) -> Option<Hold> {
        self.hot.as_ref()?.try_hold()
    }

    /// The mysql_async connection, no longer tied to the hot stack.
    pub fn into_inner(mut self) -> mysql_async::Conn {
        self.inner.take().expect("connection present until dropped")
    }

    /// Closes the connection (waits for the server's goodbye).
    pub async fn disconnect(self) -> Result<(), mysql_async::Error> {
        self.into_inner().disconnect().await
    }
}

impl Deref for Conn {
    type Target = mysql_async::Conn;
    fn deref(&self) -> &mysql_async::Conn {
        self.inner
            .as_ref()
            .expect("connection present until dropped")
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut mysql_async::Conn {
        self.clean = false;
        self.inner
            .as_mut()
            .expect("connection present until dropped")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        crate::observe::borrowed(-1);
        let Some(c) = self.inner.take() else {
            return;
        };
        if self.private {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = c.disconnect().await;
                });
            }
            return;
        }
        if in_transaction(&c) {
            // Never lent again with a transaction open (see the module's doc).
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let mut c = c;
                    if mysql_async::prelude::Queryable::query_drop(&mut c, "ROLLBACK")
                        .await
                        .is_err()
                        || in_transaction(&c)
                    {
                        let _ = c.disconnect().await;
                    }
                });
            }
            return;
        }
        if self.clean && !std::thread::panicking() {
            if let Some(hot) = &self.hot {
                if let Err(c) = hot.push(c) {
                    drop(c);
                }
                return;
            }
        }
        drop(c);
    }
}

/// Whether the server said, in its last answer on `c`, that a transaction is open.
fn in_transaction(c: &mysql_async::Conn) -> bool {
    c.last_ok_packet().is_some_and(|ok| {
        ok.status_flags()
            .contains(mysql_async::consts::StatusFlags::SERVER_STATUS_IN_TRANS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_take_at_most_half_the_pool() {
        let s = HotStack::new(4);
        let take = |s: &Arc<HotStack>| s.try_hold();
        let a = take(&s).expect("first");
        let _b = take(&s).expect("second");
        assert!(take(&s).is_none(), "half of 4 is 2");
        drop(a);
        assert!(take(&s).is_some(), "a hold given back frees its place");
    }

    #[test]
    fn empty_stack_lends_nothing_and_close_is_idempotent() {
        let s = HotStack::new(4);
        assert!(s.pop().is_none());
        s.close();
        s.close();
        assert!(s.pop().is_none());
    }
}
