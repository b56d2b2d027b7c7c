//! The front door: every client connection starts here. pingora cannot tunnel CONNECT, so
//! the first request head is ours: read it within size and time bounds, authenticate the
//! caller, decide the CONNECT target before anything is resolved, resolve it and run the
//! SSRF guard, answer 200, then either splice bytes (tunnel-only rules) or terminate TLS with
//! a minted certificate and hand the decrypted stream to the pingora pipeline. Plain
//! absolute-form HTTP goes to the pipeline untouched.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use pingora_core::apps::ServerApp;
use pingora_core::protocols::Stream;
use pingora_core::protocols::l4::stream::Stream as L4Stream;
use pingora_core::protocols::raw_connect::ProxyDigest;
use pingora_core::server::ShutdownWatch;
use pingora_http::ResponseHeader;
use pingora_proxy::HttpProxy;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate_shared::outcome::Reason;
use tollgate_shared::policy::host::Host;
use tollgate_shared::policy::model::Traffic;
use tracing::{debug, info};

use crate::budget::Exchange;
use crate::gate::{Gate, ProxyCredentials, Tunnel};
use crate::head::{Head, HeadError, read_head, split_authority};
use crate::identity::Identity;
use crate::intercepted::Intercepted;
use crate::pipeline::Pipeline;
use crate::rescue::{Attempt, Denial};
use crate::splice;

pub struct FrontDoor {
    pub gate: Arc<Gate>,
    pub pipeline: Arc<HttpProxy<Pipeline>>,
}

impl std::fmt::Debug for FrontDoor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontDoor").finish_non_exhaustive()
    }
}

#[async_trait]
impl ServerApp for FrontDoor {
    async fn process_new(self: &Arc<Self>, stream: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        let Ok(mut l4) = stream.into_any().downcast::<L4Stream>() else {
            return None;
        };
        self.gate.metrics.open_connections.inc();
        let started = crate::record::now_ms();
        let limits = &self.gate.limits;
        match read_head(&mut *l4, limits.max_header_bytes, limits.head_timeout).await {
            Ok(head) if head.method.eq_ignore_ascii_case("CONNECT") => {
                self.connect(*l4, head, started, shutdown).await
            }
            Ok(head) => {
                let admitted = match self.plain_slot(&head).await {
                    Ok(slot) => self
                        .judge_target(&head)
                        .await
                        .or_else(|| misdirected(&head))
                        .map_or(Ok(slot), Err),
                    Err(denial) => Err(denial),
                };
                match admitted {
                    Err(denial) => {
                        let (host, port, path) = plain_target(&head.target);
                        let attempt = Attempt {
                            identity: None,
                            method: &head.method,
                            host: &host,
                            port,
                            target: &path,
                            started_unix_ms: started,
                        };
                        self.gate.refuse_raw(&mut *l4, &denial, attempt).await;
                    }
                    Ok(slot) => {
                        l4.rewind(&head.buffer);
                        self.serve_http(l4, shutdown).await;
                        drop(slot);
                    }
                }
            }
            Err(error) => self.refuse_head(&mut *l4, error, started).await,
        }
        self.gate.metrics.open_connections.dec();
        None
    }
}

impl FrontDoor {
    /// The parts of an absolute-form target that pingora drops (the fragment) or refuses
    /// with its own 400 (userinfo) before the pipeline could inspect them are judged here, on
    /// the connection's first request: a secret in them is `secret_detected`; userinfo without
    /// one is still refused, since no request target may carry it (RFC 9110 4.2.4).
    async fn judge_target(&self, head: &Head) -> Option<Denial> {
        let (_, rest) = head.target.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let userinfo = authority.contains('@');
        if !userinfo && !head.target.contains('#') {
            return None;
        }
        let identity = match self.gate.authenticate(head.header("proxy-authorization")).await {
            Ok(identity) => identity,
            Err(denial) => return Some(denial),
        };
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, _) = split_authority(host_port).unwrap_or((host_port, 80));
        let host = Host::parse(host.trim_start_matches('[').trim_end_matches(']')).ok()?;
        let request = crate::inspect::RequestHead {
            method: &head.method,
            target: &head.target,
            headers: &http::HeaderMap::new(),
            parsed: None,
            clean: None,
        };
        if let Err(denial) = self.gate.inspect_head(&identity, &host, true, &request, &[]) {
            return Some(denial);
        }
        userinfo.then(|| {
            Denial::new(
                Reason::BadRequest,
                "a request target may not carry userinfo; send credentials in a header",
            )
            .for_identity(&identity)
        })
    }
}

impl FrontDoor {
    /// A plain-HTTP connection holds one of its identity's connection slots for as long as
    /// it is open, as a tunnel does; the identity is the first request's (each later request
    /// is authenticated again by the pipeline).
    async fn plain_slot(&self, head: &Head) -> Result<crate::gate::ConnectionSlot, Denial> {
        let identity = self.gate.authenticate(head.header("proxy-authorization")).await?;
        self.gate.connection_slot(&identity)
    }
}

