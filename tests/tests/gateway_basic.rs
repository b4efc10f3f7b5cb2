//! The gateway's basics against a cluster of 2 sets × (primary + 1 replica), as user
//! `app`/`app`: DDL with the TDSQL `shardkey=` option, routing of single and multi-row
//! inserts and point selects to the set owning the key's slot, authentication and
//! unknown-database errors, a dead primary failing fast without hurting the other set,
//! and the real `mariadb` command-line client.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::Conn;
use setwise_tests::sql::{expect, rows, server_error};
use setwise_tests::Cluster;
use topo::slot::slot_of_int;
use topo::{DatabaseRecord, TableKind};

/// What "promptly" means for an error from a dead set.
const PROMPT: Duration = Duration::from_secs(10);

async fn cluster() -> Cluster {
    Cluster::builder()
        .sets(2)
        .replicas(1)
        .proxy(true)
        .start()
        .await
        .unwrap()
}

/// Ids 1..=20 plus 42 — enough to land on both sets.
fn ids() -> Vec<i64> {
    (1..=20).chain([42]).collect()
}

/// Creates `user_db.users` through the gateway, inserts [`ids`] (one single-row and one
/// multi-row INSERT) and returns the connection and the database record from etcd.
async fn users_table(c: &Cluster) -> (Conn, DatabaseRecord) {
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE user_db").await.unwrap();
    conn.query_drop(
        "CREATE TABLE user_db.users (user_id BIGINT PRIMARY KEY, name VARCHAR(64)) shardkey=user_id",
    )
    .await
    .unwrap();
    conn.query_drop("INSERT INTO user_db.users (user_id, name) VALUES (42, 'alice')")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 1);
    let values: Vec<String> = (1..=20).map(|i| format!("({i}, 'user{i}')")).collect();
    conn.query_drop(format!(
        "INSERT INTO user_db.users (user_id, name) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 20, "multi-row INSERT split over sets");

    let db = c
        .topo()
        .get_db("user_db")
        .await
        .unwrap()
        .expect("CREATE DATABASE through the gateway records user_db in etcd")
        .value;
    let mut sets = db.sets();
    sets.sort();
    assert_eq!(sets, ["set1", "set2"], "user_db spans both sets: {db:?}");
    let table = c.topo().get_table("user_db", "users").await.unwrap();
    assert!(
        matches!(table.as_ref().map(|t| &t.kind), Some(TableKind::Sharded { key, .. }) if key == "user_id"),
        "users recorded as sharded by user_id: {table:?}"
    );
    (conn, db)
}

fn owner(db: &DatabaseRecord, id: i64) -> String {
    let slot = slot_of_int(id as i128, db.shard_map.slots);
    db.shard_map.set_of_slot(slot).unwrap().to_string()
}

#[tokio::test]
async fn rows_live_only_on_the_set_owning_their_slot() {
    let c = cluster().await;
    let (mut conn, db) = users_table(&c).await;

    let got = rows(&mut conn, "SELECT * FROM user_db.users WHERE user_id = 42")
        .await
        .unwrap();
    assert_eq!(got, expect(&[&["42", "alice"]]));
    assert_eq!(db.shard_map.slots, 1024);
    assert_eq!(slot_of_int(42, 1024), 136);

    // Directly on each set's primary: exactly the ids whose slot the set owns.
    for set in ["set1", "set2"] {
        let want: BTreeSet<i64> = ids()
            .into_iter()
            .filter(|&id| owner(&db, id) == set)
            .collect();
        assert!(!want.is_empty(), "ids 1..=20 put nothing on {set}");
        let have: BTreeSet<i64> = c
            .primary(set)
            .query("SELECT user_id FROM user_db.users")
            .await
            .unwrap()
            .into_iter()
            .map(|r| r[0].as_deref().unwrap().parse().unwrap())
            .collect();
        assert_eq!(have, want, "rows on {set}");
    }

    // Every row reads back through the gateway by its key, from whichever set.
    for id in ids() {
        let got = rows(
            &mut conn,
            &format!("SELECT user_id, name FROM user_db.users WHERE user_id = {id}"),
        )
        .await
        .unwrap();
        let name = if id == 42 {
            "alice".to_string()
        } else {
            format!("user{id}")
        };
        assert_eq!(got, expect(&[&[&id.to_string(), &name]]), "user {id}");
    }
    conn.disconnect().await.unwrap();
}

fn assert_server_error(r: Result<Conn, mysql_async::Error>, code: u16, state: &str, what: &str) {
    match r {
        Ok(_) => panic!("{what}: connected, expected error {code}"),
        Err(e) => assert_eq!(
            server_error(&e),
            Some((code, state.to_string())),
            "{what}: got {e}"
        ),
    }
}

#[tokio::test]
async fn bad_password_and_unknown_database_are_refused() {
    let c = cluster().await;
    let r = Conn::new(c.proxy_opts("app", "wrong", None)).await;
    assert_server_error(r, 1045, "28000", "wrong password");
    let r = Conn::new(c.proxy_opts("nobody", "app", None)).await;
    assert_server_error(r, 1045, "28000", "unknown user");
    let r = Conn::new(c.proxy_opts("app", "app", Some("nosuchdb"))).await;
    assert_server_error(r, 1049, "42000", "connect with database nosuchdb");

    let mut conn = c.proxy_conn().await.unwrap();
    let e = conn.query_drop("USE nosuchdb").await.unwrap_err();
    assert_eq!(
        server_error(&e),
        Some((1049, "42000".into())),
        "USE nosuchdb: {e}"
    );
    // The session survives the error.
    let one = rows(&mut conn, "SELECT 1").await.unwrap();
    assert_eq!(one, expect(&[&["1"]]));
    conn.disconnect().await.unwrap();
}

#[tokio::test]
async fn a_dead_primary_fails_fast_and_the_other_set_keeps_serving() {
    let mut c = cluster().await;
    let (mut conn, db) = users_table(&c).await;
    let dead_set = owner(&db, 42);
    let live_id = ids()
        .into_iter()
        .find(|&id| owner(&db, id) != dead_set)
        .unwrap();
    let dead_primary = c.primary(&dead_set).name().to_string();
    c.kill_node(&dead_primary);

    let dead_new_id = (1000..).find(|&id| owner(&db, id) == dead_set).unwrap();
    for sql in [
        "SELECT * FROM user_db.users WHERE user_id = 42".to_string(),
        format!("INSERT INTO user_db.users (user_id, name) VALUES ({dead_new_id}, 'x')"),
    ] {
        let start = Instant::now();
        let r = tokio::time::timeout(PROMPT, conn.query_drop(&sql)).await;
        let took = start.elapsed();
        match r {
            Err(_) => panic!("{sql}: no answer within {PROMPT:?} with {dead_set}'s primary dead"),
            Ok(Ok(())) => panic!("{sql}: succeeded although {dead_set}'s primary is dead"),
            Ok(Err(e)) => assert!(
                server_error(&e).is_some(),
                "{sql}: expected an error packet, got {e} after {took:?}"
            ),
        }
    }

    // The same session and a new one still reach the live set.
    let want = expect(&[&[&live_id.to_string(), &format!("user{live_id}")]]);
    let q = format!("SELECT user_id, name FROM user_db.users WHERE user_id = {live_id}");
    let got = tokio::time::timeout(PROMPT, rows(&mut conn, &q))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, want);
    let mut fresh = c.proxy_conn().await.unwrap();
    let got = tokio::time::timeout(PROMPT, rows(&mut fresh, &q))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, want);
    assert!(
        c.proxy_process().unwrap().is_running(),
        "the gateway must survive"
    );
}

