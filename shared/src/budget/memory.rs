//! The in-process store, the default: one mutex over every counter, so each operation is
//! atomic across the three scopes of a plan. Exact under any concurrency within one process;
//! for several proxy replicas use [`crate::budget::RedisStore`]. Every operation costs the
//! same however much traffic came before: the rate window is a fixed ring of sub-buckets
//! ([`super::window`]), and a scope holds only counters and the leases in flight.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use super::model::{Budget, Direction, Exceeded, Plan, RATE_WINDOW_MS, Scope, duration_ms};
use super::store::{
    Admission, BudgetStore, ByteCharge, Charged, ImmediateStore, LeaseId, StoreError, StoreHealth,
};
use super::usage::{ScopeUsage, Usage};
use super::window::{RATE_BUCKET_MS, RateWindow};

mod slots;
pub(crate) use slots::SlotMemo;
use slots::{Slab, SlotRef};

/// Idle scopes are swept out at most every this many operations...
const SWEEP_EVERY: u64 = 1024;
/// ...and at most once in this long, so that the sweep, which walks every scope, costs a
/// request nothing however many requests there are.
const SWEEP_INTERVAL_MS: u64 = 10_000;

#[derive(Debug)]
pub struct InProcessStore {
    state: Mutex<State>,
    idle_ttl_ms: u64,
    ops: AtomicU64,
}

impl Default for InProcessStore {
    fn default() -> Self {
        InProcessStore::new(Duration::from_secs(24 * 3600))
    }
}

impl InProcessStore {
    /// `idle_ttl`: a scope with nothing in flight and no activity for this long is forgotten
    /// (a finished session), as Redis keys expire.
    pub fn new(idle_ttl: Duration) -> InProcessStore {
        InProcessStore {
            state: Mutex::new(State::default()),
            // A scope must outlive the admissions its rate window still counts.
            idle_ttl_ms: duration_ms(idle_ttl).max(RATE_WINDOW_MS + RATE_BUCKET_MS),
            ops: AtomicU64::new(0),
        }
    }

    /// How many scopes are held: finished sessions leave once idle.
    pub fn scopes_held(&self) -> usize {
        self.lock(0).tenants.held()
    }

    /// What the store holds now. None of it depends on how many requests came before: only
    /// on the scopes, the requests in flight and the rate windows' fixed rings.
    pub fn footprint(&self) -> Footprint {
        self.lock(0).tenants.footprint()
    }

    fn lock(&self, now_ms: u64) -> MutexGuard<'_, State> {
        // Each operation checks before it changes anything, so a panic elsewhere while the
        // lock was held cannot have left a half-applied change: the state is usable.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if self.ops.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1
            && now_ms >= state.next_sweep_ms
        {
            state.tenants.sweep(now_ms, self.idle_ttl_ms);
            state.next_sweep_ms = now_ms.saturating_add(SWEEP_INTERVAL_MS);
        }
        state
    }
}

/// The contents of an [`InProcessStore`], counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    pub scopes: usize,
    /// Leases of requests in flight, over all scopes.
    pub leases: usize,
    /// Rate-window sub-buckets holding admissions, over all scopes.
    pub rate_buckets: usize,
    /// Heap bytes of the map, the lease sets and the rate windows, from their capacities.
    pub heap_bytes: usize,
}

#[derive(Debug, Default)]
struct State {
    tenants: Tenants,
    next_lease: LeaseId,
    next_sweep_ms: u64,
}

/// Every scope's counters, in one slab, and by tenant where each scope's slot is. A plan
/// remembers its three slots ([`SlotMemo`]), so a request finds its counters without a
/// lookup; only a plan's first operation, or one after its scopes were swept, looks its
/// ids up (by `&str`: no key is built on a hit). The three are borrowed together, so every
/// operation touches each of them once.
#[derive(Debug, Default)]
struct Tenants {
    by_tenant: HashMap<Arc<str>, Tenant>,
    counters: Slab<Counters>,
}

/// Where one tenant's own counters and those of its sessions and invocations are.
#[derive(Debug)]
struct Tenant {
    own: SlotRef,
    sessions: HashMap<Arc<str>, SlotRef>,
    invocations: HashMap<Arc<str>, SlotRef>,
}

