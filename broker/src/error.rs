//! Every way a broker call can fail, each with its HTTP status and reason code. Both
//! interfaces turn these into the one JSON refusal shape here, and nowhere else.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use thiserror::Error;
use tollgate_shared::invocation::Refusal;
use tollgate_shared::outcome::Reason;

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
    #[error("the request took too long")]
    Timeout,
    #[error("new work is refused while the broker's provenance cannot be written")]
    ProvenanceUnavailable,
    #[error("no such endpoint")]
    NoRoute,
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
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::ProvenanceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::NoRoute => StatusCode::NOT_FOUND,
            Self::Vault(VaultError::Refused { .. } | VaultError::Malformed { .. }) => StatusCode::BAD_GATEWAY,
            Self::Vault(_) | Self::Store(_) | Self::BudgetUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn reason(&self) -> Reason {
        match self {
            Self::BadRequest(_) => Reason::BadRequest,
            Self::Unauthorized => Reason::Unauthorized,
            Self::InvalidCredentials => Reason::InvalidCredentials,
            Self::PeerRefused => Reason::PeerNotAllowed,
            Self::InvocationEnded(_) => Reason::InvocationEnded,
            Self::InvocationExpired(_) => Reason::InvocationExpired,
            Self::UnknownTenant(_) => Reason::UnknownTenant,
            Self::UnknownTool { .. } => Reason::UnknownTool,
            Self::NotGranted { .. } => Reason::CredentialNotGranted,
            Self::UnknownCredential { .. } => Reason::UnknownCredential,
            Self::BudgetExceeded(_) => Reason::BudgetExceeded,
            Self::BudgetUnavailable(_) => Reason::BudgetStoreUnavailable,
            Self::Vault(VaultError::Refused { .. } | VaultError::Malformed { .. }) => Reason::VaultRefused,
            Self::Vault(_) => Reason::VaultUnavailable,
            Self::Store(_) => Reason::StoreUnavailable,
            Self::Timeout => Reason::RequestTimeout,
            Self::ProvenanceUnavailable => Reason::ProvenanceUnavailable,
            Self::NoRoute => Reason::NotFound,
        }
    }

    pub fn refusal(&self, invocation_id: Option<&str>) -> Refusal {
        Refusal {
            reason: self.reason(),
            message: self.to_string(),
            invocation_id: invocation_id.map(str::to_owned),
        }
    }
}

/// The reason a refusal was answered with, carried on the response to the exit layer
/// ([`crate::control::exit`]), which counts every refusal of either interface.
#[derive(Debug, Clone, Copy)]
pub struct Refused(pub Reason);

/// Builds the refusal (the exit layer counts it); handlers and layers return a `BrokerError`
/// and never build a refusal of their own.
impl IntoResponse for BrokerError {
    fn into_response(self) -> Response {
        let reason = self.reason();
        if self.status().is_server_error() {
            tracing::warn!(%reason, "broker call failed: {self}");
        } else {
            tracing::info!(%reason, "broker call refused: {self}");
        }
        let mut response = (self.status(), Json(self.refusal(None))).into_response();
        response.extensions_mut().insert(Refused(reason));
        response
    }
}