#[tokio::test]
async fn a_stopped_primary_gives_an_error_not_a_hang() {
    let c = cluster().await;
    let (mut conn, db) = users_table(&c).await;
    let stopped_set = owner(&db, 42);
    let live_id = ids()
        .into_iter()
        .find(|&id| owner(&db, id) != stopped_set)
        .unwrap();
    // Warm the pools so a pooled connection to the stopped primary exists.
    rows(&mut conn, "SELECT * FROM user_db.users WHERE user_id = 42")
        .await
        .unwrap();
    let pid = c.primary(&stopped_set).pid().expect("primary runs") as i32;
    // SIGSTOP: the server holds its sockets but answers nothing.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    // Stopping is asynchronous: wait until the kernel reports it stopped.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next());
        if state == Some("T") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mariadbd {pid} did not stop: {stat}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let start = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(30),
        conn.query_drop("SELECT * FROM user_db.users WHERE user_id = 42"),
    )
    .await;
    let took = start.elapsed();
    unsafe { libc::kill(pid, libc::SIGCONT) };
    match r {
        Err(_) => panic!("no answer within 30 s with {stopped_set}'s primary stopped"),
        Ok(Ok(())) => panic!("succeeded although {stopped_set}'s primary is stopped"),
        Ok(Err(e)) => {
            let (code, state) = server_error(&e).expect("an error packet");
            assert_eq!(
                (code, state.as_str()),
                (1105, "08S01"),
                "{e} after {took:?}"
            );
        }
    }
    // The other set answered all along, and the stopped one again once resumed.
    let mut fresh = c.proxy_conn().await.unwrap();
    let q = format!("SELECT user_id FROM user_db.users WHERE user_id = {live_id}");
    assert_eq!(rows(&mut fresh, &q).await.unwrap().len(), 1);
    let back = tokio::time::timeout(
        PROMPT,
        rows(
            &mut fresh,
            "SELECT user_id FROM user_db.users WHERE user_id = 42",
        ),
    )
    .await
    .expect("the resumed set answers")
    .unwrap();
    assert_eq!(back.len(), 1);
}

