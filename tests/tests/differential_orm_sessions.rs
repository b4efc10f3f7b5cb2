//! What ORMs send, through the gateway and on one plain MariaDB: PyMySQL's
//! `autocommit = 0`, `INSERT ... RETURNING` (Django's bulk_create), and generated
//! reads of the shapes ORM compilers write; the same rows, ids, column definitions
//! and errors. See `setwise_tests::diff::orm_sessions` and `diff::orm_reads`.
//! `SETWISE_DIFF_SEED=n` explores other generated reads.

use mysql_async::prelude::Queryable;
use setwise_tests::diff::data::Data;
use setwise_tests::diff::reads::Gen;
use setwise_tests::diff::{orm_reads, orm_sessions, Diff};

#[tokio::test]
async fn orm_sessions_and_reads_match_a_plain_mariadb() {
    let data = Data::generate(20_240_601, 300, 1000);
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.setup(&data).await.expect("create and load diffdb");
    for (_, gw_ddl, rf_ddl) in orm_sessions::tables() {
        d.gw.query_drop(gw_ddl).await.unwrap();
        d.rf.query_drop(rf_ddl).await.unwrap();
    }
    d.group("autocommit = 0 (PyMySQL's default): implicit transactions, ids");
    d.run_all(&orm_sessions::autocommit_off()).await.unwrap();
    d.group("sql_select_limit over sets; the gateway's own variables' types");
    d.run_all(&orm_sessions::select_limit()).await.unwrap();
    d.group("INSERT / DELETE ... RETURNING on one set and on several");
    // Per session mode, 8 ids above 1000: 4 on each set.
    let spread: [Vec<i64>; 3] = std::array::from_fn(|m| {
        let from = 1000 * (m as i64 + 1);
        let mut by_set: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
        for id in from..from + 1000 {
            let v = by_set.entry(d.owner(id)).or_default();
            if v.len() < 4 {
                v.push(id);
            }
        }
        assert!(by_set.len() > 1, "ids on both sets");
        let mut ids: Vec<i64> = by_set.into_values().flatten().collect();
        ids.sort_unstable();
        ids
    });
    d.run_all(&orm_sessions::returning(&spread)).await.unwrap();

    let seed = std::env::var("SETWISE_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(23);
    let mut g = Gen::new(seed, &data, d.shard_map());
    d.group("ORM-shaped reads across sets");
    d.run_all(&orm_reads::orm_reads(&mut g, 160)).await.unwrap();
    d.group("outer join across sets: expressions over the null-extended table");
    d.run_all(&orm_reads::outer_join_nulls()).await.unwrap();
    d.group("join across sets: expressions whose span is their operand");
    d.run_all(&orm_reads::join_operand_spans()).await.unwrap();
    d.group("INTERSECT, EXCEPT, UNION of ordered and limited branches over sharded tables");
    d.run_all(&orm_reads::set_operations()).await.unwrap();
    d.group("JSON join keys across sets");
    let (gw_json, rf_json) = orm_reads::json_tables();
    for s in gw_json {
        d.gw.query_drop(s).await.unwrap();
    }
    for s in rf_json {
        d.rf.query_drop(s).await.unwrap();
    }
    d.run_all(&orm_reads::json_keys()).await.unwrap();
    d.group("a JSON column joined with a text column across sets");
    d.run_all(&orm_reads::json_text_keys()).await.unwrap();
    d.group("ORM-shaped reads, autocommit = 0");
    d.run(&setwise_tests::diff::Q::any("SET autocommit = 0"))
        .await
        .unwrap();
    d.run_all(&orm_reads::orm_reads(&mut g, 40)).await.unwrap();
    d.finish();
}