/// An absolute-form request whose Host names another server than its target: 421 here, on
/// the connection's first request (pingora refuses later ones while parsing, with a 400).
fn misdirected(head: &Head) -> Option<Denial> {
    let target: http::Uri = head.target.parse().ok()?;
    let authority = target.authority()?;
    let host = std::str::from_utf8(head.header("host")?).ok()?;
    let default_port = if target.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    let normalise = |text: &str| {
        let (name, port) = split_authority(text).unwrap_or((text, default_port));
        (
            Host::parse(name.trim_start_matches('[').trim_end_matches(']')).ok(),
            port,
        )
    };
    // Userinfo is no part of the server's name, and may hold a password: compare and report
    // host and port only.
    let target = match authority.port_u16() {
        Some(port) => format!("{}:{port}", authority.host()),
        None => authority.host().to_owned(),
    };
    (normalise(&target) != normalise(host)).then(|| {
        Denial::new(
            Reason::MisdirectedRequest,
            format!("Host {host} does not match the request target {target}"),
        )
    })
}

/// Host, port and path of an absolute-form target, for the record: never its userinfo.
fn plain_target(target: &str) -> (String, u16, String) {
    let Ok(uri) = target.parse::<http::Uri>() else {
        return (String::new(), 0, String::new());
    };
    let port = uri.port_u16().unwrap_or(80);
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    (uri.host().unwrap_or_default().to_owned(), port, path)
}

impl FrontDoor {
    async fn refuse_head<W: AsyncWrite + Unpin>(&self, stream: &mut W, error: HeadError, started: u64) {
        let denial = match &error {
            HeadError::TooLarge { .. } => Denial::new(Reason::HeaderTooLarge, error.to_string()),
            HeadError::Timeout(_) => Denial::new(Reason::RequestTimeout, error.to_string()),
            HeadError::Malformed(_) => Denial::new(Reason::BadRequest, error.to_string()),
            HeadError::Closed | HeadError::Io(_) => return,
        };
        debug!(%error, "request head refused");
        self.gate
            .refuse_raw(stream, &denial, Attempt::unread(started))
            .await;
    }

    async fn serve_http(&self, stream: Box<L4Stream>, shutdown: &ShutdownWatch) {
        // Later requests on the connection are parsed by pingora, which rewrites a target with
        // raw control bytes instead of refusing it: keep what the client sent to tell.
        let Some(watched) = crate::rawtarget::Watched::new(stream) else {
            return;
        };
        let mut next: Option<Stream> = Some(Box::new(watched));
        while let Some(stream) = next.take() {
            next = self.pipeline.process_new(stream, shutdown).await;
        }
    }

    async fn connect(&self, mut stream: L4Stream, head: Head, started: u64, shutdown: &ShutdownWatch) {
        let (host, port) = split_authority(&head.target).unwrap_or((head.target.as_str(), 0));
        let attempt = Attempt {
            identity: None,
            method: "CONNECT",
            host,
            port,
            target: "",
            started_unix_ms: started,
        };
        match self.open_tunnel(&head).await {
            Err(denial) => self.gate.refuse_raw(&mut stream, &denial, attempt).await,
            Ok((tunnel, allowed, slot)) => {
                // Tunnel-only traffic is one request for the budgets, admitted before the
                // upstream is dialled; intercepted traffic is admitted request by request.
                let exchange = match allowed.traffic {
                    Traffic::Tunnel => match self.gate.admit(&tunnel.identity).await {
                        Ok(exchange) => Some(exchange),
                        Err(denial) => {
                            let attempt = Attempt {
                                identity: Some(&tunnel.identity),
                                ..attempt
                            };
                            self.gate.refuse_raw(&mut stream, &denial, attempt).await;
                            return;
                        }
                    },
                    Traffic::Inspect => None,
                };
                self.gate.metrics.allowed();
                let established = stream
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .await;
                // pingora's stream buffers writes; the client waits for this line.
                if established.is_err() || stream.flush().await.is_err() {
                    return;
                }
                stream.rewind(&head.buffer[head.head_len..]);
                match exchange {
                    Some(exchange) => {
                        self.splice(stream, &tunnel, exchange, allowed.reported.as_deref(), started)
                            .await;
                    }
                    None => self.intercept(stream, tunnel, shutdown).await,
                }
                drop(slot);
            }
        }
    }

