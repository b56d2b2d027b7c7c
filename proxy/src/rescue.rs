//! The one place where a denial or failure becomes an HTTP response, so that every refusal
//! has the same shape: a status, an `X-Tollgate-Reason` header and a JSON body with the
//! reason code, a message, the rule, the tenant, tool and session. Both the front door (raw
//! HTTP/1.1 before pingora takes over) and the pipeline (pingora sessions) render through it.

use serde::Serialize;

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
    /// Where the fault lies: `policy`, `client` or `upstream` (never mistaken for each other).
    pub source: &'static str,
}

/// Who sent the refused request.
#[derive(Debug, Clone, Serialize)]
pub struct Caller {
    pub tenant: String,
    pub tool: String,
    pub session: String,
}

impl Denial {
    pub fn new(status: u16, reason: &'static str, message: impl Into<String>) -> Self {
        let source = match status {
            502..=504 => "upstream",
            400 | 407 | 408 | 421 | 431 => "client",
            _ => "policy",
        };
        Self {
            status,
            reason,
            message: message.into(),
            rule: None,
            owner: None,
            caller: None,
            source,
        }
    }

    pub fn for_identity(mut self, identity: &Identity) -> Self {
        self.caller = Some(Box::new(Caller {
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
    pub fn extra_headers(&self) -> Vec<(&'static str, &'static str)> {
        match self.status {
            407 => vec![("proxy-authenticate", "Basic realm=\"tollgate\"")],
            _ => Vec::new(),
        }
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
