use super::*;
use crate::explain::ExplainKind;

fn cmd(sql: &str) -> Command {
    Statement::lex(sql).unwrap().command
}

fn ddl(sql: &str) -> Ddl {
    match cmd(sql) {
        Command::Ddl(d) => d,
        c => panic!("{sql}: {c:?}"),
    }
}

fn table(db: Option<&str>, name: &str) -> TableName {
    TableName {
        db: db.map(str::to_string),
        name: name.to_string(),
    }
}

#[test]
fn verb_and_words() {
    let s = Statement::lex("(SELECT 1) UNION (SELECT 2)").unwrap();
    assert_eq!(s.verb, "SELECT");
    assert_eq!(s.word(0), "");
    assert_eq!(s.word(1), "SELECT");
    assert_eq!(s.kind_label(), "select");
    assert!(!s.is_write());
    let s = Statement::lex("  /* c */ insert INTO t VALUES (1)").unwrap();
    assert_eq!(
        (s.verb.as_str(), s.word(1), s.word(2)),
        ("INSERT", "INTO", "T")
    );
    assert_eq!(s.word(3), "");
    assert!(s.is_write());
    assert_eq!(s.command, Command::Query);
    assert!(Statement::lex("SELECT 'unterminated").is_err());
    let empty = Statement::new("", Vec::new());
    assert_eq!((empty.verb.as_str(), empty.kind_label()), ("", "other"));
    assert_eq!(empty.command, Command::Query);
}

#[test]
fn account_management() {
    for (sql, what) in [
        ("GRANT ALL ON *.* TO u", "GRANT"),
        ("revoke select on t from u", "REVOKE"),
        ("SET PASSWORD = PASSWORD('x')", "SET PASSWORD"),
        ("SET ROLE r", "SET ROLE"),
        ("SET DEFAULT ROLE r FOR u", "SET DEFAULT ROLE"),
        ("SHOW CREATE USER u", "SHOW CREATE USER"),
        ("SELECT * FROM mysql.user", "reading `mysql`.`user`"),
        (
            "SELECT * FROM `INFORMATION_SCHEMA`.`USER_PRIVILEGES`",
            "reading `information_schema`.`user_privileges`",
        ),
    ] {
        assert_eq!(cmd(sql), Command::AccountManagement(what.into()), "{sql}");
    }
    // Account management wins over every other kind.
    assert!(matches!(
        cmd("SHOW GRANTS FOR u FROM mysql.db"),
        Command::AccountManagement(_)
    ));
    assert_eq!(cmd("SELECT user FROM t"), Command::Query);
}

#[test]
fn diagnostics_reads() {
    for sql in [
        "SHOW WARNINGS",
        "show errors limit 1",
        "SHOW COUNT(*) WARNINGS",
        "SELECT @@warning_count",
        "SELECT @@session.error_count, 1",
    ] {
        assert_eq!(cmd(sql), Command::DiagnosticsRead, "{sql}");
    }
    assert_eq!(cmd("SELECT @@warning_count FROM t"), Command::Query);
    assert_eq!(cmd("SELECT @@version"), Command::Query);
}

#[test]
fn explains() {
    let Command::Explain(req) = cmd("EXPLAIN SELECT * FROM t") else {
        panic!()
    };
    assert_eq!(req.kind, ExplainKind::Sets);
    let Command::Explain(req) = cmd("EXPLAIN SETWISE UPDATE t SET a = 1") else {
        panic!()
    };
    assert_eq!(req.kind, ExplainKind::Gateway);
    // DESCRIBE of a table is SHOW COLUMNS.
    assert_eq!(cmd("DESCRIBE t"), Command::Show(Show::Forward));
    assert_eq!(cmd("DESC t"), Command::Show(Show::Forward));
}

#[test]
fn use_and_transactions() {
    assert_eq!(cmd("USE `my db`"), Command::Use(Some("my db".into())));
    assert_eq!(cmd("USE"), Command::Use(None));
    assert_eq!(
        cmd("BEGIN"),
        Command::Begin(Begin {
            access: None,
            consistent_snapshot: false
        })
    );
    assert_eq!(
        cmd("START TRANSACTION READ WRITE, WITH CONSISTENT SNAPSHOT, READ ONLY"),
        Command::Begin(Begin {
            access: Some("READ ONLY"),
            consistent_snapshot: true
        })
    );
    // START SLAVE and the like are not transactions.
    assert_eq!(cmd("START SLAVE"), Command::Query);
    assert_eq!(cmd("COMMIT WORK"), Command::End { commit: true });
    assert_eq!(cmd("ROLLBACK"), Command::End { commit: false });
}

