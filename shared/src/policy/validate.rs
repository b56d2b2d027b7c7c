//! Syntax → model. Every field of every syntax type is destructured, so a field added to the
//! file format cannot be silently ignored here. Problems are reported through the
//! [`Reporter`] with the pointer of the value concerned; validation goes on after an error so
//! that one run shows them all.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use super::diag::{Lint, Reporter};
use super::host::HostPattern;
use super::lint;
use super::model::{
    Budgets, CredentialGrant, CredentialSource, Delivery, DenyEntry, DenyList, DetectorSettings, EgressRule,
    Exemption, InformationBudget, InlineTest, Limits, Tenant, Tool,
};
use super::path::PathPrefix;
use super::pointer::Pointer;
use super::schema::closest;
use super::syntax as s;
use crate::decision::Reason;
use crate::detect;

/// The parts of the defaults file every tenant inherits.
#[derive(Debug, Clone, Default)]
pub(crate) struct Defaults {
    pub(crate) deny: Arc<DenyList>,
    pub(crate) budgets: Budgets,
    pub(crate) information: InformationBudget,
    pub(crate) detectors: DetectorSettings,
}

/// Limits above these are almost certainly a typo (an extra zero, bytes for kilobytes).
const ABSURD_COUNT: u64 = 10_000_000;
const ABSURD_BYTES: u64 = 1 << 40;
const ABSURD_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
const ABSURD_CONCURRENCY: u64 = 100_000;

pub(crate) fn defaults(file: s::DefaultsFile, r: &mut Reporter<'_>) -> Defaults {
    let s::DefaultsFile {
        version,
        deny,
        budgets: budget_section,
        detectors: detector_section,
    } = file;
    let root = Pointer::root();
    check_version(version, &root, r);
    let entries = deny
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let at = root.key("deny").index(i);
            let s::DenySection { hosts, reason } = entry;
            require_reason(&reason, &at, r);
            DenyEntry {
                hosts: host_list(&hosts, &at.key("hosts"), r, HostsFor::Denial),
                reason,
            }
        })
        .collect();
    let base = DetectorSettings {
        enabled: detect::default_enabled().map(str::to_owned).collect(),
        exemptions: Vec::new(),
    };
    Defaults {
        deny: Arc::new(DenyList { entries }),
        budgets: budgets(&budget_section, &root.key("budgets"), r),
        information: information(&budget_section, &root.key("budgets"), r),
        detectors: detectors(&base, detector_section, &root.key("detectors"), r),
    }
}

/// Validates one tenant file. `stem` is the file name without `.toml`.
pub(crate) fn tenant(file: s::TenantFile, stem: &str, defaults: &Defaults, r: &mut Reporter<'_>) -> Tenant {
    let s::TenantFile {
        version,
        tenant,
        tools,
        budgets: budget_section,
        detectors: detector_section,
        output,
        tests,
    } = file;
    let root = Pointer::root();
    check_version(version, &root, r);
    let s::TenantSection {
        id,
        owner,
        mode,
        description: _,
        provenance,
    } = tenant;
    check_tenant_id(&id, stem, &root.key("tenant").key("id"), r);
    if owner.as_deref().is_none_or(|o| o.trim().is_empty()) {
        r.lint(
            Lint::MissingOwner,
            &root.key("tenant"),
            "tenant has no owner to review its policy".to_owned(),
            Some("add `owner = \"team@example.com\"` under [tenant]".to_owned()),
        );
    }
    let tenant_detectors = detectors(&defaults.detectors, detector_section, &root.key("detectors"), r);
    let tools = tool_list(tools, mode, &tenant_detectors, output.action, r);
    let tests = test_list(tests, &tools, r);
    Tenant {
        id,
        owner,
        mode,
        provenance,
        budgets: merge_budgets(
            budgets(&budget_section, &root.key("budgets"), r),
            budget_section.show_remaining,
            &defaults.budgets,
        ),
        information: merge_information(
            information(&budget_section, &root.key("budgets"), r),
            &defaults.information,
        ),
        detectors: tenant_detectors,
        tools,
        tests,
        deny: Arc::clone(&defaults.deny),
        origin: r.origin(&root.key("tenant")),
    }
}

