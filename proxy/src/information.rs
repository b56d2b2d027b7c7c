//! The information budget in the request path: per invocation, the distinct hostnames it has
//! named and, per destination (registrable domain), the bits of unexplained data it has sent
//! in hostnames, URLs and header values (see [`tollgate_shared::detect::information`] for how
//! a request is counted). A request that would pass a limit is refused before it leaves, and
//! before its name is looked up: `429 information_budget_exceeded` or `429
//! distinct_hosts_exceeded`. Kept in this process, or, when the budgets are in Redis, in the
//! same Redis, so that every replica charges one ledger per invocation (and a Redis that
//! cannot answer fails the request closed, `503 budget_store_unavailable`).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tollgate_shared::budget::{InformationAnswer, InformationCharge, RedisConfig, RedisStore};
use tollgate_shared::detect::information::{
    Ledger, SHARED_MAX_SEEN, destination, explained_header, host_pieces, pieces, priced,
};
use tollgate_shared::outcome::Reason;
use tollgate_shared::policy::host::Host;
use tollgate_shared::policy::model::InformationBudget;
use tracing::warn;

use crate::identity::Identity;
use crate::rescue::Denial;

/// Invocations idle this long are forgotten (their deadline has passed long before).
const IDLE: Duration = Duration::from_secs(6 * 3600);
/// Invocations remembered at most; past it the idle ones are swept first.
const MAX_INVOCATIONS: usize = 100_000;

#[derive(Debug, Default)]
pub struct InformationMeter {
    invocations: Mutex<HashMap<String, Invocation>>,
    /// Where the shared ledger is, when there is one.
    redis: Option<RedisConfig>,
    store: tokio::sync::OnceCell<RedisStore>,
}

#[derive(Debug)]
struct Invocation {
    hosts: HashSet<String>,
    destinations: HashMap<String, Ledger>,
    touched: Instant,
}

/// What one request sends: the hostname's labels (when it names the host afresh: a CONNECT
/// or a plain request) and its target and header values (when it is decrypted).
#[derive(Debug, Default)]
pub struct Sent<'a> {
    pub host_named: bool,
    pub target: Option<&'a str>,
    pub headers: Option<&'a http::HeaderMap>,
}

impl InformationMeter {
    /// In this process, or in Redis when `redis` is given.
    pub fn new(redis: Option<RedisConfig>) -> Self {
        Self {
            redis,
            ..Self::default()
        }
    }

    /// Charges what `sent` carries to `host` for `identity`, or refuses it whole.
    pub async fn charge(
        &self,
        identity: &Identity,
        budget: &InformationBudget,
        host: &Host,
        sent: &Sent<'_>,
    ) -> Result<(), Denial> {
        if budget.bits_per_destination.is_none() && budget.distinct_hosts.is_none() {
            return Ok(());
        }
        let name = host.to_string();
        let mut pieces_sent: Vec<&[u8]> = Vec::new();
        if sent.host_named {
            if let Host::Name(text) = host {
                pieces_sent.extend(host_pieces(text));
            }
        }
        if let Some(target) = sent.target {
            pieces_sent.extend(pieces(target.as_bytes()));
        }
        for (header, value) in sent.headers.into_iter().flatten() {
            if !explained_header(header.as_str()) {
                pieces_sent.extend(pieces(value.as_bytes()));
            }
        }
        let destination = match host {
            Host::Name(text) => destination(text),
            Host::Ip(_) => name.clone(),
        };
        let outcome = match &self.redis {
            Some(config) => {
                self.charge_shared(
                    config,
                    identity,
                    budget,
                    &name,
                    sent.host_named,
                    &destination,
                    &pieces_sent,
                )
                .await?
            }
            None => self.charge_here(
                identity,
                budget,
                name,
                sent.host_named,
                &destination,
                &pieces_sent,
            ),
        };
        match outcome {
            Outcome::Charged => Ok(()),
            Outcome::TooManyHosts => {
                let limit = budget.distinct_hosts.unwrap_or_default();
                warn!(invocation.id = %identity.user, tenant = %identity.tenant, tool = %identity.tool, %host, limit, "distinct-hostname budget exhausted");
                Err(Denial::new(
                    Reason::DistinctHostsExceeded,
                    format!("this invocation may name at most {limit} distinct hostnames"),
                )
                .for_identity(identity))
            }
            Outcome::OverBudget(total) => {
                let limit = budget.bits_per_destination.unwrap_or_default();
                warn!(invocation.id = %identity.user, tenant = %identity.tenant, tool = %identity.tool, %destination, bits = total.round(), limit, "information budget exhausted");
                Err(Denial::new(
                    Reason::InformationBudgetExceeded,
                    format!(
                        "this invocation has sent about {} bits of unexplained data to {destination}; its budget is {limit}",
                        total.round()
                    ),
                )
                .for_identity(identity))
            }
        }
    }

