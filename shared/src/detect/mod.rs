//! Secret detection for egress: the catalogue of detectors policies may name, the rules behind
//! them, the decoders that see through encodings, known-secret matching, and the engine the
//! proxy drives for URLs, headers, hostnames and streamed bodies. Findings carry a keyed
//! fingerprint of what matched, never the value.
//!
//! The proxy builds one [`Engine`] per process, one [`PolicyDetectors`] per policy, and per
//! request a [`Scope`]; then calls [`Engine::scan_url`], [`Engine::scan_header`],
//! [`Engine::scan_hostname`], and drives a [`BodyScanner`] from [`Engine::body_scanner`].

mod accounts;
mod catalog;
pub mod corpus;
pub(crate) mod decode;
pub(crate) mod disguise;
mod engine;
mod entropy;
mod finance;
mod finding;
mod graphql;
mod identity;
pub mod information;
pub(crate) mod joins;
mod keys;
mod known;
pub mod offline;
mod ordered;
mod prefilter;
mod rules;
mod runs;
mod scan;
mod secret;
mod shapes;
mod split;
mod stream;
mod surface;

#[cfg(test)]
mod testkeys;
#[cfg(test)]
mod tests;

pub use catalog::{CATALOG, DetectorInfo, DetectorSet, default_enabled, lookup};
pub use engine::{Engine, ExemptValue, Limits, PolicyDetectors, Scope};
pub use finding::{
    Confidence, Encoding, EncodingChain, Finding, Location, Outcome, SECRET_DETECTED, Unjudged,
};
pub use known::{KnownSecretError, KnownSecrets, MIN_KNOWN_LEN};
pub use secret::{Fingerprint, FingerprintKey, SecretBytes, SecretError};
pub use stream::{BodyScanner, Step};

/// Why the engine could not be built: a rule that does not compile or names a detector the
/// catalogue lacks. Both are bugs in this crate, caught by its tests.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("rule {rule}: {message}")]
    BadRule { rule: &'static str, message: String },
    #[error("rule {rule} names detector {detector:?}, which is not in the catalogue")]
    UnknownDetector {
        rule: &'static str,
        detector: &'static str,
    },
}
