//! Query digests (docs/observability.md): `SHOW SETWISE DIGESTS` counts what was
//! run per fingerprint (count, latency, rows, errors, sets), resets, and
//! `setwise digests` reads the same through the gateways' metrics ports.

use mysql_async::prelude::Queryable;
use mysql_async::Row;
use serde_json::Value;
use setwise_tests::{wait_until, Cluster};

struct D {
    text: String,
    count: u64,
    sum: u64,
    min: u64,
    max: u64,
    rows: u64,
    errors: u64,
    sets: String,
}

async fn digests(conn: &mut mysql_async::Conn, sql: &str) -> Vec<D> {
    let rows: Vec<Row> = conn.query(sql).await.unwrap();
    rows.into_iter()
        .map(|r| {
            let n = |i: usize| r.get::<u64, _>(i).unwrap();
            D {
                text: r.get(2).unwrap(),
                count: n(3),
                sum: n(4),
                min: n(5),
                max: n(6),
                rows: n(7),
                errors: n(8),
                sets: r.get(11).unwrap(),
            }
        })
        .collect()
}

fn one<'a>(ds: &'a [D], text: &str) -> &'a D {
    ds.iter().find(|d| d.text == text).unwrap_or_else(|| {
        panic!(
            "no digest {text:?} in {:?}",
            ds.iter().map(|d| &d.text).collect::<Vec<_>>()
        )
    })
}

/// A one-set cluster with a gateway (and its metrics port when `metrics`) and
/// a gateway user `ops` (password `ops`) without the admin privilege.
async fn with_ops(metrics: bool) -> Cluster {
    let c = Cluster::builder()
        .sets(1)
        .replicas(0)
        .proxy(true)
        .proxy_metrics(metrics)
        .start()
        .await
        .unwrap();
    let add = c
        .setwise(&[
            "user",
            "add",
            "ops",
            "--password",
            "ops",
            "--host",
            "127.0.0.0/8",
        ])
        .await
        .unwrap();
    assert!(add.status.success(), "{add:?}");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_match_the_statements_run() {
    let c = Cluster::builder()
        .sets(2)
        .replicas(0)
        .proxy(true)
        .proxy_metrics(true)
        .start()
        .await
        .unwrap();
    let mut conn = c.proxy_shop().await.unwrap();
    conn.query_drop("SHOW SETWISE DIGESTS RESET").await.unwrap();

    for i in 1..=6 {
        conn.query_drop(format!("INSERT INTO t VALUES ({i}, {})", i * 10))
            .await
            .unwrap();
    }
    for i in 1..=6 {
        let v: Option<i64> = conn
            .query_first(format!("SELECT v FROM t WHERE id = {i}"))
            .await
            .unwrap();
        assert_eq!(v, Some(i * 10));
    }
    let all: Vec<i64> = conn.query("SELECT v FROM t").await.unwrap();
    assert_eq!(all.len(), 6);
    for _ in 0..2 {
        assert!(conn
            .query_drop("SELECT nope FROM t WHERE id = 1")
            .await
            .is_err());
    }
    // Prepared statements are booked under their text too.
    let stmt = conn.prep("SELECT v FROM t WHERE id = ?").await.unwrap();
    let v: Option<i64> = conn.exec_first(&stmt, (2,)).await.unwrap();
    assert_eq!(v, Some(20));

    // A statement the gateway runs through another (SET STATEMENT ... FOR) is booked
    // once, under its own text, not again under the inner one.
    let v: Option<i64> = conn
        .query_first("SET STATEMENT max_statement_time = 10 FOR SELECT v FROM t WHERE id = 3")
        .await
        .unwrap();
    assert_eq!(v, Some(30));
    let ds = digests(&mut conn, "SHOW SETWISE DIGESTS").await;
    let ins = one(&ds, "INSERT INTO t VALUES (?,...)");
    assert_eq!((ins.count, ins.errors, ins.rows), (6, 0, 0));
    // (Which sets ids 1..=6 live on depends on the hash; the scan reaches both.)
    assert!(ins.sets.starts_with("set"), "{}", ins.sets);
    let point = one(&ds, "SELECT v FROM t WHERE id = ?");
    assert_eq!(point.count, 7, "6 texts and 1 prepared execution");
    assert_eq!(point.rows, 7);
    assert_eq!(point.errors, 0);
    assert!(point.min <= point.max && point.max <= point.sum && point.min > 0);
    assert_eq!(point.sets, ins.sets);
    let scan = one(&ds, "SELECT v FROM t");
    assert_eq!(
        (scan.count, scan.rows, scan.sets.as_str()),
        (1, 6, "set1,set2")
    );
    let bad = one(&ds, "SELECT nope FROM t WHERE id = ?");
    assert_eq!((bad.count, bad.errors, bad.rows), (2, 2, 0));
    // Largest total latency first.
    assert!(ds.windows(2).all(|w| w[0].sum >= w[1].sum));
    let top2 = digests(&mut conn, "SHOW SETWISE DIGESTS LIMIT 2").await;
    assert_eq!(top2.len(), 2);

    // `setwise digests` through the metrics port the gateway registered in etcd.
    let out = c
        .setwise(&["digests", "--top", "3", "--json"])
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 3);
    // (Which three lead depends on latencies: a loaded machine reorders them.)
    let all = c
        .setwise(&["digests", "--top", "50", "--json"])
        .await
        .unwrap();
    let json: Value = serde_json::from_slice(&all.stdout).unwrap();
    let list = json.as_array().unwrap();
    let p = list
        .iter()
        .find(|d| d["fingerprint"] == "SELECT v FROM t WHERE id = ?")
        .expect("the point read among the digests");
    assert!(p["count"].as_u64().unwrap() >= 7);
    assert_eq!(p["schema"], "shop");
    let table = c.setwise(&["digests"]).await.unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("DIGEST"), "{text}");
    assert!(text.contains("SELECT v FROM t WHERE id = ?"), "{text}");

    // Reset, through the CLI: the table starts again.
    let out = c
        .setwise(&[
            "digests",
            "--reset",
            "--user",
            "app",
            "--password",
            "app",
            "--json",
        ])
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let port = c.proxy_metrics_port();
    wait_until(
        "the digest table to be empty",
        std::time::Duration::from_secs(10),
        || async move {
            let body = setwise_tests::scrape::get(port, "/digests").await?;
            Ok(body.trim() == "[]")
        },
    )
    .await
    .unwrap();
    conn.query_drop("SELECT v FROM t WHERE id = 3")
        .await
        .unwrap();
    let ds = digests(&mut conn, "SHOW SETWISE DIGESTS").await;
    assert_eq!(ds.len(), 1, "only the statement after the reset");
    assert_eq!(one(&ds, "SELECT v FROM t WHERE id = ?").count, 1);
}

