//! What is counted, at which scope, and what an over-budget answer says. No I/O and no clock:
//! the stores and the meter pass `now` in.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::policy::model::{Budgets, Limits};

/// The rate window: `requests_per_minute` counts admissions in a rolling 60 s, measured in
/// one-second sub-buckets (see [`crate::budget`]).
pub const RATE_WINDOW_MS: u64 = 60_000;

/// Where a budget applies. Ordered from the narrowest to the widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Invocation,
    Session,
    Tenant,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Invocation, Scope::Session, Scope::Tenant];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Invocation => "invocation",
            Scope::Session => "session",
            Scope::Tenant => "tenant",
        }
    }

    /// Position in [`Scope::ALL`] and in every per-scope array of this module.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What is counted. Stable names: they appear in 429 bodies, headers, metrics and provenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    Requests,
    BytesOut,
    BytesIn,
    MaxResponse,
    WallClock,
    ConcurrentConnections,
    RequestsPerMinute,
    ToolCalls,
}

impl Budget {
    pub const ALL: [Budget; 8] = [
        Budget::Requests,
        Budget::BytesOut,
        Budget::BytesIn,
        Budget::MaxResponse,
        Budget::WallClock,
        Budget::ConcurrentConnections,
        Budget::RequestsPerMinute,
        Budget::ToolCalls,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Budget::Requests => "requests",
            Budget::BytesOut => "bytes_out",
            Budget::BytesIn => "bytes_in",
            Budget::MaxResponse => "max_response",
            Budget::WallClock => "wall_clock",
            Budget::ConcurrentConnections => "concurrent_connections",
            Budget::RequestsPerMinute => "requests_per_minute",
            Budget::ToolCalls => "tool_calls",
        }
    }

    /// The limit for this budget in `limits`; wall clock in milliseconds.
    pub fn limit_in(self, limits: &Limits) -> Option<u64> {
        match self {
            Budget::Requests => limits.requests,
            Budget::BytesOut => limits.bytes_out,
            Budget::BytesIn => limits.bytes_in,
            Budget::MaxResponse => limits.max_response,
            Budget::WallClock => limits.wall_clock.map(duration_ms),
            Budget::ConcurrentConnections => limits.concurrent_connections,
            Budget::RequestsPerMinute => limits.requests_per_minute,
            Budget::ToolCalls => limits.tool_calls,
        }
    }

    /// A refused attempt at a budget that never refills stays refused; these go first when
    /// several budgets refuse the same attempt, so `Retry-After` is never promised wrongly.
    fn permanence(self) -> u8 {
        match self {
            Budget::RequestsPerMinute => 0,
            Budget::ConcurrentConnections => 1,
            _ => 2,
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(crate) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Whose traffic it is: the ids that key each scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    pub tenant: Arc<str>,
    pub session: Arc<str>,
    pub invocation: Arc<str>,
}

impl Subject {
    pub fn new(tenant: &str, session: &str, invocation: &str) -> Subject {
        Subject {
            tenant: tenant.into(),
            session: session.into(),
            invocation: invocation.into(),
        }
    }

    /// The id that keys `scope`, unique within the tenant; empty for the tenant itself.
    pub fn id(&self, scope: Scope) -> &str {
        match scope {
            Scope::Invocation => &self.invocation,
            Scope::Session => &self.session,
            Scope::Tenant => "",
        }
    }
}

/// The budgets that apply to one invocation's traffic: its ids with the limits of each scope.
/// Built once per invocation and shared by all its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub subject: Subject,
    limits: [Limits; 3],
    /// When each scope's wall clock started, where the caller knows it (the broker's
    /// invocation start); otherwise the store records the first admission.
    started_ms: [Option<u64>; 3],
    /// Where the in-process store keeps this plan's three scopes.
    pub(crate) slots: super::memory::SlotMemo,
}

impl Plan {
    pub fn new(subject: Subject, budgets: &Budgets) -> Plan {
        Plan {
            subject,
            limits: [budgets.invocation, budgets.session, budgets.tenant],
            started_ms: [None; 3],
            slots: super::memory::SlotMemo::default(),
        }
    }

    /// Sets when `scope`'s wall clock started (milliseconds since the Unix epoch), so its
    /// deadline is `started + wall_clock` as the broker computed it.
    pub fn started_at(mut self, scope: Scope, unix_ms: u64) -> Plan {
        self.started_ms[scope.index()] = Some(unix_ms);
        self
    }

    pub fn limits(&self, scope: Scope) -> &Limits {
        &self.limits[scope.index()]
    }

    pub fn limit(&self, scope: Scope, budget: Budget) -> Option<u64> {
        budget.limit_in(self.limits(scope))
    }

