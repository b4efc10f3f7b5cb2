//! Phase `undo`: a move cancelled (or failed) before its flip is taken back. The
//! copied rows of the moving slots are deleted from the target in chunks — or, when
//! the target holds nothing else of the database (it was new to it), the tables the
//! move created there are dropped, and the database when it is left empty — then the
//! fence is deleted and the phase is `cancelled` (or `failed` with the error) in one
//! etcd transaction.

use anyhow::{anyhow, Result};
use mysql_async::prelude::Queryable;
use topo::{FenceState, MovePhase};

use super::cleanup::delete_slots;
use super::driver::Driver;
use super::sql::{self, q, qt};

pub async fn run(d: &mut Driver) -> Result<()> {
    d.tails.clear();
    let snap = d.snapshot().await?;
    let db = snap
        .db(&d.rec.db)
        .ok_or_else(|| anyhow!("database {} is gone", d.rec.db))?
        .clone();
    if !d.rec.sources.is_empty() {
        let mut tgt = sql::connect(&snap, &d.account, &d.rec.to).await?;
        if !db.sets().contains(&d.rec.to) {
            d.check_leading()?;
            super::views::drop(&mut tgt, &db.name, &d.rec.views).await?;
            let names: Vec<String> = d
                .rec
                .tables
                .iter()
                .map(|t| t.name.clone())
                .chain(d.rec.broadcast.iter().cloned())
                .collect();
            for n in &names {
                d.check_leading()?;
                tgt.query_drop(format!("DROP TABLE IF EXISTS {}", qt(&db.name, n)))
                    .await?;
            }
            let left: Option<u64> = tgt
                .exec_first(
                    "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
                    (&db.name,),
                )
                .await?;
            if left == Some(0) {
                tgt.query_drop(format!("DROP DATABASE IF EXISTS {}", q(&db.name)))
                    .await?;
            }
            d.note(format!("{} tables dropped on {}", names.len(), d.rec.to));
        } else {
            let spans = d.rec.fence(FenceState::Copying).spans();
            let mut n = 0;
            for t in d.rec.tables.clone() {
                if sql::table_exists(&mut tgt, &db.name, &t.name).await? {
                    n += delete_slots(
                        d,
                        &d.rec.to.clone(),
                        &mut tgt,
                        &t,
                        db.shard_map.slots,
                        &spans,
                        false,
                    )
                    .await?;
                }
            }
            d.note(format!("{n} copied rows deleted on {}", d.rec.to));
        }
    }
    d.rec.phase = if d.rec.error.is_some() {
        MovePhase::Failed
    } else {
        MovePhase::Cancelled
    };
    d.finish().await
}
