//! Egress budgets in the proxy: one [`Meter`] per process (in-process store, or Redis shared
//! by every replica), one [`Plan`] per invocation, and per request an [`Exchange`] that was
//! admitted before the upstream connection was made and is charged as bytes move.
//!
//! Requests, rate, concurrency and wall clock are checked by [`Metering::admit`]. A declared
//! request body (and the request head) is reserved whole before any of it leaves. A response
//! is charged when its head arrives: head plus declared `Content-Length`, granted as far as the
//! budgets allow; the body is then forwarded up to the grant and cut there. A response without
//! a declared length is forwarded against what was left at admission and charged when it ends
//! (see [`Exchange::finish`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use moka::sync::Cache;
use pingora_http::{RequestHeader, ResponseHeader};
use tollgate_shared::budget::{
    Budget, BudgetError, BudgetHook, Exceeded, InProcessStore, Meter, Plan, RedisConfig, RedisStore,
    Reservation, Scope, StoreError, Subject, SystemClock, Usage,
};
use tollgate_shared::policy::model::Budgets;
use tracing::{info, warn};

use crate::config::{BudgetConfig, BudgetStoreKind};
use crate::identity::Identity;

#[derive(Debug, thiserror::Error)]
pub enum BudgetConfigError {
    #[error("[budgets] store = \"memory\" with a redis URL: drop `redis` or set store = \"redis\"")]
    MemoryWithRedis,
    #[error("[budgets] store = \"redis\" needs `redis = \"redis://host:port\"`")]
    RedisWithoutUrl,
    #[error("[budgets] redis: {0}")]
    Redis(StoreError),
    #[error("[budgets] cannot check the redis settings: {0}")]
    Runtime(std::io::Error),
}

/// Which store to open, resolved from the configuration.
#[derive(Debug, Clone)]
enum StoreSpec {
    Memory { idle_ttl: Duration },
    Redis(RedisConfig),
}

impl StoreSpec {
    fn from_config(config: &BudgetConfig) -> Result<StoreSpec, BudgetConfigError> {
        let kind = config.store.unwrap_or(match config.redis {
            Some(_) => BudgetStoreKind::Redis,
            None => BudgetStoreKind::Memory,
        });
        match (kind, &config.redis) {
            (BudgetStoreKind::Memory, None) => Ok(StoreSpec::Memory {
                idle_ttl: config.idle_ttl,
            }),
            (BudgetStoreKind::Memory, Some(_)) => Err(BudgetConfigError::MemoryWithRedis),
            (BudgetStoreKind::Redis, None) => Err(BudgetConfigError::RedisWithoutUrl),
            (BudgetStoreKind::Redis, Some(url)) => {
                let mut redis = RedisConfig::new(url.clone());
                redis.prefix = config.key_prefix.clone();
                redis.idle_ttl = config.idle_ttl;
                redis.response_timeout = config.store_timeout;
                redis.connect_timeout = config.store_timeout;
                Ok(StoreSpec::Redis(redis))
            }
        }
    }

    /// Opens the store. The Redis connection's background task runs on the calling runtime,
    /// so this runs on the runtime that serves requests, on first use.
    fn open(&self) -> Result<Arc<dyn tollgate_shared::budget::BudgetStore>, StoreError> {
        Ok(match self {
            StoreSpec::Memory { idle_ttl } => Arc::new(InProcessStore::new(*idle_ttl)),
            StoreSpec::Redis(config) => Arc::new(RedisStore::connect(config)?),
        })
    }

    /// Catches a malformed Redis URL before the proxy listens (nothing is dialled).
    fn check(&self) -> Result<(), BudgetConfigError> {
        let StoreSpec::Redis(config) = self else {
            return Ok(());
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(BudgetConfigError::Runtime)?;
        runtime
            .block_on(async { RedisStore::connect(config).map(drop) })
            .map_err(BudgetConfigError::Redis)
    }

    fn name(&self) -> &'static str {
        match self {
            StoreSpec::Memory { .. } => "memory",
            StoreSpec::Redis(_) => "redis",
        }
    }
}