fn check_version(version: u32, root: &Pointer, r: &mut Reporter<'_>) {
    if version != 1 {
        r.error(
            "unsupported-version",
            &root.key("version"),
            format!("policy version {version} is not supported"),
            Some("set `version = 1`".to_owned()),
        );
    }
}

fn check_tenant_id(id: &str, stem: &str, at: &Pointer, r: &mut Reporter<'_>) {
    let valid = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        r.error(
            "invalid-id",
            at,
            format!("tenant id {id:?} may use only lowercase letters, digits and `-`"),
            Some(format!("use \"{}\"", slug(id))),
        );
    } else if id != stem {
        r.error(
            "id-mismatch",
            at,
            format!("tenant id {id:?} does not match the file name {stem:?}.toml"),
            Some(format!("rename the file to {id}.toml or set `id = \"{stem}\"`")),
        );
    }
}

fn slug(text: &str) -> String {
    text.to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn tool_list(
    tools: Vec<s::ToolSection>,
    mode: s::Mode,
    detectors: &DetectorSettings,
    output: Option<s::OutputAction>,
    r: &mut Reporter<'_>,
) -> Vec<Tool> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, section) in tools.into_iter().enumerate() {
        let at = Pointer::root().key("tools").index(i);
        if !seen.insert(section.name.clone()) {
            r.error(
                "duplicate-tool",
                &at.key("name"),
                format!("tool {:?} is defined twice", section.name),
                Some("merge the two tool tables or rename one".to_owned()),
            );
        }
        out.push(tool(section, mode, detectors, output, &at, r));
    }
    out
}

fn tool(
    section: s::ToolSection,
    tenant_mode: s::Mode,
    tenant_detectors: &DetectorSettings,
    tenant_output: Option<s::OutputAction>,
    at: &Pointer,
    r: &mut Reporter<'_>,
) -> Tool {
    let s::ToolSection {
        name,
        description: _,
        mode,
        egress,
        credentials,
        detectors: detector_section,
        output,
    } = section;
    if name.trim().is_empty() {
        r.error(
            "invalid-value",
            &at.key("name"),
            "tool name is empty".to_owned(),
            None,
        );
    }
    let rules = rule_list(egress, at, r);
    lint::rules(&rules, at, r);
    let credentials = credential_list(credentials, &rules, at, r);
    let detectors = match detector_section {
        Some(section) => detectors(tenant_detectors, section, &at.key("detectors"), r),
        None => tenant_detectors.clone(),
    };
    Tool {
        name,
        mode: mode.unwrap_or(tenant_mode),
        rules,
        credentials,
        detectors,
        output: output
            .and_then(|o| o.action)
            .or(tenant_output)
            .unwrap_or_default(),
        origin: r.origin(at),
    }
}

fn rule_list(egress: Vec<s::EgressRuleSection>, tool_at: &Pointer, r: &mut Reporter<'_>) -> Vec<EgressRule> {
    let mut ids = HashSet::new();
    egress
        .into_iter()
        .enumerate()
        .map(|(i, section)| {
            let at = tool_at.key("egress").index(i);
            if !ids.insert(section.id.clone()) {
                r.error(
                    "duplicate-rule-id",
                    &at.key("id"),
                    format!("rule id {:?} is used twice in this tool", section.id),
                    Some("give each rule its own id".to_owned()),
                );
            }
            rule(section, &at, r)
        })
        .collect()
}

