//! The per-request pipeline on pingora: for intercepted tunnels, every request's authority
//! and SNI must name the CONNECT target (421 otherwise) and each request is decided by
//! method and path; for plain absolute-form HTTP, each request is authenticated, decided,
//! resolved and guarded on its own. Upstream TLS is always verified with SNI set. Every
//! allowed request is admitted against its budgets before the upstream connection is made,
//! and its bytes are charged as they move (see [`crate::budget`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use pingora_core::protocols::ALPN;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_error::{Error, ErrorSource, ErrorType, Result};
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::{FailToProxy, ProxyHttp, Session};
use tollgate_shared::outcome::Reason;
use tollgate_shared::policy::host::Host;
use tracing::debug;

use crate::budget::{Exchange, request_head_len};
use crate::gate::{Allowed, Gate, ProxyCredentials, Tunnel};
use crate::head::split_authority;
use crate::identity::Identity;
use crate::information::Sent;
use crate::inject::{Injection, Scrubber};
use crate::inspect::{BodyGate, RequestHead};
use crate::output::OutputGate;
use crate::rescue::Denial;
use crate::websocket::{FrameGate, upgrade_of};

#[derive(Debug)]
pub struct Pipeline {
    pub gate: Arc<Gate>,
}

/// What one request learned on its way through the filters. pingora moves it with the
/// request's future (twice per request, measured), so what most requests lack is boxed.
#[derive(Debug, Default)]
pub struct RequestCtx {
    identity: Option<Identity>,
    upstream: Option<Upstream>,
    started: Option<Instant>,
    /// The admitted request's budget state, settled in `logging`.
    exchange: Option<Exchange>,
    /// The request body's inspection: what may be released upstream so far.
    body: Option<BodyGate>,
    /// After a `101`: the client's WebSocket frames, judged before they are released.
    frames: Option<Box<FrameGate>>,
    /// A budget refusal after admission (a body or a response head over budget), answered
    /// by `fail_to_proxy` if no response has started.
    refusal: Option<Denial>,
    /// The host the request goes to, for misuse reports from the body.
    host: Option<Host>,
    /// Bound headers whose placeholder becomes the real value upstream.
    inject: Vec<Injection>,
    /// Puts placeholders back where the upstream reflects an injected value.
    scrub: Option<Scrubber>,
    /// What the provenance record of this request says: the request line, and the denial
    /// answered instead of the upstream, if one was.
    seen: Option<Box<Seen>>,
    answered: Option<Denial>,
    /// What a report-mode policy would have refused.
    reported: Option<Box<Denial>>,
    /// What happens to an answer with instructions for the model in it (from the rule).
    output_action: tollgate_shared::policy::model::OutputAction,
    /// The answer's judging, when its content type is one a model reads.
    output: Option<Box<OutputGate>>,
    /// Path and query, for the record of what judging the answer found.
    target: Option<String>,
}

#[derive(Debug)]
struct Seen {
    method: String,
    target: String,
    host: String,
    port: u16,
    started_unix_ms: u64,
    /// The trace id of the request's own `traceparent`, if valid.
    traceparent: Option<String>,
    /// The MCP method of the body's first chunk; `Some(None)` once looked at.
    mcp_method: Option<Option<String>>,
}

/// The pingora error that ends a request refused or cut by a budget.
fn budget_error(denial: &Denial) -> Box<Error> {
    Error::explain(ErrorType::Custom("budget"), denial.message.clone())
}

#[derive(Debug)]
struct Upstream {
    addr: SocketAddr,
    tls: bool,
    sni: String,
    authority: Arc<str>,
}

fn tunnel_of(session: &Session) -> Option<&Tunnel> {
    session
        .digest()?
        .proxy_digest
        .as_ref()?
        .user_data
        .as_ref()?
        .downcast_ref::<Tunnel>()
}

