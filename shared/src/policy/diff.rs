//! What a policy change does to access, in plain words, for the pull-request review: per
//! tenant and tool, which hosts were added or removed, which methods, paths and ports were
//! widened, which credentials were granted, which budgets raised, which detectors switched
//! off, and whether the mode changed. Each change says whether it widens or narrows access.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::model::{
    CredentialGrant, CredentialSource, Delivery, DenyList, DetectorSettings, Exemption, InformationBudget,
    LimitUnit, Limits, Mode, PolicySet, Tenant, Tool, Traffic, Unrecorded,
};

/// Whether a change gives a tool more reach or less.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Widens,
    Narrows,
    Neutral,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub effect: Effect,
    /// `tenant` or `tool "name"`.
    pub scope: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantDiff {
    pub tenant: String,
    pub owner: Option<String>,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PolicyDiff {
    pub tenants: Vec<TenantDiff>,
}

/// Compares `base` (before) with `head` (after).
pub fn diff(base: &PolicySet, head: &PolicySet) -> PolicyDiff {
    let ids: BTreeSet<&String> = base.tenants.keys().chain(head.tenants.keys()).collect();
    let tenants = ids
        .into_iter()
        .filter_map(|id| {
            let (before, after) = (base.tenant(id), head.tenant(id));
            let mut changes = Vec::new();
            tenant_changes(before, after, &mut changes);
            let owner = after.or(before).and_then(|t| t.owner.clone());
            (!changes.is_empty()).then(|| TenantDiff {
                tenant: id.clone(),
                owner,
                changes,
            })
        })
        .collect();
    PolicyDiff { tenants }
}

fn push(out: &mut Vec<Change>, effect: Effect, scope: &str, text: String) {
    out.push(Change {
        effect,
        scope: scope.to_owned(),
        text,
    });
}

fn tenant_changes(before: Option<&Tenant>, after: Option<&Tenant>, out: &mut Vec<Change>) {
    let scope = "tenant";
    match (before, after) {
        (None, Some(t)) => {
            push(
                out,
                Effect::Widens,
                scope,
                format!("tenant added in {} mode", mode(t.mode)),
            );
            for tool in &t.tools {
                tool_changes(None, Some(tool), out);
            }
        }
        (Some(_), None) => push(
            out,
            Effect::Narrows,
            scope,
            "tenant removed: all its tools lose access".to_owned(),
        ),
        (Some(b), Some(a)) => {
            if b.mode != a.mode {
                let effect = if a.mode == Mode::Report {
                    Effect::Widens
                } else {
                    Effect::Narrows
                };
                push(out, effect, scope, mode_change(b.mode, a.mode));
            }
            if b.provenance != a.provenance {
                let (effect, what) = match a.provenance {
                    Unrecorded::FailOpen => (
                        Effect::Widens,
                        "provenance switched to fail-open: egress goes on unrecorded while records cannot be written",
                    ),
                    Unrecorded::FailClosed => (
                        Effect::Narrows,
                        "provenance switched to fail-closed: egress is refused while records cannot be written",
                    ),
                };
                push(out, effect, scope, what.to_owned());
            }
            if b.owner != a.owner {
                push(
                    out,
                    Effect::Neutral,
                    scope,
                    format!(
                        "owner changed from {} to {}",
                        or_none(&b.owner),
                        or_none(&a.owner)
                    ),
                );
            }
            for (effect, text) in detector_changes(&b.detectors, &a.detectors) {
                push(out, effect, scope, text);
            }
            deny_changes(&b.deny, &a.deny, scope, out);
            information_changes(&b.information, &a.information, out);
            budget_changes(&b.budgets.invocation, &a.budgets.invocation, "invocation", out);
            budget_changes(&b.budgets.session, &a.budgets.session, "session", out);
            budget_changes(&b.budgets.tenant, &a.budgets.tenant, "tenant", out);
            if b.budgets.show_remaining != a.budgets.show_remaining {
                let state = if a.budgets.show_remaining { "on" } else { "off" };
                push(
                    out,
                    Effect::Neutral,
                    scope,
                    format!("remaining-budget header switched {state}"),
                );
            }
            let names: BTreeSet<&str> = b.tools.iter().chain(&a.tools).map(|t| t.name.as_str()).collect();
            for name in names {
                let mut tool_out = Vec::new();
                tool_changes(b.tool(name), a.tool(name), &mut tool_out);
                // A tenant-wide change (mode, detectors) that a tool inherits shows once, at
                // tenant scope, not again in every tool.
                tool_out.retain(|c| !out.iter().any(|t| t.scope == scope && t.text == c.text));
                out.extend(tool_out);
            }
        }
        (None, None) => {}
    }
}

fn tool_changes(before: Option<&Tool>, after: Option<&Tool>, out: &mut Vec<Change>) {
    let name = after.or(before).map_or("", |t| t.name.as_str());
    let scope = format!("tool \"{name}\"");
    match (before, after) {
        (None, Some(tool)) => {
            let hosts: Vec<String> = access(tool).keys().cloned().collect();
            push(
                out,
                Effect::Widens,
                &scope,
                format!("tool added with access to {}", list_or_nothing(&hosts)),
            );
            for grant in &tool.credentials {
                push(
                    out,
                    Effect::Widens,
                    &scope,
                    format!("credential `{}` granted: {}", grant.name, describe_grant(grant)),
                );
            }
        }
        (Some(_), None) => push(out, Effect::Narrows, &scope, "tool removed".to_owned()),
        (Some(b), Some(a)) => {
            if b.mode != a.mode {
                let effect = if a.mode == Mode::Report {
                    Effect::Widens
                } else {
                    Effect::Narrows
                };
                push(out, effect, &scope, mode_change(b.mode, a.mode));
            }
            access_changes(&access(b), &access(a), &scope, out);
            credential_changes(&b.credentials, &a.credentials, &scope, out);
            for (effect, text) in detector_changes(&b.detectors, &a.detectors) {
                push(out, effect, &scope, text);
            }
            if b.output != a.output {
                // Off < report < annotate < strip < block: towards `off` lets more through.
                let effect = if a.output < b.output {
                    Effect::Widens
                } else {
                    Effect::Narrows
                };
                push(
                    out,
                    effect,
                    &scope,
                    format!(
                        "tool output protection switched from {} to {}",
                        b.output.as_str(),
                        a.output.as_str()
                    ),
                );
            }
        }
        (None, None) => {}
    }
}

/// The global deny list (defaults.toml) applies to every tenant: a host taken off it widens
/// what each tenant's wildcards reach; one put on it narrows it.
fn deny_changes(before: &DenyList, after: &DenyList, scope: &str, out: &mut Vec<Change>) {
    let hosts = |list: &DenyList| -> BTreeSet<String> {
        list.entries
            .iter()
            .flat_map(|e| e.hosts.iter().map(ToString::to_string))
            .collect()
    };
    let (b, a) = (hosts(before), hosts(after));
    let removed: Vec<String> = b.difference(&a).cloned().collect();
    let added: Vec<String> = a.difference(&b).cloned().collect();
    if !removed.is_empty() {
        push(
            out,
            Effect::Widens,
            scope,
            format!("global deny list no longer refuses {}", codes(&removed)),
        );
    }
    if !added.is_empty() {
        push(
            out,
            Effect::Narrows,
            scope,
            format!("global deny list now refuses {}", codes(&added)),
        );
    }
}

/// What a tool may do on one host pattern, merged across its rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct HostAccess {
    ports: BTreeSet<u16>,
    /// `None` is any method.
    methods: Option<BTreeSet<String>>,
    /// `None` is any path.
    paths: Option<BTreeSet<String>>,
    tunnelled: bool,
    private: BTreeSet<String>,
    websocket: bool,
}

