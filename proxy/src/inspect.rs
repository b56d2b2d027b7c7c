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

use crate::clean::{CleanCache, Part, Remembered};
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
    /// In `report` mode, the first finding that would have refused the request: it goes on,
    /// and its record is `egress.report`.
    reported: std::sync::OnceLock<Box<Denial>>,
    /// The policy generation it was taken from: what a connection remembers as judged clean
    /// holds only under the same one.
    generation: u64,
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
            reported: std::sync::OnceLock::new(),
            generation: snapshot.generation(),
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

    /// What report mode let through, if anything.
    pub fn reported(&self) -> Option<&Denial> {
        self.reported.get().map(|d| &**d)
    }

    /// A streaming scanner over this inspection's detectors, known values and exemptions.
    pub fn body_scanner(
        &self,
        engine: &'static Engine,
        content_encoding: Option<&str>,
        content_type: Option<&str>,
    ) -> BodyScanner<'static> {
        engine.owning_body_scanner(
            self.detectors,
            self.known.clone(),
            self.exempt.clone(),
            content_encoding,
            content_type,
        )
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
        let _ = inspection
            .reported
            .set(Box::new(secret_denial(finding, identity)));
    }
    if let Some(unjudged) = outcome.unjudged {
        warn!(tenant = %identity.tenant, tool = %identity.tool, reason = %unjudged.reason(), enforced = inspection.enforce, "request could not be judged within the inspection bounds");
        let denial = Denial::new(
            unjudged.reason(),
            "the request is too large or too deeply encoded to inspect",
        )
        .for_identity(identity);
        if inspection.enforce {
            return Err(denial);
        }
        let _ = inspection.reported.set(Box::new(denial));
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

/// The parts of a request head that inspection judges.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    pub target: &'a str,
    pub headers: &'a http::HeaderMap,
    /// The request as pingora parsed it, for header names in the case they were sent (the
    /// map lowercases them; an h1 upstream receives them as sent). `None`, or a request with
    /// no case kept (h2), judges the map's.
    pub parsed: Option<&'a pingora_http::RequestHeader>,
    /// What the request's connection has judged clean already, if it keeps that.
    pub clean: Option<&'a CleanCache>,
}

impl RequestHead<'_> {
    /// The header names as sent, one per line: what [`Self::names`] is made from, and so the
    /// key under which their joint verdict is remembered.
    fn sent_names(&self) -> Vec<u8> {
        let mut sent = Vec::new();
        let mut add = |name: &[u8]| {
            sent.extend_from_slice(name);
            sent.push(b'\n');
        };
        match self.parsed.filter(|p| p.has_case()) {
            Some(parsed) => parsed
                .case_header_iter()
                .for_each(|(name, _)| add(name.as_slice())),
            None => self.headers.keys().for_each(|n| add(n.as_str().as_bytes())),
        }
        sent
    }

    /// Header names as they leave, each also in upper case when it came in lower case (h2
    /// lowercases every name, and an access key id survives that only in letters' case).
    fn names(&self) -> Vec<String> {
        let sent: Vec<String> = match self.parsed.filter(|p| p.has_case()) {
            Some(parsed) => parsed
                .case_header_iter()
                .map(|(name, _)| String::from_utf8_lossy(name.as_slice()).into_owned())
                .collect(),
            None => self.headers.keys().map(|n| n.as_str().to_owned()).collect(),
        };
        let mut names = Vec::with_capacity(sent.len() * 2);
        for name in sent {
            if name.eq_ignore_ascii_case("proxy-authorization") {
                continue;
            }
            if !name.bytes().any(|b| b.is_ascii_uppercase()) {
                names.push(name.to_ascii_uppercase());
            }
            names.push(name);
        }
        names
    }
}

/// The method, the request target, every header name and every header value (the proxy's own
/// credentials excepted: they never travel further; so are the bound headers in `skip`, whose
/// placeholder is replaced).
pub fn head(
    engine: &Engine,
    inspection: &Inspection,
    identity: &Identity,
    request: &RequestHead<'_>,
    skip: &[&http::HeaderName],
) -> Result<(), Denial> {
    let mut memory = request
        .clean
        .and_then(|c| c.scoped(inspection.generation, identity));
    let outcome = inspection.scoped(|scope| {
        let mut outcome = judged(&mut memory, Part::Target, b"", request.target.as_bytes(), || {
            engine.scan_url(scope, request.target)
        });
        outcome.merge(judged(
            &mut memory,
            Part::Method,
            b"",
            request.method.as_bytes(),
            || engine.scan_method(scope, request.method),
        ));
        let sent_names = request.sent_names();
        outcome.merge(judged(&mut memory, Part::HeaderNames, b"", &sent_names, || {
            let names = request.names();
            engine.scan_header_names(scope, names.iter().map(String::as_str))
        }));
        if !outcome.findings.is_empty() {
            return outcome;
        }
        for (name, value) in request.headers {
            if name == "proxy-authorization" || skip.contains(&name) {
                continue;
            }
            let (name, value) = (name.as_str(), value.as_bytes());
            outcome.merge(judged(&mut memory, Part::Header, name.as_bytes(), value, || {
                engine.scan_header(scope, name, value)
            }));
            if !outcome.findings.is_empty() {
                break;
            }
        }
        outcome
    });
    verdict(outcome, inspection, identity)
}

