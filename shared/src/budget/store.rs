//! The store behind the meter: where the counters live. One trait, two stores: in process
//! (the default) and Redis (shared by several proxy replicas). A store answers each
//! operation atomically across the three scopes of a plan.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use super::model::{Direction, Exceeded, Plan};
use super::usage::Usage;

/// Identifies one admitted request in the store, unique per tenant.
pub type LeaseId = u64;

/// The answer to an admission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Counted at every scope; `usage` includes this request.
    Admitted { lease: LeaseId, usage: Usage },
    /// Counted nowhere; every budget that refused, at every scope.
    Refused(Vec<Exceeded>),
}

/// Bytes to count against one admitted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteCharge {
    pub lease: LeaseId,
    pub direction: Direction,
    pub bytes: u64,
    /// All or nothing (a declared body); otherwise as much as fits is granted (a stream
    /// that is cut where the budget ends).
    pub whole: bool,
}

/// What a charge was granted. `granted < bytes` comes with the budget that stopped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charged {
    pub granted: u64,
    pub exceeded: Option<Exceeded>,
}

/// A store's health, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StoreHealth {
    pub store: &'static str,
    /// Operations that failed closed because the store could not be reached.
    pub unavailable_total: u64,
    /// Whether the last operation reached the store.
    pub reachable: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached: every budget operation fails closed until it returns.
    #[error("budget store {store} is unreachable: {source}")]
    Unavailable {
        store: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The store answered, but not as the script promises: a bug or a foreign key layout.
    #[error("budget store {store} answered unexpectedly: {detail}")]
    Unexpected { store: &'static str, detail: String },
}

impl StoreError {
    /// The reason code for the proxy's error response (`503`).
    pub fn reason(&self) -> crate::outcome::Reason {
        match self {
            StoreError::Unavailable { .. } => crate::outcome::Reason::BudgetStoreUnavailable,
            StoreError::Unexpected { .. } => crate::outcome::Reason::BudgetStoreFailed,
        }
    }
}

/// A store that answers at once, without waiting on anything (the in-process one): the
/// meter calls it directly, which spares a boxed future per operation (four a request).
/// Same contract as the [`BudgetStore`] methods of the same names.
pub trait ImmediateStore: Send + Sync {
    fn admit_now(&self, plan: &Plan, now_ms: u64) -> Result<Admission, StoreError>;
    fn charge_now(&self, plan: &Plan, charge: ByteCharge, now_ms: u64) -> Result<Charged, StoreError>;
    fn release_now(
        &self,
        plan: &Plan,
        lease: LeaseId,
        refund_out: u64,
        now_ms: u64,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait BudgetStore: Send + Sync + fmt::Debug {
    /// The store itself, if it answers at once.
    fn immediate(&self) -> Option<&dyn ImmediateStore> {
        None
    }

    /// Counts one request at every scope of `plan` (requests, rate window, concurrency, wall
    /// clock start) if no limited budget refuses it, and nothing otherwise.
    async fn admit(&self, plan: &Plan, now_ms: u64) -> Result<Admission, StoreError>;

    /// Counts bytes of an admitted request at every scope.
    async fn charge(&self, plan: &Plan, charge: ByteCharge, now_ms: u64) -> Result<Charged, StoreError>;

    /// Ends a request: frees its concurrency slot and gives back `refund_out` bytes reserved
    /// for a body that were never sent. Idempotent.
    async fn release(
        &self,
        plan: &Plan,
        lease: LeaseId,
        refund_out: u64,
        now_ms: u64,
    ) -> Result<(), StoreError>;

    /// [`BudgetStore::release`] from a destructor: must not block, so it may complete later.
    fn release_detached(&self, plan: Arc<Plan>, lease: LeaseId, refund_out: u64, now_ms: u64);

    /// Counts one tool call of the session if its `tool_calls` budget allows; returns the
    /// session's tool calls including this one.
    async fn admit_tool_call(&self, plan: &Plan, now_ms: u64) -> Result<Result<u64, Exceeded>, StoreError>;

    /// The counters of every scope of `plan`, without changing them.
    async fn usage(&self, plan: &Plan, now_ms: u64) -> Result<Usage, StoreError>;

    fn health(&self) -> StoreHealth;
}
