//! The tool socket: a Unix socket mounted into tool containers. A tool asks for a
//! credential by name, authenticated by its invocation id and secret (HTTP Basic, the same
//! pair as its proxy credentials) and, where configured, by its uid/gid (SO_PEERCRED).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::serve::IncomingStream;
use axum::{Json, Router, middleware};
use base64::Engine as _;
use tokio::net::UnixListener;

use crate::control::{MAX_BODY, exit};
use crate::error::BrokerError;
use crate::lifecycle::Broker;
use tollgate_shared::invocation::Credential;

/// Who is on the other end of the socket, as the kernel says.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl Connected<IncomingStream<'_, UnixListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, UnixListener>) -> Self {
        let cred = stream.io().peer_cred().ok();
        Self {
            uid: cred.map(|c| c.uid()),
            gid: cred.map(|c| c.gid()),
        }
    }
}

/// Which peers may call; empty lists allow any.
#[derive(Debug, Clone, Default)]
pub struct PeerRule {
    pub uids: Vec<u32>,
    pub gids: Vec<u32>,
}

impl PeerRule {
    fn admits(&self, peer: Peer) -> bool {
        let ok = |list: &[u32], id: Option<u32>| list.is_empty() || id.is_some_and(|i| list.contains(&i));
        ok(&self.uids, peer.uid) && ok(&self.gids, peer.gid)
    }
}

#[derive(Debug, Clone)]
struct App {
    broker: Arc<Broker>,
    peers: PeerRule,
}

/// Binds the socket with `mode`, replacing a stale socket file (never another kind of file).
pub fn bind(path: &Path, mode: u32) -> std::io::Result<UnixListener> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is in use by another broker", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(listener)
}

pub async fn serve(
    listener: UnixListener,
    broker: Arc<Broker>,
    peers: PeerRule,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/v1/credentials/{name}", get(credential))
        .fallback(|| async { BrokerError::NoRoute })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(Arc::clone(&broker), exit))
        .with_state(App { broker, peers });
    axum::serve(listener, app.into_make_service_with_connect_info::<Peer>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// `Authorization: Basic base64(invocation-id:secret)`.
fn invocation_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

async fn credential(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> Result<Json<Credential>, BrokerError> {
    if !app.peers.admits(peer) {
        return Err(BrokerError::PeerRefused);
    }
    let (id, secret) = invocation_credentials(&headers).ok_or(BrokerError::InvalidCredentials)?;
    let record = app.broker.authenticate(&id, &secret).await?;
    match app.broker.credential(&record, &name).await {
        Ok(credential) => Ok(Json(credential)),
        Err(error) => {
            app.broker.record_denial(&record, &name, &error);
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_rules_admit_only_listed_ids() {
        let peer = Peer {
            uid: Some(1000),
            gid: Some(100),
        };
        assert!(PeerRule::default().admits(peer));
        assert!(
            PeerRule {
                uids: vec![1000],
                gids: vec![]
            }
            .admits(peer)
        );
        assert!(
            !PeerRule {
                uids: vec![0],
                gids: vec![]
            }
            .admits(peer)
        );
        assert!(
            !PeerRule {
                uids: vec![],
                gids: vec![5]
            }
            .admits(peer)
        );
        assert!(
            !PeerRule {
                uids: vec![1000],
                gids: vec![]
            }
            .admits(Peer { uid: None, gid: None })
        );
    }
}
