//! The broker's configuration file (TOML, strict), with defaults that run on one machine.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    /// The control API (orchestrator and proxy roles), `host:port`.
    pub control_listen: String,
    /// File holding the orchestrator's bearer token for the control API.
    pub control_token_file: PathBuf,
    /// File holding the proxy's bearer token (lookup and misuse reports only).
    pub proxy_token_file: PathBuf,
    /// The tool socket (a Unix socket mounted into tool containers).
    pub socket: PathBuf,
    /// Octal file mode of the tool socket.
    pub socket_mode: u32,
    /// When non-empty, only these peer uids (SO_PEERCRED) may use the tool socket.
    pub socket_uids: Vec<u32>,
    /// When non-empty, only these peer gids may use the tool socket.
    pub socket_gids: Vec<u32>,
    /// The policy directory (defaults.toml, tenants/).
    pub policies: PathBuf,
    /// `host:port` of the proxy, for the `proxy_url` a start returns.
    pub proxy_address: Option<String>,
    #[serde(with = "humantime_serde_compat")]
    pub default_ttl: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub max_ttl: Duration,
    /// How often expired invocations are swept and owed revocations retried.
    #[serde(with = "humantime_serde_compat")]
    pub sweep_interval: Duration,
    /// The provenance file (JSON Lines with a hash chain); none when unset.
    /// A path alone, or a table: `path`, `sync_every`, `checkpoint_every`, `rotate_bytes`,
    /// `key`, `origin`.
    #[serde(
        default = "default_provenance",
        deserialize_with = "tollgate_shared::provenance::settings_or_path"
    )]
    pub provenance: Option<tollgate_shared::provenance::SinkSettings>,
    pub vault: VaultConfig,
    pub store: StoreConfig,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            control_listen: "127.0.0.1:8200".to_owned(),
            control_token_file: PathBuf::from("control.token"),
            proxy_token_file: PathBuf::from("proxy.token"),
            socket: PathBuf::from("broker.sock"),
            socket_mode: 0o660,
            socket_uids: Vec::new(),
            socket_gids: Vec::new(),
            policies: PathBuf::from("policies"),
            proxy_address: None,
            default_ttl: Duration::from_secs(300),
            max_ttl: Duration::from_secs(3600),
            sweep_interval: Duration::from_secs(1),
            provenance: default_provenance(),
            vault: VaultConfig::default(),
            store: StoreConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultConfig {
    /// `http(s)://host:port` of OpenBao or Vault.
    pub address: String,
    /// Extra PEM roots for the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// How the broker logs in.
    pub auth: VaultAuth,
    /// Mount of the database secrets engine.
    pub database_mount: String,
    /// Time allowed for one call to the server.
    #[serde(with = "humantime_serde_compat")]
    pub timeout: Duration,
}

impl Default for VaultConfig {
    fn default() -> Self {
        Self {
            address: "http://127.0.0.1:8201".to_owned(),
            ca_file: None,
            auth: VaultAuth::Token {
                token_file: PathBuf::from("vault.token"),
            },
            database_mount: "database".to_owned(),
            timeout: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "method", rename_all = "lowercase")]
pub enum VaultAuth {
    /// A token read from a file (the root token of a dev server).
    Token { token_file: PathBuf },
    /// AppRole: the role id, and the secret id read from a file.
    Approle {
        role_id: String,
        secret_id_file: PathBuf,
        #[serde(default = "default_approle_mount")]
        mount: String,
    },
}

fn default_approle_mount() -> String {
    "approle".to_owned()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "lowercase")]
pub enum StoreConfig {
    /// A directory on one machine (the embedded default).
    File { dir: PathBuf },
    /// A Redis server shared by every broker replica.
    Redis {
        url: String,
        #[serde(default = "default_redis_prefix")]
        prefix: String,
    },
}

fn default_redis_prefix() -> String {
    "tollgate:broker".to_owned()
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self::File {
            dir: PathBuf::from("broker-state"),
        }
    }
}

impl BrokerConfig {
    /// Reads a configuration file; relative paths in it are taken from the file's folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config: Self = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        if let Some(base) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            config.rebase(base);
        }
        config.check()?;
        Ok(config)
    }

    fn rebase(&mut self, base: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        join(&mut self.control_token_file);
        join(&mut self.proxy_token_file);
        join(&mut self.socket);
        join(&mut self.policies);
        if let Some(p) = self.provenance.as_mut() {
            join(&mut p.path);
            if let Some(key) = p.key.as_mut() {
                join(key);
            }
        }
        if let Some(ca) = self.vault.ca_file.as_mut() {
            join(ca);
        }
        match &mut self.vault.auth {
            VaultAuth::Token { token_file } => join(token_file),
            VaultAuth::Approle { secret_id_file, .. } => join(secret_id_file),
        }
        if let StoreConfig::File { dir } = &mut self.store {
            join(dir);
        }
    }

    pub fn check(&self) -> Result<(), ConfigError> {
        if self.default_ttl.is_zero() || self.default_ttl > self.max_ttl {
            return Err(ConfigError::Invalid(
                "default_ttl must be above zero and at most max_ttl".to_owned(),
            ));
        }
        if self.socket_mode > 0o777 {
            return Err(ConfigError::Invalid(
                "socket_mode must be a file mode such as 0o660".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Reads a token file: the first line, trimmed; empty files are refused.
pub fn read_token(path: &Path) -> Result<String, ConfigError> {
    tollgate_shared::invocation::read_token_file(path).map_err(|e| ConfigError::Invalid(e.to_string()))
}

/// `"5m"`, `"90s"` as durations, the way the proxy's configuration writes them.
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

fn default_provenance() -> Option<tollgate_shared::provenance::SinkSettings> {
    Some(tollgate_shared::provenance::SinkSettings::at("provenance.jsonl"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_in_every_table() {
        for text in [
            "contol_listen = \"x\"",
            "[vault]\naddres = \"x\"",
            "[vault.auth]\nmethod = \"token\"\ntoken_file = \"t\"\nextra = 1",
            "[store]\nkind = \"file\"\ndir = \"d\"\nextra = 1",
        ] {
            assert!(toml::from_str::<BrokerConfig>(text).is_err(), "{text}");
        }
        let ok = "default_ttl = \"2m\"\n[store]\nkind = \"redis\"\nurl = \"redis://127.0.0.1:1\"\n";
        let config: BrokerConfig = toml::from_str(ok).expect("valid");
        assert_eq!(config.default_ttl, Duration::from_secs(120));
    }
}
