//! The broker's own token: logged in with AppRole (or read from a file in `dev`), renewed
//! before it expires, and logged in again when renewal is no longer possible.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tollgate_shared::invocation::SecretText;
use tracing::{info, warn};

use super::{Vault, VaultError};
use crate::config::{VaultAuth, read_token};

/// How the broker gets its token.
#[derive(Debug, Clone)]
pub enum Login {
    Token(SecretText),
    Approle {
        mount: String,
        role_id: String,
        secret_id: SecretText,
    },
}

impl Login {
    pub fn from_config(auth: &VaultAuth) -> Result<Self, crate::config::ConfigError> {
        Ok(match auth {
            VaultAuth::Token { token_file } => Self::Token(SecretText::new(read_token(token_file)?)),
            VaultAuth::Approle {
                role_id,
                secret_id_file,
                mount,
            } => Self::Approle {
                mount: mount.clone(),
                role_id: role_id.clone(),
                secret_id: SecretText::new(read_token(secret_id_file)?),
            },
        })
    }
}

/// Holds the current broker token and keeps it alive.
#[derive(Debug, Clone)]
pub struct TokenKeeper {
    vault: Vault,
    login: Login,
    current: Arc<RwLock<(SecretText, Duration)>>,
}

impl TokenKeeper {
    /// Logs in once; fails if the server refuses (an unreachable server is retried by the
    /// caller, which starts anyway and reports 503 until the login succeeds).
    pub async fn login(vault: Vault, login: Login) -> Result<Self, VaultError> {
        let (token, ttl) = Self::fresh(&vault, &login).await?;
        Ok(Self {
            vault,
            login,
            current: Arc::new(RwLock::new((token, ttl))),
        })
    }

    async fn fresh(vault: &Vault, login: &Login) -> Result<(SecretText, Duration), VaultError> {
        match login {
            Login::Token(token) => {
                let ttl = vault.lookup_self_ttl(token).await?;
                Ok((token.clone(), ttl))
            }
            Login::Approle {
                mount,
                role_id,
                secret_id,
            } => {
                let token = vault.approle_login(mount, role_id, secret_id).await?;
                info!(accessor = %token.accessor, ttl_secs = token.ttl.as_secs(), "logged in to OpenBao with AppRole");
                Ok((token.token, token.ttl))
            }
        }
    }

    pub fn token(&self) -> SecretText {
        self.current.read().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    /// Renews (or logs in again) whenever two thirds of the token's TTL have passed; a token
    /// with no TTL (a root token) needs nothing. Runs until the task is dropped.
    pub async fn keep_alive(self) {
        loop {
            let ttl = self.current.read().unwrap_or_else(|e| e.into_inner()).1;
            if ttl.is_zero() && matches!(self.login, Login::Token(_)) {
                return;
            }
            let wait = (ttl * 2 / 3).max(Duration::from_secs(1));
            tokio::time::sleep(wait).await;
            let token = self.token();
            let renewed = match self.vault.renew_self(&token).await {
                Ok(ttl) if ttl >= wait => Ok((token, ttl)),
                _ => Self::fresh(&self.vault, &self.login).await,
            };
            match renewed {
                Ok(next) => *self.current.write().unwrap_or_else(|e| e.into_inner()) = next,
                Err(e) => {
                    warn!("cannot renew the broker's OpenBao token, retrying: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
