//! The first request head on a client connection: read with a size and time bound, parsed
//! with httparse, and the pieces the front door needs (CONNECT authority, proxy credentials).

use std::time::Duration;

use base64::Engine;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt};

#[derive(Debug, Error)]
pub enum HeadError {
    #[error("request head larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("request head not received within {0:?}")]
    Timeout(Duration),
    #[error("connection closed before a complete request head")]
    Closed,
    #[error("malformed request head: {0}")]
    Malformed(String),
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A parsed request head and every byte read so far (head and any body bytes after it).
#[derive(Debug)]
pub struct Head {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub head_len: usize,
    pub buffer: Vec<u8>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// Reads until a complete head has arrived, within `limit` bytes and `timeout` in total (a
/// slowloris client that trickles bytes is cut off by the total, not by a per-read timer).
pub async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    limit: usize,
    timeout: Duration,
) -> Result<Head, HeadError> {
    tokio::time::timeout(timeout, read_until_complete(stream, limit))
        .await
        .map_err(|_| HeadError::Timeout(timeout))?
}

async fn read_until_complete<S: AsyncRead + Unpin>(stream: &mut S, limit: usize) -> Result<Head, HeadError> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(head) = parse(&buffer)? {
            return Ok(head);
        }
        if buffer.len() > limit {
            return Err(HeadError::TooLarge { limit });
        }
    }
}

fn parse(buffer: &[u8]) -> Result<Option<Head>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buffer) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(head_len)) => Ok(Some(Head {
            method: request.method.unwrap_or_default().to_owned(),
            target: request.path.unwrap_or_default().to_owned(),
            headers: request
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                .collect(),
            head_len,
            buffer: buffer.to_vec(),
        })),
        Err(e) => Err(HeadError::Malformed(e.to_string())),
    }
}

/// Splits `host:port` (IPv6 in brackets) into host and port.
pub fn split_authority(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':')?)
    } else {
        authority.rsplit_once(':')?
    };
    (!host.is_empty()).then_some((host, port_number(port)?))
}

/// A port as RFC 3986 writes it, strictly: ASCII digits only, no sign and no leading zero
/// (`+443` and `0443` are refused rather than read as 443), never 0.
fn port_number(text: &str) -> Option<u16> {
    let canonical = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    canonical.then(|| text.parse::<u16>().ok()).flatten()
}

/// The user and secret of a `Basic` proxy credential.
pub fn basic_credentials(value: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, secret) = decoded.split_once(':')?;
    Some((user.to_owned(), secret.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_complete_head_is_parsed_with_what_follows_it() {
        let mut input: &[u8] =
            b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\nextra";
        let head = read_head(&mut input, 8192, Duration::from_secs(1))
            .await
            .expect("head");
        assert_eq!(
            (head.method.as_str(), head.target.as_str()),
            ("CONNECT", "api.example.com:443")
        );
        assert_eq!(&head.buffer[head.head_len..], b"extra");
    }

    #[tokio::test]
    async fn oversized_and_slow_heads_are_refused() {
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(20_000));
        let mut input = big.as_bytes();
        let error = read_head(&mut input, 8192, Duration::from_secs(1))
            .await
            .expect_err("too large");
        assert!(matches!(error, HeadError::TooLarge { .. }));
        let (_client, mut server) = tokio::io::duplex(64);
        let error = read_head(&mut server, 8192, Duration::from_millis(50))
            .await
            .expect_err("slow");
        assert!(matches!(error, HeadError::Timeout(_)));
    }

    #[test]
    fn authorities_and_credentials() {
        assert_eq!(
            split_authority("api.example.com:443"),
            Some(("api.example.com", 443))
        );
        assert_eq!(split_authority("[::1]:8443"), Some(("::1", 8443)));
        assert_eq!(split_authority("api.example.com"), None);
        assert_eq!(split_authority("host:0"), None);
        for odd in [
            "host:+443",
            "host:0443",
            "host:-1",
            "host: 443",
            "host:",
            "host:65536",
        ] {
            assert_eq!(split_authority(odd), None, "{odd}");
        }
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("inv:s3cret:x")
        );
        assert_eq!(
            basic_credentials(value.as_bytes()),
            Some(("inv".to_owned(), "s3cret:x".to_owned()))
        );
        assert_eq!(basic_credentials(b"Bearer abc"), None);
    }
}