impl Tenant {
    fn new(own: SlotRef) -> Tenant {
        Tenant {
            own,
            sessions: HashMap::new(),
            invocations: HashMap::new(),
        }
    }

    fn held(&self) -> usize {
        1 + self.sessions.len() + self.invocations.len()
    }
}

/// Counters a scope may forget: nothing in flight and no activity for the idle TTL.
fn idle(c: &Counters, now_ms: u64, idle_ttl_ms: u64) -> bool {
    c.live.is_empty() && now_ms.saturating_sub(c.touched_ms) >= idle_ttl_ms
}

impl Tenants {
    /// The counters of `plan`'s scopes, indexed by [`Scope::index`], created where missing,
    /// touched, and their rate windows moved to `now_ms`.
    fn scopes(&mut self, plan: &Plan, now_ms: u64) -> [&mut Counters; 3] {
        let refs = self.slots(plan);
        // Invariant: `slots` returns three held slots, distinct because a plan's scopes
        // are three different entries (its invocation's, its session's, its tenant's).
        let all = self
            .counters
            .three_mut(refs)
            .expect("a plan's three scopes are three distinct held slots");
        all.map(|c| c.touch(now_ms))
    }

    /// The slots of `plan`'s scopes: the plan's memo while it holds, else looked up (and
    /// created where missing) by id and remembered.
    fn slots(&mut self, plan: &Plan) -> [SlotRef; 3] {
        let remembered = plan.slots.recall();
        if remembered.iter().all(|r| self.counters.holds(*r)) {
            return remembered;
        }
        let s = &plan.subject;
        let Tenants { by_tenant, counters } = self;
        let tenant = match by_tenant.get_mut(&*s.tenant) {
            Some(tenant) => tenant,
            None => by_tenant
                .entry(s.tenant.clone())
                .or_insert_with(|| Tenant::new(counters.alloc())),
        };
        let mut slot = |map: &mut HashMap<Arc<str>, SlotRef>, id: &Arc<str>| match map.get(&**id) {
            Some(r) => *r,
            None => *map.entry(id.clone()).or_insert_with(|| counters.alloc()),
        };
        let refs = [
            slot(&mut tenant.invocations, &s.invocation),
            slot(&mut tenant.sessions, &s.session),
            tenant.own,
        ];
        plan.slots.remember(refs);
        refs
    }

    /// The session's counters alone (tool calls).
    fn session(&mut self, plan: &Plan, now_ms: u64) -> &mut Counters {
        let [_, session, _] = self.slots(plan);
        // Invariant: `slots` returns held slots.
        self.counters
            .get_mut(session)
            .expect("a plan's session is a held slot")
            .touch(now_ms)
    }

    /// The counters of `plan`'s scopes where they exist, without creating or touching any.
    fn get(&self, plan: &Plan) -> [Option<&Counters>; 3] {
        let s = &plan.subject;
        let Some(tenant) = self.by_tenant.get(&*s.tenant) else {
            return [None, None, None];
        };
        [
            tenant.invocations.get(&*s.invocation).copied(),
            tenant.sessions.get(&*s.session).copied(),
            Some(tenant.own),
        ]
        .map(|r| r.and_then(|r| self.counters.get(r)))
    }

    fn sweep(&mut self, now_ms: u64, idle_ttl_ms: u64) {
        let Tenants { by_tenant, counters } = self;
        let mut forget = |r: &SlotRef| {
            let gone = counters.get(*r).is_none_or(|c| idle(c, now_ms, idle_ttl_ms));
            if gone {
                counters.release(*r);
            }
            !gone
        };
        by_tenant.retain(|_, t| {
            t.sessions.retain(|_, r| forget(r));
            t.invocations.retain(|_, r| forget(r));
            !(t.sessions.is_empty() && t.invocations.is_empty() && !forget(&t.own))
        });
    }

    fn held(&self) -> usize {
        self.by_tenant.values().map(Tenant::held).sum()
    }

