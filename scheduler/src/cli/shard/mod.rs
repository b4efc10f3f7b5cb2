//! `setwise shard …`: slot moves (docs/scaleout.md). The CLI only writes requests —
//! `moves/<id>` records in phase `requested`, and the `cancel` flag — which the
//! scheduler leader carries out; [`check`] refuses bad ones before anything is
//! written, [`follow`] shows a move's progress, [`list`] the moves, [`rebalance`]
//! plans several, [`plan`] shows the capacity monitor's proposal.

pub mod args;
pub mod check;
pub mod follow;
pub mod list;
pub mod plan;
pub mod rebalance;

use std::io::Write;

use anyhow::{anyhow, Result};
use tokio::time::Instant;
use topo::{MoveRecord, Topo, TopoError};

use crate::config::CliConfig;
use check::{span, ShardAction, Wait, World};

/// Runs one `shard` command; progress is printed as it goes, the rest returned.
pub async fn execute(topo: &Topo, cfg: &CliConfig, action: ShardAction) -> Result<String> {
    match action {
        ShardAction::Move {
            db,
            start,
            end,
            to,
            wait,
        } => move_slots(topo, &db, start, end, &to, wait).await,
        ShardAction::Moves { db, json } => list::list(topo, db.as_deref(), json).await,
        ShardAction::Cancel(id) => list::cancel(topo, &id).await,
        ShardAction::Rebalance {
            db,
            by,
            wait,
            dry_run,
        } => rebalance::rebalance(topo, &db, by, wait, dry_run).await,
        ShardAction::Plan { json } => plan::plan(topo, &cfg.capacity, json).await,
    }
}

/// Reads what a move request is checked against and checks it.
pub async fn check_request(topo: &Topo, db: &str, start: u32, end: u32, to: &str) -> Result<()> {
    let rec = topo.get_db(db).await?.map(|v| v.value);
    let tables = match rec {
        Some(_) => topo.list_tables(db).await?,
        None => Vec::new(),
    };
    let moves: Vec<MoveRecord> = topo
        .list_moves()
        .await?
        .into_iter()
        .map(|v| v.value)
        .collect();
    let (sets, nodes, health) = (
        topo.list_sets().await?,
        topo.list_nodes().await?,
        topo.list_health().await?,
    );
    check::check_move(
        &World {
            db: rec.as_ref(),
            tables: &tables,
            sets: &sets,
            nodes: &nodes,
            health: &health,
            moves: &moves,
            now_ms: crate::now_ms(),
        },
        db,
        start,
        end,
        to,
    )
}

/// Writes `rec` at `moves/<id>`, create-only; an id taken (two requests in the same
/// millisecond) moves on to the next millisecond.
pub async fn create(topo: &Topo, mut rec: MoveRecord) -> Result<MoveRecord> {
    for _ in 0..100 {
        match topo.create(&topo.keys().move_of(&rec.id), &rec).await {
            Ok(_) => return Ok(rec),
            Err(TopoError::CasConflict { .. }) => {
                rec.created_ms += 1;
                rec.updated_ms = rec.created_ms;
                rec.id = format!("m{}", rec.created_ms);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(anyhow!("could not find a free move id"))
}

async fn move_slots(
    topo: &Topo,
    db: &str,
    start: u32,
    end: u32,
    to: &str,
    wait: Option<Wait>,
) -> Result<String> {
    check_request(topo, db, start, end, to).await?;
    let now = crate::now_ms();
    let mut rec = MoveRecord::request(db, start, end, to, "cli", now);
    rec.step(now, "requested (setwise shard move)");
    let rec = create(topo, rec).await?;
    let head = format!(
        "move {}: slots {} of {db} → {to} requested\n",
        rec.id,
        span(start, end)
    );
    let Some(w) = wait else {
        return Ok(head + "follow it with `setwise shard moves` (or add --wait)\n");
    };
    print!("{head}");
    let _ = std::io::stdout().flush();
    let deadline = w.timeout.map(|t| Instant::now() + t);
    let done = follow::follow(topo, &rec.id, deadline).await?;
    Ok(done_line(&done))
}

/// The last line of a finished move.
pub fn done_line(m: &MoveRecord) -> String {
    format!(
        "move {} done: slots {} of {} now on {} ({} rows copied, longest write hold {})\n",
        m.id,
        span(m.start, m.end),
        m.db,
        m.to,
        m.rows_copied(),
        m.longest_hold_ms
            .map(crate::cli::render::format_age)
            .unwrap_or_else(|| "-".into())
    )
}
