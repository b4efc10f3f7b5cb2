//! One `mariadbd` instance on a free loopback port, and the shared template datadir.
//!
//! **Template.** `mariadb-install-db` runs once per machine (per `mariadbd --version`
//! and [`TEMPLATE_REV`]) into `$TMPDIR/setwise-template-<hash>`: built in a scratch
//! directory under a file lock, then renamed into place, so parallel test processes
//! share it and never see half a template. The accounts of docs/contracts.md are
//! baked in with `mariadbd --bootstrap`: `setwise`/`setwise` (ALL ... WITH GRANT OPTION)
//! and `repl`/`repl` (REPLICATION SLAVE, REPLICATION CLIENT), both at `%`, plus
//! password-less root over TCP. So every instance starts with identical accounts and an
//! empty binlog, and no write has to wait for a semi-sync acknowledgement before the
//! replicas are attached.
//!
//! **Instance.** [`MariaDb::start`] copies the template (`cp -a`), starts `mariadbd`
//! with small memory and redo sizes, binlog + GTID settings and the semi-sync / read-only
//! options of its [`NodeOptions`], and waits (bounded) until root can connect over TCP.
//! [`MariaDb::kill`] is `kill -9`; [`MariaDb::restart`] starts it again on the same port
//! and data with the current options.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder, Pool};
use topo::Role;

use crate::port::{self, Port};
use crate::process::ChildGuard;

/// Bump when the template's contents change, so a stale template is not reused.
pub const TEMPLATE_REV: &str = "2";

/// How long a started `mariadbd` may take to accept connections.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Sizes shared by the template and the instances (small: tests must be light).
const SIZE_ARGS: [&str; 2] = [
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=16M",
];

const ACCOUNTS_SQL: &str = "FLUSH PRIVILEGES;
CREATE USER 'setwise'@'%' IDENTIFIED BY 'setwise';
GRANT ALL PRIVILEGES ON *.* TO 'setwise'@'%' WITH GRANT OPTION;
CREATE USER 'setwise_proxy'@'%' IDENTIFIED BY 'setwise';
GRANT ALL PRIVILEGES ON *.* TO 'setwise_proxy'@'%' WITH GRANT OPTION;
REVOKE READ_ONLY ADMIN ON *.* FROM 'setwise_proxy'@'%';
CREATE USER 'repl'@'%' IDENTIFIED BY 'repl';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%';
";

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

fn run(cmd: &mut Command, stdin: Option<&str>) -> anyhow::Result<()> {
    let what = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("spawn {what}"))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{what} failed with {}:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The template datadir, made on first use (blocking: call from `spawn_blocking`).
pub fn template() -> anyhow::Result<PathBuf> {
    static MADE: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = made.as_ref() {
        return Ok(p.clone());
    }
    let version = Command::new("mariadbd")
        .arg("--version")
        .output()
        .context("run mariadbd --version (is mariadb-server installed?)")?;
    let mut key = version.stdout;
    key.extend_from_slice(TEMPLATE_REV.as_bytes());
    let tmp = std::env::temp_dir();
    let name = format!("setwise-template-{:016x}", fnv1a(&key));
    let path = tmp.join(&name);
    if !path.is_dir() {
        let lock_path = tmp.join(format!("{name}.lock"));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("open {}", lock_path.display()))?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor we own; released when `lock` is closed.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error()).context("lock the template");
        }
        if !path.is_dir() {
            let build = tmp.join(format!("{name}.build-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&build);
            // Its own tmpdir: a starting mariadbd deletes `#sql*` files there.
            let build_tmp = tmp.join(format!("{name}.build-{}.tmp", std::process::id()));
            std::fs::create_dir_all(&build_tmp).context("create the template's tmpdir")?;
            run(
                Command::new("mariadb-install-db")
                    .arg("--no-defaults")
                    .arg(format!("--datadir={}", build.display()))
                    .args([
                        "--auth-root-authentication-method=normal",
                        "--user=root",
                        "--skip-test-db",
                    ])
                    .args(SIZE_ARGS),
                None,
            )?;
            run(
                Command::new("mariadbd")
                    .args(["--no-defaults", "--bootstrap", "--user=root"])
                    .arg(format!("--datadir={}", build.display()))
                    .arg(format!("--tmpdir={}", build_tmp.display()))
                    .args(SIZE_ARGS),
                Some(ACCOUNTS_SQL),
            )
            .context("create the accounts in the template")?;
            std::fs::rename(&build, &path)
                .with_context(|| format!("rename {} to {}", build.display(), path.display()))?;
            let _ = std::fs::remove_dir_all(&build_tmp);
        }
        drop(lock);
    }
    *made = Some(path.clone());
    Ok(path)
}