    fn footprint(&self) -> Footprint {
        let mut f = Footprint {
            scopes: self.held(),
            heap_bytes: self.by_tenant.capacity() * std::mem::size_of::<(Arc<str>, Tenant)>()
                + self.counters.heap_bytes(),
            ..Footprint::default()
        };
        let entry = std::mem::size_of::<(Arc<str>, SlotRef)>();
        for t in self.by_tenant.values() {
            f.heap_bytes += (t.sessions.capacity() + t.invocations.capacity()) * entry;
        }
        for c in self.counters.values() {
            f.leases += c.live.len();
            f.heap_bytes += c.live.capacity() * std::mem::size_of::<LeaseId>();
            if let Some(window) = &c.window {
                f.rate_buckets += window.buckets_in_use();
                f.heap_bytes += std::mem::size_of::<RateWindow>();
            }
        }
        f
    }
}

/// Hashes a lease id by one multiplication (Fibonacci hashing): ids are this store's own
/// sequence numbers, not input anyone chooses, and a request adds and removes one at each
/// of its three scopes, where SipHash cost about 140 instructions a time.
#[derive(Debug, Default)]
struct LeaseHasher(u64);

impl Hasher for LeaseHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // The high bits pick hashbrown's control byte: a product spreads them.
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[derive(Debug, Default)]
struct Counters {
    requests: u64,
    bytes_out: u64,
    bytes_in: u64,
    tool_calls: u64,
    started_ms: Option<u64>,
    live: HashSet<LeaseId, BuildHasherDefault<LeaseHasher>>,
    /// The rate window; kept only where a rate is limited.
    window: Option<Box<RateWindow>>,
    touched_ms: u64,
}

impl Counters {
    fn touch(&mut self, now_ms: u64) -> &mut Counters {
        self.touched_ms = now_ms;
        if let Some(window) = &mut self.window {
            window.advance(now_ms);
        }
        self
    }

    fn usage(&self, plan: &Plan, scope: Scope, now_ms: u64) -> ScopeUsage {
        let started = plan.started_ms(scope).or(self.started_ms);
        ScopeUsage {
            requests: self.requests,
            bytes_out: self.bytes_out,
            bytes_in: self.bytes_in,
            tool_calls: self.tool_calls,
            in_flight: self.live.len() as u64,
            in_window: self.window.as_ref().map_or(0, |w| w.admitted_at(now_ms)),
            elapsed_ms: started.map_or(0, |s| now_ms.saturating_sub(s)),
        }
    }

    /// Every budget of `scope` that one more request would exceed.
    fn refusals(&self, plan: &Plan, scope: Scope, now_ms: u64, out: &mut Vec<Exceeded>) {
        let usage = self.usage(plan, scope, now_ms);
        let exceeded = |budget, limit, used, requested, retry_after| Exceeded {
            budget,
            scope,
            limit,
            used,
            requested,
            retry_after,
        };
        if let Some(limit) = plan.limit(scope, Budget::WallClock) {
            // Before the first admission the clock has not started: elapsed is 0.
            if usage.elapsed_ms >= limit {
                out.push(exceeded(Budget::WallClock, limit, usage.elapsed_ms, 0, None));
            }
        }
        for (budget, used) in [
            (Budget::Requests, usage.requests),
            (Budget::ConcurrentConnections, usage.in_flight),
        ] {
            if let Some(limit) = plan.limit(scope, budget).filter(|l| used >= *l) {
                out.push(exceeded(budget, limit, used, 1, None));
            }
        }
        if let Some(limit) = plan.limit(scope, Budget::RequestsPerMinute) {
            let window = self.window.as_deref();
            let used = window.map_or(0, RateWindow::admitted);
            if used >= limit {
                let retry = window.and_then(|w| w.retry_after(limit, now_ms));
                out.push(exceeded(Budget::RequestsPerMinute, limit, used, 1, retry));
            }
        }
    }

    fn admit(&mut self, plan: &Plan, scope: Scope, lease: LeaseId, now_ms: u64) {
        self.requests += 1;
        self.started_ms.get_or_insert(now_ms);
        self.live.insert(lease);
        if plan.limit(scope, Budget::RequestsPerMinute).is_some() {
            self.window
                .get_or_insert_with(|| Box::new(RateWindow::new(now_ms)))
                .record(now_ms);
        }
    }

    fn bytes(&self, direction: Direction) -> u64 {
        match direction {
            Direction::Out => self.bytes_out,
            Direction::In => self.bytes_in,
        }
    }

    fn bytes_mut(&mut self, direction: Direction) -> &mut u64 {
        match direction {
            Direction::Out => &mut self.bytes_out,
            Direction::In => &mut self.bytes_in,
        }
    }
}

