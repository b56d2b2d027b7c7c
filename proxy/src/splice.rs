//! Copying a tunnel-only connection both ways while charging its budget: every read is
//! charged before it is written on, a direction whose budget ends is cut after the granted
//! bytes, and the whole tunnel is closed there. The proxy cannot see requests inside such a
//! tunnel, so the tunnel is one request for the budgets.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tollgate_shared::budget::Exceeded;
use tracing::{debug, warn};

use crate::budget::Exchange;

const CHUNK: usize = 16 * 1024;

/// What one tunnel moved.
#[derive(Debug, Default, Clone, Copy)]
pub struct Moved {
    pub out: u64,
    pub back: u64,
    /// The budget that closed the tunnel, if one did.
    pub cut: Option<Exceeded>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Out,
    Back,
}

/// Splices `client` and `upstream` until both sides are done, the tunnel is idle for
/// `idle`, a budget ends, the store fails (closed: nothing more is forwarded), or `revoked`
/// completes (the caller's identity is no longer valid).
pub async fn metered<C, U, R>(
    mut client: C,
    mut upstream: U,
    mut exchange: Exchange,
    idle: Duration,
    revoked: R,
) -> Moved
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
    R: std::future::Future<Output = ()>,
{
    let mut moved = Moved::default();
    let (mut up_buf, mut down_buf) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let (mut client_open, mut upstream_open) = (true, true);
    tokio::pin!(revoked);
    while client_open || upstream_open {
        let reading = tokio::time::timeout(idle, async {
            tokio::select! {
                n = client.read(&mut up_buf), if client_open => (Way::Out, n),
                n = upstream.read(&mut down_buf), if upstream_open => (Way::Back, n),
            }
        });
        let read = tokio::select! {
            read = reading => read,
            () = &mut revoked => {
                debug!("the tunnel's identity is no longer valid, closing");
                break;
            }
        };
        let Ok((way, n)) = read else {
            debug!("tunnel idle, closing");
            break;
        };
        let n = match n {
            Ok(0) | Err(_) => {
                // One side finished sending: pass the half-close on and keep the other way.
                match way {
                    Way::Out => {
                        client_open = false;
                        let _ = upstream.shutdown().await;
                    }
                    Way::Back => {
                        upstream_open = false;
                        let _ = client.shutdown().await;
                    }
                }
                continue;
            }
            Ok(n) => n,
        };
        let charged = match way {
            Way::Out => exchange.charge_out(n).await,
            Way::Back => exchange.charge_in(n).await,
        };
        let (granted, exceeded) = match charged {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "budget store failed mid-tunnel; closing it");
                break;
            }
        };
        // pingora's client stream buffers writes: flush so the peer sees them now.
        let written = match way {
            Way::Out => write_flush(&mut upstream, &up_buf[..granted]).await,
            Way::Back => write_flush(&mut client, &down_buf[..granted]).await,
        };
        match way {
            Way::Out => moved.out += granted as u64,
            Way::Back => moved.back += granted as u64,
        }
        if written.is_err() {
            break;
        }
        if exceeded.is_some() {
            moved.cut = exceeded;
            break;
        }
    }
    let _ = client.shutdown().await;
    let _ = upstream.shutdown().await;
    exchange.finish().await;
    moved
}

async fn write_flush<W: AsyncWrite + Unpin>(to: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    to.write_all(bytes).await?;
    to.flush().await
}
