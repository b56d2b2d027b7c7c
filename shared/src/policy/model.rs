//! The validated policy model: what the proxy, the broker and the CLI act on. Every value
//! here has been checked; nothing refers back to TOML.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use serde::Serialize;

use super::host::HostPattern;
use super::path::PathPrefix;
pub use super::syntax::{CredentialSourceKind, Expect, Mode, OutputAction, Traffic, Unrecorded};

/// Every tenant's policy, with the defaults already folded in.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub tenants: BTreeMap<String, Tenant>,
    pub deny: Arc<DenyList>,
}

impl PolicySet {
    pub fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.tenants.get(id)
    }
}

/// Hosts no tenant may reach, from the defaults file.
#[derive(Debug, Clone, Default)]
pub struct DenyList {
    pub entries: Vec<DenyEntry>,
}

#[derive(Debug, Clone)]
pub struct DenyEntry {
    pub hosts: Vec<HostPattern>,
    pub reason: String,
}

/// Where an entity was written, for explanations and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub owner: Option<String>,
    pub mode: Mode,
    /// Refuse egress (the default) or let it go on while provenance cannot be written.
    pub provenance: Unrecorded,
    pub tools: Vec<Tool>,
    pub budgets: Budgets,
    /// The information budget of each invocation (`[budgets.information]`).
    pub information: InformationBudget,
    pub detectors: DetectorSettings,
    pub tests: Vec<InlineTest>,
    /// The global deny list, shared with every other tenant of the set.
    pub deny: Arc<DenyList>,
    pub origin: Origin,
}

impl Tenant {
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct Tool {
    pub name: String,
    /// The tenant's mode unless the tool overrides it.
    pub mode: Mode,
    pub rules: Vec<EgressRule>,
    pub credentials: Vec<CredentialGrant>,
    /// The tenant's detector settings with the tool's applied on top.
    pub detectors: DetectorSettings,
    /// What happens to fetched content with instructions for the model in it (the tool's
    /// setting, else the tenant's, else `strip`).
    pub output: OutputAction,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub struct EgressRule {
    pub id: String,
    pub hosts: Vec<HostPattern>,
    pub ports: BTreeSet<u16>,
    /// `None` means any method.
    pub methods: Option<BTreeSet<String>>,
    /// `None` means any path.
    pub paths: Option<Vec<PathPrefix>>,
    pub traffic: Traffic,
    pub allow_private: Vec<IpNet>,
    /// Upgrades to WebSocket allowed, their client frames inspected.
    pub websocket: bool,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialGrant {
    pub name: String,
    pub source: CredentialSource,
    pub ttl: Duration,
    pub delivery: Delivery,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    VaultKv {
        path: String,
        field: String,
    },
    VaultDatabase {
        role: String,
    },
    VaultToken {
        role: Option<String>,
        policies: Vec<String>,
    },
}

impl CredentialSource {
    pub fn kind(&self) -> CredentialSourceKind {
        match self {
            Self::VaultKv { .. } => CredentialSourceKind::VaultKv,
            Self::VaultDatabase { .. } => CredentialSourceKind::VaultDatabase,
            Self::VaultToken { .. } => CredentialSourceKind::VaultToken,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Direct,
    Inject {
        header: String,
        /// The header value with `{value}` where the credential goes.
        format: String,
        hosts: Vec<HostPattern>,
    },
}

/// Limits at each scope. `None` is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Budgets {
    pub invocation: Limits,
    pub session: Limits,
    pub tenant: Limits,
    /// Tell the tool what is left, in a response header.
    pub show_remaining: bool,
}

/// What one invocation may carry out a little at a time; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InformationBudget {
    /// Bits of unexplained data per destination (registrable domain).
    pub bits_per_destination: Option<u64>,
    /// Distinct hostnames per invocation.
    pub distinct_hosts: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub requests: Option<u64>,
    pub bytes_out: Option<u64>,
    pub bytes_in: Option<u64>,
    pub max_response: Option<u64>,
    pub wall_clock: Option<Duration>,
    pub concurrent_connections: Option<u64>,
    pub requests_per_minute: Option<u64>,
    pub tool_calls: Option<u64>,
}

/// How a limit's value reads to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitUnit {
    Count,
    Bytes,
    Millis,
}

impl Limits {
    /// Every limit with its name and unit, durations in milliseconds: one list for the code
    /// that reports, compares or enforces limits one by one.
    pub fn entries(&self) -> [(&'static str, Option<u128>, LimitUnit); 8] {
        let count = |v: Option<u64>| v.map(u128::from);
        [
            ("requests", count(self.requests), LimitUnit::Count),
            ("bytes out", count(self.bytes_out), LimitUnit::Bytes),
            ("bytes in", count(self.bytes_in), LimitUnit::Bytes),
            ("largest response", count(self.max_response), LimitUnit::Bytes),
            (
                "wall clock",
                self.wall_clock.map(|d| d.as_millis()),
                LimitUnit::Millis,
            ),
            (
                "concurrent connections",
                count(self.concurrent_connections),
                LimitUnit::Count,
            ),
            (
                "requests per minute",
                count(self.requests_per_minute),
                LimitUnit::Count,
            ),
            ("tool calls", count(self.tool_calls), LimitUnit::Count),
        ]
    }

    /// `self` where set, else `fallback`: a tenant's limits over the defaults.
    pub fn or(self, fallback: Limits) -> Limits {
        Limits {
            requests: self.requests.or(fallback.requests),
            bytes_out: self.bytes_out.or(fallback.bytes_out),
            bytes_in: self.bytes_in.or(fallback.bytes_in),
            max_response: self.max_response.or(fallback.max_response),
            wall_clock: self.wall_clock.or(fallback.wall_clock),
            concurrent_connections: self.concurrent_connections.or(fallback.concurrent_connections),
            requests_per_minute: self.requests_per_minute.or(fallback.requests_per_minute),
            tool_calls: self.tool_calls.or(fallback.tool_calls),
        }
    }
}

/// Which detectors run, and where named detectors are exempted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetectorSettings {
    pub enabled: BTreeSet<String>,
    pub exemptions: Vec<Exemption>,
}

/// Detectors switched off on some hosts; or, when `fingerprints` is not empty, only those
/// values let through on those hosts (by the listed detectors, or by any when none is listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    pub hosts: Vec<HostPattern>,
    pub detectors: BTreeSet<String>,
    pub fingerprints: BTreeSet<crate::detect::Fingerprint>,
    pub reason: String,
}

/// A request with the decision it must get.
#[derive(Debug, Clone)]
pub struct InlineTest {
    pub name: String,
    pub tool: String,
    pub method: String,
    pub url: url::Url,
    pub expect: Expect,
    pub reason: Option<String>,
    pub origin: Origin,
}
