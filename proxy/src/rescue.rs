//! The one exit: every answer the proxy gives instead of the upstream's passes through here,
//! which counts it, records it and builds the response, so that no refusal goes uncounted or
//! unrecorded and all have one shape: the reason's status, an `X-Tollgate-Reason` header and
//! a JSON body with the reason code, a message, the rule, the tenant, tool and session. The
//! front door (raw HTTP/1.1 before pingora takes over) and the pipeline (pingora sessions)
//! both answer through [`Gate::refuse_raw`] and [`Gate::refuse_session`]; nothing else can
//! render a [`Denial`].

use bytes::Bytes;
use pingora_http::ResponseHeader;
use pingora_proxy::Session;
use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tollgate_shared::budget::{BudgetError, Exceeded, retry_after_secs};
use tollgate_shared::outcome::{Fault, Reason};

use crate::gate::Gate;
use crate::identity::Identity;

/// Why the proxy answered instead of the upstream.
#[derive(Debug, Clone, Serialize)]
pub struct Denial {
    #[serde(skip)]
    pub status: u16,
    pub reason: Reason,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub caller: Option<Box<Caller>>,
    /// Where the fault lies: `policy`, `client`, `upstream` or `service`.
    pub source: Fault,
    /// For `budget_exceeded`: which budget, at which scope, its limit, what was used, what
    /// was asked for and `retry_after_secs` when a window will refill.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Box<Exceeded>>,
    /// For `secret_detected`: the detector, where, through which encodings, and the keyed
    /// fingerprint of the value (never the value).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub detected: Option<Box<crate::inspect::Detected>>,
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
    /// A refusal with its reason's status and fault.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            status: reason.status(),
            reason,
            message: message.into(),
            rule: None,
            owner: None,
            caller: None,
            source: reason.fault(),
            budget: None,
            detected: None,
        }
    }

    /// An over-budget refusal (`429 budget_exceeded`) or a budget store that cannot answer
    /// (`503`, failing closed).
    pub fn from_budget(error: &BudgetError) -> Self {
        let mut denial = Self::new(error.reason(), error.to_string());
        if let BudgetError::Exceeded(exceeded) = error {
            denial.budget = Some(Box::new(*exceeded));
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

    /// Whether this answer is a decision against the request (an upstream that failed is
    /// not: the request was allowed).
    pub fn is_refusal(&self) -> bool {
        self.source != Fault::Upstream
    }

    fn body(&self) -> Vec<u8> {
        // Serialising plain strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Extra headers this kind of answer needs.
    fn extra_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if self.status == 407 {
            headers.push(("proxy-authenticate", "Basic realm=\"tollgate\"".to_owned()));
        }
        if let Some(wait) = self.budget.as_ref().and_then(|b| b.retry_after) {
            headers.push(("retry-after", retry_after_secs(wait).to_string()));
        }
        headers
    }

    /// The status line's phrase carries the reason code after the standard one
    /// (`403 Forbidden (host_not_allowed)`): for a refused CONNECT many clients show only that
    /// line (httpx's `ProxyError`, curl's "CONNECT tunnel failed"), so that is where a tool's
    /// user, or an agent reading the tool's error, learns why.
    fn phrase(&self) -> String {
        format!("{} ({})", reason_phrase(self.status), self.reason)
    }

    /// The whole response as raw HTTP/1.1, for the front door; the connection is closed after.
    fn to_http1(&self) -> Vec<u8> {
        let body = self.body();
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\nx-tollgate-reason: {}\r\ncontent-length: {}\r\nconnection: close\r\n",
            self.status,
            self.phrase(),
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

/// What the front door knew of a request it refused, for the record.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub identity: Option<&'a Identity>,
    pub method: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub target: &'a str,
    pub started_unix_ms: u64,
}

impl Attempt<'_> {
    /// A connection that sent no usable request head.
    pub fn unread(started_unix_ms: u64) -> Attempt<'static> {
        Attempt {
            identity: None,
            method: "",
            host: "",
            port: 0,
            target: "",
            started_unix_ms,
        }
    }
}

impl Gate {
    /// The front door's exit: counts the refusal, records it, writes it and closes.
    pub async fn refuse_raw<W: AsyncWrite + Unpin>(
        &self,
        stream: &mut W,
        denial: &Denial,
        attempt: Attempt<'_>,
    ) {
        self.count(denial, attempt.identity);
        self.record(&crate::record::Egress {
            identity: attempt.identity,
            denial: Some(denial),
            report: None,
            method: attempt.method,
            host: attempt.host,
            port: attempt.port,
            target: attempt.target,
            status: Some(denial.status),
            bytes_out: 0,
            bytes_in: 0,
            started_unix_ms: attempt.started_unix_ms,
            ended_unix_ms: crate::record::now_ms(),
            peer: None,
            traceparent: None,
            mcp_method: None,
        });
        let _ = stream.write_all(&denial.to_http1()).await;
        let _ = stream.shutdown().await;
    }

    /// The pipeline's exit: counts the refusal and writes it through pingora; it is kept in
    /// `answered`, which the request's record (written in `logging`, for every request)
    /// carries.
    pub async fn refuse_session(
        &self,
        session: &mut Session,
        denial: Denial,
        identity: Option<&Identity>,
        answered: &mut Option<Denial>,
    ) -> pingora_error::Result<()> {
        self.count(&denial, identity);
        let written = respond(session, &denial).await;
        *answered = Some(denial);
        written
    }

    /// Counts one refusal; one over budget is also its own `budget.exceeded` event.
    fn count(&self, denial: &Denial, identity: Option<&Identity>) {
        self.metrics.refused(denial.reason);
        if let Some(exceeded) = denial.budget.as_deref() {
            self.record_budget(identity, exceeded, "refused");
        }
    }
}

/// Writes a denial through pingora.
async fn respond(session: &mut Session, denial: &Denial) -> pingora_error::Result<()> {
    let body = denial.body();
    let mut header = ResponseHeader::build(denial.status, Some(4))?;
    header.set_reason_phrase(Some(&denial.phrase()))?;
    header.insert_header("content-type", "application/json")?;
    header.insert_header("x-tollgate-reason", denial.reason.as_str())?;
    header.insert_header("content-length", body.len().to_string())?;
    for (name, value) in denial.extra_headers() {
        header.insert_header(name, value)?;
    }
    session.write_response_header(Box::new(header), false).await?;
    session.write_response_body(Some(Bytes::from(body)), true).await
}

pub fn reason_phrase(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_renders_with_its_reasons_status_header_and_body() {
        for reason in Reason::ALL.into_iter().filter(|r| *r != Reason::Allowed) {
            let raw = String::from_utf8(Denial::new(reason, "why").to_http1()).expect("utf-8");
            let (head, body) = raw.split_once("\r\n\r\n").expect("a head");
            assert!(
                head.starts_with(&format!("HTTP/1.1 {} ", reason.status())),
                "{head}"
            );
            assert!(
                head.contains(&format!("\r\nx-tollgate-reason: {reason}\r\n")),
                "{head}"
            );
            assert!(
                head.contains(&format!("content-length: {}\r\n", body.len())),
                "{head}"
            );
            let json: serde_json::Value = serde_json::from_str(body).expect("json");
            assert_eq!(json["reason"], reason.as_str());
            assert_eq!(json["message"], "why");
            assert_eq!(
                head.contains("proxy-authenticate"),
                reason.status() == 407,
                "{reason}"
            );
        }
    }
}
