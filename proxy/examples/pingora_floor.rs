//! pingora with nothing of Tollgate on it: the floor for "decrypt and re-encrypt through
//! pingora" in the proxy benchmark (deploy/bench-proxy.sh, target `pingora`). The same
//! arrangement as `tollgate proxy`: a pingora `Server` with one thread, the CONNECT head read
//! by the proxy's own `read_head`, a leaf from the same CA and minter, the decrypted stream
//! handed to pingora's HTTP proxy as the proxy's `Intercepted` stream, upstream TLS verified
//! against a root file and pooled by pingora (`upstream_keepalive_pool_size` as the proxy
//! sets it). The `ProxyHttp` has no filter: no authentication, decision, inspection, budgets
//! or records. One difference in set-up: the proxy offers the upstream h2 and h1 (ALPN), this
//! offers h1 only (the benchmark's origin speaks h1 only, so both end up on h1; any cost of
//! offering h2 counts as Tollgate's here). Tollgate's CPU per request minus this one's is what Tollgate's own work costs;
//! this one's minus the hyper pass-through's (`passthrough.rs`) is what pingora costs.
//!
//! pingora_floor --listen IP:PORT --ca-dir DIR --upstream-ca FILE --connect-to IP

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora_core::apps::ServerApp;
use pingora_core::protocols::Stream;
use pingora_core::protocols::l4::stream::Stream as L4Stream;
use pingora_core::protocols::raw_connect::ProxyDigest;
use pingora_core::server::configuration::ServerConf;
use pingora_core::server::{Server, ShutdownWatch};
use pingora_core::services::listening::Service;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_error::Result;
use pingora_http::ResponseHeader;
use pingora_proxy::{HttpProxy, ProxyHttp, Session};
use tokio::io::AsyncWriteExt;
use tollgate_proxy::ca::Authority;
use tollgate_proxy::config::Limits;
use tollgate_proxy::head::{read_head, split_authority};
use tollgate_proxy::intercepted::Intercepted;
use tollgate_proxy::mint::Minter;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug)]
struct Args {
    listen: String,
    ca_dir: PathBuf,
    upstream_ca: PathBuf,
    connect_to: IpAddr,
}

fn parse_args() -> Result<Args, Error> {
    let (mut listen, mut ca_dir, mut upstream_ca, mut connect_to) = (None, None, None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = Some(value),
            "--ca-dir" => ca_dir = Some(PathBuf::from(value)),
            "--upstream-ca" => upstream_ca = Some(PathBuf::from(value)),
            "--connect-to" => connect_to = Some(value.parse()?),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(Args {
        listen: listen.ok_or("--listen IP:PORT")?,
        ca_dir: ca_dir.ok_or("--ca-dir DIR")?,
        upstream_ca: upstream_ca.ok_or("--upstream-ca FILE")?,
        connect_to: connect_to.ok_or("--connect-to IP")?,
    })
}

/// Where a tunnel goes, carried as the proxy digest's user data as Tollgate carries its own.
struct Target {
    host: String,
    addr: SocketAddr,
}

struct Floor;

#[async_trait]
impl ProxyHttp for Floor {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(&self, session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        let target = session
            .digest()
            .and_then(|d| d.proxy_digest.as_ref())
            .and_then(|p| p.user_data.as_ref())
            .and_then(|u| u.downcast_ref::<Target>())
            .ok_or_else(|| pingora_error::Error::new_str("no tunnel"))?;
        let mut peer = HttpPeer::new(target.addr, true, target.host.clone());
        peer.options.verify_cert = true;
        peer.options.verify_hostname = true;
        Ok(Box::new(peer))
    }
}

struct Front {
    minter: Minter,
    connect_to: IpAddr,
    pipeline: Arc<HttpProxy<Floor>>,
}

#[async_trait]
impl ServerApp for Front {
    async fn process_new(self: &Arc<Self>, stream: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        let mut l4 = stream.into_any().downcast::<L4Stream>().ok()?;
        let limits = Limits::default();
        let head = read_head(&mut *l4, limits.max_header_bytes, limits.head_timeout)
            .await
            .ok()?;
        let (host, port) = split_authority(&head.target)?;
        let target = Target {
            host: host.to_owned(),
            addr: SocketAddr::new(self.connect_to, port),
        };
        l4.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .ok()?;
        l4.flush().await.ok()?;
        let config = self.minter.config_for(&target.host).ok()?;
        let tls = tokio_rustls::TlsAcceptor::from(config).accept(*l4).await.ok()?;
        let digest = ProxyDigest::new(
            Box::new(ResponseHeader::build(200, None).ok()?),
            Some(Box::new(target)),
        );
        let mut next: Option<Stream> = Some(Box::new(Intercepted::new(tls, digest, Arc::default())));
        while let Some(stream) = next.take() {
            next = self.pipeline.process_new(stream, shutdown).await;
        }
        None
    }
}

fn main() -> Result<(), Error> {
    let args = parse_args()?;
    tollgate_proxy::mint::install_crypto_provider();
    let minter = Minter::new(
        Authority::load(&args.ca_dir)?,
        Duration::from_secs(86_400),
        10_000,
    )?;
    let mut conf = ServerConf {
        threads: 1,
        ca_file: Some(args.upstream_ca.display().to_string()),
        ..ServerConf::default()
    };
    conf.upstream_keepalive_pool_size = 128;
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let pipeline = Arc::new(pingora_proxy::http_proxy(&server.configuration, Floor));
    let mut front = Service::new(
        "pingora floor".to_owned(),
        Front {
            minter,
            connect_to: args.connect_to,
            pipeline,
        },
    );
    front.add_tcp(&args.listen);
    server.add_service(front);
    server.run_forever()
}
