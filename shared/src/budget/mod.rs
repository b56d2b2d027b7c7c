//! Egress budgets: what a tenant, a session and an invocation may spend, counted exactly
//! under concurrency and, with Redis, across proxy replicas.
//!
//! The proxy holds one [`Meter`] and, per invocation, one [`Plan`] (the ids and the policy's
//! limits of its three scopes). Per request it calls [`Meter::admit`] before connecting
//! upstream, [`Reservation::reserve_out`] for a declared body, [`Reservation::charge_out`] /
//! [`Reservation::charge_in`] as bytes move, and [`Reservation::settle`] when the exchange
//! ends; dropping the reservation instead still frees its concurrency slot.
//!
//! Windows: totals (requests, bytes, tool calls, wall clock) run for the whole life of their
//! scope — an invocation, a session, or a tenant until it has been idle for the store's TTL.
//! `requests_per_minute` uses a rolling window of one-second sub-buckets (`window.rs`):
//! an admission counts for 60 s after the end of its second, so never more than N pass in any
//! rolling minute, a refused client waits at most 1 s longer than an exact log would make it,
//! and `Retry-After` is exact for that rule. Every operation is O(1) in time and memory on
//! both stores: a scope holds counters, its requests in flight and at most 61 buckets,
//! whatever the request rate.

mod clock;
mod event;
mod memory;
mod meter;
mod model;
mod redis_store;
mod store;
mod usage;
mod window;

pub use clock::{Clock, ManualClock, SystemClock};
pub use event::{BudgetEvent, BudgetHook, SettledHow};
pub use memory::{Footprint, InProcessStore};
pub use meter::{BudgetError, Charge, Meter, Reservation, Settlement};
pub use model::{Budget, Direction, Exceeded, Plan, RATE_WINDOW_MS, Scope, Subject, retry_after_secs};
pub use redis_store::{InformationAnswer, InformationCharge, RedisConfig, RedisStore};
pub use store::{
    Admission, BudgetStore, ByteCharge, Charged, ImmediateStore, LeaseId, StoreError, StoreHealth,
};
pub use usage::{Left, Remaining, ScopeUsage, Usage};
pub use window::RATE_BUCKET_MS;
