//! A DDL task's record in etcd: its read-modify-write (compare-and-swap,
//! retried), shared by the task's run, its steps, their checks and the CLI.

use anyhow::{anyhow, Result};
use topo::{DdlTask, Topo, TopoError};

/// Read-modify-write of task `id` (compare-and-swap, retried); `f` may refuse with
/// an error. Returns the task as written.
pub async fn edit<F>(topo: &Topo, id: u64, mut f: F) -> Result<DdlTask>
where
    F: FnMut(&mut DdlTask) -> Result<()>,
{
    for _ in 0..32 {
        let cur = topo
            .get_ddl(id)
            .await?
            .ok_or_else(|| anyhow!("DDL task {id} is gone"))?;
        let mut t = cur.value;
        f(&mut t)?;
        match topo.cas_ddl(&t, cur.mod_revision).await {
            Ok(_) => return Ok(t),
            Err(TopoError::CasConflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(anyhow!("DDL task {id}: its record kept changing"))
}
