//! The checks every proxied request passes, shared by the front door and the pipeline:
//! who is calling, what the policy decides, and which address may be dialled.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use ipnet::IpNet;
use tollgate_shared::decision::{self, Request, Verdict};
use tollgate_shared::policy::host::Host;
use tollgate_shared::policy::model::Traffic;
use tracing::{info, warn};

use crate::budget::{Exchange, Metering};
use crate::config::Limits;
use crate::guard;
use crate::head::basic_credentials;
use crate::identity::{Identity, IdentitySource};
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
    /// Known-secret sets every request is checked against (the operator's list); kept for
    /// the life of the process like the engine.
    pub known: &'static [&'static tollgate_shared::detect::KnownSecrets],
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
}

/// One intercepted CONNECT tunnel: who opened it, to where, and what the client said in TLS.
#[derive(Debug)]
pub struct Tunnel {
    pub identity: Identity,
    pub host: Host,
    pub port: u16,
    pub addr: SocketAddr,
    /// The SNI the client sent, if any; it must name the CONNECT host.
    pub sni: Option<String>,
}

impl Gate {
    /// The identity behind a `Proxy-Authorization` header, or a 407.
    pub async fn authenticate(&self, header: Option<&[u8]>) -> Result<Identity, Denial> {
        let Some((user, secret)) = header.and_then(basic_credentials) else {
            return Err(Denial::new(
                407,
                "proxy_auth_required",
                "send Proxy-Authorization: Basic credentials",
            ));
        };
        match self.identities.authenticate(&user, &secret).await {
            Some(identity) => Ok(identity),
            None => {
                info!(proxy.user = %user, "proxy credentials rejected");
                Err(Denial::new(
                    407,
                    "proxy_auth_invalid",
                    "the proxy credentials are not valid",
                ))
            }
        }
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
            self.metrics.decision(false, "unknown_tenant");
            return Err(Denial::new(
                403,
                "unknown_tenant",
                format!("no policy for tenant {}", identity.tenant),
            )
            .for_identity(identity));
        };
        let request = Request {
            method,
            host,
            port,
            path,
        };
        let decision = decision::decide(tenant, &identity.tool, &request);
        let allowed = decision.verdict == Verdict::Allow;
        self.metrics.decision(allowed, decision.reason.as_str());
        if decision.blocks() {
            info!(tenant = %identity.tenant, tool = %identity.tool, host = %host, port, method = method.unwrap_or("CONNECT"), reason = %decision.reason, rule = decision.rule_id().unwrap_or("-"), "denied");
            let mut denial = Denial::new(403, decision.reason.as_str(), decision.message.to_string())
                .for_identity(identity);
            denial.rule = decision.rule_id().map(str::to_owned);
            denial.owner = decision.owner.map(str::to_owned);
            return Err(denial);
        }
        if !allowed {
            warn!(tenant = %identity.tenant, tool = %identity.tool, host = %host, port, reason = %decision.reason, "would deny (report mode)");
            return Ok(Allowed::default());
        }
        let rule = decision.rule;
        Ok(Allowed {
            rule: rule.map(|r| r.id.clone()),
            traffic: rule.map_or(Traffic::Inspect, |r| r.traffic),
            allow_private: rule.map(|r| r.allow_private.clone()).unwrap_or_default(),
        })
    }

    /// Judges a hostname for secrets before it is resolved (DNS-style exfiltration).
    pub fn inspect_hostname(&self, identity: &Identity, host: &Host) -> Result<(), Denial> {
        let snapshot = self.policies.current();
        match self.inspection(&snapshot, identity, host) {
            Some(inspection) => {
                self.count_findings(inspect::hostname(self.engine, inspection, identity, host))
            }
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
        target: &str,
        headers: &http::HeaderMap,
    ) -> Result<Option<Inspection>, Denial> {
        let snapshot = self.policies.current();
        let Some(inspection) = self.inspection(&snapshot, identity, host) else {
            return Ok(None);
        };
        if with_hostname {
            self.count_findings(inspect::hostname(self.engine, inspection, identity, host))?;
        }
        self.count_findings(inspect::head(self.engine, inspection, identity, target, headers))?;
        Ok(Some(inspection))
    }

    fn inspection(&self, snapshot: &Snapshot, identity: &Identity, host: &Host) -> Option<Inspection> {
        Inspection::for_request(snapshot, identity, host).map(|i| i.with_known(self.known))
    }

    fn count_findings(&self, verdict: Result<(), Denial>) -> Result<(), Denial> {
        verdict.inspect_err(|denial| self.metrics.decision(false, denial.reason))
    }

    /// Admits one request (or one tunnel) against the tenant's budgets, before the upstream
    /// connection is made: `429 budget_exceeded`, or `503` when the store cannot answer.
    pub async fn admit(&self, identity: &Identity) -> Result<Exchange, Denial> {
        let set = self.policies.current();
        let Some(tenant) = set.tenant(&identity.tenant) else {
            return Err(Denial::new(
                403,
                "unknown_tenant",
                format!("no policy for tenant {}", identity.tenant),
            )
            .for_identity(identity));
        };
        self.budgets
            .admit(identity, &tenant.budgets)
            .await
            .map_err(|e| Denial::from_budget(&e).for_identity(identity))
    }

    /// Resolves `host` and picks the first address the SSRF guard lets through. The caller
    /// connects to exactly this address; the name is never looked up again.
    pub async fn destination(&self, host: &Host, port: u16, allowed: &Allowed) -> Result<SocketAddr, Denial> {
        let addresses: Vec<IpAddr> = self
            .resolver
            .resolve(host)
            .await
            .map_err(|e| Denial::new(502, "dns_failed", e.to_string()))?;
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
        self.metrics.decision(false, "ssrf_blocked");
        info!(host = %host, %ip, class = blocked.as_str(), "destination refused by the SSRF guard");
        let mut denial = Denial::new(
            403,
            "ssrf_blocked",
            format!(
                "{host} resolves to {ip}, a {} address this rule does not allow",
                blocked.as_str()
            ),
        );
        denial.rule = allowed.rule.clone();
        Err(denial)
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