/// `SHOW SETWISE DIGESTS RESET` empties the digests of the whole gateway: like
/// MariaDB's `FLUSH`, it needs `RELOAD`, which only a user added with
/// `--admin yes` has. Others read the digests but get MariaDB's 1227 for the
/// reset (and nothing is reset); their `SHOW GRANTS` is MariaDB's for an
/// account with every privilege but `RELOAD`. The privilege is read at login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resetting_digests_needs_the_reload_privilege() {
    use mysql_async::{Conn, Opts};
    let c = with_ops(false).await;
    let opts: Opts = c.proxy_opts("ops", "ops", None);
    let connect = || Conn::new(opts.clone());
    wait_until(
        "the new user to reach the gateway",
        std::time::Duration::from_secs(10),
        || async { Ok(connect().await.is_ok()) },
    )
    .await
    .unwrap();
    let mut ops = connect().await.unwrap();
    for _ in 0..3 {
        ops.query_drop("SELECT 1 + 1").await.unwrap();
    }
    let total = |ds: &[D]| ds.iter().map(|d| d.count).sum::<u64>();
    let before = total(&digests(&mut ops, "SHOW SETWISE DIGESTS").await);
    assert!(before >= 3);
    let e = ops
        .query_drop("SHOW SETWISE DIGESTS RESET")
        .await
        .unwrap_err();
    match e {
        mysql_async::Error::Server(s) => {
            assert_eq!((s.code, s.state.as_str()), (1227, "42000"));
            assert_eq!(
                s.message,
                "Access denied; you need (at least one of) the RELOAD privilege(s) for this operation"
            );
        }
        other => panic!("{other:?}"),
    }
    // Nothing was reset.
    let after = total(&digests(&mut ops, "SHOW SETWISE DIGESTS").await);
    assert!(after >= before, "{before} -> {after}");
    // Its grants: MariaDB's for the same account without RELOAD.
    let m = c.primary("set1");
    m.exec(
        "CREATE USER 'ops'@'127.0.0.0/255.0.0.0' IDENTIFIED BY 'ops'; \
         GRANT ALL PRIVILEGES ON *.* TO 'ops'@'127.0.0.0/255.0.0.0'; \
         REVOKE RELOAD ON *.* FROM 'ops'@'127.0.0.0/255.0.0.0'",
    )
    .await
    .unwrap();
    let mut direct = Conn::new(m.opts("ops", "ops")).await.unwrap();
    let want: Vec<String> = direct.query("SHOW GRANTS").await.unwrap();
    let got: Vec<String> = ops.query("SHOW GRANTS").await.unwrap();
    assert_eq!(got, want);

    // Made an admin: a new connection may reset (the old one keeps what it
    // logged in with, as MariaDB's global privileges do).
    let add = c
        .setwise(&["user", "add", "ops", "--password", "ops", "--admin", "yes"])
        .await
        .unwrap();
    assert!(add.status.success(), "{add:?}");
    let list = c.setwise(&["user", "list"]).await.unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.lines()
            .any(|l| l.starts_with("ops") && l.ends_with("yes")),
        "{list}"
    );
    wait_until(
        "the admin privilege to reach the gateway",
        std::time::Duration::from_secs(10),
        || async {
            let mut conn = connect().await?;
            Ok(conn.query_drop("SHOW SETWISE DIGESTS RESET").await.is_ok())
        },
    )
    .await
    .unwrap();
    assert!(ops.query_drop("SHOW SETWISE DIGESTS RESET").await.is_err());
    let mut admin = connect().await.unwrap();
    let grants: Vec<String> = admin.query("SHOW GRANTS").await.unwrap();
    assert!(
        grants[0].starts_with("GRANT ALL PRIVILEGES ON *.*"),
        "{grants:?}"
    );
}