fn rule(section: s::EgressRuleSection, at: &Pointer, r: &mut Reporter<'_>) -> EgressRule {
    let s::EgressRuleSection {
        id,
        hosts,
        ports,
        methods,
        paths,
        traffic,
        allow_private,
        websocket,
    } = section;
    if traffic == s::Traffic::Tunnel && websocket {
        r.error(
            "tunnel-with-http-rules",
            &at.key("websocket"),
            "a tunnel rule cannot inspect WebSocket frames: its traffic is never decrypted".to_owned(),
            Some("remove `websocket` or set `traffic = \"inspect\"`".to_owned()),
        );
    }
    if traffic == s::Traffic::Tunnel && (methods.is_some() || paths.is_some()) {
        let key = if methods.is_some() { "methods" } else { "paths" };
        r.error(
            "tunnel-with-http-rules",
            &at.key(key),
            "a tunnel rule cannot check methods or paths: its traffic is never decrypted".to_owned(),
            Some(format!("remove `{key}` or set `traffic = \"inspect\"`")),
        );
    }
    let hosts = host_list(&hosts, &at.key("hosts"), r, HostsFor::Access);
    EgressRule {
        id,
        hosts,
        ports: port_set(ports, &at.key("ports"), r),
        methods: methods.map(|m| method_set(&m, &at.key("methods"), r)),
        paths: paths.map(|p| path_list(&p, &at.key("paths"), r)),
        traffic,
        allow_private: cidr_list(&allow_private, &at.key("allow_private"), r),
        websocket,
        origin: r.origin(at),
    }
}

/// What a host list is for: lists that grant access get the broad-wildcard lint; the global
/// deny list may be as broad as it likes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostsFor {
    Access,
    Denial,
}

fn host_list(hosts: &[String], at: &Pointer, r: &mut Reporter<'_>, purpose: HostsFor) -> Vec<HostPattern> {
    if hosts.is_empty() {
        r.error(
            "empty-list",
            at,
            "no hosts listed".to_owned(),
            Some("list at least one host, e.g. `[\"api.example.com\"]`".to_owned()),
        );
    }
    hosts
        .iter()
        .enumerate()
        .filter_map(|(i, text)| match HostPattern::parse(text) {
            Ok(pattern) if pattern.is_public_suffix_wildcard() && purpose == HostsFor::Access => {
                r.lint(
                    Lint::BroadWildcard,
                    &at.index(i),
                    format!("`{pattern}` matches every name under a public suffix"),
                    Some("name the organisation's domain, e.g. `*.example.com`".to_owned()),
                );
                Some(pattern)
            }
            Ok(pattern) => Some(pattern),
            Err(e) => {
                let fix = e.fix().map(|f| format!("use \"{f}\""));
                r.error("invalid-host", &at.index(i), format!("host {text:?}: {e}"), fix);
                None
            }
        })
        .collect()
}

fn port_set(ports: Option<Vec<u16>>, at: &Pointer, r: &mut Reporter<'_>) -> BTreeSet<u16> {
    let ports = ports.unwrap_or_else(|| vec![443]);
    if ports.is_empty() {
        r.error(
            "empty-list",
            at,
            "no ports listed".to_owned(),
            Some("list at least one port, or remove `ports` for the default [443]".to_owned()),
        );
    }
    if let Some(i) = ports.iter().position(|p| *p == 0) {
        r.error(
            "invalid-port",
            &at.index(i),
            "port 0 is not a destination port".to_owned(),
            None,
        );
    }
    ports.into_iter().filter(|p| *p != 0).collect()
}

fn method_set(methods: &[String], at: &Pointer, r: &mut Reporter<'_>) -> BTreeSet<String> {
    if methods.is_empty() {
        r.error(
            "empty-list",
            at,
            "no methods listed".to_owned(),
            Some("remove `methods` to allow any method".to_owned()),
        );
    }
    let mut out = BTreeSet::new();
    for (i, method) in methods.iter().enumerate() {
        let token = !method.is_empty()
            && method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if method == "*" {
            r.error(
                "invalid-method",
                &at.index(i),
                "`*` is not a method".to_owned(),
                Some("remove `methods` to allow any method".to_owned()),
            );
        } else if !token {
            r.error(
                "invalid-method",
                &at.index(i),
                format!("{method:?} is not an HTTP method"),
                None,
            );
        } else if method.bytes().any(|b| b.is_ascii_lowercase()) {
            r.error(
                "invalid-method",
                &at.index(i),
                format!("method {method:?} must be uppercase (methods are case-sensitive)"),
                Some(format!("use \"{}\"", method.to_ascii_uppercase())),
            );
        } else if !out.insert(method.clone()) {
            r.lint(
                Lint::DuplicateRule,
                &at.index(i),
                format!("method {method} is listed twice"),
                Some("remove the duplicate".to_owned()),
            );
        }
    }
    out
}

