//! `setwise`: the DBA command line; see [`setwise_scheduler::cli`].

use clap::Parser;
use setwise_scheduler::cli::{self, args::Cli};
use setwise_scheduler::logging;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args = Cli::parse();
    logging::init(args.log_level.as_deref(), "warn");
    match cli::run(args).await {
        Ok(out) => {
            print!("{out}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(cli::outcome::exit_code(&e))
        }
    }
}