/// `/digests?reset=1` on the metrics port needs what `SHOW SETWISE DIGESTS
/// RESET` needs: an admin gateway user, by HTTP Basic authentication. Without
/// credentials, or with a wrong password, 401; a user without `--admin yes`,
/// 403; nothing is reset either way. `setwise digests --reset` names the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resetting_digests_over_http_needs_an_admin_user() {
    use setwise_tests::scrape;
    let c = with_ops(true).await;
    let mut conn = c.proxy_conn().await.unwrap();
    for _ in 0..3 {
        conn.query_drop("SELECT 1 + 1").await.unwrap();
    }
    let port = c.proxy_metrics_port();
    let basic = |token: &'static str| [("Authorization", token)];
    // ops:ops reaches the gateway with the routing.
    wait_until(
        "the new user to reach the gateway",
        std::time::Duration::from_secs(10),
        || async move {
            let (status, _, _) =
                scrape::request(port, "/digests?reset=1", &basic("Basic b3BzOm9wcw==")).await?;
            Ok(status == 403)
        },
    )
    .await
    .unwrap();
    for (headers, want) in [
        (&[][..], 401),
        // app:wrong
        (&basic("Basic YXBwOndyb25n")[..], 401),
        // nobody:app
        (&basic("Basic bm9ib2R5OmFwcA==")[..], 401),
        // ops:ops, not an admin
        (&basic("Basic b3BzOm9wcw==")[..], 403),
    ] {
        let (status, line, _) = scrape::request(port, "/digests?reset=1", headers)
            .await
            .unwrap();
        assert_eq!(status, want, "{headers:?}: {line}");
        let body = scrape::get(port, "/digests").await.unwrap();
        let list: Value = serde_json::from_str(&body).unwrap();
        assert!(
            !list.as_array().unwrap().is_empty(),
            "nothing reset after {headers:?}"
        );
    }
    // The CLI: --reset without a user is refused before any request.
    let out = c.setwise(&["digests", "--reset"]).await.unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--admin yes"),
        "{out:?}"
    );
    let out = c
        .setwise(&["digests", "--reset", "--user", "ops", "--password", "ops"])
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{out:?}"
    );
    // An admin (the cluster's app user) resets, through the port and the CLI.
    let (status, line, _) = scrape::request(
        port,
        "/digests?reset=1",
        &basic("Basic YXBwOmFwcA=="), // app:app
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{line}");
    assert_eq!(scrape::get(port, "/digests").await.unwrap().trim(), "[]");
    conn.query_drop("SELECT 1 + 1").await.unwrap();
    let out = c
        .setwise(&["digests", "--reset", "--user", "app", "--password", "app"])
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(scrape::get(port, "/digests").await.unwrap().trim(), "[]");
}
