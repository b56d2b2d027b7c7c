//! Credentials the broker issued to an invocation, as the proxy uses them: the placeholder
//! swapped for the real value in the bound header on the bound hosts only; every issued value
//! and placeholder matched (in any encoding the detectors decode) everywhere else, whatever the
//! tenant's detector settings; and a real value the upstream reflects back put back into its
//! placeholder before the tool sees it.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};
use tollgate_shared::detect::{Engine, KnownSecrets, MIN_KNOWN_LEN, SecretBytes};
use tollgate_shared::invocation::{self, PLACEHOLDER_MARK};
use tollgate_shared::policy::host::{Host, HostPattern};
use tracing::warn;

/// Everything issued to one invocation. Debug shows counts only.
#[derive(Default)]
pub struct Issued {
    bindings: Vec<Bound>,
    /// Every issued value and placeholder.
    known: Option<Arc<KnownSecrets>>,
    /// Fingerprint of each value and placeholder → the credential's name.
    names: HashMap<String, String>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("bindings", &self.bindings.len())
            .field("values", &self.names.len())
            .finish()
    }
}

struct Bound {
    name: String,
    placeholder: SecretBytes,
    value: SecretBytes,
    header: HeaderName,
    format: String,
    hosts: Vec<HostPattern>,
}

/// One header to set upstream: the bound header with the real value in place.
#[derive(Clone)]
pub struct Injection {
    pub header: HeaderName,
    pub value: HeaderValue,
    pub credential: String,
}

impl std::fmt::Debug for Injection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Injection")
            .field("header", &self.header)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

impl Issued {
    /// From the broker's lookup answer. Values shorter than the known-secret minimum are
    /// still injected, but cannot be matched safely elsewhere (they are logged by name).
    pub fn new(engine: &Engine, issued: Vec<invocation::Issued>) -> Self {
        let mut names = HashMap::new();
        let mut values = Vec::new();
        let mut bindings = Vec::new();
        for item in issued {
            let invocation::Issued {
                name,
                value,
                placeholder,
                inject,
                expires_unix_ms: _,
            } = item;
            for secret in std::iter::once(&value).chain(placeholder.as_ref()) {
                let bytes = secret.expose().as_bytes();
                if bytes.len() < MIN_KNOWN_LEN {
                    warn!(credential = %name, "issued value too short to match outside its binding");
                    continue;
                }
                names.insert(engine.fingerprint(bytes).to_string(), name.clone());
                values.push(SecretBytes::new(bytes.to_vec()));
            }
            if let (Some(binding), Some(placeholder)) = (inject, placeholder) {
                let Ok(header) = HeaderName::from_bytes(binding.header.as_bytes()) else {
                    warn!(credential = %name, "binding names an invalid header; not injected");
                    continue;
                };
                bindings.push(Bound {
                    name: name.clone(),
                    placeholder: SecretBytes::new(placeholder.expose().as_bytes().to_vec()),
                    value: SecretBytes::new(value.expose().as_bytes().to_vec()),
                    header,
                    format: binding.format,
                    hosts: binding
                        .hosts
                        .iter()
                        .filter_map(|h| HostPattern::parse(h).ok())
                        .collect(),
                });
            }
        }
        let known = match KnownSecrets::new(values) {
            Ok(set) if !set.is_empty() => Some(Arc::new(set)),
            Ok(_) => None,
            Err(e) => {
                warn!("cannot build the issued-value matcher: {e}");
                None
            }
        };
        Self {
            bindings,
            known,
            names,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.bindings.is_empty()
    }

    pub fn known(&self) -> Option<&Arc<KnownSecrets>> {
        self.known.as_ref()
    }

    /// The credential a finding's fingerprint belongs to, if it is an issued value.
    pub fn credential_of(&self, fingerprint: &str) -> Option<&str> {
        self.names.get(fingerprint).map(String::as_str)
    }

    /// The bound headers of this request that carry their placeholder, on a bound host, with
    /// the value to send instead.
    pub fn injections(&self, host: &Host, headers: &HeaderMap) -> Vec<Injection> {
        let mut out = Vec::new();
        for bound in &self.bindings {
            if !bound.hosts.iter().any(|p| p.matches(host)) {
                continue;
            }
            let carries = headers
                .get_all(&bound.header)
                .iter()
                .any(|v| contains(v.as_bytes(), bound.placeholder.expose()));
            if !carries {
                continue;
            }
            let real = String::from_utf8_lossy(bound.value.expose());
            let text = if bound.format.contains("{value}") {
                bound.format.replace("{value}", &real)
            } else {
                real.into_owned()
            };
            match HeaderValue::from_str(&text) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    out.push(Injection {
                        header: bound.header.clone(),
                        value,
                        credential: bound.name.clone(),
                    });
                }
                Err(_) => warn!(credential = %bound.name, "the value cannot go in a header; not injected"),
            }
        }
        out
    }

    /// Whether the request carries something shaped like a placeholder that this answer does
    /// not know (issued after it was cached).
    pub fn unknown_placeholder(&self, target: &str, headers: &HeaderMap) -> bool {
        let marked = |bytes: &[u8]| contains(bytes, PLACEHOLDER_MARK.as_bytes());
        let known = |bytes: &[u8]| {
            self.bindings
                .iter()
                .any(|b| contains(bytes, b.placeholder.expose()))
        };
        std::iter::once(target.as_bytes())
            .chain(headers.values().map(HeaderValue::as_bytes))
            .any(|bytes| marked(bytes) && !known(bytes))
    }

    /// A scrubber for the response to a request that had `injections`.
    pub fn scrubber(&self, injections: &[Injection]) -> Option<Scrubber> {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = self
            .bindings
            .iter()
            .filter(|b| injections.iter().any(|i| i.credential == b.name))
            .map(|b| (b.value.expose().to_vec(), b.placeholder.expose().to_vec()))
            .collect();
        let keep = pairs.iter().map(|(v, _)| v.len()).max()?.saturating_sub(1);
        Some(Scrubber {
            pairs,
            held: BytesMut::new(),
            keep,
        })
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memchr::memmem::find(haystack, needle).is_some()
}