/// The host and port a request names: `:authority` (h2), else an absolute URI, else Host.
fn request_authority(header: &RequestHeader, default_port: u16) -> Option<(Host, u16, String)> {
    let text = request_authority_text(header)?.to_owned();
    let (host, port) =
        split_authority(&text).unwrap_or((text.trim_start_matches('[').trim_end_matches(']'), default_port));
    Some((Host::parse(host).ok()?, port, text))
}

/// Host or `:authority` must name the CONNECT target (421 otherwise), after normalisation.
fn check_authority(header: &RequestHeader, tunnel: &Tunnel, identity: &Identity) -> Result<(), Denial> {
    let misdirected = |what: String| Denial::new(Reason::MisdirectedRequest, what).for_identity(identity);
    match request_authority(header, tunnel.port) {
        Some((host, port, _)) if host == tunnel.host && port == tunnel.port => {}
        Some((_, _, text)) => {
            return Err(misdirected(format!(
                "request for {text} inside a tunnel to {}:{}",
                tunnel.host, tunnel.port
            )));
        }
        None => {
            return Err(Denial::new(Reason::BadRequest, "request names no host").for_identity(identity));
        }
    }
    Ok(())
}

/// Whether a request's authority is the tunnel's target exactly as the proxy would write it
/// (canonical name, with or without the CONNECT port): the common case, which then needs no
/// parsing. Anything else is parsed and normalised by [`check_authority`].
fn names_exactly(text: &str, tunnel: &Tunnel) -> bool {
    let Host::Name(name) = &tunnel.host else {
        return false;
    };
    match text.strip_prefix(name.as_str()) {
        Some("") => true,
        Some(rest) => rest.strip_prefix(':').and_then(|p| p.parse::<u16>().ok()) == Some(tunnel.port),
        None => false,
    }
}

/// The authority a request names, as sent: `:authority` (h2) or an absolute URI, else Host.
fn request_authority_text(header: &RequestHeader) -> Option<&str> {
    match header.uri.authority() {
        Some(authority) => Some(authority.as_str()),
        None => header.headers.get(http::header::HOST)?.to_str().ok(),
    }
}

fn path_and_query(header: &RequestHeader) -> String {
    header
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
}

impl Pipeline {
    /// The identity behind `credentials` now (every request is checked again, so an ended
    /// invocation stops on open connections too), looked up afresh when the request carries a
    /// placeholder the cached answer does not know.
    async fn current_identity(
        &self,
        credentials: &ProxyCredentials,
        target: &str,
        header: &RequestHeader,
    ) -> Result<Identity, Denial> {
        let identity = self.gate.login(credentials, false).await?;
        if identity.issued.unknown_placeholder(target, &header.headers) {
            return self.gate.login(credentials, true).await;
        }
        Ok(identity)
    }

    /// Injections for an allowed request, inspection of the rest of its head, and the body
    /// gate and response scrubber that follow from them.
    #[allow(clippy::too_many_arguments)] // each is one fact about the request; grouping hides none
    fn prepare(
        &self,
        identity: &Identity,
        allowed: &Allowed,
        host: &Host,
        with_hostname: bool,
        target: &str,
        header: &RequestHeader,
        clean: Option<&crate::clean::CleanCache>,
        ctx: &mut RequestCtx,
    ) -> Result<(), Denial> {
        let injections = identity.issued.injections(host, &header.headers);
        let request = RequestHead {
            method: header.method.as_str(),
            target,
            headers: &header.headers,
            parsed: Some(header),
            clean,
        };
        let inspection = self
            .gate
            .inspect_head(identity, host, with_hostname, &request, &injections)?;
        if let Some(protocol) = upgrade_of(&header.headers) {
            let frames = crate::websocket::admit(
                &protocol,
                allowed,
                inspection.as_ref(),
                identity,
                self.gate.engine,
            )?;
            ctx.frames = Some(Box::new(frames));
        }
        ctx.body = inspection.map(|i| BodyGate::new(self.gate.engine, i, &header.headers));
        ctx.scrub = identity.issued.scrubber(&injections);
        ctx.inject = injections;
        ctx.host = Some(host.clone());
        ctx.output_action = allowed.output;
        ctx.target = Some(path_and_query(header));
        Ok(())
    }

