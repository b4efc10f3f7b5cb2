//! The web console (`[console] listen`, scheduler/src/console/) in a real headless
//! browser: Debian's chromium driven through chromedriver (WebDriver, fantoccini).
//! The page loads against a running cluster, shows both sets with their primaries
//! and the slot ownership, the DDL tasks, the gateways' live load and top query
//! digests, and follows a switchover without a reload (its script
//! swaps in a fresh rendering every second). Its switchover button needs the
//! CLI's etcd credentials: refused (401) without them, nothing happens; with
//! them the switchover runs and the page follows it.

use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use setwise_tests::control::{wait_leader, ControlPlaneConfig};
use setwise_tests::process::ChildGuard;
use setwise_tests::{port, Cluster};

const WAIT: Duration = Duration::from_secs(60);

/// chromedriver on a free port, killed with the guard.
async fn chromedriver(c: &Cluster) -> (ChildGuard, port::Port) {
    let p = port::reserve();
    let mut cmd = std::process::Command::new("/usr/bin/chromedriver");
    cmd.arg(format!("--port={}", p.get()));
    let mut child = ChildGuard::spawn("chromedriver", cmd, &c.work_dir().join("chromedriver.log"))
        .expect("chromedriver (apt-get install chromium-driver)");
    setwise_tests::cluster::wait_accepting(&mut child, p.get(), WAIT)
        .await
        .unwrap();
    (child, p)
}

async fn browser(driver_port: u16) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,1000"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a chromium session through chromedriver")
}

/// The text of cell `col` (lower-case header) in the row of `#table` whose first
/// cell is `key`; read in one script run, since the page swaps its sections in every
/// second (an element found earlier may be gone).
async fn cell(b: &Client, table: &str, key: &str, col: &str) -> anyhow::Result<String> {
    let v = b
        .execute(
            "const [table, key, col] = arguments;
             for (const tr of document.querySelectorAll(`table#${table} tbody tr`)) {
               if (tr.cells[0].textContent === key) {
                 const td = tr.querySelector(`td[data-col=\"${col}\"]`);
                 return td ? td.textContent : null;
               }
             }
             return null;",
            vec![table.into(), key.into(), col.into()],
        )
        .await?;
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no cell {col} of row {key} in #{table}"))
}

/// `POST path` with a form `body` (and an `Authorization` header when given) on
/// `127.0.0.1:port`: the status code and the whole answer.
async fn post(port: u16, path: &str, body: &str, auth: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let work = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "POST {path} HTTP/1.0\r\nHost: localhost\r\n{auth}\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await?;
        let mut raw = String::new();
        s.read_to_string(&mut raw).await?;
        anyhow::Ok(raw)
    };
    let raw = tokio::time::timeout(WAIT, work).await.unwrap().unwrap();
    let code = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {raw:?}"));
    (code, raw)
}

