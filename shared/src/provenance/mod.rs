//! Provenance: one event schema for the broker and the proxy, written as JSON Lines with a
//! hash chain (`seq`, `prev_hash`, `hash`) so that an edited, deleted, inserted or reordered
//! line is detected; the writer that keeps the chain off the request path; the verifier; and
//! the trace that merges several services' files into one invocation's timeline. Attribute
//! names follow OpenTelemetry's GenAI and MCP conventions where they exist. Secret values
//! never appear: only fingerprints and redacted URLs.

mod chain;
mod checkpoint;
pub mod otlp;
mod sink;
mod trace;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use chain::{
    CHECKPOINT, CHECKPOINT_KEY, CHECKPOINT_NOTE, ChainError, GENESIS, ROTATE, Trust, Verified, seal,
    seal_into, verify_lines, verify_with,
};
pub use checkpoint::{Checkpoint, CheckpointError, Note, Signer, Tree, VerifierKey};
pub use sink::{Sink, SinkError, SinkSettings, settings_or_path, sibling};
pub use trace::{TraceError, read_openbao_audit, read_records, render_html, trace};

/// The request header the broker sends OpenBao with the invocation id, for its audit log.
pub const INVOCATION_HEADER: &str = "x-tollgate-invocation";

/// The schema every record names; bumped on an incompatible change.
pub const SCHEMA: &str = "tollgate.provenance/1";

/// One line of a provenance file. (Unknown fields land in the event's attributes: serde's
/// `deny_unknown_fields` does not combine with `flatten`; the hash covers them all the same.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub schema: String,
    /// Position in this writer's chain, from 1.
    pub seq: u64,
    /// `hash` of the line before (the [`GENESIS`] hash for the first).
    pub prev_hash: String,
    /// SHA-256 (hex) of this line written with `hash` empty.
    pub hash: String,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened, who did it, and where it belongs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `invocation.start`, `credential.issue`, `egress.deny`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `broker` or `proxy`.
    pub source: String,
    pub start_unix_ms: u64,
    pub end_unix_ms: u64,
    /// Common fields and the type's own, under OpenTelemetry names where they exist
    /// (`gen_ai.tool.name`, `server.address`, ...) and `tollgate.*` otherwise.
    #[serde(flatten)]
    /// Names are mostly the constants below: borrowed, so building a record allocates only
    /// its values.
    pub attributes: BTreeMap<Cow<'static, str>, serde_json::Value>,
}

/// Attribute names shared by both services.
pub mod attr {
    pub const INVOCATION: &str = "tollgate.invocation.id";
    pub const TENANT: &str = "tollgate.tenant";
    pub const SESSION: &str = "gen_ai.conversation.id";
    pub const TOOL: &str = "gen_ai.tool.name";
    pub const TOOL_CALL: &str = "gen_ai.tool.call.id";
    pub const MODEL: &str = "gen_ai.request.model";
    pub const OPERATION: &str = "gen_ai.operation.name";
    pub const TRACE: &str = "trace_id";
    pub const SPAN: &str = "span_id";
    pub const CREDENTIAL: &str = "tollgate.credential.name";
    pub const CREDENTIAL_SOURCE: &str = "tollgate.credential.source";
    pub const FINGERPRINT: &str = "tollgate.fingerprint";
    pub const REASON: &str = "tollgate.reason";
    pub const HOST: &str = "server.address";
    pub const METHOD: &str = "http.request.method";
    pub const STATUS: &str = "http.response.status_code";
}

/// A `policy.reload` event: the set now in force (`Ok(tenants)`), or a rejected edit and why
/// (the previous set stays in force).
pub fn policy_reload(source: &str, trigger: &str, outcome: Result<usize, &str>) -> Event {
    let event = Event::now("policy.reload", source)
        .with(attr::SPAN, span_id())
        .with("tollgate.reload.trigger", trigger);
    match outcome {
        Ok(tenants) => event
            .with("tollgate.reload.outcome", "applied")
            .with("tollgate.reload.tenants", tenants),
        Err(why) => event
            .with("tollgate.reload.outcome", "rejected")
            .with("tollgate.reload.error", why),
    }
}

/// Wall-clock milliseconds.
pub fn now_ms() -> u64 {
    use crate::budget::Clock as _;
    crate::budget::SystemClock.now_ms()
}

/// A fresh W3C span id: 16 hex digits, unique within the process (a random start, then a
/// counter, so that making one costs no system call on the request path).
pub fn span_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: OnceLock<AtomicU64> = OnceLock::new();
    let next = NEXT.get_or_init(|| {
        let mut seed = [0u8; 8];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed);
        AtomicU64::new(u64::from_le_bytes(seed))
    });
    // Zero is not a valid span id.
    let id = next.fetch_add(1, Ordering::Relaxed).max(1);
    format!("{id:016x}")
}

impl Event {
    pub fn new(kind: &str, source: &str, start_unix_ms: u64, end_unix_ms: u64) -> Self {
        Self {
            kind: kind.to_owned(),
            source: source.to_owned(),
            start_unix_ms,
            end_unix_ms,
            attributes: BTreeMap::new(),
        }
    }

    /// An event of one moment, now.
    pub fn now(kind: &str, source: &str) -> Self {
        let now = now_ms();
        Self::new(kind, source, now, now)
    }

    /// A budget's refusal (`refused`) or cut (`cut`): the reason and every field of the
    /// budget's answer (which budget, scope, limit, used, asked, retry) as `tollgate.budget.*`.
    pub fn with_budget(mut self, exceeded: &crate::budget::Exceeded, action: &str) -> Self {
        self = self
            .with(attr::REASON, crate::outcome::Reason::BudgetExceeded.as_str())
            .with("tollgate.budget.action", action.to_owned());
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(exceeded) {
            for (name, value) in fields {
                self = self.with(format!("tollgate.budget.{name}"), value);
            }
        }
        self
    }

    /// Adds one attribute.
    pub fn with(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<serde_json::Value>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }

    /// The invocation this event belongs to, if any.
    pub fn invocation(&self) -> Option<&str> {
        self.attributes.get(attr::INVOCATION)?.as_str()
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.attributes.get(name)?.as_str()
    }
}
