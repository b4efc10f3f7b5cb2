//! The gateway's metrics port (`metrics_listen`): a minimal HTTP/1.x server.
//!
//! | path | answer |
//! |---|---|
//! | `GET /metrics` | Prometheus text (gauges sampled at the scrape) |
//! | `GET /digests[?top=N]` | the query digests as a JSON array, largest total latency first |
//! | `GET /digests?reset=1` | the same, and the table emptied: an admin user's only ([`admin`]) |
//!
//! One request per connection (`Connection: close`), bounded in size and time.
//! Its address, once bound, is kept by `crate::observe::port` (this module is
//! above `shared`, which it reads; `observe` is below nearly everything).

pub mod admin;

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{info, warn};

use self::admin::Verdict;
use crate::metrics as m;
use crate::shared::Shared;

/// Largest request head read.
const MAX_HEAD: usize = 8192;
/// How long a client may take to send its request and read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves the metrics port in the background (and the recorder's upkeep).
pub fn start(
    handle: PrometheusHandle,
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
) -> anyhow::Result<()> {
    let listener = TcpListener::from_std(listener)?;
    info!(addr = %listener.local_addr()?, "metrics endpoint ready");
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    warn!("metrics endpoint accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let (handle, shared) = (handle.clone(), shared.clone());
            tokio::spawn(async move {
                let _ = tokio::time::timeout(IO_TIMEOUT, serve(stream, &handle, &shared)).await;
            });
        }
    });
    Ok(())
}

async fn serve(
    mut stream: TcpStream,
    handle: &PrometheusHandle,
    shared: &Shared,
) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"",
            )
            .await;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method != "GET" {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"GET only\n",
        )
        .await;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match path {
        "/metrics" => {
            sample_gauges(shared);
            let body = handle.render();
            respond(
                &mut stream,
                "200 OK",
                "text/plain; version=0.0.4",
                body.as_bytes(),
            )
            .await
        }
        "/digests" => {
            let param = |name: &str| {
                query
                    .split('&')
                    .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v)
            };
            let top = param("top").and_then(|v| v.parse().ok()).unwrap_or(0);
            let reset = param("reset").is_some_and(|v| v != "0");
            if reset {
                // Like `SHOW SETWISE DIGESTS RESET`: an admin user's only.
                let peer = stream.peer_addr()?.ip();
                match admin::check(&head, peer, &shared.routing.get()) {
                    Verdict::Admin => {}
                    Verdict::Unauthenticated => {
                        return respond_with(
                            &mut stream,
                            "401 Unauthorized",
                            "WWW-Authenticate: Basic realm=\"setwise\"\r\n",
                            "text/plain",
                            b"reset needs an admin user (HTTP Basic authentication)\n",
                        )
                        .await;
                    }
                    Verdict::NotAdmin => {
                        return respond(
                            &mut stream,
                            "403 Forbidden",
                            "text/plain",
                            b"reset needs the RELOAD privilege (an admin user)\n",
                        )
                        .await;
                    }
                }
            }
            let digests = crate::digest::global();
            let list = digests.snapshot(top);
            if reset {
                digests.reset();
            }
            let body = serde_json::to_vec(&list).map_err(std::io::Error::other)?;
            respond(&mut stream, "200 OK", "application/json", &body).await
        }
        _ => {
            respond(
                &mut stream,
                "404 Not Found",
                "text/plain",
                b"/metrics or /digests\n",
            )
            .await
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    respond_with(stream, status, "", content_type, body).await
}

/// [`respond`] with `extra` header lines (each ending in CRLF).
async fn respond_with(
    stream: &mut TcpStream,
    status: &str,
    extra: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\n{extra}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

/// The gauges read from the gateway's state when scraped.
fn sample_gauges(shared: &Shared) {
    metrics::gauge!(m::CLIENT_CONNECTIONS).set(shared.registry.len() as f64);
    metrics::gauge!(m::ROUTING_REVISION).set(shared.routing.get().revision as f64);
    metrics::gauge!(m::BACKEND_POOLS).set(shared.backends.pool_count() as f64);
    metrics::gauge!(m::BACKEND_BORROWED)
        .set(crate::observe::BORROWED.load(std::sync::atomic::Ordering::Relaxed) as f64);
    metrics::gauge!(m::PLAN_CACHE_ENTRIES).set(shared.plans.len() as f64);
    metrics::gauge!(m::DIGEST_ENTRIES).set(crate::digest::global().len() as f64);
}
