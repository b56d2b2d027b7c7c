//! A minimal pass-through MITM: the floor for "decrypt and re-encrypt" in the proxy benchmark
//! (deploy/bench-proxy.sh). CONNECT, a leaf from the same CA and minter as the proxy, then
//! hyper HTTP/1.1 on both sides over tokio-rustls (the proxy's crypto provider): no authentication, no decision, no
//! inspection, no budgets. One upstream connection per client connection, kept alive.
//!
//! passthrough --listen IP:PORT --ca-dir DIR --upstream-ca FILE [--connect-to IP] [--threads 1]

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tollgate_proxy::ca::Authority;
use tollgate_proxy::mint::Minter;

type Error = Box<dyn std::error::Error + Send + Sync>;

const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug)]
struct Args {
    listen: SocketAddr,
    ca_dir: PathBuf,
    upstream_ca: PathBuf,
    connect_to: Option<IpAddr>,
    threads: usize,
}

fn parse_args() -> Result<Args, Error> {
    let (mut listen, mut ca_dir, mut upstream_ca, mut connect_to, mut threads) = (None, None, None, None, 1);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = Some(value.parse()?),
            "--ca-dir" => ca_dir = Some(PathBuf::from(value)),
            "--upstream-ca" => upstream_ca = Some(PathBuf::from(value)),
            "--connect-to" => connect_to = Some(value.parse()?),
            "--threads" => threads = value.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(Args {
        listen: listen.ok_or("--listen IP:PORT")?,
        ca_dir: ca_dir.ok_or("--ca-dir DIR")?,
        upstream_ca: upstream_ca.ok_or("--upstream-ca FILE")?,
        connect_to,
        threads,
    })
}

/// What every connection shares.
struct Peer {
    minter: Minter,
    upstream_tls: TlsConnector,
    connect_to: Option<IpAddr>,
}

impl Peer {
    fn new(args: &Args) -> Result<Peer, Error> {
        let authority = Authority::load(&args.ca_dir)?;
        let minter = Minter::new(authority, Duration::from_secs(86_400), 10_000)?;
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(&args.upstream_ca)?;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots.add(cert?)?;
        }
        let provider = Arc::new(tollgate_proxy::mint::crypto_provider());
        let mut client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Peer {
            minter,
            upstream_tls: TlsConnector::from(Arc::new(client)),
            connect_to: args.connect_to,
        })
    }

    async fn serve(&self, mut client: TcpStream) -> Result<(), Error> {
        client.set_nodelay(true)?;
        let (host, port) = read_connect(&mut client).await?;
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
        let acceptor = TlsAcceptor::from(self.minter.config_for(&host)?);
        let (tls, upstream) = tokio::try_join!(
            async { Ok::<_, Error>(acceptor.accept(client).await?) },
            self.dial(&host, port)
        )?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(upstream)).await?;
        tokio::spawn(connection);
        let sender = Arc::new(Mutex::new(sender));
        let forward = service_fn(move |request: Request<Incoming>| {
            let sender = sender.clone();
            async move {
                let mut sender = sender.lock().await;
                sender.ready().await?;
                sender.send_request(request).await
            }
        });
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(tls), forward)
            .await?;
        Ok(())
    }

    async fn dial(&self, host: &str, port: u16) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
        let addr = match self.connect_to {
            Some(ip) => SocketAddr::new(ip, port),
            None => tokio::net::lookup_host((host, port))
                .await?
                .next()
                .ok_or("no address")?,
        };
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(host.to_owned())?;
        Ok(self.upstream_tls.connect(name, tcp).await?)
    }
}

/// Reads `CONNECT host:port HTTP/1.1` and the rest of its head; the client sends nothing more
/// before the `200`.
async fn read_connect(client: &mut TcpStream) -> Result<(String, u16), Error> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = client.read(&mut chunk).await?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return Err("no complete CONNECT head".into());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let line = std::str::from_utf8(line)?;
    let mut parts = line.split(' ');
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        return Err(format!("not a CONNECT: {line}").into());
    };
    let (host, port) = target.rsplit_once(':').ok_or("CONNECT target without a port")?;
    Ok((host.to_owned(), port.parse()?))
}

fn main() -> Result<(), Error> {
    let args = parse_args()?;
    let peer = Arc::new(Peer::new(&args)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(args.listen).await?;
        loop {
            let (client, _) = listener.accept().await?;
            let peer = peer.clone();
            tokio::spawn(async move {
                if let Err(e) = peer.serve(client).await {
                    eprintln!("passthrough: {e}");
                }
            });
        }
    })
}
