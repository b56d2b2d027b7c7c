//! The Redis key layout. Every key of a tenant carries the tenant in a hash tag, so one
//! script's keys live in one Cluster slot; the scope's id comes last, after fixed tokens, so
//! no id can make two keys collide.

use ::redis::ScriptInvocation;

use crate::budget::model::{Scope, Subject};

#[derive(Debug)]
pub(super) struct Keys {
    /// `prefix:{tenant}`.
    base: String,
    subject: Subject,
}

impl Keys {
    pub(super) fn new(prefix: &str, subject: &Subject) -> Keys {
        Keys {
            base: format!("{prefix}:{{{}}}", subject.tenant),
            subject: subject.clone(),
        }
    }

    fn key(&self, kind: &str, scope: Scope) -> String {
        let letter = match scope {
            Scope::Invocation => 'i',
            Scope::Session => 's',
            Scope::Tenant => 't',
        };
        format!("{}:{kind}:{letter}:{}", self.base, self.subject.id(scope))
    }

    /// Hash of totals: requests, bytes_out, bytes_in, tool_calls, started.
    pub(super) fn totals(&self, scope: Scope) -> String {
        self.key("tot", scope)
    }

    /// Hash of the rate window's sub-buckets: bucket -> admissions, `n` (their sum) and `lo`
    /// (the oldest bucket it may hold). A new name for a new layout: the sorted sets of
    /// earlier versions (`win`) are never read as hashes, and expire within a minute.
    pub(super) fn window(&self, scope: Scope) -> String {
        self.key("rw", scope)
    }

    /// Sorted set of requests in flight, scored by when their lease expires.
    pub(super) fn live(&self, scope: Scope) -> String {
        self.key("live", scope)
    }

    pub(super) fn lease_sequence(&self) -> String {
        format!("{}:seq", self.base)
    }

    /// The totals of every scope, then the live leases of every scope.
    pub(super) fn totals_and_live(&self, inv: &mut ScriptInvocation<'_>) {
        for scope in Scope::ALL {
            inv.key(self.totals(scope));
        }
        for scope in Scope::ALL {
            inv.key(self.live(scope));
        }
    }
}
