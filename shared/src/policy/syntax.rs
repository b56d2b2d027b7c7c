//! The policy files as a person writes them: serde types that mirror the TOML exactly.
//! Nothing here is trusted; [`super::validate`] turns these into the model. The JSON Schema
//! that editors use and that the loader checks every file against is generated from these
//! types, so the two cannot drift apart.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A tenant's policy: `policies/tenants/<tenant>.toml`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Tollgate tenant policy")]
pub struct TenantFile {
    /// Policy format version. Only `1` exists.
    pub version: u32,
    pub tenant: TenantSection,
    /// The tools this tenant runs, each with its egress rules and credential grants.
    #[serde(default)]
    pub tools: Vec<ToolSection>,
    #[serde(default)]
    pub budgets: BudgetsSection,
    #[serde(default)]
    pub detectors: DetectorsSection,
    /// What the proxy does with fetched content that carries instructions for the model
    /// (tool output protection); every tool inherits it unless it sets its own.
    #[serde(default)]
    pub output: OutputSection,
    /// Requests with the decision they must get; `tollgate policy test` runs them.
    #[serde(default)]
    pub tests: Vec<TestSection>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    /// Lowercase letters, digits and `-`; must equal the file name without `.toml`.
    pub id: String,
    /// Who reviews changes to this policy (a team or person, ideally an email or handle).
    pub owner: Option<String>,
    /// `enforce` blocks what the policy denies; `report` lets it through and logs it.
    #[serde(default)]
    pub mode: Mode,
    pub description: Option<String>,
    /// What this tenant's egress does while provenance cannot be written: `fail-closed`
    /// (the default) refuses it with `503 provenance_unavailable`; `fail-open` lets it go on
    /// unrecorded (and `policy diff` shows the switch as a widening).
    #[serde(default)]
    pub provenance: Unrecorded,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Unrecorded {
    #[default]
    FailClosed,
    FailOpen,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    Enforce,
    Report,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolSection {
    /// The tool's name as the orchestrator reports it (`gen_ai.tool.name`).
    pub name: String,
    pub description: Option<String>,
    /// Overrides the tenant's mode for this tool.
    pub mode: Option<Mode>,
    /// Where the tool may connect. The first rule that matches a request decides.
    #[serde(default)]
    pub egress: Vec<EgressRuleSection>,
    /// Credentials the broker may hand to this tool, and only to this tool.
    #[serde(default)]
    pub credentials: Vec<CredentialSection>,
    /// Detector settings for this tool, applied on top of the tenant's.
    pub detectors: Option<DetectorsSection>,
    /// Tool output protection for this tool; the tenant's `[output]` otherwise.
    pub output: Option<OutputSection>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// What happens to an intercepted response (HTML, XML, JSON, markdown or text) that
    /// carries instructions injected for the model: `strip` (the default) cuts them out and
    /// leaves a visible mark, `block` withholds the whole body, `annotate` passes it with a
    /// visible notice, `report` only records it, `off` does not judge.
    pub action: Option<OutputAction>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OutputAction {
    /// Nothing is judged.
    Off,
    /// Judged and recorded; the content passes unchanged and unheld.
    Report,
    /// Held until judged; the content passes whole, with a notice ahead of it.
    Annotate,
    /// Held until judged; each finding is cut out and a mark left in its place.
    #[default]
    Strip,
    /// Held until judged; a finding withholds the whole body.
    Block,
}

impl OutputAction {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputAction::Off => "off",
            OutputAction::Report => "report",
            OutputAction::Annotate => "annotate",
            OutputAction::Strip => "strip",
            OutputAction::Block => "block",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EgressRuleSection {
    /// Names the rule in decisions, logs and diffs; unique within the tool.
    pub id: String,
    /// Exact host names or `*.` prefix wildcards (`*.example.com` matches subdomains, not
    /// `example.com`); lowercase, internationalised names in punycode. IP literals allowed.
    pub hosts: Vec<String>,
    /// Destination ports; default `[443]`.
    pub ports: Option<Vec<u16>>,
    /// HTTP methods; default any.
    pub methods: Option<Vec<String>>,
    /// Path prefixes, matched after dot segments are resolved; default any.
    pub paths: Option<Vec<String>>,
    /// `inspect` decrypts and checks every request; `tunnel` passes bytes through unseen
    /// (still allowlisted and counted).
    #[serde(default)]
    pub traffic: Traffic,
    /// Private address ranges (CIDR) this rule may reach; all private ranges are refused
    /// otherwise.
    #[serde(default)]
    pub allow_private: Vec<String>,
    /// Whether a request may upgrade to WebSocket (`101`). The client's frames are then
    /// unmasked, reassembled, inflated (`permessage-deflate`) and inspected like a body;
    /// default `false`: an upgrade is refused with `upgrade_not_allowed`. No other upgrade
    /// is ever allowed on an inspected rule.
    #[serde(default)]
    pub websocket: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Traffic {
    #[default]
    Inspect,
    Tunnel,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialSection {
    /// The name the tool asks the broker for; unique within the tool.
    pub name: String,
    pub source: CredentialSourceKind,
    /// KV path (`vault-kv`), e.g. `secret/data/acme/github`.
    pub path: Option<String>,
    /// Database role (`vault-database`) or token role (`vault-token`).
    pub role: Option<String>,
    /// The field of a KV secret that holds the credential.
    pub field: Option<String>,
    /// Vault policies for a `vault-token` child token.
    pub policies: Option<Vec<String>>,
    /// How long the credential lives, e.g. `15m`; at most the invocation's deadline.
    pub ttl: String,
    /// `direct` hands the value to the tool; `inject` hands it a placeholder that the proxy
    /// swaps for the value only on the bound hosts.
    pub delivery: Delivery,
    /// Required for `inject` delivery.
    pub inject: Option<InjectSection>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialSourceKind {
    VaultKv,
    VaultDatabase,
    VaultToken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    Direct,
    Inject,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InjectSection {
    /// Header the credential is written to, e.g. `Authorization`.
    pub header: String,
    /// The header value, with `{value}` where the credential goes; default `{value}`.
    pub format: Option<String>,
    /// The only hosts the placeholder is redeemed for; anywhere else it is blocked.
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetsSection {
    /// Limits for one tool invocation.
    pub invocation: Option<LimitsSection>,
    /// Limits for one agent session (all its invocations).
    pub session: Option<LimitsSection>,
    /// Limits for the whole tenant.
    pub tenant: Option<LimitsSection>,
    /// Show the tool what is left of its budgets in an `x-tollgate-budget-remaining` response
    /// header (`requests=12, bytes_out=1048576`). Off unless a policy turns it on.
    pub show_remaining: Option<bool>,
    /// What one invocation may carry out in names and URLs, a little at a time.
    pub information: Option<InformationSection>,
}

/// The information budget of one invocation: bits of unexplained data it may send to one
/// destination in hostnames, URLs and header values, and how many distinct hostnames it may
/// name. Refusals are `429 information_budget_exceeded` and `429 distinct_hosts_exceeded`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InformationSection {
    /// Bits of unexplained data (pieces not seen before to that destination and not words,
    /// counted at the size of their alphabet) per destination (registrable domain).
    pub bits_per_destination: Option<u64>,
    /// Distinct hostnames one invocation may connect to or look up.
    pub distinct_hosts: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    pub requests: Option<u64>,
    /// Request heads plus bodies, e.g. `10MiB` or a byte count.
    pub bytes_out: Option<ByteSize>,
    /// Response heads plus bodies.
    pub bytes_in: Option<ByteSize>,
    /// The largest single response.
    pub max_response: Option<ByteSize>,
    /// Wall-clock time, e.g. `5m`.
    pub wall_clock: Option<String>,
    pub concurrent_connections: Option<u64>,
    pub requests_per_minute: Option<u64>,
    /// Tool calls per session; only in `[budgets.session]`.
    pub tool_calls: Option<u64>,
}

/// A byte count, or a size with a unit: `512KiB`, `10MiB`, `1GB`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ByteSize {
    Count(u64),
    Text(String),
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectorsSection {
    /// Detectors to switch on (for the optional ones, such as `payment-card`).
    #[serde(default)]
    pub enable: Vec<String>,
    /// Detectors to switch off.
    #[serde(default)]
    pub disable: Vec<String>,
    /// Hosts where named detectors do not fire, each with the reason.
    #[serde(default)]
    pub exemptions: Vec<ExemptionSection>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExemptionSection {
    pub hosts: Vec<String>,
    /// Detectors not run on these hosts; with `fingerprints`, the detectors whose findings of
    /// those values are let through (every detector when left out).
    #[serde(default)]
    pub detectors: Vec<String>,
    /// Fingerprints (`fp:` and 32 hex digits, as findings show them) of values let through
    /// on these hosts, such as a documented example key a tool must send.
    #[serde(default)]
    pub fingerprints: Vec<String>,
    /// Why this is safe; shown in reviews and decisions.
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestSection {
    pub name: Option<String>,
    pub tool: String,
    /// `METHOD URL`, e.g. `GET https://api.github.com/repos/x/y`.
    pub request: String,
    pub expect: Expect,
    /// The reason code the decision must carry, e.g. `path_not_allowed`.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    Allow,
    Deny,
}

/// The defaults every tenant inherits: `policies/defaults.toml`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Tollgate policy defaults")]
pub struct DefaultsFile {
    pub version: u32,
    /// Hosts no tenant may reach, whatever its own file says.
    #[serde(default)]
    pub deny: Vec<DenySection>,
    /// Budgets a tenant gets where its own file is silent.
    #[serde(default)]
    pub budgets: BudgetsSection,
    /// Detector settings every tenant starts from.
    #[serde(default)]
    pub detectors: DetectorsSection,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenySection {
    pub hosts: Vec<String>,
    pub reason: String,
}