/// The plan of one invocation, with what it was built from.
#[derive(Debug)]
struct CachedPlan {
    budgets: Budgets,
    plan: Arc<Plan>,
}

impl CachedPlan {
    /// Whether this is still the plan for `identity` under `budgets`. Compared in place, so
    /// the hit of every request but an invocation's first allocates nothing.
    fn serves(&self, identity: &Identity, budgets: &Budgets) -> bool {
        let subject = &self.plan.subject;
        self.budgets == *budgets
            && *subject.invocation == *identity.user
            && *subject.session == *identity.session
            && *subject.tenant == *identity.tenant
    }
}

/// The plan an [`Identity`] used last, kept with it: found without the shared cache's
/// hashing and bookkeeping while the policy's budgets stay the same.
#[derive(Debug, Default)]
pub struct PlanMemo(std::sync::Mutex<Option<Arc<CachedPlan>>>);

impl PlanMemo {
    fn plan_for(&self, identity: &Identity, budgets: &Budgets) -> Option<Arc<Plan>> {
        let memo = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let cached = memo.as_ref().filter(|c| c.serves(identity, budgets))?;
        Some(Arc::clone(&cached.plan))
    }

    fn remember(&self, cached: Arc<CachedPlan>) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cached);
    }
}

/// The proxy's budget enforcement: the meter and the per-invocation plans.
#[derive(Debug)]
pub struct Metering {
    spec: StoreSpec,
    hook: Arc<dyn BudgetHook>,
    meter: tokio::sync::OnceCell<Meter>,
    plans: Cache<String, Arc<CachedPlan>>,
}

impl Metering {
    pub fn new(config: &BudgetConfig, hook: Arc<dyn BudgetHook>) -> Result<Metering, BudgetConfigError> {
        let spec = StoreSpec::from_config(config)?;
        spec.check()?;
        info!(store = spec.name(), "budget store configured");
        Ok(Metering {
            spec,
            hook,
            meter: tokio::sync::OnceCell::new(),
            plans: Cache::builder()
                .max_capacity(config.plan_cache_size)
                .time_to_idle(config.idle_ttl)
                .build(),
        })
    }

    /// The shared store's settings, when budgets are kept in Redis (the information budget
    /// then is too).
    pub fn redis_config(&self) -> Option<&RedisConfig> {
        match &self.spec {
            StoreSpec::Redis(config) => Some(config),
            StoreSpec::Memory { .. } => None,
        }
    }

    async fn meter(&self) -> Result<&Meter, BudgetError> {
        self.meter
            .get_or_try_init(|| async {
                let store = self.spec.open()?;
                Ok::<_, BudgetError>(Meter::with_parts(
                    store,
                    Arc::new(SystemClock),
                    Some(Arc::clone(&self.hook)),
                ))
            })
            .await
    }

    /// The invocation's plan: the same one for all its requests while the policy's budgets
    /// for its tenant stay the same; rebuilt from the current policy when they change.
    /// The identity remembers its plan too: every request of a connection skips the cache.
    fn plan(&self, identity: &Identity, budgets: &Budgets) -> Arc<Plan> {
        if let Some(plan) = identity.plan_memo().plan_for(identity, budgets) {
            return plan;
        }
        let cached = self.cached_plan(identity, budgets);
        let plan = Arc::clone(&cached.plan);
        identity.plan_memo().remember(cached);
        plan
    }

    fn cached_plan(&self, identity: &Identity, budgets: &Budgets) -> Arc<CachedPlan> {
        if let Some(cached) = self.plans.get(&identity.user) {
            if cached.serves(identity, budgets) {
                return cached;
            }
        }
        let subject = Subject::new(&identity.tenant, &identity.session, &identity.user);
        let cached = Arc::new(CachedPlan {
            budgets: budgets.clone(),
            plan: Arc::new(Plan::new(subject, budgets)),
        });
        self.plans.insert(identity.user.clone(), Arc::clone(&cached));
        cached
    }

