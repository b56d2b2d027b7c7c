//! The proxy's provenance events: one per request (and per refused CONNECT), allowed or
//! denied, with who sent it, where it went, what was decided and why. URLs are redacted: the
//! path stays, query values do not; a finding carries its fingerprint, never the value.

use tollgate_shared::budget::Exceeded;
use tollgate_shared::outcome::Reason;
use tollgate_shared::provenance::{Event, attr, span_id};

use tollgate_shared::detect::Engine;

use crate::identity::Identity;
use crate::rescue::Denial;

/// What one request did, as far as provenance needs it.
#[derive(Debug)]
pub struct Egress<'a> {
    pub identity: Option<&'a Identity>,
    pub denial: Option<&'a Denial>,
    /// What a report-mode policy would have refused, when the request went ahead.
    pub report: Option<&'a Denial>,
    pub method: &'a str,
    pub host: &'a str,
    pub port: u16,
    /// Path and query as sent; redacted here.
    pub target: &'a str,
    pub status: Option<u16>,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub started_unix_ms: u64,
    pub ended_unix_ms: u64,
    /// The address the proxy connected to, once resolved and guarded.
    pub peer: Option<std::net::SocketAddr>,
    /// The trace id of the tool's own `traceparent` header, used when the invocation has none.
    pub traceparent: Option<&'a str>,
    /// The JSON-RPC method when the request is an MCP call (`tools/call`, ...).
    pub mcp_method: Option<&'a str>,
}

/// The JSON-RPC method of an MCP request body (its first chunk), when it is one: only a
/// name of the shape MCP methods have is taken, since the body is the client's text.
pub fn mcp_method(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Rpc<'a> {
        jsonrpc: &'a str,
        method: &'a str,
    }
    let rpc: Rpc<'_> = serde_json::from_slice(body).ok()?;
    let shaped = (1..=64).contains(&rpc.method.len())
        && rpc
            .method
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'/' | b'_' | b'-'))
        && rpc.jsonrpc == "2.0";
    shaped.then(|| rpc.method.to_owned())
}

pub use tollgate_shared::provenance::now_ms;

/// The path, with every query value replaced by its keyed fingerprint (so that the same
/// value is seen again across records, and none can be read back).
pub fn redact(target: &str, engine: &Engine) -> String {
    let target = target.split('#').next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if query.is_empty() {
        return path.to_owned();
    }
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) => format!("{key}=<{}>", engine.fingerprint(value.as_bytes())),
            None => format!("<{}>", engine.fingerprint(pair.as_bytes())),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

pub fn egress_event(egress: &Egress<'_>, engine: &Engine) -> Event {
    // An upstream that failed is not a decision: the request was allowed.
    let denied = egress.denial.filter(|d| d.is_refusal());
    let reported = egress.report.filter(|_| denied.is_none());
    let kind = match (denied, reported) {
        (Some(_), _) => "egress.deny",
        (None, Some(_)) => "egress.report",
        (None, None) => "egress.allow",
    };
    let mut event = Event::new(kind, "proxy", egress.started_unix_ms, egress.ended_unix_ms)
        .with(attr::SPAN, span_id())
        .with(attr::OPERATION, "execute_tool")
        .with(attr::HOST, egress.host)
        .with("server.port", egress.port)
        .with(attr::METHOD, egress.method)
        .with("url.redacted", redact(egress.target, engine))
        .with("tollgate.bytes_out", egress.bytes_out)
        .with("tollgate.bytes_in", egress.bytes_in)
        .with(
            "tollgate.duration_ms",
            egress.ended_unix_ms.saturating_sub(egress.started_unix_ms),
        );
    if let Some(peer) = egress.peer {
        event = event.with("network.peer.address", peer.ip().to_string());
    }
    if let Some(method) = egress.mcp_method {
        event = event.with("mcp.method.name", method);
    }
    if let Some(status) = egress.status.or(egress.denial.map(|d| d.status)) {
        event = event.with(attr::STATUS, status);
    }
    if let Some(identity) = egress.identity {
        event = with_identity(event, identity);
        if identity.call.is_none() {
            if let Some(trace) = egress.traceparent {
                event = event.with(attr::TRACE, trace);
            }
        }
    } else if let Some(caller) = egress.denial.and_then(|d| d.caller.as_deref()) {
        event = with_caller(
            event,
            &caller.invocation,
            &caller.tenant,
            &caller.session,
            &caller.tool,
        );
    }
    if let Some(denial) = egress.denial.or(reported) {
        event = event.with(attr::REASON, denial.reason.as_str()).with(
            "tollgate.fault",
            serde_json::to_value(denial.source).unwrap_or_default(),
        );
        if let Some(rule) = &denial.rule {
            event = event.with("tollgate.rule", rule.as_str());
        }
        if let Some(owner) = &denial.owner {
            event = event.with("tollgate.policy.owner", owner.as_str());
        }
        if let Some(detected) = denial.detected.as_deref() {
            event = event
                .with("tollgate.finding.detector", detected.detector)
                .with("tollgate.finding.location", detected.location.as_str())
                .with("tollgate.finding.encoding", detected.encoding.as_str())
                .with(attr::FINGERPRINT, detected.fingerprint.as_str());
        }
    }
    if egress.denial.is_none() && reported.is_none() {
        event = event.with(attr::REASON, Reason::Allowed.as_str());
    }
    event
}

