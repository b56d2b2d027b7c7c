//! The checks every proxied request passes, shared by the front door and the pipeline:
//! who is calling, what the policy decides, and which address may be dialled.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use ipnet::IpNet;
use tollgate_shared::decision::{self, Request, Verdict};
use tollgate_shared::outcome::Reason;
use tollgate_shared::policy::host::Host;
use tollgate_shared::policy::model::{Mode, OutputAction, Traffic};
use tracing::{info, warn};

use crate::budget::{Exchange, Metering};
use crate::config::Limits;
use crate::guard;
use crate::head::basic_credentials;
use crate::identity::{AuthFailure, Identity, IdentitySource};
use crate::inspect::{self, Inspection};
use crate::metrics::Metrics;
use crate::mint::Minter;
use crate::policies::{PolicyStore, Snapshot};
use crate::rescue::Denial;
use crate::resolve::Resolver;

pub struct Gate {
    pub policies: Arc<PolicyStore>,
    pub identities: Arc<dyn IdentitySource>,
    pub resolver: Resolver,
    pub minter: Minter,
    pub metrics: Metrics,
    pub limits: Limits,
    pub connections: ConnectionLimiter,
    pub budgets: Metering,
    /// The secret detection engine: one per process, shared by every request and borrowed
    /// for the whole life of each streamed body.
    pub engine: &'static tollgate_shared::detect::Engine,
    /// Known-secret sets every request is checked against (the operator's list); each
    /// invocation's issued values come with its identity.
    pub known: Vec<Arc<tollgate_shared::detect::KnownSecrets>>,
    /// Each invocation's information budget: distinct hostnames, bits per destination.
    pub information: crate::information::InformationMeter,
    /// Where provenance events go; none when unset.
    pub provenance: Option<tollgate_shared::provenance::Sink>,
    /// Judges intercepted answers for instructions injected for the model.
    pub judge: tollgate_shared::output::Judge,
}

/// The proxy credentials a client presented; Debug never shows the secret.
#[derive(Clone)]
pub struct ProxyCredentials {
    pub user: String,
    secret: zeroize::Zeroizing<String>,
    /// Taken once: a tunnel's credentials are checked again on each of its requests.
    digest: crate::identity::SecretDigest,
}

impl std::fmt::Debug for ProxyCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyCredentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl ProxyCredentials {
    /// From a `Proxy-Authorization` header, or a 407.
    pub fn from_header(header: Option<&[u8]>) -> Result<Self, Denial> {
        let (user, secret) = header.and_then(basic_credentials).ok_or_else(|| {
            Denial::new(
                Reason::ProxyAuthRequired,
                "send Proxy-Authorization: Basic credentials",
            )
        })?;
        Ok(Self {
            user,
            digest: crate::identity::SecretDigest::of(&secret),
            secret: zeroize::Zeroizing::new(secret),
        })
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").finish_non_exhaustive()
    }
}

/// What the policy allowed, as far as the rest of the request needs it.
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    pub rule: Option<String>,
    pub traffic: Traffic,
    pub allow_private: Vec<IpNet>,
    /// The rule lets the request upgrade to WebSocket.
    pub websocket: bool,
    /// What happens to the answer when it carries instructions for the model (the tool's
    /// `output` action; at most `report` in report mode).
    pub output: tollgate_shared::policy::model::OutputAction,
    /// What a report-mode policy would have refused (let through, and recorded as
    /// `egress.report`).
    pub reported: Option<Box<Denial>>,
}

/// One intercepted CONNECT tunnel: who opened it, to where, and what the client said in TLS.
#[derive(Debug)]
pub struct Tunnel {
    pub identity: Identity,
    /// Kept so that every request in the tunnel is checked again: an invocation that ends
    /// stops working on connections already open.
    pub credentials: ProxyCredentials,
    pub host: Host,
    pub port: u16,
    pub addr: SocketAddr,
    /// The Host field every request of the tunnel carries upstream (made once, not per
    /// request).
    pub authority: Arc<str>,
    /// The SNI the client sent, if any; it must name the CONNECT host.
    pub sni: Option<String>,
    /// The decrypted bytes the client sent lately (HTTP/1 only), to refuse request-targets
    /// that pingora rewrote from raw control bytes.
    pub recent: Arc<crate::rawtarget::RecentBytes>,
    /// What this connection's requests were judged clean for already.
    pub clean: crate::clean::CleanCache,
}