fn access(tool: &Tool) -> BTreeMap<String, HostAccess> {
    let mut map: BTreeMap<String, HostAccess> = BTreeMap::new();
    for rule in &tool.rules {
        for host in &rule.hosts {
            let seen = map.contains_key(&host.to_string());
            let entry = map.entry(host.to_string()).or_default();
            entry.ports.extend(&rule.ports);
            entry.methods = union(seen, entry.methods.take(), rule.methods.clone());
            let paths = rule
                .paths
                .as_ref()
                .map(|p| p.iter().map(|p| p.to_string()).collect());
            entry.paths = union(seen, entry.paths.take(), paths);
            entry.tunnelled |= rule.traffic == Traffic::Tunnel;
            entry.websocket |= rule.websocket;
            entry
                .private
                .extend(rule.allow_private.iter().map(|n| n.to_string()));
        }
    }
    map
}

/// Union where `None` means "everything"; the first rule for a host starts the set.
fn union(
    seen: bool,
    current: Option<BTreeSet<String>>,
    next: Option<BTreeSet<String>>,
) -> Option<BTreeSet<String>> {
    match (seen, current, next) {
        (false, _, next) => next,
        (true, Some(mut a), Some(b)) => {
            a.extend(b);
            Some(a)
        }
        _ => None,
    }
}

