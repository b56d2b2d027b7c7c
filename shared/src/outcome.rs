//! The one vocabulary of answers: every reason code either service gives (in a refusal's
//! `X-Tollgate-Reason` header and JSON body, in logs, metrics, provenance and policy tests),
//! with the HTTP status the proxy answers it with and where the fault lies. A code is stable
//! once published; add variants, never rename them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a request was answered the way it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    // The decision function (policy tests may expect these).
    Allowed,
    UnknownTool,
    InvalidPath,
    HostDenied,
    HostNotAllowed,
    PortNotAllowed,
    MethodNotAllowed,
    PathNotAllowed,
    // Policy enforced around the decision.
    UnknownTenant,
    SsrfBlocked,
    SecretDetected,
    IssuedCredentialMisuse,
    BodyTooLargeToInspect,
    EncodingTooDeepToInspect,
    DecompressionBomb,
    UndecodableBody,
    BudgetExceeded,
    TooManyConnections,
    CredentialNotGranted,
    UnknownCredential,
    // Who is calling.
    ProxyAuthRequired,
    ProxyAuthInvalid,
    InvocationEnded,
    InvocationExpired,
    Unauthorized,
    InvalidCredentials,
    PeerNotAllowed,
    // What the client sent.
    BadRequest,
    MisdirectedRequest,
    HeaderTooLarge,
    RequestTimeout,
    NotFound,
    // Upstream.
    DnsFailed,
    UpstreamFailed,
    UpstreamTimeout,
    // The service itself cannot decide or record, and fails closed.
    ProvenanceUnavailable,
    BudgetStoreUnavailable,
    BudgetStoreFailed,
    BrokerUnavailable,
    VaultRefused,
    VaultUnavailable,
    StoreUnavailable,
}

/// Where the fault behind an answer lies (never mistaken for each other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// The policy (allowlist, detectors, budgets) refused the request.
    Policy,
    /// The client sent something malformed, misdirected or unauthenticated.
    Client,
    /// The upstream failed or timed out.
    Upstream,
    /// The service itself could not decide or record (a store, the broker, the disk).
    Service,
}

impl Reason {
    pub const ALL: [Reason; 42] = [
        Reason::Allowed,
        Reason::UnknownTool,
        Reason::InvalidPath,
        Reason::HostDenied,
        Reason::HostNotAllowed,
        Reason::PortNotAllowed,
        Reason::MethodNotAllowed,
        Reason::PathNotAllowed,
        Reason::UnknownTenant,
        Reason::SsrfBlocked,
        Reason::SecretDetected,
        Reason::IssuedCredentialMisuse,
        Reason::BodyTooLargeToInspect,
        Reason::EncodingTooDeepToInspect,
        Reason::DecompressionBomb,
        Reason::UndecodableBody,
        Reason::BudgetExceeded,
        Reason::TooManyConnections,
        Reason::CredentialNotGranted,
        Reason::UnknownCredential,
        Reason::ProxyAuthRequired,
        Reason::ProxyAuthInvalid,
        Reason::InvocationEnded,
        Reason::InvocationExpired,
        Reason::Unauthorized,
        Reason::InvalidCredentials,
        Reason::PeerNotAllowed,
        Reason::BadRequest,
        Reason::MisdirectedRequest,
        Reason::HeaderTooLarge,
        Reason::RequestTimeout,
        Reason::NotFound,
        Reason::DnsFailed,
        Reason::UpstreamFailed,
        Reason::UpstreamTimeout,
        Reason::ProvenanceUnavailable,
        Reason::BudgetStoreUnavailable,
        Reason::BudgetStoreFailed,
        Reason::BrokerUnavailable,
        Reason::VaultRefused,
        Reason::VaultUnavailable,
        Reason::StoreUnavailable,
    ];

