//! TLS (docs/tls.md), with a CA and certificates made here (rcgen):
//! * the gateway offers TLS only with `[tls]` set; the mariadb CLI with `--ssl
//!   --ssl-ca --ssl-verify-server-cert`, mysql_async, PyMySQL and Connector/J
//!   (verify-ca) connect through it and see their own `Ssl_version` / `Ssl_cipher`;
//! * a user added `--require ssl` is refused on a plain connection with 1045, as
//!   MariaDB refuses `REQUIRE SSL` accounts, and admitted over TLS;
//! * a client that sends garbage instead of a TLS ClientHello loses its own
//!   connection, nobody else's;
//! * `[backend.tls]`: the gateway reaches primaries whose account requires SSL;
//! * `[etcd]` with `ca` and `user`/`password`: topo works against an etcd with TLS
//!   and authentication on, and is refused without the password.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, SslOpts};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use setwise_tests::util::ci;
use setwise_tests::Cluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bound of one client program run.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const DRIVER: &str = "/usr/share/java/mariadb-java-client.jar";
/// CLIENT_SSL in the greeting's capability flags.
const CLIENT_SSL: u32 = 0x800;

/// A CA and one certificate it signed for `127.0.0.1` and `localhost`, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "Setwise test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut srv = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        srv.distinguished_name.push(DnType::CommonName, "localhost");
        let cert = srv.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("server-key.pem"), key.serialize_pem()).unwrap();
        if let Some(keep) = std::env::var_os("SETWISE_TLS_KEEP_PKI") {
            for f in ["ca.pem", "server.pem", "server-key.pem"] {
                std::fs::copy(dir.path().join(f), Path::new(&keep).join(f)).unwrap();
            }
        }
        Self { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }
    /// The gateway's `[tls]` section.
    fn proxy_toml(&self) -> String {
        format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            self.path("server.pem").display(),
            self.path("server-key.pem").display()
        )
    }
    /// mysql_async options verifying the gateway against the CA.
    fn ssl_opts(&self) -> SslOpts {
        SslOpts::default()
            .with_root_certs(vec![self.ca().into()])
            .with_disable_built_in_roots(true)
    }
}

/// Two sets without replicas and a gateway with `[tls]` on.
async fn cluster_with_tls(pki: &Pki) -> Cluster {
    let mut c = Cluster::builder()
        .sets(2)
        .replicas(0)
        .proxy(true)
        .start()
        .await
        .unwrap();
    c.set_proxy_extra(&pki.proxy_toml());
    c.start_proxy().await.unwrap();
    c
}

fn opts(c: &Cluster, user: &str, password: &str, ssl: Option<SslOpts>) -> Opts {
    OptsBuilder::from_opts(c.proxy_opts(user, password, None))
        .ssl_opts(ssl)
        .into()
}

async fn connect(opts: Opts) -> Result<Conn, mysql_async::Error> {
    tokio::time::timeout(Duration::from_secs(10), Conn::new(opts))
        .await
        .expect("connect within 10 s")
}

async fn status_var(conn: &mut Conn, name: &str) -> String {
    let row: Option<(String, String)> = conn
        .query_first(format!("SHOW STATUS LIKE '{name}'"))
        .await
        .unwrap();
    row.map(|(_, v)| v).unwrap_or_default()
}

async fn run(cmd: &mut tokio::process::Command, what: &str) -> std::process::Output {
    let fut = cmd.stdin(Stdio::null()).kill_on_drop(true).output();
    tokio::time::timeout(RUN_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {RUN_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// The mariadb CLI against the gateway as `user`, with `tls_args`, running `sql`.
async fn mariadb_cli(
    c: &Cluster,
    user: &str,
    tls_args: &[String],
    sql: &str,
) -> std::process::Output {
    let port = c.proxy_port().to_string();
    run(
        tokio::process::Command::new("mariadb")
            .args(["--no-defaults", "--protocol=TCP", "-h", "127.0.0.1"])
            .args(["-P", &port, "-u", user, &format!("-p{user}"), "--batch"])
            .args(tls_args)
            .args(["-e", sql]),
        "mariadb",
    )
    .await
}

/// The greeting's capability flags (both halves) from the gateway at `port`, on a
/// new TCP connection left open.
async fn greeting_caps(port: u16) -> (tokio::net::TcpStream, u32) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut hdr = [0u8; 4];
    s.read_exact(&mut hdr).await.unwrap();
    let len = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], 0]) as usize;
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).await.unwrap();
    // version, NUL, thread id (4), salt part 1 (8), filler (1), caps low (2),
    // collation (1), status (2), caps high (2).
    let at = p.iter().position(|&b| b == 0).unwrap() + 1 + 4 + 8 + 1;
    let low = u16::from_le_bytes([p[at], p[at + 1]]) as u32;
    let high = u16::from_le_bytes([p[at + 5], p[at + 6]]) as u32;
    (s, low | (high << 16))
}

