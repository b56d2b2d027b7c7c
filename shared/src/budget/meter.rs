//! The API the proxy calls: admit a request, charge its bytes as they stream, settle it.
//! Every outcome goes through [`Meter::emit`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::clock::{Clock, SystemClock};
use super::event::{BudgetEvent, BudgetHook, SettledHow};
use super::model::{Budget, Direction, Exceeded, Plan};
use super::store::{Admission, BudgetStore, ByteCharge, LeaseId, StoreError, StoreHealth};
use super::usage::{Remaining, Usage};

/// Why the meter refused.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// Over budget: `429` with reason `budget_exceeded`.
    #[error("{0}")]
    Exceeded(Exceeded),
    /// The store failed: fail closed with `503`.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BudgetError {
    pub fn reason(&self) -> crate::outcome::Reason {
        match self {
            BudgetError::Exceeded(e) => e.reason(),
            BudgetError::Store(e) => e.reason(),
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            BudgetError::Exceeded(e) => e.retry_after,
            BudgetError::Store(_) => None,
        }
    }
}

/// Counts and enforces budgets against a store. Cheap to clone; one per proxy.
#[derive(Debug, Clone)]
pub struct Meter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn BudgetStore>,
    clock: Arc<dyn Clock>,
    hook: Option<Arc<dyn BudgetHook>>,
}

impl Meter {
    pub fn new(store: Arc<dyn BudgetStore>) -> Meter {
        Meter::with_parts(store, Arc::new(SystemClock), None)
    }

    pub fn with_parts(
        store: Arc<dyn BudgetStore>,
        clock: Arc<dyn Clock>,
        hook: Option<Arc<dyn BudgetHook>>,
    ) -> Meter {
        Meter {
            inner: Arc::new(Inner { store, clock, hook }),
        }
    }

    /// Before the upstream connection is made: checks requests, rate, concurrency and wall
    /// clock at every scope and counts the request everywhere or nowhere. The reservation
    /// holds a concurrency slot until it is settled or dropped.
    pub async fn admit(&self, plan: &Arc<Plan>) -> Result<Reservation, BudgetError> {
        let now = self.inner.clock.now_ms();
        let store = &self.inner.store;
        let admission = match store.immediate() {
            Some(now_store) => now_store.admit_now(plan, now),
            None => store.admit(plan, now).await,
        }
        .map_err(|e| self.inner.store_failed(plan, "admit", e))?;
        match admission {
            Admission::Admitted { lease, usage } => {
                self.inner.emit(&BudgetEvent::Admitted {
                    plan,
                    lease,
                    usage: &usage,
                });
                Ok(Reservation::new(self.inner.clone(), plan.clone(), lease, usage))
            }
            Admission::Refused(all) => Err(self.inner.denied(plan, all)),
        }
    }

    /// Where an invocation starts (the broker): counts one tool call of the session.
    pub async fn admit_tool_call(&self, plan: &Plan) -> Result<u64, BudgetError> {
        let now = self.inner.clock.now_ms();
        let answer = self
            .inner
            .store
            .admit_tool_call(plan, now)
            .await
            .map_err(|e| self.inner.store_failed(plan, "admit_tool_call", e))?;
        match answer {
            Ok(tool_calls) => {
                self.inner
                    .emit(&BudgetEvent::ToolCallAdmitted { plan, tool_calls });
                Ok(tool_calls)
            }
            Err(e) => Err(self.inner.denied(plan, [e])),
        }
    }

    /// The counters of every scope now.
    pub async fn usage(&self, plan: &Plan) -> Result<Usage, BudgetError> {
        let now = self.inner.clock.now_ms();
        self.inner
            .store
            .usage(plan, now)
            .await
            .map_err(|e| self.inner.store_failed(plan, "usage", e))
    }

    /// What is left of every limited budget now.
    pub async fn remaining(&self, plan: &Plan) -> Result<Remaining, BudgetError> {
        Ok(self.usage(plan).await?.remaining(plan))
    }

    pub fn store_health(&self) -> StoreHealth {
        self.inner.store.health()
    }
}

impl Inner {
    /// The one place every budget event passes: logged, then handed to the hook.
    fn emit(&self, event: &BudgetEvent<'_>) {
        log_event(event);
        if let Some(hook) = &self.hook {
            hook.on_event(event);
        }
    }

