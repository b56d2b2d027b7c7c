//! The Tollgate secrets broker: per tool invocation, an OpenBao child token with a narrow
//! policy; credentials minted under it and delivered only to the tool the policy grants them
//! to (the value, or a placeholder only the proxy redeems); the token revoked, with every
//! lease under it, when the invocation ends, passes its deadline, or misuses a credential.
//! Two interfaces: the control API (orchestrator, proxy) and the tool socket.
#![forbid(unsafe_code)]

pub mod client;
pub mod config;
pub mod control;
pub mod error;
pub mod grants;
pub mod lifecycle;
pub mod socket;
pub mod store;
pub mod vault;

use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::watch;
use tollgate_shared::budget::{InProcessStore, Meter, RedisConfig, RedisStore};
use tollgate_shared::policy::{Diagnostic, load_dir};
use tracing::{error, info, warn};

use crate::config::{BrokerConfig, ConfigError, read_token};
use crate::control::Tokens;
use crate::lifecycle::{Broker, Settings};
use crate::socket::PeerRule;
use crate::vault::{Login, TokenKeeper, Vault, VaultError};

#[derive(Debug, Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("policies: {0}")]
    Policies(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("provenance: {0}")]
    Provenance(String),
    #[error("tool-call budget store: {0}")]
    Budget(String),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
}

/// How long start-up waits for OpenBao to answer its first login.
const LOGIN_PATIENCE: Duration = Duration::from_secs(30);

/// Runs the broker until SIGINT or SIGTERM.
pub async fn run(config: BrokerConfig) -> Result<(), StartError> {
    // reqwest is built without a default crypto provider; rustls uses ring (deny.toml).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let policies = load_policies(&config)?;
    let tokens = Tokens {
        orchestrator: read_token(&config.control_token_file)?,
        proxy: read_token(&config.proxy_token_file)?,
    };
    let vault = Vault::new(&config.vault)?;
    let keeper = login(&vault, Login::from_config(&config.vault.auth)?).await?;
    let store = store::open(&config.store).await?;
    let control = tokio::net::TcpListener::bind(&config.control_listen)
        .await
        .map_err(|source| StartError::Bind {
            address: config.control_listen.clone(),
            source,
        })?;
    let socket = socket::bind(&config.socket, config.socket_mode).map_err(|source| StartError::Bind {
        address: config.socket.display().to_string(),
        source,
    })?;
    let provenance = config
        .provenance
        .as_ref()
        .map(|settings| tollgate_shared::provenance::Sink::open(settings, "broker"))
        .transpose()
        .map_err(|e| StartError::Provenance(e.to_string()))?;
    let broker = Arc::new(Broker::new(
        policies,
        vault,
        keeper.clone(),
        store,
        tool_call_meter(&config.store)?,
        Settings {
            default_ttl: config.default_ttl,
            max_ttl: config.max_ttl,
            proxy_address: config.proxy_address.clone(),
            database_mount: config.vault.database_mount.clone(),
        },
        provenance,
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let renewal = tokio::spawn(keeper.keep_alive());
    let sweeper = tokio::spawn(sweep(Arc::clone(&broker), config.sweep_interval, stop_rx.clone()));
    let reloader = tokio::spawn(reload(Arc::clone(&broker), config.clone(), stop_rx.clone()));
    let peers = PeerRule {
        uids: config.socket_uids.clone(),
        gids: config.socket_gids.clone(),
    };
    let tool_socket = tokio::spawn(socket::serve(
        socket,
        Arc::clone(&broker),
        peers,
        stopped(stop_rx.clone()),
    ));
    info!(control = %config.control_listen, socket = %config.socket.display(), "tollgate broker ready");
    let served = axum::serve(control, control::router(Arc::clone(&broker), tokens))
        .with_graceful_shutdown(async move {
            signal().await;
            let _ = stop_tx.send(true);
        })
        .await;
    if let Err(e) = served {
        error!("control API stopped: {e}");
    }
    let _ = tool_socket.await;
    let _ = sweeper.await;
    let _ = reloader.await;
    renewal.abort();
    broker.shutdown().await;
    let _ = std::fs::remove_file(&config.socket);
    info!("tollgate broker stopped");
    Ok(())
}

/// Where sessions' tool calls are counted: with the store, so replicas share one count.
fn tool_call_meter(store: &config::StoreConfig) -> Result<Meter, StartError> {
    let counters: Arc<dyn tollgate_shared::budget::BudgetStore> = match store {
        config::StoreConfig::File { .. } => Arc::new(InProcessStore::new(Duration::from_secs(24 * 3600))),
        config::StoreConfig::Redis { url, prefix } => {
            let mut redis = RedisConfig::new(url.clone());
            redis.prefix = format!("{prefix}:budget");
            Arc::new(RedisStore::connect(&redis).map_err(|e| StartError::Budget(e.to_string()))?)
        }
    };
    Ok(Meter::new(counters))
}

fn load_policies(config: &BrokerConfig) -> Result<tollgate_shared::policy::PolicySet, StartError> {
    let loaded = load_dir(&config.policies).map_err(|e| StartError::Policies(e.to_string()))?;
    loaded.policies.ok_or_else(|| {
        let errors: Vec<String> = loaded
            .diagnostics
            .iter()
            .filter(|d| Diagnostic::is_error(d))
            .map(ToString::to_string)
            .collect();
        StartError::Policies(format!("{} error(s):\n{}", errors.len(), errors.join("\n")))
    })
}

/// The first login, retried while the server is unreachable, for a bounded time.
async fn login(vault: &Vault, login: Login) -> Result<TokenKeeper, VaultError> {
    let started = Instant::now();
    loop {
        match TokenKeeper::login(vault.clone(), login.clone()).await {
            Err(e) if e.is_unavailable() && started.elapsed() < LOGIN_PATIENCE => {
                warn!("OpenBao not reachable yet, retrying: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => return other,
        }
    }
}

/// The deadline sweep and the owed revocations, at once on start (a broker killed with
/// revocations owed carries them out here) and then every `every`.
async fn sweep(broker: Arc<Broker>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => match broker.sweep().await {
                Ok((0, 0)) => {}
                Ok((ended, revoked)) => info!(ended, revoked, "sweep"),
                Err(e) => warn!("sweep failed, will retry: {e}"),
            },
            _ = stop.changed() => return,
        }
    }
}

/// Reloads the policies when a file under the directory changes; a broken edit is logged and
/// the previous set stays in force.
async fn reload(broker: Arc<Broker>, config: BrokerConfig, mut stop: watch::Receiver<bool>) {
    let mut seen = tollgate_shared::policy::newest_change(&config.policies);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = tollgate_shared::policy::newest_change(&config.policies);
                if now == seen {
                    continue;
                }
                seen = now;
                match load_policies(&config) {
                    Ok(policies) => {
                        info!(tenants = policies.tenants.len(), "policies reloaded");
                        broker.reload(policies, "file change");
                    }
                    Err(e) => {
                        error!("policy reload rejected; the previous policies stay in force: {e}");
                        broker.reload_rejected(&e.to_string(), "file change");
                    }
                }
            }
            _ = stop.changed() => return,
        }
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
