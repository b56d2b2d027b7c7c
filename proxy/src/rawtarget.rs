//! Control bytes in a tunnelled HTTP/1 request-target. pingora does not refuse a request line
//! with raw control bytes, spaces or quotes in its target: it percent-encodes them and parses
//! again, so `GET /a<NUL>b` reaches the pipeline as `/a%00b`, indistinguishable in the parsed
//! request from a client that sent `%00`. The front door refuses such a line on plain HTTP
//! (httparse is strict there); inside a tunnel the decrypted bytes the client sent are kept
//! here, briefly, so the pipeline can tell whether the line it got is the line that was sent;
//! so are those of a plain-HTTP connection, whose later requests pingora parses too.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_trait::async_trait;
use pingora_core::protocols::l4::stream::Stream as L4Stream;
use pingora_core::protocols::raw_connect::ProxyDigest;
use pingora_core::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, TimingDigest,
    UniqueID, UniqueIDType,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes kept: more than the largest head the pipeline accepts in practice plus the read
/// that brought it; a longer head with `%` in its target is refused rather than let through
/// unchecked.
const KEEP: usize = 64 << 10;

/// The most recent decrypted bytes of one client connection.
#[derive(Debug, Default)]
pub struct RecentBytes {
    bytes: Mutex<VecDeque<u8>>,
}

impl RecentBytes {
    pub fn record(&self, read: &[u8]) {
        let mut bytes = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        let read = &read[read.len().saturating_sub(KEEP)..];
        let overflow = (bytes.len() + read.len()).saturating_sub(KEEP);
        bytes.drain(..overflow);
        bytes.extend(read);
    }

    /// Whether the client sent this request line as it is (rather than pingora rebuilding it
    /// from one with bytes no request-target may hold).
    pub fn sent_as_is(&self, method: &str, target: &[u8]) -> bool {
        if !target.contains(&b'%') {
            // pingora's rewrite always leaves a `%`; without one the line is as sent.
            return true;
        }
        let mut line = Vec::with_capacity(method.len() + target.len() + 7);
        line.extend_from_slice(method.as_bytes());
        line.push(b' ');
        line.extend_from_slice(target);
        line.extend_from_slice(b" HTTP/");
        let mut bytes = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        memchr::memmem::find(bytes.make_contiguous(), &line).is_some()
    }
}

/// A plain-HTTP client connection whose reads are kept in [`RecentBytes`], reachable from
/// every request on it through pingora's proxy digest (the first request's head was checked
/// by the front door's strict parser; the later ones are pingora's to parse).
pub struct Watched {
    inner: Box<L4Stream>,
    recent: Arc<RecentBytes>,
    digest: Arc<ProxyDigest>,
}

impl Watched {
    pub fn new(inner: Box<L4Stream>) -> Option<Self> {
        let recent = Arc::new(RecentBytes::default());
        let head = pingora_http::ResponseHeader::build(200, None).ok()?;
        let user_data: Box<dyn std::any::Any + Send + Sync> = Box::new(Arc::clone(&recent));
        Some(Self {
            inner,
            recent,
            digest: Arc::new(ProxyDigest::new(Box::new(head), Some(user_data))),
        })
    }
}

/// The recent bytes of a plain connection, from its proxy digest.
pub fn of_plain(digest: Option<&Arc<ProxyDigest>>) -> Option<&Arc<RecentBytes>> {
    digest?.user_data.as_ref()?.downcast_ref::<Arc<RecentBytes>>()
}

impl std::fmt::Debug for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched").finish_non_exhaustive()
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut *self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) {
            self.recent.record(&buf.filled()[before..]);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for Watched {
    async fn shutdown(&mut self) {
        Shutdown::shutdown(&mut *self.inner).await;
    }
}

impl UniqueID for Watched {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for Watched {}

impl GetTimingDigest for Watched {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }
}

impl GetProxyDigest for Watched {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        Some(Arc::clone(&self.digest))
    }
}

impl GetSocketDigest for Watched {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }
}

#[async_trait]
impl Peek for Watched {
    async fn try_peek(&mut self, buf: &mut [u8]) -> std::io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_line_is_told_from_one_sent_encoded() {
        let recent = RecentBytes::default();
        recent.record(b"GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(recent.sent_as_is("GET", b"/a%00b"));
        let recent = RecentBytes::default();
        recent.record(b"GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(!recent.sent_as_is("GET", b"/a%00b"));
        assert!(recent.sent_as_is("GET", b"/plain"));
    }

    #[test]
    fn only_the_most_recent_bytes_are_kept() {
        let recent = RecentBytes::default();
        recent.record(b"GET /old%41 HTTP/1.1\r\n");
        recent.record(&vec![b'x'; KEEP]);
        assert!(!recent.sent_as_is("GET", b"/old%41"));
        assert_eq!(recent.bytes.lock().expect("lock").len(), KEEP);
    }
}