const NAME: &str = "in-process";

impl ImmediateStore for InProcessStore {
    fn admit_now(&self, plan: &Plan, now_ms: u64) -> Result<Admission, StoreError> {
        let mut guard = self.lock(now_ms);
        let state = &mut *guard;
        let scopes = state.tenants.scopes(plan, now_ms);
        let mut refused = Vec::new();
        for (scope, c) in Scope::ALL.into_iter().zip(&scopes) {
            c.refusals(plan, scope, now_ms, &mut refused);
        }
        if !refused.is_empty() {
            return Ok(Admission::Refused(refused));
        }
        state.next_lease += 1;
        let lease = state.next_lease;
        let mut usage = Usage::default();
        for (scope, c) in Scope::ALL.into_iter().zip(scopes) {
            c.admit(plan, scope, lease, now_ms);
            usage.scopes[scope.index()] = c.usage(plan, scope, now_ms);
        }
        Ok(Admission::Admitted { lease, usage })
    }

    fn charge_now(&self, plan: &Plan, charge: ByteCharge, now_ms: u64) -> Result<Charged, StoreError> {
        let budget = charge.direction.budget();
        let mut state = self.lock(now_ms);
        let scopes = state.tenants.scopes(plan, now_ms);
        let mut granted = charge.bytes;
        let mut exceeded = None;
        for (scope, c) in Scope::ALL.into_iter().zip(&scopes) {
            let Some(limit) = plan.limit(scope, budget) else {
                continue;
            };
            let used = c.bytes(charge.direction);
            let left = limit.saturating_sub(used);
            if left < granted {
                granted = left;
                exceeded = Some(Exceeded {
                    budget,
                    scope,
                    limit,
                    used,
                    requested: charge.bytes,
                    retry_after: None,
                });
            }
        }
        if charge.whole && exceeded.is_some() {
            granted = 0;
        }
        for c in scopes {
            *c.bytes_mut(charge.direction) += granted;
        }
        Ok(Charged { granted, exceeded })
    }

    fn release_now(
        &self,
        plan: &Plan,
        lease: LeaseId,
        refund_out: u64,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.release_locked(plan, lease, refund_out, now_ms);
        Ok(())
    }
}

#[async_trait]
impl BudgetStore for InProcessStore {
    fn immediate(&self) -> Option<&dyn ImmediateStore> {
        Some(self)
    }

    async fn admit(&self, plan: &Plan, now_ms: u64) -> Result<Admission, StoreError> {
        self.admit_now(plan, now_ms)
    }

    async fn charge(&self, plan: &Plan, charge: ByteCharge, now_ms: u64) -> Result<Charged, StoreError> {
        self.charge_now(plan, charge, now_ms)
    }

    async fn release(
        &self,
        plan: &Plan,
        lease: LeaseId,
        refund_out: u64,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.release_locked(plan, lease, refund_out, now_ms);
        Ok(())
    }

    fn release_detached(&self, plan: Arc<Plan>, lease: LeaseId, refund_out: u64, now_ms: u64) {
        self.release_locked(&plan, lease, refund_out, now_ms);
    }

    async fn admit_tool_call(&self, plan: &Plan, now_ms: u64) -> Result<Result<u64, Exceeded>, StoreError> {
        let mut state = self.lock(now_ms);
        let c = state.tenants.session(plan, now_ms);
        if let Some(limit) = plan.limit(Scope::Session, Budget::ToolCalls) {
            if c.tool_calls >= limit {
                return Ok(Err(Exceeded {
                    budget: Budget::ToolCalls,
                    scope: Scope::Session,
                    limit,
                    used: c.tool_calls,
                    requested: 1,
                    retry_after: None,
                }));
            }
        }
        c.tool_calls += 1;
        Ok(Ok(c.tool_calls))
    }

    async fn usage(&self, plan: &Plan, now_ms: u64) -> Result<Usage, StoreError> {
        let state = self.lock(now_ms);
        let mut usage = Usage::default();
        for (scope, c) in Scope::ALL.into_iter().zip(state.tenants.get(plan)) {
            if let Some(c) = c {
                usage.scopes[scope.index()] = c.usage(plan, scope, now_ms);
            }
        }
        Ok(usage)
    }

