//! `tollgate ca init|env`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use tollgate_proxy::ca;

#[derive(Debug, Subcommand)]
pub(crate) enum CaCommand {
    /// Create an ECDSA P-256 interception CA in DIR (the key is written with mode 0600).
    Init {
        dir: PathBuf,
        #[arg(long, default_value = "Tollgate interception CA")]
        name: String,
    },
    /// Print the environment variables that make clients trust the CA in DIR.
    Env { dir: PathBuf },
}

pub(crate) fn run(command: CaCommand) -> Result<ExitCode> {
    match command {
        CaCommand::Init { dir, name } => {
            let cert = ca::init(&dir, &name)?;
            println!("created {}", cert.display());
        }
        CaCommand::Env { dir } => {
            let dir = std::path::absolute(&dir)?;
            for (name, path) in ca::client_env(&dir) {
                println!("export {name}={}", path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
