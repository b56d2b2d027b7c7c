//! Every way a broker call can fail, each with its HTTP status and reason code. Both
//! interfaces turn these into the one JSON refusal shape here, and nowhere else.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use thiserror::Error;
use tollgate_shared::invocation::Refusal;

use crate::store::StoreError;
use crate::vault::VaultError;

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or invalid bearer token for this interface")]
    Unauthorized,
    #[error("the invocation id or secret is not valid")]
    InvalidCredentials,
    #[error("the peer's uid/gid may not use this socket")]
    PeerRefused,
    #[error("invocation {0} has ended")]
    InvocationEnded(String),
    #[error("invocation {0} is past its deadline")]
    InvocationExpired(String),
    #[error("no policy for tenant {0}")]
    UnknownTenant(String),
    #[error("tenant {tenant} has no tool {tool}")]
    UnknownTool { tenant: String, tool: String },
    #[error("credential {name} is not granted to tool {tool}")]
    NotGranted { name: String, tool: String },
    #[error("tenant {tenant} has no credential {name}")]
    UnknownCredential { tenant: String, name: String },
    #[error("{0}")]
    BudgetExceeded(String),
    #[error("budget store unavailable: {0}")]
    BudgetUnavailable(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BrokerError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized
            | Self::InvalidCredentials
            | Self::InvocationEnded(_)
            | Self::InvocationExpired(_) => StatusCode::UNAUTHORIZED,
            Self::PeerRefused
            | Self::UnknownTenant(_)
            | Self::UnknownTool { .. }
            | Self::NotGranted { .. }
            | Self::UnknownCredential { .. } => StatusCode::FORBIDDEN,
            Self::BudgetExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Vault(VaultError::Refused { .. } | VaultError::Malformed { .. }) => StatusCode::BAD_GATEWAY,
            Self::Vault(_) | Self::Store(_) | Self::BudgetUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::PeerRefused => "peer_not_allowed",
            Self::InvocationEnded(_) => "invocation_ended",
            Self::InvocationExpired(_) => "invocation_expired",
            Self::UnknownTenant(_) => "unknown_tenant",
            Self::UnknownTool { .. } => "unknown_tool",
            Self::NotGranted { .. } => "credential_not_granted",
            Self::UnknownCredential { .. } => "unknown_credential",
            Self::BudgetExceeded(_) => "budget_exceeded",
            Self::BudgetUnavailable(_) => "budget_store_unavailable",
            Self::Vault(VaultError::Refused { .. } | VaultError::Malformed { .. }) => "vault_refused",
            Self::Vault(_) => "vault_unavailable",
            Self::Store(_) => "store_unavailable",
        }
    }

    pub fn refusal(&self, invocation_id: Option<&str>) -> Refusal {
        Refusal {
            reason: self.reason().to_owned(),
            message: self.to_string(),
            invocation_id: invocation_id.map(str::to_owned),
        }
    }
}

impl IntoResponse for BrokerError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!(reason = self.reason(), "broker call failed: {self}");
        } else {
            tracing::info!(reason = self.reason(), "broker call refused: {self}");
        }
        (self.status(), Json(self.refusal(None))).into_response()
    }
}
