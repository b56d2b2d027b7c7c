//! Lints that need a whole tool in view: rules that duplicate or shadow earlier ones, and
//! credentials bound to hosts the tool cannot reach or cannot be injected on.

use super::diag::{Lint, Reporter};
use super::model::{CredentialGrant, Delivery, EgressRule, Traffic};
use super::pointer::Pointer;

/// Flags rules that can never decide because an earlier rule matches everything they match,
/// and hosts listed twice within one rule.
pub(crate) fn rules(rules: &[EgressRule], tool_at: &Pointer, r: &mut Reporter<'_>) {
    for (j, later) in rules.iter().enumerate() {
        let at = tool_at.key("egress").index(j);
        repeated_hosts(later, &at, r);
        let Some(earlier) = rules[..j].iter().find(|earlier| covers(earlier, later)) else {
            continue;
        };
        if covers(later, earlier) {
            r.lint(
                Lint::DuplicateRule,
                &at,
                format!("duplicates rule {:?}", earlier.id),
                Some("remove one of the two rules".to_owned()),
            );
        } else {
            r.lint(
                Lint::ShadowedRule,
                &at,
                format!(
                    "never decides: rule {:?} above it matches everything it matches",
                    earlier.id
                ),
                Some("remove it, or move it above the broader rule".to_owned()),
            );
        }
    }
}

fn repeated_hosts(rule: &EgressRule, at: &Pointer, r: &mut Reporter<'_>) {
    for (j, host) in rule.hosts.iter().enumerate() {
        if let Some(other) = rule
            .hosts
            .iter()
            .enumerate()
            .find(|(i, other)| *i != j && other.covers(host) && (*i < j || !host.covers(other)))
        {
            r.lint(
                Lint::DuplicateRule,
                &at.key("hosts").index(j),
                format!("`{host}` is already matched by `{}` in this rule", other.1),
                Some(format!("remove `{host}`")),
            );
        }
    }
}

/// Whether every request `b` matches is also matched by `a`.
fn covers(a: &EgressRule, b: &EgressRule) -> bool {
    let hosts = b.hosts.iter().all(|h| a.hosts.iter().any(|g| g.covers(h)));
    let ports = b.ports.is_subset(&a.ports);
    let methods = match (&a.methods, &b.methods) {
        (None, _) => true,
        (Some(a), Some(b)) => b.is_subset(a),
        (Some(_), None) => false,
    };
    let paths = match (&a.paths, &b.paths) {
        (None, _) => true,
        (Some(a), Some(b)) => b.iter().all(|p| a.iter().any(|q| q.covers(p))),
        (Some(_), None) => false,
    };
    hosts && ports && methods && paths && !b.hosts.is_empty()
}

/// Checks that an injected credential's hosts are reachable by its tool, and inspected.
pub(crate) fn credential(grant: &CredentialGrant, rules: &[EgressRule], at: &Pointer, r: &mut Reporter<'_>) {
    let Delivery::Inject { hosts, .. } = &grant.delivery else {
        return;
    };
    for (i, host) in hosts.iter().enumerate() {
        let host_at = at.key("inject").key("hosts").index(i);
        match rules
            .iter()
            .find(|rule| rule.hosts.iter().any(|p| p.covers(host)))
        {
            None => r.lint(
                Lint::CredentialHostUnreachable,
                &host_at,
                format!(
                    "credential {:?} is bound to `{host}`, which no egress rule of this tool allows",
                    grant.name
                ),
                Some(format!("add `{host}` to an egress rule, or remove it here")),
            ),
            Some(rule) if rule.traffic == Traffic::Tunnel => r.lint(
                Lint::InjectOnTunnel,
                &host_at,
                format!(
                    "`{host}` is reached through tunnel-only rule {:?}, where nothing can be injected",
                    rule.id
                ),
                Some(format!(
                    "set `traffic = \"inspect\"` on rule {:?}, or deliver the credential `direct`",
                    rule.id
                )),
            ),
            Some(_) => {}
        }
    }
}