    fn health(&self) -> StoreHealth {
        StoreHealth {
            store: NAME,
            unavailable_total: 0,
            reachable: true,
        }
    }
}

impl InProcessStore {
    fn release_locked(&self, plan: &Plan, lease: LeaseId, refund_out: u64, now_ms: u64) {
        let mut state = self.lock(now_ms);
        for c in state.tenants.scopes(plan, now_ms) {
            // Refund only with the first release of the lease: releasing twice is harmless.
            if c.live.remove(&lease) {
                c.bytes_out = c.bytes_out.saturating_sub(refund_out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::model::Subject;
    use crate::policy::model::Budgets;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn a_tenant_is_kept_while_a_session_of_it_is_active_through_tool_calls_alone() {
        let store = InProcessStore::new(Duration::from_secs(3_600));
        let mut budgets = Budgets::default();
        budgets.tenant.requests = Some(10);
        let plan = Plan::new(Subject::new("t", "s", "i"), &budgets);
        block_on(async {
            if let Admission::Admitted { lease, .. } = store.admit(&plan, 0).await.expect("admit") {
                store.release(&plan, lease, 0, 0).await.expect("release");
            }
            // Only the session is touched from here on.
            let later = 3_000_000;
            let calls = store.admit_tool_call(&plan, later).await.expect("tool call");
            assert_eq!(calls, Ok(1));
            for _ in 0..2 * SWEEP_EVERY {
                store.usage(&plan, later + 1_000_000).await.expect("usage");
            }
            let usage = store.usage(&plan, later + 1_000_000).await.expect("usage");
            assert_eq!(
                usage.scope(Scope::Tenant).requests,
                1,
                "the tenant's count survived"
            );
            assert_eq!(
                usage.scope(Scope::Invocation).requests,
                0,
                "the idle invocation went"
            );
            assert_eq!(store.scopes_held(), 2);
        });
    }

    #[test]
    fn finished_sessions_are_forgotten_once_idle_but_live_ones_are_kept() {
        let store = InProcessStore::new(Duration::from_secs(3_600));
        let budgets = Budgets::default();
        let plan = |s: &str| Plan::new(Subject::new("t", s, s), &budgets);
        block_on(async {
            let live = plan("live");
            let Admission::Admitted { lease, .. } = store.admit(&live, 0).await.expect("admit") else {
                panic!("admitted without limits");
            };
            for i in 0..10 {
                let done = plan(&format!("done-{i}"));
                if let Admission::Admitted { lease, .. } = store.admit(&done, 0).await.expect("admit") {
                    store.release(&done, lease, 0, 0).await.expect("release");
                }
            }
            // Tenant + (session + invocation) for each of the 11 sessions.
            assert_eq!(store.scopes_held(), 23);
            let later = 3_600_000;
            for _ in 0..SWEEP_EVERY {
                store.usage(&live, later).await.expect("usage");
            }
            // The request still in flight keeps its three scopes; the rest sat idle for
            // the TTL (reads do not count as activity).
            assert_eq!(store.scopes_held(), 3);
            store.release(&live, lease, 0, later).await.expect("release");

            // The next sweep waits for the interval, however many operations come first.
            let gone = later + 3_600_000;
            // (Twice the period: other calls may have taken the counter's turn.)
            for _ in 0..2 * SWEEP_EVERY {
                store.usage(&live, gone).await.expect("usage");
            }
            assert_eq!(store.scopes_held(), 0, "swept an hour later");
            // Idle for the TTL 9.999 s after that sweep: it waits for the interval.
            let one = plan("one");
            let at = gone - 3_600_000 + 5_000;
            if let Admission::Admitted { lease, .. } = store.admit(&one, at).await.expect("admit") {
                store.release(&one, lease, 0, at).await.expect("release");
            }
            for _ in 0..2 * SWEEP_EVERY {
                store
                    .usage(&live, gone + SWEEP_INTERVAL_MS - 1)
                    .await
                    .expect("usage");
            }
            assert_eq!(store.scopes_held(), 3, "no second sweep within the interval");
            for _ in 0..2 * SWEEP_EVERY {
                store.usage(&live, gone + SWEEP_INTERVAL_MS).await.expect("usage");
            }
            assert_eq!(store.scopes_held(), 0);
        });
    }
}
