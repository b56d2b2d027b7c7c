//! The OpenBao / Vault client: the few typed calls the broker makes, on one pooled HTTP
//! client, each under the token it names. vaultrs binds a token to a client's settings, so
//! acting under a fresh child token per invocation would mean a new client (and TLS set-up)
//! per invocation; one shared client with the token per call avoids that.

mod login;

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use thiserror::Error;
use tollgate_shared::invocation::SecretText;
use tollgate_shared::provenance::INVOCATION_HEADER;

pub use login::{Login, TokenKeeper};

use crate::config::VaultConfig;

#[derive(Debug, Error)]
pub enum VaultError {
    /// The server could not be reached, timed out, or is sealed: worth retrying.
    #[error("OpenBao is unavailable: {0}")]
    Unavailable(String),
    /// The server refused the call (permission, missing path, bad request).
    #[error("OpenBao refused {what}: {status} {message}")]
    Refused {
        what: String,
        status: u16,
        message: String,
    },
    #[error("OpenBao answered {what} with an unexpected body: {message}")]
    Malformed { what: String, message: String },
    #[error("cannot set up the OpenBao client: {0}")]
    Setup(String),
}

impl VaultError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// A token the server issued, with the accessor that revokes it.
#[derive(Debug, Clone)]
pub struct Token {
    pub token: SecretText,
    pub accessor: String,
    pub ttl: Duration,
}

/// Secret data read under some token, with its lease.
#[derive(Debug)]
pub struct Leased {
    pub data: BTreeMap<String, Value>,
    pub lease_ttl: Duration,
}

/// What a child token is created with.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub policies: Vec<String>,
    pub ttl: Duration,
    pub num_uses: Option<u32>,
    pub meta: BTreeMap<String, String>,
    pub display_name: String,
}

#[derive(Debug, Clone)]
pub struct Vault {
    http: reqwest::Client,
    base: String,
    /// Sent as `X-Tollgate-Invocation` on every call, so OpenBao's audit log (with the header
    /// listed at `sys/config/auditing/request-headers`) names the invocation it was for.
    invocation: Option<String>,
}

#[derive(Deserialize)]
struct AuthBody {
    auth: AuthInfo,
}

#[derive(Deserialize)]
struct AuthInfo {
    client_token: String,
    accessor: String,
    lease_duration: u64,
}

#[derive(Deserialize)]
struct DataBody {
    data: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    lease_duration: u64,
}