/// Puts placeholders back where an upstream reflects the real value, in response headers and
/// in the body as it streams (keeping back one value's length less one, so a value split
/// across chunks is still found).
pub struct Scrubber {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
    held: BytesMut,
    keep: usize,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field("values", &self.pairs.len())
            .field("held", &self.held.len())
            .finish()
    }
}

impl Scrubber {
    fn replace(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut out: Option<Vec<u8>> = None;
        for (value, placeholder) in &self.pairs {
            let current = out.as_deref().unwrap_or(bytes);
            if contains(current, value) {
                out = Some(replace_all(current, value, placeholder));
            }
        }
        out
    }

    /// The headers that carry a real value, with the placeholder in its place.
    pub fn headers(&self, headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
        headers
            .iter()
            .filter_map(|(name, value)| {
                let fixed = self.replace(value.as_bytes())?;
                Some((name.clone(), HeaderValue::from_bytes(&fixed).ok()?))
            })
            .collect()
    }

    /// The next body chunk to send to the tool.
    pub fn body(&mut self, chunk: Option<Bytes>, end: bool) -> Option<Bytes> {
        if let Some(chunk) = chunk {
            self.held.extend_from_slice(&chunk);
        }
        let fixed = self.replace(&self.held).map(|b| BytesMut::from(&b[..]));
        if let Some(fixed) = fixed {
            self.held = fixed;
        }
        let release = if end {
            self.held.len()
        } else {
            self.held.len().saturating_sub(self.keep)
        };
        Some(self.held.split_to(release).freeze())
    }
}

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = memchr::memmem::find(rest, needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_shared::detect::FingerprintKey;
    use tollgate_shared::invocation::{Binding, SecretText};

    const VALUE: &str = "live-api-key-9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    const PLACEHOLDER: &str = "live-tgphAAAABBBBCCCCDDDDEEEEFFFFGGGGHHHHIIIIJJ";

    fn issued() -> Issued {
        let engine = Engine::new(FingerprintKey::new(vec![7u8; 32]).expect("key")).expect("engine");
        Issued::new(
            &engine,
            vec![invocation::Issued {
                name: "api-key".to_owned(),
                value: SecretText::new(VALUE),
                placeholder: Some(SecretText::new(PLACEHOLDER)),
                inject: Some(Binding {
                    header: "Authorization".to_owned(),
                    format: "Bearer {value}".to_owned(),
                    hosts: vec!["api.example.com".to_owned()],
                }),
                expires_unix_ms: 0,
            }],
        )
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| {
                (
                    HeaderName::from_bytes(n.as_bytes()).expect("name"),
                    HeaderValue::from_str(v).expect("v"),
                )
            })
            .collect()
    }

    #[test]
    fn the_placeholder_is_swapped_only_in_its_header_on_its_hosts() {
        let issued = issued();
        let bound = headers(&[("authorization", &format!("Bearer {PLACEHOLDER}"))]);
        let host = Host::parse("api.example.com").expect("host");
        let injections = issued.injections(&host, &bound);
        assert_eq!(injections.len(), 1);
        assert_eq!(
            injections[0].value.to_str().expect("ascii"),
            format!("Bearer {VALUE}")
        );
        let elsewhere = Host::parse("evil.example.com").expect("host");
        assert!(issued.injections(&elsewhere, &bound).is_empty());
        let other_header = headers(&[("x-api-key", PLACEHOLDER)]);
        assert!(issued.injections(&host, &other_header).is_empty());
        assert!(format!("{:?}", injections[0]).find(VALUE).is_none());
    }

    #[test]
    fn unknown_placeholders_are_noticed_and_known_ones_are_not() {
        let issued = issued();
        assert!(!issued.unknown_placeholder("/", &headers(&[("authorization", PLACEHOLDER)])));
        assert!(issued.unknown_placeholder("/?k=ghp_tgphZZZZ", &HeaderMap::new()));
        assert!(!issued.unknown_placeholder("/plain", &HeaderMap::new()));
    }

    #[test]
    fn reflected_values_are_put_back_into_placeholders_across_chunks() {
        let issued = issued();
        let host = Host::parse("api.example.com").expect("host");
        let injections = issued.injections(&host, &headers(&[("authorization", PLACEHOLDER)]));
        let mut scrub = issued.scrubber(&injections).expect("scrubber");
        let body = format!("{{\"echo\":\"{VALUE}\"}}");
        let (a, b) = body.split_at(20);
        let mut out = Vec::new();
        out.extend_from_slice(&scrub.body(Some(Bytes::from(a.to_owned())), false).expect("chunk"));
        out.extend_from_slice(&scrub.body(Some(Bytes::from(b.to_owned())), true).expect("chunk"));
        let out = String::from_utf8(out).expect("utf-8");
        assert_eq!(out, format!("{{\"echo\":\"{PLACEHOLDER}\"}}"));
        let reflected = headers(&[("x-echo", &format!("Bearer {VALUE}")), ("x-other", "plain")]);
        let fixed = scrub.headers(&reflected);
        assert_eq!(fixed.len(), 1);
        assert_eq!(fixed[0].1, format!("Bearer {PLACEHOLDER}").as_str());
    }
}
