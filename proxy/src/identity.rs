//! Who is calling: the tenant, session and tool behind a proxy credential. The source is a
//! trait: the broker-backed, per-invocation source (`broker.rs`) in `dev` and production, a
//! static file of hashed secrets for tests and single-tenant use.

mod broker;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use ring::digest::{SHA256, digest};
use serde::Deserialize;
use thiserror::Error;

pub use self::broker::{BrokerIdentities, BrokerSettings};
use crate::inject::Issued;

/// The caller of one proxied request. Shared, not copied: every request of an invocation
/// carries the same one (a clone is a reference count, not five strings).
#[derive(Debug, Clone)]
pub struct Identity(Arc<Held>);

/// An identity's caller, with what the proxy built for it and keeps while it lasts.
#[derive(Debug)]
struct Held {
    caller: Caller,
    /// The budget plan last used for this identity's requests.
    plan: crate::budget::PlanMemo,
}

impl Identity {
    pub fn new(caller: Caller) -> Self {
        Self(Arc::new(Held {
            caller,
            plan: crate::budget::PlanMemo::default(),
        }))
    }

    /// The budget plan last used for this identity's requests.
    pub(crate) fn plan_memo(&self) -> &crate::budget::PlanMemo {
        &self.0.plan
    }

    /// Whether both are the one identity a source handed out (not merely equal fields).
    pub fn same(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl std::ops::Deref for Identity {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0.caller
    }
}

/// Who an [`Identity`] is.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The proxy user name: the invocation id when the broker issued the credentials.
    pub user: String,
    pub tenant: String,
    pub session: String,
    pub tool: String,
    /// The call behind the invocation, when the broker knows it (none for identities from
    /// a file).
    pub call: Option<Arc<Call>>,
    /// What the broker issued to the invocation; empty for identities from a file.
    pub issued: Arc<Issued>,
}

/// The orchestrator's call that started an invocation, for provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The W3C trace id.
    pub trace_id: String,
    pub tool_call_id: String,
    pub model: String,
}

/// Why proxy credentials did not give an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// Unknown user or wrong secret.
    Invalid,
    /// The invocation has ended or passed its deadline (`invocation_ended`, ...).
    Ended(tollgate_shared::outcome::Reason),
    /// The source cannot answer now: the proxy fails closed with a 503.
    Unavailable(String),
}

/// The SHA-256 of a proxy secret: how a source recognises it. Taken once per connection, not
/// once per request; Debug never shows it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretDigest([u8; 32]);

impl SecretDigest {
    pub fn of(secret: &str) -> Self {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(digest(&SHA256, secret.as_bytes()).as_ref());
        Self(hash)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretDigest").finish_non_exhaustive()
    }
}

/// Resolves proxy credentials to an identity.
#[async_trait]
pub trait IdentitySource: Send + Sync + std::fmt::Debug {
    async fn authenticate(&self, user: &str, secret: &str) -> Result<Identity, AuthFailure>;

    /// The same, for a secret whose digest the caller has already taken (`digest` is
    /// [`SecretDigest::of`] `secret`): each request of a connection is checked again, and
    /// the digest need not be taken again each time.
    async fn authenticate_digest(
        &self,
        user: &str,
        secret: &str,
        _digest: &SecretDigest,
    ) -> Result<Identity, AuthFailure> {
        self.authenticate(user, secret).await
    }

    /// The same, bypassing any cache (a request carries a placeholder the cached answer does
    /// not know yet).
    async fn refresh(&self, user: &str, secret: &str) -> Result<Identity, AuthFailure> {
        self.authenticate(user, secret).await
    }

    /// The proxy blocked an issued value or placeholder outside its binding; the source that
    /// issued it revokes it. Returns once the report is delivered (or has failed).
    async fn report_misuse(&self, _identity: &Identity, _report: tollgate_shared::invocation::MisuseReport) {}
}

#[derive(Debug, Error)]
pub enum IdentityError {
    #[error("cannot read identities file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("identities file {path}: {message}")]
    Parse { path: String, message: String },
}