/// One part's outcome: clean at once if the connection remembers it so, else scanned (and
/// remembered when clean). Each part passed here is judged by the engine on its own, so its
/// verdict cannot depend on the rest of the request.
fn judged(
    memory: &mut Option<std::sync::MutexGuard<'_, Remembered>>,
    part: Part,
    name: &[u8],
    value: &[u8],
    scan: impl FnOnce() -> Outcome,
) -> Outcome {
    if memory.as_ref().is_some_and(|m| m.is_clean(part, name, value)) {
        return Outcome::default();
    }
    let outcome = scan();
    if let (true, Some(memory)) = (outcome.is_clean(), memory.as_mut()) {
        memory.remember(part, name, value);
    }
    outcome
}

/// Every field of `name`, as one comma-separated list (RFC 9110 5.3: repeated fields are one
/// list; a body sent with `Content-Encoding: identity` and `Content-Encoding: gzip` is gzip).
pub fn field_list(headers: &http::HeaderMap, name: impl http::header::AsHeaderName) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or("\u{fffd}"))
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// A request body being streamed: bytes are released only as far as the scanner allows.
#[derive(Debug)]
pub struct BodyGate {
    scanner: Option<BodyScanner<'static>>,
    /// A body that declares no coding and no type gets its scanner at its first byte:
    /// most requests have no body, and a scanner that was given nothing finds nothing.
    unmade: Option<&'static Engine>,
    inspection: Inspection,
    held: BytesMut,
    released: u64,
}

impl BodyGate {
    /// What report mode let through in the head or the body, if anything.
    pub fn reported(&self) -> Option<&Denial> {
        self.inspection.reported()
    }

    pub fn new(engine: &'static Engine, inspection: Inspection, headers: &http::HeaderMap) -> Self {
        // A value that is not text cannot name a known coding: it reaches the scanner as an
        // unknown one, which refuses the body rather than read it as identity.
        // By the standard names' constants: a `&str` name is parsed again at each lookup.
        let encoding = field_list(headers, http::header::CONTENT_ENCODING);
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let (scanner, unmade) = match (&encoding, content_type) {
            (None, None) => (None, Some(engine)),
            _ => {
                let scanner = inspection.body_scanner(engine, encoding.as_deref(), content_type);
                (Some(scanner), None)
            }
        };
        Self {
            scanner,
            unmade,
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
        if let Some(engine) = self.unmade {
            if chunk.as_ref().is_none_or(Bytes::is_empty) {
                // Nothing to scan yet. An empty chunk, not `None`, as below.
                return Ok(Some(chunk.unwrap_or_default()));
            }
            self.unmade = None;
            self.scanner = Some(self.inspection.body_scanner(engine, None, None));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Caller;
    use tollgate_shared::detect::FingerprintKey;

    fn engine() -> &'static Engine {
        let key = FingerprintKey::new(vec![7u8; 32]).expect("key");
        Box::leak(Box::new(Engine::new(key).expect("engine")))
    }

    fn inspection() -> Inspection {
        Inspection {
            detectors: DetectorSet::defaults(),
            enforce: true,
            known: Vec::new(),
            exempt: Vec::new(),
            reported: std::sync::OnceLock::new(),
            generation: 0,
        }
    }

    fn identity() -> Identity {
        Identity::new(Caller {
            user: "inv-1".to_owned(),
            tenant: "t".to_owned(),
            session: "s".to_owned(),
            tool: "fetch".to_owned(),
            call: None,
            issued: Arc::default(),
        })
    }

    #[test]
    fn a_scanner_given_nothing_finds_nothing_so_a_bodyless_request_makes_none() {
        let engine = engine();
        let last = inspection().body_scanner(engine, None, None).finish();
        assert!(last.findings.is_empty() && last.unjudged.is_none());
        let mut gate = BodyGate::new(engine, inspection(), &http::HeaderMap::new());
        let passed = gate.pass(None, true, &identity()).expect("clean");
        assert_eq!(
            passed,
            Some(Bytes::new()),
            "an empty chunk, as a made scanner gives"
        );
        assert!(gate.scanner.is_none() && gate.unmade.is_some());
    }

    #[test]
    fn a_scanner_made_at_the_first_byte_judges_as_one_made_with_the_head() {
        let engine = engine();
        let key = "{\"token\": \"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\"}";
        let mut refused = 0;
        for body in ["{\"q\": \"weather in Paris\"}", key] {
            let mut eager = inspection().body_scanner(engine, None, None);
            let mut step = eager.push(body.as_bytes());
            step.findings.extend(eager.finish().findings);
            let mut gate = BodyGate::new(engine, inspection(), &http::HeaderMap::new());
            let passed = gate.pass(Some(Bytes::from(body)), true, &identity());
            assert_eq!(passed.is_err(), !step.findings.is_empty(), "{body}");
            refused += usize::from(passed.is_err());
        }
        assert_eq!(refused, 1, "the key, not the question");
    }
}