    /// Before the upstream connection: counts the request at every scope or refuses it
    /// (requests, rate, concurrency, wall clock), then refuses it too when a byte budget is
    /// already spent, so that nothing leaves for an answer that could not be delivered.
    pub async fn admit(&self, identity: &Identity, budgets: &Budgets) -> Result<Exchange, BudgetError> {
        let plan = self.plan(identity, budgets);
        let reservation = self.meter().await?.admit(&plan).await?;
        if let Some(spent) = spent_byte_budget(&plan, reservation.usage_at_admission()) {
            info!(
                tenant = %identity.tenant, invocation = %identity.user, budget = %spent.budget,
                scope = spent.scope.as_str(), limit = spent.limit, "budget.denied"
            );
            self.hook.on_event(&tollgate_shared::budget::BudgetEvent::Denied {
                plan: &plan,
                exceeded: &spent,
            });
            return Err(BudgetError::Exceeded(spent));
        }
        Ok(Exchange::new(reservation, budgets.show_remaining))
    }
}

/// A bytes-in or bytes-out budget with nothing left at admission, at the widest scope. Read
/// straight from the counters: this runs on every request.
fn spent_byte_budget(plan: &Plan, usage: &Usage) -> Option<Exceeded> {
    [Budget::BytesIn, Budget::BytesOut]
        .into_iter()
        .find_map(|budget| {
            Scope::ALL.into_iter().rev().find_map(|scope| {
                let limit = plan.limit(scope, budget)?;
                let used = usage.scope(scope).used(budget)?;
                (used >= limit).then_some(Exceeded {
                    budget,
                    scope,
                    limit,
                    used,
                    requested: 1,
                    retry_after: None,
                })
            })
        })
}

/// How much of a response may still be forwarded.
#[derive(Debug, Clone, Copy)]
struct Allowance {
    /// Body bytes that may still reach the client.
    left: u64,
    /// The budget that ends the body at `left`, if the body goes beyond it.
    limit: Option<Exceeded>,
    /// Charged when the head arrived (declared length); otherwise charged at the end.
    prepaid: bool,
}

/// One admitted request's budget state, from admission until it is settled.
#[derive(Debug)]
pub struct Exchange {
    reservation: Reservation,
    response: Option<Allowance>,
    /// Body bytes forwarded without a declared length, charged at the end.
    unpaid_in: u64,
    /// A cut happened in the middle of a chunk: the next chunk aborts the response.
    cut: Option<Exceeded>,
    /// A cut the meter has not seen (a body of unknown length), for the metrics.
    unmetered_cut: Option<Exceeded>,
    /// The policy opted in to telling the tool what is left.
    show_remaining: bool,
}

impl Exchange {
    fn new(reservation: Reservation, show_remaining: bool) -> Exchange {
        Exchange {
            reservation,
            response: None,
            unpaid_in: 0,
            cut: None,
            unmetered_cut: None,
            show_remaining,
        }
    }

    /// The `x-tollgate-budget-remaining` value, when the policy opted in: the tightest
    /// remainder of each limited budget at admission, this request included.
    pub fn remaining_header(&self) -> Option<String> {
        // Asked on every response: nothing is computed unless the policy opted in.
        if !self.show_remaining {
            return None;
        }
        let value = self.reservation.remaining().header_value();
        (!value.is_empty()).then_some(value)
    }

    /// Before anything leaves: reserves the request head and its declared body whole, or
    /// refuses the request.
    pub async fn reserve_request(&mut self, head: &RequestHeader) -> Result<(), BudgetError> {
        let declared = content_length(&head.headers).unwrap_or(0);
        self.reservation
            .reserve_out(request_head_len(head).saturating_add(declared))
            .await
    }