/// Runs the `mariadb` command-line client against the gateway.
async fn mariadb_cli(c: &Cluster, password: &str, args: &[&str]) -> std::process::Output {
    let port = c.proxy_port().to_string();
    let fut = tokio::process::Command::new("mariadb")
        .args([
            "--no-defaults",
            "--protocol=TCP",
            "-h127.0.0.1",
            "--connect-timeout=10",
        ])
        .arg(format!("-P{port}"))
        .arg("-uapp")
        .arg(format!("-p{password}"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .expect("mariadb client finished in time")
        .expect("run mariadb")
}

fn stdout(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "mariadb failed: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn the_mariadb_command_line_client_works() {
    let c = cluster().await;
    let o = mariadb_cli(
        &c,
        "app",
        &[
            "-e",
            "CREATE DATABASE shop; \
             CREATE TABLE shop.items (id BIGINT PRIMARY KEY, name VARCHAR(64)) shardkey=id; \
             INSERT INTO shop.items (id, name) VALUES (1, 'apple'), (2, 'pear'), (3, 'plum');",
        ],
    )
    .await;
    stdout(&o);

    // Default (batch) output: a header line, then tab-separated rows.
    let o = mariadb_cli(
        &c,
        "app",
        &["-e", "SELECT id, name FROM shop.items WHERE id = 2"],
    )
    .await;
    assert_eq!(stdout(&o), "id\tname\n2\tpear\n");

    // Database on the command line, no column names.
    let o = mariadb_cli(
        &c,
        "app",
        &[
            "-N",
            "-B",
            "shop",
            "-e",
            "SELECT name FROM items WHERE id = 3",
        ],
    )
    .await;
    assert_eq!(stdout(&o), "plum\n");

    // Table output.
    let o = mariadb_cli(
        &c,
        "app",
        &["-t", "-e", "SELECT id, name FROM shop.items WHERE id = 1"],
    )
    .await;
    let out = stdout(&o);
    assert!(
        out.contains("| id | name  |") && out.contains("|  1 | apple |"),
        "{out}"
    );

    let o = mariadb_cli(&c, "wrong", &["-e", "SELECT 1"]).await;
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("ERROR 1045 (28000)"), "{err}");

    let o = mariadb_cli(&c, "app", &["nosuchdb", "-e", "SELECT 1"]).await;
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("ERROR 1049 (42000)"), "{err}");
}