/// Role-dependent options of an instance.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Primary: `read_only=OFF`. Replica: `read_only=ON`, `rpl_semi_sync_slave_enabled=ON`.
    pub role: Role,
    /// On a primary: `rpl_semi_sync_master_enabled=ON`, wait point `AFTER_SYNC`.
    /// Only for a primary that has replicas (with none, every commit would wait for
    /// the semi-sync timeout).
    pub semi_sync: bool,
    /// More `mariadbd` options.
    pub extra_args: Vec<String>,
}

impl NodeOptions {
    pub fn primary(semi_sync: bool) -> Self {
        Self {
            role: Role::Primary,
            semi_sync,
            extra_args: Vec::new(),
        }
    }
    pub fn replica() -> Self {
        Self {
            role: Role::Replica,
            semi_sync: true,
            extra_args: Vec::new(),
        }
    }
}

/// One MariaDB server.
pub struct MariaDb {
    name: String,
    dir: PathBuf,
    data: PathBuf,
    port: Port,
    server_id: u32,
    options: NodeOptions,
    child: Option<ChildGuard>,
}

impl MariaDb {
    /// Copies the template to `parent/<name>/data` and starts the server.
    pub async fn start(
        name: &str,
        parent: &Path,
        server_id: u32,
        options: NodeOptions,
    ) -> anyhow::Result<Self> {
        let template = tokio::task::spawn_blocking(template).await??;
        let dir = parent.join(name);
        tokio::fs::create_dir_all(&dir).await?;
        let data = dir.join("data");
        let st = tokio::process::Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(&data)
            .status()
            .await?;
        if !st.success() {
            bail!(
                "cp -a {} {} failed: {st}",
                template.display(),
                data.display()
            );
        }
        let mut db = Self {
            name: name.to_string(),
            dir,
            data,
            port: port::reserve(),
            server_id,
            options,
            child: None,
        };
        db.spawn().await?;
        Ok(db)
    }

    fn args(&self) -> Vec<String> {
        let d = self.data.display();
        // A temporary directory of its own: a starting mariadbd deletes every
        // `#sql*` file in its tmpdir, so servers sharing /tmp delete each other's
        // internal temporary tables mid-query (ERROR 6 "Error on delete of
        // '/tmp/#sql-temptable-...'").
        let tmpdir = format!("{d}.tmp");
        let _ = std::fs::create_dir_all(&tmpdir);
        let mut a: Vec<String> = vec![
            "--no-defaults".into(),
            "--user=root".into(),
            format!("--datadir={d}"),
            format!("--tmpdir={tmpdir}"),
            format!("--port={}", self.port),
            "--bind-address=127.0.0.1".into(),
            format!("--socket={d}/mysqld.sock"),
            format!("--pid-file={d}/mysqld.pid"),
            format!("--server-id={}", self.server_id),
            "--log-bin=mysql-bin".into(),
            "--relay-log=relay-bin".into(),
            "--binlog-format=ROW".into(),
            "--log-slave-updates".into(),
            "--gtid-strict-mode=1".into(),
            "--skip-name-resolve".into(),
            "--innodb-flush-log-at-trx-commit=2".into(),
            "--slave-net-timeout=10".into(),
            "--max-connections=300".into(),
        ];
        a.extend(SIZE_ARGS.iter().map(|s| s.to_string()));
        match self.options.role {
            Role::Primary => {
                a.push("--read-only=OFF".into());
                if self.options.semi_sync {
                    a.push("--rpl-semi-sync-master-enabled=ON".into());
                    a.push("--rpl-semi-sync-master-wait-point=AFTER_SYNC".into());
                }
            }
            Role::Replica => {
                a.push("--read-only=ON".into());
                a.push("--rpl-semi-sync-slave-enabled=ON".into());
            }
        }
        a.extend(self.options.extra_args.iter().cloned());
        a
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let mut cmd = Command::new("mariadbd");
        cmd.args(self.args());
        let log = self.dir.join("mariadbd.log");
        // The same server, started by its agent after a physical rebuild.
        let quoted: Vec<String> = self.args().iter().map(|a| shell_quote(a)).collect();
        std::fs::write(
            self.start_script(),
            format!(
                "exec mariadbd {} >>{} 2>&1\n",
                quoted.join(" "),
                shell_quote(&log.display().to_string())
            ),
        )?;
        self.child = Some(ChildGuard::spawn(&self.name, cmd, &log)?);
        self.wait_ready(READY_TIMEOUT).await
    }

