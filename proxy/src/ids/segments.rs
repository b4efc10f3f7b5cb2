//! The id segments this gateway holds, one per table: ids are handed out from
//! the segment in increasing order; a new segment is reserved in etcd (topo's
//! counter, compare-and-swap) when the held one runs short, and the next ids
//! are fetched in the background once half of it is used (never more than one
//! segment held in all). With etcd down the held
//! segment keeps serving; after it, inserts that need ids are refused — never a
//! duplicate. A counter started again (TRUNCATE, DROP TABLE, `AUTO_INCREMENT =
//! n`: [`Resets`]) voids the ids reserved before it, here and — through the
//! routing watch — in every other gateway.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use tracing::warn;

use crate::error::ProxyError;

/// Held ids of one table.
#[derive(Debug, Default)]
struct Held {
    /// The next id to hand out; `next == end`: nothing left.
    next: u64,
    end: u64,
    /// The segment after this one, reserved ahead.
    ahead: Option<Range<u64>>,
    /// A background reservation is running.
    fetching: bool,
    /// Reserved at least once by this process.
    reserved: bool,
    /// An explicit id written while etcd was unreachable: the counter is raised
    /// past it with the next reservation.
    floor: u64,
    /// The etcd revision of the reservation `next..end` came from; a reset of
    /// the counter at a later revision voids it.
    rev: i64,
}

/// Counters started again, by `(db, table)` (the table `None`: all of the
/// database's), at the etcd revision of the reset. Written by the DDL that
/// reset it and by the routing watch; read before ids are handed out.
#[derive(Debug, Default)]
pub struct Resets {
    at: std::sync::Mutex<HashMap<(String, Option<String>), i64>>,
}

impl Resets {
    /// Records a reset of `db.table` (or of every table of `db`) at `rev`.
    pub fn record(&self, db: &str, table: Option<&str>, rev: i64) {
        let mut at = self.at.lock().expect("resets");
        let e = at
            .entry((db.to_string(), table.map(str::to_string)))
            .or_default();
        *e = (*e).max(rev);
    }

    /// The revision of the last reset of `db.table`'s counter (0: none).
    fn last(&self, db: &str, table: &str) -> i64 {
        let at = self.at.lock().expect("resets");
        if at.is_empty() {
            return 0;
        }
        let of_table = at.get(&(db.to_string(), Some(table.to_string()))).copied();
        let of_db = at.get(&(db.to_string(), None)).copied();
        of_table.unwrap_or(0).max(of_db.unwrap_or(0))
    }
}

/// `(db, table)` → its held ids.
type Tables = HashMap<(String, String), Arc<tokio::sync::Mutex<Held>>>;

/// Segments of every table, shared by all workers of the gateway.
pub struct Segments {
    size: u64,
    tables: std::sync::Mutex<Tables>,
    resets: Arc<Resets>,
}

impl Segments {
    pub fn new(size: u64, resets: Arc<Resets>) -> Self {
        Self {
            size: size.max(1),
            tables: Default::default(),
            resets,
        }
    }

    /// Voids the ids held of `db.table` (every table of `db`: `None`), reset
    /// at etcd revision `rev`.
    pub fn void(&self, db: &str, table: Option<&str>, rev: i64) {
        self.resets.record(db, table, rev);
    }

    /// RENAME moved the counter of `from` to `to` at `rev`: what this gateway
    /// holds of `from` goes on as `to`'s, as MariaDB's counter goes with the
    /// table.
    pub async fn rename(&self, from: (&str, &str), to: (&str, &str), rev: i64) {
        self.resets.record(from.0, Some(from.1), rev);
        self.resets.record(to.0, Some(to.1), rev);
        let moved = self
            .tables
            .lock()
            .expect("segments")
            .remove(&(from.0.to_string(), from.1.to_string()));
        if let Some(cell) = moved {
            cell.lock().await.rev = rev;
            self.tables
                .lock()
                .expect("segments")
                .insert((to.0.to_string(), to.1.to_string()), cell);
        }
    }

    /// Drops what `h` holds when the counter was started again after it was
    /// reserved (a reset this gateway made or learnt of from the watch).
    fn expire(&self, h: &mut Held, db: &str, table: &str) {
        let reset = self.resets.last(db, table);
        if reset > h.rev {
            *h = Held {
                fetching: h.fetching,
                rev: reset,
                ..Held::default()
            };
        }
    }

    fn held(&self, db: &str, table: &str) -> Arc<tokio::sync::Mutex<Held>> {
        self.tables
            .lock()
            .expect("segments")
            .entry((db.to_string(), table.to_string()))
            .or_default()
            .clone()
    }

    /// Whether this gateway never reserved ids of the table (the first
    /// reservation may need to start above the rows already there).
    pub async fn is_new(&self, db: &str, table: &str) -> bool {
        let cell = self.held(db, table);
        let mut h = cell.lock().await;
        self.expire(&mut h, db, table);
        !h.reserved
    }

