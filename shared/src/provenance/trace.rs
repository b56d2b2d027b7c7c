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
    if let Some(first) = mine.first() {
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
