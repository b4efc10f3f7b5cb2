//! AUTO_INCREMENT through the gateway (issue 10, item 1): on sharded and
//! broadcast tables the gateway assigns ids from segments reserved in etcd —
//! unique across sets, sessions, restarts and gateways; `LAST_INSERT_ID()` and
//! the OK packet's insert id report them as MariaDB does; on single tables
//! `LAST_INSERT_ID()` is the session's own, not a pooled connection's.

use std::collections::BTreeSet;
use std::time::Duration;

use mysql_async::prelude::*;
use setwise_tests::cluster::wait_accepting;
use setwise_tests::process::ChildGuard;
use setwise_tests::Cluster;

async fn cluster() -> Cluster {
    Cluster::two_sets_with_gateway().await
}

async fn last_id(conn: &mut mysql_async::Conn) -> u64 {
    conn.query_first("SELECT LAST_INSERT_ID()")
        .await
        .unwrap()
        .unwrap()
}

/// Ids of `table` on one set, read there directly.
async fn ids_on(c: &Cluster, set: &str, table: &str) -> Vec<u64> {
    c.primary(set)
        .query(&format!("SELECT id FROM {table} ORDER BY id"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r[0].as_deref().unwrap().parse().unwrap())
        .collect()
}

/// Every id of `table` on both sets: asserts none is on both.
async fn all_ids(c: &Cluster, table: &str) -> BTreeSet<u64> {
    let a = ids_on(c, "set1", table).await;
    let b = ids_on(c, "set2", table).await;
    let mut all = BTreeSet::new();
    for id in a.iter().chain(&b) {
        assert!(all.insert(*id), "id {id} twice in {table}: {a:?} {b:?}");
    }
    all
}

#[tokio::test]
async fn issue_repro_ids_unique_across_sets_and_last_insert_id() {
    let c = cluster().await;
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE t2").await.unwrap();
    conn.query_drop(
        "CREATE TABLE t2.o (id BIGINT AUTO_INCREMENT, user_id INT NOT NULL, PRIMARY KEY (id, user_id)) shardkey=user_id",
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    for user in [1, 2, 7, 8, 9, 10] {
        conn.query_drop(format!("INSERT INTO t2.o (user_id) VALUES ({user})"))
            .await
            .unwrap();
        let ok_id = conn.last_insert_id().unwrap();
        let id = last_id(&mut conn).await;
        assert_eq!(ok_id, id, "OK packet and LAST_INSERT_ID() of user {user}");
        let stored: u64 = conn
            .query_first(format!("SELECT id FROM t2.o WHERE user_id = {user}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored, id, "user {user}");
        seen.push(id);
    }
    // Increasing, from 1 as on one MariaDB.
    assert_eq!(seen, vec![1, 2, 3, 4, 5, 6]);
    let dups: Vec<(u64, u64)> = conn
        .query("SELECT id, COUNT(*) c FROM t2.o GROUP BY id HAVING c > 1")
        .await
        .unwrap();
    assert!(dups.is_empty(), "{dups:?}");
    // Both sets hold rows: ids are global, not per set.
    assert!(!ids_on(&c, "set1", "t2.o").await.is_empty());
    assert!(!ids_on(&c, "set2", "t2.o").await.is_empty());
    assert_eq!(all_ids(&c, "t2.o").await.len(), 6);
    // SHOW CREATE TABLE shows the table's counter (the largest of its sets'),
    // whichever set answers: checked after a new row on each set in turn.
    for set in ["set1", "set2"] {
        let user: i64 = c
            .primary(set)
            .scalar("SELECT MIN(user_id) FROM t2.o")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        conn.query_drop(format!("INSERT INTO t2.o (user_id) VALUES ({user})"))
            .await
            .unwrap();
        let next = last_id(&mut conn).await + 1;
        let (_, ddl): (String, String) = conn
            .query_first("SHOW CREATE TABLE t2.o")
            .await
            .unwrap()
            .unwrap();
        assert!(
            ddl.contains(&format!(" AUTO_INCREMENT={next} ")),
            "after a row on {set}: {ddl}"
        );
    }
}

#[tokio::test]
async fn shard_key_auto_increment_multi_row_null_zero_explicit() {
    let c = cluster().await;
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE d").await.unwrap();
    conn.query_drop("CREATE TABLE d.p (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    // Routed by the new id.
    for v in 1..=10 {
        conn.query_drop(format!("INSERT INTO d.p (v) VALUES ({v})"))
            .await
            .unwrap();
        let id = conn.last_insert_id().unwrap();
        assert_eq!(id, v, "ids from 1 as on MariaDB");
        let got: Option<i64> = conn
            .query_first(format!("SELECT v FROM d.p WHERE id = {id}"))
            .await
            .unwrap();
        assert_eq!(got, Some(v as i64));
    }
    assert!(!ids_on(&c, "set1", "d.p").await.is_empty());
    assert!(!ids_on(&c, "set2", "d.p").await.is_empty());

    // Multi-row: consecutive ids, the first reported.
    conn.query_drop("INSERT INTO d.p (v) VALUES (101), (102), (103), (104)")
        .await
        .unwrap();
    let first = conn.last_insert_id().unwrap();
    assert_eq!(first, 11);
    assert_eq!(last_id(&mut conn).await, 11);
    let rows: Vec<(u64, i64)> = conn
        .query("SELECT id, v FROM d.p WHERE v > 100 ORDER BY id")
        .await
        .unwrap();
    assert_eq!(rows, vec![(11, 101), (12, 102), (13, 103), (14, 104)]);

    // NULL and 0 get ids; no column list, and SET.
    conn.query_drop("INSERT INTO d.p (id, v) VALUES (NULL, 201)")
        .await
        .unwrap();
    assert_eq!(conn.last_insert_id(), Some(15));
    conn.query_drop("INSERT INTO d.p VALUES (0, 202)")
        .await
        .unwrap();
    assert_eq!(conn.last_insert_id(), Some(16));
    conn.query_drop("INSERT INTO d.p SET v = 203")
        .await
        .unwrap();
    assert_eq!(last_id(&mut conn).await, 17);

    // An explicit id is taken as given, LAST_INSERT_ID() stays, and later ids
    // are above it.
    conn.query_drop("INSERT INTO d.p (id, v) VALUES (500, 301)")
        .await
        .unwrap();
    assert_eq!(last_id(&mut conn).await, 17);
    conn.query_drop("INSERT INTO d.p (v) VALUES (302)")
        .await
        .unwrap();
    let after = last_id(&mut conn).await;
    assert_eq!(after, 501, "MariaDB continues above an explicit id");

    // NO_AUTO_VALUE_ON_ZERO: 0 is a value.
    conn.query_drop("SET sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO d.p (id, v) VALUES (0, 401)")
        .await
        .unwrap();
    let zero: Option<i64> = conn
        .query_first("SELECT v FROM d.p WHERE id = 0")
        .await
        .unwrap();
    assert_eq!(zero, Some(401));
    assert_eq!(last_id(&mut conn).await, 501);

    // LAST_INSERT_ID(expr) sets the value.
    let v: u64 = conn
        .query_first("SELECT LAST_INSERT_ID(77)")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v, 77);
    assert_eq!(last_id(&mut conn).await, 77);

    // INSERT ... SELECT gets the next id as its rows' VALUES would
    // (session::insert_select), and LAST_INSERT_ID() follows.
    conn.query_drop("INSERT INTO d.p (v) SELECT v FROM d.p WHERE id = 1")
        .await
        .unwrap();
    let copied = last_id(&mut conn).await;
    assert!(copied > 501, "{copied}");
    let v = |id: u64| format!("SELECT v FROM d.p WHERE id = {id}");
    let original: Option<Option<i64>> = conn.query_first(v(1)).await.unwrap();
    let copy: Option<Option<i64>> = conn.query_first(v(copied)).await.unwrap();
    assert!(copy.is_some(), "row {copied} is there");
    assert_eq!(copy, original);

    // In a transaction too.
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop("INSERT INTO d.p (v) VALUES (501), (502)")
        .await
        .unwrap();
    let in_txn = conn.last_insert_id().unwrap();
    assert_eq!(in_txn, copied + 1);
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(last_id(&mut conn).await, copied + 1);
    let ids = all_ids(&c, "d.p").await;
    assert_eq!(ids.len(), 23);
}

#[tokio::test]
async fn last_insert_id_type_and_single_table_across_statements() {
    let c = cluster().await;
    let mut a = c.proxy_conn().await.unwrap();
    let mut b = c.proxy_conn().await.unwrap();
    a.query_drop("CREATE DATABASE s").await.unwrap();
    a.query_drop("CREATE TABLE s.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    a.query_drop("INSERT INTO s.t (v) VALUES (1)")
        .await
        .unwrap();
    assert_eq!(a.last_insert_id(), Some(1));
    // Another session's insert, likely on the connection `a` used.
    b.query_drop("INSERT INTO s.t (v) VALUES (2)")
        .await
        .unwrap();
    assert_eq!(b.last_insert_id(), Some(2));
    assert_eq!(last_id(&mut a).await, 1);
    assert_eq!(last_id(&mut b).await, 2);
    // An explicit id leaves it.
    a.query_drop("INSERT INTO s.t VALUES (40, 3)")
        .await
        .unwrap();
    assert_eq!(last_id(&mut a).await, 1);
    a.query_drop("INSERT INTO s.t (v) VALUES (4), (5)")
        .await
        .unwrap();
    assert_eq!(last_id(&mut a).await, 41);
    // The column as MariaDB sends it: BIGINT UNSIGNED NOT NULL, named as written.
    let res: Vec<mysql_async::Row> = a.query("SELECT last_insert_id()").await.unwrap();
    let col = &res[0].columns_ref()[0];
    assert_eq!(col.name_str(), "last_insert_id()");
    assert_eq!(
        col.column_type(),
        mysql_async::consts::ColumnType::MYSQL_TYPE_LONGLONG
    );
    assert!(col.flags().contains(
        mysql_async::consts::ColumnFlags::UNSIGNED_FLAG
            | mysql_async::consts::ColumnFlags::NOT_NULL_FLAG
    ));
    assert_eq!(col.column_length(), 21);
    // In an expression and a WHERE clause.
    let v: Option<i64> = a
        .query_first("SELECT v FROM s.t WHERE id = LAST_INSERT_ID()")
        .await
        .unwrap();
    assert_eq!(v, Some(4));
    // UPDATE ... LAST_INSERT_ID(expr), the counter-table idiom.
    a.query_drop("UPDATE s.t SET v = LAST_INSERT_ID(v + 100) WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(last_id(&mut a).await, 101);
    assert_eq!(last_id(&mut b).await, 2);
    // COM_RESET_CONNECTION starts again from 0, as on MariaDB itself.
    let mut direct = c.primary("set1").conn().await.unwrap();
    direct
        .query_drop("CREATE DATABASE direct_ai")
        .await
        .unwrap();
    direct
        .query_drop("CREATE TABLE direct_ai.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    for (conn, t) in [(&mut a, "s.t"), (&mut direct, "direct_ai.t")] {
        conn.query_drop(format!("INSERT INTO {t} (v) VALUES (6)"))
            .await
            .unwrap();
        assert_ne!(last_id(conn).await, 0);
        conn.reset().await.unwrap();
    }
    assert_eq!(last_id(&mut direct).await, 0);
    assert_eq!(last_id(&mut a).await, 0);
}

#[tokio::test]
async fn broadcast_rows_get_the_same_ids_on_every_set() {
    let c = cluster().await;
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE b").await.unwrap();
    conn.query_drop(
        "CREATE TABLE b.dim (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20)) shardkey=noshardkey_allset",
    )
    .await
    .unwrap();
    conn.query_drop("INSERT INTO b.dim (name) VALUES ('a'), ('b')")
        .await
        .unwrap();
    assert_eq!(conn.last_insert_id(), Some(1));
    conn.query_drop("INSERT INTO b.dim (name) VALUES ('c')")
        .await
        .unwrap();
    assert_eq!(last_id(&mut conn).await, 3);
    // Sessions writing at once: each set would number rows in the order they
    // reached it.
    let pool = c.proxy_pool();
    let tasks: Vec<_> = (0..4)
        .map(|s| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut conn = pool.get_conn().await.unwrap();
                for i in 0..10 {
                    conn.query_drop(format!("INSERT INTO b.dim (name) VALUES ('s{s}-{i}')"))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    pool.disconnect().await.unwrap();
    let q = "SELECT CONCAT(id, ':', name) FROM b.dim ORDER BY id";
    let one = c.primary("set1").query(q).await.unwrap();
    let two = c.primary("set2").query(q).await.unwrap();
    assert_eq!(one, two);
    assert_eq!(one.len(), 43);
}

#[tokio::test]
async fn prepared_statements_get_ids() {
    let c = cluster().await;
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE ps").await.unwrap();
    conn.query_drop("CREATE TABLE ps.p (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    conn.query_drop("CREATE TABLE ps.s (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    for v in 1..=4 {
        conn.exec_drop("INSERT INTO ps.p (v) VALUES (?)", (v,))
            .await
            .unwrap();
        let id = conn.last_insert_id().unwrap();
        assert_eq!(id, v);
        let got: Option<i64> = conn
            .exec_first("SELECT v FROM ps.p WHERE id = ?", (id,))
            .await
            .unwrap();
        assert_eq!(got, Some(v as i64));
    }
    conn.exec_drop(
        "INSERT INTO ps.p (id, v) VALUES (?, ?), (?, ?)",
        (None::<u64>, 5, 0, 6),
    )
    .await
    .unwrap();
    assert_eq!(conn.last_insert_id(), Some(5));
    let last: Option<u64> = conn
        .exec_first("SELECT LAST_INSERT_ID()", ())
        .await
        .unwrap();
    assert_eq!(last, Some(5));
    // A single table: MariaDB's own id, reported by the session.
    conn.exec_drop("INSERT INTO ps.s (v) VALUES (?)", (9,))
        .await
        .unwrap();
    assert_eq!(conn.last_insert_id(), Some(1));
    let last: Option<u64> = conn
        .exec_first("SELECT LAST_INSERT_ID()", ())
        .await
        .unwrap();
    assert_eq!(last, Some(1));
    assert_eq!(all_ids(&c, "ps.p").await.len(), 6);
}

#[tokio::test]
async fn concurrent_sessions_get_unique_ids() {
    let c = cluster().await;
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE cc").await.unwrap();
    conn.query_drop(
        "CREATE TABLE cc.t (id BIGINT AUTO_INCREMENT, k INT NOT NULL, PRIMARY KEY (id, k)) shardkey=k",
    )
    .await
    .unwrap();
    let pool = c.proxy_pool();
    let mut tasks = Vec::new();
    for s in 0..6u64 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.get_conn().await.unwrap();
            let mut mine = Vec::new();
            for i in 0..20u64 {
                let rows = if i % 2 == 0 { "(?), (?)" } else { "(?)" };
                let sql = format!("INSERT INTO cc.t (k) VALUES {rows}");
                let params: Vec<u64> = if i % 2 == 0 {
                    vec![s, s + 100]
                } else {
                    vec![s]
                };
                if i % 3 == 0 {
                    conn.exec_drop(sql, params).await.unwrap();
                } else {
                    let text = params
                        .iter()
                        .fold(sql, |q, p| q.replacen('?', &p.to_string(), 1));
                    conn.query_drop(text).await.unwrap();
                }
                let id = conn.last_insert_id().unwrap();
                let last: u64 = conn
                    .query_first("SELECT LAST_INSERT_ID()")
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(last, id, "session {s}");
                mine.push(id);
            }
            // Increasing within a session (one gateway).
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "{mine:?}");
            mine
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    pool.disconnect().await.unwrap();
    assert_eq!(all_ids(&c, "cc.t").await.len(), 6 * 30);
}

/// A second gateway of the cluster with a segment of `segment` ids.
async fn second_gateway(c: &Cluster, segment: u64) -> (ChildGuard, setwise_tests::port::Port) {
    let port = setwise_tests::port::reserve();
    let dir = c.work_dir().join(format!("proxy2-{}", port.get()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = c.common_args();
    args.extend([
        "--listen".into(),
        format!("127.0.0.1:{}", port.get()),
        "--routing-cache".into(),
        dir.join("routing.json").display().to_string(),
        "--backend-user".into(),
        "setwise_proxy".into(),
        "--backend-password".into(),
        "setwise".into(),
        "--id-segment".into(),
        segment.to_string(),
    ]);
    let mut child = c
        .spawn(
            setwise_tests::bins::PROXY,
            &format!("proxy2-{}", port.get()),
            &args,
        )
        .unwrap();
    wait_accepting(&mut child, port.get(), Duration::from_secs(30))
        .await
        .unwrap();
    (child, port)
}

async fn conn_at(c: &Cluster, port: u16) -> mysql_async::Conn {
    let opts = mysql_async::OptsBuilder::from_opts(c.app_opts()).tcp_port(port);
    mysql_async::Conn::new(opts).await.unwrap()
}

#[tokio::test]
async fn ids_unique_across_gateways_and_restarts() {
    let mut c = cluster().await;
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE r").await.unwrap();
    conn.query_drop("CREATE TABLE r.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    let (_g2, port2) = second_gateway(&c, 5).await;
    let mut other = conn_at(&c, port2.get()).await;
    let mut max_before = 0;
    for i in 0..12 {
        conn.query_drop(format!("INSERT INTO r.t (v) VALUES ({i})"))
            .await
            .unwrap();
        other
            .query_drop(format!("INSERT INTO r.t (v) VALUES ({})", 100 + i))
            .await
            .unwrap();
        max_before = max_before.max(conn.last_insert_id().unwrap());
    }
    drop(conn);
    let top = *all_ids(&c, "r.t").await.last().unwrap();
    c.kill_proxy();
    c.start_proxy().await.unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("INSERT INTO r.t (v) VALUES (1000)")
        .await
        .unwrap();
    let after = conn.last_insert_id().unwrap();
    assert!(
        after > max_before,
        "{after} after a restart, {max_before} before"
    );
    // At most the one segment (1000) the killed gateway held is skipped (and
    // what the other gateway holds, at most 5).
    assert!(after <= top + 1000 + 5 + 1, "{after}, {top} before");
    assert_eq!(all_ids(&c, "r.t").await.len(), 25);
}

#[tokio::test]
async fn etcd_down_serves_the_held_segment_then_refuses() {
    let mut c = cluster().await;
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE e").await.unwrap();
    conn.query_drop(
        "CREATE TABLE e.t (id BIGINT AUTO_INCREMENT, k INT NOT NULL, PRIMARY KEY (id, k)) shardkey=k",
    )
    .await
    .unwrap();
    let (_g2, port2) = second_gateway(&c, 10).await;
    let mut g2 = conn_at(&c, port2.get()).await;
    g2.query_drop("INSERT INTO e.t (k) VALUES (1)")
        .await
        .unwrap();
    // Let the segment fetched ahead arrive (it is ours whether or not).
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.etcd_mut().kill();
    let mut served = 1;
    let mut refused = None;
    for i in 0..40 {
        match g2
            .query_drop(format!("INSERT INTO e.t (k) VALUES ({i})"))
            .await
        {
            Ok(()) => served += 1,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let e = refused.expect("inserts beyond the held ids are refused");
    let msg = e.to_string();
    assert!(msg.contains("etcd is unreachable"), "{msg}");
    assert!(
        (10..=20).contains(&served),
        "{served} served from held segments"
    );
    // Explicit ids are still taken (the counter is raised later); reads work.
    g2.query_drop("INSERT INTO e.t (id, k) VALUES (5000, 1)")
        .await
        .unwrap();
    served += 1;
    let n: u64 = g2
        .query_first("SELECT COUNT(*) FROM e.t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, served);
    c.etcd_mut().restart().await.unwrap();
    setwise_tests::wait_until(
        "inserts after etcd is back",
        Duration::from_secs(30),
        || {
            let opts = mysql_async::OptsBuilder::from_opts(c.app_opts()).tcp_port(port2.get());
            async move {
                let mut g = mysql_async::Conn::new(opts).await?;
                Ok(g.query_drop("INSERT INTO e.t (k) VALUES (99)")
                    .await
                    .is_ok())
            }
        },
    )
    .await
    .unwrap();
    conn.query_drop("INSERT INTO e.t (k) VALUES (98)")
        .await
        .unwrap();
    let ids = all_ids(&c, "e.t").await;
    assert_eq!(ids.len() as u64, served + 2);
    // The explicit id written while etcd was down is never handed out.
    g2.query_drop("INSERT INTO e.t (k) VALUES (97)")
        .await
        .unwrap();
    assert!(g2.last_insert_id().unwrap() > 5000);
}

#[tokio::test]
async fn a_table_made_sharded_out_of_band_continues_above_its_rows() {
    let c = cluster().await;
    c.create_db("oob", &["set1", "set2"]).await.unwrap();
    for (set, ids) in [("set1", "(1, 1), (5, 2)"), ("set2", "(40, 3), (42, 4)")] {
        let p = c.primary(set);
        p.exec(
            "CREATE TABLE oob.t (id BIGINT AUTO_INCREMENT, k INT NOT NULL, PRIMARY KEY (id, k))",
        )
        .await
        .unwrap();
        p.exec(&format!("INSERT INTO oob.t (id, k) VALUES {ids}"))
            .await
            .unwrap();
    }
    c.topo()
        .put_table(&topo::TableRecord {
            db: "oob".into(),
            name: "t".into(),
            kind: topo::TableKind::Sharded {
                key: "k".into(),
                key_type: topo::KeyType::Integer,
            },
        })
        .await
        .unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    setwise_tests::wait_until(
        "the gateway to see the rule",
        Duration::from_secs(10),
        || {
            let opts = c.app_opts();
            async move {
                let mut conn = mysql_async::Conn::new(opts).await?;
                let row: Option<(String, String)> =
                    conn.query_first("SHOW CREATE TABLE oob.t").await?;
                Ok(row.is_some_and(|(_, ddl)| ddl.contains("shardkey")))
            }
        },
    )
    .await
    .unwrap();
    conn.query_drop("INSERT INTO oob.t (k) VALUES (7), (8)")
        .await
        .unwrap();
    assert_eq!(conn.last_insert_id(), Some(43));
    assert_eq!(all_ids(&c, "oob.t").await.len(), 6);
}

#[tokio::test]
async fn concurrent_reservations_in_etcd_never_overlap() {
    let c = Cluster::builder()
        .sets(1)
        .replicas(0)
        .proxy(false)
        .start()
        .await
        .unwrap();
    let t = c.topo().clone();
    assert_eq!(t.id_counter("d", "t/x").await.unwrap(), None);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let t = t.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..5 {
                    got.push(t.reserve_ids("d", "t/x", 10 + i, 0).await.unwrap());
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_by_key(|r| r.start);
    assert_eq!(all[0].start, 1);
    for w in all.windows(2) {
        assert_eq!(w[0].end, w[1].start, "{all:?}");
    }
    let end = all.last().unwrap().end;
    assert_eq!(t.id_counter("d", "t/x").await.unwrap(), Some(end));
    // An explicit id raises the counter past it; a lower one leaves it.
    t.raise_ids("d", "t/x", end + 100).await.unwrap();
    t.raise_ids("d", "t/x", 3).await.unwrap();
    assert_eq!(t.id_counter("d", "t/x").await.unwrap(), Some(end + 101));
    // A floor (rows already there) is respected.
    let r = t.reserve_ids("d", "u", 5, 77).await.unwrap();
    assert_eq!(r, 77..82);
}

/// The id the next `INSERT INTO {table} (v)` through `conn` gets.
async fn next_id(conn: &mut mysql_async::Conn, table: &str) -> u64 {
    conn.query_drop(format!("INSERT INTO {table} (v) VALUES (0)"))
        .await
        .unwrap();
    conn.last_insert_id().unwrap()
}

#[tokio::test]
async fn counters_start_again_as_mariadbs_on_truncate_drop_alter_and_rename() {
    let c = cluster().await;
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE k").await.unwrap();
    conn.query_drop("USE k").await.unwrap();
    let create = "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT) shardkey=id";
    conn.query_drop(create).await.unwrap();
    conn.query_drop("INSERT INTO t (v) VALUES (1), (2), (3)")
        .await
        .unwrap();
    // TRUNCATE starts the counter again.
    conn.query_drop("TRUNCATE TABLE t").await.unwrap();
    assert_eq!(next_id(&mut conn, "t").await, 1);
    // `AUTO_INCREMENT = n` sets it; below the rows it goes on above them.
    conn.query_drop("ALTER TABLE t AUTO_INCREMENT = 100")
        .await
        .unwrap();
    assert_eq!(next_id(&mut conn, "t").await, 100);
    conn.query_drop("ALTER TABLE t AUTO_INCREMENT = 50")
        .await
        .unwrap();
    assert_eq!(next_id(&mut conn, "t").await, 101);
    conn.query_drop("DELETE FROM t").await.unwrap();
    conn.query_drop("ALTER TABLE t AUTO_INCREMENT = 1")
        .await
        .unwrap();
    assert_eq!(next_id(&mut conn, "t").await, 1);
    // A dropped table's counter goes with it.
    conn.query_drop("DROP TABLE t").await.unwrap();
    conn.query_drop(create).await.unwrap();
    assert_eq!(next_id(&mut conn, "t").await, 1);
    conn.query_drop("DROP TABLE t").await.unwrap();
    conn.query_drop(format!("{create} AUTO_INCREMENT=40"))
        .await
        .unwrap();
    assert_eq!(next_id(&mut conn, "t").await, 40);
    // CREATE ... IF NOT EXISTS on the table changes nothing.
    conn.query_drop(
        "CREATE TABLE IF NOT EXISTS t (id INT AUTO_INCREMENT PRIMARY KEY, v INT) shardkey=id",
    )
    .await
    .unwrap();
    assert_eq!(next_id(&mut conn, "t").await, 41);
    // RENAME keeps the counter with the table.
    conn.query_drop("RENAME TABLE t TO u").await.unwrap();
    assert_eq!(next_id(&mut conn, "u").await, 42);
    conn.query_drop("ALTER TABLE u RENAME TO t").await.unwrap();
    assert_eq!(next_id(&mut conn, "t").await, 43);
    // DROP DATABASE drops its counters.
    conn.query_drop("DROP DATABASE k").await.unwrap();
    conn.query_drop("CREATE DATABASE k").await.unwrap();
    conn.query_drop("USE k").await.unwrap();
    conn.query_drop(create).await.unwrap();
    assert_eq!(next_id(&mut conn, "t").await, 1);
    assert_eq!(all_ids(&c, "k.t").await.len(), 1);
}

#[tokio::test]
async fn a_truncate_voids_the_ids_another_gateway_holds() {
    let c = cluster().await;
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE v").await.unwrap();
    conn.query_drop("CREATE TABLE v.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    let (_g2, port2) = second_gateway(&c, 1000).await;
    let mut other = conn_at(&c, port2.get()).await;
    // The second gateway holds 1..1000 and hands out 1..3.
    for _ in 0..3 {
        next_id(&mut other, "v.t").await;
    }
    conn.query_drop("TRUNCATE TABLE v.t").await.unwrap();
    for want in 1..=5 {
        assert_eq!(next_id(&mut conn, "v.t").await, want);
    }
    // A routing change after the TRUNCATE: once the second gateway routes the
    // new table, its watch has passed the counter's reset too.
    conn.query_drop("CREATE TABLE v.marker (id INT PRIMARY KEY) shardkey=id")
        .await
        .unwrap();
    let mut seen = false;
    for _ in 0..100 {
        let plan: Vec<(String, String, String, String)> = other
            .query("EXPLAIN SETWISE SELECT * FROM v.marker")
            .await
            .unwrap();
        if plan.iter().any(|r| r.1 == "set1") && plan.iter().any(|r| r.1 == "set2") {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen,
        "the second gateway never routed v.marker over both sets"
    );
    // Its held 4..1000 are void: the next id is above the first gateway's.
    let id = next_id(&mut other, "v.t").await;
    assert!(
        id > 5,
        "{id}: an id the second gateway held before the TRUNCATE"
    );
    assert_eq!(all_ids(&c, "v.t").await.len(), 6);
}
