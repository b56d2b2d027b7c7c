//! One invocation's timeline from several services' provenance files: every record that
//! names the invocation, in time order, as text a responder reads or as JSON.

use std::fmt::Write as _;
use std::path::Path;

use thiserror::Error;

use super::{Record, attr};

#[derive(Debug, Error)]
pub enum TraceError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
}

/// Every record of the files, in file order (unreadable lines are skipped; `verify` reports
/// them).
pub fn read_records(paths: &[&Path]) -> Result<Vec<Record>, TraceError> {
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|e| TraceError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        out.extend(
            text.lines()
                .filter_map(|l| serde_json::from_str::<Record>(l).ok()),
        );
    }
    Ok(out)
}

/// The entries of an OpenBao (or Vault) file audit log that belong to `invocation`, as records
/// on the same timeline (source `openbao`, not part of any chain). An entry belongs to it when
/// its token's metadata names it (every call made with the invocation's token) or when the
/// broker's `x-tollgate-invocation` request header does (calls made with the broker's token,
/// once the header is listed at `sys/config/auditing/request-headers` with `hmac=false`).
/// Only responses are taken: each carries its request.
pub fn read_openbao_audit(path: &Path, invocation: &str) -> Result<Vec<Record>, TraceError> {
    let text = std::fs::read_to_string(path).map_err(|e| TraceError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|entry| entry["type"] == "response" && names(entry, invocation))
        .map(|entry| openbao_record(&entry, invocation))
        .collect())
}

fn names(entry: &serde_json::Value, invocation: &str) -> bool {
    let meta = |v: &serde_json::Value| v["metadata"]["invocation"].as_str() == Some(invocation);
    let header = entry["request"]["headers"][super::INVOCATION_HEADER]
        .as_array()
        .is_some_and(|values| values.iter().any(|v| v.as_str() == Some(invocation)));
    meta(&entry["auth"]) || meta(&entry["response"]["auth"]) || header
}

fn openbao_record(entry: &serde_json::Value, invocation: &str) -> Record {
    let at = entry["time"]
        .as_str()
        .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .map_or(0, |t| {
            u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
        });
    let request = &entry["request"];
    let mut event = super::Event::new(
        &format!("openbao.{}", request["operation"].as_str().unwrap_or("request")),
        "openbao",
        at,
        at,
    )
    .with(attr::INVOCATION, invocation)
    .with("openbao.path", request["path"].as_str().unwrap_or_default());
    if let Some(error) = entry["error"].as_str().filter(|e| !e.is_empty()) {
        event = event.with("openbao.error", error);
    }
    Record {
        schema: super::SCHEMA.to_owned(),
        seq: 0,
        prev_hash: String::new(),
        hash: String::new(),
        event,
    }
}

/// The records of one invocation in time order, and their text rendering.
pub fn trace(records: Vec<Record>, invocation: &str) -> (Vec<Record>, String) {
    let mut mine: Vec<Record> = records
        .into_iter()
        .filter(|r| r.event.invocation() == Some(invocation))
        .collect();
    mine.sort_by(|a, b| {
        (a.event.start_unix_ms, &a.event.source, a.seq).cmp(&(b.event.start_unix_ms, &b.event.source, b.seq))
    });
    let mut text = String::new();
    if let Some(first) = mine
        .iter()
        .find(|r| r.event.attributes.contains_key(attr::TENANT))
    {
        let e = &first.event;
        let _ = writeln!(
            text,
            "invocation {invocation}: tenant {} session {} tool {} call {} model {} trace {}",
            e.text(attr::TENANT).unwrap_or("-"),
            e.text(attr::SESSION).unwrap_or("-"),
            e.text(attr::TOOL).unwrap_or("-"),
            e.text(attr::TOOL_CALL).unwrap_or("-"),
            e.text(attr::MODEL).unwrap_or("-"),
            e.text(attr::TRACE).unwrap_or("-"),
        );
    }
    let start = mine.first().map_or(0, |r| r.event.start_unix_ms);
    for record in &mine {
        let e = &record.event;
        let mut details = String::new();
        for name in [
            attr::CREDENTIAL,
            attr::CREDENTIAL_SOURCE,
            attr::METHOD,
            attr::HOST,
            attr::STATUS,
            attr::REASON,
            attr::FINGERPRINT,
            "openbao.path",
            "openbao.error",
        ] {
            if let Some(value) = e.attributes.get(name) {
                let shown = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                let _ = write!(details, " {name}={shown}");
            }
        }
        let _ = writeln!(
            text,
            "+{:>8} ms  {:<6} {:<18}{details}",
            e.start_unix_ms.saturating_sub(start),
            e.source,
            e.kind
        );
    }
    if mine.is_empty() {
        let _ = writeln!(text, "no records of invocation {invocation}");
    }
    (mine, text)
}