fn path_list(paths: &[String], at: &Pointer, r: &mut Reporter<'_>) -> Vec<PathPrefix> {
    if paths.is_empty() {
        r.error(
            "empty-list",
            at,
            "no paths listed".to_owned(),
            Some("remove `paths` to allow any path".to_owned()),
        );
    }
    paths
        .iter()
        .enumerate()
        .filter_map(|(i, text)| match PathPrefix::parse(text) {
            Ok(prefix) => Some(prefix),
            Err(e) => {
                r.error(
                    "invalid-path",
                    &at.index(i),
                    format!("path {text:?}: {e}"),
                    Some(format!("use \"{}\"", e.fix())),
                );
                None
            }
        })
        .collect()
}

fn cidr_list(ranges: &[String], at: &Pointer, r: &mut Reporter<'_>) -> Vec<IpNet> {
    ranges
        .iter()
        .enumerate()
        .filter_map(|(i, text)| match text.parse::<IpNet>() {
            Ok(net) if net.trunc() == net => Some(net),
            Ok(net) => {
                r.error(
                    "invalid-cidr",
                    &at.index(i),
                    format!("{text:?} has host bits set"),
                    Some(format!("use \"{}\"", net.trunc())),
                );
                None
            }
            Err(_) => {
                let fix = text
                    .parse::<std::net::IpAddr>()
                    .ok()
                    .map(|ip| format!("use \"{}\"", IpNet::from(ip)));
                r.error(
                    "invalid-cidr",
                    &at.index(i),
                    format!("{text:?} is not an address range in CIDR form"),
                    fix,
                );
                None
            }
        })
        .collect()
}

fn credential_list(
    credentials: Vec<s::CredentialSection>,
    rules: &[EgressRule],
    tool_at: &Pointer,
    r: &mut Reporter<'_>,
) -> Vec<CredentialGrant> {
    let mut names = HashSet::new();
    credentials
        .into_iter()
        .enumerate()
        .filter_map(|(i, section)| {
            let at = tool_at.key("credentials").index(i);
            if !names.insert(section.name.clone()) {
                r.error(
                    "duplicate-credential",
                    &at.key("name"),
                    format!("credential {:?} is granted twice to this tool", section.name),
                    None,
                );
            }
            let grant = credential(section, &at, r)?;
            lint::credential(&grant, rules, &at, r);
            Some(grant)
        })
        .collect()
}

fn credential(section: s::CredentialSection, at: &Pointer, r: &mut Reporter<'_>) -> Option<CredentialGrant> {
    let s::CredentialSection {
        name,
        source,
        path,
        role,
        field,
        policies,
        ttl,
        delivery,
        inject,
    } = section;
    let source = credential_source(source, path, role, field, policies, at, r);
    let ttl = duration(&ttl, &at.key("ttl"), r);
    if ttl == Some(Duration::ZERO) {
        r.error(
            "invalid-duration",
            &at.key("ttl"),
            "a credential TTL of zero would expire before use".to_owned(),
            Some("use e.g. \"15m\"".to_owned()),
        );
    }
    let delivery = match (delivery, inject) {
        (s::Delivery::Direct, None) => Some(Delivery::Direct),
        (s::Delivery::Direct, Some(_)) => {
            r.error_at_key(
                "inject-without-delivery",
                &at.key("inject"),
                "`inject` settings on a credential delivered `direct`".to_owned(),
                Some("set `delivery = \"inject\"` or remove the inject table".to_owned()),
            );
            None
        }
        (s::Delivery::Inject, Some(section)) => inject_delivery(section, &at.key("inject"), r),
        (s::Delivery::Inject, None) => {
            r.error("missing-key", at, "`delivery = \"inject\"` needs an inject table".to_owned(), Some("add `inject = { header = \"Authorization\", format = \"Bearer {value}\", hosts = [...] }`".to_owned()));
            None
        }
    };
    Some(CredentialGrant {
        name,
        source: source?,
        ttl: ttl?,
        delivery: delivery?,
    })
}

