//! From the policy to what a tool may get: the narrow OpenBao policy an invocation's token
//! carries (read exactly the granted paths, nothing else), and minting one granted
//! credential under that token.

use std::time::Duration;

use serde_json::Value;
use tollgate_shared::invocation::{Binding, DeliveryKind, SecretText, placeholder};
use tollgate_shared::policy::model::{CredentialGrant, CredentialSource, Delivery, Tool};

use crate::store::IssuedRecord;
use crate::vault::{TokenRequest, Vault, VaultError};

/// The OpenBao ACL policy name for one tenant's tool.
pub fn acl_name(tenant: &str, tool: &str) -> String {
    format!("tollgate-{tenant}-{tool}")
}

/// The ACL policy text: read each granted KV path and database role, create child tokens
/// when a token grant exists. Nothing else.
pub fn acl_policy(tool: &Tool, database_mount: &str) -> String {
    let mut out = String::from("# Written by the Tollgate broker from the tenant policy; do not edit.\n");
    for grant in &tool.credentials {
        let path = match &grant.source {
            CredentialSource::VaultKv { path, .. } => path.clone(),
            CredentialSource::VaultDatabase { role } => format!("{database_mount}/creds/{role}"),
            CredentialSource::VaultToken { role: Some(role), .. } => format!("auth/token/create/{role}"),
            CredentialSource::VaultToken { role: None, .. } => "auth/token/create".to_owned(),
        };
        let capability = match grant.source {
            CredentialSource::VaultToken { .. } => "update",
            _ => "read",
        };
        out.push_str(&format!(
            "path \"{path}\" {{ capabilities = [\"{capability}\"] }}\n"
        ));
    }
    out
}

/// The policies a token grant passes on; the invocation token must hold them to create a
/// child with them.
pub fn token_policies(tool: &Tool) -> Vec<String> {
    let mut out: Vec<String> = tool
        .credentials
        .iter()
        .filter_map(|g| match &g.source {
            CredentialSource::VaultToken { policies, .. } => Some(policies.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What minting produced, before delivery is decided.
struct Minted {
    value: SecretText,
    username: Option<String>,
    ttl: Duration,
}

/// Mints `grant` under the invocation's `token` and shapes it for delivery. Its expiry is the
/// grant's TTL (or the lease's, if shorter), never past the invocation's deadline.
pub async fn mint(
    vault: &Vault,
    token: &SecretText,
    grant: &CredentialGrant,
    database_mount: &str,
    now_unix_ms: u64,
    deadline_unix_ms: u64,
) -> Result<IssuedRecord, VaultError> {
    let minted = match &grant.source {
        CredentialSource::VaultKv { path, field } => kv(vault, token, path, field).await?,
        CredentialSource::VaultDatabase { role } => database(vault, token, database_mount, role).await?,
        CredentialSource::VaultToken { role, policies } => {
            child_token(vault, token, grant, role.as_deref(), policies).await?
        }
    };
    let ttl = if minted.ttl.is_zero() {
        grant.ttl
    } else {
        minted.ttl.min(grant.ttl)
    };
    let expires = (now_unix_ms + u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)).min(deadline_unix_ms);
    let (delivery, placeholder, inject) = match &grant.delivery {
        Delivery::Direct => (DeliveryKind::Direct, None, None),
        Delivery::Inject {
            header,
            format,
            hosts,
        } => (
            DeliveryKind::Inject,
            Some(SecretText::new(placeholder(minted.value.expose(), &random(48)))),
            Some(Binding {
                header: header.clone(),
                format: format.clone(),
                hosts: hosts.iter().map(ToString::to_string).collect(),
            }),
        ),
    };
    Ok(IssuedRecord {
        name: grant.name.clone(),
        value: minted.value,
        placeholder,
        delivery,
        inject,
        username: minted.username,
        expires_unix_ms: expires,
    })
}

async fn kv(vault: &Vault, token: &SecretText, path: &str, field: &str) -> Result<Minted, VaultError> {
    let leased = vault.read(token, path).await?;
    // KV v2 nests the secret's fields under `data`; v1 does not.
    let fields = leased.data.get("data").and_then(Value::as_object);
    let value = fields
        .and_then(|f| f.get(field))
        .or_else(|| leased.data.get(field))
        .and_then(Value::as_str)
        .ok_or_else(|| VaultError::Malformed {
            what: path.to_owned(),
            message: format!("the secret has no string field {field:?}"),
        })?;
    Ok(Minted {
        value: SecretText::new(value),
        username: None,
        ttl: Duration::ZERO,
    })
}

async fn database(vault: &Vault, token: &SecretText, mount: &str, role: &str) -> Result<Minted, VaultError> {
    let path = format!("{mount}/creds/{role}");
    let leased = vault.read(token, &path).await?;
    let field = |name: &str| leased.data.get(name).and_then(Value::as_str).map(str::to_owned);
    let (Some(username), Some(password)) = (field("username"), field("password")) else {
        return Err(VaultError::Malformed {
            what: path,
            message: "no username and password in the answer".to_owned(),
        });
    };
    Ok(Minted {
        value: SecretText::new(password),
        username: Some(username),
        ttl: leased.lease_ttl,
    })
}

async fn child_token(
    vault: &Vault,
    token: &SecretText,
    grant: &CredentialGrant,
    role: Option<&str>,
    policies: &[String],
) -> Result<Minted, VaultError> {
    let request = TokenRequest {
        policies: policies.to_vec(),
        ttl: grant.ttl,
        num_uses: Some(TOKEN_USES),
        meta: std::collections::BTreeMap::from([("credential".to_owned(), grant.name.clone())]),
        display_name: format!("tollgate-{}", grant.name),
    };
    let child = vault.create_token_at(token, role, &request).await?;
    Ok(Minted {
        value: child.token,
        username: None,
        ttl: child.ttl,
    })
}

/// Uses a minted child token allows: enough for a tool's calls, never unlimited.
const TOKEN_USES: u32 = 100;

/// Random bytes from the system's generator.
pub fn random(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    // SystemRandom fails only without an OS entropy source, where no secret can be made safely.
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).expect("system randomness");
    bytes
}
