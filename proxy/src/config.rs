//! The proxy's configuration file (TOML, strict), with defaults that run on one machine.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// Where clients connect (`HTTPS_PROXY`): CONNECT and absolute-form HTTP on one port.
    pub listen: String,
    /// The policy directory (defaults.toml, tenants/).
    pub policies: PathBuf,
    /// Static proxy credentials: user, SHA-256 of the secret, tenant, session, tool. Used
    /// when no `[broker]` is configured.
    pub identities: PathBuf,
    /// Learn invocations from the broker's control API instead of the identities file.
    pub broker: Option<BrokerSource>,
    /// The provenance file (JSON Lines with a hash chain), one record per request.
    /// A path alone, or a table: `path`, `sync_every`, `checkpoint_every`, `rotate_bytes`,
    /// `key`, `origin`.
    #[serde(
        default = "default_provenance",
        deserialize_with = "tollgate_shared::provenance::settings_or_path"
    )]
    pub provenance: Option<tollgate_shared::provenance::SinkSettings>,
    /// The interception CA made by `tollgate ca init`.
    pub ca_dir: PathBuf,
    /// Extra PEM roots trusted for upstreams, on top of the webpki roots.
    pub upstream_ca: Option<PathBuf>,
    /// Prometheus metrics endpoint; none if unset.
    pub metrics_listen: Option<String>,
    /// A file holding the key (at least 16 bytes) for the fingerprints that findings carry,
    /// so that the same secret has the same fingerprint across restarts and replicas; a
    /// random key per process when unset.
    pub fingerprint_key: Option<PathBuf>,
    /// A file of secret values (one per line, `#` comments) that no request may carry, in
    /// any location, plain or base64-, hex- or percent-encoded (`known-secret` detector).
    pub known_secrets: Option<PathBuf>,
    /// Worker threads for the proxy.
    pub threads: usize,
    pub resolver: ResolverConfig,
    pub limits: Limits,
    pub certificates: Certificates,
    pub budgets: BudgetConfig,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:3128".to_owned(),
            policies: PathBuf::from("policies"),
            identities: PathBuf::from("identities.toml"),
            broker: None,
            provenance: default_provenance(),
            ca_dir: PathBuf::from(".tollgate/ca"),
            upstream_ca: None,
            metrics_listen: None,
            fingerprint_key: None,
            known_secrets: None,
            threads: 1,
            resolver: ResolverConfig::default(),
            limits: Limits::default(),
            certificates: Certificates::default(),
            budgets: BudgetConfig::default(),
        }
    }
}

/// The broker as the source of identities.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerSource {
    /// Base URL of the broker's control API, e.g. `http://127.0.0.1:8200`.
    pub url: String,
    /// File holding the proxy role's bearer token.
    pub token_file: PathBuf,
    /// How long a lookup is trusted: an ended invocation stops working within this bound.
    #[serde(with = "humantime_serde", default = "default_cache_ttl")]
    pub cache_ttl: Duration,
    /// How long one lookup may take before the request gets 503 `broker_unavailable`.
    #[serde(with = "humantime_serde", default = "default_lookup_timeout")]
    pub timeout: Duration,
    #[serde(default = "default_identity_cache")]
    pub cache_size: u64,
}

fn default_cache_ttl() -> Duration {
    Duration::from_secs(2)
}

fn default_lookup_timeout() -> Duration {
    Duration::from_secs(1)
}

fn default_identity_cache() -> u64 {
    100_000
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResolverConfig {
    /// Nameservers (`ip:port`); the system's when empty.
    pub nameservers: Vec<SocketAddr>,
    /// Names answered without any lookup (tests, private deployments).
    pub hosts: HashMap<String, Vec<IpAddr>>,
    #[serde(with = "humantime_serde_opt")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request head accepted (front door), in bytes.
    pub max_header_bytes: usize,
    /// Time a client has to send a complete request head (slowloris bound).
    #[serde(with = "humantime_serde")]
    pub head_timeout: Duration,
    /// Idle time after which a tunnel or connection is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time to wait for the upstream to answer.
    #[serde(with = "humantime_serde")]
    pub upstream_timeout: Duration,
    /// Open client connections one identity may hold.
    pub max_connections_per_identity: usize,
    /// Bound on graceful shutdown.
    #[serde(with = "humantime_serde")]
    pub graceful_shutdown: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            upstream_timeout: Duration::from_secs(30),
            max_connections_per_identity: 64,
            graceful_shutdown: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Certificates {
    /// Validity of minted leaves; they are cached for half of it.
    #[serde(with = "humantime_serde")]
    pub validity: Duration,
    pub cache_size: u64,
}

impl Default for Certificates {
    fn default() -> Self {
        Self {
            validity: Duration::from_secs(24 * 3600),
            cache_size: 10_000,
        }
    }
}

/// Where budget counters live: in this process (the default), or in Redis so that several
/// proxy replicas share them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// `memory` or `redis`; `redis` when a `redis` URL is given and this is unset.
    pub store: Option<BudgetStoreKind>,
    /// `redis://host:port/db` of the shared store.
    pub redis: Option<String>,
    /// Prefix of every Redis key.
    pub key_prefix: String,
    /// Counters of a scope with no activity for this long are forgotten (a finished session).
    #[serde(with = "humantime_serde")]
    pub idle_ttl: Duration,
    /// How long one store operation may take before the request fails closed (Redis).
    #[serde(with = "humantime_serde")]
    pub store_timeout: Duration,
    /// Per-invocation budget plans kept in memory.
    pub plan_cache_size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetStoreKind {
    Memory,
    Redis,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            store: None,
            redis: None,
            key_prefix: "tollgate:budget".to_owned(),
            idle_ttl: Duration::from_secs(24 * 3600),
            store_timeout: Duration::from_millis(500),
            plan_cache_size: 100_000,
        }
    }
}

impl ProxyConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

mod humantime_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

mod humantime_serde_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| humantime::parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

fn default_provenance() -> Option<tollgate_shared::provenance::SinkSettings> {
    Some(tollgate_shared::provenance::SinkSettings::at("provenance.jsonl"))
}