    pub fn started_ms(&self, scope: Scope) -> Option<u64> {
        self.started_ms[scope.index()]
    }

    /// The smallest `max_response` of the three scopes, with the scope that sets it.
    pub fn max_response(&self) -> Option<(u64, Scope)> {
        Scope::ALL
            .into_iter()
            .filter_map(|s| self.limit(s, Budget::MaxResponse).map(|l| (l, s)))
            .min()
    }
}

/// Which way bytes move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Request heads and bodies, toward the upstream.
    Out,
    /// Response heads and bodies, toward the tool.
    In,
}

impl Direction {
    pub fn budget(self) -> Budget {
        match self {
            Direction::Out => Budget::BytesOut,
            Direction::In => Budget::BytesIn,
        }
    }
}

/// One budget that refused an attempt: enough for a `429` body with reason `budget_exceeded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Exceeded {
    pub budget: Budget,
    pub scope: Scope,
    /// The limit (milliseconds for the wall clock).
    pub limit: u64,
    /// What was used before this attempt.
    pub used: u64,
    /// What this attempt asked for.
    pub requested: u64,
    /// When the budget will have room again; `None` when it never refills (totals, the wall
    /// clock) or when that depends on other traffic ending (concurrency).
    #[serde(serialize_with = "serialize_retry_after", rename = "retry_after_secs")]
    pub retry_after: Option<Duration>,
}

fn serialize_retry_after<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&retry_after_secs(*d)),
        None => s.serialize_none(),
    }
}

/// `Retry-After` is whole seconds; round up so a client that waits that long is admitted.
pub fn retry_after_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).try_into().unwrap_or(u64::MAX)
}

impl Exceeded {
    pub fn reason(&self) -> crate::outcome::Reason {
        crate::outcome::Reason::BudgetExceeded
    }

    /// Of several budgets that refused one attempt, the one to report: one that never
    /// refills first, then concurrency, then the rate with the longest wait.
    pub fn most_binding(all: impl IntoIterator<Item = Exceeded>) -> Option<Exceeded> {
        all.into_iter().max_by_key(|e| {
            (
                e.budget.permanence(),
                e.retry_after.unwrap_or(Duration::MAX),
                std::cmp::Reverse(e.scope),
            )
        })
    }
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} budget of the {} exceeded: limit {}, used {}, requested {}",
            self.budget,
            self.scope.as_str(),
            self.limit,
            self.used,
            self.requested
        )?;
        if let Some(d) = self.retry_after {
            write!(f, ", retry after {} s", retry_after_secs(d))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exceeded(budget: Budget, scope: Scope, retry_ms: Option<u64>) -> Exceeded {
        Exceeded {
            budget,
            scope,
            limit: 1,
            used: 1,
            requested: 1,
            retry_after: retry_ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn a_budget_that_never_refills_is_reported_before_a_rate() {
        let rate = exceeded(Budget::RequestsPerMinute, Scope::Invocation, Some(5_000));
        let total = exceeded(Budget::Requests, Scope::Tenant, None);
        let slots = exceeded(Budget::ConcurrentConnections, Scope::Session, None);
        assert_eq!(Exceeded::most_binding([rate, total, slots]), Some(total));
        assert_eq!(Exceeded::most_binding([rate, slots]), Some(slots));
    }

    #[test]
    fn of_two_rates_the_longer_wait_is_reported() {
        let short = exceeded(Budget::RequestsPerMinute, Scope::Invocation, Some(1_000));
        let long = exceeded(Budget::RequestsPerMinute, Scope::Tenant, Some(30_000));
        assert_eq!(Exceeded::most_binding([short, long]), Some(long));
        assert_eq!(Exceeded::most_binding([]), None);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1_000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1_001)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 0);
    }

    #[test]
    fn the_smallest_max_response_applies() {
        let mut budgets = Budgets::default();
        budgets.invocation.max_response = Some(500);
        budgets.session.max_response = Some(50);
        let plan = Plan::new(Subject::new("t", "s", "i"), &budgets);
        assert_eq!(plan.max_response(), Some((50, Scope::Session)));
        let none = Plan::new(Subject::new("t", "s", "i"), &Budgets::default());
        assert_eq!(none.max_response(), None);
    }

    #[test]
    fn the_429_body_names_budget_scope_limit_use_and_wait() {
        let e = exceeded(Budget::RequestsPerMinute, Scope::Tenant, Some(1_500));
        let body = serde_json::to_value(e).expect("serializes");
        assert_eq!(
            body,
            serde_json::json!({
                "budget": "requests_per_minute", "scope": "tenant", "limit": 1, "used": 1,
                "requested": 1, "retry_after_secs": 2
            })
        );
    }
}
