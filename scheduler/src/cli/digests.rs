//! `setwise digests [--top N] [--reset --user U --password P] [--gateway HOST:PORT]... [--json]`: the
//! query digests of the gateways (ProxySQL-style: per statement fingerprint,
//! count, latency, rows, errors, sets), merged over every live gateway that
//! registered a metrics port (`gateways/<id>` in etcd), or over the metrics ports
//! given. Each gateway serves them on `GET /digests` (docs/observability.md);
//! `--reset` names an admin gateway user (`--user`/`--password`), as
//! `SHOW SETWISE DIGESTS RESET` needs one.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use topo::Topo;

use super::render::Table;

#[derive(Debug, Args)]
pub struct DigestsArgs {
    /// The N digests with the largest total latency (0: all).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,
    /// Empty each gateway's digest table after reading it (needs --user and
    /// --password of a gateway user added with `--admin yes`).
    #[arg(long)]
    pub reset: bool,
    /// With --reset: the admin gateway user that resets.
    #[arg(long, value_name = "NAME", env = "SETWISE_ADMIN_USER")]
    pub user: Option<String>,
    /// With --reset: that user's password.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "SETWISE_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// A gateway's metrics port HOST:PORT (repeatable); default: every live
    /// gateway registered in etcd with one.
    #[arg(long, value_name = "HOST:PORT")]
    pub gateway: Vec<String>,
    /// `--json` (global): one array of digests (the fields of docs/observability.md).
    #[arg(skip)]
    pub json: bool,
}

/// One digest as a gateway serves it (`setwise_proxy::digest::Digest`), plus
/// the gateways it was merged from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Digest {
    digest: String,
    schema: String,
    fingerprint: String,
    count: u64,
    sum_us: u64,
    min_us: u64,
    max_us: u64,
    rows_sent: u64,
    errors: u64,
    first_seen: u64,
    last_seen: u64,
    sets: Vec<String>,
    #[serde(default)]
    gateways: Vec<String>,
}

/// How long one gateway may take to answer.
const TIMEOUT: Duration = Duration::from_secs(5);

pub async fn execute(topo: &Topo, a: DigestsArgs) -> Result<String> {
    let reset = match (a.reset, a.user) {
        (false, _) => None,
        (true, Some(user)) => Some((user, a.password.unwrap_or_default())),
        (true, None) => {
            bail!("--reset needs --user and --password of a gateway user added with --admin yes")
        }
    };
    let mut list = collect(topo, &a.gateway, reset.as_ref()).await?;
    if a.top > 0 {
        list.truncate(a.top);
    }
    if a.json {
        return Ok(format!("{}\n", serde_json::to_string(&list)?));
    }
    Ok(render(&list))
}

/// The metrics ports of the live gateways that registered one.
pub async fn metrics_ports(topo: &Topo) -> Result<Vec<String>> {
    Ok(topo
        .list_gateways()
        .await?
        .into_iter()
        .filter(|g| !g.metrics.is_empty())
        .map(|g| g.metrics)
        .collect())
}

/// The digests of `gateways` (default: every live gateway with a metrics port),
/// merged per digest, the largest total latency first; `reset`, an admin gateway
/// user and its password, empties each gateway's table after reading it.
pub async fn collect(
    topo: &Topo,
    gateways: &[String],
    reset: Option<&(String, String)>,
) -> Result<Vec<Digest>> {
    let targets = if gateways.is_empty() {
        let t = metrics_ports(topo).await?;
        if t.is_empty() {
            bail!(
                "no live gateway registered a metrics port (set `metrics_listen` in the gateway's config, or name one with --gateway HOST:PORT)"
            );
        }
        t
    } else {
        gateways.to_vec()
    };
    let (path, auth) = match reset {
        Some((user, password)) => ("/digests?reset=1", Some(basic(user, password))),
        None => ("/digests", None),
    };
    let mut merged: BTreeMap<String, Digest> = BTreeMap::new();
    for addr in &targets {
        let body = get_with(addr, path, auth.as_deref())
            .await
            .with_context(|| format!("gateway metrics port {addr}"))?;
        let list: Vec<Digest> =
            serde_json::from_str(&body).with_context(|| format!("digests from {addr}"))?;
        for mut d in list {
            d.gateways = vec![addr.clone()];
            match merged.get_mut(&d.digest) {
                None => {
                    merged.insert(d.digest.clone(), d);
                }
                Some(m) => {
                    m.count += d.count;
                    m.sum_us += d.sum_us;
                    m.min_us = m.min_us.min(d.min_us);
                    m.max_us = m.max_us.max(d.max_us);
                    m.rows_sent += d.rows_sent;
                    m.errors += d.errors;
                    m.first_seen = m.first_seen.min(d.first_seen);
                    m.last_seen = m.last_seen.max(d.last_seen);
                    m.sets.extend(d.sets);
                    m.sets.sort();
                    m.sets.dedup();
                    m.gateways.push(addr.clone());
                }
            }
        }
    }
    let mut list: Vec<Digest> = merged.into_values().collect();
    list.sort_by(|a, b| b.sum_us.cmp(&a.sum_us).then(a.digest.cmp(&b.digest)));
    Ok(list)
}

/// Digests as a table (`setwise digests` and the console).
pub fn digests_table(list: &[Digest]) -> Table {
    let mut t = Table::new([
        "DIGEST",
        "COUNT",
        "TOTAL_MS",
        "AVG_MS",
        "MAX_MS",
        "ROWS",
        "ERRORS",
        "SETS",
        "FINGERPRINT",
    ]);
    for d in list {
        t.row([
            d.digest.clone(),
            d.count.to_string(),
            format!("{:.1}", d.sum_us as f64 / 1000.0),
            format!("{:.3}", d.sum_us as f64 / d.count.max(1) as f64 / 1000.0),
            format!("{:.3}", d.max_us as f64 / 1000.0),
            d.rows_sent.to_string(),
            d.errors.to_string(),
            d.sets.join(","),
            d.fingerprint.chars().take(120).collect(),
        ]);
    }
    t
}

fn render(list: &[Digest]) -> String {
    super::render::list(&digests_table(list), "digests yet")
}

/// The value of an `Authorization` header naming `user` (HTTP Basic).
fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// The body of `GET path` on `addr` (HTTP/1.0, bounded).
pub async fn get(addr: &str, path: &str) -> Result<String> {
    get_with(addr, path, None).await
}

/// [`get`] with an `Authorization` header.
async fn get_with(addr: &str, path: &str, auth: Option<&str>) -> Result<String> {
    let work = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}\r\n").as_bytes())
            .await?;
        let mut raw = String::new();
        s.read_to_string(&mut raw).await?;
        anyhow::Ok(raw)
    };
    let raw = tokio::time::timeout(TIMEOUT, work)
        .await
        .with_context(|| format!("no answer within {} s", TIMEOUT.as_secs()))??;
    let (head, body) = raw.split_once("\r\n\r\n").context("not an HTTP answer")?;
    if !head.lines().next().is_some_and(|l| l.contains(" 200 ")) {
        bail!("{}", head.lines().next().unwrap_or(""));
    }
    Ok(body.to_string())
}
