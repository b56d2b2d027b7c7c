//! Secret inspection of what a tool sends: the CONNECT hostname (before it is ever resolved,
//! since a lookup would already carry the data out), each request's URL and header values,
//! and request bodies as they stream. A body is forwarded only up to what the engine has
//! judged; the rest is held back, so no byte of a detected secret reaches the upstream.
//! Findings carry a keyed fingerprint, never the value.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use serde::Serialize;
use tollgate_shared::detect::{
    BodyScanner, DetectorSet, Engine, ExemptValue, Finding, KnownSecrets, Outcome, Scope, Step,
};
use tollgate_shared::policy::host::Host;
use tollgate_shared::policy::model::Mode;
use tracing::warn;

use crate::identity::Identity;
use crate::policies::Snapshot;
use crate::rescue::Denial;

/// What one request is inspected for, from its tool's policy.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub detectors: DetectorSet,
    /// `report` mode logs findings instead of blocking.
    pub enforce: bool,
    /// Known-secret sets: the operator's list and the invocation's issued values. Owned, so a
    /// streamed body can hold them across pingora's callbacks.
    known: Vec<Arc<KnownSecrets>>,
    /// Values the policy exempts by fingerprint for this host.
    exempt: Vec<ExemptValue>,
}

impl Inspection {
    /// The detectors that apply to `identity`'s tool for a request to `host`; `None` when
    /// the tenant or tool is unknown (the decision has refused those already).
    pub fn for_request(snapshot: &Snapshot, identity: &Identity, host: &Host) -> Option<Self> {
        let tenant = snapshot.tenant(&identity.tenant)?;
        let tool = tenant.tool(&identity.tool)?;
        let policy = snapshot.detectors(&identity.tenant, &identity.tool)?;
        Some(Self {
            detectors: policy.for_host(host),
            enforce: tool.mode == Mode::Enforce,
            known: Vec::new(),
            exempt: policy.exempt_values(host),
        })
    }

    /// The same inspection, also matching the operator's `known` values and what the broker
    /// issued to `identity`. Issued values are matched whatever the tool's detector settings:
    /// a tenant cannot switch off the protection of values Tollgate itself handed out.
    pub fn with_known(mut self, known: &[Arc<KnownSecrets>], identity: &Identity) -> Self {
        self.known.extend(known.iter().cloned());
        if let Some(issued) = identity.issued.known() {
            self.known.push(Arc::clone(issued));
            self.detectors = self.detectors.union(DetectorSet::from_ids(["known-secret"]));
        }
        self
    }

