//! The decision function: given a tenant's policy, a tool and a request's method, host, port
//! and path, allow or deny with a reason code, the rule that decided and the policy owner.
//! Pure: no I/O and no clock, so the proxy can call it for every request and tests can call it
//! without any set-up.

use std::borrow::Cow;

use serde::Serialize;

use crate::policy::host::Host;
use crate::policy::model::{DenyEntry, EgressRule, Mode, Tenant, Tool};
use crate::policy::path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    Deny,
}

/// The decision's reason codes are part of the one vocabulary of answers.
pub use crate::outcome::Reason;

/// What is known of a request when it is decided. At CONNECT time only host and port are
/// known; method and path are `None` and only host and port are checked.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: Option<&'a str>,
    pub host: &'a Host,
    pub port: u16,
    /// The request target as sent (origin form, query included); normalised here.
    pub path: Option<&'a str>,
}

/// An allow or deny, with everything a deny response, a log line or a review needs.
#[derive(Debug, Clone, Serialize)]
pub struct Decision<'p> {
    pub verdict: Verdict,
    pub reason: Reason,
    pub tenant: &'p str,
    pub tool: Cow<'p, str>,
    /// The rule that allowed, or the rule that came closest to allowing.
    #[serde(rename = "rule", serialize_with = "rule_id")]
    pub rule: Option<&'p EgressRule>,
    pub owner: Option<&'p str>,
    /// False in `report` mode: a deny is logged, not enforced.
    pub enforced: bool,
    /// Why, in words; built only for denials (an allow says which rule allowed it).
    pub message: Cow<'static, str>,
}

impl Decision<'_> {
    /// Whether the request must be stopped.
    pub fn blocks(&self) -> bool {
        self.verdict == Verdict::Deny && self.enforced
    }

    pub fn rule_id(&self) -> Option<&str> {
        self.rule.map(|r| r.id.as_str())
    }
}

fn rule_id<S: serde::Serializer>(rule: &Option<&EgressRule>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_some(&rule.map(|r| r.id.as_str()))
}

/// How far one rule got with one request: the checks run in this order and each only
/// matters if the ones before it passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleMatch {
    pub host: bool,
    pub port: bool,
    pub method: bool,
    pub path: bool,
}

impl RuleMatch {
    fn all(self) -> bool {
        self.host && self.port && self.method && self.path
    }

    /// How many checks passed before the first failure.
    fn depth(self) -> u8 {
        [self.host, self.port, self.method, self.path]
            .iter()
            .take_while(|passed| **passed)
            .count() as u8
    }

    fn deny_reason(self) -> Reason {
        match self.depth() {
            0 => Reason::HostNotAllowed,
            1 => Reason::PortNotAllowed,
            2 => Reason::MethodNotAllowed,
            _ => Reason::PathNotAllowed,
        }
    }
}

/// Checks one rule against a request whose path is already normalised.
pub fn evaluate(rule: &EgressRule, request: &Request<'_>, path: Option<&str>) -> RuleMatch {
    RuleMatch {
        host: rule.hosts.iter().any(|p| p.matches(request.host)),
        port: rule.ports.contains(&request.port),
        method: match (&rule.methods, request.method) {
            (Some(methods), Some(method)) => methods.contains(method),
            _ => true,
        },
        path: match (&rule.paths, path) {
            (Some(prefixes), Some(path)) => prefixes.iter().any(|p| p.matches(path)),
            _ => true,
        },
    }
}

/// Decides one request for one tool of one tenant.
pub fn decide<'p>(tenant: &'p Tenant, tool: &str, request: &Request<'_>) -> Decision<'p> {
    let tool_policy = tenant.tool(tool);
    let decision = |verdict, reason, rule, message: Cow<'static, str>| Decision {
        verdict,
        reason,
        tenant: &tenant.id,
        tool: tool_policy.map_or_else(|| Cow::Owned(tool.to_owned()), |t| Cow::Borrowed(t.name.as_str())),
        rule,
        owner: tenant.owner.as_deref(),
        enforced: tool_policy.map_or(tenant.mode, |t| t.mode) == Mode::Enforce,
        message,
    };
    let deny = |reason, rule, message: String| decision(Verdict::Deny, reason, rule, Cow::Owned(message));
    if let Some(entry) = globally_denied(tenant, request.host) {
        let message = format!("{} is on the global deny list: {}", request.host, entry.reason);
        return deny(Reason::HostDenied, None, message);
    }
    let Some(tool_policy) = tool_policy else {
        return deny(
            Reason::UnknownTool,
            None,
            format!("tenant {} has no tool {tool:?}", tenant.id),
        );
    };
    let path = match request.path.map(path::normalize) {
        Some(None) => {
            return deny(
                Reason::InvalidPath,
                None,
                "request target is not an absolute path".to_owned(),
            );
        }
        Some(Some(path)) => Some(path),
        None => None,
    };
    match first_match(tool_policy, request, path.as_deref()) {
        Ok(rule) => decision(
            Verdict::Allow,
            Reason::Allowed,
            Some(rule),
            Cow::Borrowed("allowed"),
        ),
        Err((reason, closest)) => deny(reason, closest, deny_message(reason, request, path.as_deref())),
    }
}

/// The first rule that allows, or the deny reason of the rule that came closest.
fn first_match<'p>(
    tool: &'p Tool,
    request: &Request<'_>,
    path: Option<&str>,
) -> Result<&'p EgressRule, (Reason, Option<&'p EgressRule>)> {
    let mut closest: Option<(RuleMatch, &EgressRule)> = None;
    for rule in &tool.rules {
        let result = evaluate(rule, request, path);
        if result.all() {
            return Ok(rule);
        }
        if closest.is_none_or(|(best, _)| result.depth() > best.depth()) {
            closest = Some((result, rule));
        }
    }
    match closest {
        Some((result, rule)) if result.depth() > 0 => Err((result.deny_reason(), Some(rule))),
        _ => Err((Reason::HostNotAllowed, None)),
    }
}

fn globally_denied<'p>(tenant: &'p Tenant, host: &Host) -> Option<&'p DenyEntry> {
    tenant
        .deny
        .entries
        .iter()
        .find(|entry| entry.hosts.iter().any(|p| p.matches(host)))
}

fn deny_message(reason: Reason, request: &Request<'_>, path: Option<&str>) -> String {
    match reason {
        Reason::PortNotAllowed => format!("port {} is not allowed for {}", request.port, request.host),
        Reason::MethodNotAllowed => format!(
            "method {} is not allowed for {}",
            request.method.unwrap_or("?"),
            request.host
        ),
        Reason::PathNotAllowed => format!("path {} is not allowed for {}", path.unwrap_or("?"), request.host),
        _ => format!("host {} is not allowed for this tool", request.host),
    }
}

#[cfg(test)]
mod tests;