impl Gate {
    /// The identity behind a `Proxy-Authorization` header, or a 407 (503 when the source
    /// cannot answer).
    pub async fn authenticate(&self, header: Option<&[u8]>) -> Result<Identity, Denial> {
        self.login(&ProxyCredentials::from_header(header)?, false).await
    }

    /// The identity behind these credentials; `fresh` skips the source's cache.
    pub async fn login(&self, credentials: &ProxyCredentials, fresh: bool) -> Result<Identity, Denial> {
        let (user, secret) = (credentials.user.as_str(), credentials.secret.as_str());
        let answer = if fresh {
            self.identities.refresh(user, secret).await
        } else {
            self.identities
                .authenticate_digest(user, secret, &credentials.digest)
                .await
        };
        answer.map_err(|failure| {
            let denial = auth_denial(&failure);
            info!(proxy.user = %user, reason = %denial.reason, "proxy credentials rejected");
            denial
        })
    }

    /// The proxy blocked an issued value or placeholder: tell the source that issued it (the
    /// broker revokes it), without holding up the answer to the client.
    pub fn report_misuse(&self, identity: &Identity, denial: &mut Denial, host: &Host) {
        let Some(detected) = denial.detected.as_deref() else {
            return;
        };
        let Some(name) = identity.issued.credential_of(&detected.fingerprint) else {
            return;
        };
        denial.reason = Reason::IssuedCredentialMisuse;
        denial.message = format!(
            "credential {name} was sent outside its binding ({}); it has been revoked",
            detected.location
        );
        let report = tollgate_shared::invocation::MisuseReport {
            credential: Some(name.to_owned()),
            fingerprint: detected.fingerprint.clone(),
            location: detected.location.clone(),
            host: host.to_string(),
        };
        warn!(invocation.id = %identity.user, credential = %name, fingerprint = %detected.fingerprint, %host, "issued credential sent outside its binding");
        let source = Arc::clone(&self.identities);
        let identity = identity.clone();
        tokio::spawn(async move { source.report_misuse(&identity, report).await });
    }

    /// Decides one request (method and path `None` at CONNECT time) for `identity`.
    pub fn decide(
        &self,
        identity: &Identity,
        method: Option<&str>,
        host: &Host,
        port: u16,
        path: Option<&str>,
    ) -> Result<Allowed, Denial> {
        let set = self.policies.current();
        let Some(tenant) = set.tenant(&identity.tenant) else {
            return Err(unknown_tenant(identity));
        };
        let request = Request {
            method,
            host,
            port,
            path,
        };
        let decision = decision::decide(tenant, &identity.tool, &request);
        let output = tenant.tool(&identity.tool).map_or(OutputAction::Off, |tool| {
            if tool.mode == Mode::Report {
                tool.output.min(OutputAction::Report)
            } else {
                tool.output
            }
        });
        if decision.verdict == Verdict::Deny {
            let mut denial =
                Denial::new(decision.reason, decision.message.to_string()).for_identity(identity);
            denial.rule = decision.rule_id().map(str::to_owned);
            denial.owner = decision.owner.map(str::to_owned);
            if decision.blocks() {
                info!(tenant = %identity.tenant, tool = %identity.tool, host = %host, port, method = method.unwrap_or("CONNECT"), reason = %decision.reason, rule = decision.rule_id().unwrap_or("-"), "denied");
                return Err(denial);
            }
            warn!(tenant = %identity.tenant, tool = %identity.tool, host = %host, port, reason = %decision.reason, "would deny (report mode)");
            self.metrics.reported(decision.reason);
            return Ok(Allowed {
                reported: Some(Box::new(denial)),
                output: output.min(OutputAction::Report),
                ..Allowed::default()
            });
        }
        let rule = decision.rule;
        Ok(Allowed {
            rule: rule.map(|r| r.id.clone()),
            traffic: rule.map_or(Traffic::Inspect, |r| r.traffic),
            allow_private: rule.map(|r| r.allow_private.clone()).unwrap_or_default(),
            websocket: rule.is_some_and(|r| r.websocket),
            output,
            reported: None,
        })
    }

    /// Judges a hostname for secrets before it is resolved (DNS-style exfiltration).
    pub fn inspect_hostname(&self, identity: &Identity, host: &Host) -> Result<(), Denial> {
        let snapshot = self.policies.current();
        match self.inspection(&snapshot, identity, host) {
            Some(inspection) => self.count_findings(
                inspect::hostname(self.engine, &inspection, identity, host),
                identity,
                host,
            ),
            None => Ok(()),
        }
    }

