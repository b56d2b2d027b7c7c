//! Prometheus metrics: requests by decision and reason, bytes, handshake and upstream latency,
//! certificate minting and cache, DNS lookups, policy reloads, budget refusals, cut-offs and
//! the budget store's availability.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use tollgate_shared::budget::{BudgetEvent, BudgetHook};

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    /// `requests{decision="allow",reason="allowed"}`, resolved once: the hot path.
    allowed: prometheus::IntCounter,
    pub bytes: IntCounterVec,
    /// `bytes{direction="in"}` and `{direction="out"}`, resolved once: every request adds
    /// to both.
    bytes_in: IntCounter,
    bytes_out: IntCounter,
    pub handshake_seconds: Histogram,
    pub upstream_seconds: Histogram,
    pub certs_minted: IntGauge,
    pub cert_cache_entries: IntGauge,
    pub dns_lookups: IntGauge,
    pub reloads: IntCounterVec,
    pub open_connections: IntGauge,
    pub budget: BudgetMetrics,
    /// Findings in intercepted answers (and answers that could not be judged, as class
    /// `unjudged`), by class and action.
    pub output: IntCounterVec,
}

/// Budget figures, fed by every budget event (see [`BudgetHook`]).
#[derive(Debug, Clone)]
pub struct BudgetMetrics {
    /// Requests or declared bodies refused, by budget and scope.
    pub denials: IntCounterVec,
    /// Streams cut where a budget ended, by budget and scope.
    pub cuts: IntCounterVec,
    /// Operations that failed closed because the store did not answer, by reason.
    pub store_failures: IntCounterVec,
    /// 1 while the last store operation succeeded, 0 after one failed.
    pub store_up: IntGauge,
    pub admitted: IntCounter,
}

impl BudgetMetrics {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let denials = IntCounterVec::new(
            Opts::new(
                "budget_denials_total",
                "Requests refused over budget, by budget and scope",
            ),
            &["budget", "scope"],
        )?;
        let cuts = IntCounterVec::new(
            Opts::new(
                "budget_cuts_total",
                "Streams cut off at a budget, by budget and scope",
            ),
            &["budget", "scope"],
        )?;
        let store_failures = IntCounterVec::new(
            Opts::new(
                "budget_store_unavailable_total",
                "Budget operations that failed closed because the store did not answer, by reason",
            ),
            &["reason"],
        )?;
        let store_up = IntGauge::new(
            "budget_store_up",
            "1 while the budget store answers, 0 after a failure",
        )?;
        let admitted = IntCounter::new("budget_admitted_total", "Requests admitted by the budget meter")?;
        store_up.set(1);
        registry.register(Box::new(denials.clone()))?;
        registry.register(Box::new(cuts.clone()))?;
        registry.register(Box::new(store_failures.clone()))?;
        registry.register(Box::new(store_up.clone()))?;
        registry.register(Box::new(admitted.clone()))?;
        Ok(Self {
            denials,
            cuts,
            store_failures,
            store_up,
            admitted,
        })
    }
}

impl BudgetHook for BudgetMetrics {
    fn on_event(&self, event: &BudgetEvent<'_>) {
        match event {
            BudgetEvent::Admitted { .. } => {
                self.admitted.inc();
                self.store_up.set(1);
            }
            BudgetEvent::Denied { exceeded, .. } => {
                self.store_up.set(1);
                self.denials
                    .with_label_values(&[exceeded.budget.as_str(), exceeded.scope.as_str()])
                    .inc();
            }
            BudgetEvent::Charged {
                exceeded: Some(e), ..
            } => self
                .cuts
                .with_label_values(&[e.budget.as_str(), e.scope.as_str()])
                .inc(),
            BudgetEvent::StoreFailed { error, .. } => {
                self.store_up.set(0);
                self.store_failures
                    .with_label_values(&[error.reason().as_str()])
                    .inc();
            }
            BudgetEvent::Charged { .. }
            | BudgetEvent::Settled { .. }
            | BudgetEvent::ToolCallAdmitted { .. } => {}
        }
    }
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
        let output = IntCounterVec::new(
            Opts::new(
                "output_findings_total",
                "Instructions for the model found in intercepted answers, by class and action",
            ),
            &["class", "action"],
        )?;
        let allowed = requests.with_label_values(&["allow", "allowed"]);
        let (bytes_in, bytes_out) = (
            bytes.with_label_values(&["in"]),
            bytes.with_label_values(&["out"]),
        );
        registry.register(Box::new(output.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(bytes.clone()))?;
        registry.register(Box::new(handshake_seconds.clone()))?;
        registry.register(Box::new(upstream_seconds.clone()))?;
        registry.register(Box::new(certs_minted.clone()))?;
        registry.register(Box::new(cert_cache_entries.clone()))?;
        registry.register(Box::new(dns_lookups.clone()))?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(open_connections.clone()))?;
        let budget = BudgetMetrics::new(&registry)?;
        Ok(Self {
            registry,
            requests,
            allowed,
            bytes,
            bytes_in,
            bytes_out,
            handshake_seconds,
            upstream_seconds,
            certs_minted,
            cert_cache_entries,
            dns_lookups,
            reloads,
            open_connections,
            budget,
            output,
        })
    }

    /// One request let through.
    pub fn allowed(&self) {
        self.allowed.inc();
    }

    /// Bytes moved for the client: `back` to it, `out` from it.
    pub fn moved(&self, back: u64, out: u64) {
        self.bytes_in.inc_by(back);
        self.bytes_out.inc_by(out);
    }

    /// One answer given instead of the upstream's; only the exit in `rescue` calls this.
    pub fn refused(&self, reason: tollgate_shared::outcome::Reason) {
        self.requests.with_label_values(&["deny", reason.as_str()]).inc();
    }

    /// One request a report-mode policy would have refused, let through.
    pub fn reported(&self, reason: tollgate_shared::outcome::Reason) {
        self.requests
            .with_label_values(&["report", reason.as_str()])
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