    /// Authenticates, decides and resolves a CONNECT target. A denied host is never resolved.
    async fn open_tunnel(
        &self,
        head: &Head,
    ) -> Result<(Tunnel, crate::gate::Allowed, crate::gate::ConnectionSlot), Denial> {
        let credentials = ProxyCredentials::from_header(head.header("proxy-authorization"))?;
        let identity = self.gate.login(&credentials, false).await?;
        self.gate.provenance_ok(&identity)?;
        let Some((host_text, port)) = split_authority(&head.target) else {
            return Err(Denial::new(
                Reason::BadRequest,
                format!("CONNECT target {:?} is not host:port", head.target),
            )
            .for_identity(&identity));
        };
        let host = Host::parse(host_text)
            .map_err(|e| Denial::new(Reason::BadRequest, e.to_string()).for_identity(&identity))?;
        let allowed = self.gate.decide(&identity, None, &host, port, None)?;
        self.gate.inspect_hostname(&identity, &host)?;
        let named = crate::information::Sent {
            host_named: true,
            ..Default::default()
        };
        self.gate.charge_information(&identity, &host, &named).await?;
        let addr = self
            .gate
            .destination(&host, port, &allowed)
            .await
            .map_err(|d| d.for_identity(&identity))?;
        let slot = self.gate.connection_slot(&identity)?;
        info!(tenant = %identity.tenant, tool = %identity.tool, %host, port, %addr, rule = allowed.rule.as_deref().unwrap_or("-"), "tunnel opened");
        Ok((
            Tunnel {
                identity,
                credentials,
                authority: crate::pipeline::authority_text(&host, port, 443).into(),
                host,
                port,
                addr,
                sni: None,
                recent: Arc::default(),
                clean: crate::clean::CleanCache::default(),
            },
            allowed,
            slot,
        ))
    }

    /// Tunnel-only rules: bytes pass through unseen (still allowlisted, admitted against the
    /// budgets as one request before the upstream is dialled, and charged as they are copied).
    async fn splice(
        &self,
        client: L4Stream,
        tunnel: &Tunnel,
        exchange: Exchange,
        reported: Option<&Denial>,
        started: u64,
    ) {
        let host = tunnel.host.to_string();
        let record = |status: Option<u16>, out: u64, back: u64| {
            self.gate.record(&crate::record::Egress {
                identity: Some(&tunnel.identity),
                denial: None,
                report: reported,
                method: "CONNECT",
                host: &host,
                port: tunnel.port,
                target: "",
                status,
                bytes_out: out,
                bytes_in: back,
                started_unix_ms: started,
                ended_unix_ms: crate::record::now_ms(),
                peer: Some(tunnel.addr),
                traceparent: None,
                mcp_method: None,
            });
        };
        let Ok(Ok(upstream)) =
            tokio::time::timeout(self.gate.limits.connect_timeout, TcpStream::connect(tunnel.addr)).await
        else {
            info!(addr = %tunnel.addr, "tunnel upstream unreachable");
            exchange.finish().await;
            record(None, 0, 0);
            return;
        };
        let moved = splice::metered(
            client,
            upstream,
            exchange,
            self.gate.limits.idle_timeout,
            self.until_invalid(&tunnel.credentials),
        )
        .await;
        self.gate.metrics.moved(moved.back, moved.out);
        if let Some(cut) = moved.cut {
            info!(tenant = %tunnel.identity.tenant, budget = %cut.budget, scope = cut.scope.as_str(), "tunnel cut at its budget");
            self.gate.record_budget(Some(&tunnel.identity), &cut, "cut");
        }
        record(Some(200), moved.out, moved.back);
    }

    /// Completes once the tunnel's credentials no longer give an identity (the invocation
    /// ended, or its source cannot say): an opaque tunnel is checked every second, as
    /// intercepted traffic is on every request.
    async fn until_invalid(&self, credentials: &ProxyCredentials) {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            if self.gate.login(credentials, false).await.is_err() {
                return;
            }
        }
    }

    /// Terminates the client's TLS with a leaf for the CONNECT host (also when the client
    /// sent no SNI or another name; a different SNI gets 421 on every request).
    async fn intercept(&self, stream: L4Stream, mut tunnel: Tunnel, shutdown: &ShutdownWatch) {
        let started = Instant::now();
        let acceptor = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
        let limits = &self.gate.limits;
        let Ok(Ok(start)) = tokio::time::timeout(limits.head_timeout, acceptor).await else {
            debug!("no TLS client hello");
            return;
        };
        tunnel.sni = start.client_hello().server_name().map(str::to_owned);
        let config = match self.gate.minter.config_for(&tunnel.host.to_string()) {
            Ok(config) => config,
            Err(error) => {
                tracing::error!(%error, host = %tunnel.host, "cannot mint a certificate");
                return;
            }
        };
        self.gate
            .metrics
            .certs_minted
            .set(i64::try_from(self.gate.minter.minted()).unwrap_or(i64::MAX));
        self.gate
            .metrics
            .cert_cache_entries
            .set(i64::try_from(self.gate.minter.cached()).unwrap_or(i64::MAX));
        let Ok(Ok(tls)) = tokio::time::timeout(limits.head_timeout, start.into_stream(config)).await else {
            debug!(host = %tunnel.host, "client TLS handshake failed");
            return;
        };
        self.gate
            .metrics
            .handshake_seconds
            .observe(started.elapsed().as_secs_f64());
        let identity: Identity = tunnel.identity.clone();
        let recent = Arc::clone(&tunnel.recent);
        let Ok(established) = ResponseHeader::build(200, None) else {
            return;
        };
        let digest = ProxyDigest::new(Box::new(established), Some(Box::new(tunnel)));
        let mut next: Option<Stream> = Some(Box::new(Intercepted::new(tls, digest, recent)));
        while let Some(stream) = next.take() {
            next = self.pipeline.process_new(stream, shutdown).await;
        }
        debug!(tenant = %identity.tenant, tool = %identity.tool, "tunnel closed");
    }
}