#[tokio::test]
async fn tls_offered_only_when_configured_and_garbage_harms_nobody() {
    let pki = Pki::new();
    let mut c = Cluster::builder()
        .sets(1)
        .replicas(0)
        .proxy(true)
        .start()
        .await
        .unwrap();
    let (_s, caps) = greeting_caps(c.proxy_port()).await;
    assert_eq!(caps & CLIENT_SSL, 0, "CLIENT_SSL offered without [tls]");
    c.set_proxy_extra(&pki.proxy_toml());
    c.start_proxy().await.unwrap();

    // A TLS client connected before the garbage.
    let mut good = connect(opts(&c, "app", "app", Some(pki.ssl_opts())))
        .await
        .unwrap();
    let (mut bad, caps) = greeting_caps(c.proxy_port()).await;
    assert_ne!(caps & CLIENT_SSL, 0, "CLIENT_SSL not offered with [tls]");
    // SSLRequest (seq 1): capabilities with CLIENT_SSL, max packet, collation, filler.
    let mut req = vec![32, 0, 0, 1];
    let client_caps: u32 = 0x0000_0200 | 0x0000_8000 | CLIENT_SSL | 0x0008_0000;
    req.extend_from_slice(&client_caps.to_le_bytes());
    req.extend_from_slice(&(16u32 << 20).to_le_bytes());
    req.push(45);
    req.extend_from_slice(&[0u8; 23]);
    // Then garbage instead of a ClientHello.
    req.extend_from_slice(b"GET / HTTP/1.1\r\nHost: nobody\r\n\r\n");
    req.extend_from_slice(&[0xffu8; 300]);
    bad.write_all(&req).await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(15), bad.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the gateway kept a connection that sent garbage instead of a ClientHello"
    );

    // The other client is unharmed, and new ones connect, with and without TLS.
    let one: Option<i64> = good.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    assert_eq!(status_var(&mut good, "Ssl_version").await, "TLSv1.3");
    let mut plain = connect(opts(&c, "app", "app", None)).await.unwrap();
    assert_eq!(status_var(&mut plain, "Ssl_cipher").await, "");
    let mut again = connect(opts(&c, "app", "app", Some(pki.ssl_opts())))
        .await
        .unwrap();
    assert!(!status_var(&mut again, "Ssl_cipher").await.is_empty());
    assert!(
        c.proxy_process().unwrap().is_running(),
        "gateway died: {}",
        c.proxy_log().display()
    );
}