/// The text of the element `css` (empty when there is none).
async fn text(b: &Client, css: &str) -> String {
    let v = b
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
            vec![css.into()],
        )
        .await
        .unwrap();
    v.as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn the_console_shows_the_sets_and_follows_a_switchover() {
    let c = Cluster::builder()
        .sets(2)
        .replicas(1)
        .proxy(true)
        .proxy_metrics(true)
        .start()
        .await
        .unwrap();
    let console = port::reserve();
    let cfg = ControlPlaneConfig {
        extra_toml: format!("\n[console]\nlisten = \"127.0.0.1:{}\"\n", console.get()),
        ..Default::default()
    };
    let _cp = c.start_control_plane_with(1, cfg).await.unwrap();
    wait_leader(c.topo(), None, WAIT).await.unwrap();
    c.create_db("shop", &["set1", "set2"]).await.unwrap();
    // A DDL through the gateway becomes a scheduler task, which the page lists.
    setwise_tests::retry("a table created through the gateway", WAIT, || async {
        use mysql_async::prelude::Queryable;
        let mut conn = c.proxy_conn().await?;
        conn.query_drop("CREATE TABLE IF NOT EXISTS shop.t (id BIGINT PRIMARY KEY) shardkey=id")
            .await?;
        for id in 1..=5 {
            conn.query_drop(format!("SELECT * FROM shop.t WHERE id = {id}"))
                .await?;
        }
        anyhow::Ok(())
    })
    .await
    .unwrap();
    let (_driver, driver_port) = chromedriver(&c).await;
    let b = browser(driver_port.get()).await;
    let url = format!("http://127.0.0.1:{}/", console.get());
    b.goto(&url).await.unwrap();
    assert!(b.title().await.unwrap().starts_with("Setwise"));

    let primaries = [("set1", "set1-n0"), ("set2", "set2-n0")];
    for (set, primary) in primaries {
        assert_eq!(cell(&b, "sets", set, "primary").await.unwrap(), primary);
    }
    let slots = text(&b, "table#slots").await;
    assert!(
        slots.contains("shop") && slots.contains("set1") && slots.contains("set2"),
        "{slots}"
    );
    let ddl = text(&b, "table#ddl").await;
    assert!(
        ddl.contains("CREATE TABLE IF NOT EXISTS shop.t") && ddl.contains("done"),
        "{ddl}"
    );
    // The gateways' metrics ports: the top digests and each gateway's live load.
    let digests = text(&b, "table#digests").await;
    assert!(digests.contains("shop.t"), "{digests}");
    setwise_tests::wait_until("the gateway's qps on the page", WAIT, || async {
        let v = b
            .execute(
                "const td = document.querySelector('table#gateways td[data-col=\"qps\"]');
                 return td ? td.textContent : '';",
                vec![],
            )
            .await?;
        Ok(v.as_str().is_some_and(|q| q.parse::<f64>().is_ok()))
    })
    .await
    .unwrap();
    // The script runs: the page says it is live.
    setwise_tests::wait_until("the page to refresh itself", WAIT, || async {
        let state = b
            .execute(
                "return document.getElementById('live').dataset.state;",
                vec![],
            )
            .await?;
        Ok(state.as_str() == Some("live"))
    })
    .await
    .unwrap();

    // etcd has no authentication here: nobody can be checked, so the console's
    // actions are refused and the switchover stays with the CLI.
    let (code, answer) = post(
        console.get(),
        "/actions/switchover",
        "set=set1&user=root&password=x",
        None,
    )
    .await;
    assert_eq!(code, 403, "{answer}");
    assert!(c.topo().get_request("set1").await.unwrap().is_none());

    let out = c
        .setwise(&[
            "switchover",
            "--set",
            "set1",
            "--to",
            "set1-n1",
            "--wait",
            "60",
        ])
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // No reload: the open page shows the new primary and the switchover.
    setwise_tests::wait_until("the page to show set1-n1 as primary", WAIT, || async {
        Ok(cell(&b, "sets", "set1", "primary").await? == "set1-n1")
    })
    .await
    .unwrap();
    setwise_tests::wait_until("the page to list the finished switchover", WAIT, || async {
        let f = text(&b, "table#failovers").await;
        Ok(f.contains("switchover") && f.contains("set1-n1"))
    })
    .await
    .unwrap();
    assert_eq!(
        cell(&b, "sets", "set2", "primary").await.unwrap(),
        "set2-n0"
    );
    if let Ok(path) = std::env::var("SETWISE_CONSOLE_SCREENSHOT") {
        let png = b.screenshot().await.unwrap();
        std::fs::write(path, png).unwrap();
    }
    b.close().await.unwrap();
}

