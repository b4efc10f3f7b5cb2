//! `setwise gateway list | forget`: the gateways etcd knows. A gateway registers
//! under a lease (`gateways/<id>`) and is remembered (`gateways-known/<id>`) until it
//! stops cleanly; one known but not registered may be cut off from etcd and still
//! route with an old shard map, so slot moves do not hold while one exists. `forget`
//! is the DBA's word that such a gateway is gone for good.

use anyhow::{bail, Result};
use clap::Subcommand;
use serde::Serialize;
use topo::Topo;

#[derive(Debug, Subcommand)]
pub enum GatewayCmd {
    /// Lists the gateways: live (registered) or lost (known, not registered).
    #[command(after_help = "Example:\n  setwise gateway list --json")]
    List {
        /// `--json` (global): one array, [{"id", "addr", "started_ms", "state": "live"|"lost"}].
        #[arg(skip)]
        json: bool,
    },
    /// Forgets a gateway that is gone for good (slot moves stop waiting for it).
    #[command(after_help = "Example:\n  setwise gateway forget host1-3306")]
    Forget {
        /// The gateway's id (`setwise gateway list`).
        id: String,
    },
}

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    addr: String,
    started_ms: u64,
    state: &'static str,
}

pub async fn execute(topo: &Topo, cmd: GatewayCmd) -> Result<String> {
    match cmd {
        GatewayCmd::List { json } => {
            let live = topo.list_gateways().await?;
            let known = topo.list_known_gateways().await?;
            let mut rows: Vec<Row> = live
                .iter()
                .map(|g| Row {
                    id: g.id.clone(),
                    addr: g.addr.clone(),
                    started_ms: g.started_ms,
                    state: "live",
                })
                .collect();
            rows.extend(
                known
                    .into_iter()
                    .filter(|k| !live.iter().any(|l| l.id == k.id))
                    .map(|g| Row {
                        id: g.id,
                        addr: g.addr,
                        started_ms: g.started_ms,
                        state: "lost",
                    }),
            );
            rows.sort_by(|a, b| a.id.cmp(&b.id));
            if json {
                return Ok(format!("{}\n", serde_json::to_string(&rows)?));
            }
            let mut out = format!("{:<32} {:<24} {:<6}\n", "GATEWAY", "ADDR", "STATE");
            for r in &rows {
                out.push_str(&format!("{:<32} {:<24} {:<6}\n", r.id, r.addr, r.state));
            }
            Ok(out)
        }
        GatewayCmd::Forget { id } => {
            if topo.list_gateways().await?.iter().any(|g| g.id == id) {
                bail!("gateway {id} is registered (alive): stop it first (SIGTERM deregisters it)");
            }
            if !topo.forget_gateway(&id).await? {
                bail!("no gateway {id} (see `setwise gateway list`)");
            }
            Ok(format!("gateway {id} forgotten\n"))
        }
    }
}
