//! The invocation contract the broker, the proxy and the CLI speak: what the orchestrator
//! sends to start an invocation and gets back, what the proxy learns when it looks one up,
//! what a tool gets for a credential, and what the proxy reports when an issued value is
//! misused. Wire version 1; every type is JSON with unknown fields refused.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroize;

/// The wire version of these types; sent as `x-tollgate-api` by both sides.
pub const API_VERSION: &str = "1";

/// Every placeholder the broker issues carries this marker right after the prefix it keeps
/// from the real value, so the proxy can tell one it does not know (issued after its cached
/// lookup) from an ordinary token, and look again.
pub const PLACEHOLDER_MARK: &str = "tgph";

/// A credential value or an invocation secret: never printed (Debug and Display show the
/// length), zeroed on drop, exposed only through [`SecretText::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretText(String);

impl SecretText {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself; named so every place it leaves the type is easy to find.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for SecretText {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretText({} bytes)", self.0.len())
    }
}

impl Serialize for SecretText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

/// `POST /v1/invocations` (control API): the orchestrator starts one tool invocation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    pub tenant: String,
    pub session: String,
    pub tool: String,
    pub tool_call_id: String,
    pub model: String,
    /// W3C `traceparent` of the agent's span; a trace id is made when absent.
    #[serde(default)]
    pub traceparent: Option<String>,
    /// How long the invocation may run; the broker's default when absent, capped by its max.
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

/// The answer to a start: what the tool container is given.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Started {
    pub invocation_id: String,
    /// Shown once; the broker keeps only its hash.
    pub secret: SecretText,
    pub deadline_unix_ms: u64,
    pub trace_id: String,
    /// `HTTPS_PROXY` for the tool, with the invocation's credentials in it, when the broker
    /// knows the proxy's address.
    pub proxy_url: Option<SecretText>,
}

/// Who one invocation is. Shared by the broker's store and the proxy's lookups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invocation {
    pub id: String,
    pub tenant: String,
    pub session: String,
    pub tool: String,
    pub tool_call_id: String,
    pub model: String,
    pub trace_id: String,
    pub started_unix_ms: u64,
    pub deadline_unix_ms: u64,
}

/// `POST /v1/lookup` (control API, proxy role): are these proxy credentials a live
/// invocation, and what has it been issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    pub invocation_id: String,
    pub secret: SecretText,
}

/// A live invocation as the proxy needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    pub invocation: Invocation,
    pub issued: Vec<Issued>,
    /// The tool has grants it has not fetched yet. The proxy does not cache such an answer:
    /// a credential fetched after the lookup must be known to the very next request.
    #[serde(default)]
    pub pending: bool,
}

/// One credential issued to the invocation, as the proxy needs it to inject the value on its
/// bound hosts and to block it (and its placeholder) everywhere else.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issued {
    pub name: String,
    /// The real value.
    pub value: SecretText,
    /// What the tool holds instead, for `inject` delivery.
    pub placeholder: Option<SecretText>,
    pub inject: Option<Binding>,
    pub expires_unix_ms: u64,
}

/// Where an injected credential may go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    pub header: String,
    /// The header value, with `{value}` where the credential goes.
    pub format: String,
    /// Host patterns as the policy writes them.
    pub hosts: Vec<String>,
}

/// `GET /v1/credentials/{name}` (tool socket): the credential, or its placeholder.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub name: String,
    /// The real value (`direct`) or the placeholder (`inject`).
    pub value: SecretText,
    pub delivery: DeliveryKind,
    pub expires_unix_ms: u64,
    /// For database credentials, the user name (not secret).
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryKind {
    Direct,
    Inject,
}

/// `POST /v1/invocations/{id}/misuse` (control API, proxy role): the proxy blocked an issued
/// value or placeholder outside its binding. Carries fingerprints, never values.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MisuseReport {
    /// The credential's name, when the proxy could tell which one it was.
    pub credential: Option<String>,
    pub fingerprint: String,
    pub location: String,
    pub host: String,
}