    /// Request bytes (the head as sent upstream, or a body chunk) about to leave. Returns
    /// how many may; fewer than `bytes` means the rest is cut.
    pub async fn charge_out(&mut self, bytes: usize) -> Result<(usize, Option<Exceeded>), BudgetError> {
        let charge = self.reservation.charge_out(bytes as u64).await?;
        let granted = usize::try_from(charge.granted).unwrap_or(bytes);
        Ok((granted, charge.exceeded))
    }

    /// Response bytes of a tunnel (opaque to the proxy) about to reach the client.
    pub async fn charge_in(&mut self, bytes: usize) -> Result<(usize, Option<Exceeded>), BudgetError> {
        let charge = self.reservation.charge_in(bytes as u64).await?;
        let granted = usize::try_from(charge.granted).unwrap_or(bytes);
        Ok((granted, charge.exceeded))
    }

    /// The response head arrived: charges it with its declared body. Refuses the response
    /// if not even its head fits.
    pub async fn response_head(&mut self, head: &ResponseHeader) -> Result<(), BudgetError> {
        let head_len = response_head_len(head);
        let declared = content_length(&head.headers);
        let charge = self
            .reservation
            .charge_in(head_len.saturating_add(declared.unwrap_or(0)))
            .await?;
        if charge.granted < head_len {
            let exceeded = charge.exceeded.unwrap_or(Exceeded {
                budget: Budget::BytesIn,
                scope: Scope::Invocation,
                limit: 0,
                used: 0,
                requested: head_len,
                retry_after: None,
            });
            return Err(BudgetError::Exceeded(exceeded));
        }
        self.response = Some(match declared {
            Some(_) => Allowance {
                left: charge.granted - head_len,
                limit: charge.exceeded,
                prepaid: true,
            },
            None => self.unknown_length_allowance(),
        });
        Ok(())
    }

    /// For a body of unknown length: the tightest of the largest-response cap and what was
    /// left of the bytes-in budgets at admission, less what this request already used.
    fn unknown_length_allowance(&self) -> Allowance {
        let remaining = self.reservation.remaining();
        let used = self.reservation.bytes_in();
        let candidates = [Budget::MaxResponse, Budget::BytesIn]
            .into_iter()
            .filter_map(|b| remaining.tightest(b))
            .map(|l| {
                let left = l.remaining.saturating_sub(used);
                let exceeded = Exceeded {
                    budget: l.budget,
                    scope: l.scope,
                    limit: l.limit,
                    used: l.limit.saturating_sub(left),
                    requested: 0,
                    retry_after: None,
                };
                (left, exceeded)
            });
        match candidates.min_by_key(|(left, _)| *left) {
            Some((left, exceeded)) => Allowance {
                left,
                limit: Some(exceeded),
                prepaid: false,
            },
            None => Allowance {
                left: u64::MAX,
                limit: None,
                prepaid: false,
            },
        }
    }