    fn denied(&self, plan: &Plan, all: impl IntoIterator<Item = Exceeded>) -> BudgetError {
        match Exceeded::most_binding(all) {
            Some(exceeded) => {
                self.emit(&BudgetEvent::Denied {
                    plan,
                    exceeded: &exceeded,
                });
                BudgetError::Exceeded(exceeded)
            }
            None => self.store_failed(
                plan,
                "admit",
                StoreError::Unexpected {
                    store: "meter",
                    detail: "refusal without a budget".to_owned(),
                },
            ),
        }
    }

    fn store_failed(&self, plan: &Plan, operation: &'static str, error: StoreError) -> BudgetError {
        self.emit(&BudgetEvent::StoreFailed {
            plan,
            operation,
            error: &error,
        });
        BudgetError::Store(error)
    }
}

fn log_event(event: &BudgetEvent<'_>) {
    match event {
        BudgetEvent::Admitted { plan, lease, .. } => {
            tracing::debug!(tenant = %plan.subject.tenant, invocation = %plan.subject.invocation, lease, "budget.admitted")
        }
        BudgetEvent::Denied { plan, exceeded } => tracing::info!(
            tenant = %plan.subject.tenant, invocation = %plan.subject.invocation,
            budget = %exceeded.budget, scope = exceeded.scope.as_str(),
            limit = exceeded.limit, used = exceeded.used, "budget.denied"
        ),
        BudgetEvent::Charged {
            plan,
            lease,
            direction,
            requested,
            granted,
            exceeded,
        } => match exceeded {
            Some(e) => tracing::info!(
                invocation = %plan.subject.invocation, lease, ?direction, requested, granted,
                budget = %e.budget, scope = e.scope.as_str(), "budget.cut"
            ),
            None => {
                tracing::trace!(invocation = %plan.subject.invocation, lease, ?direction, granted, "budget.charged")
            }
        },
        BudgetEvent::Settled {
            plan,
            lease,
            bytes_out,
            bytes_in,
            how,
            ..
        } => tracing::debug!(
            invocation = %plan.subject.invocation, lease, bytes_out, bytes_in, ?how, "budget.settled"
        ),
        BudgetEvent::ToolCallAdmitted { plan, tool_calls } => tracing::debug!(
            session = %plan.subject.session, tool_calls, "budget.tool_call"
        ),
        BudgetEvent::StoreFailed {
            plan,
            operation,
            error,
        } => tracing::warn!(
            tenant = %plan.subject.tenant, operation, %error, "budget.store_failed"
        ),
    }
}

/// What a byte charge granted. `granted < requested` means: forward the first `granted`
/// bytes, then cut the stream; `exceeded` says which budget did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    pub requested: u64,
    pub granted: u64,
    pub exceeded: Option<Exceeded>,
}

impl Charge {
    pub fn is_cut(&self) -> bool {
        self.granted < self.requested
    }
}

/// What a settled reservation counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub refunded_out: u64,
}

/// One admitted request, from admission until its exchange ends. Dropping it unsettled (the
/// client or the upstream went away) still frees its concurrency slot.
pub struct Reservation {
    meter: Arc<Inner>,
    plan: Arc<Plan>,
    lease: LeaseId,
    usage: Usage,
    /// Declared body bytes already counted and not yet sent.
    reserved_out: u64,
    bytes_out: u64,
    bytes_in: u64,
    settled: bool,
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("invocation", &self.plan.subject.invocation)
            .field("lease", &self.lease)
            .field("bytes_out", &self.bytes_out)
            .field("bytes_in", &self.bytes_in)
            .finish_non_exhaustive()
    }
}

impl Reservation {
    fn new(meter: Arc<Inner>, plan: Arc<Plan>, lease: LeaseId, usage: Usage) -> Reservation {
        Reservation {
            meter,
            plan,
            lease,
            usage,
            reserved_out: 0,
            bytes_out: 0,
            bytes_in: 0,
            settled: false,
        }
    }

    pub fn lease(&self) -> LeaseId {
        self.lease
    }

    /// The counters at admission, this request included.
    pub fn usage_at_admission(&self) -> &Usage {
        &self.usage
    }

    /// What was left at admission: for the opt-in response header.
    pub fn remaining(&self) -> Remaining {
        self.usage.remaining(&self.plan)
    }

    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Before any of a request body leaves: counts its declared size (`Content-Length`)
    /// whole, or refuses it whole. Bytes sent later are taken from this reservation first;
    /// what is never sent is given back at settlement.
    pub async fn reserve_out(&mut self, declared: u64) -> Result<(), BudgetError> {
        let charged = self.store_charge(Direction::Out, declared, true).await?;
        match charged.exceeded {
            None => {
                self.reserved_out += charged.granted;
                Ok(())
            }
            Some(exceeded) => Err(self.meter.denied(&self.plan, [exceeded])),
        }
    }

