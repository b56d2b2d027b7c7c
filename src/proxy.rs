//! `tollgate proxy`: settings from a config file, overridden by flags or environment.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use tollgate_proxy::config::ProxyConfig;
use tollgate_proxy::identity::hash_secret;

#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// The configuration file (TOML); every setting has a default.
    #[arg(long, env = "TOLLGATE_PROXY_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:3128.
    #[arg(long, env = "TOLLGATE_LISTEN")]
    listen: Option<String>,
    #[arg(long, env = "TOLLGATE_POLICIES")]
    policies: Option<PathBuf>,
    #[arg(long, env = "TOLLGATE_IDENTITIES")]
    identities: Option<PathBuf>,
    #[arg(long, env = "TOLLGATE_CA_DIR")]
    ca_dir: Option<PathBuf>,
    #[arg(long, env = "TOLLGATE_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// Print the SHA-256 to store in the identities file for SECRET, and exit.
    #[arg(long, value_name = "SECRET")]
    hash_secret: Option<String>,
}

pub(crate) fn run(args: ProxyArgs) -> Result<ExitCode> {
    if let Some(secret) = &args.hash_secret {
        println!("{}", hash_secret(secret));
        return Ok(ExitCode::SUCCESS);
    }
    let mut config = match &args.config {
        Some(path) => ProxyConfig::load(path)?,
        None => ProxyConfig::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(policies) = args.policies {
        config.policies = policies;
    }
    if let Some(identities) = args.identities {
        config.identities = identities;
    }
    if let Some(ca_dir) = args.ca_dir {
        config.ca_dir = ca_dir;
    }
    if args.metrics_listen.is_some() {
        config.metrics_listen = args.metrics_listen;
    }
    let server = tollgate_proxy::server::build(&config).context("cannot start the proxy")?;
    server.run_forever()
}