impl Vault {
    pub fn new(config: &VaultConfig) -> Result<Self, VaultError> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .no_proxy()
            .pool_max_idle_per_host(32);
        if let Some(path) = &config.ca_file {
            let pem =
                std::fs::read(path).map_err(|e| VaultError::Setup(format!("{}: {e}", path.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| VaultError::Setup(e.to_string()))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(|e| VaultError::Setup(e.to_string()))?;
        Ok(Self {
            http,
            base: config.address.trim_end_matches('/').to_owned(),
            invocation: None,
        })
    }

    /// The same client, naming `invocation` on every call it makes.
    pub fn for_invocation(&self, invocation: &str) -> Self {
        Self {
            invocation: Some(invocation.to_owned()),
            ..self.clone()
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&SecretText>,
        body: Option<Value>,
    ) -> Result<T, VaultError> {
        let text = self.raw(method, path, token, body).await?;
        // serde's messages quote the offending value, which may be a secret: keep the place.
        serde_json::from_str(&text).map_err(|e| VaultError::Malformed {
            what: path.to_owned(),
            message: format!(
                "{:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ),
        })
    }

    /// One call; the body of a 2xx answer, or the error it means.
    async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&SecretText>,
        body: Option<Value>,
    ) -> Result<String, VaultError> {
        let mut request = self.http.request(method, format!("{}/v1/{path}", self.base));
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token.expose());
        }
        if let Some(invocation) = &self.invocation {
            request = request.header(INVOCATION_HEADER, invocation);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request
            .send()
            .await
            .map_err(|e| VaultError::Unavailable(without_url(&e)))?;
        let status = answer.status();
        let text = answer
            .text()
            .await
            .map_err(|e| VaultError::Unavailable(without_url(&e)))?;
        if status.is_success() {
            return Ok(text);
        }
        let message = server_errors(&text);
        if status == StatusCode::SERVICE_UNAVAILABLE || status.is_server_error() && message.contains("sealed")
        {
            return Err(VaultError::Unavailable(format!("{status}: {message}")));
        }
        Err(VaultError::Refused {
            what: path.to_owned(),
            status: status.as_u16(),
            message,
        })
    }

    /// Creates a child of `parent` (`auth/token/create`).
    pub async fn create_token(
        &self,
        parent: &SecretText,
        request: &TokenRequest,
    ) -> Result<Token, VaultError> {
        self.create_token_at(parent, None, request).await
    }

    /// Creates a child of `parent`, through a token role when one is named.
    pub async fn create_token_at(
        &self,
        parent: &SecretText,
        role: Option<&str>,
        request: &TokenRequest,
    ) -> Result<Token, VaultError> {
        let path = role.map_or_else(
            || "auth/token/create".to_owned(),
            |r| format!("auth/token/create/{r}"),
        );
        let mut body = json!({
            "policies": request.policies,
            "ttl": format!("{}s", request.ttl.as_secs().max(1)),
            "explicit_max_ttl": format!("{}s", request.ttl.as_secs().max(1)),
            "meta": request.meta,
            "display_name": request.display_name,
            "renewable": false,
            "no_default_policy": true,
        });
        if let Some(uses) = request.num_uses {
            body["num_uses"] = json!(uses);
        }
        let answer: AuthBody = self.call(Method::POST, &path, Some(parent), Some(body)).await?;
        Ok(token_of(answer.auth))
    }

    /// Revokes a token and every lease and child under it, by accessor. Revoking one that
    /// is already gone counts as done.
    pub async fn revoke_accessor(&self, broker: &SecretText, accessor: &str) -> Result<(), VaultError> {
        let body = json!({ "accessor": accessor });
        match self
            .raw(
                Method::POST,
                "auth/token/revoke-accessor",
                Some(broker),
                Some(body),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(VaultError::Refused {
                status: 400, message, ..
            }) if message.contains("invalid accessor") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Reads a secret (KV v2 `mount/data/path`, `database/creds/role`, ...) under `token`.
    pub async fn read(&self, token: &SecretText, path: &str) -> Result<Leased, VaultError> {
        let answer: DataBody = self.call(Method::GET, path, Some(token), None).await?;
        Ok(Leased {
            data: answer.data.unwrap_or_default(),
            lease_ttl: Duration::from_secs(answer.lease_duration),
        })
    }

    /// Writes an ACL policy (`sys/policies/acl/NAME`).
    pub async fn write_policy(&self, token: &SecretText, name: &str, hcl: &str) -> Result<(), VaultError> {
        let body = json!({ "policy": hcl });
        self.raw(
            Method::PUT,
            &format!("sys/policies/acl/{name}"),
            Some(token),
            Some(body),
        )
        .await
        .map(drop)
    }

    /// Whether `token` is still valid (`auth/token/lookup-self`).
    pub async fn token_valid(&self, token: &SecretText) -> Result<bool, VaultError> {
        match self
            .raw(Method::GET, "auth/token/lookup-self", Some(token), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(VaultError::Refused { status: 403, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn approle_login(
        &self,
        mount: &str,
        role_id: &str,
        secret_id: &SecretText,
    ) -> Result<Token, VaultError> {
        let body = json!({ "role_id": role_id, "secret_id": secret_id.expose() });
        let answer: AuthBody = self
            .call(Method::POST, &format!("auth/{mount}/login"), None, Some(body))
            .await?;
        Ok(token_of(answer.auth))
    }

    async fn renew_self(&self, token: &SecretText) -> Result<Duration, VaultError> {
        let answer: AuthBody = self
            .call(
                Method::POST,
                "auth/token/renew-self",
                Some(token),
                Some(json!({})),
            )
            .await?;
        Ok(Duration::from_secs(answer.auth.lease_duration))
    }

    async fn lookup_self_ttl(&self, token: &SecretText) -> Result<Duration, VaultError> {
        let answer: DataBody = self
            .call(Method::GET, "auth/token/lookup-self", Some(token), None)
            .await?;
        let ttl = answer
            .data
            .and_then(|d| d.get("ttl").and_then(Value::as_u64))
            .unwrap_or(0);
        Ok(Duration::from_secs(ttl))
    }
}

fn token_of(auth: AuthInfo) -> Token {
    Token {
        token: SecretText::new(auth.client_token),
        accessor: auth.accessor,
        ttl: Duration::from_secs(auth.lease_duration),
    }
}

/// reqwest's errors name the URL; ours need not (it may carry a path worth keeping private).
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    format!("{kind}: {}", error.without_url_ref())
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(self);
        let mut last = String::new();
        while let Some(s) = source {
            last = s.to_string();
            source = s.source();
        }
        last
    }
}

/// The `errors` array of a Vault error body, joined; the raw text when there is none.
fn server_errors(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("errors").cloned())
        .and_then(|e| serde_json::from_value::<Vec<String>>(e).ok())
        .map_or_else(|| text.chars().take(200).collect(), |errors| errors.join("; "))
}
