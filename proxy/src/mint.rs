//! Per-host TLS server configurations for intercepted connections, each with a leaf minted
//! by the CA and cached (bounded, with a TTL well inside the leaf's validity).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;
use rcgen::KeyPair;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;

use crate::ca::{Authority, CaError};

/// The one crypto provider rustls runs on, on both sides of every intercepted connection
/// (and for the broker client): ring by default, aws-lc-rs with the `aws-lc-rs` feature, so
/// that the two can be measured against each other on the same hot path.
pub fn crypto_provider() -> CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    return rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "aws-lc-rs"))]
    return rustls::crypto::ring::default_provider();
}

/// Makes [`crypto_provider`] the process default, which pingora's upstream connector and
/// reqwest use; pingora would install ring otherwise. Call before either builds a config.
pub fn install_crypto_provider() {
    // An error only says that a provider is installed already: the first one stays.
    let _ = crypto_provider().install_default();
}

/// Mints and caches one `ServerConfig` per host.
pub struct Minter {
    authority: Authority,
    /// One key for every leaf: minting is then a signature, not a key generation. Whoever
    /// holds it could impersonate intercepted hosts to our clients — exactly as whoever holds
    /// the CA key could, and the two live together.
    leaf_key: KeyPair,
    validity: Duration,
    cache: Cache<String, Arc<ServerConfig>>,
    minted: AtomicU64,
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minter")
            .field("cached", &self.cache.entry_count())
            .field("minted", &self.minted())
            .finish()
    }
}

impl Minter {
    pub fn new(authority: Authority, validity: Duration, capacity: u64) -> Result<Self, CaError> {
        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let cache = Cache::builder()
            .max_capacity(capacity)
            .time_to_live(validity / 2)
            .build();
        Ok(Self {
            authority,
            leaf_key,
            validity,
            cache,
            minted: AtomicU64::new(0),
        })
    }

    /// The server configuration presenting a certificate for `host`.
    pub fn config_for(&self, host: &str) -> Result<Arc<ServerConfig>, CaError> {
        if let Some(config) = self.cache.get(host) {
            return Ok(config);
        }
        let config = Arc::new(self.build(host)?);
        self.cache.insert(host.to_owned(), Arc::clone(&config));
        Ok(config)
    }

    /// Mints a leaf and builds its configuration, bypassing the cache (for benchmarks).
    pub fn build(&self, host: &str) -> Result<ServerConfig, CaError> {
        let leaf = self.authority.mint(host, &self.leaf_key, self.validity)?;
        self.minted.fetch_add(1, Ordering::Relaxed);
        let mut config = ServerConfig::builder_with_provider(Arc::new(crypto_provider()))
            .with_safe_default_protocol_versions()
            .map_err(CaError::Tls)?
            .with_no_client_auth()
            .with_single_cert(leaf.chain, leaf.key)
            .map_err(CaError::Tls)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    pub fn minted(&self) -> u64 {
        self.minted.load(Ordering::Relaxed)
    }

    pub fn cached(&self) -> u64 {
        self.cache.entry_count()
    }
}