    /// Polls until root can connect and `SELECT 1`; fails at once if the server exits.
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        let opts = self.root_opts();
        loop {
            match self.child.as_mut() {
                Some(c) => c.ensure_running()?,
                None => bail!("{} is stopped", self.name),
            }
            let probe = async {
                let mut c = Conn::new(opts.clone()).await?;
                c.query_drop("SELECT 1").await?;
                c.disconnect().await?;
                anyhow::Ok(())
            };
            match tokio::time::timeout(Duration::from_secs(5), probe).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) if start.elapsed() > timeout => {
                    return Err(e).context(format!("{} not ready after {timeout:?}", self.name))
                }
                Err(_) if start.elapsed() > timeout => {
                    bail!("{} not ready after {timeout:?} (probe hangs)", self.name)
                }
                _ => tokio::time::sleep(crate::POLL).await,
            }
        }
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.pid())
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn port(&self) -> u16 {
        self.port.get()
    }
    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    pub fn server_id(&self) -> u32 {
        self.server_id
    }
    pub fn options(&self) -> &NodeOptions {
        &self.options
    }
    pub fn role(&self) -> Role {
        self.options.role
    }
    /// Options used by the next [`MariaDb::restart`] (e.g. after a failover changed the role).
    pub fn set_options(&mut self, options: NodeOptions) {
        self.options = options;
    }
    /// The datadir.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("mariadbd.log")
    }

    /// TCP options for `user`/`password` (never the socket: `prefer_socket=false`).
    pub fn opts(&self, user: &str, password: &str) -> Opts {
        OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port.get())
            .user(Some(user))
            .pass(Some(password))
            .prefer_socket(false)
            .into()
    }
    /// Password-less root.
    pub fn root_opts(&self) -> Opts {
        self.opts("root", "")
    }
    /// The `setwise` account the programs use.
    pub fn setwise_opts(&self) -> Opts {
        self.opts("setwise", "setwise")
    }
    /// A new root connection.
    pub async fn conn(&self) -> anyhow::Result<Conn> {
        Ok(Conn::new(self.root_opts()).await?)
    }
    /// A new pool of root connections (call `disconnect().await` on it when done).
    pub fn pool(&self) -> Pool {
        Pool::new(self.root_opts())
    }

    /// Runs statements as root on a fresh connection.
    pub async fn exec(&self, sql: &str) -> anyhow::Result<()> {
        let mut c = self.conn().await?;
        c.query_drop(sql)
            .await
            .with_context(|| format!("{}: {sql}", self.name))?;
        c.disconnect().await?;
        Ok(())
    }
    /// Runs a query as root; every value as text (`None` = NULL).
    pub async fn query(&self, sql: &str) -> anyhow::Result<Vec<Vec<Option<String>>>> {
        let mut c = self.conn().await?;
        let rows = crate::sql::rows(&mut c, sql)
            .await
            .with_context(|| format!("{}: {sql}", self.name))?;
        c.disconnect().await?;
        Ok(rows)
    }
    /// First column of the first row.
    pub async fn scalar(&self, sql: &str) -> anyhow::Result<Option<String>> {
        let rows = self.query(sql).await?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten()))
    }
    /// `@@gtid_binlog_pos`: what this server has written to its binlog.
    pub async fn gtid_binlog_pos(&self) -> anyhow::Result<String> {
        Ok(self
            .scalar("SELECT @@gtid_binlog_pos")
            .await?
            .unwrap_or_default())
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.is_running())
    }
    /// `kill -9`: the data stays for [`MariaDb::restart`]. A server its agent started
    /// (after a physical rebuild: [`MariaDb::start_command`]) is killed too.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill();
        }
        self.kill_foreign();
    }

    fn start_script(&self) -> PathBuf {
        self.dir.join("start.sh")
    }

    /// The shell command that starts this server as the harness does (the agent's
    /// `--mysqld-start`): its options of the last start, output to its log.
    pub fn start_command(&self) -> String {
        format!(
            "exec sh {}",
            shell_quote(&self.start_script().display().to_string())
        )
    }

    /// Kills (and waits out, bounded) a server on this datadir that is not the
    /// harness's child: one the agent started.
    fn kill_foreign(&mut self) {
        let Ok(text) = std::fs::read_to_string(self.data.join("mysqld.pid")) else {
            return;
        };
        let Ok(pid) = text.trim().parse::<i32>() else {
            return;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() != "mariadbd" {
            return;
        }
        // SAFETY: plain kill(2) on a pid read from the server's own pid file.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        for _ in 0..100 {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(self.data.join("mysqld.pid"));
    }
    /// Stops `mariadbd` with SIGSTOP / resumes it with SIGCONT (a hung server).
    pub fn pause(&self, paused: bool) -> anyhow::Result<()> {
        let c = self.child.as_ref().context("not running")?;
        c.signal(if paused { libc::SIGSTOP } else { libc::SIGCONT })
    }
    /// Starts the server again (killing it first if it runs) on the same port and data.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn().await
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill();
        }
        self.kill_foreign();
    }
}

/// `'text'` for sh.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
