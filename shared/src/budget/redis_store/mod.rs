//! The Redis store, for several proxy replicas: every operation is one Lua script, so it is
//! atomic across the three scopes however many replicas call it. Keys carry a TTL so a
//! finished session's counters expire; a tenant's keys share one hash tag (`{tenant}`) so
//! the scripts also run on a Redis Cluster.
//!
//! If Redis cannot be reached every operation fails closed with
//! [`StoreError::Unavailable`] and counts it in [`StoreHealth::unavailable_total`]; the
//! connection manager reconnects in the background, so the store recovers by itself.

mod keys;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{ErrorKind, RedisError, Script, ServerErrorKind};
use async_trait::async_trait;

use self::keys::Keys;
use super::model::{Budget, Direction, Exceeded, Plan, RATE_WINDOW_MS, Scope, duration_ms};
use super::store::{Admission, BudgetStore, ByteCharge, Charged, LeaseId, StoreError, StoreHealth};
use super::usage::{ScopeUsage, Usage};
use super::window::{RATE_BUCKET_MS, RATE_SLOTS, bucket_at, first_live_bucket};

const NAME: &str = "redis";

/// Where the Redis store connects and how long its keys live.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// Prefix of every key.
    pub prefix: String,
    /// Counters of a scope with no activity for this long expire (a finished session).
    pub idle_ttl: Duration,
    /// A concurrency slot whose replica died without releasing it frees itself after this
    /// long without bytes moving.
    pub lease_ttl: Duration,
    /// How long one connection attempt may take before operations fail closed.
    pub connect_timeout: Duration,
    /// How long one operation may wait for Redis before it fails closed.
    pub response_timeout: Duration,
}

impl RedisConfig {
    pub fn new(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: url.into(),
            prefix: "tollgate:budget".to_owned(),
            idle_ttl: Duration::from_secs(24 * 3600),
            lease_ttl: Duration::from_secs(15 * 60),
            connect_timeout: Duration::from_millis(250),
            response_timeout: Duration::from_millis(500),
        }
    }
}

/// One request's charge to an invocation's information budget.
#[derive(Debug)]
pub struct InformationCharge<'a> {
    pub invocation: &'a str,
    /// The hostname, counted towards the distinct-hostname budget when `host_named`.
    pub host: &'a str,
    pub host_named: bool,
    pub distinct_hosts: Option<u64>,
    /// Where the bits go (the registrable domain).
    pub destination: &'a str,
    pub bits_limit: Option<u64>,
    /// Pieces remembered per destination at most.
    pub max_seen: usize,
    /// Each distinct piece: the key that marks it seen, and its bits.
    pub pieces: &'a [(u64, f64)],
}

/// What the shared information ledger answered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InformationAnswer {
    /// Charged; `bits` sent to the destination so far, this request included.
    Charged { bits: f64 },
    /// A new hostname past the distinct-hostname budget; nothing charged.
    TooManyHosts,
    /// Past the bits budget (`bits` with this request); nothing charged.
    OverBudget { bits: f64 },
}

#[derive(Debug)]
struct Scripts {
    admit: Script,
    charge: Script,
    release: Script,
    tool_call: Script,
    usage: Script,
    information: Script,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            admit: Script::new(include_str!("admit.lua")),
            charge: Script::new(include_str!("charge.lua")),
            release: Script::new(include_str!("release.lua")),
            tool_call: Script::new(include_str!("tool_call.lua")),
            usage: Script::new(include_str!("usage.lua")),
            information: Script::new(include_str!("information.lua")),
        }
    }
}

/// Budget counters in Redis, shared by every replica that points at the same server.
#[derive(Debug, Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    scripts: Scripts,
    prefix: String,
    idle_ttl_ms: u64,
    lease_ttl_ms: u64,
    unavailable_total: AtomicU64,
    reachable: AtomicBool,
}

