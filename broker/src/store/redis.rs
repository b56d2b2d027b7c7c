//! The store several broker replicas share: Redis. One key per invocation, a hash of its
//! issued credentials, a sorted set of live invocations by deadline, and a hash of owed
//! revocations. Ending an invocation and owing its revocation is one Lua script, so no
//! replica can see one without the other. Keys expire a day after the invocation's deadline.

use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{AsyncCommands, Script};
use async_trait::async_trait;
use serde::de::DeserializeOwned;

use super::{Ended, IssuedRecord, Owed, Record, Store, StoreError};

/// How long an invocation's keys outlive its deadline (for `lookup` answers and audits).
const KEEP_MS: u64 = 24 * 3600 * 1000;

/// KEYS: ended, outbox, deadlines. ARGV: ended json, accessor, owed json, id, keep ms.
const END: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[5]) then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  redis.call('ZREM', KEYS[3], ARGV[4])
  return 1
end
return 0
";

/// KEYS: issued hash. ARGV: name, json, expire-at ms. Returns the stored json.
const ISSUE: &str = r"
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return redis.call('HGET', KEYS[1], ARGV[1])
";

pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    end: Script,
    issue: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn parse<T: DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl RedisStore {
    /// Connects lazily: a broker started while Redis is down answers 503 until it is up.
    pub async fn open(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = ::redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(unavailable)?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            end: Script::new(END),
            issue: Script::new(ISSUE),
        })
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{kind}:{id}", self.prefix)
    }

    fn deadlines(&self) -> String {
        format!("{}:deadlines", self.prefix)
    }

    fn outbox(&self) -> String {
        format!("{}:outbox", self.prefix)
    }

    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let mut conn = self.conn.clone();
        let text: Option<String> = conn.get(key).await.map_err(unavailable)?;
        text.as_deref().map(parse).transpose()
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn create(&self, record: &Record) -> Result<(), StoreError> {
        let id = &record.invocation.id;
        let keep = record.invocation.deadline_unix_ms + KEEP_MS;
        let mut conn = self.conn.clone();
        ::redis::pipe()
            .atomic()
            .set(self.key("inv", id), json(record)?)
            .cmd("PEXPIREAT")
            .arg(self.key("inv", id))
            .arg(keep)
            .zadd(self.deadlines(), id, record.invocation.deadline_unix_ms)
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn get(&self, id: &str) -> Result<Option<Record>, StoreError> {
        self.get_json(&self.key("inv", id)).await
    }

    async fn ended(&self, id: &str) -> Result<Option<Ended>, StoreError> {
        self.get_json(&self.key("ended", id)).await
    }

    async fn issue(&self, id: &str, issued: &IssuedRecord) -> Result<IssuedRecord, StoreError> {
        let mut conn = self.conn.clone();
        let keep = issued.expires_unix_ms + KEEP_MS;
        let stored: String = self
            .issue
            .key(self.key("issued", id))
            .arg(&issued.name)
            .arg(json(issued)?)
            .arg(keep)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        parse(&stored)
    }

    async fn issued(&self, id: &str) -> Result<Vec<IssuedRecord>, StoreError> {
        let mut conn = self.conn.clone();
        let all: Vec<String> = conn.hvals(self.key("issued", id)).await.map_err(unavailable)?;
        all.iter().map(|t| parse(t)).collect()
    }

    async fn end(&self, record: &Record, ended: &Ended) -> Result<bool, StoreError> {
        let id = &record.invocation.id;
        let owed = Owed {
            accessor: record.accessor.clone(),
            invocation_id: id.clone(),
            why: ended.why,
            since_unix_ms: ended.at_unix_ms,
        };
        let mut conn = self.conn.clone();
        let first: i64 = self
            .end
            .key(self.key("ended", id))
            .key(self.outbox())
            .key(self.deadlines())
            .arg(json(ended)?)
            .arg(&record.accessor)
            .arg(json(&owed)?)
            .arg(id)
            .arg(KEEP_MS)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(first == 1)
    }

    async fn expired(&self, now_unix_ms: u64) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        conn.zrangebyscore(self.deadlines(), 0, now_unix_ms)
            .await
            .map_err(unavailable)
    }

    async fn live(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        conn.zrange(self.deadlines(), 0, -1).await.map_err(unavailable)
    }

    async fn owed(&self) -> Result<Vec<Owed>, StoreError> {
        let mut conn = self.conn.clone();
        let all: Vec<String> = conn.hvals(self.outbox()).await.map_err(unavailable)?;
        all.iter().map(|t| parse(t)).collect()
    }

    async fn settle(&self, accessor: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        conn.hdel::<_, _, ()>(self.outbox(), accessor)
            .await
            .map_err(unavailable)
    }

    fn single_process(&self) -> bool {
        false
    }
}
