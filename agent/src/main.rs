//! `setwise-agent`: see [`setwise_agent::service`].

use clap::Parser;
use setwise_agent::config::{AgentArgs, AgentConfig};
use setwise_agent::{logging, service};
use tokio::sync::watch;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = AgentArgs::parse();
    logging::init(args.log_level.as_deref());
    let cfg = match AgentConfig::resolve(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("setwise-agent: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        logging::shutdown_signal().await;
        let _ = tx.send(true);
    });
    match service::run(cfg, rx).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("setwise-agent: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
