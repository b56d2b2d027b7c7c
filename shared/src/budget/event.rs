//! Budget events. Every admission, refusal, charge and settlement passes through
//! [`crate::budget::Meter`]'s one `emit` function, which logs it and hands it to the
//! [`BudgetHook`] if one is set: the place where provenance records attach.

use std::fmt;

use super::model::{Direction, Exceeded, Plan};
use super::store::{LeaseId, StoreError};
use super::usage::Usage;

#[derive(Debug, Clone, Copy)]
pub enum BudgetEvent<'a> {
    /// A request was admitted; `usage` counts it.
    Admitted {
        plan: &'a Plan,
        lease: LeaseId,
        usage: &'a Usage,
    },
    /// A request, a declared body or a tool call was refused before anything was counted.
    Denied { plan: &'a Plan, exceeded: &'a Exceeded },
    /// Bytes were charged; `granted < requested` means the stream is cut after `granted`.
    Charged {
        plan: &'a Plan,
        lease: LeaseId,
        direction: Direction,
        requested: u64,
        granted: u64,
        exceeded: Option<&'a Exceeded>,
    },
    /// A request's reservation ended: its concurrency slot is free again.
    Settled {
        plan: &'a Plan,
        lease: LeaseId,
        bytes_out: u64,
        bytes_in: u64,
        /// Declared body bytes reserved but never sent, given back.
        refunded_out: u64,
        how: SettledHow,
    },
    /// A tool call of the session was counted.
    ToolCallAdmitted { plan: &'a Plan, tool_calls: u64 },
    /// The store could not answer; the operation failed closed.
    StoreFailed {
        plan: &'a Plan,
        operation: &'static str,
        error: &'a StoreError,
    },
}

/// How a reservation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettledHow {
    /// The proxy settled it when the exchange finished.
    Explicit,
    /// Its guard was dropped unsettled: the client or the upstream went away mid-stream.
    Dropped,
}

/// Receives every budget event, synchronously and in order per reservation. Must not block:
/// it runs on the proxy's request path.
pub trait BudgetHook: Send + Sync + fmt::Debug {
    fn on_event(&self, event: &BudgetEvent<'_>);
}