#[test]
fn savepoints() {
    let sp = |sql| match cmd(sql) {
        Command::Savepoint { op, name } => (op, name),
        c => panic!("{sql}: {c:?}"),
    };
    assert_eq!(sp("SAVEPOINT a"), (SavepointOp::Set, Some("a".into())));
    assert_eq!(
        sp("ROLLBACK WORK TO SAVEPOINT `b c`;"),
        (SavepointOp::RollbackTo, Some("b c".into()))
    );
    assert_eq!(
        sp("RELEASE SAVEPOINT s"),
        (SavepointOp::Release, Some("s".into()))
    );
    assert_eq!(sp("SAVEPOINT"), (SavepointOp::Set, None));
    assert_eq!(sp("ROLLBACK TO 'x'"), (SavepointOp::RollbackTo, None));
}

#[test]
fn shows() {
    for (sql, show) in [
        ("SHOW PROCESSLIST", Show::Processlist { full: false }),
        ("show full processlist", Show::Processlist { full: true }),
        ("SHOW STATUS LIKE 'Ssl%'", Show::Status),
        ("SHOW SESSION STATUS", Show::Status),
        ("SHOW LOCAL VARIABLES", Show::Variables),
        ("SHOW VARIABLES LIKE 'x'", Show::Variables),
        ("SHOW SETWISE DIGESTS", Show::Digests),
        ("SHOW GRANTS", Show::Grants),
        ("SHOW DATABASES", Show::Databases),
        ("SHOW SCHEMAS", Show::Databases),
        ("SHOW GLOBAL STATUS", Show::Forward),
        ("SHOW TABLES", Show::Forward),
    ] {
        assert_eq!(cmd(sql), Command::Show(show), "{sql}");
    }
}

#[test]
fn session_statements() {
    assert_eq!(cmd("KILL QUERY 7"), Command::Kill);
    assert_eq!(cmd("XA START 'x'"), Command::Xa);
    assert_eq!(cmd("LOCK TABLES t READ"), Command::Lock(LockKind::Tables));
    assert_eq!(cmd("lock table t write"), Command::Lock(LockKind::Tables));
    assert_eq!(cmd("UNLOCK TABLES"), Command::Lock(LockKind::Unlock));
    assert_eq!(cmd("UNLOCK TABLES t"), Command::Lock(LockKind::Other));
    assert_eq!(
        cmd("FLUSH TABLES WITH READ LOCK"),
        Command::Lock(LockKind::GlobalRead)
    );
    assert_eq!(
        cmd("flush local tables with read lock"),
        Command::Lock(LockKind::GlobalRead)
    );
    assert_eq!(cmd("FLUSH  TABLES"), Command::Lock(LockKind::FlushTables));
    assert_eq!(cmd("FLUSH TABLES t WITH READ LOCK"), Command::Query);
    assert_eq!(cmd("FLUSH LOGS"), Command::Query);
    assert_eq!(cmd("SET @a = 1"), Command::Set);
    assert_eq!(
        cmd("SET STATEMENT max_statement_time=1 FOR SELECT 1"),
        Command::Set
    );
    assert_eq!(cmd("CREATE TEMPORARY TABLE t (a INT)"), Command::Temporary);
    assert_eq!(cmd("DROP TEMPORARY TABLE IF EXISTS t"), Command::Temporary);
}

#[test]
fn sql_prepared() {
    let p = |sql| match cmd(sql) {
        Command::SqlPrepared(p) => p,
        c => panic!("{sql}: {c:?}"),
    };
    assert_eq!(
        p("PREPARE `S1` FROM 'SELECT ?'"),
        SqlPrepared {
            op: SqlOp::Prepare,
            name: "S1".into(),
            name_at: 1
        }
    );
    assert_eq!(p("EXECUTE s USING @a").op, SqlOp::Execute);
    let d = p("DEALLOCATE PREPARE s");
    assert_eq!(
        (d.op, d.name.as_str(), d.name_at),
        (SqlOp::Deallocate, "s", 2)
    );
    assert_eq!(cmd("DEALLOCATE s"), Command::Query);
    assert_eq!(cmd("EXECUTE"), Command::Query);
}