    /// The ledger in this process.
    fn charge_here(
        &self,
        identity: &Identity,
        budget: &InformationBudget,
        name: String,
        host_named: bool,
        destination: &str,
        pieces_sent: &[&[u8]],
    ) -> Outcome {
        let mut invocations = self.invocations.lock().unwrap_or_else(|e| e.into_inner());
        sweep(&mut invocations);
        let invocation = invocations
            .entry(identity.user.clone())
            .or_insert_with(|| Invocation {
                hosts: HashSet::new(),
                destinations: HashMap::new(),
                touched: Instant::now(),
            });
        invocation.touched = Instant::now();
        let new_host = host_named && !invocation.hosts.contains(&name);
        if let (true, Some(limit)) = (new_host, budget.distinct_hosts) {
            if invocation.hosts.len() as u64 >= limit {
                return Outcome::TooManyHosts;
            }
        }
        let ledger = invocation.destinations.entry(destination.to_owned()).or_default();
        if let Some(limit) = budget.bits_per_destination {
            let total = ledger.bits() + ledger.cost(pieces_sent.iter().copied());
            if total > limit as f64 {
                return Outcome::OverBudget(total);
            }
        }
        ledger.charge(pieces_sent.iter().copied());
        if new_host {
            invocation.hosts.insert(name);
        }
        Outcome::Charged
    }

    /// The ledger in Redis, one script per request, shared by every replica.
    #[allow(clippy::too_many_arguments)]
    async fn charge_shared(
        &self,
        config: &RedisConfig,
        identity: &Identity,
        budget: &InformationBudget,
        name: &str,
        host_named: bool,
        destination: &str,
        pieces_sent: &[&[u8]],
    ) -> Result<Outcome, Denial> {
        let unavailable = |e: &dyn std::fmt::Display| {
            warn!(invocation.id = %identity.user, "information budget store: {e}");
            Denial::new(
                Reason::BudgetStoreUnavailable,
                "the information budget's store cannot answer; refused rather than uncounted",
            )
            .for_identity(identity)
        };
        let store = self
            .store
            .get_or_try_init(|| async { RedisStore::connect(config) })
            .await
            .map_err(|e| unavailable(&e))?;
        let pieces = priced(pieces_sent.iter().copied());
        let charge = InformationCharge {
            invocation: &identity.user,
            host: name,
            host_named,
            distinct_hosts: budget.distinct_hosts,
            destination,
            bits_limit: budget.bits_per_destination,
            max_seen: SHARED_MAX_SEEN,
            pieces: &pieces,
        };
        Ok(
            match store
                .charge_information(&charge)
                .await
                .map_err(|e| unavailable(&e))?
            {
                InformationAnswer::Charged { .. } => Outcome::Charged,
                InformationAnswer::TooManyHosts => Outcome::TooManyHosts,
                InformationAnswer::OverBudget { bits } => Outcome::OverBudget(bits),
            },
        )
    }
}

/// What a ledger said of one request.
enum Outcome {
    Charged,
    TooManyHosts,
    OverBudget(f64),
}

fn sweep(invocations: &mut HashMap<String, Invocation>) {
    if invocations.len() < MAX_INVOCATIONS {
        return;
    }
    invocations.retain(|_, i| i.touched.elapsed() < IDLE);
    if invocations.len() >= MAX_INVOCATIONS {
        // Still full of live invocations: forget the least recently seen half.
        let mut ages: Vec<Instant> = invocations.values().map(|i| i.touched).collect();
        ages.sort_unstable();
        let cut = ages[ages.len() / 2];
        invocations.retain(|_, i| i.touched > cut);
    }
}
