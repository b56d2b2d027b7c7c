//! Name resolution for the proxy: the proxy resolves allowed hosts itself (clients never
//! choose the address) with hickory, against configured nameservers or the system's, with a
//! hosts-style override for tests and private deployments. Every upstream lookup is counted,
//! so a test can prove that a denied host was never looked up.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use thiserror::Error;
use tollgate_shared::policy::host::Host;

#[derive(Debug, Error)]
pub enum ResolveError {
    #[error("cannot resolve {host}: {message}")]
    Failed { host: String, message: String },
    #[error("{host} has no addresses")]
    NoAddresses { host: String },
    #[error("cannot read the system resolver configuration: {0}")]
    SystemConfig(String),
}

/// Resolver settings.
#[derive(Debug, Clone, Default)]
pub struct ResolverSettings {
    /// Nameservers to ask; empty means the system's (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// Names answered locally, without any lookup.
    pub hosts: HashMap<String, Vec<IpAddr>>,
    pub timeout: Option<Duration>,
}

pub struct Resolver {
    inner: TokioResolver,
    hosts: HashMap<String, Vec<IpAddr>>,
    lookups: AtomicU64,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("hosts", &self.hosts.len())
            .field("lookups", &self.lookups())
            .finish()
    }
}

impl Resolver {
    pub fn new(settings: ResolverSettings) -> Result<Self, ResolveError> {
        let provider = TokioConnectionProvider::default();
        let mut builder = if settings.nameservers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| ResolveError::SystemConfig(e.to_string()))?
        } else {
            let servers: Vec<NameServerConfig> = settings
                .nameservers
                .iter()
                .map(|addr| NameServerConfig::new(*addr, Protocol::Udp))
                .collect();
            TokioResolver::builder_with_config(ResolverConfig::from_parts(None, vec![], servers), provider)
        };
        let options = builder.options_mut();
        // The override map is ours; the system hosts file would let a container's
        // /etc/hosts steer the proxy.
        options.use_hosts_file = ResolveHosts::Never;
        if let Some(timeout) = settings.timeout {
            options.timeout = timeout;
        }
        options.attempts = 2;
        let hosts = settings
            .hosts
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        Ok(Self {
            inner: builder.build(),
            hosts,
            lookups: AtomicU64::new(0),
        })
    }

    /// The addresses of `host`: the literal itself, the override, or a DNS answer.
    pub async fn resolve(&self, host: &Host) -> Result<Vec<IpAddr>, ResolveError> {
        let name = match host {
            Host::Ip(ip) => return Ok(vec![*ip]),
            Host::Name(name) => name,
        };
        if let Some(addresses) = self.hosts.get(name) {
            return Ok(addresses.clone());
        }
        self.lookups.fetch_add(1, Ordering::Relaxed);
        // A trailing dot makes the name absolute: no search-domain expansion.
        let lookup = self
            .inner
            .lookup_ip(format!("{name}."))
            .await
            .map_err(|e| ResolveError::Failed {
                host: name.clone(),
                message: e.to_string(),
            })?;
        let addresses: Vec<IpAddr> = lookup.iter().collect();
        if addresses.is_empty() {
            return Err(ResolveError::NoAddresses { host: name.clone() });
        }
        Ok(addresses)
    }

    /// How many names were sent to a nameserver since start.
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }
}