    /// The codes the decision function gives: the only ones a policy test can expect.
    pub const DECISIONS: [Reason; 8] = [
        Reason::Allowed,
        Reason::UnknownTool,
        Reason::InvalidPath,
        Reason::HostDenied,
        Reason::HostNotAllowed,
        Reason::PortNotAllowed,
        Reason::MethodNotAllowed,
        Reason::PathNotAllowed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Allowed => "allowed",
            Reason::UnknownTool => "unknown_tool",
            Reason::InvalidPath => "invalid_path",
            Reason::HostDenied => "host_denied",
            Reason::HostNotAllowed => "host_not_allowed",
            Reason::PortNotAllowed => "port_not_allowed",
            Reason::MethodNotAllowed => "method_not_allowed",
            Reason::PathNotAllowed => "path_not_allowed",
            Reason::UnknownTenant => "unknown_tenant",
            Reason::SsrfBlocked => "ssrf_blocked",
            Reason::SecretDetected => "secret_detected",
            Reason::IssuedCredentialMisuse => "issued_credential_misuse",
            Reason::BodyTooLargeToInspect => "body_too_large_to_inspect",
            Reason::EncodingTooDeepToInspect => "encoding_too_deep_to_inspect",
            Reason::DecompressionBomb => "decompression_bomb",
            Reason::UndecodableBody => "undecodable_body",
            Reason::BudgetExceeded => "budget_exceeded",
            Reason::TooManyConnections => "too_many_connections",
            Reason::CredentialNotGranted => "credential_not_granted",
            Reason::UnknownCredential => "unknown_credential",
            Reason::ProxyAuthRequired => "proxy_auth_required",
            Reason::ProxyAuthInvalid => "proxy_auth_invalid",
            Reason::InvocationEnded => "invocation_ended",
            Reason::InvocationExpired => "invocation_expired",
            Reason::Unauthorized => "unauthorized",
            Reason::InvalidCredentials => "invalid_credentials",
            Reason::PeerNotAllowed => "peer_not_allowed",
            Reason::BadRequest => "bad_request",
            Reason::MisdirectedRequest => "misdirected_request",
            Reason::HeaderTooLarge => "header_too_large",
            Reason::RequestTimeout => "request_timeout",
            Reason::NotFound => "not_found",
            Reason::DnsFailed => "dns_failed",
            Reason::UpstreamFailed => "upstream_failed",
            Reason::UpstreamTimeout => "upstream_timeout",
            Reason::ProvenanceUnavailable => "provenance_unavailable",
            Reason::BudgetStoreUnavailable => "budget_store_unavailable",
            Reason::BudgetStoreFailed => "budget_store_failed",
            Reason::BrokerUnavailable => "broker_unavailable",
            Reason::VaultRefused => "vault_refused",
            Reason::VaultUnavailable => "vault_unavailable",
            Reason::StoreUnavailable => "store_unavailable",
        }
    }

    pub fn parse(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == code)
    }

    /// The status the proxy answers with. (The broker's control and socket interfaces say
    /// 401 where a proxy says 407, and 502 for a secrets server that refused.)
    pub const fn status(self) -> u16 {
        match self {
            Reason::Allowed => 200,
            Reason::BadRequest => 400,
            Reason::Unauthorized | Reason::InvalidCredentials => 401,
            Reason::ProxyAuthRequired
            | Reason::ProxyAuthInvalid
            | Reason::InvocationEnded
            | Reason::InvocationExpired => 407,
            Reason::NotFound => 404,
            Reason::RequestTimeout => 408,
            Reason::MisdirectedRequest => 421,
            Reason::HeaderTooLarge => 431,
            Reason::BudgetExceeded | Reason::TooManyConnections => 429,
            Reason::DnsFailed | Reason::UpstreamFailed | Reason::VaultRefused => 502,
            Reason::UpstreamTimeout => 504,
            Reason::ProvenanceUnavailable
            | Reason::BudgetStoreUnavailable
            | Reason::BudgetStoreFailed
            | Reason::BrokerUnavailable
            | Reason::VaultUnavailable
            | Reason::StoreUnavailable => 503,
            Reason::UnknownTool
            | Reason::InvalidPath
            | Reason::HostDenied
            | Reason::HostNotAllowed
            | Reason::PortNotAllowed
            | Reason::MethodNotAllowed
            | Reason::PathNotAllowed
            | Reason::UnknownTenant
            | Reason::SsrfBlocked
            | Reason::SecretDetected
            | Reason::IssuedCredentialMisuse
            | Reason::BodyTooLargeToInspect
            | Reason::EncodingTooDeepToInspect
            | Reason::DecompressionBomb
            | Reason::UndecodableBody
            | Reason::CredentialNotGranted
            | Reason::UnknownCredential
            | Reason::PeerNotAllowed => 403,
        }
    }

    pub const fn fault(self) -> Fault {
        match self {
            Reason::BadRequest
            | Reason::MisdirectedRequest
            | Reason::HeaderTooLarge
            | Reason::RequestTimeout
            | Reason::NotFound
            | Reason::ProxyAuthRequired
            | Reason::ProxyAuthInvalid
            | Reason::InvocationEnded
            | Reason::InvocationExpired
            | Reason::Unauthorized
            | Reason::InvalidCredentials
            | Reason::PeerNotAllowed => Fault::Client,
            Reason::DnsFailed | Reason::UpstreamFailed | Reason::UpstreamTimeout => Fault::Upstream,
            Reason::ProvenanceUnavailable
            | Reason::BudgetStoreUnavailable
            | Reason::BudgetStoreFailed
            | Reason::BrokerUnavailable
            | Reason::VaultRefused
            | Reason::VaultUnavailable
            | Reason::StoreUnavailable => Fault::Service,
            _ => Fault::Policy,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_text_and_serde_and_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for reason in Reason::ALL {
            assert!(seen.insert(reason.as_str()), "{reason} twice");
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
            let json = serde_json::to_string(&reason).expect("serialize");
            assert_eq!(json, format!("\"{reason}\""));
            assert_eq!(serde_json::from_str::<Reason>(&json).expect("parse"), reason);
        }
        assert_eq!(Reason::parse("no_such_reason"), None);
    }

    #[test]
    fn only_allowed_is_a_success_and_every_refusal_is_an_error_status() {
        for reason in Reason::ALL {
            let status = reason.status();
            assert_eq!(reason == Reason::Allowed, status == 200, "{reason}");
            assert!(
                reason == Reason::Allowed || (400..600).contains(&status),
                "{reason}"
            );
            if reason.fault() == Fault::Client {
                assert!((400..500).contains(&status), "{reason}: client faults are 4xx");
            }
            if matches!(reason.fault(), Fault::Service | Fault::Upstream) {
                assert!(status >= 500, "{reason}: server-side faults are 5xx");
            }
        }
    }
}
