//! How `setwise` fails, for scripts and DBAs: one `error: ...` line on stderr and
//! the exit code docs/cli.md lists (1 refused or failed, 3 etcd unreachable), for an
//! etcd nobody answers on, unknown names and refused requests; and the plain progress
//! lines of a wait when stdout is not a terminal.

use std::process::Output;

use setwise_tests::{bins, Cluster};

/// stderr as text, after checking it is one `error:` line.
fn one_error_line(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "not one line on stderr: {err:?}");
    assert!(lines[0].starts_with("error: "), "{err:?}");
    err
}

#[tokio::test]
async fn an_unreachable_etcd_is_one_line_and_exit_code_3() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let etcd = format!("http://127.0.0.1:{port}");
    for args in [
        &["status"][..],
        &["set", "list", "--json"],
        &["shardmap", "shop"],
    ] {
        let out = tokio::process::Command::new(bins::bin(bins::CLI))
            .args(["--etcd", &etcd])
            .args(args)
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}: {out:?}");
        let err = one_error_line(&out);
        assert!(
            err.contains(&format!("cannot reach etcd at {etcd}")),
            "{err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
}

#[tokio::test]
async fn unknown_names_and_refusals_exit_1_with_one_line() {
    let c = Cluster::builder()
        .sets(1)
        .replicas(1)
        .proxy(false)
        .start()
        .await
        .unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["shardmap", "nosuch"], "database nosuch not found"),
        (&["switchover", "--set", "nosuch"], "no set \"nosuch\""),
        (
            &["switchover", "--set", "set1", "--to", "nobody"],
            "nobody is not a node of set set1",
        ),
        (
            &["user", "reads", "nobody", "primary"],
            "user nobody does not exist",
        ),
        (
            &[
                "shard", "move", "--db", "nosuch", "--slots", "0-9", "--to", "set1",
            ],
            "nosuch",
        ),
    ];
    for (args, says) in cases {
        let out = c.setwise(args).await.unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let err = one_error_line(&out);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // No scheduler runs here: a switchover waits, says so on stdout, then gives up and
    // withdraws its request.
    let out = c
        .setwise(&["switchover", "--set", "set1", "--wait", "1"])
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = one_error_line(&out);
    assert!(
        err.contains("no scheduler leader took the request"),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        "switchover of set1: requested, waiting for the scheduler leader",
        "plain progress lines: {stdout:?}"
    );
    assert!(c.topo().get_request("set1").await.unwrap().is_none());
}
