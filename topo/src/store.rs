//! [`Topo`]: the typed etcd client. Every read and write of a record goes through
//! here, with keys from [`Keys`](crate::keys::Keys) and JSON bodies.

use etcd_client::{
    Client, Compare, CompareOp, EventType, GetOptions, PutOptions, Txn, TxnOp, WatchOptions,
    WatchStream,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::EtcdConfig;
use crate::control::*;
use crate::error::{Result, TopoError};
use crate::keys::{valid_name, valid_object_name, Keys};
use crate::model::*;
use crate::snapshot::ClusterSnapshot;

mod moves;
mod xa;

/// A record with the etcd revision it was last modified at (for compare-and-swap).
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub mod_revision: i64,
}

/// A connection to one cluster's records in etcd. Cheap to clone.
#[derive(Clone)]
pub struct Topo {
    client: Client,
    keys: Keys,
    cfg: EtcdConfig,
}

impl Topo {
    /// Connects to etcd; fails (rather than waits forever) after the configured timeout.
    pub async fn connect(cfg: &EtcdConfig) -> Result<Self> {
        let opts = cfg.connect_options(true)?;
        let client = Client::connect(&cfg.endpoints, Some(opts))
            .await
            .map_err(|source| TopoError::Unreachable {
                endpoints: cfg.endpoints.join(","),
                source,
            })?;
        if !valid_name(&cfg.cluster) {
            return Err(TopoError::Invalid {
                what: "cluster name",
                why: format!("{:?}", cfg.cluster),
            });
        }
        Ok(Self {
            client,
            keys: Keys::new(&cfg.cluster),
            cfg: cfg.clone(),
        })
    }

    /// A client without a per-request timeout, for calls that block on purpose
    /// (an election campaign waits as long as another candidate leads).
    pub async fn blocking_client(&self) -> Result<Client> {
        let opts = self.cfg.connect_options(false)?;
        Client::connect(&self.cfg.endpoints, Some(opts))
            .await
            .map_err(|source| TopoError::Unreachable {
                endpoints: self.cfg.endpoints.join(","),
                source,
            })
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The raw etcd client, for the lease and election helpers of this crate.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    // ---- generic typed operations -------------------------------------------------

    /// Reads and decodes one record.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<Versioned<T>>> {
        let resp = self.client.kv_client().get(key, None).await?;
        match resp.kvs().first() {
            None => Ok(None),
            Some(kv) => Ok(Some(Versioned {
                value: decode(key, kv.value())?,
                mod_revision: kv.mod_revision(),
            })),
        }
    }