    /// A response body chunk about to reach the client. Forwards up to the allowance and
    /// truncates the chunk that crosses it; after that nothing more is forwarded and the
    /// response is aborted (`Err`). Pingora writes a response head with the body chunks of the
    /// same batch, so while the head has not been sent (`head_sent`) the abort waits for the
    /// end of the stream and then ends the exchange before anything was written: the caller
    /// answers with the refusal instead. A final chunk is never forwarded short, as a short
    /// final chunk could read as a complete body.
    pub fn response_body(
        &mut self,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        head_sent: bool,
    ) -> Result<(), Exceeded> {
        if let Some(cut) = self.cut {
            *body = None;
            return if head_sent || end_of_stream {
                Err(cut)
            } else {
                Ok(())
            };
        }
        let (Some(chunk), Some(allowance)) = (body.as_mut(), self.response.as_mut()) else {
            return Ok(());
        };
        let len = chunk.len() as u64;
        if len <= allowance.left {
            allowance.left -= len;
            if !allowance.prepaid {
                self.unpaid_in += len;
            }
            return Ok(());
        }
        let granted = allowance.left;
        allowance.left = 0;
        let prepaid = allowance.prepaid;
        let exceeded = match allowance.limit {
            Some(exceeded) if prepaid => exceeded,
            Some(exceeded) => Exceeded {
                requested: len,
                ..exceeded
            },
            None => Exceeded {
                budget: Budget::BytesIn,
                scope: Scope::Invocation,
                limit: 0,
                used: 0,
                requested: len,
                retry_after: None,
            },
        };
        self.cut = Some(exceeded);
        info!(budget = %exceeded.budget, scope = exceeded.scope.as_str(), limit = exceeded.limit, forwarded = granted, "budget.response_cut");
        if !prepaid {
            self.unmetered_cut = Some(exceeded);
        }
        if granted == 0 || end_of_stream {
            *body = None;
            return if head_sent || end_of_stream {
                Err(exceeded)
            } else {
                Ok(())
            };
        }
        if !prepaid {
            self.unpaid_in += granted;
        }
        chunk.truncate(usize::try_from(granted).unwrap_or(0));
        Ok(())
    }

    /// A cut of a body of unknown length, once: the meter only sees its bytes at the end.
    pub fn take_unmetered_cut(&mut self) -> Option<Exceeded> {
        self.unmetered_cut.take()
    }

    /// The exchange ended (completed, cut, or failed): charges what was forwarded without a
    /// declared length, then frees the concurrency slot and gives back unsent reserved bytes.
    pub async fn finish(mut self) {
        if self.unpaid_in > 0 {
            if let Err(e) = self.reservation.charge_in(self.unpaid_in).await {
                warn!(error = %e, "cannot charge a streamed response");
            }
        }
        if let Err(e) = self.reservation.settle().await {
            // The reservation's drop releases it in the background instead.
            warn!(error = %e, "budget settlement failed");
        }
    }
}

/// The `Content-Length` a head declares.
pub fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn headers_len(headers: &http::HeaderMap) -> u64 {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().len() + value.len() + 4) as u64)
        .sum::<u64>()
        + 2
}

/// The request head's size as HTTP/1.1 would send it: what bytes-out counts for a head.
pub fn request_head_len(head: &RequestHeader) -> u64 {
    let target = head.uri.path_and_query().map_or(1, |p| p.as_str().len());
    (head.method.as_str().len() + 1 + target + " HTTP/1.1\r\n".len()) as u64 + headers_len(&head.headers)
}