/// Every refusal of either broker interface: a reason code and a message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    pub reason: crate::outcome::Reason,
    pub message: String,
    #[serde(default)]
    pub invocation_id: Option<String>,
}

/// Why a bearer-token file (the control and proxy roles' tokens) cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is empty")]
    Empty { path: String },
}

/// A bearer token kept in a file: its first line, trimmed; an empty file is refused.
pub fn read_token_file(path: &std::path::Path) -> Result<String, TokenFileError> {
    let shown = || path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
        path: shown(),
        source,
    })?;
    let token = text.lines().next().unwrap_or_default().trim().to_owned();
    if token.is_empty() {
        return Err(TokenFileError::Empty { path: shown() });
    }
    Ok(token)
}

/// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), if it is valid.
pub fn trace_id(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(span, 16)
        && span.bytes().any(|b| b != b'0')
        && hex(flags, 2)
        && (version != "00" || parts.next().is_none());
    valid.then_some(trace)
}

/// A placeholder for `real` made from `random` bytes: the real value's vendor prefix (the
/// letters before its first `_` or `-`, when short), the [`PLACEHOLDER_MARK`], then random
/// characters of the value's own alphabet class up to its length (at least 24), so SDKs that
/// check a key's shape accept it.
pub fn placeholder(real: &str, random: &[u8]) -> String {
    let prefix = vendor_prefix(real);
    let body = &real[prefix.len()..];
    let alphabet: &[u8] = if body
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        b"0123456789abcdef"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    };
    let want = real.len().max(prefix.len() + PLACEHOLDER_MARK.len() + 24);
    let mut out = String::with_capacity(want);
    out.push_str(prefix);
    out.push_str(PLACEHOLDER_MARK);
    for byte in random.iter().cycle().take(want - out.len()) {
        out.push(char::from(alphabet[usize::from(*byte) % alphabet.len()]));
    }
    out
}

/// `ghp_`, `sk-`, `xoxb-`, `glpat-`: up to 12 leading letters and digits and the separator.
fn vendor_prefix(real: &str) -> &str {
    let cut = real
        .char_indices()
        .take(13)
        .find(|(_, c)| *c == '_' || *c == '-')
        .map(|(i, _)| i + 1);
    match cut {
        Some(end) if real[..end - 1].bytes().all(|b| b.is_ascii_alphanumeric()) => &real[..end],
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_gives_its_trace_id_only_when_valid() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(trace_id(good), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ] {
            assert_eq!(trace_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn placeholders_keep_the_vendor_prefix_and_length_and_carry_the_mark() {
        let random: Vec<u8> = (0u8..=255).collect();
        let real = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
        let p = placeholder(real, &random);
        assert!(p.starts_with("ghp_tgph"), "{p}");
        assert_eq!(p.len(), real.len());
        assert_ne!(p, real);
        let hex = placeholder("0123456789abcdef0123456789abcdef", &random);
        assert!(hex.starts_with("tgph") && hex[4..].bytes().all(|b| b.is_ascii_hexdigit()));
        let short = placeholder("s3cr3t", &random);
        assert_eq!(short.len(), 4 + 24);
        // A value with no usable prefix gets none: `/` is not a vendor separator.
        assert!(placeholder("https://hooks.example/T0/B0/x", &random).starts_with("tgph"));
    }

    #[test]
    fn secret_text_never_prints_its_value() {
        let s = SecretText::new("hunter2-but-longer");
        assert_eq!(format!("{s:?}"), "SecretText(18 bytes)");
        let json = serde_json::to_string(&s).expect("serialize");
        assert_eq!(serde_json::from_str::<SecretText>(&json).expect("parse"), s);
    }

    #[test]
    fn wire_types_refuse_unknown_fields() {
        let text = r#"{"invocation_id":"x","secret":"y","extra":1}"#;
        assert!(serde_json::from_str::<LookupRequest>(text).is_err());
    }
}
