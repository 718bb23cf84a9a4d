//! `kubectl-polyfleet`: the kubectl plugin's binary (`kubectl polyfleet status|pnl|kill|reduce-only|resume|report`);
//! everything it does is in `polyfleet_operator::plugin`.

use clap::Parser as _;
use polyfleet_operator::plugin::{Cli, run};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let now_s = k8s_openapi::jiff::Timestamp::now().as_second();
    match run(&cli, now_s).await {
        Ok(text) => {
            print!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
