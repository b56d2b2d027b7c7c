//! OTLP/HTTP export of provenance: every record a writer appends is also sent, as an
//! OpenTelemetry log record, to a collector (`POST <endpoint>` with an
//! `ExportLogsServiceRequest` in protobuf). The files stay the record of truth: the export
//! never holds up the writer (a full queue drops the batch and counts it), and a collector
//! that fails is logged, not retried into memory.
//!
//! The messages below follow `opentelemetry/proto/collector/logs/v1/logs_service.proto`,
//! `logs/v1/logs.proto` and `common/v1/common.proto`: the same field numbers and types, only
//! the fields Tollgate fills. The test decodes them with the official definitions.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::Duration;

use serde::Deserialize;

use super::{Record, attr};

/// Where to export (strict: a person writes it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpSettings {
    /// The collector's logs endpoint, e.g. `http://127.0.0.1:4318/v1/logs`.
    pub endpoint: String,
    /// Longest one export may take.
    #[serde(default = "default_timeout", deserialize_with = "super::sink::duration")]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ExportLogsServiceRequest {
    #[prost(message, repeated, tag = "1")]
    pub resource_logs: Vec<ResourceLogs>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceLogs {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    pub scope_logs: Vec<ScopeLogs>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Resource {
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ScopeLogs {
    #[prost(message, optional, tag = "1")]
    pub scope: Option<InstrumentationScope>,
    #[prost(message, repeated, tag = "2")]
    pub log_records: Vec<LogRecord>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct InstrumentationScope {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LogRecord {
    #[prost(fixed64, tag = "1")]
    pub time_unix_nano: u64,
    #[prost(fixed64, tag = "11")]
    pub observed_time_unix_nano: u64,
    /// `SeverityNumber`: 9 is INFO, 13 WARN.
    #[prost(int32, tag = "2")]
    pub severity_number: i32,
    #[prost(string, tag = "3")]
    pub severity_text: String,
    #[prost(message, optional, tag = "5")]
    pub body: Option<AnyValue>,
    #[prost(message, repeated, tag = "6")]
    pub attributes: Vec<KeyValue>,
    #[prost(bytes = "vec", tag = "9")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "10")]
    pub span_id: Vec<u8>,
    #[prost(string, tag = "12")]
    pub event_name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AnyValue {
    #[prost(oneof = "Value", tags = "1, 2, 3, 4")]
    pub value: Option<Value>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Value {
    #[prost(string, tag = "1")]
    StringValue(String),
    #[prost(bool, tag = "2")]
    BoolValue(bool),
    #[prost(int64, tag = "3")]
    IntValue(i64),
    #[prost(double, tag = "4")]
    DoubleValue(f64),
}

fn value(json: &serde_json::Value) -> AnyValue {
    let value = match json {
        serde_json::Value::String(s) => Value::StringValue(s.clone()),
        serde_json::Value::Bool(b) => Value::BoolValue(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::IntValue(i),
            None => Value::DoubleValue(n.as_f64().unwrap_or_default()),
        },
        other => Value::StringValue(other.to_string()),
    };
    AnyValue { value: Some(value) }
}

fn key_value(key: &str, json: &serde_json::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(value(json)),
    }
}

fn hex_bytes(text: Option<&str>, len: usize) -> Vec<u8> {
    text.and_then(super::checkpoint::decode_hex)
        .filter(|bytes| bytes.len() == len)
        .unwrap_or_default()
}

/// One record as an OTLP log record: its type as the event name, its attributes as they are
/// (plus the chain position), its trace and span ids in their fields.
pub fn log_record(record: &Record) -> LogRecord {
    let e = &record.event;
    let warn = matches!(super::trace::tone(&e.kind), "deny" | "revoke");
    let mut attributes: Vec<KeyValue> = e
        .attributes
        .iter()
        .filter(|(k, _)| k.as_ref() != super::CHECKPOINT_NOTE)
        .map(|(k, v)| key_value(k, v))
        .collect();
    attributes.push(key_value("tollgate.source", &e.source.as_str().into()));
    attributes.push(key_value("tollgate.seq", &record.seq.into()));
    attributes.push(key_value("tollgate.hash", &record.hash.as_str().into()));
    LogRecord {
        time_unix_nano: e.start_unix_ms.saturating_mul(1_000_000),
        observed_time_unix_nano: e.end_unix_ms.max(e.start_unix_ms).saturating_mul(1_000_000),
        severity_number: if warn { 13 } else { 9 },
        severity_text: if warn { "WARN" } else { "INFO" }.to_owned(),
        body: Some(value(&e.kind.as_str().into())),
        attributes,
        trace_id: hex_bytes(e.text(attr::TRACE), 16),
        span_id: hex_bytes(e.text(attr::SPAN), 8),
        event_name: e.kind.clone(),
    }
}

/// The export request for one batch of `service`'s records.
pub fn request(service: &str, records: &[Record]) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![key_value("service.name", &format!("tollgate-{service}").into())],
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "tollgate.provenance".to_owned(),
                    version: super::SCHEMA.to_owned(),
                }),
                log_records: records.iter().map(log_record).collect(),
            }],
        }],
    }
}

/// The writer's side of the export: hands batches over without ever waiting.
#[derive(Debug)]
pub struct Exporter {
    queue: SyncSender<Vec<Record>>,
    dropped: u64,
}

impl Exporter {
    /// Starts the exporting thread.
    pub fn start(settings: &OtlpSettings, service: &str) -> std::io::Result<Self> {
        let (queue, batches) = std::sync::mpsc::sync_channel(256);
        let (settings, service) = (settings.clone(), service.to_owned());
        std::thread::Builder::new()
            .name("provenance-otlp".to_owned())
            .spawn(move || export(&settings, &service, &batches))?;
        Ok(Self { queue, dropped: 0 })
    }

    pub fn send(&mut self, batch: Vec<Record>) {
        match self.queue.try_send(batch) {
            Ok(()) => {}
            Err(TrySendError::Full(batch)) => {
                self.dropped += batch.len() as u64;
                tracing::warn!(
                    dropped = self.dropped,
                    "the OTLP export falls behind; records are dropped from it (the files keep them)"
                );
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

fn export(settings: &OtlpSettings, service: &str, batches: &Receiver<Vec<Record>>) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the OTLP exporter: {e}");
            return;
        }
    };
    let _inside = runtime.enter();
    let client = match reqwest::Client::builder()
        .timeout(settings.timeout)
        .no_proxy()
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!("cannot start the OTLP exporter: {e}");
            return;
        }
    };
    let mut failing = false;
    while let Ok(mut batch) = batches.recv() {
        batch.extend(batches.try_iter().flatten());
        let body = prost::Message::encode_to_vec(&request(service, &batch));
        let sent = runtime.block_on(
            client
                .post(&settings.endpoint)
                .header("content-type", "application/x-protobuf")
                .body(body)
                .send(),
        );
        match sent.map(|r| r.status()) {
            Ok(status) if status.is_success() => {
                if failing {
                    tracing::info!("the OTLP collector takes records again");
                }
                failing = false;
            }
            other => {
                if !failing {
                    let why = match other {
                        Ok(status) => format!("it answered {status}"),
                        Err(e) => format!("{}", e.without_url()),
                    };
                    tracing::warn!(
                        records = batch.len(),
                        "the OTLP collector did not take records: {why}"
                    );
                }
                failing = true;
            }
        }
    }
}