impl RedisStore {
    /// Sets up the connection without waiting for Redis: a store created while Redis is
    /// down fails closed until it comes up. Must run inside a Tokio runtime.
    pub fn connect(config: &RedisConfig) -> Result<RedisStore, StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(unexpected("RedisStore::connect runs only inside a Tokio runtime"));
        }
        let client = ::redis::Client::open(config.url.as_str()).map_err(unexpected)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(100));
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config).map_err(unexpected)?;
        let lease_ttl_ms = duration_ms(config.lease_ttl).max(1);
        Ok(RedisStore {
            conn,
            shared: Arc::new(Shared {
                scripts: Scripts::new(),
                prefix: config.prefix.clone(),
                // Counters must outlive the leases and the rate window they account for.
                idle_ttl_ms: duration_ms(config.idle_ttl)
                    .max(lease_ttl_ms)
                    .max(RATE_WINDOW_MS + RATE_BUCKET_MS),
                lease_ttl_ms,
                unavailable_total: AtomicU64::new(0),
                reachable: AtomicBool::new(true),
            }),
        })
    }

    /// Charges one request to an invocation's information budget, shared by every replica
    /// (information.lua): all of it or, over a limit, none of it.
    pub async fn charge_information(
        &self,
        charge: &InformationCharge<'_>,
    ) -> Result<InformationAnswer, StoreError> {
        let tag = format!("{}:info:{{{}}}", self.shared.prefix, charge.invocation);
        let mut invocation = self.shared.scripts.information.prepare_invoke();
        invocation
            .key(format!("{tag}:hosts"))
            .key(format!("{tag}:seen:{}", charge.destination))
            .key(format!("{tag}:bits"))
            .arg(self.shared.idle_ttl_ms)
            .arg(charge.host)
            .arg(u8::from(charge.host_named))
            .arg(limit_arg(charge.distinct_hosts))
            .arg(charge.destination)
            .arg(limit_arg(charge.bits_limit))
            .arg(charge.max_seen);
        for (key, bits) in charge.pieces {
            invocation.arg(format!("{key:016x}")).arg(format!("{bits:.3}"));
        }
        let mut conn = self.conn.clone();
        let result = invocation.invoke_async::<(i64, String)>(&mut conn).await;
        let (code, value) = self.shared.record(result)?;
        let number = value
            .parse::<f64>()
            .map_err(|_| unexpected(format!("information.lua answered {value:?}")))?;
        match code {
            0 => Ok(InformationAnswer::Charged { bits: number }),
            1 => Ok(InformationAnswer::TooManyHosts),
            2 => Ok(InformationAnswer::OverBudget { bits: number }),
            other => Err(unexpected(format!("information.lua answered code {other}"))),
        }
    }

    fn keys(&self, plan: &Plan) -> Keys {
        Keys::new(&self.shared.prefix, &plan.subject)
    }

    /// Runs a script, recording whether Redis was reachable.
    async fn run(&self, invocation: &::redis::ScriptInvocation<'_>) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.conn.clone();
        let result = invocation.invoke_async::<Vec<i64>>(&mut conn).await;
        self.shared.record(result)
    }
}

impl Shared {
    fn record<T>(&self, result: Result<T, RedisError>) -> Result<T, StoreError> {
        match result {
            Ok(v) => {
                self.reachable.store(true, Ordering::Relaxed);
                Ok(v)
            }
            Err(e) if is_unexpected(&e) => Err(unexpected(e)),
            Err(e) => {
                self.reachable.store(false, Ordering::Relaxed);
                self.unavailable_total.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::Unavailable {
                    store: NAME,
                    source: Box::new(e),
                })
            }
        }
    }
}

/// Errors where Redis answered and the answer is wrong; every other error means Redis
/// could not be reached or could not serve (down, loading, read-only replica).
fn is_unexpected(e: &RedisError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Parse
            | ErrorKind::UnexpectedReturnType
            | ErrorKind::InvalidClientConfig
            | ErrorKind::Server(ServerErrorKind::ResponseError | ServerErrorKind::NoPerm)
    )
}

