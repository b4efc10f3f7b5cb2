//! The fixture of the two-set commit tests under a lost coordinator
//! (`tests/tests/failover_faults_hangs.rs`, `failover_faults_kills.rs`): a transaction
//! writes one row on set1 and one on set2 (the coordinator: written last) and pauses
//! after its first phase (the gateway's hook `SETWISE_XA_PAUSE=prepared=...`), set1's
//! branch prepared; the test then stops or kills set2's primary, and
//! [`PausedCommit::freed_by_the_failover`] checks what must follow: the client's COMMIT
//! ends, set1's branch ends (decided on set2's new primary, not after recovery's grace,
//! 600 s here) and its row takes writes again, and once healed the transaction is on
//! both sets or on neither.

use mysql_async::prelude::Queryable;

use crate::control::{describe, now_ms, wait_set_whole, ControlPlane, ControlPlaneConfig};
use crate::faults::{
    routed_primary, scalar, sessions, status, wait_failover_of, QUERY, TABLE, WAIT, WHOLE_WAIT,
};
use crate::{Cluster, MariaDb};

/// The gtrids of the gateway's branches prepared on `node` (bounded: [`QUERY`]).
pub async fn prepared_on(node: &MariaDb) -> anyhow::Result<Vec<String>> {
    let rows = tokio::time::timeout(QUERY, node.query("XA RECOVER")).await??;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let glen: usize = r[1].as_deref()?.parse().ok()?;
            Some(r[3].as_deref()?.get(..glen)?.to_string())
        })
        .filter(|g| g.starts_with("sw-"))
        .collect())
}

/// A two-set transaction paused between its phases.
pub struct PausedCommit {
    /// Its rows on set1 and set2.
    pub a: i64,
    pub b: i64,
    commit: tokio::task::JoinHandle<Result<(), mysql_async::Error>>,
    /// set1's primary and the branch prepared there.
    p1: String,
    in_doubt: Vec<String>,
    /// set2's primary (the coordinator's) when it paused.
    pub old: String,
    since: u64,
}

/// 2 sets (primary + 2 replicas), `shop.t`, one scheduler, a gateway pausing every
/// two-set commit after its first phase, whose recovery waits 600 s before it aborts a
/// live gateway's branch; and a transaction paused so ([`PausedCommit`]).
pub async fn paused_commit() -> (Cluster, ControlPlane, PausedCommit) {
    let mut c = Cluster::builder()
        .sets(2)
        .replicas(2)
        .proxy(false)
        .start()
        .await
        .expect("start 2 sets");
    c.set_proxy_env(&[("SETWISE_XA_PAUSE", "prepared=3000")]);
    c.set_proxy_extra("[xa]\ngrace_ms = 600000\n");
    c.start_proxy().await.unwrap();
    drop(c.create_shop(&[crate::shop::SHOP_T]).await);
    let cp = c
        .start_control_plane_with(1, ControlPlaneConfig::default())
        .await
        .unwrap();
    let topo = c.topo().clone();
    let first = |set: &'static str| {
        let c = &c;
        async move {
            crate::load::ids_of_set(c, "shop", "t", set)
                .await
                .unwrap()
                .next()
                .unwrap()
        }
    };
    let (a, b) = (first("set1").await, first("set2").await);
    let mut g = c.proxy_conn().await.unwrap();
    for id in [a, b] {
        g.query_drop(format!("INSERT INTO {TABLE} VALUES ({id}, 0)"))
            .await
            .unwrap();
    }
    let mut client = c.proxy_conn().await.unwrap();
    let commit = tokio::spawn(async move {
        client.query_drop("BEGIN").await?;
        for id in [a, b] {
            client
                .query_drop(format!("UPDATE {TABLE} SET v = 1 WHERE id = {id}"))
                .await?;
        }
        client.query_drop("COMMIT").await
    });
    let p1 = routed_primary(&topo, "set1").await;
    let in_doubt = crate::wait_for(
        "set1's branch to be prepared",
        WAIT,
        || async { Ok(Some(prepared_on(c.node(&p1)).await?)) },
        |g: &Vec<String>| !g.is_empty(),
    )
    .await
    .unwrap();
    let old = routed_primary(&topo, "set2").await;
    let pc = PausedCommit {
        a,
        b,
        commit,
        p1,
        in_doubt,
        old,
        since: now_ms(),
    };
    (c, cp, pc)
}

impl PausedCommit {
    /// After set2's primary was stopped or killed: the failover, the COMMIT's end, set1's
    /// branch ended and its row writable while `resume` has not run yet (it resumes a
    /// stopped old primary).
    pub async fn freed_by_the_failover(
        &mut self,
        c: &mut Cluster,
        resume: impl FnOnce(&mut Cluster),
    ) {
        let topo = c.topo().clone();
        let rec = wait_failover_of(&topo, "set2", &self.old, self.since).await;
        eprintln!("{}", describe(&rec));
        let r = tokio::time::timeout(WAIT, &mut self.commit)
            .await
            .expect("the COMMIT did not end after the failover")
            .unwrap();
        eprintln!("COMMIT: {r:?}");
        let left = crate::wait_for(
            "set1's prepared branch to end",
            WAIT,
            || async { Ok(Some(prepared_on(c.node(&self.p1)).await?)) },
            |g: &Vec<String>| !g.iter().any(|x| self.in_doubt.contains(x)),
        )
        .await;
        if let Err(e) = left {
            resume(c);
            panic!(
                "{e:#}\nsessions of {}:\n{}",
                self.p1,
                sessions(c.node(&self.p1)).await
            );
        }
        let mut other = c.proxy_conn().await.unwrap();
        other
            .query_drop("SET SESSION innodb_lock_wait_timeout = 5")
            .await
            .unwrap();
        let write = format!("UPDATE {TABLE} SET v = v + 10 WHERE id = {}", self.a);
        let written = tokio::time::timeout(WAIT, other.query_drop(write)).await;
        resume(c);
        written
            .expect("the write of set1's row did not end")
            .expect("set1's row is still locked by the transaction lost on set2");
    }

    /// Once both sets are whole again: the transaction is on both or on neither, and
    /// nothing is left prepared on set1.
    pub async fn all_or_nothing(self, c: &Cluster) {
        let topo = c.topo().clone();
        for set in ["set1", "set2"] {
            if let Err(e) = wait_set_whole(c, set, WHOLE_WAIT).await {
                panic!("{set}: {e:#}\n{}", status(c).await);
            }
        }
        let mut v = Vec::new();
        for (set, id) in [("set1", self.a), ("set2", self.b)] {
            let p = routed_primary(&topo, set).await;
            let q = format!("SELECT v FROM {TABLE} WHERE id = {id}");
            v.push(scalar(c.node(&p), &q).await.unwrap().unwrap());
        }
        assert!(
            (v[0] == "11" && v[1] == "1") || (v[0] == "10" && v[1] == "0"),
            "half a transaction: v = {} on set1 (10 + its 1?), {} on set2",
            v[0],
            v[1]
        );
        let p1 = routed_primary(&topo, "set1").await;
        assert!(prepared_on(c.node(&p1)).await.unwrap().is_empty());
    }
}
