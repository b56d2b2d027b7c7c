//! Where invocations and owed revocations live, so that no state is known to one broker
//! process only: a directory for one machine, Redis for several replicas. Owed revocations
//! are written before they are attempted and removed only once the server confirmed them.

mod file;
mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tollgate_shared::invocation::{Binding, DeliveryKind, Invocation, SecretText};

pub use self::file::FileStore;
pub use self::redis::RedisStore;
use crate::config::StoreConfig;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("broker store unavailable: {0}")]
    Unavailable(String),
    #[error("broker store holds a record it cannot read: {0}")]
    Corrupt(String),
}

/// One invocation as the broker keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub invocation: Invocation,
    /// Hex SHA-256 of the invocation secret; the secret itself is never stored.
    pub secret_sha256: String,
    /// The invocation's own OpenBao token, under which its credentials are minted.
    pub token: SecretText,
    pub accessor: String,
}

/// One credential issued to an invocation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuedRecord {
    pub name: String,
    pub value: SecretText,
    pub placeholder: Option<SecretText>,
    pub delivery: DeliveryKind,
    pub inject: Option<Binding>,
    pub username: Option<String>,
    pub expires_unix_ms: u64,
}

/// Why and when an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ended {
    pub at_unix_ms: u64,
    pub why: EndReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The orchestrator called `end`.
    Ended,
    /// The deadline passed.
    Expired,
    /// The proxy blocked an issued value outside its binding.
    Misuse,
    /// The broker shut down.
    Shutdown,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ended => "ended",
            Self::Expired => "expired",
            Self::Misuse => "misuse",
            Self::Shutdown => "shutdown",
        }
    }
}

/// A revocation the broker owes the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owed {
    pub accessor: String,
    pub invocation_id: String,
    pub why: EndReason,
    pub since_unix_ms: u64,
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Records a new invocation.
    async fn create(&self, record: &Record) -> Result<(), StoreError>;
    async fn get(&self, id: &str) -> Result<Option<Record>, StoreError>;
    async fn ended(&self, id: &str) -> Result<Option<Ended>, StoreError>;
    /// Keeps `issued` unless the invocation already has a credential of that name, in which
    /// case that one is returned (two replicas may mint at once; one answer wins).
    async fn issue(&self, id: &str, issued: &IssuedRecord) -> Result<IssuedRecord, StoreError>;
    async fn issued(&self, id: &str) -> Result<Vec<IssuedRecord>, StoreError>;
    /// Ends the invocation and records its revocation as owed, together; `false` when it had
    /// already ended (nothing is owed twice).
    async fn end(&self, record: &Record, ended: &Ended) -> Result<bool, StoreError>;
    /// Invocations whose deadline is at or before `now`, not yet ended.
    async fn expired(&self, now_unix_ms: u64) -> Result<Vec<String>, StoreError>;
    /// Invocations not yet ended.
    async fn live(&self) -> Result<Vec<String>, StoreError>;
    async fn owed(&self) -> Result<Vec<Owed>, StoreError>;
    /// The server confirmed the revocation.
    async fn settle(&self, accessor: &str) -> Result<(), StoreError>;
    /// Whether revoking everything at shutdown is this process's business (a store no other
    /// replica shares).
    fn single_process(&self) -> bool;
}

pub async fn open(config: &StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match config {
        StoreConfig::File { dir } => Arc::new(FileStore::open(dir)?),
        StoreConfig::Redis { url, prefix } => Arc::new(RedisStore::open(url, prefix).await?),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn record(id: &str, deadline: u64) -> Record {
        Record {
            invocation: Invocation {
                id: id.to_owned(),
                tenant: "t".to_owned(),
                session: "s".to_owned(),
                tool: "x".to_owned(),
                tool_call_id: "c".to_owned(),
                model: "m".to_owned(),
                trace_id: "0".repeat(32),
                started_unix_ms: 1,
                deadline_unix_ms: deadline,
            },
            secret_sha256: "00".repeat(32),
            token: SecretText::new("s.token"),
            accessor: format!("acc-{id}"),
        }
    }

    pub(crate) fn issued(name: &str, value: &str) -> IssuedRecord {
        IssuedRecord {
            name: name.to_owned(),
            value: SecretText::new(value),
            placeholder: None,
            delivery: DeliveryKind::Direct,
            inject: None,
            username: None,
            expires_unix_ms: 10,
        }
    }

    /// The behaviour every store must have; each store's tests run it.
    pub(crate) async fn contract(store: &dyn Store) {
        let a = record("inv-a", 100);
        let b = record("inv-b", 300);
        store.create(&a).await.expect("create a");
        store.create(&b).await.expect("create b");
        assert_eq!(
            store.get("inv-a").await.expect("get").map(|r| r.accessor),
            Some("acc-inv-a".to_owned())
        );
        assert!(store.get("nope").await.expect("get").is_none());

        let first = store.issue("inv-a", &issued("db", "v1")).await.expect("issue");
        let second = store
            .issue("inv-a", &issued("db", "v2"))
            .await
            .expect("issue again");
        assert_eq!((first.value.expose(), second.value.expose()), ("v1", "v1"));
        assert_eq!(store.issued("inv-a").await.expect("issued").len(), 1);

        assert_eq!(
            store.expired(200).await.expect("expired"),
            vec!["inv-a".to_owned()]
        );
        let mut live = store.live().await.expect("live");
        live.sort();
        assert_eq!(live, vec!["inv-a".to_owned(), "inv-b".to_owned()]);

        let ended = Ended {
            at_unix_ms: 150,
            why: EndReason::Expired,
        };
        assert!(store.end(&a, &ended).await.expect("end"));
        assert!(!store.end(&a, &ended).await.expect("end twice"));
        assert_eq!(store.ended("inv-a").await.expect("ended"), Some(ended));
        assert!(store.expired(200).await.expect("expired").is_empty());
        assert_eq!(store.live().await.expect("live"), vec!["inv-b".to_owned()]);
        let owed = store.owed().await.expect("owed");
        assert_eq!(owed.len(), 1);
        assert_eq!(
            (owed[0].accessor.as_str(), owed[0].why),
            ("acc-inv-a", EndReason::Expired)
        );
        store.settle("acc-inv-a").await.expect("settle");
        assert!(store.owed().await.expect("owed").is_empty());
    }
}