    /// Runs `scan` with this inspection's scope.
    fn scoped<R>(&self, scan: impl FnOnce(Scope<'_>) -> R) -> R {
        let sets: Vec<&KnownSecrets> = self.known.iter().map(AsRef::as_ref).collect();
        scan(
            Scope::new(self.detectors)
                .with_known(&sets)
                .with_exempt(&self.exempt),
        )
    }
}

/// The details a secret denial carries.
#[derive(Debug, Clone, Serialize)]
pub struct Detected {
    pub detector: &'static str,
    pub location: String,
    pub encoding: String,
    pub fingerprint: String,
}

/// Turns a scan outcome into a verdict: a denial in enforce mode, a log line in report mode.
/// An issued value outside its binding is refused even in report mode.
pub fn verdict(outcome: Outcome, inspection: &Inspection, identity: &Identity) -> Result<(), Denial> {
    if outcome.is_clean() {
        return Ok(());
    }
    let issued = outcome.findings.iter().find(|f| {
        identity
            .issued
            .credential_of(&f.fingerprint.to_string())
            .is_some()
    });
    if let Some(finding) = issued.or(outcome.findings.first()) {
        let enforce = inspection.enforce || issued.is_some();
        log_finding(finding, identity, enforce);
        if enforce {
            return Err(secret_denial(finding, identity));
        }
    }
    if let Some(unjudged) = outcome.unjudged {
        warn!(tenant = %identity.tenant, tool = %identity.tool, reason = %unjudged.reason(), enforced = inspection.enforce, "request could not be judged within the inspection bounds");
        if inspection.enforce {
            return Err(Denial::new(
                unjudged.reason(),
                "the request is too large or too deeply encoded to inspect",
            )
            .for_identity(identity));
        }
    }
    Ok(())
}

fn log_finding(finding: &Finding, identity: &Identity, enforced: bool) {
    warn!(
        tenant = %identity.tenant,
        tool = %identity.tool,
        detector = finding.detector,
        location = %finding.location,
        encoding = %finding.encoding,
        fingerprint = %finding.fingerprint,
        enforced,
        "secret detected in egress"
    );
}

fn secret_denial(finding: &Finding, identity: &Identity) -> Denial {
    let mut denial = Denial::new(
        tollgate_shared::outcome::Reason::SecretDetected,
        format!("a {} secret was found in {}", finding.detector, finding.location),
    )
    .for_identity(identity);
    denial.detected = Some(Box::new(Detected {
        detector: finding.detector,
        location: finding.location.to_string(),
        encoding: finding.encoding.to_string(),
        fingerprint: finding.fingerprint.to_string(),
    }));
    denial
}

/// The hostname, judged before it is resolved.
pub fn hostname(
    engine: &Engine,
    inspection: &Inspection,
    identity: &Identity,
    host: &Host,
) -> Result<(), Denial> {
    match host {
        Host::Name(name) => verdict(
            inspection.scoped(|scope| engine.scan_hostname(scope, name)),
            inspection,
            identity,
        ),
        Host::Ip(_) => Ok(()),
    }
}

/// The request target and every header value (the proxy's own credentials excepted: they
/// never travel further; so are the bound headers in `skip`, whose placeholder is replaced).
pub fn head(
    engine: &Engine,
    inspection: &Inspection,
    identity: &Identity,
    target: &str,
    headers: &http::HeaderMap,
    skip: &[&http::HeaderName],
) -> Result<(), Denial> {
    let outcome = inspection.scoped(|scope| {
        let mut outcome = engine.scan_url(scope, target);
        for (name, value) in headers {
            if name == "proxy-authorization" || skip.contains(&name) {
                continue;
            }
            outcome.merge(engine.scan_header(scope, name.as_str(), value.as_bytes()));
            if !outcome.findings.is_empty() {
                break;
            }
        }
        outcome
    });
    verdict(outcome, inspection, identity)
}

/// A request body being streamed: bytes are released only as far as the scanner allows.
#[derive(Debug)]
pub struct BodyGate {
    scanner: Option<BodyScanner<'static>>,
    inspection: Inspection,
    held: BytesMut,
    released: u64,
}

impl BodyGate {
    pub fn new(engine: &'static Engine, inspection: Inspection, headers: &http::HeaderMap) -> Self {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let scanner = engine.owning_body_scanner(
            inspection.detectors,
            inspection.known.clone(),
            inspection.exempt.clone(),
            header("content-encoding"),
            header("content-type"),
        );
        Self {
            scanner: Some(scanner),
            inspection,
            held: BytesMut::new(),
            released: 0,
        }
    }

    /// Takes the next chunk (and whether it is the last) and returns what may be forwarded
    /// now; an `Err` means the request must be stopped, with nothing more released.
    pub fn pass(
        &mut self,
        chunk: Option<Bytes>,
        end: bool,
        identity: &Identity,
    ) -> Result<Option<Bytes>, Denial> {
        let Some(scanner) = self.scanner.as_mut() else {
            return Ok(chunk);
        };
        let mut step = Step::default();
        if let Some(chunk) = &chunk {
            self.held.extend_from_slice(chunk);
            step = scanner.push(chunk);
        }
        if end {
            if let Some(scanner) = self.scanner.take() {
                let last = scanner.finish();
                step.findings.extend(last.findings);
                step.unjudged = step.unjudged.or(last.unjudged);
                step.release_to = step.release_to.max(last.release_to);
            }
        }
        let clean = step.findings.is_empty() && step.unjudged.is_none();
        if !clean {
            let outcome = Outcome {
                findings: std::mem::take(&mut step.findings),
                unjudged: step.unjudged,
            };
            verdict(outcome, &self.inspection, identity)?;
            // Report mode: log once, then stop inspecting and pass everything through.
            self.scanner = None;
            return Ok(Some(self.held.split().freeze()));
        }
        let releasable = usize::try_from(step.release_to.saturating_sub(self.released))
            .unwrap_or(usize::MAX)
            .min(self.held.len());
        self.released += releasable as u64;
        // An empty chunk, not `None`: pingora reads `None` as the end of the body and would
        // terminate the upstream request while bytes are still held.
        Ok(Some(self.held.split_to(releasable).freeze()))
    }
}