    /// Judges a decrypted request's target and headers (and its hostname, when no CONNECT
    /// judged it already); returns the inspection that its body must pass as it streams.
    pub fn inspect_head(
        &self,
        identity: &Identity,
        host: &Host,
        with_hostname: bool,
        request: &inspect::RequestHead<'_>,
        injections: &[crate::inject::Injection],
    ) -> Result<Option<Inspection>, Denial> {
        let snapshot = self.policies.current();
        let Some(inspection) = self.inspection(&snapshot, identity, host) else {
            return Ok(None);
        };
        if with_hostname {
            self.count_findings(
                inspect::hostname(self.engine, &inspection, identity, host),
                identity,
                host,
            )?;
        }
        let skip: Vec<&http::HeaderName> = injections.iter().map(|i| &i.header).collect();
        self.count_findings(
            inspect::head(self.engine, &inspection, identity, request, &skip),
            identity,
            host,
        )?;
        Ok(Some(inspection))
    }

    fn inspection(&self, snapshot: &Snapshot, identity: &Identity, host: &Host) -> Option<Inspection> {
        Inspection::for_request(snapshot, identity, host).map(|i| i.with_known(&self.known, identity))
    }

    /// Counts a refusal; one caused by an issued value is reported to the broker.
    pub fn count_findings(
        &self,
        verdict: Result<(), Denial>,
        identity: &Identity,
        host: &Host,
    ) -> Result<(), Denial> {
        verdict.map_err(|mut denial| {
            self.report_misuse(identity, &mut denial, host);
            denial
        })
    }

    /// Admits one request (or one tunnel) against the tenant's budgets, before the upstream
    /// connection is made: `429 budget_exceeded`, or `503` when the store cannot answer.
    pub async fn admit(&self, identity: &Identity) -> Result<Exchange, Denial> {
        let set = self.policies.current();
        let Some(tenant) = set.tenant(&identity.tenant) else {
            return Err(unknown_tenant(identity));
        };
        self.budgets
            .admit(identity, &tenant.budgets)
            .await
            .map_err(|e| Denial::from_budget(&e).for_identity(identity))
    }

    /// Charges what a request sends against its tenant's information budget (before the
    /// name is resolved, before anything leaves).
    pub async fn charge_information(
        &self,
        identity: &Identity,
        host: &Host,
        sent: &crate::information::Sent<'_>,
    ) -> Result<(), Denial> {
        let set = self.policies.current();
        match set.tenant(&identity.tenant) {
            Some(tenant) => {
                self.information
                    .charge(identity, &tenant.information, host, sent)
                    .await
            }
            None => Ok(()),
        }
    }

    /// One of `identity`'s open-connection slots, or `429 too_many_connections`.
    pub fn connection_slot(&self, identity: &Identity) -> Result<ConnectionSlot, Denial> {
        self.connections.acquire(&identity.user).ok_or_else(|| {
            Denial::new(
                Reason::TooManyConnections,
                "this identity has too many open connections",
            )
            .for_identity(identity)
        })
    }

    /// Resolves `host` and picks the first address the SSRF guard lets through. The caller
    /// connects to exactly this address; the name is never looked up again.
    pub async fn destination(&self, host: &Host, port: u16, allowed: &Allowed) -> Result<SocketAddr, Denial> {
        let addresses: Vec<IpAddr> = self
            .resolver
            .resolve(host)
            .await
            .map_err(|e| Denial::new(Reason::DnsFailed, e.to_string()))?;
        self.metrics
            .dns_lookups
            .set(i64::try_from(self.resolver.lookups()).unwrap_or(i64::MAX));
        let mut first_block = None;
        for ip in &addresses {
            match guard::check(*ip, &allowed.allow_private) {
                Ok(()) => return Ok(SocketAddr::new(*ip, port)),
                Err(blocked) => {
                    first_block.get_or_insert((*ip, blocked));
                }
            }
        }
        let (ip, blocked) = first_block.unwrap_or((IpAddr::from([0, 0, 0, 0]), guard::Blocked::Unspecified));
        info!(host = %host, %ip, class = blocked.as_str(), "destination refused by the SSRF guard");
        let mut denial = Denial::new(
            Reason::SsrfBlocked,
            format!(
                "{host} resolves to {ip}, a {} address this rule does not allow",
                blocked.as_str()
            ),
        );
        denial.rule = allowed.rule.clone();
        Err(denial)
    }
}