/// Identities from a file that stores only SHA-256 hashes of the (high-entropy) secrets.
#[derive(Debug, Default)]
pub struct StaticIdentities {
    by_user: HashMap<String, (Vec<u8>, Identity)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    identity: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    user: String,
    /// Hex SHA-256 of the secret; `tollgate proxy hash-secret` prints it.
    secret_sha256: String,
    tenant: String,
    session: String,
    tool: String,
}

impl StaticIdentities {
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| IdentityError::Read {
            path: shown.clone(),
            source,
        })?;
        let file: File = toml::from_str(&text).map_err(|e| IdentityError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let mut by_user = HashMap::new();
        for Entry {
            user,
            secret_sha256,
            tenant,
            session,
            tool,
        } in file.identity
        {
            let hash = decode_hex(&secret_sha256)
                .filter(|h| h.len() == 32)
                .ok_or_else(|| IdentityError::Parse {
                    path: shown.clone(),
                    message: format!("identity {user:?}: secret_sha256 must be 64 hex digits"),
                })?;
            let identity = Identity::new(Caller {
                user: user.clone(),
                tenant,
                session,
                tool,
                call: None,
                issued: Arc::default(),
            });
            if by_user.insert(user.clone(), (hash, identity)).is_some() {
                return Err(IdentityError::Parse {
                    path: shown,
                    message: format!("identity {user:?} is listed twice"),
                });
            }
        }
        Ok(Self { by_user })
    }
}

#[async_trait]
impl IdentitySource for StaticIdentities {
    async fn authenticate(&self, user: &str, secret: &str) -> Result<Identity, AuthFailure> {
        self.authenticate_digest(user, secret, &SecretDigest::of(secret))
            .await
    }

    async fn authenticate_digest(
        &self,
        user: &str,
        _secret: &str,
        actual: &SecretDigest,
    ) -> Result<Identity, AuthFailure> {
        let (expected, identity) = self.by_user.get(user).ok_or(AuthFailure::Invalid)?;
        let actual = actual.as_bytes();
        // Compare every byte so the time taken does not depend on where they differ.
        let difference = expected.iter().zip(actual).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if difference == 0 && expected.len() == actual.len() {
            Ok(identity.clone())
        } else {
            Err(AuthFailure::Invalid)
        }
    }
}

/// Hex SHA-256 of a secret, as stored in the identities file.
pub fn hash_secret(secret: &str) -> String {
    digest(&SHA256, secret.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_right_secret_authenticates() {
        let dir = std::env::temp_dir().join(format!("tg-ident-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("identities.toml");
        let text = format!(
            "[[identity]]\nuser = \"inv-1\"\nsecret_sha256 = \"{}\"\ntenant = \"acme\"\nsession = \"s1\"\ntool = \"gh\"\n",
            hash_secret("correct horse battery staple")
        );
        std::fs::write(&path, text).expect("write");
        let source = StaticIdentities::load(&path).expect("load");
        let identity = source
            .authenticate("inv-1", "correct horse battery staple")
            .await
            .expect("valid");
        assert_eq!((identity.tenant.as_str(), identity.tool.as_str()), ("acme", "gh"));
        assert_eq!(
            source.authenticate("inv-1", "wrong").await.err(),
            Some(AuthFailure::Invalid)
        );
        assert_eq!(
            source
                .authenticate("inv-2", "correct horse battery staple")
                .await
                .err(),
            Some(AuthFailure::Invalid)
        );
        // A digest taken once (per connection) is as good as the secret, and no better.
        let digest = SecretDigest::of("correct horse battery staple");
        assert!(
            source
                .authenticate_digest("inv-1", "correct horse battery staple", &digest)
                .await
                .is_ok()
        );
        assert_eq!(
            source
                .authenticate_digest("inv-1", "wrong", &SecretDigest::of("wrong"))
                .await
                .err(),
            Some(AuthFailure::Invalid)
        );
        assert_eq!(format!("{digest:?}"), "SecretDigest { .. }");
        std::fs::remove_dir_all(&dir).ok();
    }
}