fn access_changes(
    before: &BTreeMap<String, HostAccess>,
    after: &BTreeMap<String, HostAccess>,
    scope: &str,
    out: &mut Vec<Change>,
) {
    for (host, a) in after {
        match before.get(host) {
            None => push(
                out,
                Effect::Widens,
                scope,
                format!("host `{host}` added ({})", describe_access(a)),
            ),
            Some(b) if b != a => host_changes(host, b, a, scope, out),
            Some(_) => {}
        }
    }
    for host in before.keys().filter(|h| !after.contains_key(*h)) {
        push(out, Effect::Narrows, scope, format!("host `{host}` removed"));
    }
}

fn host_changes(host: &str, b: &HostAccess, a: &HostAccess, scope: &str, out: &mut Vec<Change>) {
    let ports = |s: &BTreeSet<u16>| s.iter().map(u16::to_string).collect::<BTreeSet<_>>();
    set_change(
        host,
        "ports",
        Some(ports(&b.ports)),
        Some(ports(&a.ports)),
        scope,
        out,
    );
    set_change(host, "methods", b.methods.clone(), a.methods.clone(), scope, out);
    set_change(host, "paths", b.paths.clone(), a.paths.clone(), scope, out);
    set_change(
        host,
        "private ranges",
        Some(b.private.clone()),
        Some(a.private.clone()),
        scope,
        out,
    );
    if b.websocket != a.websocket {
        let (effect, text) = if a.websocket {
            (
                Effect::Widens,
                format!("host `{host}`: WebSocket upgrades now allowed (client frames inspected)"),
            )
        } else {
            (
                Effect::Narrows,
                format!("host `{host}`: WebSocket upgrades no longer allowed"),
            )
        };
        push(out, effect, scope, text);
    }
    if b.tunnelled != a.tunnelled {
        let (effect, text) = if a.tunnelled {
            (
                Effect::Widens,
                format!("host `{host}`: now tunnel-only, no longer inspected"),
            )
        } else {
            (
                Effect::Narrows,
                format!("host `{host}`: now inspected instead of tunnelled"),
            )
        };
        push(out, effect, scope, text);
    }
}

/// Reports a change of an allow-set where `None` is "any".
fn set_change(
    host: &str,
    what: &str,
    b: Option<BTreeSet<String>>,
    a: Option<BTreeSet<String>>,
    scope: &str,
    out: &mut Vec<Change>,
) {
    match (b, a) {
        (Some(_), None) => push(
            out,
            Effect::Widens,
            scope,
            format!("host `{host}`: {what} widened to any"),
        ),
        (None, Some(a)) => push(
            out,
            Effect::Narrows,
            scope,
            format!("host `{host}`: {what} narrowed from any to {}", codes(&a)),
        ),
        (Some(b), Some(a)) => {
            let added: Vec<String> = a.difference(&b).cloned().collect();
            let removed: Vec<String> = b.difference(&a).cloned().collect();
            if !added.is_empty() {
                push(
                    out,
                    Effect::Widens,
                    scope,
                    format!("host `{host}`: {what} widened: adds {}", codes(&added)),
                );
            }
            if !removed.is_empty() {
                push(
                    out,
                    Effect::Narrows,
                    scope,
                    format!("host `{host}`: {what} narrowed: drops {}", codes(&removed)),
                );
            }
        }
        (None, None) => {}
    }
}