impl Gate {
    /// Egress is refused while its provenance cannot be written (a full or unwritable file,
    /// or a disk without its reserve): nothing leaves unrecorded, unless the caller's tenant
    /// chose `provenance = "fail-open"`. It works again once writing does.
    pub fn provenance_ok(&self, identity: &Identity) -> Result<(), Denial> {
        match &self.provenance {
            Some(sink) if !sink.healthy() => {
                let set = self.policies.current();
                let open = set
                    .tenant(&identity.tenant)
                    .is_some_and(|t| t.provenance == tollgate_shared::policy::model::Unrecorded::FailOpen);
                if open {
                    warn!(tenant = %identity.tenant, "egress goes on unrecorded: the tenant's provenance is fail-open");
                    return Ok(());
                }
                Err(Denial::new(
                    Reason::ProvenanceUnavailable,
                    "egress is refused while its provenance cannot be written",
                )
                .for_identity(identity))
            }
            _ => Ok(()),
        }
    }

    /// Records one request's outcome.
    pub fn record(&self, egress: &crate::record::Egress<'_>) {
        if let Some(sink) = &self.provenance {
            sink.emit(crate::record::egress_event(egress, self.engine));
        }
    }

    /// Records an event that is no request's (a policy reload).
    pub fn record_event(&self, event: tollgate_shared::provenance::Event) {
        if let Some(sink) = &self.provenance {
            sink.emit(event);
        }
    }

    /// Logs, counts and records what judging an answer found (nothing when it was clean).
    pub fn record_output(
        &self,
        identity: Option<&Identity>,
        host: &str,
        target: &str,
        judged: &crate::output::Judged,
    ) {
        if judged.findings.is_empty() && judged.unjudged.is_none() {
            return;
        }
        let action = judged.action.as_str();
        let lines = crate::output::describe(&judged.findings);
        let (tenant, tool) = identity.map_or(("-", "-"), |i| (i.tenant.as_str(), i.tool.as_str()));
        match &judged.unjudged {
            Some(why) => warn!(tenant, tool, host, action, why = %why, "answer not judged"),
            None => {
                warn!(tenant, tool, host, action, findings = %lines.join("; "), "instructions for the model in an answer")
            }
        }
        for class in judged.findings.iter().map(|f| f.class) {
            self.metrics
                .output
                .with_label_values(&[class.as_str(), action])
                .inc();
        }
        if judged.unjudged.is_some() {
            self.metrics.output.with_label_values(&["unjudged", action]).inc();
        }
        if let Some(sink) = &self.provenance {
            sink.emit(crate::record::output_event(
                identity,
                host,
                target,
                judged,
                self.engine,
            ));
        }
    }

    /// Records a budget that refused a request (`refused`) or cut traffic short (`cut`).
    pub fn record_budget(
        &self,
        identity: Option<&Identity>,
        exceeded: &tollgate_shared::budget::Exceeded,
        action: &str,
    ) {
        if let Some(sink) = &self.provenance {
            sink.emit(crate::record::budget_event(identity, exceeded, action));
        }
    }
}

/// Open client connections per identity.
#[derive(Debug)]
pub struct ConnectionLimiter {
    max: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// Holds one connection slot; frees it when dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    user: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl ConnectionLimiter {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            open: Arc::default(),
        }
    }

    pub fn acquire(&self, user: &str) -> Option<ConnectionSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(user.to_owned()).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            user: user.to_owned(),
            open: Arc::clone(&self.open),
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

fn unknown_tenant(identity: &Identity) -> Denial {
    Denial::new(
        Reason::UnknownTenant,
        format!("no policy for tenant {}", identity.tenant),
    )
    .for_identity(identity)
}

fn auth_denial(failure: &AuthFailure) -> Denial {
    match failure {
        AuthFailure::Invalid => Denial::new(Reason::ProxyAuthInvalid, "the proxy credentials are not valid"),
        AuthFailure::Ended(reason) => {
            Denial::new(*reason, "the invocation behind these proxy credentials is over")
        }
        AuthFailure::Unavailable(why) => Denial::new(
            Reason::BrokerUnavailable,
            format!("cannot check the proxy credentials: {why}"),
        ),
    }
}