fn credential_source(
    kind: s::CredentialSourceKind,
    path: Option<String>,
    role: Option<String>,
    field: Option<String>,
    policies: Option<Vec<String>>,
    at: &Pointer,
    r: &mut Reporter<'_>,
) -> Option<CredentialSource> {
    let mut required = |key: &str, value: Option<String>| {
        if value.is_none() {
            r.error(
                "missing-key",
                at,
                format!("a {} credential needs `{key}`", kind_name(kind)),
                Some(format!("add `{key} = ...`")),
            );
        }
        value
    };
    let source = match kind {
        s::CredentialSourceKind::VaultKv => Some(CredentialSource::VaultKv {
            path: required("path", path.clone())?,
            field: required("field", field.clone())?,
        }),
        s::CredentialSourceKind::VaultDatabase => Some(CredentialSource::VaultDatabase {
            role: required("role", role.clone())?,
        }),
        s::CredentialSourceKind::VaultToken => Some(CredentialSource::VaultToken {
            role: role.clone(),
            policies: policies.clone().unwrap_or_default(),
        }),
    };
    let stray: &[(&str, bool)] = match kind {
        s::CredentialSourceKind::VaultKv => &[("role", role.is_some()), ("policies", policies.is_some())],
        s::CredentialSourceKind::VaultDatabase => &[
            ("path", path.is_some()),
            ("field", field.is_some()),
            ("policies", policies.is_some()),
        ],
        s::CredentialSourceKind::VaultToken => &[("path", path.is_some()), ("field", field.is_some())],
    };
    for (key, _) in stray.iter().filter(|(_, present)| *present) {
        r.error_at_key(
            "key-not-applicable",
            &at.key(key),
            format!("`{key}` does not apply to a {} credential", kind_name(kind)),
            Some(format!("remove `{key}`")),
        );
    }
    source
}

fn kind_name(kind: s::CredentialSourceKind) -> &'static str {
    match kind {
        s::CredentialSourceKind::VaultKv => "vault-kv",
        s::CredentialSourceKind::VaultDatabase => "vault-database",
        s::CredentialSourceKind::VaultToken => "vault-token",
    }
}

fn inject_delivery(section: s::InjectSection, at: &Pointer, r: &mut Reporter<'_>) -> Option<Delivery> {
    let s::InjectSection {
        header,
        format,
        hosts,
    } = section;
    let format = format.unwrap_or_else(|| "{value}".to_owned());
    let token = !header.is_empty()
        && header
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        r.error(
            "invalid-header",
            &at.key("header"),
            format!("{header:?} is not a valid header name"),
            None,
        );
    }
    if format.matches("{value}").count() != 1 {
        r.error(
            "invalid-format",
            &at.key("format"),
            "the format must contain `{value}` exactly once".to_owned(),
            Some("e.g. \"Bearer {value}\"".to_owned()),
        );
    }
    let hosts = host_list(&hosts, &at.key("hosts"), r, HostsFor::Access);
    (token && format.matches("{value}").count() == 1).then_some(Delivery::Inject {
        header,
        format,
        hosts,
    })
}

fn duration(text: &str, at: &Pointer, r: &mut Reporter<'_>) -> Option<Duration> {
    match humantime::parse_duration(text) {
        Ok(d) => Some(d),
        Err(e) => {
            r.error(
                "invalid-duration",
                at,
                format!("{text:?} is not a duration: {e}"),
                Some("write e.g. \"30s\", \"15m\" or \"1h 30m\"".to_owned()),
            );
            None
        }
    }
}

