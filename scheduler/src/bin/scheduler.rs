//! `setwise-scheduler`: see [`setwise_scheduler::service`].

use clap::Parser;
use setwise_scheduler::service::{self, SchedulerArgs};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match service::run(SchedulerArgs::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("setwise-scheduler: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