    /// Writes one record unconditionally.
    pub async fn put<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        self.client
            .kv_client()
            .put(key, serde_json::to_vec(value)?, None)
            .await?;
        Ok(())
    }

    /// Writes one record attached to a lease: it disappears when the lease expires.
    pub async fn put_leased<T: Serialize>(&self, key: &str, value: &T, lease: i64) -> Result<()> {
        self.client
            .kv_client()
            .put(
                key,
                serde_json::to_vec(value)?,
                Some(PutOptions::new().with_lease(lease)),
            )
            .await?;
        Ok(())
    }

    /// Writes `value` only if the record is still at `expected` (`0` = must not exist).
    /// Fails with [`TopoError::CasConflict`] when someone else changed it first.
    pub async fn cas<T: Serialize>(&self, key: &str, value: &T, expected: i64) -> Result<i64> {
        let cmp = if expected == 0 {
            Compare::create_revision(key, CompareOp::Equal, 0)
        } else {
            Compare::mod_revision(key, CompareOp::Equal, expected)
        };
        let txn =
            Txn::new()
                .when([cmp])
                .and_then([TxnOp::put(key, serde_json::to_vec(value)?, None)]);
        let resp = self.client.kv_client().txn(txn).await?;
        if !resp.succeeded() {
            return Err(TopoError::CasConflict { key: key.into() });
        }
        Ok(resp.header().map(|h| h.revision()).unwrap_or_default())
    }

    /// Creates a record that must not exist yet.
    pub async fn create<T: Serialize>(&self, key: &str, value: &T) -> Result<i64> {
        self.cas(key, value, 0).await
    }

    /// Read-modify-write with compare-and-swap, retried on conflict (bounded).
    /// `f` gets the current value (None if absent) and returns the new one.
    pub async fn update<T, F>(&self, key: &str, mut f: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> Result<T>,
    {
        for _ in 0..16 {
            let cur = self.get::<T>(key).await?;
            let rev = cur.as_ref().map(|c| c.mod_revision).unwrap_or(0);
            let new = f(cur.map(|c| c.value))?;
            match self.cas(key, &new, rev).await {
                Ok(_) => return Ok(new),
                Err(TopoError::CasConflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(TopoError::CasConflict { key: key.into() })
    }

    /// Deletes one key; returns whether it existed.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        let resp = self.client.kv_client().delete(key, None).await?;
        Ok(resp.deleted() > 0)
    }

    /// All records under `prefix`, decoded, in key order.
    pub async fn list<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<Versioned<T>>> {
        let resp = self
            .client
            .kv_client()
            .get(prefix, Some(GetOptions::new().with_prefix()))
            .await?;
        resp.kvs()
            .iter()
            .map(|kv| {
                Ok(Versioned {
                    value: decode(kv.key_str().unwrap_or(prefix), kv.value())?,
                    mod_revision: kv.mod_revision(),
                })
            })
            .collect()
    }

    // ---- sets and nodes -----------------------------------------------------------

    pub async fn put_set(&self, set: &SetRecord) -> Result<()> {
        check_name("set", &set.name)?;
        self.put(&self.keys.set(&set.name), set).await
    }
    pub async fn get_set(&self, name: &str) -> Result<Option<SetRecord>> {
        Ok(self.get(&self.keys.set(name)).await?.map(|v| v.value))
    }
    pub async fn list_sets(&self) -> Result<Vec<SetRecord>> {
        Ok(values(self.list(&self.keys.sets()).await?))
    }
    pub async fn put_node(&self, node: &NodeRecord) -> Result<()> {
        check_name("set", &node.set)?;
        check_name("node", &node.id)?;
        self.put(&self.keys.node(&node.set, &node.id), node).await
    }
    pub async fn list_nodes(&self) -> Result<Vec<NodeRecord>> {
        Ok(values(self.list(&self.keys.nodes()).await?))
    }
    pub async fn nodes_of(&self, set: &str) -> Result<Vec<NodeRecord>> {
        Ok(values(self.list(&self.keys.nodes_of(set)).await?))
    }

    // ---- databases, tables, users ---------------------------------------------------

    pub async fn put_db(&self, db: &DatabaseRecord) -> Result<()> {
        check_object_name("database", &db.name)?;
        db.shard_map.validate().map_err(|why| TopoError::Invalid {
            what: "shard map",
            why,
        })?;
        self.put(&self.keys.db(&db.name), db).await
    }
    pub async fn get_db(&self, name: &str) -> Result<Option<Versioned<DatabaseRecord>>> {
        self.get(&self.keys.db(name)).await
    }
    pub async fn list_dbs(&self) -> Result<Vec<DatabaseRecord>> {
        Ok(values(self.list(&self.keys.dbs()).await?))
    }
    /// Replaces a database's shard map if nobody changed the record since `expected`;
    /// bumps the map's version.
    pub async fn cas_shard_map(&self, db: &str, mut map: ShardMap, expected: i64) -> Result<()> {
        map.validate().map_err(|why| TopoError::Invalid {
            what: "shard map",
            why,
        })?;
        let cur = self.get_db(db).await?.ok_or_else(|| TopoError::NotFound {
            what: "database",
            name: db.into(),
        })?;
        if cur.mod_revision != expected {
            return Err(TopoError::CasConflict {
                key: self.keys.db(db),
            });
        }
        map.version = cur.value.shard_map.version + 1;
        let mut rec = cur.value;
        rec.shard_map = map;
        self.cas(&self.keys.db(db), &rec, expected)
            .await
            .map(|_| ())
    }
    pub async fn delete_db(&self, name: &str) -> Result<bool> {
        let k = self.keys.tables_of(name);
        self.client
            .kv_client()
            .delete(k, Some(etcd_client::DeleteOptions::new().with_prefix()))
            .await?;
        self.delete(&self.keys.db(name)).await
    }
    pub async fn put_table(&self, t: &TableRecord) -> Result<()> {
        check_object_name("database", &t.db)?;
        check_object_name("table", &t.name)?;
        self.put(&self.keys.table(&t.db, &t.name), t).await
    }
    pub async fn get_table(&self, db: &str, table: &str) -> Result<Option<TableRecord>> {
        Ok(self
            .get(&self.keys.table(db, table))
            .await?
            .map(|v| v.value))
    }
    pub async fn delete_table(&self, db: &str, table: &str) -> Result<bool> {
        self.delete(&self.keys.table(db, table)).await
    }
    pub async fn list_tables(&self, db: &str) -> Result<Vec<TableRecord>> {
        Ok(values(self.list(&self.keys.tables_of(db)).await?))
    }
    pub async fn put_user(&self, u: &UserRecord) -> Result<()> {
        check_name("user", &u.name)?;
        self.put(&self.keys.user(&u.name), u).await
    }
    pub async fn get_user(&self, name: &str) -> Result<Option<UserRecord>> {
        Ok(self.get(&self.keys.user(name)).await?.map(|v| v.value))
    }
    pub async fn list_users(&self) -> Result<Vec<UserRecord>> {
        Ok(values(self.list(&self.keys.users()).await?))
    }
    pub async fn delete_user(&self, name: &str) -> Result<bool> {
        self.delete(&self.keys.user(name)).await
    }

    // ---- distributed transactions: in `xa` --------------------------------------------

    // ---- health -------------------------------------------------------------------

    pub async fn put_health(&self, h: &HealthReport, lease: i64) -> Result<()> {
        self.put_leased(&self.keys.health_of(&h.set, &h.node), h, lease)
            .await
    }
    pub async fn list_health(&self) -> Result<Vec<HealthReport>> {
        Ok(values(self.list(&self.keys.health()).await?))
    }

    // ---- control plane: tasks, failovers, requests, statistics ------------------------

    /// A node's current task with its revision.
    pub async fn get_task(&self, set: &str, node: &str) -> Result<Option<Versioned<TaskRecord>>> {
        self.get(&self.keys.task(set, node)).await
    }
    /// Every node's current task.
    pub async fn list_tasks(&self) -> Result<Vec<TaskRecord>> {
        Ok(values(self.list(&self.keys.tasks()).await?))
    }
    /// Gives a node a new task (replacing any earlier one).
    pub async fn put_task(&self, t: &TaskRecord) -> Result<()> {
        self.put(&self.keys.task(&t.set, &t.node), t).await
    }
    /// Updates a task's record only if it is still task `t.id` at `expected`.
    pub async fn cas_task(&self, t: &TaskRecord, expected: i64) -> Result<i64> {
        self.cas(&self.keys.task(&t.set, &t.node), t, expected)
            .await
    }
    /// The failover or switchover in progress on `set`.
    pub async fn get_op(&self, set: &str) -> Result<Option<Versioned<FailoverRecord>>> {
        self.get(&self.keys.op(set)).await
    }
    pub async fn list_ops(&self) -> Result<Vec<FailoverRecord>> {
        Ok(values(self.list(&self.keys.ops()).await?))
    }
    /// Finished failovers of `set` (all sets when None), oldest first.
    pub async fn list_failovers(&self, set: Option<&str>) -> Result<Vec<FailoverRecord>> {
        let prefix = match set {
            Some(s) => self.keys.failovers_of(s),
            None => self.keys.failovers(),
        };
        let mut v = values(self.list::<FailoverRecord>(&prefix).await?);
        v.sort_by_key(|f| f.started_ms);
        Ok(v)
    }
    /// Moves a finished operation from `ops/<set>` to `failovers/<set>/<id>` (one txn).
    pub async fn finish_op(&self, rec: &FailoverRecord) -> Result<()> {
        let txn = Txn::new().and_then([
            TxnOp::put(
                self.keys.failover(&rec.set, &rec.id),
                serde_json::to_vec(rec)?,
                None,
            ),
            TxnOp::delete(self.keys.op(&rec.set), None),
        ]);
        self.client.kv_client().txn(txn).await?;
        Ok(())
    }
    pub async fn get_request(&self, set: &str) -> Result<Option<Versioned<SwitchoverRequest>>> {
        self.get(&self.keys.request(set)).await
    }
    pub async fn list_requests(&self) -> Result<Vec<Versioned<SwitchoverRequest>>> {
        self.list(&self.keys.requests()).await
    }
    pub async fn put_stats(&self, s: &NodeStats, lease: i64) -> Result<()> {
        self.put_leased(&self.keys.stats_of(&s.set, &s.node), s, lease)
            .await
    }
    pub async fn list_stats(&self) -> Result<Vec<NodeStats>> {
        Ok(values(self.list(&self.keys.stats()).await?))
    }

    // ---- slot moves and gateways: in `moves` -----------------------------------------

    /// Applies `batch` atomically; false when one of its guards no longer holds.
    pub async fn commit(&self, batch: Batch) -> Result<bool> {
        let txn = Txn::new().when(batch.guards).and_then(batch.ops);
        Ok(self.client.kv_client().txn(txn).await?.succeeded())
    }

    // ---- routing snapshot and watch -------------------------------------------------

    /// Every routing record (sets, nodes, dbs, tables, users) at one revision (one
    /// transaction of range reads, so health and statistics are not read along).
    pub async fn snapshot(&self) -> Result<ClusterSnapshot> {
        let prefixes = [
            self.keys.sets(),
            self.keys.nodes(),
            self.keys.dbs(),
            self.keys.tables(),
            self.keys.users(),
            self.keys.fences(),
        ];
        let txn = Txn::new().and_then(
            prefixes
                .iter()
                .map(|p| TxnOp::get(p.as_str(), Some(GetOptions::new().with_prefix())))
                .collect::<Vec<_>>(),
        );
        let resp = self.client.kv_client().txn(txn).await?;
        let mut snap = ClusterSnapshot {
            revision: resp.header().map(|h| h.revision()).unwrap_or_default(),
            ..Default::default()
        };
        for op in resp.op_responses() {
            let etcd_client::TxnOpResponse::Get(get) = op else {
                continue;
            };
            for kv in get.kvs() {
                let key = kv.key_str().unwrap_or_default();
                if let Some(kind) = self.keys.kind_of(key) {
                    snap.absorb(kind, key, kv.value())
                        .map_err(|source| TopoError::Decode {
                            key: key.into(),
                            source,
                        })?;
                }
            }
        }
        Ok(snap)
    }

    /// Watches every key of the cluster from `from_revision` (inclusive); a gateway
    /// re-reads its snapshot when a routing key changes.
    pub async fn watch_cluster(&self, from_revision: i64) -> Result<WatchStream> {
        let opts = WatchOptions::new()
            .with_prefix()
            .with_start_revision(from_revision);
        Ok(self
            .client
            .watch_client()
            .watch(self.keys.root(), Some(opts))
            .await?)
    }

    /// Whether a watched key is a routing record (not health, not election).
    pub fn is_routing_key(&self, key: &str) -> bool {
        matches!(
            self.keys.kind_of(key),
            Some("sets" | "nodes" | "dbs" | "tables" | "users" | "moving")
        )
    }
}

/// Writes applied together by [`Topo::commit`], only if every guard holds.
#[derive(Default)]
pub struct Batch {
    guards: Vec<Compare>,
    ops: Vec<TxnOp>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }
    /// Guard: `key` is still at `mod_revision` (`0` = does not exist).
    pub fn unchanged(mut self, key: &str, mod_revision: i64) -> Self {
        self.guards.push(if mod_revision == 0 {
            Compare::create_revision(key, CompareOp::Equal, 0)
        } else {
            Compare::mod_revision(key, CompareOp::Equal, mod_revision)
        });
        self
    }
    pub fn put<T: Serialize>(mut self, key: &str, value: &T) -> Result<Self> {
        self.ops
            .push(TxnOp::put(key, serde_json::to_vec(value)?, None));
        Ok(self)
    }
    pub fn delete(mut self, key: &str) -> Self {
        self.ops.push(TxnOp::delete(key, None));
        self
    }
    /// Deletes every key under `prefix`.
    pub fn delete_prefix(mut self, prefix: &str) -> Self {
        self.ops.push(TxnOp::delete(
            prefix,
            Some(etcd_client::DeleteOptions::new().with_prefix()),
        ));
        self
    }
}

/// Re-exported so callers can match watch events without depending on etcd-client.
pub use etcd_client::Event as WatchEvent;

/// Whether a watch event is a delete.
pub fn is_delete(ev: &WatchEvent) -> bool {
    ev.event_type() == EventType::Delete
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| TopoError::Decode {
        key: key.into(),
        source,
    })
}

fn values<T>(v: Vec<Versioned<T>>) -> Vec<T> {
    v.into_iter().map(|v| v.value).collect()
}

/// A database or table name (see [`valid_object_name`]).
fn check_object_name(what: &'static str, name: &str) -> Result<()> {
    if valid_object_name(name) {
        Ok(())
    } else {
        Err(TopoError::Invalid {
            what,
            why: format!("{name:?}: empty or longer than 64 characters"),
        })
    }
}

fn check_name(what: &'static str, name: &str) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(TopoError::Invalid {
            what,
            why: format!("{name:?}: use letters, digits, _ - . $ (at most 64)"),
        })
    }
}