fn credential_changes(
    before: &[CredentialGrant],
    after: &[CredentialGrant],
    scope: &str,
    out: &mut Vec<Change>,
) {
    for grant in after {
        match before.iter().find(|g| g.name == grant.name) {
            None => push(
                out,
                Effect::Widens,
                scope,
                format!("credential `{}` granted: {}", grant.name, describe_grant(grant)),
            ),
            Some(old) if old != grant => grant_changes(old, grant, scope, out),
            Some(_) => {}
        }
    }
    for grant in before.iter().filter(|g| !after.iter().any(|a| a.name == g.name)) {
        push(
            out,
            Effect::Narrows,
            scope,
            format!("credential `{}` no longer granted", grant.name),
        );
    }
}

fn grant_changes(b: &CredentialGrant, a: &CredentialGrant, scope: &str, out: &mut Vec<Change>) {
    let name = &a.name;
    if b.source != a.source {
        push(
            out,
            Effect::Neutral,
            scope,
            format!(
                "credential `{name}`: source changed from {} to {}",
                describe_source(&b.source),
                describe_source(&a.source)
            ),
        );
    }
    if b.ttl != a.ttl {
        let effect = if a.ttl > b.ttl {
            Effect::Widens
        } else {
            Effect::Narrows
        };
        let verb = if a.ttl > b.ttl { "raised" } else { "lowered" };
        push(
            out,
            effect,
            scope,
            format!(
                "credential `{name}`: TTL {verb} from {} to {}",
                humantime::format_duration(b.ttl),
                humantime::format_duration(a.ttl)
            ),
        );
    }
    match (&b.delivery, &a.delivery) {
        (Delivery::Inject { .. }, Delivery::Direct) => push(
            out,
            Effect::Widens,
            scope,
            format!("credential `{name}`: now delivered directly; the tool sees the real value"),
        ),
        (Delivery::Direct, Delivery::Inject { .. }) => push(
            out,
            Effect::Narrows,
            scope,
            format!("credential `{name}`: now injected by the proxy; the tool sees only a placeholder"),
        ),
        (
            Delivery::Inject {
                hosts: hb,
                header: b_header,
                ..
            },
            Delivery::Inject {
                hosts: ha,
                header: a_header,
                ..
            },
        ) => {
            let set =
                |h: &Vec<super::host::HostPattern>| h.iter().map(|h| h.to_string()).collect::<BTreeSet<_>>();
            set_change(
                &format!("credential `{name}`"),
                "bound hosts",
                Some(set(hb)),
                Some(set(ha)),
                scope,
                out,
            );
            if b_header != a_header {
                push(
                    out,
                    Effect::Neutral,
                    scope,
                    format!("credential `{name}`: injected into `{a_header}` instead of `{b_header}`"),
                );
            }
        }
        (Delivery::Direct, Delivery::Direct) => {}
    }
}

fn detector_changes(before: &DetectorSettings, after: &DetectorSettings) -> Vec<(Effect, String)> {
    let mut out = Vec::new();
    for id in before.enabled.difference(&after.enabled) {
        out.push((Effect::Widens, format!("detector `{id}` switched off")));
    }
    for id in after.enabled.difference(&before.enabled) {
        out.push((Effect::Narrows, format!("detector `{id}` switched on")));
    }
    for exemption in after.exemptions.iter().filter(|e| !before.exemptions.contains(e)) {
        out.push((Effect::Widens, exemption_added(exemption)));
    }
    for exemption in before.exemptions.iter().filter(|e| !after.exemptions.contains(e)) {
        let hosts: Vec<String> = exemption.hosts.iter().map(|h| h.to_string()).collect();
        out.push((Effect::Narrows, format!("exemption removed on {}", codes(&hosts))));
    }
    out
}