#[test]
fn databases() {
    assert_eq!(
        ddl("CREATE DATABASE IF NOT EXISTS d"),
        Ddl::CreateDatabase {
            if_not_exists: true,
            name: Ok("d".into())
        }
    );
    assert_eq!(
        ddl("DROP SCHEMA `x`"),
        Ddl::DropDatabase {
            if_exists: false,
            name: Ok("x".into())
        }
    );
    assert_eq!(
        ddl("DROP DATABASE IF EXISTS"),
        Ddl::DropDatabase {
            if_exists: true,
            name: Err("DROP DATABASE needs a name")
        }
    );
}

#[test]
fn tables() {
    assert_eq!(
        ddl("CREATE OR REPLACE TABLE IF NOT EXISTS d.t (a INT) shardkey=a"),
        Ddl::CreateTable(Ok(table(Some("d"), "t")))
    );
    assert_eq!(
        ddl("CREATE TABLE (a INT)"),
        Ddl::CreateTable(Err("CREATE TABLE needs a name"))
    );
    assert_eq!(
        ddl("DROP TABLE IF EXISTS a, `d`.b"),
        Ddl::DropTable {
            if_exists: true,
            tables: vec![
                (table(None, "a"), "a".into()),
                (table(Some("d"), "b"), "`d`.b".into())
            ]
        }
    );
    assert_eq!(
        ddl("ALTER ONLINE TABLE t ADD c INT"),
        Ddl::AlterTable { at: 2 }
    );
    assert_eq!(
        ddl("TRUNCATE TABLE d.t"),
        Ddl::Truncate(Ok(table(Some("d"), "t")))
    );
    assert_eq!(ddl("TRUNCATE t"), Ddl::Truncate(Ok(table(None, "t"))));
    assert_eq!(
        ddl("CREATE UNIQUE INDEX i ON t (a)"),
        Ddl::Index(Ok(table(None, "t")))
    );
    assert_eq!(
        ddl("DROP INDEX i"),
        Ddl::Index(Err("index statement without ON <table>"))
    );
    assert_eq!(ddl("RENAME TABLE a TO b"), Ddl::RenameTable);
}

#[test]
fn routines_sequences_and_others() {
    let Ddl::Routine(h) = ddl("CREATE VIEW IF NOT EXISTS d.v AS SELECT 1") else {
        panic!()
    };
    assert_eq!(
        (
            h.kind,
            h.if_exists,
            h.db.as_deref(),
            h.name.as_str(),
            h.after
        ),
        ("VIEW", true, Some("d"), "v", 8)
    );
    assert!(matches!(
        ddl("CREATE DEFINER = u@h SQL SECURITY INVOKER VIEW v AS SELECT 1"),
        Ddl::Routine(Header { kind: "VIEW", .. })
    ));
    assert!(matches!(ddl("DROP PROCEDURE p"), Ddl::Routine(_)));
    assert_eq!(
        ddl("CREATE OR REPLACE SEQUENCE IF NOT EXISTS s"),
        Ddl::Sequence(Ok(table(None, "s")))
    );
    assert_eq!(
        ddl("ALTER SEQUENCE d.s RESTART"),
        Ddl::Sequence(Ok(table(Some("d"), "s")))
    );
    assert_eq!(
        ddl("CREATE USER u"),
        Ddl::Other("CREATE".into(), "USER".into())
    );
    assert_eq!(
        ddl("RENAME USER a TO b"),
        Ddl::Other("RENAME".into(), "USER".into())
    );
}

#[test]
fn lexed_tables_and_if_exists() {
    let s = Statement::lex("SELECT GET_LOCK('x', 1) FROM d.t JOIN u").unwrap();
    let names: Vec<_> = s.tables().into_iter().map(|t| (t.db, t.name)).collect();
    assert_eq!(names, [(Some("d".into()), "t".into()), (None, "u".into())]);
    assert!(Statement::lex("SELECT 1 FROM DUAL")
        .unwrap()
        .tables()
        .is_empty());
    let s = Statement::lex("DROP TABLE IF EXISTS t").unwrap();
    assert_eq!(if_exists(s.sql, &s.sig, 2), (true, 4));
    assert_eq!(if_exists(s.sql, &s.sig, 4), (false, 4));
}
