//! Runs a validated [`Action`] against etcd through [`Topo`] and returns what to print.
//! Every `add`/`set` is an upsert: re-running it reports `unchanged`.

use anyhow::{anyhow, bail, Result};
use topo::{NodeRecord, Role, SetRecord, TableRecord, Topo, UserRecord};

use super::action::Action;
use super::db_add::{DbAdd, DbPlan};
use super::render;

/// Whether an upsert created, changed or kept a record (for the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

impl Outcome {
    pub fn of<T: PartialEq>(old: Option<&T>, new: &T) -> Self {
        match old {
            None => Outcome::Created,
            Some(o) if o == new => Outcome::Unchanged,
            Some(_) => Outcome::Updated,
        }
    }
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// Executes one action; `cluster` is only used in messages. `json`: listings as
/// one JSON document ([`super::json`]).
pub async fn execute(topo: &Topo, cluster: &str, action: Action, json: bool) -> Result<String> {
    match action {
        Action::Status => status(topo, cluster, json).await,
        Action::SetAdd {
            name,
            sync,
            semi_timeout_ms,
        } => {
            let mut old: Option<SetRecord> = None;
            let new = topo
                .update(&topo.keys().set(&name), |cur: Option<SetRecord>| {
                    old = cur.clone();
                    Ok(match cur {
                        Some(mut s) => {
                            if let Some(m) = sync {
                                s.sync = m;
                            }
                            if let Some(t) = semi_timeout_ms {
                                s.semi_timeout_ms = t;
                            }
                            s
                        }
                        None => {
                            let mut s = SetRecord::new(&name, sync.unwrap_or_default());
                            if let Some(t) = semi_timeout_ms {
                                s.semi_timeout_ms = t;
                            }
                            s
                        }
                    })
                })
                .await?;
            Ok(format!(
                "set {}: {} (sync {})\n",
                new.name,
                Outcome::of(old.as_ref(), &new).word(),
                render::sync_name(new.sync)
            ))
        }
        Action::SetList => {
            let (sets, nodes) = (topo.list_sets().await?, topo.list_nodes().await?);
            if json {
                return super::json::text(&super::json::sets(&sets, &nodes));
            }
            Ok(render::list(&render::sets_table(&sets, &nodes), "sets"))
        }
        Action::NodeAdd(node) => node_add(topo, node).await,
        Action::Switchover { set, to, wait_secs } => {
            super::ops::switchover(topo, &set, to, wait_secs).await
        }
        Action::Failovers { set, steps } => {
            super::ops::failovers(topo, set.as_deref(), steps, json).await
        }
        Action::Stats(set) => super::ops::stats(topo, set.as_deref(), json).await,
        Action::Shard(_) => bail!("shard commands run through cli::shard::execute"),
        Action::NodeList => {
            let nodes = topo.list_nodes().await?;
            if json {
                return super::json::text(&super::json::nodes(&nodes));
            }
            Ok(render::list(&render::nodes_table(&nodes), "nodes"))
        }
        Action::DbAdd(req) => db_add(topo, req).await,
        Action::DbList => {
            let dbs = topo.list_dbs().await?;
            if json {
                return super::json::text(&super::json::dbs(&dbs));
            }
            Ok(render::list(&render::dbs_table(&dbs), "databases"))
        }
        Action::Shardmap(db) => {
            let rec = topo.get_db(&db).await?.ok_or_else(|| no_db(&db))?;
            if json {
                return super::json::text(&super::json::db(&rec.value));
            }
            let mut out = render::shardmap(&rec.value);
            out.push_str(&super::shard::list::in_progress_of(topo, &db).await?);
            Ok(out)
        }
        Action::TableSet(t) => {
            if topo.get_db(&t.db).await?.is_none() {
                return Err(no_db(&t.db));
            }
            let old = topo.get_table(&t.db, &t.name).await?;
            let outcome = Outcome::of(old.as_ref(), &t);
            if outcome != Outcome::Unchanged {
                topo.put_table(&t).await?;
            }
            Ok(format!(
                "table {}.{}: {} ({})\n",
                t.db,
                t.name,
                outcome.word(),
                render::kind_name(&t.kind)
            ))
        }
        Action::TableList(db) => {
            let tables: Vec<TableRecord> = match db {
                Some(db) => {
                    if topo.get_db(&db).await?.is_none() {
                        return Err(no_db(&db));
                    }
                    topo.list_tables(&db).await?
                }
                None => {
                    let mut all = Vec::new();
                    for d in topo.list_dbs().await? {
                        all.extend(topo.list_tables(&d.name).await?);
                    }
                    all
                }
            };
            if json {
                return super::json::text(&super::json::tables(&tables));
            }
            Ok(render::list(&render::tables_table(&tables), "tables"))
        }
        Action::UserAdd(mut u, reads_given, require_given, admin_given) => {
            let old: Option<UserRecord> = topo.get_user(&u.name).await?;
            if let (false, Some(o)) = (reads_given, &old) {
                u.reads = o.reads;
            }
            if let (false, Some(o)) = (require_given, &old) {
                u.require_ssl = o.require_ssl;
            }
            if let (false, Some(o)) = (admin_given, &old) {
                u.admin = o.admin;
            }
            let outcome = Outcome::of(old.as_ref(), &u);
            if outcome != Outcome::Unchanged {
                topo.put_user(&u).await?;
            }
            Ok(format!("user {}: {}\n", u.name, outcome.word()))
        }
        Action::UserReads(name, reads) => {
            let Some(mut u) = topo.get_user(&name).await? else {
                bail!("user {name} does not exist (add it with `setwise user add`)");
            };
            if u.reads == reads {
                return Ok(format!("user {name}: unchanged\n"));
            }
            u.reads = reads;
            topo.put_user(&u).await?;
            Ok(format!("user {name}: reads from {}\n", reads.word()))
        }
        Action::UserList => {
            let users = topo.list_users().await?;
            if json {
                return super::json::text(&super::json::users(&users));
            }
            Ok(render::list(&render::users_table(&users), "users"))
        }
        Action::UserDel(name) => Ok(if topo.delete_user(&name).await? {
            format!("user {name}: deleted\n")
        } else {
            format!("user {name}: did not exist\n")
        }),
    }
}

fn no_db(db: &str) -> anyhow::Error {
    anyhow!("database {db} not found (add it with `setwise db add {db} --sets ...`)")
}

async fn require_set(topo: &Topo, set: &str) -> Result<()> {
    if topo.get_set(set).await?.is_none() {
        bail!("set {set} not found (add it with `setwise set add {set}`)");
    }
    Ok(())
}

/// Refuses an upsert that would give a set two primaries or take away its primary:
/// roles change by switchover or failover, which also move replication.
pub fn check_node_upsert(node: &NodeRecord, all: &[NodeRecord]) -> Result<()> {
    if let Some(other) = all.iter().find(|n| n.id == node.id && n.set != node.set) {
        bail!(
            "node {} already belongs to set {}; node ids are unique in the cluster",
            node.id,
            other.set
        );
    }
    let existing = all.iter().find(|n| n.id == node.id && n.set == node.set);
    if let Some(cur) = existing {
        if cur.role == Role::Primary && node.role == Role::Replica {
            bail!(
                "node {} is the primary of set {}; demoting it here would leave the set without \
                 a primary (roles change by switchover/failover)",
                node.id,
                node.set
            );
        }
    }
    if node.role == Role::Primary {
        if let Some(p) = all
            .iter()
            .find(|n| n.set == node.set && n.role == Role::Primary && n.id != node.id)
        {
            bail!(
                "set {} already has primary {}; a set has one primary (roles change by \
                 switchover/failover)",
                node.set,
                p.id
            );
        }
    }
    Ok(())
}

async fn node_add(topo: &Topo, mut node: NodeRecord) -> Result<String> {
    require_set(topo, &node.set).await?;
    let all = topo.list_nodes().await?;
    check_node_upsert(&node, &all)?;
    let old = all.iter().find(|n| n.id == node.id && n.set == node.set);
    // Re-running a deploy script must not forget that an old primary still has to be
    // checked before it replicates again (the scheduler clears `rejoin` when it is).
    if let Some(o) = old.filter(|o| o.role == node.role) {
        node.rejoin = o.rejoin.clone();
    }
    let outcome = Outcome::of(old, &node);
    if outcome != Outcome::Unchanged {
        topo.put_node(&node).await?;
    }
    Ok(format!(
        "node {}: {} ({} of {} at {})\n",
        node.id,
        outcome.word(),
        render::role_name(node.role),
        node.set,
        node.addr()
    ))
}

async fn db_add(topo: &Topo, req: DbAdd) -> Result<String> {
    for s in &req.sets {
        require_set(topo, s).await?;
    }
    let key = topo.keys().db(&req.name);
    let cur = topo.get_db(&req.name).await?;
    let (rec, rev, word) = match req.plan(cur.as_ref().map(|c| &c.value))? {
        DbPlan::Keep(rec) => {
            let mut out = format!(
                "database {}: unchanged (existing shard map kept)\n",
                rec.name
            );
            out.push_str(&render::shardmap(&rec));
            return Ok(out);
        }
        DbPlan::Create(rec) => (rec, 0, "created"),
        DbPlan::Replace(rec) => (rec, cur.map(|c| c.mod_revision).unwrap_or(0), "replaced"),
    };
    rec.shard_map
        .validate()
        .map_err(|why| anyhow!("bad shard map: {why}"))?;
    topo.cas(&key, &rec, rev).await.map_err(|e| match e {
        topo::TopoError::CasConflict { .. } => {
            anyhow!(
                "database {} was changed concurrently; run the command again",
                req.name
            )
        }
        e => e.into(),
    })?;
    let mut out = format!("database {}: {word}\n", rec.name);
    out.push_str(&render::shardmap(&rec));
    Ok(out)
}

async fn status(topo: &Topo, cluster: &str, json: bool) -> Result<String> {
    let view = super::status::StatusView::read(topo, cluster).await?;
    if json {
        return super::json::text(&super::json::status(&view));
    }
    Ok(super::status::status(&view))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(id: &str, set: &str, role: Role) -> NodeRecord {
        NodeRecord {
            id: id.into(),
            set: set.into(),
            host: "h".into(),
            port: 1,
            role,
            rejoin: None,
        }
    }

    #[test]
    fn node_upserts_keep_one_primary() {
        let all = vec![n("a0", "a", Role::Primary), n("a1", "a", Role::Replica)];
        // Re-running the deploy script is fine.
        check_node_upsert(&n("a0", "a", Role::Primary), &all).unwrap();
        check_node_upsert(&n("a1", "a", Role::Replica), &all).unwrap();
        check_node_upsert(&n("a2", "a", Role::Replica), &all).unwrap();
        check_node_upsert(&n("b0", "b", Role::Primary), &all).unwrap();
        // A second primary, a demoted primary, or an id reused in another set are not.
        assert!(check_node_upsert(&n("a1", "a", Role::Primary), &all).is_err());
        assert!(check_node_upsert(&n("a2", "a", Role::Primary), &all).is_err());
        assert!(check_node_upsert(&n("a0", "a", Role::Replica), &all).is_err());
        assert!(check_node_upsert(&n("a1", "b", Role::Replica), &all).is_err());
        // A set without a primary may get one.
        let no_primary = vec![n("a1", "a", Role::Replica)];
        check_node_upsert(&n("a1", "a", Role::Primary), &no_primary).unwrap();
    }

    #[test]
    fn outcomes() {
        assert_eq!(Outcome::of(None, &1), Outcome::Created);
        assert_eq!(Outcome::of(Some(&1), &1), Outcome::Unchanged);
        assert_eq!(Outcome::of(Some(&1), &2), Outcome::Updated);
    }
}