fn exemption_added(exemption: &Exemption) -> String {
    let hosts: Vec<String> = exemption.hosts.iter().map(|h| h.to_string()).collect();
    let detectors: Vec<&String> = exemption.detectors.iter().collect();
    if exemption.fingerprints.is_empty() {
        return format!(
            "exemption added: {} not checked on {} (\"{}\")",
            codes(&detectors),
            codes(&hosts),
            exemption.reason
        );
    }
    let values: Vec<String> = exemption.fingerprints.iter().map(|f| f.to_string()).collect();
    let by = if detectors.is_empty() {
        "any detector".to_owned()
    } else {
        codes(&detectors)
    };
    format!(
        "exemption added: values {} let through on {} when found by {} (\"{}\")",
        codes(&values),
        codes(&hosts),
        by,
        exemption.reason
    )
}

/// The information budget: a higher or removed limit lets more data out a little at a time.
fn information_changes(b: &InformationBudget, a: &InformationBudget, out: &mut Vec<Change>) {
    for (what, before, after) in [
        (
            "bits per destination",
            b.bits_per_destination,
            a.bits_per_destination,
        ),
        ("distinct hostnames", b.distinct_hosts, a.distinct_hosts),
    ] {
        let (effect, text) = match (before, after) {
            (Some(x), Some(y)) if y > x => (Effect::Widens, format!("raised from {x} to {y}")),
            (Some(x), Some(y)) if y < x => (Effect::Narrows, format!("lowered from {x} to {y}")),
            (Some(x), None) => (Effect::Widens, format!("limit of {x} removed")),
            (None, Some(y)) => (Effect::Narrows, format!("limited to {y}")),
            _ => continue,
        };
        push(
            out,
            effect,
            "tenant",
            format!("information budget, {what}: {text}"),
        );
    }
}

fn budget_changes(b: &Limits, a: &Limits, scope_name: &str, out: &mut Vec<Change>) {
    for ((what, before, unit), (_, after, _)) in b.entries().into_iter().zip(a.entries()) {
        let show = |v: u128| match unit {
            LimitUnit::Count => v.to_string(),
            LimitUnit::Bytes => bytes(v),
            LimitUnit::Millis => millis(v),
        };
        let (effect, text) = match (before, after) {
            (Some(x), Some(y)) if y > x => {
                (Effect::Widens, format!("raised from {} to {}", show(x), show(y)))
            }
            (Some(x), Some(y)) if y < x => (
                Effect::Narrows,
                format!("lowered from {} to {}", show(x), show(y)),
            ),
            (Some(x), None) => (Effect::Widens, format!("limit of {} removed", show(x))),
            (None, Some(y)) => (Effect::Narrows, format!("limited to {}", show(y))),
            _ => continue,
        };
        push(
            out,
            effect,
            "tenant",
            format!("{scope_name} budget, {what}: {text}"),
        );
    }
}

fn bytes(v: u128) -> String {
    bytesize::ByteSize(u64::try_from(v).unwrap_or(u64::MAX))
        .display()
        .iec()
        .to_string()
}

fn millis(v: u128) -> String {
    humantime::format_duration(std::time::Duration::from_millis(
        u64::try_from(v).unwrap_or(u64::MAX),
    ))
    .to_string()
}

fn mode(m: Mode) -> &'static str {
    match m {
        Mode::Enforce => "enforce",
        Mode::Report => "report",
    }
}

fn mode_change(b: Mode, a: Mode) -> String {
    match a {
        Mode::Report => format!(
            "mode switched from {} to {}: denials are logged, no longer enforced",
            mode(b),
            mode(a)
        ),
        Mode::Enforce => format!(
            "mode switched from {} to {}: denials are now enforced",
            mode(b),
            mode(a)
        ),
    }
}

