//! `LOAD DATA LOCAL INFILE` through the gateway against a plain MariaDB: the
//! same file into a sharded table (rows routed by their key, duplicates
//! skipped or replaced, bad values warned), a broadcast table, a single table,
//! in a transaction rolled back, an empty file; the OK (affected rows,
//! `Records/Deleted/Skipped/Warnings`), `SHOW WARNINGS` and the tables'
//! contents must be MariaDB's. `LOAD DATA INFILE` without LOCAL is refused
//! (1235): it would read a file on a database server.

use mysql_async::prelude::Queryable;
use setwise_tests::diff::data::Data;
use setwise_tests::diff::{Diff, Q};

/// Gives `file` to both sides' next `LOAD DATA LOCAL`.
fn serve(d: &mut Diff, file: &'static str) {
    for conn in [&mut d.gw, &mut d.rf] {
        conn.set_infile_handler(async move {
            let s: mysql_async::InfileData = Box::pin(futures::stream::once(async move {
                Ok(bytes::Bytes::from_static(file.as_bytes()))
            }));
            Ok(s)
        });
    }
}

/// Loads `file` with `sql` on both sides, then compares the warnings.
async fn load(d: &mut Diff, what: &str, sql: &str, file: &'static str) {
    d.group(what);
    serve(d, file);
    d.run(&Q::any(sql)).await.unwrap();
    d.run(&Q::any("SHOW WARNINGS").with_message())
        .await
        .unwrap();
    d.run(&Q::any("SELECT @@warning_count")).await.unwrap();
}

const USERS: &str = "user_id,name,score,note\n\
    9000001,\"Ann, the first\",10,\\N\n\
    9000002,Bob,x20,plain\n\
    9000003,\"Cy \"\"Q\"\"\",30,\"multi\nline\"\n\
    9000004,Dee,40\n\
    9000005,Eve,50,extra,field\n\
    9000006,Fay,60,ok\n";

const AGAIN: &str = "9000001,Ann again,11\n9000007,Gus,70\n9000002,Bob again,21\n";

#[tokio::test]
async fn load_data_local_matches_a_plain_mariadb() {
    let data = Data::generate(20_261_208, 40, 60);
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.setup(&data).await.expect("create and load diffdb");

    load(
        &mut d,
        "sharded table, quoted fields, a header, bad values",
        "LOAD DATA LOCAL INFILE 'users.csv' INTO TABLE users FIELDS TERMINATED BY ',' \
         OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' IGNORE 1 LINES \
         (user_id, name, score, note)",
        USERS,
    )
    .await;
    load(
        &mut d,
        "sharded table, duplicates skipped, a column set from a variable",
        "LOAD DATA LOCAL INFILE 'again.csv' INTO TABLE users FIELDS TERMINATED BY ',' \
         (user_id, @n, score) SET name = UPPER(@n), city = 'loaded'",
        AGAIN,
    )
    .await;
    load(
        &mut d,
        "sharded table, REPLACE",
        "LOAD DATA LOCAL INFILE 'again.csv' REPLACE INTO TABLE users FIELDS TERMINATED BY ',' \
         (user_id, name, score)",
        AGAIN,
    )
    .await;
    load(
        &mut d,
        "broadcast table",
        "LOAD DATA LOCAL INFILE 'cities.tsv' IGNORE INTO TABLE cities (name, country)",
        "Lyon\tFR\nOsaka\tJP\nLyon\tdup\n",
    )
    .await;
    load(
        &mut d,
        "single table",
        "LOAD DATA LOCAL INFILE 'settings.txt' INTO TABLE settings FIELDS TERMINATED BY '='",
        "mode=fast\nlevel=3\n",
    )
    .await;
    load(
        &mut d,
        "an empty file",
        "LOAD DATA LOCAL INFILE 'empty.csv' INTO TABLE users FIELDS TERMINATED BY ','",
        "",
    )
    .await;
    d.group("in a transaction, rolled back");
    d.run(&Q::any("BEGIN")).await.unwrap();
    serve(&mut d, "9000101,Tx,1\n9000102,Ty,2\n9000103,Tz,3\n");
    d.run(&Q::any(
        "LOAD DATA LOCAL INFILE 't.csv' INTO TABLE users FIELDS TERMINATED BY ',' (user_id, name, score)",
    ))
    .await
    .unwrap();
    d.run(&Q::any(
        "SELECT user_id, name FROM users WHERE user_id > 9000100",
    ))
    .await
    .unwrap();
    d.run(&Q::any("ROLLBACK")).await.unwrap();

    d.group("table contents");
    d.run(&Q::any(
        "SELECT user_id, name, city, score, note FROM users WHERE user_id >= 9000000",
    ))
    .await
    .unwrap();
    d.compare_tables().await.unwrap();

    // Without LOCAL: a file on a database server, refused by the gateway.
    let e =
        d.gw.query_drop("LOAD DATA INFILE '/etc/hostname' INTO TABLE settings")
            .await
            .unwrap_err();
    match e {
        mysql_async::Error::Server(s) => assert_eq!(s.code, 1235, "{s:?}"),
        e => panic!("{e}"),
    }
    d.finish();
}
