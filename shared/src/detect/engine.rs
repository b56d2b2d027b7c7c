//! The engine: compiled rules plus limits and the fingerprint key, built once per process and
//! shared by every request. What a given request may trigger is its [`Scope`]: the detectors
//! its policy enables for the destination host, and the known-secret sets of its tenant and
//! invocation.

use crate::policy::host::{Host, HostPattern};
use crate::policy::model::DetectorSettings;

use super::DetectError;
use super::catalog::{CATALOG, DetectorSet};
use super::known::KnownSecrets;
use super::prefilter::RuleSet;
use super::secret::{Fingerprint, FingerprintKey};
use super::shapes::SeedWords;

/// Bounds on the work one scan may do. Past them the outcome is [`super::Unjudged`], never a
/// silent pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Decoding steps stacked on top of each other (`gzip>base64>percent` is 3).
    pub max_depth: usize,
    /// Bytes all decoders together may produce for one scan.
    pub max_decoded: usize,
    /// Bytes one compressed stream may expand to.
    pub max_inflated: usize,
    /// Bytes a body stream may hold unreleased (an unbroken token, or a whole compressed or
    /// multipart body, must fit).
    pub max_held: usize,
    /// Trailing bytes a body stream always holds back: longer than any match that spans
    /// token delimiters.
    pub hold_back: usize,
    /// Released bytes a body stream re-reads for context (the key in front of a value).
    pub context: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 8,
            max_decoded: 64 << 20,
            max_inflated: 32 << 20,
            max_held: 16 << 20,
            hold_back: 4096,
            context: 256,
        }
    }
}

/// Compiled detectors; cheap to share (`&Engine` or `Arc<Engine>`) across requests.
#[derive(Debug)]
pub struct Engine {
    pub(crate) rules: RuleSet,
    pub(crate) seeds: SeedWords,
    key: FingerprintKey,
    pub(crate) limits: Limits,
}

impl Engine {
    pub fn new(key: FingerprintKey) -> Result<Self, DetectError> {
        Self::with_limits(key, Limits::default())
    }

    pub fn with_limits(key: FingerprintKey, limits: Limits) -> Result<Self, DetectError> {
        Ok(Self {
            rules: RuleSet::new()?,
            seeds: SeedWords::new(),
            key,
            limits,
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The keyed fingerprint findings carry; the broker can compute the same for a value it
    /// issued, to tie a finding to a grant.
    pub fn fingerprint(&self, value: &[u8]) -> Fingerprint {
        self.key.fingerprint(value)
    }
}

/// What one request is checked for.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub detectors: DetectorSet,
    /// Known-secret sets (tenant's listed values, the invocation's issued credentials and
    /// placeholders); matched when `known-secret` is among the detectors.
    pub known: &'a [&'a KnownSecrets],
    /// Values the policy lets through by fingerprint (from [`PolicyDetectors::exempt_values`]).
    pub exempt: &'a [ExemptValue],
}

impl<'a> Scope<'a> {
    pub fn new(detectors: DetectorSet) -> Self {
        Self {
            detectors,
            known: &[],
            exempt: &[],
        }
    }

    pub fn with_known(self, known: &'a [&'a KnownSecrets]) -> Self {
        Self { known, ..self }
    }

    pub fn with_exempt(self, exempt: &'a [ExemptValue]) -> Self {
        Self { exempt, ..self }
    }

    /// Whether the policy lets this value through when `detector` finds it.
    /// Known secrets (the operator's list, values Tollgate issued) are never exempt: a tenant
    /// must not be able to let a credential it was handed leave by naming its fingerprint.
    pub fn exempts(&self, fingerprint: Fingerprint, detector: &str) -> bool {
        detector != "known-secret" && self.exempt.iter().any(|e| e.covers(fingerprint, detector))
    }
}

/// One value an operator exempted by its fingerprint (a documented example key a tool must
/// send, say): for the listed detectors, or for every detector when none is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExemptValue {
    pub fingerprint: Fingerprint,
    pub detectors: DetectorSet,
}

impl ExemptValue {
    fn covers(&self, fingerprint: Fingerprint, detector: &str) -> bool {
        self.fingerprint == fingerprint && (self.detectors.is_empty() || self.detectors.contains(detector))
    }
}

/// A policy's detector settings in the form the engine uses: enabled detectors, the
/// detectors each host exemption switches off for its hosts, and the values exempted by
/// fingerprint on theirs.
#[derive(Debug, Clone)]
pub struct PolicyDetectors {
    enabled: DetectorSet,
    exemptions: Vec<(Vec<HostPattern>, DetectorSet)>,
    values: Vec<(Vec<HostPattern>, ExemptValue)>,
}

impl PolicyDetectors {
    pub fn new(settings: &DetectorSettings) -> Self {
        let DetectorSettings { enabled, exemptions } = settings;
        let mut policy = Self {
            enabled: DetectorSet::from_ids(enabled.iter().map(String::as_str)),
            exemptions: Vec::new(),
            values: Vec::new(),
        };
        for e in exemptions {
            let ids = DetectorSet::from_ids(e.detectors.iter().map(String::as_str));
            if e.fingerprints.is_empty() {
                policy.exemptions.push((e.hosts.clone(), ids));
            }
            for &fingerprint in &e.fingerprints {
                let value = ExemptValue {
                    fingerprint,
                    detectors: ids,
                };
                policy.values.push((e.hosts.clone(), value));
            }
        }
        policy
    }

    /// The values exempted by fingerprint for a request to `host`; give them to
    /// [`Scope::with_exempt`].
    pub fn exempt_values(&self, host: &Host) -> Vec<ExemptValue> {
        self.values
            .iter()
            .filter(|(hosts, _)| hosts.iter().any(|p| p.matches(host)))
            .map(|(_, value)| *value)
            .collect()
    }

    /// The detectors that run for a request to `host`.
    pub fn for_host(&self, host: &Host) -> DetectorSet {
        self.exemptions
            .iter()
            .filter(|(hosts, _)| hosts.iter().any(|p| p.matches(host)))
            .fold(self.enabled, |set, (_, exempt)| set.without(*exempt))
    }
}

impl From<&DetectorSettings> for PolicyDetectors {
    fn from(settings: &DetectorSettings) -> Self {
        Self::new(settings)
    }
}

pub(crate) fn detector_id(index: usize) -> &'static str {
    CATALOG[index].id
}
