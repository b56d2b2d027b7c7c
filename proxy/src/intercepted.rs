//! A client connection after the proxy has terminated its TLS: the tokio-rustls stream over
//! pingora's plain stream, carrying the tunnel's context as pingora's proxy digest so that
//! every request on the connection (h1 or h2) can read who opened it and for which target.

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use pingora_core::protocols::l4::stream::Stream as L4Stream;
use pingora_core::protocols::raw_connect::ProxyDigest;
use pingora_core::protocols::{
    ALPN, GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, TimingDigest,
    UniqueID, UniqueIDType,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_rustls::server::TlsStream;

use crate::rawtarget::RecentBytes;

pub struct Intercepted {
    tls: TlsStream<L4Stream>,
    digest: Arc<ProxyDigest>,
    alpn: Option<ALPN>,
    /// What the client sent lately, for the request-target check (see [`crate::rawtarget`]).
    recent: Arc<RecentBytes>,
}

impl Intercepted {
    pub fn new(tls: TlsStream<L4Stream>, digest: ProxyDigest, recent: Arc<RecentBytes>) -> Self {
        let alpn = match tls.get_ref().1.alpn_protocol() {
            Some(b"h2") => Some(ALPN::H2),
            Some(b"http/1.1") => Some(ALPN::H1),
            _ => None,
        };
        Self {
            tls,
            digest: Arc::new(digest),
            alpn,
            recent,
        }
    }
}

impl std::fmt::Debug for Intercepted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intercepted")
            .field("alpn", &self.alpn)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Intercepted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tls).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && self.alpn != Some(ALPN::H2) {
            self.recent.record(&buf.filled()[before..]);
        }
        polled
    }
}

impl AsyncWrite for Intercepted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tls).poll_write(cx, buf)
    }

    /// pingora writes a chunk as its size line, its data and its CRLF in one vectored write
    /// when the stream takes them (`write_all_buf`), and h2 a frame head with its payload:
    /// rustls then seals them as one TLS record instead of one record for each piece.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tls).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tls.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tls).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tls).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for Intercepted {
    async fn shutdown(&mut self) {
        // The client may already be gone; nothing to do about a failed close_notify.
        let _ = AsyncWriteExt::shutdown(&mut self.tls).await;
    }
}

impl UniqueID for Intercepted {
    fn id(&self) -> UniqueIDType {
        self.tls.get_ref().0.id()
    }
}

impl Ssl for Intercepted {
    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.alpn.clone()
    }
}

impl GetTimingDigest for Intercepted {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.tls.get_ref().0.get_timing_digest()
    }
}

impl GetProxyDigest for Intercepted {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        Some(Arc::clone(&self.digest))
    }
}

impl GetSocketDigest for Intercepted {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.tls.get_ref().0.get_socket_digest()
    }
}

impl Peek for Intercepted {}