/// The console's switchover button behind etcd's authentication (the CLI's):
/// without credentials, or with a wrong password, the POST is refused with 401
/// and nothing is requested; with them, the page's form requests the
/// switchover and the page it lands on follows it to its end.
#[tokio::test]
async fn the_switchover_button_needs_the_clis_etcd_credentials() {
    const PASSWORD: &str = "console-pw";
    let c = Cluster::builder()
        .sets(1)
        .replicas(1)
        .proxy(false)
        .start()
        .await
        .unwrap();
    // etcd's authentication on (registered sets and nodes stay), root for every
    // program and a DBA who may only read.
    let mut raw = c.etcd().raw_client().await.unwrap();
    raw.user_add("root", PASSWORD, None).await.unwrap();
    raw.user_grant_role("root", "root").await.unwrap();
    raw.user_add("viewer", "viewer-pw", None).await.unwrap();
    raw.auth_enable().await.unwrap();
    let authed = topo::EtcdConfig {
        user: "root".into(),
        password: PASSWORD.into(),
        ..c.etcd_config()
    };
    let t = topo::Topo::connect(&authed).await.unwrap();
    let creds = format!("[etcd]\nuser = \"root\"\npassword = \"{PASSWORD}\"\n");
    let agent_toml = c.work_dir().join("agent-auth.toml");
    std::fs::write(&agent_toml, &creds).unwrap();
    let agent_config = agent_toml.display().to_string();
    let _agents: Vec<ChildGuard> = ["set1-n0", "set1-n1"]
        .iter()
        .map(|n| c.spawn_agent(n, &["--config", &agent_config]).unwrap())
        .collect();
    let console = port::reserve();
    let cfg = ControlPlaneConfig {
        extra_toml: format!(
            "\n[console]\nlisten = \"127.0.0.1:{}\"\n\n{creds}",
            console.get()
        ),
        ..Default::default()
    };
    let sched_toml = c.work_dir().join("scheduler-auth.toml");
    std::fs::write(&sched_toml, cfg.toml()).unwrap();
    let _sched = c
        .spawn_scheduler("sched-1", &["--config", &sched_toml.display().to_string()])
        .unwrap();
    wait_leader(&t, None, WAIT).await.unwrap();
    setwise_tests::wait_until("both nodes' health reports", WAIT, || async {
        let h = t.list_health().await?;
        Ok(["set1-n0", "set1-n1"]
            .iter()
            .all(|n| h.iter().any(|r| r.node == *n && r.readable)))
    })
    .await
    .unwrap();
    setwise_tests::wait_until("the console to answer", WAIT, || async {
        Ok(setwise_tests::scrape::get(console.get(), "/").await.is_ok())
    })
    .await
    .unwrap();

    // Refused: no credentials, a wrong password (401, with a Basic challenge);
    // a user etcd does not let write (no request either).
    let body = "set=set1&to.set1=set1-n1";
    let (code, answer) = post(console.get(), "/actions/switchover", body, None).await;
    assert_eq!(code, 401, "{answer}");
    assert!(
        answer.contains("WWW-Authenticate: Basic") || answer.contains("www-authenticate: Basic"),
        "{answer}"
    );
    let (code, answer) = post(
        console.get(),
        "/actions/switchover",
        &format!("{body}&user=root&password=wrong"),
        None,
    )
    .await;
    assert_eq!(code, 401, "{answer}");
    // viewer:viewer-pw as HTTP Basic.
    let (code, answer) = post(
        console.get(),
        "/actions/switchover",
        body,
        Some("Basic dmlld2VyOnZpZXdlci1wdw=="),
    )
    .await;
    assert_eq!(code, 403, "{answer}");
    assert!(answer.contains("permission denied"), "{answer}");
    // A GET never acts.
    assert!(
        setwise_tests::scrape::get(console.get(), "/actions/switchover")
            .await
            .is_err()
    );
    assert!(t.get_request("set1").await.unwrap().is_none());
    assert!(t.list_failovers(Some("set1")).await.unwrap().is_empty());
    assert!(t.get_op("set1").await.unwrap().is_none());

    // With the credentials, through the page's form.
    let (_driver, driver_port) = chromedriver(&c).await;
    let b = browser(driver_port.get()).await;
    b.goto(&format!("http://127.0.0.1:{}/", console.get()))
        .await
        .unwrap();
    assert_eq!(
        cell(&b, "sets", "set1", "primary").await.unwrap(),
        "set1-n0"
    );
    use fantoccini::Locator;
    b.find(Locator::Id("user"))
        .await
        .unwrap()
        .send_keys("root")
        .await
        .unwrap();
    b.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    b.find(Locator::Css("select#to-set1 option[value='set1-n1']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.find(Locator::Id("switchover-set1"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The page it lands on follows the switchover to its end, without a reload.
    setwise_tests::wait_until("the page to show the switchover done", WAIT, || async {
        Ok(text(&b, "#action[data-state=done]").await.contains("done"))
    })
    .await
    .unwrap();
    let line = text(&b, "#action").await;
    assert!(line.contains("set1-n0 -> set1-n1"), "{line}");
    assert!(b.current_url().await.unwrap().as_str().contains("request="));
    setwise_tests::wait_until("the page to show set1-n1 as primary", WAIT, || async {
        Ok(cell(&b, "sets", "set1", "primary").await? == "set1-n1")
    })
    .await
    .unwrap();
    // The request was the CLI's kind, made by the console for root.
    let done = t.list_failovers(Some("set1")).await.unwrap();
    assert_eq!(done.len(), 1);
    assert!(
        done[0]
            .request_id
            .as_deref()
            .is_some_and(|id| id.ends_with("-console-root")),
        "{:?}",
        done[0].request_id
    );
    b.close().await.unwrap();
}
