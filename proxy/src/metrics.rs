//! Prometheus metrics: requests by decision and reason, bytes, handshake and upstream latency,
//! certificate minting and cache, DNS lookups, policy reloads.

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    /// `requests{decision="allow",reason="allowed"}`, resolved once: the hot path.
    allowed: prometheus::IntCounter,
    pub bytes: IntCounterVec,
    pub handshake_seconds: Histogram,
    pub upstream_seconds: Histogram,
    pub certs_minted: IntGauge,
    pub cert_cache_entries: IntGauge,
    pub dns_lookups: IntGauge,
    pub reloads: IntCounterVec,
    pub open_connections: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("tollgate".to_owned()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("requests_total", "Requests by decision and reason code"),
            &["decision", "reason"],
        )?;
        let bytes = IntCounterVec::new(
            Opts::new("bytes_total", "Bytes moved, by direction"),
            &["direction"],
        )?;
        let buckets = vec![
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ];
        let handshake_seconds = Histogram::with_opts(
            HistogramOpts::new("client_tls_handshake_seconds", "Client TLS handshake time")
                .buckets(buckets.clone()),
        )?;
        let upstream_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "upstream_response_seconds",
                "Time from request to upstream response head",
            )
            .buckets(buckets),
        )?;
        let certs_minted = IntGauge::new("certificates_minted", "Leaf certificates minted since start")?;
        let cert_cache_entries =
            IntGauge::new("certificate_cache_entries", "Leaf configurations in the cache")?;
        let dns_lookups = IntGauge::new("dns_lookups", "Names sent to a nameserver since start")?;
        let reloads = IntCounterVec::new(
            Opts::new("policy_reloads_total", "Policy reloads by outcome"),
            &["outcome"],
        )?;
        let open_connections = IntGauge::new("open_client_connections", "Client connections being served")?;
        let allowed = requests.with_label_values(&["allow", "allowed"]);
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(bytes.clone()))?;
        registry.register(Box::new(handshake_seconds.clone()))?;
        registry.register(Box::new(upstream_seconds.clone()))?;
        registry.register(Box::new(certs_minted.clone()))?;
        registry.register(Box::new(cert_cache_entries.clone()))?;
        registry.register(Box::new(dns_lookups.clone()))?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(open_connections.clone()))?;
        Ok(Self {
            registry,
            requests,
            allowed,
            bytes,
            handshake_seconds,
            upstream_seconds,
            certs_minted,
            cert_cache_entries,
            dns_lookups,
            reloads,
            open_connections,
        })
    }

    pub fn decision(&self, allowed: bool, reason: &str) {
        if allowed && reason == "allowed" {
            return self.allowed.inc();
        }
        self.requests
            .with_label_values(&[if allowed { "allow" } else { "deny" }, reason])
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding into a Vec only fails on malformed metric families, which we never build.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}