    /// Request bytes (head or body chunk) about to leave.
    pub async fn charge_out(&mut self, bytes: u64) -> Result<Charge, BudgetError> {
        let from_reserved = bytes.min(self.reserved_out);
        self.reserved_out -= from_reserved;
        let rest = bytes - from_reserved;
        let (granted, exceeded) = if rest == 0 {
            (from_reserved, None)
        } else {
            let charged = self.store_charge(Direction::Out, rest, false).await?;
            (from_reserved + charged.granted, charged.exceeded)
        };
        self.bytes_out += granted;
        Ok(self.charged(Direction::Out, bytes, granted, exceeded))
    }

    /// Response bytes (head or body chunk) about to reach the tool. Capped by the largest
    /// single response as well as by the bytes-in budgets.
    pub async fn charge_in(&mut self, bytes: u64) -> Result<Charge, BudgetError> {
        let (ask, cap_hit) = match self.plan.max_response() {
            Some((limit, scope)) => {
                let left = limit.saturating_sub(self.bytes_in);
                let hit = (bytes > left).then_some(Exceeded {
                    budget: Budget::MaxResponse,
                    scope,
                    limit,
                    used: self.bytes_in,
                    requested: bytes,
                    retry_after: None,
                });
                (bytes.min(left), hit)
            }
            None => (bytes, None),
        };
        let (granted, exceeded) = if ask == 0 {
            (0, cap_hit)
        } else {
            let charged = self.store_charge(Direction::In, ask, false).await?;
            (charged.granted, charged.exceeded.or(cap_hit))
        };
        self.bytes_in += granted;
        Ok(self.charged(Direction::In, bytes, granted, exceeded))
    }

    /// The exchange is over: frees the concurrency slot and gives back unsent reserved
    /// bytes. If the store fails here, the drop of the guard retries in the background, and a
    /// Redis lease expires on its own in the end.
    pub async fn settle(mut self) -> Result<Settlement, BudgetError> {
        let now = self.meter.clock.now_ms();
        let store = &self.meter.store;
        let result = match store.immediate() {
            Some(now_store) => now_store.release_now(&self.plan, self.lease, self.reserved_out, now),
            None => {
                store
                    .release(&self.plan, self.lease, self.reserved_out, now)
                    .await
            }
        };
        if let Err(e) = result {
            // Unsettled, the guard's drop tries again in the background.
            return Err(self.meter.store_failed(&self.plan, "release", e));
        }
        self.settled = true;
        Ok(self.emit_settled(SettledHow::Explicit))
    }

    async fn store_charge(
        &self,
        direction: Direction,
        bytes: u64,
        whole: bool,
    ) -> Result<super::store::Charged, BudgetError> {
        let charge = ByteCharge {
            lease: self.lease,
            direction,
            bytes,
            whole,
        };
        let now = self.meter.clock.now_ms();
        let store = &self.meter.store;
        match store.immediate() {
            Some(now_store) => now_store.charge_now(&self.plan, charge, now),
            None => store.charge(&self.plan, charge, now).await,
        }
        .map_err(|e| self.meter.store_failed(&self.plan, "charge", e))
    }

    fn charged(
        &self,
        direction: Direction,
        requested: u64,
        granted: u64,
        exceeded: Option<Exceeded>,
    ) -> Charge {
        self.meter.emit(&BudgetEvent::Charged {
            plan: &self.plan,
            lease: self.lease,
            direction,
            requested,
            granted,
            exceeded: exceeded.as_ref(),
        });
        Charge {
            requested,
            granted,
            exceeded,
        }
    }

    fn emit_settled(&self, how: SettledHow) -> Settlement {
        let settlement = Settlement {
            bytes_out: self.bytes_out,
            bytes_in: self.bytes_in,
            refunded_out: self.reserved_out,
        };
        self.meter.emit(&BudgetEvent::Settled {
            plan: &self.plan,
            lease: self.lease,
            bytes_out: settlement.bytes_out,
            bytes_in: settlement.bytes_in,
            refunded_out: settlement.refunded_out,
            how,
        });
        settlement
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let now = self.meter.clock.now_ms();
        self.meter
            .store
            .release_detached(self.plan.clone(), self.lease, self.reserved_out, now);
        self.emit_settled(SettledHow::Dropped);
    }
}