    /// Checks a request inside an intercepted tunnel.
    async fn in_tunnel(
        &self,
        tunnel: &Tunnel,
        header: &RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<(), Denial> {
        let path = path_and_query(header);
        let identity = self.current_identity(&tunnel.credentials, &path, header).await?;
        self.gate.provenance_ok(&identity)?;
        let misdirected =
            |what: String| Denial::new(Reason::MisdirectedRequest, what).for_identity(&identity);
        if let Some(sni) = tunnel.sni.as_deref() {
            // The canonical name itself (the common case) needs no parsing.
            let same = matches!(&tunnel.host, Host::Name(name) if name == sni)
                || Host::parse(sni).ok().as_ref() == Some(&tunnel.host);
            if !same {
                return Err(misdirected(format!(
                    "TLS SNI {sni:?} does not name the CONNECT target {}",
                    tunnel.host
                )));
            }
        }
        if header.version != http::Version::HTTP_2
            && !tunnel
                .recent
                .sent_as_is(header.method.as_str(), header.raw_path())
        {
            return Err(Denial::new(
                Reason::BadRequest,
                "the request-target holds control bytes, spaces or quotes; percent-encode them",
            )
            .for_identity(&identity));
        }
        if !request_authority_text(header).is_some_and(|text| names_exactly(text, tunnel)) {
            check_authority(header, tunnel, &identity)?;
        }
        let mut allowed = self.gate.decide(
            &identity,
            Some(header.method.as_str()),
            &tunnel.host,
            tunnel.port,
            Some(&path),
        )?;
        ctx.reported = allowed.reported.take();
        self.prepare(
            &identity,
            &allowed,
            &tunnel.host,
            false,
            &path,
            header,
            Some(&tunnel.clean),
            ctx,
        )?;
        let sent = Sent {
            host_named: false,
            target: Some(&path),
            headers: Some(&header.headers),
        };
        self.gate
            .charge_information(&identity, &tunnel.host, &sent)
            .await?;
        ctx.identity = Some(identity);
        ctx.upstream = Some(Upstream {
            addr: tunnel.addr,
            tls: true,
            sni: tunnel.host.to_string(),
            authority: Arc::clone(&tunnel.authority),
        });
        Ok(())
    }

    /// Checks a plain absolute-form HTTP request (no tunnel).
    async fn plain(
        &self,
        header: &RequestHeader,
        recent: Option<&Arc<crate::rawtarget::RecentBytes>>,
        ctx: &mut RequestCtx,
    ) -> Result<(), Denial> {
        let credentials =
            ProxyCredentials::from_header(header.headers.get("proxy-authorization").map(|v| v.as_bytes()))?;
        let raw_target = String::from_utf8_lossy(header.raw_path()).into_owned();
        let identity = self.current_identity(&credentials, &raw_target, header).await?;
        self.gate.provenance_ok(&identity)?;
        let bad = |message: &str| Denial::new(Reason::BadRequest, message).for_identity(&identity);
        if recent.is_some_and(|r| !r.sent_as_is(header.method.as_str(), header.raw_path())) {
            return Err(bad(
                "the request-target holds control bytes, spaces or quotes; percent-encode them",
            ));
        }
        // pingora keeps an absolute-form target verbatim in the raw path and only the path
        // in `uri`; pingora itself refuses a Host that differs from the target's authority.
        let target = std::str::from_utf8(header.raw_path())
            .ok()
            .and_then(|t| t.parse::<http::Uri>().ok());
        let Some(target) = target.filter(|t| t.authority().is_some()) else {
            return Err(bad("this is a proxy: send absolute-form requests or CONNECT"));
        };
        if target.scheme_str() != Some("http") {
            return Err(bad(
                "only http:// URLs may be sent in absolute form; use CONNECT for https",
            ));
        }
        let authority = target.authority().map_or("", |a| a.as_str());
        let (host_text, port) = split_authority(authority).unwrap_or((authority, 80));
        let Ok(host) = Host::parse(host_text.trim_start_matches('[').trim_end_matches(']')) else {
            return Err(bad("the URL names no valid host"));
        };
        let path = path_and_query(header);
        let mut allowed =
            self.gate
                .decide(&identity, Some(header.method.as_str()), &host, port, Some(&path))?;
        ctx.reported = allowed.reported.take();
        self.prepare(&identity, &allowed, &host, true, &raw_target, header, None, ctx)?;
        let sent = Sent {
            host_named: true,
            target: Some(&path),
            headers: Some(&header.headers),
        };
        self.gate.charge_information(&identity, &host, &sent).await?;
        let addr = self
            .gate
            .destination(&host, port, &allowed)
            .await
            .map_err(|d| d.for_identity(&identity))?;
        ctx.upstream = Some(Upstream {
            addr,
            tls: false,
            sni: host.to_string(),
            authority: authority_text(&host, port, 80).into(),
        });
        ctx.identity = Some(identity);
        Ok(())
    }
}

impl Pipeline {
    /// Before the upstream connection: the request is counted (or refused) at every scope,
    /// and its head and declared body are reserved whole (or refused) before any of it leaves.
    async fn admit(&self, header: &RequestHeader, ctx: &mut RequestCtx) -> Result<(), Denial> {
        let Some(identity) = &ctx.identity else {
            return Ok(());
        };
        let mut exchange = self.gate.admit(identity).await?;
        if let Err(e) = exchange.reserve_request(header).await {
            exchange.finish().await;
            return Err(Denial::from_budget(&e).for_identity(identity));
        }
        ctx.exchange = Some(exchange);
        Ok(())
    }

