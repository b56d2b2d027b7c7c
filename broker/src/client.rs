//! Clients of the broker's two interfaces, for `tollgate invoke` and `tollgate credential`
//! and for tests: the control API over HTTP, the tool socket over a Unix stream.

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde::de::DeserializeOwned;
use thiserror::Error;
use tollgate_shared::invocation::{Credential, Refusal, StartRequest, Started};

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot reach the broker: {0}")]
    Unreachable(String),
    #[error("the broker refused ({status} {}): {}", .refusal.reason, .refusal.message)]
    Refused { status: u16, refusal: Refusal },
    #[error("the broker's answer is not understood: {0}")]
    Malformed(String),
}

/// The answer's JSON, or its refusal.
fn answer<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, ClientError> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(body).map_err(|e| ClientError::Malformed(e.to_string()));
    }
    match serde_json::from_slice::<Refusal>(body) {
        Ok(refusal) => Err(ClientError::Refused { status, refusal }),
        Err(_) => Err(ClientError::Malformed(format!(
            "{status} without a refusal: {}",
            String::from_utf8_lossy(body)
                .chars()
                .take(200)
                .collect::<String>()
        ))),
    }
}

#[derive(Debug, Clone)]
pub struct Control {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Control {
    pub fn new(base: &str, token: &str) -> Result<Self, ClientError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, ClientError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        answer(status, &bytes)
    }

    pub async fn start(&self, request: &StartRequest) -> Result<Started, ClientError> {
        let body = serde_json::to_value(request).map_err(|e| ClientError::Malformed(e.to_string()))?;
        self.post("/v1/invocations", &body).await
    }

    pub async fn end(&self, invocation_id: &str) -> Result<serde_json::Value, ClientError> {
        self.post(
            &format!("/v1/invocations/{invocation_id}/end"),
            &serde_json::json!({}),
        )
        .await
    }
}

/// `GET /v1/credentials/{name}` on the tool socket.
pub fn credential(
    socket: &Path,
    invocation_id: &str,
    secret: &str,
    name: &str,
) -> Result<Credential, ClientError> {
    let unreachable = |e: std::io::Error| ClientError::Unreachable(format!("{}: {e}", socket.display()));
    let mut stream = UnixStream::connect(socket).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .map_err(unreachable)?;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{invocation_id}:{secret}"));
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let request = format!(
        "GET /v1/credentials/{encoded} HTTP/1.1\r\nhost: broker\r\nauthorization: Basic {basic}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(unreachable)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(unreachable)?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head) = parsed
        .parse(&raw)
        .map_err(|e| ClientError::Malformed(e.to_string()))?
    else {
        return Err(ClientError::Malformed("incomplete answer".to_owned()));
    };
    let status = parsed.code.unwrap_or(0);
    answer(status, &raw[head..])
}