/// One over-budget moment: a refusal (`refused`), or traffic cut short (`cut`).
pub fn budget_event(identity: Option<&Identity>, exceeded: &Exceeded, action: &str) -> Event {
    let mut event = Event::now("budget.exceeded", "proxy")
        .with(attr::SPAN, span_id())
        .with_budget(exceeded, action);
    if let Some(identity) = identity {
        event = with_identity(event, identity);
    }
    event
}

/// What judging one answer found: each finding's class, rule and place (never its text),
/// and the action taken; or why the answer could not be judged.
pub fn output_event(
    identity: Option<&Identity>,
    host: &str,
    target: &str,
    judged: &crate::output::Judged,
    engine: &Engine,
) -> Event {
    let kind = if judged.unjudged.is_some() {
        "output.unjudged"
    } else {
        "output.injection"
    };
    let mut event = Event::now(kind, "proxy")
        .with(attr::SPAN, span_id())
        .with(attr::HOST, host)
        .with("url.redacted", redact(target, engine))
        .with("tollgate.output.action", judged.action.as_str())
        .with(
            "tollgate.output.classes",
            judged
                .findings
                .iter()
                .map(|f| f.class.as_str())
                .collect::<Vec<_>>(),
        )
        .with(
            "tollgate.output.findings",
            crate::output::describe(&judged.findings),
        );
    if let Some(why) = &judged.unjudged {
        event = event.with("tollgate.output.unjudged", why.as_str());
    }
    if let Some(identity) = identity {
        event = with_identity(event, identity);
    }
    event
}

/// Who made the request: the invocation and its tenant, session and tool.
fn with_caller(event: Event, invocation: &str, tenant: &str, session: &str, tool: &str) -> Event {
    event
        .with(attr::INVOCATION, invocation)
        .with(attr::TENANT, tenant)
        .with(attr::SESSION, session)
        .with(attr::TOOL, tool)
}

fn with_identity(event: Event, identity: &Identity) -> Event {
    let event = with_caller(
        event,
        &identity.user,
        &identity.tenant,
        &identity.session,
        &identity.tool,
    );
    match identity.call.as_deref() {
        Some(call) => event
            .with(attr::TRACE, call.trace_id.as_str())
            .with(attr::TOOL_CALL, call.tool_call_id.as_str())
            .with(attr::MODEL, call.model.as_str()),
        None => event,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_json_rpc_method_of_mcp_shape_is_taken() {
        let call = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#;
        assert_eq!(mcp_method(call).as_deref(), Some("tools/call"));
        assert_eq!(mcp_method(br#"{"jsonrpc":"2.0","method":"ghp_AAAA BBBB"}"#), None);
        assert_eq!(mcp_method(br#"{"method":"tools/list"}"#), None, "not JSON-RPC");
        assert_eq!(mcp_method(b"not json"), None);
    }

    #[test]
    fn query_values_never_reach_the_record_only_their_fingerprints() {
        let key = tollgate_shared::detect::FingerprintKey::new(vec![7u8; 16]).expect("key");
        let engine = Engine::new(key).expect("engine");
        let fp = |v: &str| engine.fingerprint(v.as_bytes()).to_string();
        assert_eq!(
            redact("/a/b?token=ghp_secret&x=1&flag#frag", &engine),
            format!(
                "/a/b?token=<{}>&x=<{}>&<{}>",
                fp("ghp_secret"),
                fp("1"),
                fp("flag")
            )
        );
        assert!(!redact("/a?token=ghp_secret", &engine).contains("ghp_secret"));
        assert_eq!(redact("/plain", &engine), "/plain");
    }
}