#[tokio::test]
async fn tls_mariadb_cli_verifies_the_gateway_and_require_ssl_users() {
    let pki = Pki::new();
    let c = cluster_with_tls(&pki).await;
    let ca = format!("--ssl-ca={}", pki.ca().display());
    let verified = vec![
        "--ssl".to_string(),
        ca.clone(),
        "--ssl-verify-server-cert".into(),
    ];

    let out = mariadb_cli(
        &c,
        "app",
        &verified,
        "SELECT 40 + 2 AS answer; SHOW STATUS LIKE 'Ssl_version'; \\s",
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "mariadb --ssl failed: {stdout}{}\ngateway log: {}",
        String::from_utf8_lossy(&out.stderr),
        c.proxy_log().display()
    );
    assert!(stdout.contains("answer\n42\n"), "{stdout}");
    assert!(stdout.contains("Ssl_version\tTLSv1.3"), "{stdout}");
    assert!(
        stdout.contains("Cipher in use is TLS_"),
        "`status` shows no cipher: {stdout}"
    );

    // A certificate that does not name the host connected to fails verification.
    let out = run(
        tokio::process::Command::new("mariadb")
            .args(["--no-defaults", "--protocol=TCP", "-h", "127.0.0.2"])
            .args(["-P", &c.proxy_port().to_string(), "-u", "app", "-papp"])
            .args(&verified)
            .args(["-e", "SELECT 1"]),
        "mariadb",
    )
    .await;
    assert!(
        !out.status.success(),
        "a wrong host name passed verification"
    );

    // REQUIRE SSL, given with the command line.
    let add = c
        .setwise(&[
            "user",
            "add",
            "sec",
            "--password",
            "sec",
            "--require",
            "ssl",
        ])
        .await
        .unwrap();
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let list = c.setwise(&["user", "list"]).await.unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.lines()
            .any(|l| l.starts_with("sec") && l.split_whitespace().any(|w| w == "ssl")),
        "{list}"
    );
    // Routing (users included) reaches the gateway through the etcd watch.
    let sec_opts = opts(&c, "sec", "sec", Some(pki.ssl_opts()));
    setwise_tests::wait_until(
        "the new user to reach the gateway",
        Duration::from_secs(10),
        || {
            let o = sec_opts.clone();
            async move { Ok(connect(o).await.is_ok()) }
        },
    )
    .await
    .unwrap();
    let mut sec = connect(sec_opts).await.unwrap();
    let cipher = status_var(&mut sec, "Ssl_cipher").await;
    assert!(cipher.starts_with("TLS_"), "Ssl_cipher {cipher:?}");

    let e = connect(opts(&c, "sec", "sec", None)).await.unwrap_err();
    match e {
        mysql_async::Error::Server(s) => {
            assert_eq!((s.code, s.state.as_str()), (1045, "28000"), "{}", s.message);
            assert!(
                s.message
                    .starts_with("Access denied for user 'sec'@'127.0.0.1'"),
                "{}",
                s.message
            );
        }
        other => panic!("expected 1045, got {other:?}"),
    }
    // Nor by COM_CHANGE_USER on a plain connection (MariaDB closes it after).
    let mut plain = connect(opts(&c, "app", "app", None)).await.unwrap();
    let to_sec = mysql_async::ChangeUserOpts::default()
        .with_user(Some("sec".into()))
        .with_pass(Some("sec".into()));
    match plain.change_user(to_sec).await {
        Err(mysql_async::Error::Server(s)) => assert_eq!(s.code, 1045, "{}", s.message),
        other => panic!("COM_CHANGE_USER to a REQUIRE SSL user without TLS: {other:?}"),
    }
    let mut tls_app = connect(opts(&c, "app", "app", Some(pki.ssl_opts())))
        .await
        .unwrap();
    let to_sec = mysql_async::ChangeUserOpts::default()
        .with_user(Some("sec".into()))
        .with_pass(Some("sec".into()));
    tls_app.change_user(to_sec).await.unwrap();
    let me: Option<String> = tls_app.query_first("SELECT CURRENT_USER()").await.unwrap();
    assert_eq!(me.as_deref(), Some("sec@%"));
    let out = mariadb_cli(&c, "sec", &["--skip-ssl".into()], "SELECT 1").await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("1045"), "{stderr}");
    let out = mariadb_cli(&c, "sec", &verified, "SELECT CURRENT_USER()").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An existing user keeps REQUIRE SSL when re-added without --require.
    c.setwise(&["user", "add", "sec", "--password", "sec"])
        .await
        .unwrap();
    let list = c.setwise(&["user", "list"]).await.unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.lines()
            .any(|l| l.starts_with("sec") && l.split_whitespace().any(|w| w == "ssl")),
        "{list}"
    );
}

/// Whether python3 can import `pymysql`; a skip (said loudly) without it, unless CI.
async fn have_pymysql() -> bool {
    let probe = tokio::process::Command::new("python3")
        .args(["-c", "import pymysql"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success());
    if !probe {
        let msg = "python3 cannot import pymysql: python3 -m pip install PyMySQL";
        assert!(!ci(), "{msg} (CI is set, so a missing client is a failure)");
        eprintln!("SKIPPED PyMySQL over TLS: {msg}");
    }
    probe
}

/// Whether javac and the MariaDB JDBC driver are there (as clients_java.rs).
async fn have_java() -> bool {
    let javac = tokio::process::Command::new("javac")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success());
    let ok = javac && Path::new(DRIVER).exists();
    if !ok {
        let msg = "javac or the MariaDB JDBC driver is missing: apt-get install default-jdk-headless libmariadb-java";
        assert!(!ci(), "{msg} (CI is set, so a missing client is a failure)");
        eprintln!("SKIPPED Connector/J over TLS: {msg}");
    }
    ok
}