fn byte_size(size: &s::ByteSize, at: &Pointer, r: &mut Reporter<'_>) -> Option<u64> {
    match size {
        s::ByteSize::Count(n) => Some(*n),
        s::ByteSize::Text(text) => match text.parse::<bytesize::ByteSize>() {
            Ok(size) => Some(size.as_u64()),
            Err(_) => {
                r.error(
                    "invalid-size",
                    at,
                    format!("{text:?} is not a size"),
                    Some("write a byte count or e.g. \"512KiB\", \"10MiB\", \"1GB\"".to_owned()),
                );
                None
            }
        },
    }
}

fn budgets(section: &s::BudgetsSection, at: &Pointer, r: &mut Reporter<'_>) -> Budgets {
    let s::BudgetsSection {
        invocation,
        session,
        tenant,
        show_remaining,
        information: _, // its own model type, see `information`
    } = section;
    let mut scope = |name: &str, limits: &Option<s::LimitsSection>| {
        limits
            .as_ref()
            .map(|l| self::limits(l, name, &at.key(name), r))
            .unwrap_or_default()
    };
    Budgets {
        invocation: scope("invocation", invocation),
        session: scope("session", session),
        tenant: scope("tenant", tenant),
        show_remaining: show_remaining.unwrap_or(false),
    }
}

fn limits(section: &s::LimitsSection, scope: &str, at: &Pointer, r: &mut Reporter<'_>) -> Limits {
    let s::LimitsSection {
        requests,
        bytes_out,
        bytes_in,
        max_response,
        wall_clock,
        concurrent_connections,
        requests_per_minute,
        tool_calls,
    } = section;
    if tool_calls.is_some() && scope != "session" {
        r.error_at_key(
            "misplaced-budget",
            &at.key("tool_calls"),
            "`tool_calls` counts calls per session".to_owned(),
            Some("move it to [budgets.session]".to_owned()),
        );
    }
    let mut count = |key: &str, value: &Option<u64>, absurd: u64| {
        value.inspect(|v| check_limit(*v as u128, absurd as u128, &at.key(key), r))
    };
    let mut limits = Limits {
        requests: count("requests", requests, ABSURD_COUNT),
        concurrent_connections: count(
            "concurrent_connections",
            concurrent_connections,
            ABSURD_CONCURRENCY,
        ),
        requests_per_minute: count("requests_per_minute", requests_per_minute, ABSURD_COUNT),
        tool_calls: count("tool_calls", tool_calls, ABSURD_COUNT).filter(|_| scope == "session"),
        ..Limits::default()
    };
    for (key, value, slot) in [
        ("bytes_out", bytes_out, &mut limits.bytes_out),
        ("bytes_in", bytes_in, &mut limits.bytes_in),
        ("max_response", max_response, &mut limits.max_response),
    ] {
        *slot = value.as_ref().and_then(|v| byte_size(v, &at.key(key), r));
        slot.inspect(|v| check_limit(*v as u128, ABSURD_BYTES as u128, &at.key(key), r));
    }
    limits.wall_clock = wall_clock
        .as_ref()
        .and_then(|w| duration(w, &at.key("wall_clock"), r));
    limits.wall_clock.inspect(|d| {
        check_limit(
            d.as_millis(),
            ABSURD_DURATION.as_millis(),
            &at.key("wall_clock"),
            r,
        )
    });
    limits
}

fn check_limit(value: u128, absurd: u128, at: &Pointer, r: &mut Reporter<'_>) {
    if value == 0 {
        r.lint(
            Lint::ZeroBudget,
            at,
            "a budget of zero blocks everything it covers".to_owned(),
            Some("remove the tool or its rules instead, or set a real limit".to_owned()),
        );
    } else if value > absurd {
        r.lint(
            Lint::AbsurdBudget,
            at,
            "this budget is so large it is probably a typo".to_owned(),
            Some("check the unit; remove the limit if none is wanted".to_owned()),
        );
    }
}