    /// Ids for one statement's rows, in row order: `None` is a row that needs
    /// an id, `Some(v)` one that writes id `v` itself (no id up to it is handed
    /// out after it, as MariaDB's counter moves past an explicit value). When
    /// every row needs one, the ids are consecutive. `floor`: the least id of a
    /// table the etcd counter does not know yet (above its rows). `step`: the
    /// session's `auto_increment_increment` and `auto_increment_offset`; with an
    /// increment above 1 each id is the next one held that is the offset modulo
    /// the increment (the ids between are skipped, as MariaDB skips them).
    pub async fn take(
        self: &Arc<Self>,
        topo: Option<&topo::Topo>,
        db: &str,
        table: &str,
        rows: &[Option<u64>],
        floor: u64,
        step: (u64, u64),
    ) -> Result<Vec<u64>, ProxyError> {
        let cell = self.held(db, table);
        let mut h = cell.lock().await;
        self.expire(&mut h, db, table);
        let n = rows.iter().filter(|r| r.is_none()).count() as u64;
        let mut ids = Vec::with_capacity(n as usize);
        let (increment, offset) = step;
        if increment > 1 {
            // MariaDB ignores an offset above the increment.
            let offset = if offset > increment { 1 } else { offset };
            for r in rows {
                match r {
                    Some(v) => self.past(&mut h, topo, db, table, *v).await,
                    None => loop {
                        self.room(&mut h, topo, db, table, 1, floor).await?;
                        let v = h.next;
                        h.next += 1;
                        if v % increment == offset % increment {
                            ids.push(v);
                            break;
                        }
                    },
                }
            }
        } else if rows.iter().all(|r| r.is_none()) {
            self.room(&mut h, topo, db, table, n, floor).await?;
            ids.extend(h.next..h.next + n);
            h.next += n;
        } else {
            for r in rows {
                match r {
                    Some(v) => self.past(&mut h, topo, db, table, *v).await,
                    None => {
                        self.room(&mut h, topo, db, table, 1, floor).await?;
                        ids.push(h.next);
                        h.next += 1;
                    }
                }
            }
        }
        if n == 0 {
            return Ok(ids);
        }
        // Half used: fetch the next ids ahead, off the statement's path — as
        // many as are used up, so that what this gateway holds (and a restart
        // wastes) stays within one segment.
        let left = h.end - h.next;
        if h.ahead.is_none() && !h.fetching && left * 2 < self.size {
            if let Some(t) = topo.cloned() {
                h.fetching = true;
                let want = self.size - left;
                let (db, table, cell) = (db.to_string(), table.to_string(), cell.clone());
                let resets = self.resets.clone();
                tokio::spawn(async move {
                    let r = t.reserve_ids_at(&db, &table, want, 0).await;
                    let mut h = cell.lock().await;
                    h.fetching = false;
                    match r {
                        // Only ids above what was handed out meanwhile, and
                        // reserved after the counter's last reset.
                        Ok((r, at)) if r.start >= h.end && at > resets.last(&db, &table) => {
                            h.ahead = Some(r)
                        }
                        Ok(_) => {}
                        Err(e) => warn!(%db, %table, "reserving AUTO_INCREMENT ids ahead: {e}"),
                    }
                });
            }
        }
        Ok(ids)
    }

    /// Moves past an explicit id `v`.
    async fn past(&self, h: &mut Held, topo: Option<&topo::Topo>, db: &str, table: &str, v: u64) {
        if v < h.next {
            return;
        }
        if v >= h.end {
            // Beyond what this gateway holds: no gateway may reserve it later.
            // With etcd unreachable the statement still runs; the counter is
            // raised with this gateway's next reservation.
            let raised = match topo {
                Some(t) => t.raise_ids(db, table, v).await.map_err(|e| e.to_string()),
                None => Err("not connected".to_string()),
            };
            if let Err(e) = raised {
                warn!(%db, %table, id = v, "raising the AUTO_INCREMENT counter: {e}");
                h.floor = h.floor.max(v.saturating_add(1));
            }
            h.ahead = h.ahead.take().filter(|r| r.start > v);
            h.end = v.saturating_add(1);
        }
        h.next = v.saturating_add(1);
    }

    /// Makes sure `n` consecutive ids are held: the ids fetched ahead, or a new
    /// reservation in etcd.
    async fn room(
        &self,
        h: &mut Held,
        topo: Option<&topo::Topo>,
        db: &str,
        table: &str,
        n: u64,
        floor: u64,
    ) -> Result<(), ProxyError> {
        if h.end - h.next >= n {
            return Ok(());
        }
        if let Some(r) = h.ahead.take().filter(|r| r.end - r.start >= n) {
            (h.next, h.end) = (r.start, r.end);
            return Ok(());
        }
        let down = |e: &dyn std::fmt::Display| {
            ProxyError::EtcdUnavailable(format!(
                "AUTO_INCREMENT ids of `{db}`.`{table}` are reserved there, and this gateway has none left ({e})"
            ))
        };
        let t = topo.ok_or_else(|| down(&"not connected"))?;
        let (r, at) = t
            .reserve_ids_at(db, table, n.max(self.size), floor.max(h.end).max(h.floor))
            .await
            .map_err(|e| down(&e))?;
        (h.next, h.end) = (r.start, r.end);
        h.rev = at;
        h.reserved = true;
        h.floor = 0;
        Ok(())
    }
}