const PY_TLS: &str = r#"
import sys, pymysql
host, port, user, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = pymysql.connect(host=host, port=port, user=user, password=user,
                    ssl_ca=ca, ssl_verify_cert=True, ssl_verify_identity=True)
cur = c.cursor()
cur.execute("SELECT 6 * 7")
assert cur.fetchone()[0] == 42
cur.execute("SHOW STATUS LIKE 'Ssl_version'")
print("version=" + cur.fetchone()[1])
print("ALL OK")
"#;

#[tokio::test]
async fn tls_pymysql_and_connector_j_verify_ca() {
    let pki = Pki::new();
    let c = cluster_with_tls(&pki).await;
    let add = c
        .setwise(&[
            "user",
            "add",
            "sec",
            "--password",
            "sec",
            "--require",
            "ssl",
        ])
        .await
        .unwrap();
    assert!(add.status.success());
    let sec_opts = opts(&c, "sec", "sec", Some(pki.ssl_opts()));
    setwise_tests::wait_until(
        "the new user to reach the gateway",
        Duration::from_secs(10),
        || {
            let o = sec_opts.clone();
            async move { Ok(connect(o).await.is_ok()) }
        },
    )
    .await
    .unwrap();
    let port = c.proxy_port().to_string();
    let ca = pki.ca().display().to_string();

    if have_pymysql().await {
        let out = run(
            tokio::process::Command::new("python3")
                .args(["-c", PY_TLS, "127.0.0.1", &port, "sec", &ca])
                .env("PYTHONDONTWRITEBYTECODE", "1"),
            "python3 PyMySQL",
        )
        .await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("PyMySQL:\n{stdout}");
        assert!(
            out.status.success() && stdout.contains("ALL OK") && stdout.contains("version=TLSv1"),
            "PyMySQL over TLS failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    if have_java().await {
        let classes = tempfile::tempdir().unwrap();
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("java/TlsClient.java");
        let out = run(
            tokio::process::Command::new("javac")
                .arg("-d")
                .arg(classes.path())
                .arg("-cp")
                .arg(DRIVER)
                .arg(&src),
            "javac",
        )
        .await;
        assert!(
            out.status.success(),
            "javac: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cp = format!("{DRIVER}:{}", classes.path().display());
        let out = run(
            tokio::process::Command::new("java").args(["-cp", &cp, "TlsClient", &port, "sec", &ca]),
            "java TlsClient",
        )
        .await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("Connector/J:\n{stdout}");
        assert!(
            out.status.success() && stdout.contains("ALL OK"),
            "Connector/J over TLS failed:\n{stdout}\n{}\ngateway log: {}",
            String::from_utf8_lossy(&out.stderr),
            c.proxy_log().display()
        );
    }
}

#[tokio::test]
async fn tls_to_backends_whose_account_requires_ssl() {
    let pki = Pki::new();
    let mut c = Cluster::builder()
        .sets(2)
        .replicas(0)
        .proxy(true)
        .start()
        .await
        .unwrap();
    // Each primary restarted with a certificate; the gateway's account there then
    // requires SSL.
    for set in c.set_names() {
        let id = c.primary(&set).name().to_string();
        let mut o = c.node(&id).options().clone();
        o.extra_args.extend([
            format!("--ssl-cert={}", pki.path("server.pem").display()),
            format!("--ssl-key={}", pki.path("server-key.pem").display()),
            format!("--ssl-ca={}", pki.ca().display()),
        ]);
        c.node_mut(&id).set_options(o);
        c.restart_node(&id).await.unwrap();
        c.primary(&set)
            .exec("ALTER USER 'setwise_proxy'@'%' REQUIRE SSL")
            .await
            .unwrap();
    }
    // A plain gateway is refused by the sets (the requirement holds).
    c.start_proxy().await.unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    let e = conn.query_drop("CREATE DATABASE sdb").await.unwrap_err();
    assert!(
        format!("{e:?}").contains("1045"),
        "a plain gateway reached a set requiring SSL: {e:?}"
    );
    drop(conn);

    c.set_proxy_extra(&format!(
        "[backend.tls]\nmode = \"verify-full\"\nca = \"{}\"\n",
        pki.ca().display()
    ));
    c.start_proxy().await.unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE sdb").await.unwrap();
    conn.query_drop("CREATE TABLE sdb.t (id BIGINT PRIMARY KEY, v VARCHAR(10)) shardkey=id")
        .await
        .unwrap();
    let values: Vec<String> = (1..=40).map(|i| format!("({i}, 'v{i}')")).collect();
    conn.query_drop(format!("INSERT INTO sdb.t VALUES {}", values.join(",")))
        .await
        .unwrap();
    let n: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM sdb.t")
        .await
        .unwrap();
    assert_eq!(n, Some(40));
    let v: Option<String> = conn
        .query_first("SELECT v FROM sdb.t WHERE id = 7")
        .await
        .unwrap();
    assert_eq!(v.as_deref(), Some("v7"));
    // Both sets hold rows, so both were reached over TLS.
    for set in c.set_names() {
        let rows = c
            .primary(&set)
            .scalar("SELECT COUNT(*) FROM sdb.t")
            .await
            .unwrap();
        assert_ne!(rows.as_deref(), Some("0"), "{set} holds no rows");
    }
    // The client's own connection is plain: the set's TLS is not reported as its.
    assert_eq!(status_var(&mut conn, "Ssl_version").await, "");
    conn.query_drop("DROP DATABASE sdb").await.unwrap();
}

/// A TLS etcd with authentication on, started here; topo connects to it with
/// `ca` and `user`/`password`, and is refused without the password.
#[tokio::test]
async fn tls_etcd_with_auth() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let client = setwise_tests::port::reserve();
    let peer = setwise_tests::port::reserve();
    let url = format!("https://127.0.0.1:{}", client.get());
    let peer_url = format!("http://127.0.0.1:{}", peer.get());
    let mut cmd = std::process::Command::new("etcd");
    cmd.arg("--name=tls")
        .arg(format!("--data-dir={}", dir.path().join("data").display()))
        .arg(format!("--listen-client-urls={url}"))
        .arg(format!("--advertise-client-urls={url}"))
        .arg(format!("--listen-peer-urls={peer_url}"))
        .arg(format!("--initial-advertise-peer-urls={peer_url}"))
        .arg(format!("--initial-cluster=tls={peer_url}"))
        .arg(format!("--cert-file={}", pki.path("server.pem").display()))
        .arg(format!(
            "--key-file={}",
            pki.path("server-key.pem").display()
        ));
    let _etcd =
        setwise_tests::process::ChildGuard::spawn("etcd-tls", cmd, &dir.path().join("etcd.log"))
            .unwrap();
    let cfg = topo::EtcdConfig {
        endpoints: vec![url.clone()],
        cluster: "tls".into(),
        timeout_ms: 2000,
        ca: pki.ca().display().to_string(),
        ..Default::default()
    };
    // Up, over TLS, without authentication yet: add root and turn auth on.
    setwise_tests::wait_until("etcd to answer over TLS", Duration::from_secs(20), || {
        let cfg = cfg.clone();
        async move {
            let Ok(t) = topo::Topo::connect(&cfg).await else {
                return Ok(false);
            };
            Ok(t.client().kv_client().get("probe", None).await.is_ok())
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: log {}", dir.path().join("etcd.log").display()));
    let mut raw = topo::Topo::connect(&cfg).await.unwrap().client();
    raw.user_add("root", "rootpw", None).await.unwrap();
    raw.user_grant_role("root", "root").await.unwrap();
    raw.auth_enable().await.unwrap();

    let authed = topo::EtcdConfig {
        user: "root".into(),
        password: "rootpw".into(),
        ..cfg.clone()
    };
    let t = topo::Topo::connect(&authed).await.unwrap();
    let user = topo::UserRecord {
        name: "app".into(),
        password_hash: topo::password::native_hash("app"),
        hosts: vec![],
        reads: Default::default(),
        require_ssl: true,
        admin: false,
    };
    t.put_user(&user).await.unwrap();
    assert_eq!(t.get_user("app").await.unwrap(), Some(user));
    // Without the password: refused.
    let refused = async {
        let t = topo::Topo::connect(&cfg).await?;
        t.get_user("app").await
    }
    .await;
    assert!(refused.is_err(), "etcd answered without authentication");
    let wrong = topo::EtcdConfig {
        password: "nope".into(),
        ..authed
    };
    let refused = async {
        let t = topo::Topo::connect(&wrong).await?;
        t.get_user("app").await
    }
    .await;
    assert!(refused.is_err(), "etcd answered a wrong password");
}

/// `[mysql.tls]` of the agents and the scheduler, `[replication.tls]` of the agents:
/// with every node's `setwise` and `repl` accounts requiring SSL, the agents probe
/// their nodes (the first health reports arrive), the scheduler carries out a
/// switchover, and the old primary replicates from the new one over TLS
/// (`MASTER_SSL`), taking a write made through the gateway afterwards.
#[tokio::test]
async fn tls_agents_scheduler_and_replication_to_sets_requiring_ssl() {
    use setwise_tests::control::ControlPlaneConfig;
    let pki = Pki::new();
    let mut c = Cluster::builder()
        .sets(1)
        .replicas(1)
        .proxy(true)
        .start()
        .await
        .unwrap();
    let ids: Vec<String> = c
        .set("set1")
        .nodes()
        .iter()
        .map(|n| n.name().to_string())
        .collect();
    for id in &ids {
        let mut o = c.node(id).options().clone();
        o.extra_args.extend([
            format!("--ssl-cert={}", pki.path("server.pem").display()),
            format!("--ssl-key={}", pki.path("server-key.pem").display()),
            format!("--ssl-ca={}", pki.ca().display()),
        ]);
        c.node_mut(id).set_options(o);
        c.restart_node(id).await.unwrap();
    }
    // Replicated to the replica: both accounts now refuse plain connections.
    c.primary("set1")
        .exec("ALTER USER 'setwise'@'%' REQUIRE SSL; ALTER USER 'repl'@'%' REQUIRE SSL")
        .await
        .unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE sdb").await.unwrap();
    conn.query_drop("CREATE TABLE sdb.t (id BIGINT PRIMARY KEY) shardkey=id")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO sdb.t VALUES (1)")
        .await
        .unwrap();
    drop(conn);

    let ca = pki.ca().display().to_string();
    let agent_toml = c.work_dir().join("agent-tls.toml");
    std::fs::write(
        &agent_toml,
        format!(
            "[mysql.tls]\nmode = \"verify-full\"\nca = \"{ca}\"\n\n\
             [replication.tls]\nmode = \"verify-ca\"\nca = \"{ca}\"\n"
        ),
    )
    .unwrap();
    let cfg = ControlPlaneConfig {
        agent_args: vec!["--config".into(), agent_toml.display().to_string()],
        extra_toml: format!("\n[mysql.tls]\nmode = \"verify-full\"\nca = \"{ca}\"\n"),
        ..Default::default()
    };
    // Waits for every agent's readable health report: a plain probe is refused (1045).
    let _cp = c.start_control_plane_with(1, cfg).await.unwrap();

    let out = c
        .setwise(&[
            "switchover",
            "--set",
            "set1",
            "--to",
            &ids[1],
            "--wait",
            "60",
        ])
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "switchover over TLS: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (old, new) = (c.node(&ids[0]), c.node(&ids[1]));
    setwise_tests::load::wait_replicating_from(old, new.port(), Duration::from_secs(30))
        .await
        .unwrap();
    let mut root = old.conn().await.unwrap();
    let status: Vec<mysql_async::Row> = root.query("SHOW SLAVE STATUS").await.unwrap();
    let ssl: Vec<Option<String>> = status
        .iter()
        .map(|r| r.get::<String, _>("Master_SSL_Allowed"))
        .collect();
    assert_eq!(
        ssl,
        [Some("Yes".to_string())],
        "the old primary's replication is plain"
    );
    drop(root);
    setwise_tests::retry(
        "a write after the switchover",
        Duration::from_secs(30),
        || async {
            let mut conn = c.proxy_conn().await?;
            Ok(conn
                .query_drop("INSERT IGNORE INTO sdb.t VALUES (2)")
                .await?)
        },
    )
    .await
    .unwrap();
    setwise_tests::wait_until(
        "the write on the old primary",
        Duration::from_secs(30),
        || async { Ok(old.scalar("SELECT COUNT(*) FROM sdb.t").await?.as_deref() == Some("2")) },
    )
    .await
    .unwrap();
}