/// `[budgets.information]`, checked like the other limits.
fn information(section: &s::BudgetsSection, at: &Pointer, r: &mut Reporter<'_>) -> InformationBudget {
    let Some(s::InformationSection {
        bits_per_destination,
        distinct_hosts,
    }) = &section.information
    else {
        return InformationBudget::default();
    };
    let at = at.key("information");
    let mut count = |key: &str, value: &Option<u64>| {
        value.inspect(|v| {
            if *v == 0 {
                r.error(
                    "zero-limit",
                    &at.key(key),
                    format!("`{key}` = 0 refuses every request"),
                    Some("leave it out for no limit, or give a positive number".to_owned()),
                );
            }
            check_limit(u128::from(*v), u128::from(ABSURD_COUNT), &at.key(key), r);
        })
    };
    InformationBudget {
        bits_per_destination: count("bits_per_destination", bits_per_destination),
        distinct_hosts: count("distinct_hosts", distinct_hosts),
    }
}

/// A tenant's information budget over the defaults, field by field.
fn merge_information(own: InformationBudget, defaults: &InformationBudget) -> InformationBudget {
    InformationBudget {
        bits_per_destination: own.bits_per_destination.or(defaults.bits_per_destination),
        distinct_hosts: own.distinct_hosts.or(defaults.distinct_hosts),
    }
}

/// A tenant's budgets over the defaults: limits field by field, and `show_remaining` as the
/// tenant says if it says anything.
fn merge_budgets(own: Budgets, explicit_show: Option<bool>, defaults: &Budgets) -> Budgets {
    Budgets {
        invocation: own.invocation.or(defaults.invocation),
        session: own.session.or(defaults.session),
        tenant: own.tenant.or(defaults.tenant),
        show_remaining: explicit_show.unwrap_or(defaults.show_remaining),
    }
}

/// `base` with `section`'s switches and exemptions applied.
fn detectors(
    base: &DetectorSettings,
    section: s::DetectorsSection,
    at: &Pointer,
    r: &mut Reporter<'_>,
) -> DetectorSettings {
    let s::DetectorsSection {
        enable,
        disable,
        exemptions,
    } = section;
    let mut settings = base.clone();
    let enable = detector_ids(&enable, &at.key("enable"), r);
    let disable = detector_ids(&disable, &at.key("disable"), r);
    for (i, id) in disable.iter().enumerate() {
        if enable.contains(id) {
            r.error(
                "conflicting-detectors",
                &at.key("disable").index(i),
                format!("detector {id:?} is both enabled and disabled"),
                Some("keep it in one list".to_owned()),
            );
        }
        settings.enabled.remove(id);
    }
    settings.enabled.extend(enable);
    for (i, exemption) in exemptions.into_iter().enumerate() {
        let at = at.key("exemptions").index(i);
        let s::ExemptionSection {
            hosts,
            detectors,
            fingerprints,
            reason,
        } = exemption;
        require_reason(&reason, &at, r);
        if detectors.is_empty() && fingerprints.is_empty() {
            r.error(
                "empty-exemption",
                &at,
                "this exemption names neither detectors nor fingerprints".to_owned(),
                Some("list the detectors to switch off, or the fingerprints to let through".to_owned()),
            );
        }
        settings.exemptions.push(Exemption {
            hosts: host_list(&hosts, &at.key("hosts"), r, HostsFor::Access),
            detectors: detector_ids(&detectors, &at.key("detectors"), r)
                .into_iter()
                .collect(),
            fingerprints: fingerprint_list(&fingerprints, &at.key("fingerprints"), r),
            reason,
        });
    }
    settings
}

fn fingerprint_list(texts: &[String], at: &Pointer, r: &mut Reporter<'_>) -> BTreeSet<detect::Fingerprint> {
    let mut out = BTreeSet::new();
    for (i, text) in texts.iter().enumerate() {
        match text.parse::<detect::Fingerprint>() {
            Ok(fingerprint) => {
                out.insert(fingerprint);
            }
            Err(e) => r.error(
                "invalid-fingerprint",
                &at.index(i),
                e.to_string(),
                Some("copy the fingerprint from the finding, e.g. \"fp:0123...\"".to_owned()),
            ),
        }
    }
    out
}

