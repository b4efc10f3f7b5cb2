//! The web console (`[console] listen = "127.0.0.1:PORT"`): a read-only view of the
//! cluster served by every scheduler instance (it only reads etcd, so a standby
//! serves it as well as the leader). The page is rendered on the server from the
//! same tables `setwise status`, `setwise failovers` and `setwise shard moves`
//! print ([`page`]); a small script (`assets/console.js`, shipped in the binary —
//! no CDN) swaps in a fresh rendering every second, so the page follows a
//! failover without a reload; each refresh also reads the gateways' metrics ports
//! for their live load ([`load`]) and top query digests. `/api/status` is
//! `setwise --json status`. Actions (a switchover per set) are `POST`s that
//! need an etcd user and password, as the CLI does ([`actions`]).

pub mod actions;
pub mod html;
pub mod load;
pub mod page;

use std::collections::HashMap;

use std::sync::Arc;

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tokio::sync::watch;
use topo::{EtcdConfig, Topo};
use tracing::{info, warn};

/// `[console]` of the scheduler's config.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Address to serve the console on, e.g. `127.0.0.1:8090`; unset: no console.
    pub listen: Option<String>,
}

struct Console {
    topo: Topo,
    cluster: String,
    /// The scheduler's `[etcd]`: actions connect with it as the user who asks.
    etcd: EtcdConfig,
    rates: load::Rates,
}

/// Binds `listen` and serves the console until `stop` turns true.
pub async fn serve(
    topo: Topo,
    etcd: EtcdConfig,
    listen: &str,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("console: bind {listen}"))?;
    info!(addr = %listener.local_addr()?, "console serving");
    let app = router(Arc::new(Console {
        topo,
        cluster: etcd.cluster.clone(),
        etcd,
        rates: Default::default(),
    }));
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            warn!(error = %e, "console stopped");
        }
    });
    Ok(())
}

fn router(state: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(full_page))
        .route("/fragment", get(fragment))
        .route("/api/status", get(status_json))
        .route("/actions/switchover", post(switchover))
        .route(
            "/assets/console.js",
            get(|| asset("text/javascript", page::JS)),
        )
        .route("/assets/console.css", get(|| asset("text/css", page::CSS)))
        .with_state(state)
}

async fn full_page(State(c): State<Arc<Console>>, uri: Uri) -> Response {
    match page::Overview::read(&c.topo, &c.cluster, &c.rates).await {
        Ok(v) => {
            let action = actions::progress(&c.topo, &query(&uri)).await;
            Html(page::full(&v, &action)).into_response()
        }
        Err(e) => unavailable(e),
    }
}

async fn fragment(State(c): State<Arc<Console>>, uri: Uri) -> Response {
    match page::Overview::read(&c.topo, &c.cluster, &c.rates).await {
        Ok(v) => {
            let action = actions::progress(&c.topo, &query(&uri)).await;
            Html(action + &page::main(&v)).into_response()
        }
        Err(e) => unavailable(e),
    }
}

async fn switchover(State(c): State<Arc<Console>>, headers: HeaderMap, body: String) -> Response {
    actions::switchover(&c.etcd, &headers, &body).await
}

/// The query string's fields.
fn query(uri: &Uri) -> HashMap<String, String> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

async fn status_json(State(c): State<Arc<Console>>) -> Response {
    match crate::cli::status::StatusView::read(&c.topo, &c.cluster).await {
        Ok(v) => (
            [(header::CONTENT_TYPE, "application/json")],
            crate::cli::json::status(&v).to_string(),
        )
            .into_response(),
        Err(e) => unavailable(e),
    }
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// etcd did not answer: the page says so (the script keeps the last view).
fn unavailable(e: anyhow::Error) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("cannot read the cluster from etcd: {e:#}"),
    )
        .into_response()
}
