//! One invocation's timeline from several services' provenance files: every record that
//! names the invocation, in time order, as text a responder reads or as JSON.

use std::borrow::Cow;
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

/// The attributes a reader wants first, in this order (the rest follow, sorted).
const SHOWN: [&str; 9] = [
    attr::CREDENTIAL,
    attr::CREDENTIAL_SOURCE,
    attr::METHOD,
    attr::HOST,
    attr::STATUS,
    attr::REASON,
    attr::FINGERPRINT,
    "openbao.path",
    "openbao.error",
];

/// How a record stands out on the timeline (`deny` and `revoke` are the ones a responder
/// looks for first; the OTLP export sends those as warnings).
pub(super) fn tone(kind: &str) -> &'static str {
    match kind {
        "egress.deny" | "credential.deny" | "budget.exceeded" => "deny",
        "credential.revoke" => "revoke",
        "egress.report" => "report",
        k if k.starts_with("openbao.") => "server",
        _ => "ok",
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn shown(value: &serde_json::Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_owned)
}

/// One invocation's records as a self-contained HTML page (no script, no request for
/// anything): a lane per service with every event placed on one time axis, denials and
/// revocations marked out, and every event's attributes in a table below, each marker
/// linking to its row.
pub fn render_html(records: &[Record], invocation: &str) -> String {
    let start = records.iter().map(|r| r.event.start_unix_ms).min().unwrap_or(0);
    let end = records
        .iter()
        .map(|r| r.event.end_unix_ms.max(r.event.start_unix_ms))
        .max()
        .unwrap_or(start);
    let span = (end.saturating_sub(start)).max(1) as f64;
    let mut lanes: Vec<&str> = Vec::new();
    for source in ["broker", "proxy", "openbao"] {
        if records.iter().any(|r| r.event.source == source) {
            lanes.push(source);
        }
    }
    for r in records {
        if !lanes.contains(&r.event.source.as_str()) {
            lanes.push(&r.event.source);
        }
    }
    let count = |t: &str| records.iter().filter(|r| tone(&r.event.kind) == t).count();
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
<title>Invocation {id}</title><style>{STYLE}</style></head><body>\n<h1>Invocation <code>{id}</code></h1>\n",
        id = escape(invocation)
    );
    if let Some(first) = records
        .iter()
        .find(|r| r.event.attributes.contains_key(attr::TENANT))
    {
        let e = &first.event;
        html.push_str("<dl class=\"who\">");
        for (label, name) in [
            ("tenant", attr::TENANT),
            ("session", attr::SESSION),
            ("tool", attr::TOOL),
            ("tool call", attr::TOOL_CALL),
            ("model", attr::MODEL),
            ("trace", attr::TRACE),
        ] {
            let _ = write!(
                html,
                "<dt>{label}</dt><dd>{}</dd>",
                escape(e.text(name).unwrap_or("-"))
            );
        }
        html.push_str("</dl>\n");
    }
    let _ = writeln!(
        html,
        "<p class=\"summary\">{} event(s) over {} ms: <span class=\"deny\">{} denied</span>, \
<span class=\"revoke\">{} revoked</span>, <span class=\"report\">{} reported</span></p>",
        records.len(),
        end.saturating_sub(start),
        count("deny"),
        count("revoke"),
        count("report")
    );
    html.push_str("<div class=\"timeline\">\n");
    for lane in &lanes {
        let _ = write!(
            html,
            "<div class=\"lane\"><div class=\"name\">{}</div><div class=\"track\">",
            escape(lane)
        );
        for (n, r) in records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.event.source == *lane)
        {
            let e = &r.event;
            let left = (e.start_unix_ms.saturating_sub(start)) as f64 / span * 100.0;
            let width = (e.end_unix_ms.saturating_sub(e.start_unix_ms)) as f64 / span * 100.0;
            let _ = write!(
                html,
                "<a class=\"mark {tone}\" href=\"#e{n}\" style=\"left:{left:.3}%;width:max(4px,{width:.3}%)\" \
title=\"{title}\"></a>",
                tone = tone(&e.kind),
                title = escape(&format!(
                    "+{} ms {} {}",
                    e.start_unix_ms.saturating_sub(start),
                    e.kind,
                    e.text(attr::HOST).or(e.text(attr::CREDENTIAL)).unwrap_or("")
                ))
            );
        }
        html.push_str("</div></div>\n");
    }
    html.push_str(
        "</div>\n<table><thead><tr><th>+ms</th><th>service</th><th>event</th><th>details</th></tr></thead><tbody>\n",
    );
    for (n, r) in records.iter().enumerate() {
        let e = &r.event;
        let _ = write!(
            html,
            "<tr id=\"e{n}\" class=\"event {tone}\" data-type=\"{kind}\" data-source=\"{source}\"><td>{at}</td>\
<td>{source}</td><td>{kind}</td><td>",
            tone = tone(&e.kind),
            kind = escape(&e.kind),
            source = escape(&e.source),
            at = e.start_unix_ms.saturating_sub(start),
        );
        let mut names: Vec<&Cow<'static, str>> = e.attributes.keys().collect();
        names.sort_by_key(|k| {
            (
                SHOWN.iter().position(|s| s == k).unwrap_or(SHOWN.len()),
                (*k).clone(),
            )
        });
        for name in names {
            if name == "tollgate.checkpoint.note" {
                continue;
            }
            let value = &e.attributes[name];
            let class = if SHOWN.contains(&name.as_ref()) {
                "key"
            } else {
                "more"
            };
            let _ = write!(
                html,
                "<span class=\"{class}\"><b>{}</b>={}</span> ",
                escape(name),
                escape(&shown(value))
            );
        }
        html.push_str("</td></tr>\n");
    }
    html.push_str("</tbody></table>\n</body></html>\n");
    html
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1b1f24}\
h1{font-size:1.3em}code{font-size:.95em}\
dl.who{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em}dt{color:#57606a}dd{margin:0}\
.timeline{border:1px solid #d0d7de;border-radius:6px;padding:.5em;margin:1em 0}\
.lane{display:flex;align-items:center;height:2.2em}.lane .name{width:6em;color:#57606a}\
.track{position:relative;flex:1;height:1.2em;background:#f6f8fa;border-radius:3px}\
.mark{position:absolute;top:0;height:100%;border-radius:2px;background:#2da44e;opacity:.85}\
.mark.deny{background:#cf222e;height:160%;top:-30%;z-index:2}.mark.revoke{background:#bc4c00;z-index:1}\
.mark.report{background:#bf8700}.mark.server{background:#8250df}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25em .5em;border-bottom:1px solid #eaeef2;vertical-align:top}\
tr.deny{background:#ffebe9}tr.revoke{background:#fff1e5}tr.report{background:#fff8c5}\
span.more{color:#57606a;font-size:.9em}.summary .deny{color:#cf222e}.summary .revoke{color:#bc4c00}.summary .report{color:#9a6700}";

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
        for name in SHOWN {
            if let Some(value) = e.attributes.get(name) {
                let _ = write!(details, " {name}={}", shown(value));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provenance::{Event, seal};

    fn records() -> Vec<Record> {
        let who = |e: Event| {
            e.with(attr::INVOCATION, "inv-1")
                .with(attr::TENANT, "acme")
                .with(attr::SESSION, "s-7")
                .with(attr::TOOL, "fetch")
        };
        let events = vec![
            who(Event::new("invocation.start", "broker", 1_000, 1_000))
                .with(attr::TOOL_CALL, "call-3")
                .with(attr::MODEL, "claude")
                .with(attr::TRACE, "4bf92f3577b34da6a3ce929d0e0e4736"),
            who(Event::new("credential.issue", "broker", 1_004, 1_004))
                .with(attr::CREDENTIAL, "db")
                .with(attr::CREDENTIAL_SOURCE, "vault-database")
                .with(attr::FINGERPRINT, "fp:9a1c"),
            who(Event::new("egress.allow", "proxy", 1_020, 1_031))
                .with(attr::METHOD, "GET")
                .with(attr::HOST, "api.github.com")
                .with(attr::STATUS, 200)
                .with(attr::REASON, "allowed"),
            who(Event::new("egress.deny", "proxy", 1_040, 1_041))
                .with(attr::METHOD, "POST")
                .with(attr::HOST, "paste.example")
                .with(attr::STATUS, 403)
                .with(attr::REASON, "issued_credential_misuse")
                .with(attr::FINGERPRINT, "fp:9a1c"),
            Event::new("egress.allow", "proxy", 1_045, 1_046).with(attr::INVOCATION, "someone-else"),
            Event::new(crate::provenance::CHECKPOINT, "proxy", 1_050, 1_050),
            who(Event::new("credential.revoke", "broker", 1_060, 1_060))
                .with(attr::CREDENTIAL, "db")
                .with(attr::REASON, "misuse"),
        ];
        let mut out: Vec<Record> = Vec::new();
        let mut last = (0, crate::provenance::GENESIS.to_owned());
        for event in events {
            let record = seal(event, last.0, &last.1);
            last = (record.seq, record.hash.clone());
            out.push(record);
        }
        out
    }

    #[test]
    fn the_text_trace_of_one_invocation() {
        let (mine, text) = trace(records(), "inv-1");
        assert_eq!(mine.len(), 5, "other invocations and checkpoints are not on it");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn the_page_escapes_what_it_shows_and_marks_out_denials_and_revocations() {
        let mut all = records();
        all[2]
            .event
            .attributes
            .insert(attr::HOST.into(), "<script>alert(1)</script>".into());
        let (mine, _) = trace(all, "inv-1");
        let page = render_html(&mine, "inv-1");
        assert!(!page.contains("<script>"), "an attribute's text is escaped");
        assert!(page.contains("&lt;script&gt;"));
        assert_eq!(page.matches("<tr id=\"e").count(), mine.len());
        assert!(page.contains("class=\"event deny\" data-type=\"egress.deny\""));
        assert!(page.contains("class=\"event revoke\" data-type=\"credential.revoke\""));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "nothing to fetch"
        );
    }
}