fn unexpected(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected {
        store: NAME,
        detail: e.to_string(),
    }
}

/// A limit as a script argument: -1 for none.
fn limit_arg(limit: Option<u64>) -> i64 {
    limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX))
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn scope_at(index: i64) -> Result<Scope, StoreError> {
    usize::try_from(index)
        .ok()
        .and_then(|i| Scope::ALL.get(i).copied())
        .ok_or_else(|| unexpected(format!("scope index {index}")))
}

/// Seven counters per scope, as admit.lua and usage.lua return them.
fn usage_from(values: &[i64]) -> Result<Usage, StoreError> {
    if values.len() != 21 {
        return Err(unexpected(format!("{} usage values, not 21", values.len())));
    }
    let mut usage = Usage::default();
    for (scope, v) in usage.scopes.iter_mut().zip(values.chunks_exact(7)) {
        *scope = ScopeUsage {
            requests: count(v[0]),
            bytes_out: count(v[1]),
            bytes_in: count(v[2]),
            tool_calls: count(v[3]),
            in_flight: count(v[4]),
            in_window: count(v[5]),
            elapsed_ms: count(v[6]),
        };
    }
    Ok(usage)
}

/// Five values per refusal, as admit.lua returns them.
fn refusals_from(values: &[i64]) -> Result<Vec<Exceeded>, StoreError> {
    values
        .chunks_exact(5)
        .map(|r| {
            let budget = match r[0] {
                1 => Budget::Requests,
                2 => Budget::ConcurrentConnections,
                3 => Budget::RequestsPerMinute,
                4 => Budget::WallClock,
                other => return Err(unexpected(format!("budget code {other}"))),
            };
            Ok(Exceeded {
                budget,
                scope: scope_at(r[1])?,
                limit: count(r[2]),
                used: count(r[3]),
                requested: if budget == Budget::WallClock { 0 } else { 1 },
                retry_after: u64::try_from(r[4]).ok().map(Duration::from_millis),
            })
        })
        .collect()
}

fn now_arg(now_ms: u64) -> i64 {
    i64::try_from(now_ms).unwrap_or(i64::MAX)
}

#[async_trait]
impl BudgetStore for RedisStore {
    async fn admit(&self, plan: &Plan, now_ms: u64) -> Result<Admission, StoreError> {
        let keys = self.keys(plan);
        let mut inv = self.shared.scripts.admit.prepare_invoke();
        for scope in Scope::ALL {
            inv.key(keys.totals(scope))
                .key(keys.window(scope))
                .key(keys.live(scope));
        }
        inv.key(keys.lease_sequence());
        inv.arg(now_arg(now_ms))
            .arg(self.shared.lease_ttl_ms)
            .arg(self.shared.idle_ttl_ms)
            .arg(RATE_WINDOW_MS)
            .arg(RATE_BUCKET_MS)
            .arg(bucket_at(now_ms))
            .arg(first_live_bucket(now_ms))
            .arg(RATE_SLOTS);
        for scope in Scope::ALL {
            inv.arg(limit_arg(plan.limit(scope, Budget::Requests)))
                .arg(limit_arg(plan.limit(scope, Budget::RequestsPerMinute)))
                .arg(limit_arg(plan.limit(scope, Budget::ConcurrentConnections)))
                .arg(limit_arg(plan.limit(scope, Budget::WallClock)))
                .arg(limit_arg(plan.started_ms(scope)));
        }
        let reply = self.run(&inv).await?;
        match reply.split_first() {
            Some((1, rest)) if !rest.is_empty() => Ok(Admission::Admitted {
                lease: count(rest[0]),
                usage: usage_from(&rest[1..])?,
            }),
            Some((0, rest)) => Ok(Admission::Refused(refusals_from(rest)?)),
            _ => Err(unexpected(format!("admit reply {reply:?}"))),
        }
    }

