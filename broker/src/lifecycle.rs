//! The invocation lifecycle: start (policy, tool-call budget, the invocation's own OpenBao
//! token), credential delivery, lookup for the proxy, end, misuse, the deadline sweep, and
//! the revocations owed to the server, retried until the server confirms them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use ring::digest::{SHA256, digest};
use tollgate_shared::budget::{Meter, Plan, Subject};
use tollgate_shared::invocation::{
    Credential, Invocation, Issued, Lookup, MisuseReport, SecretText, StartRequest, Started, trace_id,
};
use tollgate_shared::policy::PolicySet;
use tollgate_shared::policy::model::Tenant;
use tollgate_shared::provenance::{Event, Sink, attr};
use tracing::{info, warn};

use crate::error::BrokerError;
use crate::grants;
use crate::store::{EndReason, Ended, IssuedRecord, Record, Store};
use crate::vault::{TokenKeeper, TokenRequest, Vault};
use tollgate_shared::outcome::Reason;

/// Settings the lifecycle needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub default_ttl: Duration,
    pub max_ttl: Duration,
    pub proxy_address: Option<String>,
    pub database_mount: String,
}

#[derive(Debug)]
pub struct Broker {
    /// The policies in force; swapped whole by [`Broker::reload`].
    policies: std::sync::RwLock<Arc<PolicySet>>,
    pub vault: Vault,
    pub keeper: TokenKeeper,
    pub store: Arc<dyn Store>,
    pub meter: Meter,
    pub settings: Settings,
    /// ACL policies already written by this process, by name, with their text.
    written: Mutex<HashMap<String, String>>,
    /// Where provenance events go.
    provenance: Option<Sink>,
    /// Refusals of either interface, by reason (counted by the exit layer).
    refusals: Mutex<std::collections::BTreeMap<Reason, u64>>,
}

/// An event about `inv`, with the fields every event of an invocation carries.
fn event(kind: &str, inv: &Invocation) -> Event {
    Event::now(kind, "broker")
        .with(attr::SPAN, tollgate_shared::provenance::span_id())
        .with(attr::INVOCATION, inv.id.as_str())
        .with(attr::TENANT, inv.tenant.as_str())
        .with(attr::SESSION, inv.session.as_str())
        .with(attr::TOOL, inv.tool.as_str())
        .with(attr::TOOL_CALL, inv.tool_call_id.as_str())
        .with(attr::MODEL, inv.model.as_str())
        .with(attr::TRACE, inv.trace_id.as_str())
        .with(attr::OPERATION, "execute_tool")
}

/// A short fingerprint of a token accessor (not a secret, but not needed whole).
fn accessor_fingerprint(accessor: &str) -> String {
    hash_hex(accessor)[..16].to_owned()
}

/// Wall-clock milliseconds, from the clock the budgets use.
pub use tollgate_shared::provenance::now_ms;

