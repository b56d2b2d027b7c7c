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
    exit_when_a_listener_fails();
    server.run_forever()
}

/// pingora binds in each service's thread and panics there if it cannot (`build` has checked
/// every address, but another process may take one in between): without this the panic would
/// end that thread only and the proxy would run on, not listening. Every other panic keeps the
/// default behaviour (a request task's panic is that request's failure, not the proxy's).
pub(crate) fn exit_when_a_listener_fails() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Failed to build listeners") {
            eprintln!("tollgate proxy: a listener could not bind; exiting");
            std::process::exit(1);
        }
    }));
}
