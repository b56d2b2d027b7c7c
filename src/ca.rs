//! `tollgate ca init|env|rotate`.

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
    /// Rotate the CA in DIR in three steps (certs/README.md): without a flag, stage a new CA
    /// that clients trust beside the current one; `--promote` makes it the one that signs
    /// (restart the proxies then); `--finish` stops trusting the old one.
    Rotate {
        dir: PathBuf,
        #[arg(long, conflicts_with = "finish")]
        promote: bool,
        #[arg(long)]
        finish: bool,
        #[arg(long, default_value = "Tollgate interception CA")]
        name: String,
    },
}

pub(crate) fn run(command: CaCommand) -> Result<ExitCode> {
    match command {
        CaCommand::Init { dir, name } => {
            let cert = ca::init(&dir, &name)?;
            println!("created {}", cert.display());
        }
        CaCommand::Rotate {
            dir,
            promote,
            finish,
            name,
        } => {
            let step = match (promote, finish) {
                (true, _) => ca::Rotation::Promote,
                (_, true) => ca::Rotation::Finish,
                _ => ca::Rotation::Stage,
            };
            let trusted = ca::rotate(&dir, step, &name)?;
            let trust = dir.join(ca::TRUST_FILE);
            println!("{} now trusts {} CA(s):", trust.display(), trusted.len());
            for cert in &trusted {
                println!("  {}", cert.display());
            }
            println!(
                "{}",
                match step {
                    ca::Rotation::Stage =>
                        "next: publish trust.pem to every client, then `tollgate ca rotate DIR --promote`",
                    ca::Rotation::Promote =>
                        "next: restart the proxies (they sign with the new CA from now), then `tollgate ca rotate DIR --finish` once no client trusts only the old one",
                    ca::Rotation::Finish => "done: the old CA's key is deleted; publish trust.pem again",
                }
            );
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