fn hash_hex(secret: &str) -> String {
    digest(&SHA256, secret.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares in time that does not depend on where the inputs differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Names, ids and tool names: printable, bounded, no separators that could split a log line.
fn check_field(name: &str, value: &str) -> Result<(), BrokerError> {
    let ok = !value.is_empty()
        && value.len() <= 256
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
    if ok {
        Ok(())
    } else {
        Err(BrokerError::BadRequest(format!(
            "{name} must be 1 to 256 printable ASCII characters without quotes or backslashes"
        )))
    }
}

impl Broker {
    /// `meter` counts sessions' tool calls: in process for one broker, in Redis for replicas.
    pub fn new(
        policies: PolicySet,
        vault: Vault,
        keeper: TokenKeeper,
        store: Arc<dyn Store>,
        meter: Meter,
        settings: Settings,
        provenance: Option<Sink>,
    ) -> Self {
        Self {
            policies: std::sync::RwLock::new(Arc::new(policies)),
            vault,
            keeper,
            store,
            meter,
            settings,
            written: Mutex::new(HashMap::new()),
            provenance,
            refusals: Mutex::default(),
        }
    }

    /// Counts one refusal; only the exit layer calls this.
    pub fn count_refusal(&self, reason: Reason) {
        *self
            .refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(reason)
            .or_default() += 1;
    }

    /// Refusals so far, by reason.
    pub fn refusals(&self) -> std::collections::BTreeMap<Reason, u64> {
        self.refusals.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, event: Event) {
        if let Some(sink) = &self.provenance {
            sink.emit(event);
        }
    }

    /// Records a refused credential request of a live invocation.
    pub fn record_denial(&self, record: &Record, name: &str, error: &BrokerError) {
        self.record(
            event("credential.deny", &record.invocation)
                .with(attr::CREDENTIAL, name)
                .with(attr::REASON, error.reason().as_str()),
        );
    }

    fn policies(&self) -> Arc<PolicySet> {
        Arc::clone(&self.policies.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts a new, valid policy set in force: grants taken away stop at once.
    pub fn reload(&self, policies: PolicySet, trigger: &str) {
        let tenants = policies.tenants.len();
        *self.policies.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(policies);
        self.record(tollgate_shared::provenance::policy_reload(
            "broker",
            trigger,
            Ok(tenants),
        ));
    }

    /// Records an edit that was rejected (the previous set stays in force).
    pub fn reload_rejected(&self, why: &str, trigger: &str) {
        self.record(tollgate_shared::provenance::policy_reload(
            "broker",
            trigger,
            Err(why),
        ));
    }

    /// New work is refused while provenance cannot be written (ends and revocations go on).
    fn provenance_ok(&self) -> Result<(), BrokerError> {
        match &self.provenance {
            Some(sink) if !sink.healthy() => Err(BrokerError::ProvenanceUnavailable),
            _ => Ok(()),
        }
    }

    fn tenant<'p>(policies: &'p PolicySet, id: &str) -> Result<&'p Tenant, BrokerError> {
        policies
            .tenant(id)
            .ok_or_else(|| BrokerError::UnknownTenant(id.to_owned()))
    }

    /// Starts one invocation.
    pub async fn start(&self, request: StartRequest) -> Result<Started, BrokerError> {
        self.provenance_ok()?;
        for (name, value) in [
            ("tenant", &request.tenant),
            ("session", &request.session),
            ("tool", &request.tool),
            ("tool_call_id", &request.tool_call_id),
            ("model", &request.model),
        ] {
            check_field(name, value)?;
        }
        let policies = self.policies();
        let tenant = Self::tenant(&policies, &request.tenant)?;
        let tool = tenant
            .tool(&request.tool)
            .ok_or_else(|| BrokerError::UnknownTool {
                tenant: request.tenant.clone(),
                tool: request.tool.clone(),
            })?;
        let trace = match request.traceparent.as_deref() {
            Some(tp) => trace_id(tp)
                .ok_or_else(|| {
                    BrokerError::BadRequest("traceparent is not a valid W3C traceparent".to_owned())
                })?
                .to_owned(),
            None => hex(&grants::random(16)),
        };
        let ttl = request
            .ttl_secs
            .map_or(self.settings.default_ttl, Duration::from_secs)
            .min(self.settings.max_ttl)
            .max(Duration::from_secs(1));
        let id = uuid::Uuid::now_v7().to_string();
        let plan = Plan::new(Subject::new(&tenant.id, &request.session, &id), &tenant.budgets);
        self.meter.admit_tool_call(&plan).await.map_err(|e| match e {
            tollgate_shared::budget::BudgetError::Exceeded(x) => {
                // The refused call has no invocation: the event names the call instead.
                let event = Event::now("budget.exceeded", "broker")
                    .with(attr::TENANT, tenant.id.as_str())
                    .with(attr::SESSION, request.session.as_str())
                    .with(attr::TOOL, tool.name.as_str())
                    .with(attr::TOOL_CALL, request.tool_call_id.as_str())
                    .with(attr::MODEL, request.model.as_str())
                    .with(attr::TRACE, trace.as_str())
                    .with_budget(&x, "refused");
                self.record(event);
                BrokerError::BudgetExceeded(x.to_string())
            }
            other => BrokerError::BudgetUnavailable(other.to_string()),
        })?;
        let acl = grants::acl_name(&tenant.id, &tool.name);
        self.ensure_acl(&acl, &grants::acl_policy(tool, &self.settings.database_mount))
            .await?;
        let now = now_ms();
        let deadline = now + u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let mut policies = vec![acl];
        policies.extend(grants::token_policies(tool));
        let meta = BTreeMap::from([
            ("tenant".to_owned(), tenant.id.clone()),
            ("session".to_owned(), request.session.clone()),
            ("tool".to_owned(), tool.name.clone()),
            ("tool_call_id".to_owned(), request.tool_call_id.clone()),
            ("invocation".to_owned(), id.clone()),
            ("trace_id".to_owned(), trace.clone()),
        ]);
        let token = self
            .vault
            .for_invocation(&id)
            .create_token(
                &self.keeper.token(),
                &TokenRequest {
                    policies,
                    ttl,
                    num_uses: None,
                    meta,
                    display_name: format!("tollgate-{id}"),
                },
            )
            .await?;
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(grants::random(32));
        let invocation = Invocation {
            id: id.clone(),
            tenant: tenant.id.clone(),
            session: request.session,
            tool: tool.name.clone(),
            tool_call_id: request.tool_call_id,
            model: request.model,
            trace_id: trace.clone(),
            started_unix_ms: now,
            deadline_unix_ms: deadline,
        };
        let record = Record {
            invocation,
            secret_sha256: hash_hex(&secret),
            token: token.token,
            accessor: token.accessor,
        };
        if let Err(e) = self.store.create(&record).await {
            // Nothing will know this token: revoke it now rather than let it live to its TTL.
            let _ = self
                .vault
                .revoke_accessor(&self.keeper.token(), &record.accessor)
                .await;
            return Err(e.into());
        }
        info!(invocation.id = %id, tenant = %record.invocation.tenant, tool = %record.invocation.tool, trace_id = %trace, deadline_ms = deadline, "invocation started");
        self.record(
            event("invocation.start", &record.invocation)
                .with("tollgate.deadline_unix_ms", deadline)
                .with(
                    "tollgate.token.accessor_fingerprint",
                    accessor_fingerprint(&record.accessor),
                ),
        );
        let proxy_url = self
            .settings
            .proxy_address
            .as_ref()
            .map(|address| SecretText::new(format!("http://{id}:{secret}@{address}")));
        Ok(Started {
            invocation_id: id,
            secret: SecretText::new(secret),
            deadline_unix_ms: deadline,
            trace_id: trace,
            proxy_url,
        })
    }

    async fn ensure_acl(&self, name: &str, text: &str) -> Result<(), BrokerError> {
        let known = self
            .written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .is_some_and(|t| t == text);
        if !known {
            self.vault.write_policy(&self.keeper.token(), name, text).await?;
            self.written
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name.to_owned(), text.to_owned());
        }
        Ok(())
    }

    /// The live invocation behind these credentials, or why there is none.
    pub async fn authenticate(&self, id: &str, secret: &str) -> Result<Record, BrokerError> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(BrokerError::InvalidCredentials);
        }
        let record = self.store.get(id).await?.ok_or(BrokerError::InvalidCredentials)?;
        if !same(hash_hex(secret).as_bytes(), record.secret_sha256.as_bytes()) {
            return Err(BrokerError::InvalidCredentials);
        }
        if self.store.ended(id).await?.is_some() {
            return Err(BrokerError::InvocationEnded(id.to_owned()));
        }
        if record.invocation.deadline_unix_ms <= now_ms() {
            self.end_record(&record, EndReason::Expired).await?;
            return Err(BrokerError::InvocationExpired(id.to_owned()));
        }
        Ok(record)
    }

    /// One credential for the invocation's tool: the same one on every call, minted on the
    /// first.
    pub async fn credential(&self, record: &Record, name: &str) -> Result<Credential, BrokerError> {
        self.provenance_ok()?;
        let inv = &record.invocation;
        let policies = self.policies();
        let tenant = Self::tenant(&policies, &inv.tenant)?;
        let tool = tenant.tool(&inv.tool).ok_or_else(|| BrokerError::UnknownTool {
            tenant: inv.tenant.clone(),
            tool: inv.tool.clone(),
        })?;
        let Some(grant) = tool.credentials.iter().find(|g| g.name == name) else {
            let elsewhere = tenant
                .tools
                .iter()
                .any(|t| t.credentials.iter().any(|g| g.name == name));
            return Err(if elsewhere {
                BrokerError::NotGranted {
                    name: name.to_owned(),
                    tool: inv.tool.clone(),
                }
            } else {
                BrokerError::UnknownCredential {
                    tenant: inv.tenant.clone(),
                    name: name.to_owned(),
                }
            });
        };
        let existing = self
            .store
            .issued(&inv.id)
            .await?
            .into_iter()
            .find(|i| i.name == name);
        let issued = match existing {
            Some(issued) => issued,
            None => {
                let minted = grants::mint(
                    &self.vault.for_invocation(&inv.id),
                    &record.token,
                    grant,
                    &self.settings.database_mount,
                    now_ms(),
                    inv.deadline_unix_ms,
                )
                .await?;
                let kept = self.store.issue(&inv.id, &minted).await?;
                self.record(
                    event("credential.issue", inv)
                        .with(attr::CREDENTIAL, name)
                        .with(attr::CREDENTIAL_SOURCE, format!("{:?}", grant.source.kind()))
                        .with("tollgate.credential.ttl_secs", grant.ttl.as_secs())
                        .with("tollgate.credential.expires_unix_ms", kept.expires_unix_ms),
                );
                info!(invocation.id = %inv.id, credential = %name, source = ?grant.source.kind(), delivery = ?kept.delivery, expires_ms = kept.expires_unix_ms, "credential issued");
                kept
            }
        };
        self.record(
            event("credential.deliver", inv)
                .with(attr::CREDENTIAL, name)
                .with(
                    "tollgate.credential.delivery",
                    format!("{:?}", issued.delivery).to_lowercase(),
                ),
        );
        Ok(delivered(issued))
    }

    /// What the proxy needs of a live invocation.
    pub async fn lookup(&self, record: Record) -> Result<Lookup, BrokerError> {
        let issued = self.store.issued(&record.invocation.id).await?;
        let policies = self.policies();
        let granted = policies
            .tenant(&record.invocation.tenant)
            .and_then(|t| t.tool(&record.invocation.tool))
            .map(|t| t.credentials.as_slice())
            .unwrap_or_default();
        let pending = granted.iter().any(|g| !issued.iter().any(|i| i.name == g.name));
        Ok(Lookup {
            pending,
            invocation: record.invocation,
            issued: issued
                .into_iter()
                .map(|i| Issued {
                    name: i.name,
                    value: i.value,
                    placeholder: i.placeholder,
                    inject: i.inject,
                    expires_unix_ms: i.expires_unix_ms,
                })
                .collect(),
        })
    }

    /// Ends an invocation by id (orchestrator call, misuse report); `false` if it had ended.
    pub async fn end(&self, id: &str, why: EndReason) -> Result<bool, BrokerError> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(BrokerError::BadRequest("not an invocation id".to_owned()));
        }
        let record = self.store.get(id).await?.ok_or(BrokerError::InvalidCredentials)?;
        self.end_record(&record, why).await
    }

    async fn end_record(&self, record: &Record, why: EndReason) -> Result<bool, BrokerError> {
        let ended = Ended {
            at_unix_ms: now_ms(),
            why,
        };
        if !self.store.end(record, &ended).await? {
            return Ok(false);
        }
        info!(invocation.id = %record.invocation.id, why = why.as_str(), "invocation ended");
        self.record(event("invocation.end", &record.invocation).with(attr::REASON, why.as_str()));
        if self.revoke(&record.accessor, &record.invocation.id).await {
            self.record_revoked(&record.invocation, &record.accessor, why.as_str());
        }
        Ok(true)
    }

    /// Tries one owed revocation now; what fails stays owed for the sweep.
    async fn revoke(&self, accessor: &str, id: &str) -> bool {
        match self
            .vault
            .for_invocation(id)
            .revoke_accessor(&self.keeper.token(), accessor)
            .await
        {
            Ok(()) => match self.store.settle(accessor).await {
                Ok(()) => {
                    info!(invocation.id = %id, "invocation token revoked with every lease under it");
                    true
                }
                Err(e) => {
                    warn!(invocation.id = %id, "revoked, but cannot clear the outbox: {e}");
                    false
                }
            },
            Err(e) => {
                warn!(invocation.id = %id, "revocation owed, will retry: {e}");
                false
            }
        }
    }

    fn record_revoked(&self, inv: &Invocation, accessor: &str, why: &str) {
        self.record(event("credential.revoke", inv).with(attr::REASON, why).with(
            "tollgate.token.accessor_fingerprint",
            accessor_fingerprint(accessor),
        ));
    }

    /// The proxy blocked an issued value outside its binding: revoke at once, end, say why.
    pub async fn misuse(&self, id: &str, report: &MisuseReport) -> Result<bool, BrokerError> {
        warn!(invocation.id = %id, credential = report.credential.as_deref().unwrap_or("-"), fingerprint = %report.fingerprint, location = %report.location, host = %report.host, "issued credential misused; revoking");
        self.end(id, EndReason::Misuse).await
    }

    /// Ends what passed its deadline and retries what is owed. Returns (ended, revoked).
    pub async fn sweep(&self) -> Result<(usize, usize), BrokerError> {
        let mut ended = 0;
        for id in self.store.expired(now_ms()).await? {
            if self.end(&id, EndReason::Expired).await.unwrap_or(false) {
                ended += 1;
            }
        }
        let mut revoked = 0;
        for owed in self.store.owed().await? {
            if self.revoke(&owed.accessor, &owed.invocation_id).await {
                revoked += 1;
                if let Ok(Some(record)) = self.store.get(&owed.invocation_id).await {
                    self.record_revoked(&record.invocation, &owed.accessor, owed.why.as_str());
                }
            }
        }
        Ok((ended, revoked))
    }

    /// At shutdown of a broker no replica shares a store with: end everything.
    pub async fn shutdown(&self) {
        if !self.store.single_process() {
            return;
        }
        let Ok(live) = self.store.live().await else {
            return;
        };
        for id in live {
            let _ = self.end(&id, EndReason::Shutdown).await;
        }
    }
}

fn delivered(issued: IssuedRecord) -> Credential {
    let IssuedRecord {
        name,
        value,
        placeholder,
        delivery,
        inject: _,
        username,
        expires_unix_ms,
    } = issued;
    Credential {
        name,
        value: placeholder.unwrap_or(value),
        delivery,
        expires_unix_ms,
        username,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
