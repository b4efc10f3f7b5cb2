//! `setwise-proxy` entry point: flags and config, logging, then the server.

use clap::Parser;
use setwise_proxy::config::Args;

/// mimalloc instead of glibc's malloc: a statement allocates and frees many small
/// buffers, and glibc's malloc/free (with its consolidations) was ~12% of the
/// gateway's CPU under sysbench (bench/results/2026-12-07b-sysbench-txn.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The control runtime (listener, routing watch, XA recovery) is one thread;
/// clients are served by the worker threads (`setwise_proxy::workers`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = args
        .log_level
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cfg = args.load()?;
    setwise_proxy::server::run(cfg).await
}