fn describe_access(a: &HostAccess) -> String {
    let ports: Vec<String> = a.ports.iter().map(u16::to_string).collect();
    let mut parts = vec![format!("ports {}", ports.join(", "))];
    parts.push(match &a.methods {
        None => "any method".to_owned(),
        Some(m) => format!("methods {}", m.iter().cloned().collect::<Vec<_>>().join(", ")),
    });
    parts.push(match &a.paths {
        None => "any path".to_owned(),
        Some(p) => format!("paths {}", p.iter().cloned().collect::<Vec<_>>().join(", ")),
    });
    if a.tunnelled {
        parts.push("tunnel-only, not inspected".to_owned());
    }
    if a.websocket {
        parts.push("WebSocket upgrades allowed".to_owned());
    }
    if !a.private.is_empty() {
        parts.push(format!(
            "private ranges {}",
            a.private.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    parts.join("; ")
}

fn describe_grant(grant: &CredentialGrant) -> String {
    let delivery = match &grant.delivery {
        Delivery::Direct => "delivered directly to the tool".to_owned(),
        Delivery::Inject { header, hosts, .. } => {
            let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
            format!("injected into `{header}` on {}", codes(&hosts))
        }
    };
    format!(
        "{}, TTL {}, {delivery}",
        describe_source(&grant.source),
        humantime::format_duration(grant.ttl)
    )
}

fn describe_source(source: &CredentialSource) -> String {
    match source {
        CredentialSource::VaultKv { path, field } => format!("vault-kv `{path}` field `{field}`"),
        CredentialSource::VaultDatabase { role } => format!("vault-database role `{role}`"),
        CredentialSource::VaultToken { role, policies } => {
            let role = role.as_deref().map_or(String::new(), |r| format!(" role `{r}`"));
            format!("vault-token{role} with policies [{}]", policies.join(", "))
        }
    }
}

fn codes<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_or_nothing(hosts: &[String]) -> String {
    if hosts.is_empty() {
        "no hosts".to_owned()
    } else {
        codes(hosts)
    }
}

fn or_none(owner: &Option<String>) -> &str {
    owner.as_deref().unwrap_or("(none)")
}

impl PolicyDiff {
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty()
    }

    fn count(&self, effect: Effect) -> usize {
        self.tenants
            .iter()
            .flat_map(|t| &t.changes)
            .filter(|c| c.effect == effect)
            .count()
    }

    fn summary(&self) -> String {
        if self.is_empty() {
            return "No access changes.".to_owned();
        }
        format!(
            "{} tenant(s) changed: {} widening(s), {} narrowing(s), {} other change(s).",
            self.tenants.len(),
            self.count(Effect::Widens),
            self.count(Effect::Narrows),
            self.count(Effect::Neutral)
        )
    }

    /// Plain text for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for tenant in &self.tenants {
            let _ = writeln!(
                out,
                "tenant {} (owner: {})",
                tenant.tenant,
                or_none(&tenant.owner)
            );
            for change in &tenant.changes {
                let mark = match change.effect {
                    Effect::Widens => "+ widens ",
                    Effect::Narrows => "- narrows",
                    Effect::Neutral => "~ changes",
                };
                let _ = writeln!(
                    out,
                    "  {mark}  {}: {}",
                    change.scope,
                    change.text.replace('`', "")
                );
            }
        }
        let _ = writeln!(out, "{}", self.summary());
        out
    }

    /// Markdown ready to paste as a pull-request comment.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("### Tollgate policy: access changes\n\n");
        let _ = writeln!(out, "{}\n", self.summary());
        for tenant in &self.tenants {
            let _ = writeln!(
                out,
                "#### Tenant `{}` (owner: {})\n",
                tenant.tenant,
                or_none(&tenant.owner)
            );
            let _ = writeln!(out, "| Effect | Scope | Change |\n|---|---|---|");
            for change in &tenant.changes {
                let effect = match change.effect {
                    Effect::Widens => "**widens**",
                    Effect::Narrows => "narrows",
                    Effect::Neutral => "changes",
                };
                let _ = writeln!(
                    out,
                    "| {effect} | {} | {} |",
                    change.scope.replace('|', "\\|"),
                    change.text.replace('|', "\\|")
                );
            }
            out.push('\n');
        }
        out
    }
}
