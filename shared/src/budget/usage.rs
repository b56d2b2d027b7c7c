//! What has been used and what remains, per scope: for the opt-in response header and for
//! metrics.

use std::fmt::Write;

use serde::Serialize;

use super::model::{Budget, Plan, Scope};

/// Counters of one scope at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ScopeUsage {
    pub requests: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub tool_calls: u64,
    /// Requests admitted and not yet settled.
    pub in_flight: u64,
    /// Requests admitted in the current rate window; counted only where a rate limit is set.
    pub in_window: u64,
    /// Time since the scope's wall clock started; 0 before its first admission.
    pub elapsed_ms: u64,
}

impl ScopeUsage {
    /// The amount counted against `budget`; `None` for the per-response cap, which no scope
    /// accumulates.
    pub fn used(&self, budget: Budget) -> Option<u64> {
        Some(match budget {
            Budget::Requests => self.requests,
            Budget::BytesOut => self.bytes_out,
            Budget::BytesIn => self.bytes_in,
            Budget::MaxResponse => return None,
            Budget::WallClock => self.elapsed_ms,
            Budget::ConcurrentConnections => self.in_flight,
            Budget::RequestsPerMinute => self.in_window,
            Budget::ToolCalls => self.tool_calls,
        })
    }
}

/// Counters of the three scopes of one plan, indexed by [`Scope::index`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub scopes: [ScopeUsage; 3],
}

impl Usage {
    pub fn scope(&self, scope: Scope) -> &ScopeUsage {
        &self.scopes[scope.index()]
    }

    /// Every limited budget of `plan` with what is left of it.
    pub fn remaining(&self, plan: &Plan) -> Remaining {
        let mut entries = Vec::new();
        for scope in Scope::ALL {
            for budget in Budget::ALL {
                let Some(limit) = plan.limit(scope, budget) else {
                    continue;
                };
                let used = self.scope(scope).used(budget).unwrap_or(0);
                entries.push(Left {
                    budget,
                    scope,
                    limit,
                    remaining: limit.saturating_sub(used),
                });
            }
        }
        Remaining { entries }
    }
}

/// What is left of one budget at one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Left {
    pub budget: Budget,
    pub scope: Scope,
    pub limit: u64,
    pub remaining: u64,
}

/// What is left of every limited budget.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Remaining {
    pub entries: Vec<Left>,
}

impl Remaining {
    /// The scope with the least left of `budget`: what the tool can actually still use.
    pub fn tightest(&self, budget: Budget) -> Option<Left> {
        self.entries
            .iter()
            .filter(|l| l.budget == budget)
            .min_by_key(|l| (l.remaining, l.scope))
            .copied()
    }

    /// A structured-field dictionary (RFC 8941) of the tightest remainder of each limited
    /// budget, e.g. `requests=12, bytes_out=1048576`, for the opt-in response header.
    pub fn header_value(&self) -> String {
        let mut value = String::new();
        for left in Budget::ALL.into_iter().filter_map(|b| self.tightest(b)) {
            if !value.is_empty() {
                value.push_str(", ");
            }
            // Writing to a String cannot fail.
            let _ = write!(value, "{}={}", left.budget.as_str(), left.remaining);
        }
        value
    }
}