fn detector_ids(ids: &[String], at: &Pointer, r: &mut Reporter<'_>) -> Vec<String> {
    ids.iter()
        .enumerate()
        .filter(|(i, id)| {
            let known = detect::lookup(id).is_some();
            if !known {
                let fix = closest(id, detect::CATALOG.iter().map(|d| d.id))
                    .map(|c| format!("did you mean \"{c}\"?"));
                r.error(
                    "unknown-detector",
                    &at.index(*i),
                    format!("there is no detector {id:?}"),
                    fix,
                );
            }
            known
        })
        .map(|(_, id)| id.clone())
        .collect()
}

fn require_reason(reason: &str, at: &Pointer, r: &mut Reporter<'_>) {
    if reason.trim().is_empty() {
        r.error(
            "missing-reason",
            &at.key("reason"),
            "the reason is empty".to_owned(),
            Some("say why this is safe; reviewers read it".to_owned()),
        );
    }
}

fn test_list(tests: Vec<s::TestSection>, tools: &[Tool], r: &mut Reporter<'_>) -> Vec<InlineTest> {
    tests
        .into_iter()
        .enumerate()
        .filter_map(|(i, section)| inline_test(section, i, tools, &Pointer::root().key("tests").index(i), r))
        .collect()
}

fn inline_test(
    section: s::TestSection,
    index: usize,
    tools: &[Tool],
    at: &Pointer,
    r: &mut Reporter<'_>,
) -> Option<InlineTest> {
    let s::TestSection {
        name,
        tool,
        request,
        expect,
        reason,
    } = section;
    if !tools.iter().any(|t| t.name == tool) {
        let fix =
            closest(&tool, tools.iter().map(|t| t.name.as_str())).map(|t| format!("did you mean \"{t}\"?"));
        r.error(
            "unknown-tool",
            &at.key("tool"),
            format!("no tool {tool:?} in this policy"),
            fix,
        );
    }
    let parsed = parse_request(&request);
    if parsed.is_none() {
        r.error(
            "invalid-request",
            &at.key("request"),
            format!("{request:?} is not `METHOD URL`"),
            Some("write e.g. \"GET https://api.example.com/v1/items\"".to_owned()),
        );
    }
    if let Some(code) = &reason {
        // Only the decision's codes: a policy test runs the decision, nothing else.
        match Reason::parse(code).filter(|r| Reason::DECISIONS.contains(r)) {
            None => {
                let fix = closest(code, Reason::DECISIONS.iter().map(|r| r.as_str()))
                    .map(|c| format!("did you mean \"{c}\"?"));
                r.error(
                    "unknown-reason",
                    &at.key("reason"),
                    format!("there is no decision reason code {code:?}"),
                    fix,
                );
            }
            Some(found) if (found == Reason::Allowed) != (expect == s::Expect::Allow) => {
                r.error(
                    "contradictory-test",
                    &at.key("reason"),
                    format!("reason {code:?} contradicts `expect`"),
                    None,
                );
            }
            Some(_) => {}
        }
    }
    let (method, url) = parsed?;
    Some(InlineTest {
        name: name.unwrap_or_else(|| format!("#{}", index + 1)),
        tool,
        method,
        url,
        expect,
        reason,
        origin: r.origin(at),
    })
}

/// Splits `GET https://host/path` into an uppercase method and an http(s) URL.
pub(crate) fn parse_request(text: &str) -> Option<(String, url::Url)> {
    let (method, target) = text.trim().split_once(char::is_whitespace)?;
    let url = url::Url::parse(target.trim()).ok()?;
    let valid = matches!(url.scheme(), "http" | "https") && url.host().is_some() && !method.is_empty();
    valid.then(|| (method.to_owned(), url))
}