    async fn charge(&self, plan: &Plan, charge: ByteCharge, now_ms: u64) -> Result<Charged, StoreError> {
        let keys = self.keys(plan);
        let budget = charge.direction.budget();
        let mut inv = self.shared.scripts.charge.prepare_invoke();
        keys.totals_and_live(&mut inv);
        inv.arg(field(charge.direction))
            .arg(charge.bytes)
            .arg(u8::from(charge.whole))
            .arg(charge.lease)
            .arg(now_arg(now_ms))
            .arg(self.shared.lease_ttl_ms)
            .arg(self.shared.idle_ttl_ms);
        for scope in Scope::ALL {
            inv.arg(limit_arg(plan.limit(scope, budget)));
        }
        let reply = self.run(&inv).await?;
        let [granted, binding, limit, used] = reply[..] else {
            return Err(unexpected(format!("charge reply {reply:?}")));
        };
        let exceeded = match binding {
            -1 => None,
            index => Some(Exceeded {
                budget,
                scope: scope_at(index)?,
                limit: count(limit),
                used: count(used),
                requested: charge.bytes,
                retry_after: None,
            }),
        };
        Ok(Charged {
            granted: count(granted),
            exceeded,
        })
    }

    async fn release(
        &self,
        plan: &Plan,
        lease: LeaseId,
        refund_out: u64,
        _now_ms: u64,
    ) -> Result<(), StoreError> {
        let mut inv = self.shared.scripts.release.prepare_invoke();
        self.keys(plan).totals_and_live(&mut inv);
        inv.arg(lease).arg(refund_out);
        self.run(&inv).await.map(drop)
    }

    fn release_detached(&self, plan: Arc<Plan>, lease: LeaseId, refund_out: u64, now_ms: u64) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(lease, "budget.release: no runtime; the lease will expire");
            return;
        };
        let store = self.clone();
        runtime.spawn(async move {
            if let Err(error) = store.release(&plan, lease, refund_out, now_ms).await {
                tracing::warn!(lease, %error, "budget.release failed; the lease will expire");
            }
        });
    }

    async fn admit_tool_call(&self, plan: &Plan, _now_ms: u64) -> Result<Result<u64, Exceeded>, StoreError> {
        let limit = plan.limit(Scope::Session, Budget::ToolCalls);
        let mut inv = self.shared.scripts.tool_call.prepare_invoke();
        inv.key(self.keys(plan).totals(Scope::Session))
            .arg(limit_arg(limit))
            .arg(self.shared.idle_ttl_ms);
        let reply = self.run(&inv).await?;
        match reply[..] {
            [1, calls] => Ok(Ok(count(calls))),
            [0, used] => Ok(Err(Exceeded {
                budget: Budget::ToolCalls,
                scope: Scope::Session,
                limit: limit.unwrap_or(0),
                used: count(used),
                requested: 1,
                retry_after: None,
            })),
            _ => Err(unexpected(format!("tool call reply {reply:?}"))),
        }
    }

    async fn usage(&self, plan: &Plan, now_ms: u64) -> Result<Usage, StoreError> {
        let keys = self.keys(plan);
        let mut inv = self.shared.scripts.usage.prepare_invoke();
        for scope in Scope::ALL {
            inv.key(keys.totals(scope))
                .key(keys.window(scope))
                .key(keys.live(scope));
        }
        inv.arg(now_arg(now_ms)).arg(first_live_bucket(now_ms));
        for scope in Scope::ALL {
            inv.arg(limit_arg(plan.started_ms(scope)));
        }
        usage_from(&self.run(&inv).await?)
    }

    fn health(&self) -> StoreHealth {
        StoreHealth {
            store: NAME,
            unavailable_total: self.shared.unavailable_total.load(Ordering::Relaxed),
            reachable: self.shared.reachable.load(Ordering::Relaxed),
        }
    }
}

fn field(direction: Direction) -> &'static str {
    match direction {
        Direction::Out => "bytes_out",
        Direction::In => "bytes_in",
    }
}
