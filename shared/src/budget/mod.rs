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
//! `requests_per_minute` uses a rolling window (a log of admission times over the last 60 s):
//! unlike a fixed window it never lets 2×N through around a window boundary, and its
//! `Retry-After` is exact — the moment the oldest admission that still counts leaves the
//! window. Its memory is one timestamp per admission in the window, bounded by the limit.

mod clock;
mod event;
mod memory;
mod meter;
mod model;
mod redis_store;
mod store;
mod usage;

pub use clock::{Clock, ManualClock, SystemClock};
pub use event::{BudgetEvent, BudgetHook, SettledHow};
pub use memory::InProcessStore;
pub use meter::{BudgetError, Charge, Meter, Reservation, Settlement};
pub use model::{Budget, Direction, Exceeded, Plan, RATE_WINDOW_MS, Scope, Subject, retry_after_secs};
pub use redis_store::{RedisConfig, RedisStore};
pub use store::{Admission, BudgetStore, ByteCharge, Charged, LeaseId, StoreError, StoreHealth};
pub use usage::{Left, Remaining, ScopeUsage, Usage};
