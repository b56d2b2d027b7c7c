//! Identities from the broker: the proxy user is the invocation id and the password its
//! secret. Answers are cached for a bounded time (2 s by default), so an ended invocation stops
//! working within that bound on every connection, open ones included, since every request is
//! checked again. An answer for a tool that still has grants to fetch is not cached: a
//! credential fetched after it must be matched by the very next request. A broker that cannot
//! answer means 503 within the call timeout, never 407.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use moka::sync::Cache;
use tollgate_shared::detect::Engine;
use tollgate_shared::invocation::{Lookup, LookupRequest, MisuseReport, Refusal, SecretText};
use tollgate_shared::outcome::Reason;
use tracing::{info, warn};

use super::{AuthFailure, Caller, Identity, IdentitySource, SecretDigest};
use crate::inject::Issued;

#[derive(Debug, Clone)]
pub struct BrokerSettings {
    /// Base URL of the broker's control API.
    pub url: String,
    /// The proxy role's bearer token.
    pub token: String,
    /// How long an answer is trusted: the bound on revocation taking effect.
    pub cache_ttl: Duration,
    /// How long one lookup may take.
    pub timeout: Duration,
    pub cache_size: u64,
}

pub struct BrokerIdentities {
    http: reqwest::Client,
    settings: BrokerSettings,
    engine: &'static Engine,
    /// (user, SHA-256 of the secret) → the broker's answer (refusals too, so a wrong secret
    /// does not reach the broker on every try).
    cache: Cache<(String, [u8; 32]), Result<Identity, AuthFailure>>,
}

impl std::fmt::Debug for BrokerIdentities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerIdentities")
            .field("url", &self.settings.url)
            .field("cached", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl BrokerIdentities {
    pub fn new(settings: BrokerSettings, engine: &'static Engine) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let cache = Cache::builder()
            .max_capacity(settings.cache_size)
            .time_to_live(settings.cache_ttl)
            .support_invalidation_closures()
            .build();
        Ok(Self {
            http,
            settings,
            engine,
            cache,
        })
    }

    fn key(user: &str, digest: &SecretDigest) -> (String, [u8; 32]) {
        (user.to_owned(), *digest.as_bytes())
    }

    /// The broker's answer, and whether the tool still has grants to fetch.
    async fn ask(&self, user: &str, secret: &str) -> Result<(Identity, bool), AuthFailure> {
        let request = LookupRequest {
            invocation_id: user.to_owned(),
            secret: SecretText::new(secret),
        };
        let response = self
            .http
            .post(format!("{}/v1/lookup", self.settings.url))
            .bearer_auth(&self.settings.token)
            .json(&request)
            .send()
            .await
            .map_err(|e| AuthFailure::Unavailable(format!("broker unreachable: {}", kind(&e))))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| AuthFailure::Unavailable(format!("broker answer cut short: {}", kind(&e))))?;
        if status.is_success() {
            let lookup: Lookup = serde_json::from_slice(&body).map_err(|e| {
                AuthFailure::Unavailable(format!("broker answer not understood: {:?}", e.classify()))
            })?;
            let pending = lookup.pending;
            return Ok((self.identity(lookup), pending));
        }
        let refusal: Option<Refusal> = serde_json::from_slice(&body).ok();
        match (status.as_u16(), refusal.map(|r| r.reason)) {
            (401, Some(reason @ (Reason::InvocationEnded | Reason::InvocationExpired))) => {
                Err(AuthFailure::Ended(reason))
            }
            (401, Some(Reason::InvalidCredentials)) => Err(AuthFailure::Invalid),
            (status, reason) => Err(AuthFailure::Unavailable(format!(
                "broker answered {status} {}",
                reason.map_or("without a reason", Reason::as_str)
            ))),
        }
    }

    fn identity(&self, lookup: Lookup) -> Identity {
        let Lookup {
            invocation,
            issued,
            pending: _,
        } = lookup;
        Identity::new(Caller {
            user: invocation.id,
            tenant: invocation.tenant,
            session: invocation.session,
            tool: invocation.tool,
            call: Some(Arc::new(super::Call {
                trace_id: invocation.trace_id,
                tool_call_id: invocation.tool_call_id,
                model: invocation.model,
            })),
            issued: Arc::new(Issued::new(self.engine, issued)),
        })
    }

    async fn fetch(&self, user: &str, secret: &str) -> Result<Identity, AuthFailure> {
        let answer = self.ask(user, secret).await;
        let keep = match &answer {
            Ok((_, pending)) => !pending,
            Err(AuthFailure::Unavailable(_)) => false,
            Err(_) => true,
        };
        let answer = answer.map(|(identity, _)| identity);
        if keep {
            self.cache
                .insert(Self::key(user, &SecretDigest::of(secret)), answer.clone());
        }
        answer
    }
}

fn kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    }
}

#[async_trait]
impl IdentitySource for BrokerIdentities {
    async fn authenticate(&self, user: &str, secret: &str) -> Result<Identity, AuthFailure> {
        self.authenticate_digest(user, secret, &SecretDigest::of(secret))
            .await
    }

    async fn authenticate_digest(
        &self,
        user: &str,
        secret: &str,
        digest: &SecretDigest,
    ) -> Result<Identity, AuthFailure> {
        if let Some(answer) = self.cache.get(&Self::key(user, digest)) {
            return answer;
        }
        self.fetch(user, secret).await
    }

    async fn refresh(&self, user: &str, secret: &str) -> Result<Identity, AuthFailure> {
        self.fetch(user, secret).await
    }

    async fn report_misuse(&self, identity: &Identity, report: MisuseReport) {
        let url = format!("{}/v1/invocations/{}/misuse", self.settings.url, identity.user);
        let sent = self
            .http
            .post(url)
            .bearer_auth(&self.settings.token)
            .json(&report)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                info!(invocation.id = %identity.user, fingerprint = %report.fingerprint, "misuse reported; the broker revoked the invocation");
            }
            Ok(r) => {
                warn!(invocation.id = %identity.user, status = r.status().as_u16(), "the broker refused a misuse report")
            }
            Err(e) => {
                warn!(invocation.id = %identity.user, "cannot report misuse to the broker: {}", kind(&e))
            }
        }
        // The invocation is over either way: forget it now, not at the end of the cache TTL.
        let user = identity.user.clone();
        let _ = self.cache.invalidate_entries_if(move |key, _| key.0 == user);
    }
}
