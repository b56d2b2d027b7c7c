//! Running a tenant's inline tests: each request is decided and compared with what the
//! test expects.

use serde::Serialize;

use super::host::Host;
use super::model::{Expect, InlineTest, PolicySet, Tenant};
use crate::decision::{Request, Verdict, decide};

/// One test that did not get the decision it expected.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub tenant: String,
    pub test: String,
    pub origin: super::model::Origin,
    pub request: String,
    pub expected: String,
    pub actual: String,
    pub rule: Option<String>,
}

/// The result of running every inline test of a policy set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub passed: usize,
    pub failures: Vec<Failure>,
}

pub fn run(set: &PolicySet) -> Report {
    let mut report = Report::default();
    for tenant in set.tenants.values() {
        for test in &tenant.tests {
            match run_one(tenant, test) {
                None => report.passed += 1,
                Some(failure) => report.failures.push(failure),
            }
        }
    }
    report
}

fn run_one(tenant: &Tenant, test: &InlineTest) -> Option<Failure> {
    let host = test.url.host_str().and_then(|h| Host::parse(h).ok());
    let path = match test.url.query() {
        Some(q) => format!("{}?{q}", test.url.path()),
        None => test.url.path().to_owned(),
    };
    let (verdict, reason, rule) = match &host {
        Some(host) => {
            let request = Request {
                method: Some(&test.method),
                host,
                port: test.url.port_or_known_default().unwrap_or(443),
                path: Some(&path),
            };
            let decision = decide(tenant, &test.tool, &request);
            (
                decision.verdict,
                decision.reason.as_str().to_owned(),
                decision.rule_id().map(str::to_owned),
            )
        }
        None => (Verdict::Deny, "invalid_host".to_owned(), None),
    };
    let expected_verdict = match test.expect {
        Expect::Allow => Verdict::Allow,
        Expect::Deny => Verdict::Deny,
    };
    let reason_ok = test.reason.as_ref().is_none_or(|r| *r == reason);
    if verdict == expected_verdict && reason_ok {
        return None;
    }
    Some(Failure {
        tenant: tenant.id.clone(),
        test: test.name.clone(),
        origin: test.origin.clone(),
        request: format!("{} {}", test.method, test.url),
        expected: describe(expected_verdict, test.reason.as_deref()),
        actual: describe(verdict, Some(&reason)),
        rule,
    })
}

fn describe(verdict: Verdict, reason: Option<&str>) -> String {
    let verdict = match verdict {
        Verdict::Allow => "allow",
        Verdict::Deny => "deny",
    };
    match reason {
        Some(reason) => format!("{verdict} ({reason})"),
        None => verdict.to_owned(),
    }
}
