//! The one place where a denial or failure becomes an HTTP response, so that every refusal
//! has the same shape: a status, an `X-Tollgate-Reason` header and a JSON body with the
//! reason code, a message, the rule, the tenant, tool and session. Both the front door (raw
//! HTTP/1.1 before pingora takes over) and the pipeline (pingora sessions) render through it.

use serde::Serialize;
use tollgate_shared::budget::{BudgetError, Exceeded, retry_after_secs};

use crate::identity::Identity;

/// Why the proxy answered instead of the upstream.
#[derive(Debug, Clone, Serialize)]
pub struct Denial {
    #[serde(skip)]
    pub status: u16,
    pub reason: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub caller: Option<Box<Caller>>,
    /// Where the fault lies: `policy`, `client`, `upstream` or `proxy` (never mistaken for
    /// each other).
    pub source: Source,
    /// For `budget_exceeded`: which budget, at which scope, its limit, what was used, what
    /// was asked for and `retry_after_secs` when a window will refill.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Box<Exceeded>>,
    /// For `secret_detected`: the detector, where, through which encodings, and the keyed
    /// fingerprint of the value (never the value).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub detected: Option<Box<crate::inspect::Detected>>,
}

/// Where the fault behind an answer lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The policy (allowlist, detectors, budgets) refused the request.
    Policy,
    /// The client sent something malformed or misdirected.
    Client,
    /// The upstream failed or timed out.
    Upstream,
    /// The proxy itself could not decide (its budget store did not answer).
    Proxy,
}

/// Who sent the refused request.
#[derive(Debug, Clone, Serialize)]
pub struct Caller {
    /// The proxy user: the invocation id once the broker issues credentials.
    pub invocation: String,
    pub tenant: String,
    pub tool: String,
    pub session: String,
}

impl Denial {
    pub fn new(status: u16, reason: &'static str, message: impl Into<String>) -> Self {
        let source = match status {
            502..=504 => Source::Upstream,
            400 | 407 | 408 | 421 | 431 => Source::Client,
            _ => Source::Policy,
        };
        Self {
            status,
            reason,
            message: message.into(),
            rule: None,
            owner: None,
            caller: None,
            source,
            budget: None,
            detected: None,
        }
    }

    /// An over-budget refusal (`429 budget_exceeded`) or a budget store that cannot answer
    /// (`503`, failing closed).
    pub fn from_budget(error: &BudgetError) -> Self {
        let mut denial = Self::new(error.http_status(), error.reason(), error.to_string());
        match error {
            BudgetError::Exceeded(exceeded) => denial.budget = Some(Box::new(*exceeded)),
            BudgetError::Store(_) => denial.source = Source::Proxy,
        }
        denial
    }

    pub fn for_identity(mut self, identity: &Identity) -> Self {
        self.caller = Some(Box::new(Caller {
            invocation: identity.user.clone(),
            tenant: identity.tenant.clone(),
            tool: identity.tool.clone(),
            session: identity.session.clone(),
        }));
        self
    }

    pub fn body(&self) -> Vec<u8> {
        // Serialising plain strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Extra headers this kind of answer needs.
    pub fn extra_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if self.status == 407 {
            headers.push(("proxy-authenticate", "Basic realm=\"tollgate\"".to_owned()));
        }
        if let Some(wait) = self.budget.as_ref().and_then(|b| b.retry_after) {
            headers.push(("retry-after", retry_after_secs(wait).to_string()));
        }
        headers
    }

    /// The whole response as raw HTTP/1.1, for the front door; the connection is closed after.
    pub fn to_http1(&self) -> Vec<u8> {
        let body = self.body();
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\nx-tollgate-reason: {}\r\ncontent-length: {}\r\nconnection: close\r\n",
            self.status,
            reason_phrase(self.status),
            self.reason,
            body.len()
        );
        for (name, value) in self.extra_headers() {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&body);
        bytes
    }
}

pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        421 => "Misdirected Request",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}
