//! The `tollgate` command line. Thin: parsing arguments, calling into the crates, printing.
#![forbid(unsafe_code)]

mod broker;
mod ca;
mod dev;
mod policy;
mod proxy;
mod revision;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Egress-inspecting proxy and secrets broker for AI-agent tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check, test, diff and explain tenant policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Run Tollgate on one machine with embedded defaults.
    Dev(dev::DevArgs),
    /// Run the intercepting egress proxy.
    Proxy(proxy::ProxyArgs),
    /// Create the interception CA and show how clients trust it.
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// Run the secrets broker.
    Broker(broker::BrokerArgs),
    /// Start and end tool invocations (the orchestrator's side of the broker).
    #[command(subcommand)]
    Invoke(broker::InvokeCommand),
    /// Fetch a credential from the broker's tool socket (the tool's side).
    #[command(subcommand)]
    Credential(broker::CredentialCommand),
}

/// Exit codes: 0 success, 1 the policies have errors or a test failed, 2 misuse.
fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Policy(command) => policy::run(command),
        Command::Dev(args) => dev::run(args),
        Command::Proxy(args) => proxy::run(args),
        Command::Ca(command) => ca::run(command),
        Command::Broker(args) => broker::run(args),
        Command::Invoke(command) => broker::invoke(command),
        Command::Credential(command) => broker::credential(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