    /// Remembers a refusal for `fail_to_proxy` and returns the error that ends the request.
    fn refuse(&self, ctx: &mut RequestCtx, error: &tollgate_shared::budget::BudgetError) -> Box<Error> {
        let mut denial = Denial::from_budget(error);
        if let Some(identity) = &ctx.identity {
            denial = denial.for_identity(identity);
        }
        let failure = budget_error(&denial);
        ctx.refusal = Some(denial);
        failure
    }
}

/// Whether `headers` hold exactly one `name` field, and it is `value` byte for byte (then
/// inserting it again would change nothing but cost pingora a header rewrite).
fn names_only(headers: &http::HeaderMap, name: http::header::HeaderName, value: &str) -> bool {
    let mut fields = headers.get_all(name).iter();
    fields.next().is_some_and(|v| v.as_bytes() == value.as_bytes()) && fields.next().is_none()
}

/// `host[:port]` as a Host field names it, the port left out when it is the default.
pub(crate) fn authority_text(host: &Host, port: u16, default_port: u16) -> String {
    let host = match host {
        Host::Ip(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
        other => other.to_string(),
    };
    if port == default_port {
        host
    } else {
        format!("{host}:{port}")
    }
}

/// Whether the client has a response head that another cannot follow: an interim `100
/// Continue` (relayed from an upstream for `Expect: 100-continue`) is not one, so a body
/// refused after it still gets its 403; a `101` is, since the bytes after it are no longer
/// HTTP.
fn final_head_sent(session: &Session) -> bool {
    session
        .response_written()
        .is_some_and(|r| !r.status.is_informational() || r.status == http::StatusCode::SWITCHING_PROTOCOLS)
}

#[async_trait]
impl ProxyHttp for Pipeline {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> Self::CTX {
        RequestCtx::default()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<bool> {
        ctx.started = Some(Instant::now());
        let header = session.req_header();
        // What the provenance record needs, taken only when records are written.
        if self.gate.provenance.is_some() {
            let (host, port) = match tunnel_of(session) {
                Some(t) => (t.host.to_string(), t.port),
                None => {
                    request_authority(header, 80).map_or((String::new(), 0), |(h, p, _)| (h.to_string(), p))
                }
            };
            ctx.seen = Some(Box::new(Seen {
                method: header.method.as_str().to_owned(),
                target: path_and_query(header),
                host,
                port,
                started_unix_ms: crate::record::now_ms(),
                traceparent: header
                    .headers
                    .get("traceparent")
                    .and_then(|v| v.to_str().ok())
                    .and_then(tollgate_shared::invocation::trace_id)
                    .map(str::to_owned),
                mcp_method: None,
            }));
        }
        let outcome = match tunnel_of(session) {
            Some(tunnel) => self.in_tunnel(tunnel, header, ctx).await,
            None => {
                let digest = session.digest().and_then(|d| d.proxy_digest.as_ref());
                self.plain(header, crate::rawtarget::of_plain(digest), ctx).await
            }
        };
        let outcome = match outcome {
            Ok(()) => self.admit(header, ctx).await,
            Err(denial) => Err(denial),
        };
        match outcome {
            Ok(()) => Ok(false),
            Err(denial) => {
                self.gate
                    .refuse_session(session, denial, ctx.identity.as_ref(), &mut ctx.answered)
                    .await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(&self, _session: &mut Session, ctx: &mut Self::CTX) -> Result<Box<HttpPeer>> {
        let Some(upstream) = &ctx.upstream else {
            return Error::e_explain(
                ErrorType::InternalError,
                "no upstream chosen for an admitted request",
            );
        };
        let mut peer = HttpPeer::new(upstream.addr, upstream.tls, upstream.sni.clone());
        let limits = &self.gate.limits;
        peer.options.connection_timeout = Some(limits.connect_timeout);
        peer.options.total_connection_timeout = Some(limits.connect_timeout);
        peer.options.read_timeout = Some(limits.upstream_timeout);
        peer.options.write_timeout = Some(limits.upstream_timeout);
        peer.options.idle_timeout = Some(limits.idle_timeout);
        peer.options.verify_cert = true;
        peer.options.verify_hostname = true;
        if upstream.tls {
            peer.options.alpn = ALPN::H2H1;
        }
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        request: &mut RequestHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        // Credentials for the proxy never travel further. (Looked up first: pingora's removal
        // also rewrites its record of the names' case, which costs even when nothing is there.)
        for name in ["proxy-authorization", "proxy-connection"] {
            if request.headers.contains_key(name) {
                request.remove_header(name);
            }
        }
        for injection in &ctx.inject {
            request.insert_header(injection.header.clone(), injection.value.clone())?;
        }
        if let Some(upstream) = &ctx.upstream {
            // Origin form upstream (an absolute-form target is kept verbatim by pingora until
            // the URI is set again), and a Host that names what was checked.
            if !request.raw_path().starts_with(b"/") {
                let origin_form = request
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned();
                if let Ok(uri) = origin_form.parse() {
                    request.set_uri(uri);
                }
            }
            if !names_only(&request.headers, http::header::HOST, &upstream.authority) {
                request.insert_header("host", &*upstream.authority)?;
            }
        }
        if let Some(exchange) = ctx.exchange.as_mut() {
            let head = request_head_len(request);
            let charged = exchange
                .charge_out(usize::try_from(head).unwrap_or(usize::MAX))
                .await;
            match charged {
                Ok((_, None)) => {}
                Ok((_, Some(exceeded))) => {
                    return Err(self.refuse(ctx, &tollgate_shared::budget::BudgetError::Exceeded(exceeded)));
                }
                Err(e) => return Err(self.refuse(ctx, &e)),
            }
        }
        Ok(())
    }

    async fn request_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        // Inspection first: only what it releases is charged and sent. After a 101 the bytes
        // are WebSocket frames; an upgrade nobody admitted (a 101 to a request that did not
        // ask) passes nothing.
        let upgraded = session.was_upgraded();
        if let (false, Some(seen), Some(chunk)) = (upgraded, ctx.seen.as_mut(), body.as_ref()) {
            if seen.mcp_method.is_none() {
                seen.mcp_method = Some(crate::record::mcp_method(chunk));
            }
        }
        if upgraded && ctx.frames.is_none() {
            *body = None;
            return Err(Error::explain(
                ErrorType::Custom("inspection"),
                "upgraded bytes with no frame inspection",
            ));
        }
        let judged = match (
            upgraded,
            ctx.frames.as_mut(),
            ctx.body.as_mut(),
            ctx.identity.as_ref(),
        ) {
            (true, Some(frames), _, Some(identity)) => Some(frames.pass(body.take(), identity)),
            (false, _, Some(gate), Some(identity)) => Some(gate.pass(body.take(), end_of_stream, identity)),
            _ => None,
        };
        match judged {
            Some(Ok(released)) => *body = released,
            Some(Err(mut denial)) => {
                if let (Some(host), Some(identity)) = (&ctx.host, &ctx.identity) {
                    self.gate.report_misuse(identity, &mut denial, host);
                }
                let failure = Error::explain(ErrorType::Custom("inspection"), denial.message.clone());
                ctx.refusal = Some(denial);
                return Err(failure);
            }
            None => {}
        }
        let (Some(exchange), Some(chunk)) = (ctx.exchange.as_mut(), body.as_ref()) else {
            return Ok(());
        };
        // A body that crosses bytes-out is cut: the crossing chunk does not leave.
        match exchange.charge_out(chunk.len()).await {
            Ok((_, None)) => Ok(()),
            Ok((_, Some(exceeded))) => {
                *body = None;
                Err(self.refuse(ctx, &tollgate_shared::budget::BudgetError::Exceeded(exceeded)))
            }
            Err(e) => {
                *body = None;
                Err(self.refuse(ctx, &e))
            }
        }
    }

    async fn upstream_response_filter(
        &self,
        session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        if let Some(started) = ctx.started {
            self.gate
                .metrics
                .upstream_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        if response.status == http::StatusCode::SWITCHING_PROTOCOLS {
            if let Some(frames) = ctx.frames.as_mut() {
                frames.accept(&response.headers);
            }
        }
        // Before pingora sees the head (and before the budget reserves a declared length): a
        // held answer loses its length here, and is chunked.
        if let Some(host) = &ctx.host {
            ctx.output = OutputGate::for_response(
                ctx.output_action,
                host,
                session.req_header().method.as_str(),
                response,
            )
            .map(Box::new);
        }
        if let Some(exchange) = ctx.exchange.as_mut() {
            if let Err(e) = exchange.response_head(response).await {
                return Err(self.refuse(ctx, &e));
            }
        }
        if let Some(scrub) = &ctx.scrub {
            for (name, value) in scrub.headers(&response.headers) {
                response.insert_header(name, value)?;
            }
            // A placeholder need not be as long as its value: the length is the scrubber's.
            response.remove_header("content-length");
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        if let Some(value) = ctx.exchange.as_ref().and_then(Exchange::remaining_header) {
            response.insert_header("x-tollgate-budget-remaining", value)?;
        }
        Ok(())
    }

    fn response_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> Result<Option<std::time::Duration>> {
        if let Some(scrub) = ctx.scrub.as_mut() {
            *body = scrub.body(body.take(), end_of_stream);
        }
        if let Some(output) = ctx.output.as_mut() {
            if let Some(judged) = output.pass(&self.gate.judge, body, end_of_stream) {
                let host = ctx.host.as_ref().map(ToString::to_string).unwrap_or_default();
                let target = ctx.target.as_deref().unwrap_or("/");
                self.gate
                    .record_output(ctx.identity.as_ref(), &host, target, &judged);
            }
        }
        let Some(exchange) = ctx.exchange.as_mut() else {
            return Ok(None);
        };
        let head_sent = final_head_sent(session);
        let outcome = exchange.response_body(body, end_of_stream, head_sent);
        if let Some(cut) = exchange.take_unmetered_cut() {
            self.gate
                .metrics
                .budget
                .cuts
                .with_label_values(&[cut.budget.as_str(), cut.scope.as_str()])
                .inc();
        }
        let Err(exceeded) = outcome else {
            return Ok(None);
        };
        if head_sent {
            // Abort: the client sees a response that ends short, never a complete one.
            self.gate.record_budget(ctx.identity.as_ref(), &exceeded, "cut");
            return Err(Error::explain(
                ErrorType::Custom("budget"),
                format!("response cut off: {exceeded}"),
            ));
        }
        // Nothing reached the client yet: it gets the refusal instead.
        Err(self.refuse(ctx, &tollgate_shared::budget::BudgetError::Exceeded(exceeded)))
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut Self::CTX) -> FailToProxy {
        if final_head_sent(session) {
            // Mid-response (a cut, or an upstream that died): abort, never write a second head.
            debug!(error = %e, "response aborted after its head was sent");
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        }
        if let Some(denial) = ctx.refusal.take() {
            let status = denial.status;
            let written = self
                .gate
                .refuse_session(session, denial, ctx.identity.as_ref(), &mut ctx.answered)
                .await
                .is_ok();
            return FailToProxy {
                error_code: if written { status } else { 0 },
                can_reuse_downstream: false,
            };
        }
        let timed_out = matches!(
            e.etype(),
            ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout
        );
        let denial = match e.esource() {
            ErrorSource::Upstream if timed_out => Denial::new(Reason::UpstreamTimeout, e.to_string()),
            ErrorSource::Upstream => Denial::new(Reason::UpstreamFailed, e.to_string()),
            ErrorSource::Downstream => {
                debug!(error = %e, "client went away");
                return FailToProxy {
                    error_code: 0,
                    can_reuse_downstream: false,
                };
            }
            _ if matches!(e.etype(), ErrorType::ConnectTimedout) => {
                Denial::new(Reason::UpstreamTimeout, e.to_string())
            }
            _ => Denial::new(Reason::UpstreamFailed, e.to_string()),
        };
        let denial = match &ctx.identity {
            Some(identity) => denial.for_identity(identity),
            None => denial,
        };
        let status = denial.status;
        let written = self
            .gate
            .refuse_session(session, denial, ctx.identity.as_ref(), &mut ctx.answered)
            .await;
        if written.is_err() {
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        }
        FailToProxy {
            error_code: status,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut Self::CTX) {
        if let Some(exchange) = ctx.exchange.take() {
            exchange.finish().await;
        }
        // A refusal no answer could carry (the response had begun) is still the outcome.
        let denial = ctx.answered.as_ref().or(ctx.refusal.as_ref());
        if denial.is_none() {
            self.gate.metrics.allowed();
        }
        if let Some(seen) = &ctx.seen {
            self.gate.record(&crate::record::Egress {
                identity: ctx.identity.as_ref(),
                denial,
                report: ctx
                    .reported
                    .as_deref()
                    .or_else(|| ctx.body.as_ref().and_then(BodyGate::reported)),
                method: &seen.method,
                host: &seen.host,
                port: seen.port,
                target: &seen.target,
                status: session.response_written().map(|r| r.status.as_u16()),
                bytes_out: session.body_bytes_read() as u64,
                bytes_in: session.body_bytes_sent() as u64,
                started_unix_ms: seen.started_unix_ms,
                ended_unix_ms: crate::record::now_ms(),
                peer: ctx.upstream.as_ref().map(|u| u.addr),
                traceparent: seen.traceparent.as_deref(),
                mcp_method: seen.mcp_method.as_ref().and_then(Option::as_deref),
            });
        }
        self.gate
            .metrics
            .moved(session.body_bytes_sent() as u64, session.body_bytes_read() as u64);
    }
}