/// The response head's size as HTTP/1.1 would send it: what bytes-in counts for a head.
pub fn response_head_len(head: &ResponseHeader) -> u64 {
    let reason = head.status.canonical_reason().map_or(0, str::len);
    ("HTTP/1.1 200 \r\n".len() + reason) as u64 + headers_len(&head.headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Caller;
    use tollgate_shared::policy::model::Limits;

    fn config(store: Option<BudgetStoreKind>, redis: Option<&str>) -> BudgetConfig {
        BudgetConfig {
            store,
            redis: redis.map(str::to_owned),
            ..BudgetConfig::default()
        }
    }

    #[test]
    fn the_store_follows_the_redis_url_and_contradictions_are_refused() {
        let memory = StoreSpec::from_config(&config(None, None)).expect("memory");
        assert_eq!(memory.name(), "memory");
        let redis = StoreSpec::from_config(&config(None, Some("redis://127.0.0.1:1/"))).expect("redis");
        assert_eq!(redis.name(), "redis");
        assert!(matches!(
            StoreSpec::from_config(&config(Some(BudgetStoreKind::Memory), Some("redis://x/"))),
            Err(BudgetConfigError::MemoryWithRedis)
        ));
        assert!(matches!(
            StoreSpec::from_config(&config(Some(BudgetStoreKind::Redis), None)),
            Err(BudgetConfigError::RedisWithoutUrl)
        ));
        let bad = StoreSpec::from_config(&config(None, Some("http://not-redis/"))).expect("spec");
        assert!(matches!(bad.check(), Err(BudgetConfigError::Redis(_))));
    }

    #[test]
    fn a_stray_key_in_budgets_is_an_error() {
        let parsed: Result<crate::config::ProxyConfig, _> =
            toml::from_str("[budgets]\nreddis = \"redis://x/\"\n");
        assert!(parsed.is_err());
        let parsed: crate::config::ProxyConfig =
            toml::from_str("[budgets]\nredis = \"redis://127.0.0.1:6379/\"\nidle_ttl = \"1h\"\n")
                .expect("valid");
        assert_eq!(parsed.budgets.idle_ttl, Duration::from_secs(3600));
    }

    fn caller() -> Caller {
        Caller {
            user: "inv-1".to_owned(),
            tenant: "t".to_owned(),
            session: "s".to_owned(),
            tool: "fetch".to_owned(),
            call: None,
            issued: std::sync::Arc::default(),
        }
    }

    fn identity() -> Identity {
        Identity::new(caller())
    }

    /// An exchange admitted under `limits` at the invocation scope, its response head
    /// (declaring `declared` body bytes) already charged.
    async fn exchange(limits: Limits, declared: Option<u64>) -> (Metering, Exchange) {
        let metering = Metering::new(&BudgetConfig::default(), Arc::new(NoHook)).expect("metering");
        let budgets = Budgets {
            invocation: limits,
            ..Budgets::default()
        };
        let mut exchange = metering.admit(&identity(), &budgets).await.expect("admitted");
        let mut head = ResponseHeader::build(200, None).expect("head");
        if let Some(len) = declared {
            head.insert_header("content-length", len.to_string())
                .expect("header");
        }
        exchange.response_head(&head).await.expect("head fits");
        (metering, exchange)
    }

    #[test]
    fn an_invocation_keeps_its_plan_until_its_budgets_or_ids_change() {
        let metering = Metering::new(&BudgetConfig::default(), Arc::new(NoHook)).expect("metering");
        let budgets = Budgets::default();
        let first = metering.plan(&identity(), &budgets);
        assert!(Arc::ptr_eq(&first, &metering.plan(&identity(), &budgets)));
        let moved = Identity::new(Caller {
            session: "s2".to_owned(),
            ..caller()
        });
        let other = metering.plan(&moved, &budgets);
        assert_eq!(&*other.subject.session, "s2");
        let raised = Budgets {
            invocation: cap(10),
            ..Budgets::default()
        };
        let rebuilt = metering.plan(&moved, &raised);
        assert!(!Arc::ptr_eq(&other, &rebuilt));
        assert_eq!(rebuilt.limit(Scope::Invocation, Budget::MaxResponse), Some(10));
        // The identity's own memo follows the budgets the same way.
        assert!(Arc::ptr_eq(&rebuilt, &metering.plan(&moved, &raised)));
        let lowered = metering.plan(&moved, &budgets);
        assert_eq!(lowered.limit(Scope::Invocation, Budget::MaxResponse), None);
    }

    #[derive(Debug)]
    struct NoHook;
    impl BudgetHook for NoHook {
        fn on_event(&self, _event: &tollgate_shared::budget::BudgetEvent<'_>) {}
    }

    fn chunk(len: usize) -> Option<Bytes> {
        Some(Bytes::from(vec![b'x'; len]))
    }

    fn cap(max_response: u64) -> Limits {
        Limits {
            max_response: Some(max_response),
            ..Limits::default()
        }
    }

    #[tokio::test]
    async fn after_the_head_was_sent_the_crossing_chunk_is_truncated_and_the_next_aborts() {
        let head_len = response_head_len(&{
            let mut h = ResponseHeader::build(200, None).expect("head");
            h.insert_header("content-length", "300").expect("header");
            h
        });
        let (_m, mut ex) = exchange(cap(head_len + 150), Some(300)).await;
        let mut first = chunk(100);
        assert!(ex.response_body(&mut first, false, true).is_ok());
        assert_eq!(first.map(|b| b.len()), Some(100));
        let mut second = chunk(100);
        assert!(ex.response_body(&mut second, false, true).is_ok());
        assert_eq!(second.map(|b| b.len()), Some(50), "truncated at the cap");
        let mut third = chunk(100);
        let cut = ex.response_body(&mut third, true, true).expect_err("aborted");
        assert_eq!(third, None);
        assert_eq!(cut.budget, Budget::MaxResponse);
    }

    #[tokio::test]
    async fn before_the_head_was_sent_the_cut_waits_for_the_end_of_the_batch() {
        let (_m, mut ex) = exchange(cap(100), Some(1000)).await;
        let mut first = chunk(500);
        assert!(ex.response_body(&mut first, false, false).is_ok());
        assert!(first.is_some_and(|b| b.len() < 100));
        let mut rest = chunk(500);
        assert!(
            ex.response_body(&mut rest, true, false).is_err(),
            "the end aborts"
        );
        assert_eq!(rest, None);
    }

    #[tokio::test]
    async fn a_final_chunk_is_never_forwarded_short() {
        let (_m, mut ex) = exchange(cap(100), Some(1000)).await;
        let mut only = chunk(1000);
        assert!(ex.response_body(&mut only, true, true).is_err());
        assert_eq!(only, None);
    }

    #[tokio::test]
    async fn a_body_of_unknown_length_is_cut_at_what_was_left_and_charged_at_the_end() {
        let limits = Limits {
            bytes_in: Some(1000),
            ..Limits::default()
        };
        let (metering, mut ex) = exchange(limits, None).await;
        let mut big = chunk(5000);
        assert!(ex.response_body(&mut big, false, true).is_ok());
        let forwarded = big.map_or(0, |b| b.len() as u64);
        assert!(forwarded > 0 && forwarded < 1000);
        assert_eq!(ex.take_unmetered_cut().map(|e| e.budget), Some(Budget::BytesIn));
        ex.finish().await;
        let budgets = Budgets {
            invocation: limits,
            ..Budgets::default()
        };
        let refused = metering.admit(&identity(), &budgets).await.expect_err("spent");
        assert!(matches!(refused, BudgetError::Exceeded(e) if e.budget == Budget::BytesIn && e.used == 1000));
    }

    #[test]
    fn a_spent_byte_budget_is_named_at_its_widest_scope_bytes_in_first() {
        let limit = |bytes_out, bytes_in| Limits {
            bytes_out: Some(bytes_out),
            bytes_in: Some(bytes_in),
            ..Limits::default()
        };
        let budgets = Budgets {
            invocation: limit(10, 10),
            session: limit(10, 100),
            tenant: limit(10, 1_000),
            show_remaining: false,
        };
        let plan = Plan::new(Subject::new("t", "s", "i"), &budgets);
        let mut usage = Usage::default();
        for scope in &mut usage.scopes {
            scope.bytes_in = 100;
            scope.bytes_out = 9;
        }
        let spent = spent_byte_budget(&plan, &usage).expect("bytes_in spent");
        assert_eq!(
            (spent.budget, spent.scope, spent.limit, spent.used),
            (Budget::BytesIn, Scope::Session, 100, 100)
        );
        for scope in &mut usage.scopes {
            scope.bytes_in = 0;
        }
        assert_eq!(
            spent_byte_budget(&plan, &usage),
            None,
            "9 of 10 bytes out is not spent"
        );
        usage.scopes[Scope::Tenant.index()].bytes_out = 10;
        let spent = spent_byte_budget(&plan, &usage).expect("bytes_out spent");
        assert_eq!((spent.budget, spent.scope), (Budget::BytesOut, Scope::Tenant));
    }
}
