//! Assembling and running the proxy: pingora server, front door, pipeline, metrics endpoint
//! and the policy reloader.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora_core::apps::ServerApp;
use pingora_core::protocols::Stream;
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::{Server, ShutdownWatch};
use pingora_core::services::background::{BackgroundService, background_service};
use pingora_core::services::listening::Service;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tollgate_shared::detect::{Engine, FingerprintKey, KnownSecrets};
use tollgate_shared::provenance::policy_reload;
use tracing::{error, info, warn};

use crate::budget::{BudgetConfigError, Metering};
use crate::ca::{Authority, CaError};
use crate::config::ProxyConfig;
use crate::front::FrontDoor;
use crate::gate::{ConnectionLimiter, Gate};
use crate::identity::{BrokerIdentities, BrokerSettings, IdentityError, IdentitySource, StaticIdentities};
use crate::known::{self, KnownListError};
use crate::metrics::Metrics;
use crate::mint::Minter;
use crate::pipeline::Pipeline;
use crate::policies::{PolicyStore, ReloadError};
use crate::resolve::{ResolveError, Resolver, ResolverSettings};

#[derive(Debug, Error)]
pub enum StartError {
    #[error("policies: {0}")]
    Policies(String),
    #[error(transparent)]
    Identities(#[from] IdentityError),
    #[error("interception CA: {0}")]
    Ca(#[from] CaError),
    #[error(transparent)]
    Resolver(#[from] ResolveError),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error(transparent)]
    Budgets(#[from] BudgetConfigError),
    #[error("secret detection: {0}")]
    Detection(String),
    #[error(transparent)]
    KnownSecrets(#[from] KnownListError),
    #[error("upstream roots: {0}")]
    Roots(String),
    #[error("broker: {0}")]
    Broker(String),
    #[error("provenance: {0}")]
    Provenance(String),
    #[error("cannot listen on {address}: {source}")]
    Listen { address: String, source: std::io::Error },
}

/// Builds every part from the configuration; fails before listening if anything is wrong.
pub fn build(config: &ProxyConfig) -> Result<Server, StartError> {
    // reqwest (the broker lookups, the OTLP export) is built without a default crypto
    // provider, and pingora's upstream connector takes the process default: one provider for
    // every TLS session, ring unless built with `aws-lc-rs` (deny.toml says why).
    crate::mint::install_crypto_provider();
    for address in std::iter::once(&config.listen).chain(&config.metrics_listen) {
        can_listen(address)?;
    }
    let policies =
        PolicyStore::open(&config.policies).map_err(|e| StartError::Policies(describe_reload_error(&e)))?;
    let policies = Arc::new(policies);
    let resolver = Resolver::new(ResolverSettings {
        nameservers: config.resolver.nameservers.clone(),
        hosts: config.resolver.hosts.clone(),
        timeout: config.resolver.timeout,
    })?;
    let metrics = Metrics::new()?;
    let budgets = Metering::new(&config.budgets, Arc::new(metrics.budget.clone()))?;
    let engine = detection_engine(config)?;
    let gate = Arc::new(Gate {
        policies: Arc::clone(&policies),
        identities: identity_source(config, engine)?,
        resolver,
        minter: Minter::new(
            Authority::load(&config.ca_dir)?,
            config.certificates.validity,
            config.certificates.cache_size,
        )?,
        metrics,
        limits: config.limits.clone(),
        connections: ConnectionLimiter::new(config.limits.max_connections_per_identity),
        information: crate::information::InformationMeter::new(budgets.redis_config().cloned()),
        budgets,
        engine,
        known: known_secrets(config)?,
        provenance: config
            .provenance
            .as_ref()
            .map(|settings| tollgate_shared::provenance::Sink::open(settings, "proxy"))
            .transpose()
            .map_err(|e| StartError::Provenance(e.to_string()))?,
        judge: tollgate_shared::output::Judge::new(),
    });
    let mut conf = ServerConf {
        threads: config.threads.max(1),
        graceful_shutdown_timeout_seconds: Some(config.limits.graceful_shutdown.as_secs().max(1)),
        grace_period_seconds: Some(0),
        ca_file: Some(upstream_roots(config)?),
        ..ServerConf::default()
    };
    conf.upstream_keepalive_pool_size = 128;
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let pipeline = Arc::new(pingora_proxy::http_proxy(
        &server.configuration,
        Pipeline {
            gate: Arc::clone(&gate),
        },
    ));
    let mut front = Service::new(
        "tollgate front door".to_owned(),
        FrontDoor {
            gate: Arc::clone(&gate),
            pipeline,
        },
    );
    front.add_tcp(&config.listen);
    server.add_service(front);
    if let Some(listen) = &config.metrics_listen {
        let mut metrics = Service::new(
            "tollgate metrics".to_owned(),
            MetricsEndpoint {
                gate: Arc::clone(&gate),
            },
        );
        metrics.add_tcp(listen);
        server.add_service(metrics);
    }
    server.add_service(background_service("policy reloader", Reloader { gate }));
    info!(listen = %config.listen, policies = %config.policies.display(), "tollgate proxy starting");
    Ok(server)
}

/// pingora binds its listeners in the service's own thread after start-up, and a failure
/// there ends only that thread: the process would run on without listening. So every address
/// is bound once here, before anything starts, and a failure is a start-up error naming it.
/// (The proxy's binary also exits if pingora's own bind fails in the moment between.)
fn can_listen(address: &str) -> Result<(), StartError> {
    std::net::TcpListener::bind(address)
        .map(drop)
        .map_err(|source| StartError::Listen {
            address: address.to_owned(),
            source,
        })
}

/// The detection engine, built once and kept for the life of the process (streamed bodies
/// borrow it across pingora's callbacks).
fn detection_engine(config: &ProxyConfig) -> Result<&'static Engine, StartError> {
    let key = match &config.fingerprint_key {
        Some(path) => {
            std::fs::read(path).map_err(|e| StartError::Detection(format!("{}: {e}", path.display())))?
        }
        None => {
            let mut key = vec![0u8; 32];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
                .map_err(|_| StartError::Detection("no randomness for the fingerprint key".to_owned()))?;
            key
        }
    };
    let key = FingerprintKey::new(key).map_err(|e| StartError::Detection(e.to_string()))?;
    let engine = Engine::new(key).map_err(|e| StartError::Detection(e.to_string()))?;
    Ok(Box::leak(Box::new(engine)))
}

/// The operator's known-secret list, loaded once. Only its size is logged.
fn known_secrets(config: &ProxyConfig) -> Result<Vec<Arc<KnownSecrets>>, StartError> {
    let Some(path) = &config.known_secrets else {
        return Ok(Vec::new());
    };
    let set = known::load(path)?;
    info!(path = %path.display(), values = set.len(), "known secrets loaded");
    Ok(vec![Arc::new(set)])
}

/// The broker when one is configured, else the identities file.
fn identity_source(
    config: &ProxyConfig,
    engine: &'static Engine,
) -> Result<Arc<dyn IdentitySource>, StartError> {
    let Some(broker) = &config.broker else {
        return Ok(Arc::new(StaticIdentities::load(&config.identities)?));
    };
    let token = tollgate_shared::invocation::read_token_file(&broker.token_file)
        .map_err(|e| StartError::Broker(e.to_string()))?;
    let settings = BrokerSettings {
        url: broker.url.trim_end_matches('/').to_owned(),
        token,
        cache_ttl: broker.cache_ttl,
        timeout: broker.timeout,
        cache_size: broker.cache_size,
    };
    info!(broker = %settings.url, cache_ttl = ?settings.cache_ttl, "identities come from the broker");
    Ok(Arc::new(
        BrokerIdentities::new(settings, engine).map_err(StartError::Broker)?,
    ))
}

/// webpki roots plus the configured extra bundle, written once as the PEM file pingora's
/// connector loads (it reads roots from one file).
fn upstream_roots(config: &ProxyConfig) -> Result<String, StartError> {
    let mut pem = String::new();
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str(&pem_block(cert.as_ref()));
    }
    if let Some(extra) = &config.upstream_ca {
        let text = std::fs::read_to_string(extra)
            .map_err(|e| StartError::Roots(format!("{}: {e}", extra.display())))?;
        pem.push_str(&text);
        pem.push('\n');
    }
    let path = std::env::temp_dir().join(format!("tollgate-upstream-roots-{}.pem", std::process::id()));
    let mut file =
        std::fs::File::create(&path).map_err(|e| StartError::Roots(format!("{}: {e}", path.display())))?;
    file.write_all(pem.as_bytes())
        .map_err(|e| StartError::Roots(e.to_string()))?;
    Ok(path.display().to_string())
}

fn pem_block(der: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

pub fn describe_reload_error(error: &ReloadError) -> String {
    match error {
        ReloadError::Unreadable(message) => message.clone(),
        ReloadError::Invalid(diagnostics) => {
            let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            format!("{} error(s):\n{}", diagnostics.len(), lines.join("\n"))
        }
    }
}

/// Serves `GET /metrics` in the Prometheus text format.
struct MetricsEndpoint {
    gate: Arc<Gate>,
}

#[async_trait]
impl ServerApp for MetricsEndpoint {
    async fn process_new(self: &Arc<Self>, mut stream: Stream, _shutdown: &ShutdownWatch) -> Option<Stream> {
        let mut buf = [0u8; 1024];
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
        let body = self.gate.metrics.render();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&body).await;
        let _ = stream.flush().await;
        None
    }
}

/// Reloads the policies on SIGHUP and when a file under the directory changes.
struct Reloader {
    gate: Arc<Gate>,
}

impl Reloader {
    fn reload(&self, why: &str) {
        match self.gate.policies.reload() {
            Ok(tenants) => {
                self.gate.metrics.reloads.with_label_values(&["ok"]).inc();
                info!(tenants, trigger = why, "policies reloaded");
                self.gate.record_event(policy_reload("proxy", why, Ok(tenants)));
            }
            Err(e) => {
                self.gate.metrics.reloads.with_label_values(&["rejected"]).inc();
                let problem = describe_reload_error(&e);
                error!(
                    trigger = why,
                    "policy reload rejected; the previous policies stay in force: {problem}"
                );
                self.gate.record_event(policy_reload("proxy", why, Err(&problem)));
            }
        }
    }
}

#[async_trait]
impl BackgroundService for Reloader {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(signal) => Some(signal),
            Err(e) => {
                warn!("cannot listen for SIGHUP: {e}");
                None
            }
        };
        let mut seen = self.gate.policies.fingerprint();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                Some(()) = async { match hangup.as_mut() { Some(s) => s.recv().await, None => std::future::pending().await } } => self.reload("SIGHUP"),
                _ = tick.tick() => {
                    let now = self.gate.policies.fingerprint();
                    if now != seen {
                        seen = now;
                        self.reload("file change");
                    }
                }
            }
        }
    }
}
